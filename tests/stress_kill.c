/*
 * SPEC 4 and 5 under SIGKILL at random instants: at least 1000 rounds (and
 * as many more as fit in IWIN32_STRESS_SECONDS, default 30) in which child
 * processes Create/Open/Close/map/unmap random names among a few (and
 * unnamed objects, on a small 8 MiB pool so that it fills and recounts) and
 * the parent SIGKILLs them after a random short delay.  Children check every
 * answer they get; children that are not killed must finish (no call ever
 * waits forever on what a killed process left).
 *
 * At the end, with every child reaped: after one iwin32PoolInfo (which
 * reclaims stale leftovers) the node holds no object file and the pool's
 * used bytes are 0; every name is gone; and the whole pool can be created
 * again, exactly.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iwin32.h>

#include "test_node.h"

#define POOL_MB 8
#define NAMED 5
#define HELD 8
#define MIN_ROUNDS 1000
#define MAX_ROUNDS 200000

static char names[NAMED][300];

static void make_names(void)
{
    for (int k = 0; k < NAMED - 1; k++)
        snprintf(names[k], sizeof names[k], "stress/%d", k);
    /* a 259-byte name: stored hashed, with its name in a header page */
    memset(names[NAMED - 1], 'L', 259);
    names[NAMED - 1][259] = '\0';
}

struct held {
    HANDLE h;
    unsigned char *p;
    int k;          /* name index, -1 unnamed */
    DWORD size;     /* as asked for; the object may be smaller if it existed */
};

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "stress child %d, op %d: check failed at line %d: %s (last error %u)\n", \
                    (int)getpid(), op, __LINE__, #cond, GetLastError());                           \
            _exit(3);                                                                              \
        }                                                                                          \
    } while (0)

static DWORD random_size(unsigned *seed)
{
    switch (rand_r(seed) % 4) {
    case 0: return 1 + rand_r(seed) % 4096;
    case 1: return 1 + rand_r(seed) % (64 << 10);
    case 2: return 1 + rand_r(seed) % (512 << 10);
    default: return 1 + rand_r(seed) % (2 << 20);
    }
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* A child's life: random calls, every answer checked; exits 0 when done. */
static void worker(unsigned seed, int ops)
{
    struct held held[HELD] = {{0}};
    HANDLE closed = NULL;
    int op = 0;
    for (op = 0; op < ops; op++) {
        int slot = (int)(rand_r(&seed) % HELD);
        struct held *s = &held[slot];
        int what = (int)(rand_r(&seed) % 12);
        if (s->h != NULL && what < 7)
            what = 7 + (int)(rand_r(&seed) % 3); /* slot busy: close or unmap it */
        if (what <= 3) {                        /* Create by name */
            int k = (int)(rand_r(&seed) % NAMED);
            DWORD size = random_size(&seed);
            void *p = NULL;
            SetLastError(SENTINEL);
            HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, size, names[k], &p);
            DWORD err = GetLastError();
            if (h == NULL) {
                CHECK(err == ERROR_NOT_ENOUGH_MEMORY);
                continue;
            }
            CHECK(err == ERROR_SUCCESS || err == ERROR_ALREADY_EXISTS);
            uint32_t *tag = p;
            if (err == ERROR_SUCCESS) {
                /* new: zero, and ours to tag */
                CHECK(*tag == 0);
                CHECK(all_zero(p, size < 4096 ? size : 4096));
                CHECK(((unsigned char *)p)[size - 1] == 0);
                *tag = (uint32_t)k + 1;
            } else {
                CHECK(*tag == 0 || *tag == (uint32_t)k + 1); /* 0: its creator was killed first */
                size = 4;
            }
            *s = (struct held){h, p, k, size};
        } else if (what <= 5) {                 /* Open by name */
            int k = (int)(rand_r(&seed) % NAMED);
            void *p = NULL;
            SetLastError(SENTINEL);
            HANDLE h = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, names[k], &p);
            if (h == NULL) {
                CHECK(GetLastError() == ERROR_FILE_NOT_FOUND);
                continue;
            }
            CHECK(GetLastError() == SENTINEL);
            uint32_t tag = *(uint32_t *)p;
            CHECK(tag == 0 || tag == (uint32_t)k + 1);
            *s = (struct held){h, p, k, 4};
        } else if (what == 6) {                 /* Create unnamed */
            DWORD size = random_size(&seed);
            void *p = NULL;
            SetLastError(SENTINEL);
            HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, size, rand_r(&seed) % 2 ? NULL : "", &p);
            if (h == NULL) {
                CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
                continue;
            }
            CHECK(GetLastError() == ERROR_SUCCESS);
            CHECK(all_zero(p, size < 4096 ? size : 4096));
            memset(p, 0xA5, size < 8192 ? size : 8192);
            *s = (struct held){h, p, -1, size};
        } else if (what <= 8) {                 /* unmap (if mapped) and close */
            if (s->h == NULL)
                continue;
            if (s->k >= 0 && s->p != NULL)
                CHECK(*(uint32_t *)s->p == 0 || *(uint32_t *)s->p == (uint32_t)s->k + 1);
            if (s->p != NULL)
                CHECK(RtUnmapSharedMemory(s->p));
            CHECK(CloseHandle(s->h));
            closed = s->h;
            *s = (struct held){0};
        } else if (what == 9) {                 /* unmap only; the handle stays */
            if (s->p == NULL)
                continue;
            CHECK(RtUnmapSharedMemory(s->p + (s->size > 1 ? s->size / 2 : 0)));
            SetLastError(SENTINEL);
            CHECK(!RtUnmapSharedMemory(s->p) && GetLastError() == ERROR_INVALID_ADDRESS);
            s->p = NULL;
        } else if (what == 10) {                /* a stale handle fails */
            if (closed == NULL)
                continue;
            SetLastError(SENTINEL);
            CHECK(!CloseHandle(closed) && GetLastError() == ERROR_INVALID_HANDLE);
        } else {                                /* a recount, in the middle of it all */
            uint64_t size = 0, used = 0;
            CHECK(iwin32PoolInfo(&size, &used));
            /* (used <= size under churn: test_pool_info_churn) */
            CHECK(size == (uint64_t)POOL_MB << 20);
        }
    }
    _exit(0);
}

/* While other children are stopped at random points of their calls (a
 * stopped destroyer holds its write lock), touch every name; the stopped
 * ones are killed meanwhile, and this must then finish promptly. */
static void checker(void)
{
    int op = 0;
    for (int k = 0; k < NAMED; k++, op++) {
        void *p = NULL;
        SetLastError(SENTINEL);
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, names[k], &p);
        if (h == NULL) {
            CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
        } else {
            CHECK(GetLastError() == ERROR_SUCCESS || GetLastError() == ERROR_ALREADY_EXISTS);
            uint32_t tag = *(uint32_t *)p;
            CHECK(tag == 0 || tag == (uint32_t)k + 1);
            CHECK(RtUnmapSharedMemory(p) && CloseHandle(h));
        }
        SetLastError(SENTINEL);
        h = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, names[k], &p);
        if (h == NULL)
            CHECK(GetLastError() == ERROR_FILE_NOT_FOUND);
        else
            CHECK(RtUnmapSharedMemory(p) && CloseHandle(h));
    }
    uint64_t size, used;
    CHECK(iwin32PoolInfo(&size, &used));
    _exit(0);
}

/* A fork+exec'd peer holding objects, to be killed too. */
static void start_peer(struct tn_peer *peer, unsigned *seed)
{
    static char size[16], size2[16];
    snprintf(size, sizeof size, "%u", random_size(seed));
    snprintf(size2, sizeof size2, "%u", random_size(seed));
    int k = (int)(rand_r(seed) % NAMED), j = (int)(rand_r(seed) % NAMED);
    tn_peer_start(peer, NULL, "create", names[k], size, "open", names[j], "create", "-", size2, "close",
                  "create", names[j], size, "pool", "sleep", NULL);
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

int main(void)
{
    tn_setup("stress");
    char pool[16];
    snprintf(pool, sizeof pool, "%d", POOL_MB);
    setenv("IWIN32_POOL_MB", pool, 1);
    make_names();
    const int seconds = env_int("IWIN32_STRESS_SECONDS", 30);
    unsigned seed = (unsigned)env_int("IWIN32_STRESS_SEED", (int)getpid());
    printf("stress_kill: seed %u, at least %d rounds, then until %d s\n", seed, MIN_ROUNDS, seconds);

    int64_t t0 = tn_now_ms();
    long rounds = 0, killed = 0, finished = 0, peers = 0, stopped = 0;
    bool ok = true;
    while (ok && rounds < MAX_ROUNDS && (rounds < MIN_ROUNDS || tn_now_ms() - t0 < seconds * 1000L)) {
        rounds++;
        enum { CHILDREN = 2 };
        pid_t pid[CHILDREN];
        bool let_finish = rand_r(&seed) % 16 == 0;
        for (int c = 0; c < CHILDREN; c++) {
            unsigned child_seed = (unsigned)rand_r(&seed);
            int ops = 50 + rand_r(&seed) % 1500;
            pid[c] = tn_fork();
            if (pid[c] == 0)
                worker(child_seed, ops);
        }
        struct tn_peer peer;
        bool with_peer = rand_r(&seed) % 16 == 0;
        if (with_peer) {
            start_peer(&peer, &seed);
            peers++;
        }
        bool stop_first = !let_finish && rand_r(&seed) % 4 == 0;
        if (!let_finish) {
            /* Mostly within the first few milliseconds (a child's first
             * calls), sometimes later; the two die at different instants.
             * Some rounds stop them first, run a checker against the
             * stopped state, and kill them while it runs. */
            for (int c = 0; c < CHILDREN; c++) {
                int delay = rand_r(&seed) % 8 == 0 ? rand_r(&seed) % 20000 : rand_r(&seed) % 3000;
                usleep((useconds_t)delay);
                kill(pid[c], stop_first ? SIGSTOP : SIGKILL);
            }
        }
        if (stop_first) {
            stopped++;
            pid_t check = tn_fork();
            if (check == 0)
                checker();
            usleep((useconds_t)(rand_r(&seed) % 3000));
            for (int c = 0; c < CHILDREN; c++)
                kill(pid[c], SIGKILL);
            int status = tn_wait(check, 15000);
            if (!tn_exited_ok(status)) {
                fprintf(stderr, "round %ld: checker ended with status %#x%s\n", rounds, status,
                        status == -1 ? " (it hung: killed after 15 s)" : "");
                ok = false;
            }
        }
        for (int c = 0; c < CHILDREN; c++) {
            int status = tn_wait(pid[c], 20000);
            if (tn_killed_by(status, SIGKILL) && !let_finish) {
                killed++;
            } else if (tn_exited_ok(status)) {
                finished++;
            } else {
                fprintf(stderr, "round %ld: child %d ended with status %#x%s\n", rounds, (int)pid[c], status,
                        status == -1 ? " (it hung: killed after 20 s)" : "");
                ok = false;
            }
        }
        if (with_peer) {
            usleep((useconds_t)(rand_r(&seed) % 5000));
            tn_peer_kill(&peer);
        }
    }
    /* Every child is reaped. */
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    errno = 0;
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) {
        fprintf(stderr, "children left\n");
        ok = false;
    }
    printf("stress_kill: %ld rounds in %.1f s: %ld children killed (%ld rounds stopped first), %ld finished, "
           "%ld exec'd peers killed\n",
           rounds, (double)(tn_now_ms() - t0) / 1000, killed, stopped, finished, peers);
    if (rounds < MIN_ROUNDS)
        ok = false;

    /* One call that may reclaim stale leftovers, then: the node is empty and
     * the pool is 0. */
    uint64_t size = 0, used = 0;
    if (!iwin32PoolInfo(&size, &used)) {
        fprintf(stderr, "iwin32PoolInfo failed: %u\n", GetLastError());
        return 1;
    }
    int left = tn_count_objects(NULL);
    printf("stress_kill: pool %llu bytes, %llu used; %d object files left\n", (unsigned long long)size,
           (unsigned long long)used, left);
    if (used != 0 || left != 0) {
        tn_dump_dir(NULL);
        ok = false;
    }
    /* Every name is gone... */
    for (int k = 0; k < NAMED; k++) {
        void *p;
        SetLastError(SENTINEL);
        if (RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, names[k], &p) != NULL ||
            GetLastError() != ERROR_FILE_NOT_FOUND) {
            fprintf(stderr, "name %d still opens (last error %u)\n", k, GetLastError());
            ok = false;
        }
    }
    /* ...and the whole pool is there again, exactly. */
    void *p = NULL, *q = NULL;
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, POOL_MB << 20, names[0], &p);
    if (h == NULL || GetLastError() != ERROR_SUCCESS) {
        fprintf(stderr, "a pool-sized object cannot be created: error %u\n", GetLastError());
        ok = false;
    } else {
        SetLastError(SENTINEL);
        if (RtCreateSharedMemory(PAGE_READWRITE, 0, 1, NULL, &q) != NULL ||
            GetLastError() != ERROR_NOT_ENOUGH_MEMORY) {
            fprintf(stderr, "a full pool accepted one more byte\n");
            ok = false;
        }
        RtUnmapSharedMemory(p);
        CloseHandle(h);
        if (tn_pool_used() != 0 || tn_count_objects(NULL) != 0) {
            fprintf(stderr, "the pool or the node is not empty after the last close\n");
            ok = false;
        }
    }
    printf("stress_kill: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
