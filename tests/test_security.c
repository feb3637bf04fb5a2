/*
 * Issue 4.5: the node's security.  Files keep their mode whatever the umask;
 * a symlink, directory or FIFO planted inside a node under an object's name
 * (or as ".node") is refused, never followed; a user outside the node can
 * neither use it through the library nor open, read, remove or add files;
 * a group-shared node (mode 2770, node.c) is shared by its group's members,
 * both ways, and refused to everyone else and in every other shape.
 *
 * Every library call runs in a child (test_child.h); the cases with other
 * users need root and skip, saying so, without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>
#include <iwin32_inspect.h>

#include "test_child.h"

#define SECRET "TOPSECRET"

static char *base_path(char *buf, const char *leaf) { return tn_path(buf, 700, leaf); }

/* The mode bits (07777) of path, or -1. */
static int mode_of(const char *dir, const char *file)
{
    char path[2048];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return lstat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* ---- modes under any umask ------------------------------------------------- */

static int umask_body(void *arg)
{
    const char *node = arg;
    umask(0277); /* would take the owner's write bit off everything */
    tc_use_node(node);
    void *p = NULL;
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "um-shm", &p);
    TN_CHILD_CHECK(shm != NULL);
    memcpy(p, "x", 1);
    HANDLE ev = RtCreateEvent(NULL, TRUE, FALSE, "um-ev");
    TN_CHILD_CHECK(ev != NULL);
    /* Opened again by name (the mapping is made through a new descriptor). */
    void *q = NULL;
    HANDLE again = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "um-shm", &q);
    TN_CHILD_CHECK(again != NULL && memcmp(q, "x", 1) == 0);
    struct stat st;
    TN_CHILD_CHECK(stat(node, &st) == 0 && (st.st_mode & 07777) == 0700);
    /* The library's mark (mark.h): sticky, and owner-execute for an event. */
    TN_CHILD_CHECK(mode_of(node, ".node") == 01600);
    TN_CHILD_CHECK(mode_of(node, "n-um-shm") == 01600);
    TN_CHILD_CHECK(mode_of(node, "n-um-ev") == 01700);
    return 0;
}

static void test_modes_whatever_the_umask(void **state)
{
    (void)state;
    char home[700], node[800];
    base_path(home, "um");
    snprintf(node, sizeof node, "%s/node", home);
    assert_int_equal(mkdir(home, 0700), 0);
    if (geteuid() != 0) {
        tc_run(umask_body, node);
        return;
    }
    /* As root a file without write permission still opens for writing:
     * the case runs as nobody, for whom a wrong mode would show as a failure. */
    tc_open_base();
    assert_int_equal(chown(home, TC_NOBODY, TC_NOGROUP), 0);
    pid_t pid = tn_fork();
    if (pid == 0) {
        tc_become(TC_NOBODY, TC_NOGROUP, NULL, 0);
        _exit(umask_body(node));
    }
    tc_finish(pid);
}

/* ---- things planted in a node ----------------------------------------------- */

struct planted { char node[800], target[800], absent[800]; };

static int planted_body(void *arg)
{
    const struct planted *pl = arg;
    tc_use_node(pl->node);
    uint64_t size = 0, used = 1;
    TN_CHILD_CHECK(iwin32PoolInfo(&size, &used) && used == 0); /* makes the node */
    char path[900];
    snprintf(path, sizeof path, "%s/n-planted", pl->node);
    TN_CHILD_CHECK(symlink(pl->target, path) == 0);
    snprintf(path, sizeof path, "%s/n-dangling", pl->node);
    TN_CHILD_CHECK(symlink(pl->absent, path) == 0);
    snprintf(path, sizeof path, "%s/n-dir", pl->node);
    TN_CHILD_CHECK(mkdir(path, 0700) == 0);
    /* A FIFO with a reference lock on it, so that it looks held, not stale. */
    snprintf(path, sizeof path, "%s/n-fifo", pl->node);
    TN_CHILD_CHECK(mkfifo(path, 0600) == 0);
    int fifo = open(path, O_RDWR | O_NONBLOCK);
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    TN_CHILD_CHECK(fifo >= 0 && fcntl(fifo, F_OFD_SETLK, &fl) == 0);

    void *p = NULL;
    const char *names[] = {"planted", "dangling", "dir"};
    for (size_t i = 0; i < 3; i++) {
        SetLastError(0);
        TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, names[i], &p) == NULL);
        TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
        TN_CHILD_CHECK(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, names[i], &p) == NULL);
        TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
        TN_CHILD_CHECK(RtCreateEvent(NULL, FALSE, FALSE, names[i]) == NULL);
        TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
        TN_CHILD_CHECK(RtOpenMutex(0, FALSE, names[i]) == NULL);
        TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    }
    TN_CHILD_CHECK(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "fifo", &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    TN_CHILD_CHECK(RtCreateEvent(NULL, FALSE, FALSE, "fifo") == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);

    /* Nothing was made or changed through the links, and the pool is empty. */
    struct stat st;
    TN_CHILD_CHECK(stat(pl->target, &st) == 0 && st.st_size == 5 && (st.st_mode & 07777) == 0640);
    char text[8] = {0};
    int fd = open(pl->target, O_RDONLY);
    TN_CHILD_CHECK(fd >= 0 && read(fd, text, sizeof text) == 5 && memcmp(text, "hello", 5) == 0);
    close(fd);
    TN_CHILD_CHECK(access(pl->absent, F_OK) != 0 && errno == ENOENT);
    snprintf(path, sizeof path, "%s/n-planted", pl->node);
    TN_CHILD_CHECK(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
    TN_CHILD_CHECK(iwin32PoolInfo(&size, &used) && used == 0);
    TN_CHILD_CHECK(tn_count_objects(pl->node) == 4);

    /* The node still works for every other name. */
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "fine", &p);
    TN_CHILD_CHECK(h != NULL && GetLastError() == 0);
    TN_CHILD_CHECK(RtUnmapSharedMemory(p) && CloseHandle(h));
    close(fifo);
    return 0;
}

static void test_planted_inside_node_not_followed(void **state)
{
    (void)state;
    struct planted pl;
    base_path(pl.node, "planted-node");
    base_path(pl.target, "target");
    base_path(pl.absent, "absent");
    int fd = open(pl.target, O_WRONLY | O_CREAT | O_EXCL, 0640);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    close(fd);
    assert_int_equal(chmod(pl.target, 0640), 0);
    tc_run(planted_body, &pl);
}

/* A user's file under an object's name that this user may not open for
 * writing (mode 0400): not the library's (mark.h), so a listing passes it
 * over, a lookup finds no object, and it is left as it was.  A listing
 * used to fail as a whole, ERROR_ACCESS_DENIED: one such file hid every
 * object of the node from iwin32 ls. */
static int unwritable_body(void *arg)
{
    const char *node = arg;
    if (geteuid() == 0) /* root may open any file for writing */
        tc_become(TC_NOBODY, TC_NOGROUP, NULL, 0);
    tc_use_node(node);
    HANDLE live = RtCreateEvent(NULL, FALSE, FALSE, "live");
    TN_CHILD_CHECK(live != NULL);
    char path[900];
    snprintf(path, sizeof path, "%s/n-readme", node);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0400);
    TN_CHILD_CHECK(fd >= 0 && write(fd, "notes", 5) == 5 && close(fd) == 0);
    IWIN32_OBJECT_INFO *o;
    size_t n;
    TN_CHILD_CHECK(iwin32InspectList(IWIN32_INSPECT_IN_FLIGHT, NULL, NULL, &o, &n));
    TN_CHILD_CHECK(n == 1 && strcmp(o[0].name, "live") == 0);
    iwin32InspectFree(o, n);
    TN_CHILD_CHECK(!iwin32InspectObject("readme", 16, &o) && GetLastError() == ERROR_FILE_NOT_FOUND);
    struct stat st;
    TN_CHILD_CHECK(stat(path, &st) == 0 && st.st_size == 5 && (st.st_mode & 07777) == 0400);
    TN_CHILD_CHECK(CloseHandle(live));
    return 0;
}

static void test_unwritable_planted_file_passed_over(void **state)
{
    (void)state;
    char node[800];
    base_path(node, "unwritable-node");
    tc_open_base(); /* nobody reaches the node through the base */
    assert_int_equal(mkdir(node, 0700), 0); /* empty: it becomes a node, nobody's */
    if (geteuid() == 0)
        assert_int_equal(chown(node, TC_NOBODY, TC_NOGROUP), 0);
    tc_run(unwritable_body, node);
}

/* ".node" itself planted as a symlink to a file, or as a directory. */
static int planted_header_body(void *arg)
{
    tc_use_node(arg);
    void *p = NULL;
    SetLastError(0);
    TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "x", &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    TN_CHILD_CHECK(RtCreateEvent(NULL, FALSE, FALSE, "x") == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    TN_CHILD_CHECK(!iwin32PoolInfo(NULL, NULL) && GetLastError() == ERROR_ACCESS_DENIED);
    return 0;
}

static void test_planted_header_refused(void **state)
{
    (void)state;
    char node[800], fake[800], link[900];
    base_path(node, "hdr-link");
    base_path(fake, "fake-header");
    assert_int_equal(mkdir(node, 0700), 0);
    int fd = open(fake, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    snprintf(link, sizeof link, "%s/.node", node);
    assert_int_equal(symlink(fake, link), 0);
    tc_run(planted_header_body, node);
    struct stat st;
    assert_int_equal(stat(fake, &st), 0);
    assert_int_equal(st.st_size, 0); /* nothing written through the link */
    assert_string_equal(tc_listing(node), ".node");

    base_path(node, "hdr-dir");
    assert_int_equal(mkdir(node, 0700), 0);
    snprintf(link, sizeof link, "%s/.node", node);
    assert_int_equal(mkdir(link, 0700), 0);
    tc_run(planted_header_body, node);
    assert_string_equal(tc_listing(node), ".node");
}

/* ---- an object of another state layout (src/object_ops.h) ------------------- */

/* A file whose header names another layout of its type's state - made by a
 * library whose state differs - is not this library's to read: opening or
 * creating its name is ERROR_ACCESS_DENIED, and the file is left alone.
 * (Before the layout was in the header, the Open succeeded and would have
 * read the state with the wrong layout.) */
static int other_layout_body(void *arg)
{
    (void)arg;
    SetLastError(0);
    TN_CHILD_CHECK(RtOpenEvent(0, FALSE, "layout") == NULL && GetLastError() == ERROR_ACCESS_DENIED);
    TN_CHILD_CHECK(RtCreateEvent(NULL, TRUE, FALSE, "layout") == NULL && GetLastError() == ERROR_ACCESS_DENIED);
    return 0;
}

static void test_other_layout_refused(void **state)
{
    (void)state;
    int ready[2], done[2];
    tn_pipe(ready);
    tn_pipe(done);
    pid_t pid = tn_fork();
    if (pid == 0) { /* the holder: the object is alive, so an Open reads its header */
        TN_CHILD_CHECK(RtCreateEvent(NULL, TRUE, FALSE, "layout") != NULL);
        tn_send_byte(ready[1]);
        tn_recv_byte(done[0]);
        _exit(0);
    }
    assert_true(tn_recv_byte(ready[0]));
    char path[800];
    snprintf(path, sizeof path, "%s/n-layout", tn_root());
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint32_t layout, other = 99;
    assert_int_equal(pread(fd, &layout, sizeof layout, 12), (ssize_t)sizeof layout);
    assert_int_equal(layout, 1); /* the event's layout, in the header's fourth word */
    assert_int_equal(pwrite(fd, &other, sizeof other, 12), (ssize_t)sizeof other);
    tc_run(other_layout_body, NULL); /* in a child: this process stays off the node */
    assert_int_equal(pread(fd, &layout, sizeof layout, 12), (ssize_t)sizeof layout);
    assert_int_equal(layout, 99); /* left as it was */
    close(fd);
    tn_send_byte(done[1]);
    assert_true(tn_exited_ok(tn_wait(pid, 5000)));
}

/* ---- another user against our private node ---------------------------------- */

struct owner_run {
    char node[800];
    int to_parent[2], from_parent[2];
};

/* Holds a shared memory object with a secret and an event while the intruder
 * runs, then checks that nothing changed. */
static int owner_body(void *arg)
{
    struct owner_run *run = arg;
    tc_use_node(run->node);
    void *p = NULL;
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, 8192, "secret", &p);
    TN_CHILD_CHECK(shm != NULL);
    memcpy(p, SECRET, sizeof SECRET);
    HANDLE ev = RtCreateEvent(NULL, TRUE, FALSE, "secret.ev");
    TN_CHILD_CHECK(ev != NULL);
    uint64_t used = 0;
    TN_CHILD_CHECK(iwin32PoolInfo(NULL, &used) && used == 8192);
    char before[4096];
    snprintf(before, sizeof before, "%s", tc_listing(run->node));
    tn_send_byte(run->to_parent[1]);
    TN_CHILD_CHECK(tn_recv_byte(run->from_parent[0]));
    TN_CHILD_CHECK(memcmp(p, SECRET, sizeof SECRET) == 0);
    TN_CHILD_CHECK(iwin32PoolInfo(NULL, &used) && used == 8192);
    TN_CHILD_CHECK(strcmp(tc_listing(run->node), before) == 0);
    TN_CHILD_CHECK(RtWaitForSingleObject(ev, 0) == WAIT_TIMEOUT); /* nobody set it */
    TN_CHILD_CHECK(RtUnmapSharedMemory(p) && CloseHandle(shm) && CloseHandle(ev));
    return 0;
}

/* What a user with no business in the node (uid and groups given by the
 * caller) tries, through the library and around it. */
static void expect_locked_out(const char *node)
{
    void *p = NULL;
    SetLastError(0);
    TN_CHILD_CHECK(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "secret", &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, 1 << 20, "intruder", &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, 1 << 20, NULL, &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    TN_CHILD_CHECK(RtOpenEvent(0, FALSE, "secret.ev") == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    TN_CHILD_CHECK(RtCreateSemaphore(NULL, 0, 1, "intruder.sem") == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    TN_CHILD_CHECK(!iwin32PoolInfo(NULL, NULL) && GetLastError() == ERROR_ACCESS_DENIED);

    /* Around the library: the directory cannot even be opened. */
    char path[900];
    DIR *d = opendir(node);
    TN_CHILD_CHECK(d == NULL && errno == EACCES);
    snprintf(path, sizeof path, "%s/n-secret", node);
    TN_CHILD_CHECK(open(path, O_RDONLY) < 0 && errno == EACCES);
    TN_CHILD_CHECK(unlink(path) != 0 && errno == EACCES);
    snprintf(path, sizeof path, "%s/.node", node);
    TN_CHILD_CHECK(open(path, O_RDWR) < 0 && errno == EACCES);
    snprintf(path, sizeof path, "%s/t-intruder", node);
    TN_CHILD_CHECK(open(path, O_RDWR | O_CREAT | O_EXCL, 0666) < 0 && errno == EACCES);
}

static int intruder_body(void *arg)
{
    const char *node = arg;
    tc_become(TC_NOBODY, TC_NOGROUP, NULL, 0);
    tc_use_node(node);
    expect_locked_out(node);
    return 0;
}

static void test_other_user_locked_out(void **state)
{
    (void)state;
    tc_require_root("cannot run a process as another user");
    tc_open_base();
    struct owner_run run;
    base_path(run.node, "private");
    tn_pipe(run.to_parent);
    tn_pipe(run.from_parent);
    pid_t owner = tc_start(owner_body, &run);
    assert_true(tn_recv_byte(run.to_parent[0]));
    tc_run(intruder_body, run.node);
    tn_send_byte(run.from_parent[1]);
    tc_finish(owner);
    assert_string_equal(tc_listing(run.node), ".node");
}

/* ---- a group-shared node ------------------------------------------------------ */

struct shared_run {
    char node[800];
    int a_to_b[2], b_to_a[2], a_to_parent[2], parent_to_a[2];
};

/* One file's owner, group and mode are as a group-shared node makes them. */
static void expect_shared_file(const char *node, const char *file, uid_t owner, int mode)
{
    char path[900];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", node, file);
    TN_CHILD_CHECK(lstat(path, &st) == 0);
    if (st.st_uid != owner || st.st_gid != TC_GROUP || (int)(st.st_mode & 07777) != mode)
        fprintf(stderr, "%s: uid %u gid %u mode %o\n", file, (unsigned)st.st_uid, (unsigned)st.st_gid,
                (unsigned)(st.st_mode & 07777));
    TN_CHILD_CHECK(st.st_uid == owner && st.st_gid == TC_GROUP && (int)(st.st_mode & 07777) == mode);
}

/* The real-time side, as root, the directory's owner. */
static int shared_root_body(void *arg)
{
    struct shared_run *run = arg;
    umask(022); /* the usual umask: would take g+w off */
    tc_use_node(run->node);
    uint32_t *a = NULL, *b = NULL;
    HANDLE ha = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "gs.a", (VOID **)&a);
    TN_CHILD_CHECK(ha != NULL && GetLastError() == 0);
    HANDLE ea = RtCreateEvent(NULL, FALSE, FALSE, "gs.a.ev");
    TN_CHILD_CHECK(ea != NULL && GetLastError() == 0);
    a[0] = 0xA11CE;
    tn_send_byte(run->a_to_b[1]);
    TN_CHILD_CHECK(RtWaitForSingleObject(ea, TN_TIMEOUT_MS) == WAIT_OBJECT_0);
    TN_CHILD_CHECK(a[1] == 0xB0B);
    HANDLE hb = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "gs.b", (VOID **)&b);
    TN_CHILD_CHECK(hb != NULL && b[0] == 0xB0B0);
    HANDLE eb = RtOpenEvent(0, FALSE, "gs.b.ev");
    TN_CHILD_CHECK(eb != NULL);
    b[1] = 0xA;
    TN_CHILD_CHECK(RtSetEvent(eb));
    TN_CHILD_CHECK(tn_recv_byte(run->b_to_a[0])); /* the member is done */
    expect_shared_file(run->node, ".node", 0, 01660);
    expect_shared_file(run->node, "n-gs.a", 0, 01660);
    expect_shared_file(run->node, "n-gs.a.ev", 0, 01760);
    expect_shared_file(run->node, "n-gs.b", TC_NOBODY, 01660);
    expect_shared_file(run->node, "n-gs.b.ev", TC_NOBODY, 01760);
    /* The objects stay held while the parent sends a stranger in. */
    tn_send_byte(run->a_to_parent[1]);
    TN_CHILD_CHECK(tn_recv_byte(run->parent_to_a[0]));
    TN_CHILD_CHECK(a[0] == 0xA11CE && b[1] == 0xA);
    TN_CHILD_CHECK(RtUnmapSharedMemory(a) && RtUnmapSharedMemory(b));
    TN_CHILD_CHECK(CloseHandle(ha) && CloseHandle(hb) && CloseHandle(ea) && CloseHandle(eb));
    return 0;
}

/* The GUI side: another user, in the node's group by a supplementary group. */
static int shared_member_body(void *arg)
{
    struct shared_run *run = arg;
    gid_t group = TC_GROUP;
    tc_become(TC_NOBODY, TC_NOGROUP, &group, 1);
    umask(022);
    tc_use_node(run->node);
    TN_CHILD_CHECK(tn_recv_byte(run->a_to_b[0]));
    uint32_t *a = NULL, *b = NULL;
    HANDLE ha = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "gs.a", (VOID **)&a);
    TN_CHILD_CHECK(ha != NULL && a[0] == 0xA11CE);
    a[1] = 0xB0B;
    HANDLE hb = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "gs.b", (VOID **)&b);
    TN_CHILD_CHECK(hb != NULL && GetLastError() == 0);
    b[0] = 0xB0B0;
    HANDLE eb = RtCreateEvent(NULL, FALSE, FALSE, "gs.b.ev");
    TN_CHILD_CHECK(eb != NULL && GetLastError() == 0);
    HANDLE ea = RtOpenEvent(0, FALSE, "gs.a.ev");
    TN_CHILD_CHECK(ea != NULL);
    TN_CHILD_CHECK(RtSetEvent(ea));
    TN_CHILD_CHECK(RtWaitForSingleObject(eb, TN_TIMEOUT_MS) == WAIT_OBJECT_0);
    TN_CHILD_CHECK(b[1] == 0xA);
    tn_send_byte(run->b_to_a[1]);
    return 0; /* exit drops its handles; the root side still holds both objects */
}

/* A user outside the group, against the shared node while it holds objects. */
static int shared_stranger_body(void *arg)
{
    const char *node = arg;
    tc_become(TC_STRANGER, TC_STRANGER, NULL, 0);
    tc_use_node(node);
    void *p = NULL;
    SetLastError(0);
    TN_CHILD_CHECK(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "gs.a", &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "gs.stranger", &p) == NULL);
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    TN_CHILD_CHECK(!iwin32PoolInfo(NULL, NULL) && GetLastError() == ERROR_ACCESS_DENIED);
    char path[900];
    TN_CHILD_CHECK(opendir(node) == NULL && errno == EACCES);
    snprintf(path, sizeof path, "%s/n-gs.a", node);
    TN_CHILD_CHECK(open(path, O_RDONLY) < 0 && errno == EACCES);
    TN_CHILD_CHECK(unlink(path) != 0 && errno == EACCES);
    return 0;
}

/* Makes base/leaf a directory with that owner, group and mode. */
static void make_dir(char *path, const char *leaf, uid_t uid, gid_t gid, mode_t mode)
{
    base_path(path, leaf);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(chown(path, uid, gid), 0);
    assert_int_equal(chmod(path, mode), 0); /* after chown, which may clear setgid */
}

static void test_group_shared_node(void **state)
{
    (void)state;
    tc_require_root("cannot run processes as other users");
    tc_open_base();
    struct shared_run run;
    make_dir(run.node, "shared", 0, TC_GROUP, 02770);
    tn_pipe(run.a_to_b);
    tn_pipe(run.b_to_a);
    tn_pipe(run.a_to_parent);
    tn_pipe(run.parent_to_a);
    pid_t root_side = tc_start(shared_root_body, &run);
    pid_t member = tc_start(shared_member_body, &run);
    tc_finish(member);
    assert_true(tn_recv_byte(run.a_to_parent[0]));
    tc_run(shared_stranger_body, run.node);
    tn_send_byte(run.parent_to_a[1]);
    tc_finish(root_side);
    assert_string_equal(tc_listing(run.node), ".node"); /* both objects destroyed */
}

/* ---- shapes that are not a node for the caller ---------------------------------- */

struct shape {
    const char *leaf;
    uid_t owner;
    gid_t group;
    mode_t mode;
    uid_t user;                 /* who tries it: that uid, primary group = uid */
    bool in_group;              /* with the node's group as a supplementary group */
    DWORD expect;               /* ERROR_SUCCESS: works, files mode `files` */
    int files;
};

static const struct shape shapes[] = {
    /* Shared, owned by a member: only that member (its owner) may use it -
     * another member could have made it at a path meant to be private. */
    {"member-owned", TC_NOBODY, TC_GROUP, 02770, TC_NOBODY, true, ERROR_SUCCESS, 0660},
    {"member-owned", TC_NOBODY, TC_GROUP, 02770, TC_STRANGER, true, ERROR_ACCESS_DENIED, 0},
    {"member-owned", TC_NOBODY, TC_GROUP, 02770, 0, false, ERROR_ACCESS_DENIED, 0},
    /* Shared by root: any member; not root-owned and shaped otherwise: nobody else. */
    {"root-shared", 0, TC_GROUP, 02770, TC_STRANGER, true, ERROR_SUCCESS, 0660},
    {"root-shared", 0, TC_GROUP, 02770, TC_STRANGER, false, ERROR_ACCESS_DENIED, 0},
    {"no-setgid", 0, TC_GROUP, 0770, 0, false, ERROR_ACCESS_DENIED, 0},
    {"no-setgid", 0, TC_GROUP, 0770, TC_STRANGER, true, ERROR_ACCESS_DENIED, 0},
    {"others-read", 0, TC_GROUP, 02775, TC_STRANGER, true, ERROR_ACCESS_DENIED, 0},
    {"sticky", 0, TC_GROUP, 03770, TC_STRANGER, true, ERROR_ACCESS_DENIED, 0},
    /* One's own directory with group read only is still private. */
    {"own-group-read", TC_STRANGER, TC_GROUP, 0750, TC_STRANGER, false, ERROR_SUCCESS, 0600},
    {"own-group-write", TC_STRANGER, TC_GROUP, 0770, TC_STRANGER, true, ERROR_ACCESS_DENIED, 0},
};

static int shape_body(void *arg)
{
    const struct shape *s = arg;
    char node[800];
    base_path(node, s->leaf);
    gid_t group = s->group;
    tc_become(s->user, s->user == 0 ? 0 : (gid_t)s->user, &group, s->in_group ? 1 : 0);
    tc_use_node(node);
    void *p = NULL;
    SetLastError(SENTINEL);
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "shape", &p);
    if ((h == NULL ? GetLastError() : ERROR_SUCCESS) != s->expect)
        fprintf(stderr, "%s (mode %o) as uid %u%s: error %u\n", s->leaf, (unsigned)s->mode,
                (unsigned)s->user, s->in_group ? " in the group" : "", h ? 0 : GetLastError());
    TN_CHILD_CHECK((h == NULL ? GetLastError() : ERROR_SUCCESS) == s->expect);
    if (h != NULL) {
        TN_CHILD_CHECK(mode_of(node, "n-shape") == (01000 | s->files) && mode_of(node, ".node") == (01000 | s->files));
        TN_CHILD_CHECK(RtUnmapSharedMemory(p) && CloseHandle(h));
    }
    return 0;
}

static void test_node_shapes(void **state)
{
    (void)state;
    tc_require_root("cannot make directories of other users");
    tc_open_base();
    char path[800];
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const struct shape *s = &shapes[i];
        base_path(path, s->leaf);
        if (access(path, F_OK) != 0)
            make_dir(path, s->leaf, s->owner, s->group, s->mode);
        tc_run(shape_body, (void *)s);
        char list[4096];
        tn_list_dir(path, list, sizeof list);
        assert_true(strcmp(list, "") == 0 || strcmp(list, ".node") == 0); /* nothing left */
    }
}

int main(void)
{
    tn_setup("security");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_modes_whatever_the_umask, tn_teardown),
        cmocka_unit_test_teardown(test_planted_inside_node_not_followed, tn_teardown),
        cmocka_unit_test_teardown(test_unwritable_planted_file_passed_over, tn_teardown),
        cmocka_unit_test_teardown(test_planted_header_refused, tn_teardown),
        cmocka_unit_test_teardown(test_other_layout_refused, tn_teardown),
        cmocka_unit_test_teardown(test_other_user_locked_out, tn_teardown),
        cmocka_unit_test_teardown(test_group_shared_node, tn_teardown),
        cmocka_unit_test_teardown(test_node_shapes, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
