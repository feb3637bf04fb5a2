/*
 * SPEC 3 with the spare mapping (shm.c): RtUnmapSharedMemory of an object
 * the process still holds may keep the mapping, inaccessible, as the next
 * Open's.  What a program sees must not change: an unmapped address can't
 * be read; an Open gives memory that is the object's, populated (no fault)
 * and accessible; nothing of the object stays mapped once the process lets
 * go of it (its last handle), whatever the order of closes and unmaps, in
 * a forked child, or with threads racing.  Where locking is limited (no
 * CAP_IPC_LOCK, a finite RLIMIT_MEMLOCK) nothing is kept: test_limits_memory.c.
 */
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"

#define SIZE (3 * 4096u)

/* Regions of /proc/self/maps that map the object's file (its name in the
 * node is "n-" and the object's name), and of those the inaccessible ones. */
static int regions_of(const char *name, int *inaccessible)
{
    char file[128], line[1024], perms[8];
    snprintf(file, sizeof file, "/n-%s", name);
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    int n = 0;
    *inaccessible = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, file) != NULL && sscanf(line, "%*x-%*x %7s", perms) == 1) {
            n++;
            *inaccessible += strncmp(perms, "---", 3) == 0;
        }
    fclose(f);
    return n;
}

/* Whether this process keeps spares: where locking is unlimited (shm.c;
 * the capability counts in the initial user namespace only). */
static bool keeps_spares(void)
{
    struct rlimit rl;
    struct stat st;
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3] = {0};
    return (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY) ||
           (syscall(SYS_capget, &hdr, caps) == 0 && (caps[0].effective & (1u << CAP_IPC_LOCK)) &&
            stat("/proc/self/ns/user", &st) == 0 && st.st_ino == 0xEFFFFFFDu);
}

static void expect_no_regions(const char *name)
{
    int none;
    assert_int_equal(regions_of(name, &none), 0);
}

static void test_unmapped_then_reused(void **state)
{
    (void)state;
    unsigned char *a, *b, *c, *d;
    HANDLE ha = tn_shm_create("spare-reuse", SIZE, (void **)&a);
    HANDLE hb = tn_shm_open("spare-reuse", (void **)&b);
    HANDLE hc = tn_shm_open("spare-reuse", (void **)&c);
    assert_non_null(ha);
    assert_non_null(hb);
    assert_non_null(hc);
    memset(a, 0x5a, SIZE);

    assert_true(RtUnmapSharedMemory(b));
    assert_true(tn_is_inaccessible(b, SIZE));
    SetLastError(SENTINEL);
    assert_false(RtUnmapSharedMemory(b)); /* kept or not, it is not a mapping of the user's */
    assert_int_equal(GetLastError(), ERROR_INVALID_ADDRESS);
    int none, n = regions_of("spare-reuse", &none);
    printf("after one unmap: %d regions, %d inaccessible\n", n, none);
    assert_int_equal(none, keeps_spares() ? 1 : 0);

    /* The next Open: the object's memory, accessible. */
    HANDLE hd = tn_shm_open("spare-reuse", (void **)&d);
    assert_non_null(hd);
    if (keeps_spares())
        assert_ptr_equal(d, b);
    for (size_t i = 0; i < SIZE; i += 512)
        d[i] = (unsigned char)(d[i] + 1); /* 0x5b */
    assert_int_equal(a[512], 0x5b);
    assert_int_equal(c[SIZE - 512], 0x5b);
    regions_of("spare-reuse", &none);
    assert_int_equal(none, 0);

    /* One spare per object: a second unmap really unmaps. */
    assert_true(RtUnmapSharedMemory(c));
    assert_true(RtUnmapSharedMemory(d));
    assert_true(tn_is_inaccessible(c, SIZE));
    assert_true(tn_is_inaccessible(d, SIZE));
    assert_int_equal(regions_of("spare-reuse", &none), 2); /* a, and one spare at most */
    assert_true(none <= 1);

    assert_true(CloseHandle(hb));
    assert_true(CloseHandle(hc));
    assert_true(CloseHandle(hd));
    tn_shm_release(ha, a);
    assert_true(tn_is_unmapped(b, SIZE));
    assert_true(tn_is_unmapped(c, SIZE));
    assert_true(tn_is_unmapped(d, SIZE));
    expect_no_regions("spare-reuse");
}

/* Not instrumented: a sanitizer's shadow memory must not fault in here. */
__attribute__((noinline, no_sanitize_address)) static void touch_pages(volatile unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i += tn_page())
        p[i] = (unsigned char)(p[i] + 1);
}

/* SPEC 3's real-time line holds for a spare made accessible again: its
 * pages and page-table entries stayed (1 MiB: a fault would show). */
static void test_reused_without_faults(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    skip(); /* TSan's shadow of the touched memory faults in */
#endif
    const size_t mib = 1 << 20;
    static unsigned char warm[1 << 16]; /* what the measurement runs, warm */
    touch_pages(warm, sizeof warm);
    tn_minor_faults();
    tn_minor_faults();
    unsigned char *a, *b, *c;
    HANDLE ha = tn_shm_create("spare-faults", (DWORD)mib, (void **)&a);
    HANDLE hb = tn_shm_open("spare-faults", (void **)&b);
    assert_non_null(ha);
    assert_non_null(hb);
    assert_true(RtUnmapSharedMemory(b));
    HANDLE hc = tn_shm_open("spare-faults", (void **)&c);
    assert_non_null(hc);
    long before = tn_minor_faults();
    touch_pages(c, mib);
    long faults = tn_minor_faults() - before;
    printf("minor faults touching 1 MiB reopened%s: %ld\n", c == b ? " (the spare)" : "", faults);
    assert_int_equal(faults, 0);
    assert_int_equal(a[4096], 1);
    tn_shm_release(hc, c);
    assert_true(CloseHandle(hb));
    tn_shm_release(ha, a);
    expect_no_regions("spare-faults");
}

/* Handles closed before the unmaps, in every order: the spare is kept only
 * while a handle is left, and goes with the last one. */
static void test_close_and_unmap_orders(void **state)
{
    (void)state;
    uint64_t used0 = tn_pool_used();
    unsigned char *a, *b, *c;
    HANDLE ha = tn_shm_create("spare-order", SIZE, (void **)&a);
    HANDLE hb = tn_shm_open("spare-order", (void **)&b);
    HANDLE hc = tn_shm_open("spare-order", (void **)&c);
    assert_non_null(ha);
    assert_non_null(hb);
    assert_non_null(hc);
    assert_true(CloseHandle(hb));
    assert_true(RtUnmapSharedMemory(b)); /* ha and hc are left: may be kept */
    assert_true(tn_is_inaccessible(b, SIZE));
    assert_true(CloseHandle(hc));
    assert_true(CloseHandle(ha)); /* the last handle: the spare goes */
    assert_true(tn_is_unmapped(b, SIZE));
    assert_int_equal(tn_pool_used(), used0);
    /* Mappings outlive the handles (SPEC 3) and unmap for real now. */
    a[0] = 1;
    assert_int_equal(c[0], 1);
    assert_true(RtUnmapSharedMemory(a));
    assert_true(RtUnmapSharedMemory(c));
    assert_true(tn_is_unmapped(a, SIZE));
    assert_true(tn_is_unmapped(c, SIZE));
    expect_no_regions("spare-order");
}

/* A forked child inherits the handles but not the spare (shm.c: fork kept
 * neither its locks nor its pages): its copy is gone at once, its Open maps
 * anew; the parent's spare is its own. */
static void test_fork_child(void **state)
{
    (void)state;
    unsigned char *a, *b;
    HANDLE ha = tn_shm_create("spare-fork", SIZE, (void **)&a);
    HANDLE hb = tn_shm_open("spare-fork", (void **)&b);
    assert_non_null(ha);
    assert_non_null(hb);
    assert_true(RtUnmapSharedMemory(b));
    pid_t pid = fork();
    if (pid == 0) {
        int inaccessible;
        TN_CHILD_CHECK(regions_of("spare-fork", &inaccessible) == 1 && inaccessible == 0);
        unsigned char *c;
        HANDLE hc = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "spare-fork", (void **)&c);
        TN_CHILD_CHECK(hc != NULL);
        c[7] = 0x77;
        int none;
        TN_CHILD_CHECK(RtUnmapSharedMemory(c) && RtUnmapSharedMemory(a));
        TN_CHILD_CHECK(CloseHandle(hc) && CloseHandle(ha) && CloseHandle(hb));
        TN_CHILD_CHECK(regions_of("spare-fork", &none) == 0);
        _exit(0);
    }
    assert_true(pid > 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(a[7], 0x77);
    unsigned char *c;
    HANDLE hc = tn_shm_open("spare-fork", (void **)&c);
    assert_non_null(hc);
    if (keeps_spares())
        assert_ptr_equal(c, b); /* the parent's spare is still its own */
    assert_int_equal(c[7], 0x77);
    tn_shm_release(hc, c);
    assert_true(CloseHandle(hb));
    tn_shm_release(ha, a);
    expect_no_regions("spare-fork");
}

/* SPEC 3's real-time line in a forked child: a fork passes on neither a
 * mapping's locks nor (for a shared file mapping) its page-table entries,
 * so a spare the child inherited is no longer populated; the child's Open
 * must still give it memory that does not fault (1 MiB: 256 faults). */
static void test_fork_child_open_without_faults(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    skip(); /* TSan's shadow of the touched memory faults in */
#endif
    const size_t mib = 1 << 20;
    unsigned char *a, *b;
    HANDLE ha = tn_shm_create("spare-fork-faults", (DWORD)mib, (void **)&a);
    HANDLE hb = tn_shm_open("spare-fork-faults", (void **)&b);
    assert_non_null(ha);
    assert_non_null(hb);
    assert_true(RtUnmapSharedMemory(b));
    pid_t pid = fork();
    if (pid == 0) {
        static unsigned char warm[1 << 16]; /* what the measurement runs, warm */
        touch_pages(warm, sizeof warm);
        unsigned char *c;
        HANDLE hc = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "spare-fork-faults", (void **)&c);
        TN_CHILD_CHECK(hc != NULL);
        tn_minor_faults();
        long before = tn_minor_faults();
        touch_pages(c, mib);
        long faults = tn_minor_faults() - before;
        printf("child: minor faults touching 1 MiB opened: %ld\n", faults);
        fflush(stdout);
        TN_CHILD_CHECK(faults == 0);
        TN_CHILD_CHECK(c[4096] == 1);
        _exit(0);
    }
    assert_true(pid > 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(CloseHandle(hb));
    tn_shm_release(ha, a);
    expect_no_regions("spare-fork-faults");
}

/* Threads opening, checking, unmapping and closing one object while the
 * last handle comes and goes: every mapping they get is the object's, and
 * nothing of it is left mapped at the end. */
#define THREADS 4
#define ROUNDS 400

static void *churn(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (unsigned i = 0; i < ROUNDS; i++) {
        unsigned char *p;
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, SIZE, "spare-race", (void **)&p);
        if (h == NULL)
            return (void *)1;
        p[id] = (unsigned char)i;                   /* this thread's byte, */
        if (p[id] != (unsigned char)i || p[SIZE - 1] != 0) /* and one nobody writes */
            return (void *)2;
        unsigned char *q;
        HANDLE h2 = i % 3 ? RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "spare-race", (void **)&q) : NULL;
        if (h2 != NULL && (q[id] != (unsigned char)i || !RtUnmapSharedMemory(q)))
            return (void *)3;
        if (i % 2 ? !CloseHandle(h) || !RtUnmapSharedMemory(p) : !RtUnmapSharedMemory(p) || !CloseHandle(h))
            return (void *)4;
        if (h2 != NULL && !CloseHandle(h2))
            return (void *)5;
    }
    return NULL;
}

static void test_threads_race(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *r;
        assert_int_equal(pthread_join(t[i], &r), 0);
        assert_null(r);
    }
    expect_no_regions("spare-race");
    void *p;
    SetLastError(SENTINEL);
    assert_null(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "spare-race", &p));
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
}

/* Threads creating, opening, unmapping and closing one name while its
 * object is destroyed and made again, each keeping a few mappings long
 * after their handles are closed (their records live on through them) and
 * unmapping them rounds later: a spare or record of a destroyed object must
 * never serve a later one.  Each thread stamps its own word of each object
 * it maps: a new object (last error 0) must still have a zero there, and
 * every Open must show the stamp of the object its handle is to. */
#define KEPT 3

static void *fresh_churn(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    unsigned char *kept[KEPT] = {NULL};
    for (uint32_t i = 1; i <= ROUNDS; i++) {
        uint32_t stamp = (uint32_t)id << 24 | i;
        unsigned char *p, *q;
        SetLastError(SENTINEL);
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, SIZE, "spare-fresh", (void **)&p);
        if (h == NULL)
            return (void *)1;
        uint32_t *mine = (uint32_t *)(p + 64 * id);
        if (GetLastError() == ERROR_SUCCESS && *mine != 0)
            return (void *)2; /* an old object's memory */
        *mine = stamp;
        for (unsigned k = 0; k <= i % 3; k++) {
            HANDLE hq = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "spare-fresh", (void **)&q);
            if (hq == NULL || *(uint32_t *)(q + 64 * id) != stamp)
                return (void *)3;
            unsigned slot = (i + k) % KEPT;
            if (k == 1) { /* kept past its handle and, maybe, its object */
                if (kept[slot] != NULL && !RtUnmapSharedMemory(kept[slot]))
                    return (void *)4;
                kept[slot] = q;
            } else if (!RtUnmapSharedMemory(q)) {
                return (void *)5;
            }
            if (!CloseHandle(hq))
                return (void *)6;
        }
        if (i % 2 ? !CloseHandle(h) || !RtUnmapSharedMemory(p) : !RtUnmapSharedMemory(p) || !CloseHandle(h))
            return (void *)7;
    }
    for (unsigned slot = 0; slot < KEPT; slot++)
        if (kept[slot] != NULL && !RtUnmapSharedMemory(kept[slot]))
            return (void *)8;
    return NULL;
}

static void test_fresh_objects_race(void **state)
{
    (void)state;
    uint64_t used0 = tn_pool_used();
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, fresh_churn, (void *)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *r;
        assert_int_equal(pthread_join(t[i], &r), 0);
        assert_null(r);
    }
    expect_no_regions("spare-fresh");
    assert_int_equal(tn_pool_used(), used0);
    void *p;
    SetLastError(SENTINEL);
    assert_null(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "spare-fresh", &p));
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
}

int main(int argc, char **argv)
{
    tn_setup("shm-spare");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_unmapped_then_reused, tn_teardown),
        cmocka_unit_test_teardown(test_reused_without_faults, tn_teardown),
        cmocka_unit_test_teardown(test_close_and_unmap_orders, tn_teardown),
        cmocka_unit_test_teardown(test_fork_child, tn_teardown),
        cmocka_unit_test_teardown(test_fork_child_open_without_faults, tn_teardown),
        cmocka_unit_test_teardown(test_threads_race, tn_teardown),
        cmocka_unit_test_teardown(test_fresh_objects_race, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
