/*
 * Issue 4.6: the limits on memory and handles.  With RLIMIT_MEMLOCK 0 and
 * no CAP_IPC_LOCK, Create still works and the memory is still populated, and
 * an unmap keeps no spare mapping (shm.c), nor with CAP_IPC_LOCK held in a
 * user namespace of its own only (the limit still counts).  A full tmpfs is
 * ERROR_NOT_ENOUGH_MEMORY for every kind of object, never a SIGBUS, nothing
 * half-made.  A full handle table is ERROR_NOT_ENOUGH_MEMORY
 * (iw_object_handle) and the object is not left held.  RLIMIT_NOFILE:
 * test_limits.c.
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
    TN_CHILD_CHECK(RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, tc_hashed_name(), &p) == NULL);
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
    tn_setup("limits_memory");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_memlock_zero, tn_teardown),
        cmocka_unit_test_teardown(test_memlock_user_namespace, tn_teardown),
        cmocka_unit_test_teardown(test_full_tmpfs, tn_teardown),
        cmocka_unit_test_teardown(test_full_handle_table, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
