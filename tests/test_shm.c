/*
 * SPEC 3: shared memory, as one process sees it - Create/Open results and
 * last errors, parameter errors, unnamed objects, mappings, unmapping, the
 * real-time guarantees (no page faults, locked memory), and "nothing left
 * behind" on every error.  Names (lengths, bytes, case, other types' names):
 * test_shm_names.c; the snapshot and ASSERT_FAILS they share:
 * test_shm_util.h.  Across processes: test_lifetime.c and
 * test_lifetime_destroy.c.  The pool: test_pool.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"
#include "test_shm_util.h"

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* ---- new objects --------------------------------------------------------- */

static void test_create_new(void **state)
{
    (void)state;
    size_t page = tn_page();
    uint64_t used0 = tn_pool_used();
    int objects0 = tn_count_objects(NULL);
    DWORD size = (DWORD)(3 * page + 5);
    void *p = NULL;
    SetLastError(ERROR_ALREADY_EXISTS); /* nonzero before: Create must set 0 itself */
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, size, "shm-new", &p);
    assert_non_null(h);
    assert_int_equal(GetLastError(), ERROR_SUCCESS);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % page, 0);                 /* page-aligned */
    assert_int_equal(tn_region_size(p), 4 * page);            /* maps whole pages */
    assert_true(all_zero(p, 4 * page));                       /* zero-filled, tail too */
    assert_int_equal(tn_pool_used(), used0 + 4 * page);       /* counts whole pages */
    assert_int_equal(tn_count_objects(NULL), objects0 + 1);

    /* The object's size is exactly MaximumSizeLow (what tools report): the
     * file of "shm-new" is "n-shm-new" (name.h). */
    char path[1024];
    snprintf(path, sizeof path, "%s/n-shm-new", tn_root());
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, size);
    assert_int_equal(st.st_mode & 07777, 01600); /* the library's mark (mark.h) */

    memset(p, 0x5A, 4 * page); /* every byte of the mapping is usable */
    tn_shm_release(h, p);
    assert_int_equal(tn_pool_used(), used0);
    assert_int_equal(tn_count_objects(NULL), objects0);
}

static void test_create_existing(void **state)
{
    (void)state;
    size_t page = tn_page();
    uint64_t used0 = tn_pool_used();
    void *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;
    HANDLE h1 = tn_shm_create("shm-existing", (DWORD)(2 * page), &p1);
    assert_non_null(h1);
    assert_int_equal(GetLastError(), 0);
    memset(p1, 0xAB, 2 * page);

    /* A larger size is ignored: a new mapping of the whole existing object. */
    SetLastError(0);
    HANDLE h2 = RtCreateSharedMemory(PAGE_READWRITE, 0, (DWORD)(10 * page), "shm-existing", &p2);
    assert_non_null(h2);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    assert_ptr_not_equal(h2, h1);
    assert_ptr_not_equal(p2, p1);
    assert_int_equal((uintptr_t)p2 % page, 0);
    assert_int_equal(tn_region_size(p2), 2 * page);
    assert_int_equal(((unsigned char *)p2)[2 * page - 1], 0xAB);

    /* So are 0 and a smaller size. */
    HANDLE h3 = tn_shm_create("shm-existing", 0, &p3);
    assert_non_null(h3);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    assert_int_equal(tn_region_size(p3), 2 * page);
    HANDLE h4 = tn_shm_create("shm-existing", 1, &p4);
    assert_non_null(h4);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    assert_int_equal(tn_region_size(p4), 2 * page);

    /* One object, four mappings of the same memory. */
    ((unsigned char *)p4)[page + 7] = 0x11;
    assert_int_equal(((unsigned char *)p1)[page + 7], 0x11);
    assert_int_equal(((unsigned char *)p2)[page + 7], 0x11);
    assert_int_equal(((unsigned char *)p3)[page + 7], 0x11);
    assert_int_equal(tn_pool_used(), used0 + 2 * page); /* counted once */

    tn_shm_release(h1, p1);
    tn_shm_release(h2, p2);
    tn_shm_release(h3, p3);
    /* Still alive through h4. */
    void *q = NULL;
    HANDLE o = tn_shm_open("shm-existing", &q);
    assert_non_null(o);
    assert_int_equal(((unsigned char *)q)[page + 7], 0x11);
    tn_shm_release(o, q);
    tn_shm_release(h4, p4);
    assert_int_equal(tn_pool_used(), used0);
}

static void test_create_after_error_value(void **state)
{
    (void)state;
    void *p = NULL, *q = NULL;
    /* Create explicitly sets 0 for a new object, whatever came before... */
    SetLastError(ERROR_ALREADY_EXISTS);
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 10, "shm-lasterr", &p);
    assert_non_null(h);
    assert_int_equal(GetLastError(), 0);
    /* ...and ERROR_ALREADY_EXISTS for an existing one, whatever came before. */
    SetLastError(0);
    HANDLE h2 = RtCreateSharedMemory(PAGE_READWRITE, 0, 10, "shm-lasterr", &q);
    assert_non_null(h2);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    tn_shm_release(h, p);
    tn_shm_release(h2, q);
}

/* ---- parameter errors: NULL, the error, nothing left behind -------------- */

static void test_invalid_parameters(void **state)
{
    (void)state;
    void *p = NULL;
    /* MaximumSizeHigh != 0 */
    ASSERT_FAILS(RtCreateSharedMemory(PAGE_READWRITE, 1, 4096, "shm-inval", &p), ERROR_INVALID_PARAMETER);
    ASSERT_FAILS(RtCreateSharedMemory(PAGE_READWRITE, 0xFFFFFFFFu, 0, "shm-inval", &p), ERROR_INVALID_PARAMETER);
    ASSERT_FAILS(RtCreateSharedMemory(PAGE_READWRITE, 1, 4096, NULL, &p), ERROR_INVALID_PARAMETER);
    /* MaximumSizeLow == 0 for a new object, named or unnamed */
    ASSERT_FAILS(RtCreateSharedMemory(PAGE_READWRITE, 0, 0, "shm-inval", &p), ERROR_INVALID_PARAMETER);
    ASSERT_FAILS(RtCreateSharedMemory(PAGE_READWRITE, 0, 0, NULL, &p), ERROR_INVALID_PARAMETER);
    ASSERT_FAILS(RtCreateSharedMemory(PAGE_READWRITE, 0, 0, "", &p), ERROR_INVALID_PARAMETER);
    /* location NULL */
    ASSERT_FAILS(RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "shm-inval", NULL), ERROR_INVALID_PARAMETER);
    ASSERT_FAILS(RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, NULL, NULL), ERROR_INVALID_PARAMETER);
    ASSERT_FAILS(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "shm-inval", NULL), ERROR_INVALID_PARAMETER);
    /* Open with a NULL or empty name */
    ASSERT_FAILS(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, NULL, &p), ERROR_INVALID_PARAMETER);
    ASSERT_FAILS(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "", &p), ERROR_INVALID_PARAMETER);

    /* The same errors on an existing object take no reference to it: once
     * its only handle is closed, it is gone. */
    void *q = NULL;
    HANDLE h = tn_shm_create("shm-inval-existing", 4096, &q);
    assert_non_null(h);
    ASSERT_FAILS(RtCreateSharedMemory(PAGE_READWRITE, 1, 4096, "shm-inval-existing", &p), ERROR_INVALID_PARAMETER);
    ASSERT_FAILS(RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "shm-inval-existing", NULL), ERROR_INVALID_PARAMETER);
    ASSERT_FAILS(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "shm-inval-existing", NULL), ERROR_INVALID_PARAMETER);
    tn_shm_release(h, q);
    ASSERT_FAILS(tn_shm_open("shm-inval-existing", &p), ERROR_FILE_NOT_FOUND);
}

static void test_open_missing(void **state)
{
    (void)state;
    void *p = NULL;
    ASSERT_FAILS(tn_shm_open("shm-never-made", &p), ERROR_FILE_NOT_FOUND);
    ASSERT_FAILS(tn_shm_open("x", &p), ERROR_FILE_NOT_FOUND);
}

static void test_open_leaves_last_error(void **state)
{
    (void)state;
    void *p = NULL, *q = NULL;
    HANDLE h = tn_shm_create("shm-open-le", 100, &p);
    assert_non_null(h);
    SetLastError(4242);
    HANDLE o = tn_shm_open("shm-open-le", &q);
    assert_non_null(o);
    assert_int_equal(GetLastError(), 4242);
    tn_shm_release(o, q);
    SetLastError(ERROR_FILE_NOT_FOUND);
    o = tn_shm_open("shm-open-le", &q);
    assert_non_null(o);
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    tn_shm_release(o, q);
    tn_shm_release(h, p);
}

/* ---- unnamed objects ----------------------------------------------------- */

static void test_unnamed(void **state)
{
    (void)state;
    size_t page = tn_page();
    uint64_t used0 = tn_pool_used();
    int objects0 = tn_count_objects(NULL);
    const char *names[] = {NULL, "", NULL, ""};
    HANDLE h[4];
    unsigned char *m[4];
    for (int i = 0; i < 4; i++) {
        SetLastError(ERROR_ALREADY_EXISTS);
        h[i] = RtCreateSharedMemory(PAGE_READWRITE, 0, (DWORD)(2 * page), names[i], (void **)&m[i]);
        assert_non_null(h[i]);
        assert_int_equal(GetLastError(), 0); /* a new object every time */
        assert_true(all_zero(m[i], 2 * page));
        memset(m[i], 0x10 + i, 2 * page);
    }
    for (int i = 0; i < 4; i++) /* distinct memory */
        assert_int_equal(m[i][page], 0x10 + i);
    assert_int_equal(tn_pool_used(), used0 + 8 * page); /* unnamed objects count */
    assert_int_equal(tn_count_objects(NULL), objects0 + 4);
    for (int i = 0; i < 4; i++)
        tn_shm_release(h[i], m[i]);
    assert_int_equal(tn_pool_used(), used0);
    assert_int_equal(tn_count_objects(NULL), objects0);
}

/* ---- mappings -------------------------------------------------------------- */

static void test_two_mappings_same_memory(void **state)
{
    (void)state;
    void *a = NULL, *b = NULL, *c = NULL;
    HANDLE ha = tn_shm_create("shm-two", 8192, &a);
    HANDLE hb = tn_shm_open("shm-two", &b);
    HANDLE hc = tn_shm_create("shm-two", 8192, &c);
    assert_non_null(ha);
    assert_non_null(hb);
    assert_non_null(hc);
    assert_ptr_not_equal(a, b);
    assert_ptr_not_equal(a, c);
    assert_ptr_not_equal(b, c);
    assert_int_equal((uintptr_t)b % tn_page(), 0);
    strcpy((char *)a + 5000, "through a");
    assert_string_equal((char *)b + 5000, "through a");
    assert_string_equal((char *)c + 5000, "through a");
    strcpy((char *)c, "through c");
    assert_string_equal((char *)a, "through c");
    tn_shm_release(hb, b);
    assert_string_equal((char *)c + 5000, "through a"); /* others unaffected */
    tn_shm_release(ha, a);
    tn_shm_release(hc, c);
}

static void expect_unmap_fails(void *addr)
{
    SetLastError(SENTINEL);
    assert_false(RtUnmapSharedMemory(addr));
    assert_int_equal(GetLastError(), ERROR_INVALID_ADDRESS);
}

static void test_unmap(void **state)
{
    (void)state;
    size_t page = tn_page();
    unsigned char *a = NULL, *b = NULL;
    HANDLE ha = tn_shm_create("shm-unmap", (DWORD)(3 * page), (void **)&a);
    HANDLE hb = tn_shm_open("shm-unmap", (void **)&b);
    assert_non_null(ha);
    assert_non_null(hb);

    /* exact address: no longer accessible (the library may keep the range
     * reserved while the process holds the object: test_shm_spare.c) */
    SetLastError(SENTINEL);
    assert_true(RtUnmapSharedMemory(a));
    assert_true(tn_is_inaccessible(a, 3 * page));
    /* already unmapped */
    expect_unmap_fails(a);
    /* the other mapping is untouched */
    assert_true(tn_is_mapped(b, 3 * page));
    b[0] = 1;
    /* an address inside a mapping unmaps the whole mapping */
    assert_true(RtUnmapSharedMemory(b + page + 123));
    assert_true(tn_is_inaccessible(b, 3 * page));
    expect_unmap_fails(b);
    expect_unmap_fails(b + page);

    /* never mapped: NULL, the stack, the heap, a made-up address */
    int on_stack = 0;
    void *heap = malloc(64);
    expect_unmap_fails(NULL);
    expect_unmap_fails(&on_stack);
    expect_unmap_fails(heap);
    expect_unmap_fails((void *)(uintptr_t)0x1000);
    expect_unmap_fails((void *)(uintptr_t)-4096);
    free(heap);

    /* One past the end of a mapping is not inside it. */
    unsigned char *c = NULL;
    HANDLE hc = tn_shm_open("shm-unmap", (void **)&c);
    assert_non_null(hc);
    assert_int_equal(tn_region_size(c), 3 * page);
    expect_unmap_fails(c + 3 * page);
    assert_true(tn_is_mapped(c, 3 * page));
    assert_true(RtUnmapSharedMemory(c + 3 * page - 1)); /* the last byte is */
    assert_true(tn_is_inaccessible(c, 3 * page));

    /* Unmapping does not close: the handles still work, and close once. */
    assert_true(CloseHandle(ha));
    assert_true(CloseHandle(hc));
    assert_true(CloseHandle(hb));
    SetLastError(SENTINEL);
    assert_false(CloseHandle(hb));
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    /* The process let go of the object: nothing of it stays mapped. */
    assert_true(tn_is_unmapped(a, 3 * page));
    assert_true(tn_is_unmapped(b, 3 * page));
    assert_true(tn_is_unmapped(c, 3 * page));
}

static void test_mapping_outlives_handles(void **state)
{
    (void)state;
    size_t page = tn_page();
    uint64_t used0 = tn_pool_used();
    unsigned char *a = NULL, *b = NULL;
    HANDLE ha = tn_shm_create("shm-outlive", (DWORD)(4 * page), (void **)&a);
    HANDLE hb = tn_shm_open("shm-outlive", (void **)&b);
    assert_non_null(ha);
    assert_non_null(hb);
    memset(a, 0x77, 4 * page);
    assert_true(CloseHandle(ha));
    assert_true(CloseHandle(hb));

    /* The name is gone and the pool space returned... */
    void *p;
    ASSERT_FAILS(tn_shm_open("shm-outlive", &p), ERROR_FILE_NOT_FOUND);
    assert_int_equal(tn_pool_used(), used0);
    /* ...but both mappings still work, and still share their memory. */
    assert_int_equal(a[4 * page - 1], 0x77);
    b[10] = 0x42;
    assert_int_equal(a[10], 0x42);

    /* A Create of the name now makes a fresh object, not the old memory. */
    unsigned char *c = NULL;
    HANDLE hc = tn_shm_create("shm-outlive", (DWORD)(4 * page), (void **)&c);
    assert_non_null(hc);
    assert_int_equal(GetLastError(), 0);
    assert_true(all_zero(c, 4 * page));
    c[10] = 0x99;
    assert_int_equal(a[10], 0x42);
    assert_true(RtUnmapSharedMemory(a));
    assert_true(RtUnmapSharedMemory(b));
    tn_shm_release(hc, c);
}

static void test_last_close_removes_name(void **state)
{
    (void)state;
    size_t page = tn_page();
    uint64_t used0 = tn_pool_used();
    int objects0 = tn_count_objects(NULL);
    unsigned char *a = NULL;
    HANDLE h = tn_shm_create("shm-lastclose", (DWORD)(16 * page), (void **)&a);
    assert_non_null(h);
    memset(a, 0xEE, 16 * page);
    assert_int_equal(tn_pool_used(), used0 + 16 * page);
    tn_shm_release(h, a);
    assert_int_equal(tn_pool_used(), used0);
    assert_int_equal(tn_count_objects(NULL), objects0);
    void *p;
    ASSERT_FAILS(tn_shm_open("shm-lastclose", &p), ERROR_FILE_NOT_FOUND);
    SetLastError(ERROR_ALREADY_EXISTS);
    h = RtCreateSharedMemory(PAGE_READWRITE, 0, (DWORD)(16 * page), "shm-lastclose", (void **)&a);
    assert_non_null(h);
    assert_int_equal(GetLastError(), 0);
    assert_true(all_zero(a, 16 * page));
    tn_shm_release(h, a);
}

/* ---- real time: no page faults, locked memory ----------------------------- */

/* Not instrumented: a sanitizer's shadow memory must not fault in here. */
__attribute__((noinline, no_sanitize_address)) static unsigned touch_pages(volatile unsigned char *p, size_t len,
                                                                          size_t page)
{
    unsigned sum = 0;
    for (size_t i = 0; i < len; i += page) {
        sum += p[i];
        p[i] = (unsigned char)(i / page);
        p[i + page - 1] = 1;
    }
    return sum;
}

static long faults_touching(void *p, size_t len)
{
    long before = tn_minor_faults();
    touch_pages(p, len, tn_page());
    return tn_minor_faults() - before;
}

static void test_no_page_faults(void **state)
{
    (void)state;
    const size_t mib = 1 << 20;
    /* Warm up what the measurement itself runs (code, the rusage buffer). */
    static unsigned char warm[1 << 16];
    faults_touching(warm, sizeof warm);
    faults_touching(warm, sizeof warm);

    void *a = NULL, *b = NULL, *c = NULL;
    HANDLE ha = tn_shm_create("shm-faults", (DWORD)mib, &a);
    assert_non_null(ha);
    assert_int_equal(GetLastError(), 0);
    long fa = faults_touching(a, mib);
    HANDLE hb = tn_shm_open("shm-faults", &b);
    assert_non_null(hb);
    long fb = faults_touching(b, mib);
    HANDLE hc = tn_shm_create("shm-faults", (DWORD)mib, &c);
    assert_non_null(hc);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    long fc = faults_touching(c, mib);
    void *u = NULL;
    HANDLE hu = tn_shm_create(NULL, (DWORD)mib, &u);
    assert_non_null(hu);
    long fu = faults_touching(u, mib);
    /* A control: the same touch on memory that is not populated does fault,
     * so the measurement can see faults. */
    void *anon = mmap(NULL, mib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(anon != MAP_FAILED);
    long fcontrol = faults_touching(anon, mib);
    munmap(anon, mib);

    printf("minor faults touching 1 MiB: create %ld, open %ld, create-existing %ld, unnamed %ld, "
           "control (plain mmap) %ld\n", fa, fb, fc, fu, fcontrol);
    assert_true(fcontrol >= 16);
    assert_int_equal(fa, 0);
    assert_int_equal(fb, 0);
    assert_int_equal(fc, 0);
    assert_int_equal(fu, 0);
    tn_shm_release(ha, a);
    tn_shm_release(hb, b);
    tn_shm_release(hc, c);
    tn_shm_release(hu, u);
}

static void test_locked_where_permitted(void **state)
{
    (void)state;
    const size_t mib = 1 << 20;
    struct rlimit rl;
    getrlimit(RLIMIT_MEMLOCK, &rl);
    tn_pool_used(); /* the node opened first: its own locked pages are not the objects' */
    long locked0 = tn_locked_kb();
    if (locked0 < 0)
        skip();
    bool may_lock = geteuid() == 0 || rl.rlim_cur == RLIM_INFINITY ||
                    rl.rlim_cur >= (rlim_t)(locked0 * 1024) + 3 * mib;
    if (!may_lock) {
        printf("RLIMIT_MEMLOCK too small to lock 2 MiB: skipped\n");
        skip();
    }
    void *a = NULL, *b = NULL;
    HANDLE ha = tn_shm_create("shm-locked", (DWORD)mib, &a);
    assert_non_null(ha);
    long locked1 = tn_locked_kb();
    HANDLE hb = tn_shm_open("shm-locked", &b);
    assert_non_null(hb);
    long locked2 = tn_locked_kb();
    printf("VmLck: %ld -> %ld -> %ld kB\n", locked0, locked1, locked2);
    assert_true(locked1 - locked0 >= 1024);
    assert_true(locked2 - locked1 >= 1024);
    tn_shm_release(ha, a);
    tn_shm_release(hb, b);
    assert_int_equal(tn_locked_kb(), locked0);
}

int main(int argc, char **argv)
{
    tn_select_tests(argc, argv); /* .ci/valgrind skips the page-fault count */
    tn_setup("shm");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_create_new, tn_teardown),
        cmocka_unit_test_teardown(test_create_existing, tn_teardown),
        cmocka_unit_test_teardown(test_create_after_error_value, tn_teardown),
        cmocka_unit_test_teardown(test_invalid_parameters, tn_teardown),
        cmocka_unit_test_teardown(test_open_missing, tn_teardown),
        cmocka_unit_test_teardown(test_open_leaves_last_error, tn_teardown),
        cmocka_unit_test_teardown(test_unnamed, tn_teardown),
        cmocka_unit_test_teardown(test_two_mappings_same_memory, tn_teardown),
        cmocka_unit_test_teardown(test_unmap, tn_teardown),
        cmocka_unit_test_teardown(test_mapping_outlives_handles, tn_teardown),
        cmocka_unit_test_teardown(test_last_close_removes_name, tn_teardown),
        cmocka_unit_test_teardown(test_no_page_faults, tn_teardown),
        cmocka_unit_test_teardown(test_locked_where_permitted, tn_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return failed + tn_objects_left();
}
