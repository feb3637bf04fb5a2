/*
 * SPEC 4: handles and the last error in one process - CloseHandle on NULL,
 * garbage, closed and double-closed handles; values >= 0x10000 that are not
 * handed out again soon; independent handles; values are multiples of 4 and
 * h|1, h|2, h|3 name h's object in every call; GetLastError per thread; the
 * handle table under threads.  (Across processes: test_lifetime.c and
 * test_lifetime_destroy.c.)
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"


static void expect_close_fails(HANDLE h)
{
    SetLastError(SENTINEL);
    assert_false(CloseHandle(h));
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
}

static HANDLE make(const char *name, DWORD size, void **p)
{
    return RtCreateSharedMemory(PAGE_READWRITE, 0, size, name, p);
}

static void test_close_invalid(void **state)
{
    (void)state;
    /* One live handle, which none of the bad closes may touch. */
    void *p = NULL;
    HANDLE live = make("h-live", 4096, &p);
    assert_non_null(live);
    *(int *)p = 31337;

    int on_stack;
    void *heap = malloc(32);
    uintptr_t v = (uintptr_t)live;
    const uintptr_t garbage[] = {
        0, 1, 2, 0xFFFF, 0x10000, 0x10001, 0x12345678, 0xDEADBEEF, 0xFFFFFFFF, 0x100000000ull,
        /* not UINTPTR_MAX, (HANDLE)-1: GetCurrentProcess()'s pseudo-handle,
         * which CloseHandle accepts and ignores (test_process) */
        UINTPTR_MAX - 2, UINTPTR_MAX - 0xFFFF, UINTPTR_MAX / 2, (uintptr_t)&on_stack, (uintptr_t)heap,
        (uintptr_t)&test_close_invalid, (uintptr_t)p,
        /* neighbours of the live value: another slot (with and without the
         * ignored low bits), another generation */
        v + 4, v - 4, v + 5, v - 1, v + 0x400000, v - 0x400000, v + 0x400003, v ^ 0x80000000ull,
        v | ((uintptr_t)1 << 40)};
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
        if (garbage[i] == v)
            continue;
        expect_close_fails((HANDLE)garbage[i]);
    }
    free(heap);
    /* The live handle is untouched. */
    assert_int_equal(*(int *)p, 31337);
    void *q = NULL;
    HANDLE o = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "h-live", &q);
    assert_non_null(o);
    assert_int_equal(*(int *)q, 31337);
    assert_true(RtUnmapSharedMemory(q));
    assert_true(CloseHandle(o));
    assert_true(RtUnmapSharedMemory(p));
    assert_true(CloseHandle(live));
    expect_close_fails(live);
}

static void test_double_close(void **state)
{
    (void)state;
    void *p = NULL;
    HANDLE h = make("h-double", 100, &p);
    assert_non_null(h);
    SetLastError(SENTINEL);
    assert_true(CloseHandle(h));
    expect_close_fails(h);
    expect_close_fails(h);
    assert_true(RtUnmapSharedMemory(p)); /* the mapping outlived the handle */
    /* the same for an unnamed object, a Create handle and an Open handle */
    void *u = NULL, *c1 = NULL, *o1 = NULL;
    h = make(NULL, 100, &u);
    assert_non_null(h);
    HANDLE c = make("h-double2", 100, &c1);
    assert_non_null(c);
    HANDLE o = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "h-double2", &o1);
    assert_non_null(o);
    assert_true(CloseHandle(o));
    expect_close_fails(o);
    assert_true(CloseHandle(c));
    expect_close_fails(c);
    assert_true(CloseHandle(h));
    expect_close_fails(h);
    assert_true(RtUnmapSharedMemory(u));
    assert_true(RtUnmapSharedMemory(c1));
    assert_true(RtUnmapSharedMemory(o1));
    assert_int_equal(tn_pool_used(), 0);
}

static void test_closed_value_not_reused(void **state)
{
    (void)state;
    enum { ROUNDS = 1000 };
    void *p = NULL;
    HANDLE first = make("h-reuse-a", 64, &p);
    assert_non_null(first);
    assert_true(RtUnmapSharedMemory(p));
    assert_true(CloseHandle(first));

    /* The next create does not get the closed value, and a stale close
     * fails instead of closing the new object. */
    HANDLE next = make("h-reuse-b", 64, &p);
    assert_non_null(next);
    assert_ptr_not_equal(next, first);
    expect_close_fails(first);
    void *q = NULL;
    SetLastError(SENTINEL);
    HANDLE o = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "h-reuse-b", &q);
    assert_non_null(o); /* still alive: the stale close did not reach it */
    assert_true(CloseHandle(o));
    assert_true(RtUnmapSharedMemory(q));

    /* Nor in the next ROUNDS creates and closes. */
    HANDLE seen[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        void *m = NULL;
        seen[i] = make(i % 2 ? "h-reuse-a" : NULL, 64, &m);
        assert_non_null(seen[i]);
        assert_ptr_not_equal(seen[i], first);
        assert_ptr_not_equal(seen[i], next);
        for (int j = 0; j < i; j++)
            if (seen[j] == seen[i])
                fail_msg("handle value %p handed out again after %d creates", seen[i], i - j);
        assert_true(RtUnmapSharedMemory(m));
        assert_true(CloseHandle(seen[i]));
    }
    for (int i = 0; i < ROUNDS; i += 97)
        expect_close_fails(seen[i]);
    assert_true(RtUnmapSharedMemory(p));
    assert_true(CloseHandle(next));
}

static void test_handle_values(void **state)
{
    (void)state;
    enum { N = 300 };
    HANDLE h[N];
    void *m[N];
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            h[i] = make(NULL, 64, &m[i]);
        else if (i % 3 == 1)
            h[i] = make("h-values", 64, &m[i]);
        else
            h[i] = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "h-values", &m[i]);
        assert_non_null(h[i]);
        assert_true((uintptr_t)h[i] >= 0x10000);
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(h[j], h[i]);
    }
    /* Handles of one object are independent: closing some keeps it alive. */
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0 || i == N - 1)
            continue;
        assert_true(RtUnmapSharedMemory(m[i]));
        assert_true(CloseHandle(h[i]));
        void *q = NULL;
        HANDLE o = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "h-values", &q);
        assert_non_null(o);
        assert_true(RtUnmapSharedMemory(q));
        assert_true(CloseHandle(o));
    }
    assert_true(RtUnmapSharedMemory(m[N - 1]));
    assert_true(CloseHandle(h[N - 1]));
    void *q = NULL;
    SetLastError(SENTINEL);
    assert_null(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "h-values", &q));
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    for (int i = 0; i < N; i += 3) {
        assert_true(RtUnmapSharedMemory(m[i]));
        assert_true(CloseHandle(h[i]));
    }
    assert_int_equal(tn_pool_used(), 0);
}

/* SPEC 4: as in Win32, a handle is a multiple of 4 and its low two bits are
 * ignored: h|1, h|2 and h|3 name h's object in waits, Set, Reset, Pulse,
 * Release and Close, and never a neighbour's.  (Before: consecutive values,
 * so h|1 was the next handle, and CloseHandle(a|1) closed b.) */
static HANDLE tagged(HANDLE h, uintptr_t tag) { return (HANDLE)((uintptr_t)h | tag); }

static void test_low_bits_ignored(void **state)
{
    (void)state;
    void *p = NULL, *q = NULL;
    HANDLE s1 = make(NULL, 64, &p), s2 = make(NULL, 64, &q);
    HANDLE ev = RtCreateEvent(NULL, FALSE, FALSE, NULL), ev2 = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    HANDLE mx = RtCreateMutex(NULL, FALSE, NULL), sem = RtCreateSemaphore(NULL, 0, 10, NULL);
    HANDLE all[] = {s1, s2, ev, ev2, mx, sem};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        assert_non_null(all[i]);
        assert_true((uintptr_t)all[i] >= 0x10000);
        if ((uintptr_t)all[i] % 4 != 0)
            fail_msg("handle %zu is %p: not a multiple of 4", i, all[i]);
    }
    for (uintptr_t tag = 1; tag <= 3; tag++) {
        /* Events: Set through one tag, wait through another, Reset, Pulse. */
        assert_true(RtSetEvent(tagged(ev, tag)));
        assert_int_equal(RtWaitForSingleObject(tagged(ev2, tag), 0), WAIT_TIMEOUT); /* not the neighbour */
        assert_int_equal(RtWaitForSingleObject(tagged(ev, tag), 0), WAIT_OBJECT_0);
        assert_true(RtSetEvent(ev));
        assert_true(RtResetEvent(tagged(ev, tag)));
        assert_int_equal(RtWaitForSingleObject(ev, 0), WAIT_TIMEOUT);
        assert_true(RtSetEvent(ev));
        assert_true(RtPulseEvent(tagged(ev, tag)));
        assert_int_equal(RtWaitForSingleObject(ev, 0), WAIT_TIMEOUT);
        /* A mutex, recursively through every tag, released through others. */
        assert_int_equal(RtWaitForSingleObject(tagged(mx, tag), 0), WAIT_OBJECT_0);
        assert_int_equal(RtWaitForSingleObject(mx, 0), WAIT_OBJECT_0);
        assert_true(RtReleaseMutex(mx));
        assert_true(RtReleaseMutex(tagged(mx, 4 - tag)));
        SetLastError(0);
        assert_false(RtReleaseMutex(tagged(mx, tag)));
        assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
        /* A semaphore. */
        LONG prev = -1;
        assert_true(RtReleaseSemaphore(tagged(sem, tag), 2, &prev));
        assert_int_equal(prev, 0);
        assert_int_equal(RtWaitForSingleObject(tagged(sem, 4 - tag), 0), WAIT_OBJECT_0);
        /* A multi-object wait through tagged handles: index of the object. */
        HANDLE set[3] = {tagged(ev, tag), tagged(mx, tag), tagged(sem, tag)};
        assert_int_equal(RtWaitForMultipleObjects(3, set, FALSE, 0), WAIT_OBJECT_0 + 1);
        assert_true(RtReleaseMutex(mx));
        assert_int_equal(RtWaitForSingleObject(tagged(sem, tag), 0), WAIT_OBJECT_0);
        assert_int_equal(RtWaitForSingleObject(sem, 0), WAIT_TIMEOUT);
        /* Shared memory handles: still not waitable, whatever the tag. */
        SetLastError(0);
        assert_int_equal(RtWaitForSingleObject(tagged(s1, tag), 0), WAIT_FAILED);
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    }
    /* Close through a tag closes that handle and no other: the neighbour
     * still works, the closed one fails whatever its tag. */
    *(int *)q = 4242;
    assert_true(CloseHandle(tagged(s1, 1)));
    for (uintptr_t tag = 0; tag <= 3; tag++)
        expect_close_fails(tagged(s1, tag));
    assert_int_equal(*(int *)q, 4242);
    assert_true(CloseHandle(tagged(ev, 3)));
    SetLastError(0);
    assert_false(RtSetEvent(tagged(ev, 2)));
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    assert_true(RtSetEvent(ev2)); /* the neighbour is alive */
    assert_int_equal(RtWaitForSingleObject(tagged(ev2, 1), 0), WAIT_OBJECT_0);
    assert_true(CloseHandle(tagged(ev2, 2)));
    assert_true(CloseHandle(tagged(mx, 2)));
    assert_true(CloseHandle(tagged(sem, 1)));
    assert_true(CloseHandle(tagged(s2, 3)));
    expect_close_fails(s2);
    assert_true(RtUnmapSharedMemory(p));
    assert_true(RtUnmapSharedMemory(q));
    assert_int_equal(tn_pool_used(), 0);
}

/* ---- the last error is per thread ------------------------------------------- */

static pthread_barrier_t barrier;

static void *error_thread(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    intptr_t bad = 0;
    if (GetLastError() != 0) /* a new thread starts with 0 */
        bad |= 1;
    SetLastError((DWORD)(1000 + id));
    pthread_barrier_wait(&barrier); /* every thread has set its own */
    if (id == 0) {                  /* thread 0 makes errors of its own */
        CloseHandle(NULL);
        if (GetLastError() != ERROR_INVALID_HANDLE)
            bad |= 2;
        RtUnmapSharedMemory(NULL);
        if (GetLastError() != ERROR_INVALID_ADDRESS)
            bad |= 2;
        void *p;
        RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "h-nothing", &p);
        if (GetLastError() != ERROR_FILE_NOT_FOUND)
            bad |= 2;
    }
    pthread_barrier_wait(&barrier); /* thread 0 is done */
    if (id != 0 && GetLastError() != 1000 + id)
        bad |= 4;
    return (void *)bad;
}

static void test_last_error_per_thread(void **state)
{
    (void)state;
    enum { T = 4 };
    pthread_t t[T];
    SetLastError(777);
    pthread_barrier_init(&barrier, NULL, T);
    for (uintptr_t i = 0; i < T; i++)
        assert_int_equal(pthread_create(&t[i], NULL, error_thread, (void *)i), 0);
    for (int i = 0; i < T; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        assert_int_equal((intptr_t)bad, 0);
    }
    pthread_barrier_destroy(&barrier);
    assert_int_equal(GetLastError(), 777);
}

/* ---- the handle table under threads -------------------------------------------- */

static HANDLE shared_handle;
static _Atomic int close_successes;

static void *close_racer(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&barrier);
    SetLastError(SENTINEL);
    if (CloseHandle(shared_handle))
        close_successes++;
    else if (GetLastError() != ERROR_INVALID_HANDLE)
        return (void *)1;
    return NULL;
}

/* Many threads close the same handle at once: exactly one succeeds. */
static void test_concurrent_close(void **state)
{
    (void)state;
    enum { T = 8, ROUNDS = 200 };
    for (int r = 0; r < ROUNDS; r++) {
        void *p = NULL;
        shared_handle = make(r % 2 ? "h-race-close" : NULL, 4096, &p);
        assert_non_null(shared_handle);
        close_successes = 0;
        pthread_barrier_init(&barrier, NULL, T);
        pthread_t t[T];
        for (int i = 0; i < T; i++)
            assert_int_equal(pthread_create(&t[i], NULL, close_racer, NULL), 0);
        for (int i = 0; i < T; i++) {
            void *bad;
            pthread_join(t[i], &bad);
            assert_null(bad);
        }
        pthread_barrier_destroy(&barrier);
        assert_int_equal(close_successes, 1);
        assert_true(RtUnmapSharedMemory(p));
    }
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* Threads each keep a set of live handles and churn them: a thread's own
 * handles always close once, never twice, and each maps its own memory. */
static void *churner(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    enum { KEEP = 16, ITER = 3000 };
    HANDLE h[KEEP] = {0};
    uint32_t *m[KEEP] = {0};
    HANDLE closed[KEEP] = {0};
    char name[32];
    unsigned seed = (unsigned)id * 7919u + 1;
    for (int it = 0; it < ITER; it++) {
        int k = (int)(rand_r(&seed) % KEEP);
        if (h[k] == NULL) {
            snprintf(name, sizeof name, "h-churn-%u-%d", (unsigned)id, k);
            bool unnamed = rand_r(&seed) % 2;
            h[k] = make(unnamed ? NULL : name, 4096, (void **)&m[k]);
            if (h[k] == NULL || GetLastError() != 0 || m[k][0] != 0)
                return (void *)1;
            m[k][0] = (uint32_t)(id << 16 | (unsigned)k);
        } else {
            if (m[k][0] != (uint32_t)(id << 16 | (unsigned)k))
                return (void *)2;
            if (closed[k] != NULL && CloseHandle(closed[k]))
                return (void *)3; /* an old value of this thread closed something */
            if (!RtUnmapSharedMemory(m[k]) || !CloseHandle(h[k]))
                return (void *)4;
            closed[k] = h[k];
            h[k] = NULL;
        }
    }
    for (int k = 0; k < KEEP; k++)
        if (h[k] && (!RtUnmapSharedMemory(m[k]) || !CloseHandle(h[k])))
            return (void *)5;
    return NULL;
}

static void test_threads_churn_handles(void **state)
{
    (void)state;
    enum { T = 4 };
    pthread_t t[T];
    for (uintptr_t i = 0; i < T; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churner, (void *)i), 0);
    for (int i = 0; i < T; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        assert_int_equal((intptr_t)bad, 0);
    }
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

int main(void)
{
    tn_setup("handles");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_close_invalid, tn_teardown),
        cmocka_unit_test_teardown(test_double_close, tn_teardown),
        cmocka_unit_test_teardown(test_closed_value_not_reused, tn_teardown),
        cmocka_unit_test_teardown(test_handle_values, tn_teardown),
        cmocka_unit_test_teardown(test_low_bits_ignored, tn_teardown),
        cmocka_unit_test_teardown(test_last_error_per_thread, tn_teardown),
        cmocka_unit_test_teardown(test_concurrent_close, tn_teardown),
        cmocka_unit_test_teardown(test_threads_churn_handles, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
