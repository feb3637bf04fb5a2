/*
 * SPEC 4 at every crash point (src/crash_point.h): a process that dies at
 * any step of a Create, Open, Close, Set, Release or wait leaves nothing a
 * later call can tell.
 *
 * This program is linked with the tests' copy of the library objects, the
 * one with the points compiled in.  It is also its own peer: run as
 * "test_crash_points --peer SCENARIO KIND NAME" it plays one scenario's
 * calls and then prints "hit <point>" for every point it passed.
 *
 * For every scenario (the table below), the test sets the scene - an object
 * it holds with checksummed data, a stale object a dead process left, a
 * process blocked waiting on the object, a destroyer holding the write
 * lock, a node header overwritten with garbage - and runs the peer once unarmed to learn which points the scenario
 * passes.  Then, for each of those points, it sets the scene again and runs
 * the peer with IWIN32_CRASH_AT=<point>; the peer must exit 86 there (a
 * point a scenario claims to pass but does not is a failure).  After each
 * run: the next Open finds the test's object intact (checksum), or the next
 * Create makes a fresh, zeroed object with last error 0; nothing hangs (an
 * alarm); a waiter is released by its timeout at the latest; the pool's use
 * is exactly the test's live objects; and once the test has closed its
 * handles the pool is 0 and the node holds no object file.  One scenario
 * has the peer make a node of its own (SPEC 8): killed at any point of
 * that, it must leave a directory the next process makes a node of, not one
 * refused forever.  Every point
 * compiled into the library must be passed by some scenario, so a point
 * added to the library without a scenario that reaches it fails this test.
 *
 * That check needs every scenario in one run, so the test stays one
 * executable: this file has the scenes, the checks and the coverage; the
 * peer's calls are in test_crash_points_peer.c, linked into it; what both
 * use (sizes, objects by kind, checksummed data) is in
 * test_crash_points_util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crash_point.h"
#include "test_crash_points_util.h"

#define NAME "crash.obj"        /* plain characters: its file is "n-" NAME */
#define BIG_NAME "crash.big"
#define BIG_SIZE (6u << 20)     /* a stale BIG_SIZE + a new FULL_SIZE overflow the pool's word */
#define WAIT_MS 2000            /* a waiter's timeout */
/* How late past its timeout a waiter may return: scheduling on a loaded
 * 2-core VM, not the library; a lost wake-up would show as WAIT_TIMEOUT. */
#define SLACK_MS 3000
#define RUN_ALARM_S 120         /* one scenario run, scene to checks */

static const char *const kind_names[] = {"shm", "event", "mutex", "semaphore"};

/* A child has exited (not reaped yet). */
static bool exited(pid_t pid)
{
    siginfo_t info = {0};
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

/* ---- the scenes ----------------------------------------------------------- */

struct scenario {
    const char *peer;           /* the peer's calls: create, full, recount, mknode (recount, then
                                   create), open, open-gone, signal, wait (for an abandoned mutex:
                                   WAIT_ABANDONED_0), wait-released */
    enum kind kind;
    bool held;                  /* the test holds the object (shared memory: checksummed) */
    bool stale;                 /* a process that died holding it left it behind */
    bool destroyer;             /* the test holds its write lock until the peer waits for it */
    bool waiter;                /* a process waits on it (WAIT_MS) while the peer runs */
    bool abandoned;             /* a process died owning it (a mutex) */
    bool owner_dies;            /* a process owns it (a mutex), killed once the peer sleeps */
    bool owner_releases;        /* ... or that releases it then: the peer's watcher
                                   takes it and hands it back (SPEC 6: no abandonment) */
    bool unnamed;               /* the peer's object has no name */
    bool damaged;               /* ".node" overwritten with garbage: the peer rebuilds it */
    bool own_node;              /* the peer makes a node of its own (own_node_dir) */
    bool cut;                   /* ... or finds one there whose ".node" was cut to 0 bytes */
};

static const struct scenario scenarios[] = {
    {"create", SHM, .held = false},
    {"create", SHM, .unnamed = true},
    {"create", SHM, .held = true},
    {"open", SHM, .held = true},
    {"open-gone", SHM, .stale = true},
    {"open-gone", SHM, .stale = true, .destroyer = true},
    {"full", SHM, .stale = true},
    {"recount", SHM, .stale = true},
    {"create", SHM, .held = true, .unnamed = true, .damaged = true},
    {"mknode", SHM, .own_node = true},
    {"mknode", SHM, .own_node = true, .cut = true},
    {"create", EVENT, .held = false},
    {"open", EVENT, .held = true},
    {"signal", EVENT, .held = true, .waiter = true},
    {"wait", EVENT, .held = true},
    {"create", MUTEX, .held = false},
    {"signal", MUTEX, .held = true},
    {"signal", MUTEX, .held = true, .abandoned = true},
    {"wait", MUTEX, .held = true, .owner_dies = true},
    {"wait-released", MUTEX, .held = true, .owner_releases = true},
    {"create", SEMAPHORE, .held = false},
    {"signal", SEMAPHORE, .held = true, .waiter = true},
};
#define NSCENARIOS (sizeof scenarios / sizeof scenarios[0])

struct scene {
    HANDLE h;                   /* the test's own handle (held) */
    void *p;
    pid_t waiter;
    pid_t owner;                /* owns the mutex until killed, or told to release it */
    int owner_go;               /* a byte on it: release */
    int lock_fd;                /* the destroyer's write lock */
};

static bool failed;

/* The node an own_node scenario's peer makes: missing before each run. */
static char own_node_dir[700];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL line %d: %s: ", __LINE__, #cond);                                \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            failed = true;                                                                         \
        }                                                                                          \
    } while (0)

static const char *scene_name(const struct scenario *s)
{
    return s->peer[0] == 'f' ? BIG_NAME : NAME; /* "full": the stale object is another name */
}

/* Writes over ".node" as a stray plain write would. */
static void damage_header(void)
{
    char path[700];
    unsigned char garbage[64];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (unsigned char)(i * 151u + 7u);
    snprintf(path, sizeof path, "%s/.node", tn_root());
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    EXPECT(fd >= 0 && pwrite(fd, garbage, sizeof garbage, 0) == (ssize_t)sizeof garbage, "garbage: %s",
           strerror(errno));
    if (fd >= 0)
        close(fd);
}

/* A process (forked: it inherits the test's handle) that owns the mutex
 * until it is killed, or releases it and exits when a byte comes on *go. */
static pid_t start_owner(HANDLE mutex, int *go)
{
    int ready[2], release[2];
    tn_pipe(ready);
    tn_pipe(release);
    pid_t pid = tn_fork();
    if (pid == 0) {
        if (RtWaitForSingleObject(mutex, 10000) == WAIT_OBJECT_0)
            tn_send_byte(ready[1]);
        if (!tn_recv_byte(release[0]))
            pause();
        _exit(RtReleaseMutex(mutex) ? 0 : 1);
    }
    EXPECT(tn_recv_byte(ready[0]), "the owner to take the mutex");
    tn_close(ready[0]);
    tn_close(ready[1]);
    tn_close(release[0]);
    *go = release[1];
    return pid;
}

/* A process makes the object (or takes the mutex) and exits holding it. */
static void die_holding(const struct scenario *s, HANDLE mutex)
{
    pid_t pid = tn_fork();
    if (pid == 0) {
        void *p;
        bool fresh;
        if (mutex != NULL)
            _exit(RtWaitForSingleObject(mutex, 10000) == WAIT_OBJECT_0 ? 0 : 1);
        HANDLE h = create(s->kind, scene_name(s), s->peer[0] == 'f' ? BIG_SIZE : SIZE, &p, &fresh);
        _exit(h != NULL && fresh ? 0 : 1);
    }
    EXPECT(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)), "a process to die holding %s", scene_name(s));
}

/* How a waiter ended (its exit code). */
enum { WAITER_GOT_IT, WAITER_TIMED_OUT, WAITER_LATE, WAITER_FAILED };

/* A process (forked: it inherits the test's handle) blocked in a wait on h,
 * for WAIT_MS; it exits with one of the codes above. */
static pid_t start_waiter(HANDLE h)
{
    int ready[2];
    tn_pipe(ready);
    pid_t pid = tn_fork();
    if (pid == 0) {
        tn_send_byte(ready[1]);
        int64_t t0 = tn_now_ms();
        DWORD r = RtWaitForSingleObject(h, WAIT_MS);
        if (tn_now_ms() - t0 > WAIT_MS + SLACK_MS)
            _exit(WAITER_LATE);
        _exit(r == WAIT_OBJECT_0 ? WAITER_GOT_IT : r == WAIT_TIMEOUT ? WAITER_TIMED_OUT : WAITER_FAILED);
    }
    EXPECT(tn_recv_byte(ready[0]), "the waiter to start");
    tn_close(ready[0]);
    tn_close(ready[1]);
    /* Asleep in its wait: registered with the object. */
    for (int64_t until = tn_now_ms() + TN_TIMEOUT_MS; tn_now_ms() < until && !asleep(pid);)
        usleep(1000);
    return pid;
}

/* Somebody (the peer) is blocked waiting for a lock on inode ino. */
static bool lock_waiter_on(ino_t ino)
{
    char needle[32], line[256];
    snprintf(needle, sizeof needle, ":%lu ", (unsigned long)ino);
    FILE *f = fopen("/proc/locks", "r");
    bool seen = false;
    while (f && !seen && fgets(line, sizeof line, f))
        seen = strstr(line, "->") && strstr(line, needle);
    if (f)
        fclose(f);
    return seen;
}

static void set_scene(const struct scenario *s, struct scene *sc)
{
    *sc = (struct scene){.lock_fd = -1, .owner_go = -1};
    if (s->own_node)
        nftw(own_node_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    if (s->cut) {
        char path[800];
        snprintf(path, sizeof path, "%s/.node", own_node_dir);
        int fd = mkdir(own_node_dir, 0700) == 0 ? open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
        EXPECT(fd >= 0 && fchmod(fd, 01600) == 0, "a node with .node cut short: %s", strerror(errno)); /* the mark */
        if (fd >= 0)
            close(fd);
    }
    if (s->stale)
        die_holding(s, NULL);
    if (s->destroyer) {
        char path[700];
        snprintf(path, sizeof path, "%s/n-%s", tn_root(), NAME);
        sc->lock_fd = open(path, O_RDWR | O_CLOEXEC);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
        EXPECT(sc->lock_fd >= 0 && fcntl(sc->lock_fd, F_OFD_SETLK, &fl) == 0, "the write lock: %s", strerror(errno));
    }
    if (s->held) {
        bool fresh;
        sc->h = create(s->kind, NAME, SIZE, &sc->p, &fresh);
        EXPECT(sc->h != NULL && fresh, "the test's object");
        if (s->kind == SHM && sc->h != NULL)
            fill(sc->p, SIZE, SEED);
    }
    if (s->damaged)
        damage_header();
    if (s->abandoned)
        die_holding(s, sc->h);
    if (s->waiter)
        sc->waiter = start_waiter(sc->h);
    if (s->owner_dies || s->owner_releases)
        sc->owner = start_owner(sc->h, &sc->owner_go);
}

/* Runs the peer, armed at point (NULL: not armed); its "hit" lines go to
 * hits (one name a line) when given.  Returns its wait status. */
static int run_peer(const struct scenario *s, const struct scene *sc, const char *point, char *hits, size_t size)
{
    int out[2];
    tn_pipe(out);
    pid_t pid = tn_fork();
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        if (s->own_node)
            setenv("IWIN32_ROOT", own_node_dir, 1);
        if (point)
            setenv("IWIN32_CRASH_AT", point, 1);
        else
            unsetenv("IWIN32_CRASH_AT");
        execl("/proc/self/exe", "test_crash_points", "--peer", s->peer, kind_names[s->kind],
              s->unnamed ? "-" : NAME, (char *)NULL);
        _exit(127);
    }
    tn_close(out[1]);
    /* The peer waits for the destroyer's lock, or for the mutex's owner;
     * then the destroyer dies before its unlink, or the owner dies or
     * releases it - unless the peer crashed before it came to wait. */
    if (s->destroyer || s->owner_dies || s->owner_releases) {
        struct stat st;
        bool waiting = false;
        for (int64_t until = tn_now_ms() + TN_TIMEOUT_MS; !waiting && tn_now_ms() < until; usleep(1000))
            waiting = (s->destroyer ? fstat(sc->lock_fd, &st) == 0 && lock_waiter_on(st.st_ino) : asleep(pid)) ||
                      (point != NULL && exited(pid));
        EXPECT(waiting, "the peer to wait");
        if (s->destroyer)
            close(sc->lock_fd);
        else if (s->owner_releases)
            tn_send_byte(sc->owner_go);
        else
            kill(sc->owner, SIGKILL);
    }
    size_t len = 0;
    for (ssize_t r; (r = read(out[0], hits + len, size - 1 - len)) > 0 || (r < 0 && errno == EINTR);)
        len += r > 0 ? (size_t)r : 0;
    hits[len] = '\0';
    tn_close(out[0]);
    return tn_wait(pid, TN_TIMEOUT_MS);
}

/* A waiter that was there before the peer's Set or Release gets it, by its
 * timeout at the latest: a waiter that timed out means there was none to
 * get (the peer died before it), so the object must not be signalled now. */
static void check_waiter(const struct scene *sc, bool armed, const char *what)
{
    int status = tn_wait(sc->waiter, WAIT_MS + SLACK_MS + TN_TIMEOUT_MS);
    int code = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    EXPECT(code == WAITER_GOT_IT || (armed && code == WAITER_TIMED_OUT),
           "%s: the waiter ended with status %#x", what, status);
    if (code == WAITER_TIMED_OUT)
        EXPECT(RtWaitForSingleObject(sc->h, 0) == WAIT_TIMEOUT, "%s: a signal the waiter missed", what);
}

/* After a peer making its own node (whatever became of it): the next
 * process - the peer again, unarmed - makes or uses that node, its
 * recount removes what a killed maker left, and its object goes with it. */
static void check_own_node(const struct scenario *s, struct scene *sc, const char *what)
{
    char hits[4096], list[256];
    int status = run_peer(s, sc, NULL, hits, sizeof hits);
    EXPECT(tn_exited_ok(status), "%s: the next process on that node ended with status %#x", what, status);
    tn_list_dir(own_node_dir, list, sizeof list);
    EXPECT(strcmp(list, ".node") == 0, "%s: the node holds \"%s\"", what, list);
}

static bool is_point(const char *point, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(point, *names) == 0)
            return true;
    return false;
}

/* SPEC 6: whether the test's acquisition of the held mutex after the peer
 * (crashed at point, or NULL: it ran to the end) must be told it was
 * abandoned - exactly when a thread that acquired it through the API died
 * owning it and nobody was told yet: never for a death inside a release
 * that had decided, or of a watcher merely passing it on. */
static bool abandonment_due(const struct scenario *s, const char *point)
{
    static const char *const peer_owns[] = {"mutex.owner_dead", "mutex.abandoned_owned", "mutex.acquired",
                                            "wait.taken", NULL};
    static const char *const released[] = {"mutex.releasing", "mutex.released", "reflock.unlocked", NULL};
    if (point == NULL || is_point(point, released) || strncmp(point, "destroy.", 8) == 0)
        return false; /* the peer released it (after the report, if any) */
    if (is_point(point, peer_owns))
        return true; /* the peer died owning it, or before it could be told */
    /* Before the peer's own acquisition: an earlier death is still due
     * (the owner killed while the peer waits, or one that died before). */
    return s->owner_dies || s->abandoned;
}

/* SPEC 5 at the next refusal: what is free fits, exactly, and a page more
 * is refused.  A refusal answers from the pool's word unless something
 * left it in doubt (pool.c): a process that died anywhere must have left
 * it exact or in doubt, never silently too high. */
static void check_full_pool(uint64_t held_pages, const char *what)
{
    DWORD room = (DWORD)(((uint64_t)POOL_MB << 20) - held_pages * tn_page());
    void *p = NULL, *q = NULL;
    HANDLE fill = RtCreateSharedMemory(PAGE_READWRITE, 0, room, NULL, &p);
    EXPECT(fill != NULL, "%s: the %u free bytes were refused (error %u)", what, room, GetLastError());
    HANDLE more = RtCreateSharedMemory(PAGE_READWRITE, 0, 1, NULL, &q);
    EXPECT(more == NULL && GetLastError() == ERROR_NOT_ENOUGH_MEMORY, "%s: a page more than the pool holds: %p",
           what, more);
    if (more != NULL)
        release(more, q);
    if (fill != NULL)
        release(fill, p);
}

/* After the peer (whatever became of it): SPEC 4 and 5. */
static void check_scene(const struct scenario *s, struct scene *sc, const char *point, const char *what)
{
    bool armed = point != NULL;
    uint64_t held_pages = 0;
    if (s->own_node) {
        check_own_node(s, sc, what);
        return;
    }
    if (s->waiter)
        check_waiter(sc, armed, what);
    if (s->owner_dies)
        EXPECT(tn_killed_by(tn_wait(sc->owner, TN_TIMEOUT_MS), SIGKILL), "%s: the owner was killed", what);
    if (s->owner_releases)
        EXPECT(tn_exited_ok(tn_wait(sc->owner, TN_TIMEOUT_MS)), "%s: the owner released it", what);
    if (sc->owner_go >= 0)
        tn_close(sc->owner_go);
    void *p = NULL;
    if (s->held) {
        /* Intact: the test's object, by name, with its data. */
        SetLastError(SENTINEL);
        HANDLE h = open_object(s->kind, NAME, &p);
        EXPECT(h != NULL && GetLastError() == SENTINEL, "%s: the held object opens", what);
        if (s->kind == SHM) {
            EXPECT(h != NULL && intact(p, SIZE, SEED) && intact(sc->p, SIZE, SEED), "%s: data intact", what);
            held_pages = (SIZE + tn_page() - 1) / tn_page();
        }
        if (s->kind == MUTEX) {
            DWORD r = RtWaitForSingleObject(sc->h, 10000);
            DWORD due = abandonment_due(s, point) ? WAIT_ABANDONED_0 : WAIT_OBJECT_0;
            EXPECT(r == due, "%s: the mutex is free (%#x, expected %#x)", what, r, due);
            EXPECT(RtReleaseMutex(sc->h), "%s: release", what);
        }
        if (h != NULL)
            EXPECT(release(h, s->kind == SHM ? p : NULL), "%s: close", what);
    } else if (!s->unnamed) {
        /* Nobody holds the name: a Create makes a fresh, zeroed object. */
        bool fresh = false;
        HANDLE h = create(s->kind, NAME, SIZE, &p, &fresh);
        EXPECT(h != NULL && fresh, "%s: a fresh object (last error %u)", what, GetLastError());
        if (h != NULL && s->kind == SHM)
            EXPECT(all_zero(p, SIZE), "%s: zero-filled", what);
        if (h != NULL)
            EXPECT(release(h, s->kind == SHM ? p : NULL), "%s: close", what);
    }
    check_full_pool(held_pages, what);
    uint64_t used = tn_pool_used();
    EXPECT(used == held_pages * tn_page(), "%s: pool used %llu, live objects %llu", what,
           (unsigned long long)used, (unsigned long long)(held_pages * tn_page()));
    if (sc->h != NULL)
        EXPECT(release(sc->h, sc->p), "%s: the test's close", what);
    used = tn_pool_used(); /* a recount: it removes what the dead left */
    int left = tn_count_objects(NULL);
    EXPECT(used == 0 && left == 0, "%s: after the last close: pool used %llu, %d object files", what,
           (unsigned long long)used, left);
    if (left)
        tn_dump_dir(NULL);
}

/* Every point the library has: each must be passed by some scenario. */
static bool all_points_covered(const char *covered)
{
    struct iw_crash_point *points;
    size_t n = iw_crash_points_all(&points);
    bool ok = n > 0;
    for (size_t i = 0; i < n; i++) {
        char line[160];
        snprintf(line, sizeof line, "hit %s\n", points[i].name);
        int scenarios_passing = 0;
        for (const char *at = covered; (at = strstr(at, line)) != NULL; at++)
            scenarios_passing += at == covered || at[-1] == '\n';
        printf("  %-26s %s:%d, crashed at in %d scenarios\n", points[i].name, points[i].file, points[i].line,
               scenarios_passing);
        if (scenarios_passing == 0) {
            fprintf(stderr, "FAIL: no scenario passes crash point %s\n", points[i].name);
            ok = false;
        }
    }
    printf("test_crash_points: %zu crash points in the library\n", n);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--peer") == 0) {
        for (int k = SHM; k <= SEMAPHORE; k++)
            if (strcmp(argv[3], kind_names[k]) == 0)
                return crash_peer(argv[2], (enum kind)k, argv[4]);
        return 64;
    }
    tn_setup("crash");
    tn_path(own_node_dir, sizeof own_node_dir, "own-node");
    char pool[16];
    snprintf(pool, sizeof pool, "%d", POOL_MB);
    setenv("IWIN32_POOL_MB", pool, 1);
    unsetenv("IWIN32_CRASH_AT"); /* this process never crashes */
    tn_pool_used(); /* makes the node: only the own_node scenario's peers make one */
    static char covered[1 << 16];
    size_t covered_len = 0;
    int crashes = 0;
    for (size_t i = 0; i < NSCENARIOS; i++) {
        const struct scenario *s = &scenarios[i];
        char what[200], hits[4096];
        struct scene sc;
        snprintf(what, sizeof what, "scenario %zu (%s %s), unarmed", i, s->peer, kind_names[s->kind]);
        alarm(RUN_ALARM_S);
        set_scene(s, &sc);
        int status = run_peer(s, &sc, NULL, hits, sizeof hits);
        EXPECT(tn_exited_ok(status), "%s: the peer ended with status %#x", what, status);
        check_scene(s, &sc, NULL, what);
        covered_len += (size_t)snprintf(covered + covered_len, sizeof covered - covered_len, "%s", hits);
        /* Then crash at each point it passed. */
        for (char *line = hits, *next; (next = strchr(line, '\n')) != NULL; line = next + 1) {
            *next = '\0';
            const char *point = line + 4; /* "hit " */
            char crashed_hits[4096];
            snprintf(what, sizeof what, "scenario %zu (%s %s), crash at %s", i, s->peer, kind_names[s->kind], point);
            /* A point on a racy branch (reflock.unlocked: the upgrade at
             * close fails only while another holder's lock is there) may be
             * passed by one run and not the next: a peer that ended without
             * reaching it runs again, a few times. */
            for (int attempt = 0; attempt < 5; attempt++) {
                alarm(RUN_ALARM_S);
                set_scene(s, &sc);
                status = run_peer(s, &sc, point, crashed_hits, sizeof crashed_hits);
                if (!tn_exited_ok(status))
                    break;
                check_scene(s, &sc, NULL, what);
            }
            EXPECT(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == IW_CRASH_EXIT_CODE,
                   "%s: the peer did not reach it (status %#x)", what, status);
            check_scene(s, &sc, point, what);
            crashes++;
        }
        alarm(0);
    }
    if (!all_points_covered(covered))
        failed = true;
    printf("test_crash_points: %zu scenarios, %d crashes, each at its point: %s\n", NSCENARIOS, crashes,
           failed ? "FAIL" : "PASS");
    return failed ? 1 : 0;
}
