/*
 * Issue 4.6: RLIMIT_NOFILE.  At the limit a Create or Open fails with
 * ERROR_TOO_MANY_OPEN_FILES, whichever descriptor it runs out at, and leaves
 * no file behind and the pool exact; a node that could not be opened for
 * want of descriptors opens at the next call; fork at the descriptor limit
 * gives the child every object (issue 9.3).  The limits on memory and
 * handles: test_limits_memory.c.
 *
 * Every library call runs in a child (test_child.h).
 */
#include <dirent.h>
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_child.h"

static char *base_path(char *buf, const char *leaf) { return tn_path(buf, 700, leaf); }

/* ---- RLIMIT_NOFILE ------------------------------------------------------------ */

/* Descriptors taken so that exactly `spare` are left under the limit. */
struct fd_fill {
    int fds[512];
    int n;
};

static void fill_fds(struct fd_fill *f, int spare)
{
    struct rlimit rl = {256, 256};
    TN_CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    f->n = 0;
    int fd;
    while ((fd = dup(0)) >= 0)
        f->fds[f->n++] = fd;
    TN_CHILD_CHECK(errno == EMFILE && f->n > spare);
    while (spare-- > 0)
        close(f->fds[--f->n]);
}

static void free_fds(struct fd_fill *f)
{
    while (f->n > 0)
        close(f->fds[--f->n]);
}

enum op { CREATE_SHM, CREATE_HASHED_SHM, CREATE_UNNAMED_SHM, OPEN_SHM, CREATE_EVENT, OPEN_EVENT,
          CREATE_MUTEX, CREATE_SEMAPHORE, OPS };
static const char *const op_names[OPS] = {"create shm", "create shm (hashed name)", "create unnamed shm",
                                          "open shm", "create event", "open event", "create mutex",
                                          "create semaphore"};

/* Runs op; true if it worked (and then lets go of what it made). */
static bool try_op(enum op op, DWORD *err)
{
    void *p = NULL;
    HANDLE h = NULL;
    SetLastError(SENTINEL);
    switch (op) {
    case CREATE_SHM: h = RtCreateSharedMemory(PAGE_READWRITE, 0, 65536, "nf-new", &p); break;
    case CREATE_HASHED_SHM: h = RtCreateSharedMemory(PAGE_READWRITE, 0, 65536, tc_hashed_name(), &p); break;
    case CREATE_UNNAMED_SHM: h = RtCreateSharedMemory(PAGE_READWRITE, 0, 65536, NULL, &p); break;
    case OPEN_SHM: h = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "nf-held", &p); break;
    case CREATE_EVENT: h = RtCreateEvent(NULL, FALSE, FALSE, "nf-new.ev"); break;
    case OPEN_EVENT: h = RtOpenEvent(0, FALSE, "nf-held.ev"); break;
    case CREATE_MUTEX: h = RtCreateMutex(NULL, TRUE, "nf-new.mutex"); break;
    case CREATE_SEMAPHORE: h = RtCreateSemaphore(NULL, 0, 1, "nf-new.sem"); break;
    case OPS: break;
    }
    *err = GetLastError();
    if (h == NULL)
        return false;
    if (op == CREATE_MUTEX)
        TN_CHILD_CHECK(RtReleaseMutex(h));
    if (p != NULL)
        TN_CHILD_CHECK(RtUnmapSharedMemory(p));
    TN_CHILD_CHECK(CloseHandle(h));
    return true;
}

/* Another process holds what the Opens open: an object this process held
 * already would be opened with no descriptor at all (object.h). */
static pid_t start_holder(int *done)
{
    int ready[2], wait_for[2];
    TN_CHILD_CHECK(pipe(ready) == 0 && pipe(wait_for) == 0);
    pid_t pid = fork();
    TN_CHILD_CHECK(pid >= 0);
    if (pid == 0) {
        close(wait_for[1]); /* so that it sees the end of the pipe */
        void *held = NULL;
        HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, 65536, "nf-held", &held);
        HANDLE ev = RtCreateEvent(NULL, TRUE, FALSE, "nf-held.ev");
        TN_CHILD_CHECK(shm != NULL && ev != NULL);
        tn_send_byte(ready[1]);
        char c;
        while (read(wait_for[0], &c, 1) < 0 && errno == EINTR)
            ;
        TN_CHILD_CHECK(RtUnmapSharedMemory(held) && CloseHandle(shm) && CloseHandle(ev));
        _exit(0);
    }
    close(wait_for[0]);
    close(ready[1]);
    TN_CHILD_CHECK(tn_recv_byte(ready[0]));
    close(ready[0]);
    *done = wait_for[1];
    return pid;
}

static int nofile_objects_body(void *arg)
{
    tc_use_node(arg);
    int holder_done;
    pid_t holder = start_holder(&holder_done);
    const char *expected = ".node|n-nf-held|n-nf-held.ev";
    TN_CHILD_CHECK(strcmp(tc_listing(arg), expected) == 0);
    for (enum op op = 0; op < OPS; op++) {
        int first_success = -1;
        for (int spare = 0; spare <= 6; spare++) {
            struct fd_fill fill;
            DWORD err;
            fill_fds(&fill, spare);
            bool ok = try_op(op, &err);
            free_fds(&fill);
            if (!ok && err != ERROR_TOO_MANY_OPEN_FILES)
                fprintf(stderr, "%s with %d spare descriptors: error %u\n", op_names[op], spare, err);
            TN_CHILD_CHECK(ok || err == ERROR_TOO_MANY_OPEN_FILES);
            TN_CHILD_CHECK(!ok || first_success >= 0 || spare > 0); /* none spare never works */
            if (ok && first_success < 0)
                first_success = spare;
            /* Nothing half-made, the pool exact. */
            uint64_t used = 0;
            TN_CHILD_CHECK(iwin32PoolInfo(NULL, &used));
            if (strcmp(tc_listing(arg), expected) != 0 || used != 65536)
                fprintf(stderr, "after %s with %d spare: [%s], pool %llu\n", op_names[op], spare,
                        tc_listing(arg), (unsigned long long)used);
            TN_CHILD_CHECK(strcmp(tc_listing(arg), expected) == 0 && used == 65536);
        }
        printf("%-26s fails with ERROR_TOO_MANY_OPEN_FILES below %d spare descriptors\n", op_names[op],
               first_success);
        TN_CHILD_CHECK(first_success > 0);
    }
    close(holder_done);
    int status;
    TN_CHILD_CHECK(waitpid(holder, &status, 0) == holder && tn_exited_ok(status));
    TN_CHILD_CHECK(strcmp(tc_listing(arg), ".node") == 0);
    return 0;
}

static void test_nofile_create_and_open(void **state)
{
    (void)state;
    char node[800];
    tc_run(nofile_objects_body, base_path(node, "nofile"));
}

/* Issue 11.5: a repeated Open (or Create) of shared memory this process
 * holds maps it through the description its record keeps (object.h:
 * iw_object_map): no descriptor, so it works with none to spare.  It used
 * to open the file again by name for every mmap, and failed with
 * ERROR_TOO_MANY_OPEN_FILES. */
static int nofile_open_held_body(void *arg)
{
    tc_use_node(arg);
    void *first, *second, *p = NULL;
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 8192, "nf-own", &first);
    TN_CHILD_CHECK(h != NULL);
    HANDLE again = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "nf-own", &second);
    TN_CHILD_CHECK(again != NULL && RtUnmapSharedMemory(second) && CloseHandle(again));
    ((volatile char *)first)[8191] = 42;
    struct fd_fill fill;
    fill_fds(&fill, 0);
    HANDLE opened = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "nf-own", &p);
    DWORD open_err = GetLastError();
    void *q = NULL;
    HANDLE created = RtCreateSharedMemory(PAGE_READWRITE, 0, 8192, "nf-own", &q);
    DWORD create_err = GetLastError();
    free_fds(&fill);
    if (opened == NULL || created == NULL)
        fprintf(stderr, "with no descriptor to spare: open error %u, create error %u\n", open_err, create_err);
    TN_CHILD_CHECK(opened != NULL && created != NULL && create_err == ERROR_ALREADY_EXISTS);
    TN_CHILD_CHECK(p != first && q != first && ((volatile char *)p)[8191] == 42 && ((volatile char *)q)[8191] == 42);
    TN_CHILD_CHECK(RtUnmapSharedMemory(p) && CloseHandle(opened) && RtUnmapSharedMemory(q) && CloseHandle(created));
    TN_CHILD_CHECK(RtUnmapSharedMemory(first) && CloseHandle(h));
    TN_CHILD_CHECK(strcmp(tc_listing(arg), ".node") == 0);
    return 0;
}

static void test_nofile_open_held(void **state)
{
    (void)state;
    char node[800];
    tc_run(nofile_open_held_body, base_path(node, "nofile-held"));
}

/* A recount that can't open an object's file (out of descriptors) fails
 * with ERROR_TOO_MANY_OPEN_FILES instead of counting too little: a short
 * count would lower the pool's word and let a later Create over-commit. */
static int nofile_recount_body(void *arg)
{
    tc_use_node(arg);
    setenv("IWIN32_POOL_MB", "4", 1);
    void *p, *q;
    HANDLE big = RtCreateSharedMemory(PAGE_READWRITE, 0, 3u << 20, "nf-big", &p);
    TN_CHILD_CHECK(big != NULL);
    /* A recount needs two descriptors: the directory's and one object
     * file's at a time.  One spare: it cannot open the object's file. */
    struct fd_fill fill;
    fill_fds(&fill, 1);
    uint64_t size = 0, used = 0;
    BOOLEAN ok = iwin32PoolInfo(&size, &used);
    DWORD err = GetLastError();
    free_fds(&fill);
    if (ok || err != ERROR_TOO_MANY_OPEN_FILES)
        fprintf(stderr, "recount with one spare descriptor: %s, error %u, used %llu\n", ok ? "succeeded" : "failed",
                (unsigned)err, (unsigned long long)used);
    TN_CHILD_CHECK(!ok && err == ERROR_TOO_MANY_OPEN_FILES);
    /* Two spare: it counts exactly. */
    fill_fds(&fill, 2);
    used = 0;
    ok = iwin32PoolInfo(&size, &used);
    err = GetLastError();
    free_fds(&fill);
    if (!ok || used != 3u << 20)
        fprintf(stderr, "recount with two spare descriptors: %s, error %u, used %llu\n", ok ? "succeeded" : "failed",
                (unsigned)err, (unsigned long long)used);
    TN_CHILD_CHECK(ok && used == 3u << 20);
    HANDLE second = RtCreateSharedMemory(PAGE_READWRITE, 0, 3u << 20, "nf-big2", &q);
    TN_CHILD_CHECK(second == NULL && GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
    TN_CHILD_CHECK(iwin32PoolInfo(&size, &used) && used == 3u << 20);
    TN_CHILD_CHECK(RtUnmapSharedMemory(p) && CloseHandle(big));
    return 0;
}

static void test_nofile_recount(void **state)
{
    (void)state;
    char node[800];
    tc_run(nofile_recount_body, base_path(node, "nofile-recount"));
}

/* The node itself opened with too few descriptors: the call fails, nothing
 * is left half-made, and the next call (descriptors back) opens it. */
static int nofile_first_call_body(void *arg)
{
    const char *node = arg;
    tc_use_node(node);
    int first_success = -1;
    for (int spare = 0; spare <= 5 && first_success < 0; spare++) {
        struct fd_fill fill;
        fill_fds(&fill, spare);
        SetLastError(SENTINEL);
        HANDLE h = RtCreateEvent(NULL, TRUE, FALSE, "first");
        DWORD err = GetLastError();
        free_fds(&fill);
        if (h != NULL) {
            first_success = spare;
            TN_CHILD_CHECK(CloseHandle(h));
        } else {
            if (err != ERROR_TOO_MANY_OPEN_FILES)
                fprintf(stderr, "first call with %d spare descriptors: error %u\n", spare, err);
            TN_CHILD_CHECK(err == ERROR_TOO_MANY_OPEN_FILES);
            const char *list = tc_listing(node);
            TN_CHILD_CHECK(strcmp(list, "") == 0 || strcmp(list, ".node") == 0);
        }
    }
    printf("a first call with %d spare descriptors works\n", first_success);
    TN_CHILD_CHECK(first_success > 0);
    TN_CHILD_CHECK(strcmp(tc_listing(node), ".node") == 0);
    return 0;
}

/* One child per number of spare descriptors, each on a node of its own that
 * does not exist yet, and a last one with descriptors to spare. */
static int nofile_fresh_node_body(void *arg)
{
    const int *spare = arg;
    char node[800];
    snprintf(node, sizeof node, "%s/fresh-%d", tn_base(), *spare);
    tc_use_node(node);
    struct fd_fill fill;
    fill_fds(&fill, *spare);
    SetLastError(SENTINEL);
    HANDLE h = RtCreateEvent(NULL, TRUE, FALSE, "first");
    DWORD err = GetLastError();
    free_fds(&fill);
    TN_CHILD_CHECK(h != NULL || err == ERROR_TOO_MANY_OPEN_FILES);
    const char *list = tc_listing(node);
    TN_CHILD_CHECK(h != NULL ? strcmp(list, ".node|n-first") == 0
                             : (strcmp(list, "") == 0 || strcmp(list, ".node") == 0));
    if (h == NULL) /* not for good: the next call opens the node */
        h = RtCreateEvent(NULL, TRUE, FALSE, "first");
    TN_CHILD_CHECK(h != NULL && CloseHandle(h));
    TN_CHILD_CHECK(strcmp(tc_listing(node), ".node") == 0);
    return 0;
}

static void test_nofile_opening_the_node(void **state)
{
    (void)state;
    for (int spare = 0; spare <= 4; spare++)
        tc_run(nofile_fresh_node_body, &spare);
    char node[800];
    tc_run(nofile_first_call_body, base_path(node, "nofile-first"));
}

/* fork at the descriptor limit (issue 9.3).  A child needs a description of
 * its own per object (records.c); 600 objects under a soft limit of 1024
 * leave no room for them.  Whoever closes first, nothing the other still
 * holds may be destroyed: not when the soft limit can be raised for the
 * fork (hard limit above it), nor when it can't (hard limit 1024: the
 * child then shares some descriptions with its parent). */
enum { FORK_OBJECTS = 600 };

struct fork_case {
    const char *node;
    rlim_t hard;
    bool parent_first;          /* else the child closes first */
};

/* Objects of ours still in the node directory, by name. */
static int fork_objects_named(const char *node)
{
    DIR *dir = opendir(node);
    TN_CHILD_CHECK(dir != NULL);
    int n = 0;
    for (struct dirent *d; (d = readdir(dir)) != NULL;)
        n += strncmp(d->d_name, "n-fk-", 5) == 0;
    closedir(dir);
    return n;
}

static void close_all(HANDLE *h)
{
    for (int i = 0; i < FORK_OBJECTS; i++)
        TN_CHILD_CHECK(CloseHandle(h[i]));
}

static int fork_at_limit_body(void *arg)
{
    const struct fork_case *c = arg;
    char node[800];
    base_path(node, c->node);
    tc_use_node(node);
    struct rlimit rl;
    TN_CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rl.rlim_cur = 1024;
    if (c->hard < rl.rlim_max)
        rl.rlim_max = c->hard;
    TN_CHILD_CHECK(rl.rlim_max >= 1024 && setrlimit(RLIMIT_NOFILE, &rl) == 0);
    HANDLE h[FORK_OBJECTS];
    for (int i = 0; i < FORK_OBJECTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "fk-%d", i);
        h[i] = RtCreateEvent(NULL, TRUE, TRUE, name);
        TN_CHILD_CHECK(h[i] != NULL);
    }
    int go[2];
    TN_CHILD_CHECK(pipe2(go, O_CLOEXEC) == 0);
    pid_t pid = fork();
    TN_CHILD_CHECK(pid >= 0);
    bool first = (pid == 0) != c->parent_first; /* this process closes first */
    if (first) {
        close_all(h);
        TN_CHILD_CHECK(write(go[1], "x", 1) == 1);
        if (pid == 0)
            _exit(0);
        TN_CHILD_CHECK(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
        return 0;
    }
    char b;
    TN_CHILD_CHECK(read(go[0], &b, 1) == 1);
    /* The other process let go of everything: this one still holds all. */
    int named = fork_objects_named(node);
    int alive = 0;
    for (int i = 0; i < FORK_OBJECTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "fk-%d", i);
        /* A Create of a destroyed name would make a fresh, unsignalled one. */
        HANDLE again = RtCreateEvent(NULL, TRUE, FALSE, name);
        TN_CHILD_CHECK(again != NULL);
        if (GetLastError() == ERROR_ALREADY_EXISTS && RtWaitForSingleObject(again, 0) == WAIT_OBJECT_0)
            alive++;
        TN_CHILD_CHECK(CloseHandle(again));
    }
    printf("fork at RLIMIT_NOFILE 1024/%llu, %s closes first: %d of %d objects named, %d alive\n",
           (unsigned long long)rl.rlim_max, c->parent_first ? "parent" : "child", named, FORK_OBJECTS, alive);
    fflush(stdout);
    TN_CHILD_CHECK(named == FORK_OBJECTS && alive == FORK_OBJECTS);
    close_all(h);
    if (pid != 0)
        TN_CHILD_CHECK(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    else
        _exit(0);
    /* Nothing left once both let go (what a shared description leaves is
     * stale, removed by the next recount). */
    uint64_t size, used;
    TN_CHILD_CHECK(iwin32PoolInfo(&size, &used) && used == 0);
    TN_CHILD_CHECK(strcmp(tc_listing(node), ".node") == 0);
    return 0;
}

static void test_fork_at_nofile_limit(void **state)
{
    (void)state;
    const struct fork_case cases[] = {
        {"fork-raised-1", RLIM_INFINITY, true},
        {"fork-raised-2", RLIM_INFINITY, false},
        {"fork-hard-1", 1024, true},
        {"fork-hard-2", 1024, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        tc_run(fork_at_limit_body, (void *)&cases[i]);
}

/* fork with every descriptor under the soft limit in use, the hard limit
 * above it: the child must still be a member (members.c) - without a slot
 * it marks the node blind, and a child that dies so leaves it blind for
 * good (every refusal of a full pool recounts).  The soft limit is raised
 * for fork (records.c) before the child's slot is claimed. */
static int fork_at_soft_limit_body(void *arg)
{
    tc_use_node(arg);
    struct rlimit rl;
    TN_CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max >= 128);
    rl.rlim_cur = 64;
    TN_CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    void *p;
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "sl-held", &p);
    TN_CHILD_CHECK(h != NULL && tn_ofd_locks(".node", "WRITE") /* its member slot: members.c */ == 1);
    int fds[64], n = 0, fd;
    while ((fd = dup(0)) >= 0)
        fds[n++] = fd;
    TN_CHILD_CHECK(errno == EMFILE);
    pid_t pid = fork();
    TN_CHILD_CHECK(pid >= 0);
    while (n > 0)
        close(fds[--n]);
    if (pid == 0) {
        int locks = tn_ofd_locks(".node", "WRITE");
        printf("child forked at its soft limit: %d member lock(s)\n", locks);
        fflush(stdout);
        _exit(locks == 1 ? 0 : 1);
    }
    TN_CHILD_CHECK(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    TN_CHILD_CHECK(RtUnmapSharedMemory(p) && CloseHandle(h));
    return 0;
}

static void test_fork_at_soft_limit_is_a_member(void **state)
{
    (void)state;
    char node[800];
    tc_run(fork_at_soft_limit_body, base_path(node, "fork-soft"));
}

int main(int argc, char **argv)
{
    tn_setup("limits");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_nofile_create_and_open, tn_teardown),
        cmocka_unit_test_teardown(test_nofile_opening_the_node, tn_teardown),
        cmocka_unit_test_teardown(test_nofile_open_held, tn_teardown),
        cmocka_unit_test_teardown(test_nofile_recount, tn_teardown),
        cmocka_unit_test_teardown(test_fork_at_nofile_limit, tn_teardown),
        cmocka_unit_test_teardown(test_fork_at_soft_limit_is_a_member, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
