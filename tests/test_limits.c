/*
 * Issue 4.6: resource limits.  At RLIMIT_NOFILE a Create or Open fails with
 * ERROR_TOO_MANY_OPEN_FILES, whichever descriptor it runs out at, and leaves
 * no file behind and the pool exact; a node that could not be opened for
 * want of descriptors opens at the next call.  With RLIMIT_MEMLOCK 0 and no
 * CAP_IPC_LOCK, Create still works and the memory is still populated, and
 * an unmap keeps no spare mapping (shm.c), nor with CAP_IPC_LOCK held in
 * a user namespace of its own only (the limit still counts).  A full tmpfs is
 * ERROR_NOT_ENOUGH_MEMORY for every kind of object, never a SIGBUS,
 * nothing half-made.  fork at the descriptor limit gives the child
 * every object (issue 9.3).  A full handle table is ERROR_NOT_ENOUGH_MEMORY
 * (iw_object_handle) and the object is not left held.
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

/* A name long enough to be stored under its hash (name.h). */
static const char *hashed_name(void)
{
    static char name[201];
    memset(name, ' ', 200);
    return name;
}

/* Runs op; true if it worked (and then lets go of what it made). */
static bool try_op(enum op op, DWORD *err)
{
    void *p = NULL;
    HANDLE h = NULL;
    SetLastError(SENTINEL);
    switch (op) {
    case CREATE_SHM: h = RtCreateSharedMemory(PAGE_READWRITE, 0, 65536, "nf-new", &p); break;
    case CREATE_HASHED_SHM: h = RtCreateSharedMemory(PAGE_READWRITE, 0, 65536, hashed_name(), &p); break;
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

/* ---- RLIMIT_MEMLOCK ------------------------------------------------------------- */

/* Not instrumented: a sanitizer's shadow memory must not fault in here. */
__attribute__((noinline, no_sanitize_address)) static void touch_pages(volatile unsigned char *p, size_t len,
                                                                      size_t page)
{
    for (size_t i = 0; i < len; i += page)
        p[i] = (unsigned char)(p[i] + 1);
}

static long faults_touching(volatile unsigned char *p, size_t len)
{
    size_t page = tn_page();
    long before = tn_minor_faults();
    touch_pages(p, len, page);
    return tn_minor_faults() - before;
}

static int memlock_body(void *arg)
{
    const char *node = arg;
    if (geteuid() == 0) /* root may lock whatever the limit (CAP_IPC_LOCK) */
        tc_become(TC_NOBODY, TC_NOGROUP, NULL, 0);
    struct rlimit none = {0, 0};
    TN_CHILD_CHECK(setrlimit(RLIMIT_MEMLOCK, &none) == 0);
    /* The control: this process can lock nothing (a raw system call:
     * ASan's mlock pretends to work). */
    TN_CHILD_CHECK(syscall(SYS_mlock, &none, 1) != 0);
    tc_use_node(node);
    static unsigned char warm[1 << 16];
    faults_touching(warm, sizeof warm);
    faults_touching(warm, sizeof warm);
    const size_t mib = 1 << 20;
    void *a = NULL, *b = NULL;
    SetLastError(SENTINEL);
    HANDLE ha = RtCreateSharedMemory(PAGE_READWRITE, 0, (DWORD)mib, "memlock", &a);
    TN_CHILD_CHECK(ha != NULL && GetLastError() == 0);
    long fa = faults_touching(a, mib);
    HANDLE hb = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "memlock", &b);
    TN_CHILD_CHECK(hb != NULL);
    long fb = faults_touching(b, mib);
    void *anon = mmap(NULL, mib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    TN_CHILD_CHECK(anon != MAP_FAILED);
    long fcontrol = faults_touching(anon, mib);
    printf("RLIMIT_MEMLOCK 0: VmLck %ld kB; minor faults touching 1 MiB: create %ld, open %ld, "
           "control (plain mmap) %ld\n", tn_locked_kb(), fa, fb, fcontrol);
    TN_CHILD_CHECK(fcontrol >= 16 && fa == 0 && fb == 0);
    TN_CHILD_CHECK(tn_locked_kb() == 0);
    /* Locking is limited: an unmap keeps no spare (shm.c), even of an
     * object mapped twice and still held. */
    TN_CHILD_CHECK(RtUnmapSharedMemory(a) && RtUnmapSharedMemory(b));
    TN_CHILD_CHECK(tn_is_unmapped(a, mib) && tn_is_unmapped(b, mib));
    TN_CHILD_CHECK(CloseHandle(ha) && CloseHandle(hb));
    return 0;
}

static void test_memlock_zero(void **state)
{
    (void)state;
    char home[700], node[800];
    base_path(home, "memlock");
    snprintf(node, sizeof node, "%s/node", home);
    assert_int_equal(mkdir(home, 0700), 0);
    if (geteuid() == 0) {
        tc_open_base();
        assert_int_equal(chown(home, TC_NOBODY, TC_NOGROUP), 0);
    }
    tc_run(memlock_body, node);
}

/* A user namespace gives its first process every capability, CAP_IPC_LOCK
 * too, in that namespace only: the kernel counts locked memory against
 * RLIMIT_MEMLOCK unless the capability is held in the initial namespace.
 * Locking is limited there, so an unmap keeps no spare (shm.c): a kept one
 * would stay locked and refuse the application's own mlock. */
static bool write_proc(const char *file, const char *text)
{
    FILE *f = fopen(file, "w");
    if (f == NULL)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static int memlock_userns_body(void *arg)
{
    const size_t mib = 1 << 20;
    struct rlimit three = {3 * mib, 3 * mib};
    TN_CHILD_CHECK(setrlimit(RLIMIT_MEMLOCK, &three) == 0);
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER) != 0) {
        fprintf(stderr, "no user namespace here (%s): skipped\n", strerror(errno));
        return TC_SKIP;
    }
    /* Where user namespaces are restricted (an LSM), the maps can't be
     * written or the capabilities are not given: nothing to test. */
    char uid_map[64], gid_map[64];
    snprintf(uid_map, sizeof uid_map, "0 %u 1", (unsigned)uid);
    snprintf(gid_map, sizeof gid_map, "0 %u 1", (unsigned)gid);
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3] = {0};
    if (!write_proc("/proc/self/setgroups", "deny") || !write_proc("/proc/self/uid_map", uid_map) ||
        !write_proc("/proc/self/gid_map", gid_map) || syscall(SYS_capget, &hdr, caps) != 0 ||
        !(caps[0].effective & (1u << CAP_IPC_LOCK))) {
        fprintf(stderr, "a user namespace without its capabilities here: skipped\n");
        return TC_SKIP;
    }
    /* The control: CAP_IPC_LOCK effective, yet 4 MiB can't be locked (a
     * raw system call: ASan's mlock pretends to work). */
    void *anon = mmap(NULL, 4 * mib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    TN_CHILD_CHECK(anon != MAP_FAILED && syscall(SYS_mlock, anon, 4 * mib) != 0);
    tc_use_node(arg);
    void *a = NULL, *b = NULL;
    HANDLE ha = RtCreateSharedMemory(PAGE_READWRITE, 0, (DWORD)mib, "memlock-userns", &a);
    HANDLE hb = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "memlock-userns", &b);
    TN_CHILD_CHECK(ha != NULL && hb != NULL);
    long both = tn_locked_kb();
    TN_CHILD_CHECK(RtUnmapSharedMemory(b));
    long one = tn_locked_kb();
    long locked = syscall(SYS_mlock, anon, mib);
    printf("user namespace, RLIMIT_MEMLOCK 3 MiB: VmLck %ld kB with two mappings, %ld kB after one "
           "unmap; the application's mlock of 1 MiB then: %s\n", both, one, locked == 0 ? "locked" : "refused");
    fflush(stdout);
    TN_CHILD_CHECK(tn_is_unmapped(b, mib));
    TN_CHILD_CHECK(locked == 0);
    TN_CHILD_CHECK(RtUnmapSharedMemory(a) && CloseHandle(ha) && CloseHandle(hb));
    return 0;
}

static void test_memlock_user_namespace(void **state)
{
    (void)state;
    char node[800];
    tc_run(memlock_userns_body, base_path(node, "userns"));
}

/* ---- a full tmpfs ----------------------------------------------------------------- */

/* A node on a 1 MiB tmpfs of a private mount namespace (gone with the
 * child), under a 4 MiB pool: the tmpfs, not the pool, is what runs out. */
static int full_tmpfs_body(void *arg)
{
    const char *mnt = arg;
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=0700") != 0) {
        fprintf(stderr, "cannot mount a tmpfs here (%s): skipped\n", strerror(errno));
        return TC_SKIP;
    }
    TN_CHILD_CHECK(setenv("IWIN32_POOL_MB", "4", 1) == 0);
    /* A second node, to be made once the tmpfs is full: its directory made
     * now while one fits, its process forked now before this one opens its
     * node (a forked child would inherit that). */
    char node2[800];
    snprintf(node2, sizeof node2, "%s/node2", mnt);
    TN_CHILD_CHECK(mkdir(node2, 0700) == 0);
    int full[2];
    TN_CHILD_CHECK(pipe(full) == 0);
    pid_t pid = fork();
    TN_CHILD_CHECK(pid >= 0);
    if (pid == 0) {
        close(full[1]);
        TN_CHILD_CHECK(tn_recv_byte(full[0]));
        tc_use_node(node2);
        SetLastError(0);
        TN_CHILD_CHECK(RtCreateEvent(NULL, FALSE, FALSE, "ev") == NULL);
        TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
        _exit(0);
    }
    close(full[0]);
    char node[800];
    snprintf(node, sizeof node, "%s/node", mnt);
    tc_use_node(node);
    void *p = NULL;
    uint64_t used = 1;
    SetLastError(0);
    TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, 2 << 20, "big", &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
    TN_CHILD_CHECK(strcmp(tc_listing(node), ".node") == 0);
    TN_CHILD_CHECK(iwin32PoolInfo(NULL, &used) && used == 0);

    /* Fill the tmpfs exactly, with an object that fits. */
    struct statvfs vfs;
    TN_CHILD_CHECK(statvfs(mnt, &vfs) == 0);
    DWORD room = (DWORD)(vfs.f_bavail * vfs.f_bsize);
    void *fill = NULL;
    HANDLE hfill = RtCreateSharedMemory(PAGE_READWRITE, 0, room, "fill", &fill);
    TN_CHILD_CHECK(hfill != NULL);
    TN_CHILD_CHECK(statvfs(mnt, &vfs) == 0 && vfs.f_bavail == 0);
    memset(fill, 0x5a, room); /* its pages exist: no SIGBUS */

    /* Every kind of object now fails, cleanly. */
    SetLastError(0);
    TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "more", &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
    TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, NULL, &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
    TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, hashed_name(), &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
    TN_CHILD_CHECK(RtCreateEvent(NULL, FALSE, FALSE, "ev") == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
    TN_CHILD_CHECK(RtCreateMutex(NULL, TRUE, "mutex") == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
    TN_CHILD_CHECK(RtCreateSemaphore(NULL, 1, 1, "sem") == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
    TN_CHILD_CHECK(strcmp(tc_listing(node), ".node|n-fill") == 0);
    TN_CHILD_CHECK(iwin32PoolInfo(NULL, &used) && used == room);

    /* The second node on the full tmpfs: its ".node" cannot be written. */
    tn_send_byte(full[1]);
    int status;
    TN_CHILD_CHECK(waitpid(pid, &status, 0) == pid && tn_exited_ok(status));
    struct stat st;
    TN_CHILD_CHECK(stat(node2, &st) == 0 && strcmp(tc_listing(node2), "") == 0);

    /* The existing object still opens (its pages exist); freed, room again. */
    void *again = NULL;
    HANDLE hagain = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "fill", &again);
    TN_CHILD_CHECK(hagain != NULL && ((unsigned char *)again)[room - 1] == 0x5a);
    TN_CHILD_CHECK(RtUnmapSharedMemory(again) && CloseHandle(hagain));
    TN_CHILD_CHECK(RtUnmapSharedMemory(fill) && CloseHandle(hfill));
    HANDLE hmore = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "more", &p);
    TN_CHILD_CHECK(hmore != NULL && RtUnmapSharedMemory(p) && CloseHandle(hmore));
    HANDLE hev = RtCreateEvent(NULL, FALSE, FALSE, "ev");
    TN_CHILD_CHECK(hev != NULL && CloseHandle(hev));
    TN_CHILD_CHECK(strcmp(tc_listing(node), ".node") == 0);
    TN_CHILD_CHECK(umount2(mnt, MNT_DETACH) == 0);
    return 0;
}

static void test_full_tmpfs(void **state)
{
    (void)state;
    tc_require_root("cannot mount a tmpfs");
    char mnt[700];
    assert_int_equal(mkdir(base_path(mnt, "small"), 0700), 0);
    tc_run(full_tmpfs_body, mnt);
}

/* ---- a full handle table ----------------------------------------------------------- */

/* Regions of /proc/self/maps that map file. */
static int regions_of(const char *file)
{
    FILE *f = fopen("/proc/self/maps", "r");
    TN_CHILD_CHECK(f != NULL);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, file) != NULL;
    fclose(f);
    return n;
}

static int handle_table_body(void *arg)
{
    const char *node = arg;
    tc_use_node(node);
    HANDLE first = RtCreateEvent(NULL, TRUE, FALSE, "ht");
    TN_CHILD_CHECK(first != NULL);
    /* Shared memory held and mapped twice, one mapping unmapped: an unmap
     * may keep it as the next Open's (shm.c). */
    unsigned char *held, *spare;
    HANDLE hheld = RtCreateSharedMemory(PAGE_READWRITE, 0, 65536, "ht-spare", (void **)&held);
    HANDLE hspare = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "ht-spare", (void **)&spare);
    TN_CHILD_CHECK(hheld != NULL && hspare != NULL && RtUnmapSharedMemory(spare));
    enum { CAP = 1 << 22 };
    HANDLE *handles = malloc(CAP * sizeof *handles);
    TN_CHILD_CHECK(handles != NULL);
    size_t n = 0;
    SetLastError(0);
    while (n < CAP && (handles[n] = RtOpenEvent(0, FALSE, "ht")) != NULL)
        n++;
    printf("the handle table is full after %zu handles\n", n + 1);
    TN_CHILD_CHECK(n < CAP && n >= 1 << 16);
    TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);

    /* New objects: refused, and not left behind (nor mapped, nor counted). */
    void *p = NULL;
    SetLastError(0);
    TN_CHILD_CHECK(RtCreateEvent(NULL, FALSE, FALSE, "ht-new") == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
    TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, 65536, "ht-shm", &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
    TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, 65536, NULL, &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
    TN_CHILD_CHECK(strcmp(tc_listing(node), ".node|n-ht|n-ht-spare") == 0);
    TN_CHILD_CHECK(regions_of("/n-ht-shm") == 0 && regions_of("/u-") == 0);
    uint64_t used = 1;
    TN_CHILD_CHECK(iwin32PoolInfo(NULL, &used) && used == 65536);
    /* A held one: refused too, no mapping left behind, its spare (if one
     * was kept) kept, its memory left as it was. */
    held[1] = 1;
    for (int create = 0; create < 2; create++) {
        void *again = NULL;
        SetLastError(0);
        TN_CHILD_CHECK((create ? RtCreateSharedMemory(PAGE_READWRITE, 0, 65536, "ht-spare", &again)
                               : RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "ht-spare", &again)) == NULL);
        TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY && again == NULL);
        TN_CHILD_CHECK(tn_is_inaccessible(spare, 65536) && held[1] == 1);
        TN_CHILD_CHECK(regions_of("/n-ht-spare") <= 2); /* held, and the spare */
    }
    TN_CHILD_CHECK(iwin32PoolInfo(NULL, &used) && used == 65536);

    /* One slot free: a handle again. */
    TN_CHILD_CHECK(CloseHandle(handles[--n]));
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 65536, "ht-shm", &p);
    TN_CHILD_CHECK(h != NULL && RtUnmapSharedMemory(p) && CloseHandle(h));
    unsigned char *reopened;
    h = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "ht-spare", (void **)&reopened);
    TN_CHILD_CHECK(h != NULL && reopened[1] == 1 && RtUnmapSharedMemory(reopened) && CloseHandle(h));
    TN_CHILD_CHECK(CloseHandle(hspare) && RtUnmapSharedMemory(held) && CloseHandle(hheld));
    TN_CHILD_CHECK(regions_of("/n-ht-spare") == 0);

    /* Every handle closed: the object is gone (the refused ones held nothing). */
    while (n > 0)
        TN_CHILD_CHECK(CloseHandle(handles[--n]));
    TN_CHILD_CHECK(CloseHandle(first));
    TN_CHILD_CHECK(strcmp(tc_listing(node), ".node") == 0);
    SetLastError(0);
    TN_CHILD_CHECK(RtOpenEvent(0, FALSE, "ht") == NULL && GetLastError() == ERROR_FILE_NOT_FOUND);
    free(handles);
    return 0;
}

static void test_full_handle_table(void **state)
{
    (void)state;
    char node[800];
    tc_run(handle_table_body, base_path(node, "handles"));
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
        cmocka_unit_test_teardown(test_memlock_zero, tn_teardown),
        cmocka_unit_test_teardown(test_memlock_user_namespace, tn_teardown),
        cmocka_unit_test_teardown(test_full_tmpfs, tn_teardown),
        cmocka_unit_test_teardown(test_full_handle_table, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
