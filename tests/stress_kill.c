/*
 * The kill storm: SPEC 4, 5 and 6 under SIGKILL at random instants.
 *
 *   stress_kill [--kills N] [--seconds S]     (default: --kills 2000)
 *
 * WORKERS worker processes make random calls on a few names - shared memory
 * Create/Open/Close/Map/Unmap (named objects, one with a 259-byte hashed
 * name, and unnamed ones, on an 8 MiB pool so that it fills and recounts),
 * events Set/Wait, semaphores Release/Wait, a mutex guarding shared data,
 * multi-object waits, a fork while another thread recounts - and check
 * every answer.  A killer SIGKILLs a random worker every few milliseconds
 * and starts a new one in its place, until N
 * kills (or S seconds; with both, whichever comes first).  Some kills stop
 * the victim first (a stopped destroyer holds its write lock) and run a
 * checker against that state; now and then an exec'd peer holding objects
 * is killed too.
 *
 * Data carries checksums.  A named shared-memory object's creator fills it
 * and seals it last; whoever maps a sealed object checks the checksum.  The
 * mutex guards a page whose words sum to a checksum that every holder
 * checks and updates in several steps; a holder killed half-way leaves it
 * inconsistent, and the next acquirer gets WAIT_ABANDONED and repairs it.
 * A checksum that fails anywhere else is counted.  So is a wait that returns
 * later than its timeout + SLACK_MS (stress_worker.h), and a worker whose call
 * does not return for HANG_MS is a failure.
 *
 * At the end, with every worker gone: after one iwin32PoolInfo (which
 * reclaims stale leftovers) the node holds no object file, the pool's used
 * bytes are 0, every name is gone, and the whole pool can be created again.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iwin32.h>

#include "stress_worker.h"
#include "test_node.h"

#define DEFAULT_KILLS 2000

/* A fork+exec'd peer holding objects, to be killed too. */
static void start_peer(struct tn_peer *peer, unsigned *seed)
{
    static char size[16], size2[16];
    snprintf(size, sizeof size, "%u", stress_random_size(seed));
    snprintf(size2, sizeof size2, "%u", stress_random_size(seed));
    int k = (int)(rand_r(seed) % NAMED), j = (int)(rand_r(seed) % NAMED);
    tn_peer_start(peer, NULL, "create", stress_names[k], size, "open", stress_names[j], "create", "-", size2, "close",
                  "create", stress_names[j], size, "sync", "m", MUTEX_NAME, "pool", "sleep", NULL);
}

static pid_t start_worker(int slot, unsigned *seed)
{
    unsigned child_seed = (unsigned)rand_r(seed);
    int ops = 50 + rand_r(seed) % 1500;
    atomic_store(&stress_results->call_started_ms[slot], tn_now_ms());
    pid_t pid = tn_fork();
    if (pid == 0)
        stress_worker(slot, child_seed, ops);
    return pid;
}

/* ---- the killer ----------------------------------------------------------- */

struct storm {
    long rounds, kills, finished, stopped, peers;
    bool ok;
};

/* A child has exited (it is not reaped yet). */
static bool exited(pid_t pid)
{
    siginfo_t info = {0};
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

/* Reaps a worker's process (killed, or finished by itself). */
static void reap(struct storm *st, pid_t pid, bool was_killed)
{
    int status = tn_wait(pid, HANG_MS);
    if (was_killed && tn_killed_by(status, SIGKILL)) {
        st->kills++;
    } else if (tn_exited_ok(status)) {
        st->finished++;
    } else {
        fprintf(stderr, "round %ld: worker %d ended with status %#x%s\n", st->rounds, (int)pid, status,
                status == -1 ? " (it hung)" : "");
        st->ok = false;
    }
}

/* No live worker has been in one call for HANG_MS. */
static bool none_hangs(struct storm *st)
{
    int64_t now = tn_now_ms();
    for (int w = 0; w < WORKERS; w++) {
        int64_t started = atomic_load(&stress_results->call_started_ms[w]);
        if (started != 0 && now - started > HANG_MS) {
            fprintf(stderr, "round %ld: worker slot %d in one call for %lld ms\n", st->rounds, w,
                    (long long)(now - started));
            return false;
        }
    }
    return true;
}

static void storm(struct storm *st, unsigned *seed, long max_kills, int seconds)
{
    pid_t pid[WORKERS];
    for (int w = 0; w < WORKERS; w++)
        pid[w] = start_worker(w, seed);
    int64_t t0 = tn_now_ms();
    while (st->ok && (max_kills == 0 || st->kills < max_kills) &&
           (seconds == 0 || tn_now_ms() - t0 < seconds * 1000L)) {
        st->rounds++;
        /* Workers that finished by themselves: reaped and replaced. */
        for (int w = 0; w < WORKERS; w++)
            if (exited(pid[w])) {
                reap(st, pid[w], false);
                pid[w] = start_worker(w, seed);
            }
        /* Mostly within a few milliseconds, sometimes later. */
        usleep((useconds_t)(rand_r(seed) % 8 == 0 ? rand_r(seed) % 20000 : rand_r(seed) % 3000));
        int victim = (int)(rand_r(seed) % WORKERS);
        if (rand_r(seed) % 4 == 0) {
            st->stopped++;
            kill(pid[victim], SIGSTOP);
            pid_t check = tn_fork();
            if (check == 0)
                stress_checker();
            usleep((useconds_t)(rand_r(seed) % 3000));
            kill(pid[victim], SIGKILL);
            int status = tn_wait(check, HANG_MS);
            if (!tn_exited_ok(status)) {
                fprintf(stderr, "round %ld: checker ended with status %#x%s\n", st->rounds, status,
                        status == -1 ? " (it hung)" : "");
                st->ok = false;
            }
        } else {
            kill(pid[victim], SIGKILL);
        }
        reap(st, pid[victim], true);
        pid[victim] = start_worker(victim, seed);
        if (rand_r(seed) % 64 == 0) {
            struct tn_peer peer;
            start_peer(&peer, seed);
            usleep((useconds_t)(rand_r(seed) % 5000));
            tn_peer_kill(&peer);
            st->peers++;
        }
        if (!none_hangs(st))
            st->ok = false;
    }
    for (int w = 0; w < WORKERS; w++) {
        kill(pid[w], SIGKILL);
        reap(st, pid[w], true);
    }
}

/* ---- the end: nothing left ------------------------------------------------ */

/* With every process gone: the node is empty, the pool is 0, every name is
 * free, and the whole pool can be created again, exactly.  Returns the
 * object files left; *drift: the pool's used bytes (no object is live). */
static int leftovers(uint64_t *drift, bool *ok)
{
    /* First, before any recount: the whole pool fits.  A Create at a full
     * pool answers from the pool's word unless a process died since the
     * last exact count (pool.c): what 2,000 kills left must show. */
    void *whole_p = NULL;
    HANDLE whole = RtCreateSharedMemory(PAGE_READWRITE, 0, POOL_MB << 20, NULL, &whole_p);
    if (whole == NULL) {
        fprintf(stderr, "after the storm, a pool-sized object was refused: error %u\n", GetLastError());
        *ok = false;
    } else {
        RtUnmapSharedMemory(whole_p);
        CloseHandle(whole);
    }
    uint64_t size = 0;
    if (!iwin32PoolInfo(&size, drift)) { /* a recount: it reclaims what the dead left */
        fprintf(stderr, "iwin32PoolInfo failed: %u\n", GetLastError());
        *ok = false;
    }
    int left = tn_count_objects(NULL);
    if (*drift != 0 || left != 0)
        tn_dump_dir(NULL);
    const char *sync_stress_names[] = {EVENT_NAME, SEMAPHORE_NAME, MUTEX_NAME};
    for (int k = 0; k < NAMED + 4; k++) {
        void *p;
        SetLastError(SENTINEL);
        HANDLE h = k < NAMED ? RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, stress_names[k], &p)
                   : k == NAMED ? RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, GUARDED_NAME, &p)
                   : k == NAMED + 1 ? RtOpenEvent(0, FALSE, sync_stress_names[0])
                   : k == NAMED + 2 ? RtOpenSemaphore(0, FALSE, sync_stress_names[1])
                                    : RtOpenMutex(0, FALSE, sync_stress_names[2]);
        if (h != NULL || GetLastError() != ERROR_FILE_NOT_FOUND) {
            fprintf(stderr, "name %d still opens (last error %u)\n", k, GetLastError());
            left++;
        }
    }
    void *p = NULL, *q = NULL;
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, POOL_MB << 20, stress_names[0], &p);
    if (h == NULL || GetLastError() != ERROR_SUCCESS) {
        fprintf(stderr, "a pool-sized object cannot be created: error %u\n", GetLastError());
        *ok = false;
        return left;
    }
    SetLastError(SENTINEL);
    if (RtCreateSharedMemory(PAGE_READWRITE, 0, 1, NULL, &q) != NULL || GetLastError() != ERROR_NOT_ENOUGH_MEMORY) {
        fprintf(stderr, "a full pool accepted one more byte\n");
        *ok = false;
    }
    RtUnmapSharedMemory(p);
    CloseHandle(h);
    if (tn_pool_used() != 0 || tn_count_objects(NULL) != 0) {
        fprintf(stderr, "the pool or the node is not empty after the last close\n");
        *ok = false;
    }
    return left;
}

static long arg_long(int argc, char **argv, const char *option, long def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], option) == 0)
            return atol(argv[i + 1]);
    return def;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i += 2)
        if ((strcmp(argv[i], "--kills") != 0 && strcmp(argv[i], "--seconds") != 0) || i + 1 >= argc) {
            fprintf(stderr, "usage: %s [--kills N] [--seconds S]\n", argv[0]);
            return 64;
        }
    int seconds = (int)arg_long(argc, argv, "--seconds", 0);
    long kills = arg_long(argc, argv, "--kills", seconds ? 0 : DEFAULT_KILLS);
    tn_setup("stress");
    /* A worker killed while its forked child runs (stress_worker.c: a fork
     * during a recount) leaves that child orphaned, still holding the
     * descriptors it inherited until it exits.  Adopting orphans lets the
     * end wait for them: the check of leftovers must come after every
     * process that held objects is gone, and it once came before an
     * orphan's exit (7 objects "left", gone a moment later). */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        perror("PR_SET_CHILD_SUBREAPER");
        return 1;
    }
    char pool[16];
    snprintf(pool, sizeof pool, "%d", POOL_MB);
    setenv("IWIN32_POOL_MB", pool, 1);
    stress_make_names();
    stress_results = mmap(NULL, sizeof *stress_results, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (stress_results == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    const char *seed_text = getenv("IWIN32_STRESS_SEED");
    unsigned seed = seed_text ? (unsigned)atol(seed_text) : (unsigned)getpid();
    printf("stress_kill: seed %u (IWIN32_STRESS_SEED), %d workers, until %ld kills (0: no limit) or %d s (0: none)\n",
           seed, WORKERS, kills, seconds);

    int64_t t0 = tn_now_ms();
    struct storm st = {.ok = true};
    storm(&st, &seed, kills, seconds);
    /* Every worker is reaped by the storm; what is left are orphans the
     * storm's kills made, which must end by themselves (they only close a
     * handle and exit), within HANG_MS. */
    long orphans = 0;
    for (int64_t until = tn_now_ms() + HANG_MS;;) {
        pid_t pid = waitpid(-1, NULL, WNOHANG);
        if (pid > 0) {
            orphans++;
        } else if (pid < 0 && errno == ECHILD) {
            break;
        } else if (pid < 0 && errno != EINTR) {
            perror("waitpid");
            st.ok = false;
            break;
        } else if (tn_now_ms() > until) {
            fprintf(stderr, "an orphaned process did not end within %d ms\n", HANG_MS);
            st.ok = false;
            break;
        } else {
            usleep(1000);
        }
    }
    uint64_t drift = 0;
    int left = leftovers(&drift, &st.ok);
    long late = atomic_load(&stress_results->late_waits), bad = atomic_load(&stress_results->checksum_failures);
    struct stress_results *r = stress_results;
    /* A thousand kills land inside the mutex a hundred times or so: none at
     * all means the storm no longer tests abandonment. */
    if (st.kills >= 1000 && atomic_load(&r->abandoned) == 0) {
        fprintf(stderr, "no worker was ever killed owning the mutex\n");
        st.ok = false;
    }
    bool pass = st.ok && left == 0 && drift == 0 && late == 0 && bad == 0;
    printf("stress_kill: %ld rounds, %ld kills (%ld stopped first, %ld exec'd peers too), %ld finished, in %.1f s; "
           "%ld waits, %ld abandoned mutexes (%ld with their data half-updated, repaired), "
           "%ld sealed checksums checked\n",
           st.rounds, st.kills, st.stopped, st.peers, st.finished, (double)(tn_now_ms() - t0) / 1000,
           atomic_load(&r->waits), atomic_load(&r->abandoned), atomic_load(&r->repaired), atomic_load(&r->sealed_checked));
    printf("stress_kill: rounds %ld, kills %ld, orphans waited for %ld, leftovers %d, pool drift %llu bytes, "
           "late waits %ld, checksum failures %ld: %s\n",
           st.rounds, st.kills, orphans, left, (unsigned long long)drift, late, bad, pass ? "PASS" : "FAIL");
    return pass ? 0 : 1;
}
