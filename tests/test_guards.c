/*
 * SPEC 8 / issue 9.1: the library's own shared state is out of reach of a
 * user's overruns, and a damaged node header is rebuilt, never a permanent
 * refusal.
 *
 *  - An offender overruns or underruns a 4 KiB shared memory object by 24
 *    bytes or a page, where the kernel put the node header (the object is
 *    the process's first) or a semaphore's state page (opened before or
 *    after the object) right next to it.  The offender must die of SIGSEGV,
 *    and another process's semaphore count, Create, Open and the pool's
 *    figures must be as before.
 *  - ".node" overwritten with garbage by a plain write - while a process
 *    has it mapped, or truncated short while nobody does - or with values
 *    that cannot be (a pool of 0 pages): the next Create works and the
 *    pool's figures are exact again.
 *
 * Every library call runs in a child (test_child.h), each on a node of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_child.h"

#define POOL_MB 8
#define SEM_COUNT 3

static char *base_path(char *buf, const char *leaf) { return tn_path(buf, 700, leaf); }

/* In a child: what the call left in the last error, said on stderr. */
#define CHILD_CALL_OK(call)                                                                        \
    do {                                                                                           \
        SetLastError(0);                                                                           \
        if (!(call)) {                                                                             \
            fprintf(stderr, "%s:%d: %s failed: last error %u\n", __FILE__, __LINE__, #call,        \
                    (unsigned)GetLastError());                                                     \
            _exit(2);                                                                              \
        }                                                                                          \
    } while (0)

/* In a child: the pool's figures are size POOL_MB and exactly used_pages. */
static void check_pool(uint64_t used_pages)
{
    uint64_t size = 0, used = 0;
    CHILD_CALL_OK(iwin32PoolInfo(&size, &used));
    if (size != (uint64_t)POOL_MB << 20 || used != used_pages * tn_page()) {
        fprintf(stderr, "pool: size %llu used %llu, want %llu and %llu\n", (unsigned long long)size,
                (unsigned long long)used, (unsigned long long)POOL_MB << 20,
                (unsigned long long)(used_pages * tn_page()));
        _exit(2);
    }
}

static void use_node(const char *node)
{
    tc_use_node(node);
    char pool[16];
    snprintf(pool, sizeof pool, "%d", POOL_MB);
    TN_CHILD_CHECK(setenv("IWIN32_POOL_MB", pool, 1) == 0);
}

/* ---- overruns ------------------------------------------------------------- */

struct overrun {
    const char *what;
    bool sync_first;            /* the semaphore is opened before the object, not after */
    long start_pages;           /* where the write starts, in pages from the object's start */
    size_t len;                 /* bytes written; 0: a page */
};

struct scene {
    const struct overrun *o;
    const char *node;
    int go[2];                  /* the test tells the holder to check */
    int ready[2];               /* the holder has made the semaphore */
};

/* Holds the semaphore (SEM_COUNT) while the offender runs, then checks
 * that its count and the node are as before. */
static int holder_body(void *arg)
{
    struct scene *sc = arg;
    use_node(sc->node);
    HANDLE sem;
    CHILD_CALL_OK((sem = RtCreateSemaphore(NULL, SEM_COUNT, 10, "sem")) != NULL);
    tn_send_byte(sc->ready[1]);
    TN_CHILD_CHECK(tn_recv_byte(sc->go[0]));
    for (int i = 0; i < SEM_COUNT; i++)
        TN_CHILD_CHECK(RtWaitForSingleObject(sem, 0) == WAIT_OBJECT_0);
    TN_CHILD_CHECK(RtWaitForSingleObject(sem, 0) == WAIT_TIMEOUT);
    LONG previous = -1;
    CHILD_CALL_OK(RtReleaseSemaphore(sem, SEM_COUNT, &previous));
    TN_CHILD_CHECK(previous == 0);
    void *p;
    HANDLE shm;
    CHILD_CALL_OK((shm = RtCreateSharedMemory(PAGE_READWRITE, 0, 2 * (DWORD)tn_page(), "holder", &p)) != NULL);
    check_pool(2);
    TN_CHILD_CHECK(CloseHandle(shm) && CloseHandle(sem));
    return 0;
}

/* The offender's exit status when something other than the library's state
 * (or its guard) lies next to its object, as under a sanitizer. */
#define NOT_ADJACENT 4

/* The line of /proc/self/maps of the mapping that holds addr, if any. */
static bool mapping_at(const void *addr, char *line, size_t size)
{
    FILE *maps = fopen("/proc/self/maps", "re");
    bool found = false;
    while (maps && !found && fgets(line, (int)size, maps)) {
        unsigned long lo, hi;
        found = sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
    }
    if (maps)
        fclose(maps);
    return found;
}

/* Maps the object and the semaphore in the scene's order, then writes
 * where it must not.  Exits 0 if it survived that. */
static int offender_body(void *arg)
{
    struct scene *sc = arg;
    use_node(sc->node);
    void *p = NULL;
    HANDLE sem = NULL;
    if (sc->o->sync_first)
        CHILD_CALL_OK((sem = RtOpenSemaphore(0, FALSE, "sem")) != NULL);
    CHILD_CALL_OK(RtCreateSharedMemory(PAGE_READWRITE, 0, (DWORD)tn_page(), "first", &p) != NULL);
    if (!sc->o->sync_first)
        CHILD_CALL_OK((sem = RtOpenSemaphore(0, FALSE, "sem")) != NULL);
    signal(SIGSEGV, SIG_DFL); /* not cmocka's handler, inherited from the test */
    volatile unsigned char *at = (unsigned char *)p + sc->o->start_pages * (long)tn_page();
    /* What lies where the write goes.  A file of the node there is the
     * library's state without a guard: a failure.  Something else mapped
     * there (a sanitizer's allocator may map between the library's pages
     * and the object) means the scene did not come about: not written. */
    char neighbour[512];
    if (mapping_at((const void *)at, neighbour, sizeof neighbour)) {
        if (strstr(neighbour, sc->node) != NULL) {
            fprintf(stderr, "unguarded node file next to the object: %s\n", neighbour);
            return 3;
        }
        if (strstr(neighbour, " ---p ") == NULL)
            return NOT_ADJACENT;
    }
    size_t len = sc->o->len ? sc->o->len : tn_page();
    for (size_t i = 0; i < len; i++)
        at[i] = 0x5a;
    return 0;
}

/* A process that came after: Create (a page) and Open of the semaphore
 * work, and the pool counts that page and what others hold. */
static int newcomer(const char *node, const char *sem_name, uint64_t held_pages)
{
    use_node(node);
    void *p;
    HANDLE shm, sem;
    CHILD_CALL_OK((shm = RtCreateSharedMemory(PAGE_READWRITE, 0, (DWORD)tn_page(), "newcomer", &p)) != NULL);
    CHILD_CALL_OK((sem = RtOpenSemaphore(0, FALSE, sem_name)) != NULL);
    check_pool(held_pages + 1);
    TN_CHILD_CHECK(CloseHandle(shm) && CloseHandle(sem));
    return 0;
}

static int newcomer_body(void *arg) { return newcomer(((struct scene *)arg)->node, "sem", 0); }

static void run_overrun(const struct overrun *o, const char *leaf)
{
    char node[800];
    struct scene sc = {.o = o, .node = base_path(node, leaf)};
    tn_pipe(sc.go);
    tn_pipe(sc.ready);
    pid_t holder = tc_start(holder_body, &sc);
    assert_true(tn_recv_byte(sc.ready[0]));
    int offender = tn_wait(tc_start(offender_body, &sc), TN_TIMEOUT_MS);
    pid_t newcomer = tc_start(newcomer_body, &sc);
    int newcomer_status = tn_wait(newcomer, TN_TIMEOUT_MS);
    tn_send_byte(sc.go[1]);
    int holder_status = tn_wait(holder, TN_TIMEOUT_MS);
    printf("%s: offender %s, newcomer %s, holder %s\n", o->what,
           tn_killed_by(offender, SIGSEGV) ? "SIGSEGV" : tn_exited_ok(offender) ? "survived" : "failed",
           tn_exited_ok(newcomer_status) ? "ok" : "FAILED", tn_exited_ok(holder_status) ? "ok" : "FAILED");
    bool exercised = true;
#if defined(__SANITIZE_ADDRESS__)
    /* Only a sanitizer's build may map something between them. */
    exercised = !(WIFEXITED(offender) && WEXITSTATUS(offender) == NOT_ADJACENT);
    if (!exercised)
        printf("%s: the sanitizer mapped something between the library's pages and the object: "
               "the guard is not exercised in this build\n", o->what);
#endif
    if (exercised)
        assert_true(tn_killed_by(offender, SIGSEGV));
    assert_true(tn_exited_ok(newcomer_status));
    assert_true(tn_exited_ok(holder_status));
}

/* (a) The first object: the node header was mapped just before it. */
static void test_overrun_of_first_object(void **state)
{
    (void)state;
    static const struct overrun cases[] = {
        {"24 bytes past the end of the first object", false, 1, 24},
        {"a page past the end of the first object", false, 1, 0},
        {"a page before the start of the first object", false, -1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char leaf[32];
        snprintf(leaf, sizeof leaf, "first-%zu", i);
        run_overrun(&cases[i], leaf);
    }
}

/* (b) An object made after a semaphore: its page lies right above. */
static void test_overrun_of_object_after_semaphore(void **state)
{
    (void)state;
    static const struct overrun o = {"a page past the end of an object made after a semaphore", true, 1, 0};
    run_overrun(&o, "after-sync");
}

/* ---- a damaged header ------------------------------------------------------- */

/* Overwrites ".node" with a plain write: a page of garbage, 5 bytes of it
 * in a file truncated first, or a header whose pool is 0 pages. */
enum damage { GARBAGE, TRUNCATED, NO_POOL };

static void damage_header(const char *node, enum damage how)
{
    char path[900];
    snprintf(path, sizeof path, "%s/.node", node);
    int fd = open(path, O_RDWR | O_CLOEXEC | (how == TRUNCATED ? O_TRUNC : 0));
    assert_true(fd >= 0);
    unsigned char bytes[4096];
    size_t len = how == TRUNCATED ? 5 : sizeof bytes;
    for (size_t i = 0; i < len; i++)
        bytes[i] = (unsigned char)(i * 151u + 7u);
    if (how == NO_POOL) {
        assert_int_equal(pread(fd, bytes, 8, 0), 8); /* magic and version as they are */
        memset(bytes + 8, 0, 8);                       /* pool_max_pages */
        len = 16;
    }
    assert_int_equal(pwrite(fd, bytes, len, 0), (ssize_t)len);
    close(fd);
}

struct damaged {
    const char *node;
    int go[2];
    int ready[2];
    int done[2];
};

/* Holds 3 pages while the header is damaged under it, then makes 2 more. */
static int live_body(void *arg)
{
    struct damaged *d = arg;
    use_node(d->node);
    void *p;
    HANDLE a, b, sem;
    CHILD_CALL_OK((a = RtCreateSharedMemory(PAGE_READWRITE, 0, 3 * (DWORD)tn_page(), "a", &p)) != NULL);
    CHILD_CALL_OK((sem = RtCreateSemaphore(NULL, 1, 1, "s")) != NULL);
    for (int round = 0; round < 2; round++) { /* garbage, then no pool */
        tn_send_byte(d->ready[1]);
        TN_CHILD_CHECK(tn_recv_byte(d->go[0]));
        char name[8];
        snprintf(name, sizeof name, "b%d", round);
        CHILD_CALL_OK((b = RtCreateSharedMemory(PAGE_READWRITE, 0, 2 * (DWORD)tn_page(), name, &p)) != NULL);
        check_pool(5);
        TN_CHILD_CHECK(CloseHandle(b));
    }
    tn_send_byte(d->ready[1]);
    TN_CHILD_CHECK(tn_recv_byte(d->done[0])); /* a newcomer looks meanwhile */
    TN_CHILD_CHECK(CloseHandle(a) && CloseHandle(sem));
    return 0;
}

/* A new process on the damaged node: live_body holds 3 pages. */
static int newcomer_after_damage(void *arg) { return newcomer(((struct damaged *)arg)->node, "s", 3); }

/* A new process on a node nobody uses, whose header was cut short. */
static int alone_after_damage(void *arg)
{
    struct damaged *d = arg;
    use_node(d->node);
    void *p;
    HANDLE c;
    check_pool(0);
    CHILD_CALL_OK((c = RtCreateSharedMemory(PAGE_READWRITE, 0, (DWORD)tn_page(), "c", &p)) != NULL);
    check_pool(1);
    TN_CHILD_CHECK(CloseHandle(c));
    return 0;
}

/* (c) */
static void test_damaged_header_is_rebuilt(void **state)
{
    (void)state;
    char node[800];
    struct damaged d = {.node = base_path(node, "damaged")};
    tn_pipe(d.go);
    tn_pipe(d.ready);
    tn_pipe(d.done);
    pid_t live = tc_start(live_body, &d);
    assert_true(tn_recv_byte(d.ready[0]));
    damage_header(node, GARBAGE);
    tn_send_byte(d.go[1]);
    assert_true(tn_recv_byte(d.ready[0]));
    damage_header(node, NO_POOL);
    tn_send_byte(d.go[1]);
    assert_true(tn_recv_byte(d.ready[0]));
    damage_header(node, GARBAGE);
    tc_run(newcomer_after_damage, &d);
    tn_send_byte(d.done[1]);
    tc_finish(live);
    damage_header(node, TRUNCATED);
    tc_run(alone_after_damage, &d);
}

/* A header whose magic is intact but whose version is another's is a node of
 * another version of the library, not damage: refused, and left as it is. */
static int refused_other_version(void *arg)
{
    use_node(((struct damaged *)arg)->node);
    void *p;
    SetLastError(0);
    TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, (DWORD)tn_page(), "x", &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    return 0;
}

static void test_other_version_refused(void **state)
{
    (void)state;
    char node[800], path[900];
    struct damaged d = {.node = base_path(node, "version")};
    tc_run(alone_after_damage, &d); /* makes the node */
    snprintf(path, sizeof path, "%s/.node", node);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    uint32_t version = 1;
    assert_int_equal(pwrite(fd, &version, sizeof version, 4), (ssize_t)sizeof version);
    tc_run(refused_other_version, &d);
    version = 0;
    assert_int_equal(pread(fd, &version, sizeof version, 4), (ssize_t)sizeof version);
    assert_int_equal(version, 1);
    close(fd);
}

/* Several processes find the header damaged at once: each Create works,
 * and the pool counts exactly what they all made. */
#define REBUILDERS 6

struct racers {
    const char *node;
    int go[2];                  /* REBUILDERS bytes: start */
    int made[2];                /* one byte from each racer */
    int leave[2];               /* REBUILDERS bytes: close and exit */
};

static int racer_body(void *arg)
{
    struct racers *r = arg;
    use_node(r->node);
    TN_CHILD_CHECK(tn_recv_byte(r->go[0]));
    void *p;
    char name[16];
    snprintf(name, sizeof name, "r%d", (int)getpid());
    HANDLE h;
    CHILD_CALL_OK((h = RtCreateSharedMemory(PAGE_READWRITE, 0, (DWORD)tn_page(), name, &p)) != NULL);
    tn_send_byte(r->made[1]);
    TN_CHILD_CHECK(tn_recv_byte(r->leave[0]));
    TN_CHILD_CHECK(CloseHandle(h));
    return 0;
}

static int racers_counted(void *arg) { return newcomer(((struct damaged *)arg)->node, "s", 3 + REBUILDERS); }

static void test_rebuilders_at_once(void **state)
{
    (void)state;
    char node[800];
    struct damaged d = {.node = base_path(node, "racing")};
    struct racers r = {.node = node};
    tn_pipe(d.go);
    tn_pipe(d.ready);
    tn_pipe(d.done);
    tn_pipe(r.go);
    tn_pipe(r.made);
    tn_pipe(r.leave);
    pid_t live = tc_start(live_body, &d); /* 3 pages, and the semaphore "s" */
    assert_true(tn_recv_byte(d.ready[0]));
    pid_t racers[REBUILDERS];
    for (int i = 0; i < REBUILDERS; i++)
        racers[i] = tc_start(racer_body, &r);
    damage_header(node, GARBAGE);
    for (int i = 0; i < REBUILDERS; i++)
        tn_send_byte(r.go[1]);
    for (int i = 0; i < REBUILDERS; i++)
        assert_true(tn_recv_byte(r.made[0]));
    tc_run(racers_counted, &d);
    for (int i = 0; i < REBUILDERS; i++)
        tn_send_byte(r.leave[1]);
    for (int i = 0; i < REBUILDERS; i++)
        tc_finish(racers[i]);
    kill(live, SIGKILL);
    tn_wait(live, TN_TIMEOUT_MS);
}

int main(int argc, char **argv)
{
    tn_setup("guards");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_overrun_of_first_object, tn_teardown),
        cmocka_unit_test_teardown(test_overrun_of_object_after_semaphore, tn_teardown),
        cmocka_unit_test_teardown(test_damaged_header_is_rebuilt, tn_teardown),
        cmocka_unit_test_teardown(test_rebuilders_at_once, tn_teardown),
        cmocka_unit_test_teardown(test_other_version_refused, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
