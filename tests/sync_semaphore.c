/*
 * SPEC 6, semaphores: 0 <= initial <= maximum and maximum >= 1 or
 * ERROR_INVALID_PARAMETER (nothing made); a release past the maximum is
 * ERROR_TOO_MANY_POSTS with the count and *lpPreviousCount unchanged; a
 * release count below 1 is ERROR_INVALID_PARAMETER; lpPreviousCount may be
 * NULL; a Release of n wakes n waiters; no owner: a unit taken by a process
 * that dies stays taken, and a waiter killed while asleep takes no unit;
 * producer/consumer between four processes over 100,000 transfers with
 * every unit accounted for; wrong-type and bad handles; unnamed semaphores
 * through fork.
 */
#include "sync_util.h"

#include "sync_peer.h"

#include <sched.h>

/* Takes every unit with zero-timeout waits and returns how many there were. */
static LONG drain(HANDLE s)
{
    LONG n = 0;
    while (RtWaitForSingleObject(s, 0) == WAIT_OBJECT_0)
        n++;
    return n;
}

static void test_create_parameters(void **state)
{
    (void)state;
    static const LONG bad[][2] = {{-1, 1}, {2, 1}, {0, 0}, {1, 0}, {0, -1}, {-5, -5}, {INT32_MIN, 1},
                                  {1, INT32_MIN}, {INT32_MAX, INT32_MAX - 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (int named = 0; named < 2; named++) {
            char name[64];
            SYNC_NAME(name, "badsem");
            SetLastError(0);
            HANDLE h = RtCreateSemaphore(NULL, bad[i][0], bad[i][1], named ? name : NULL);
            if (h != NULL || GetLastError() != ERROR_INVALID_PARAMETER)
                fail_msg("initial %d maximum %d: %p, error %u", bad[i][0], bad[i][1], h, GetLastError());
            if (named) { /* nothing made */
                SetLastError(0);
                assert_null(RtOpenSemaphore(0, FALSE, name));
                assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
            }
        }
    static const LONG good[][2] = {{0, 1}, {1, 1}, {0, INT32_MAX}, {INT32_MAX, INT32_MAX}, {7, 9}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        SetLastError(5);
        HANDLE h = RtCreateSemaphore(NULL, good[i][0], good[i][1], NULL);
        assert_non_null(h);
        assert_int_equal(GetLastError(), 0);
        LONG prev = -1;
        if (good[i][0] < good[i][1]) {
            assert_true(RtReleaseSemaphore(h, 1, &prev));
            assert_int_equal(prev, good[i][0]);
        } else {
            assert_false(RtReleaseSemaphore(h, 1, &prev));
            assert_int_equal(GetLastError(), ERROR_TOO_MANY_POSTS);
            assert_int_equal(prev, -1);
        }
        assert_true(CloseHandle(h));
    }
}

static void test_release_bounds(void **state)
{
    (void)state;
    HANDLE s = RtCreateSemaphore(NULL, 2, 3, NULL);
    assert_non_null(s);
    /* Past the maximum: FALSE, count and *prev unchanged. */
    LONG prev = -77;
    SetLastError(0);
    assert_false(RtReleaseSemaphore(s, 2, &prev));
    assert_int_equal(GetLastError(), ERROR_TOO_MANY_POSTS);
    assert_int_equal(prev, -77);
    assert_false(RtReleaseSemaphore(s, INT32_MAX, &prev)); /* no overflow */
    assert_int_equal(GetLastError(), ERROR_TOO_MANY_POSTS);
    assert_int_equal(prev, -77);
    /* Below 1: ERROR_INVALID_PARAMETER, nothing changed. */
    for (LONG n = 0; n >= -2; n--) {
        SetLastError(0);
        assert_false(RtReleaseSemaphore(s, n, &prev));
        assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
        assert_int_equal(prev, -77);
    }
    SetLastError(0);
    assert_false(RtReleaseSemaphore(s, INT32_MIN, NULL));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    /* Exactly to the maximum, with prev, then with NULL. */
    SetLastError(0x4242);
    assert_true(RtReleaseSemaphore(s, 1, &prev));
    assert_int_equal(prev, 2);
    assert_int_equal(drain(s), 3);
    assert_true(RtReleaseSemaphore(s, 3, NULL));
    assert_int_equal(drain(s), 3);
    assert_true(RtReleaseSemaphore(s, 2, NULL));
    assert_true(RtReleaseSemaphore(s, 1, &prev));
    assert_int_equal(prev, 2);
    assert_int_equal(GetLastError(), 0x4242); /* success leaves the last error alone */
    assert_int_equal(drain(s), 3);
    assert_true(CloseHandle(s));
}

/* Release(n) with waiters asleep releases exactly n of them. */
static void test_release_wakes_that_many(void **state)
{
    (void)state;
    HANDLE s = RtCreateSemaphore(NULL, 0, 10, NULL);
    struct sync_waiter w[4];
    for (int i = 0; i < 4; i++)
        sync_waiter_start(&w[i], s, INFINITE);
    for (int i = 0; i < 4; i++)
        assert_true(sync_waiter_blocked(&w[i]));
    LONG prev = -1;
    assert_true(RtReleaseSemaphore(s, 3, &prev));
    assert_int_equal(prev, 0);
    int64_t end = sync_now_us() + 2000000;
    int done = 0;
    while (sync_now_us() < end) {
        done = 0;
        for (int i = 0; i < 4; i++)
            done += atomic_load(&w[i].done);
        if (done == 3)
            break;
        usleep(200);
    }
    sync_sleep_ms(150);
    done = 0;
    for (int i = 0; i < 4; i++)
        done += atomic_load(&w[i].done);
    assert_int_equal(done, 3);
    assert_int_equal(RtWaitForSingleObject(s, 0), WAIT_TIMEOUT); /* all three units taken */
    assert_true(RtReleaseSemaphore(s, 1, &prev));
    assert_int_equal(prev, 0);
    for (int i = 0; i < 4; i++) {
        sync_waiter_join(&w[i]);
        assert_int_equal(w[i].result, WAIT_OBJECT_0);
    }
    assert_int_equal(drain(s), 0);
    assert_true(CloseHandle(s));
}

/* No owner: what a dead process took stays taken. */
static void test_unit_of_dead_process_stays_taken(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "dead-unit");
    HANDLE s = RtCreateSemaphore(NULL, 2, 2, name);
    struct tn_peer p;
    tn_peer_start(&p, NULL, "os", name, "w", "0", "g", NULL);
    assert_true(sync_peer_ok(&p, NULL));
    DWORD r;
    assert_true(sync_peer_word(&p, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&p, &r, NULL));
    assert_int_equal(r, WAIT_OBJECT_0);
    assert_true(tn_killed_by(tn_peer_kill(&p), SIGKILL));
    LONG prev = -1;
    assert_true(RtReleaseSemaphore(s, 1, &prev));
    assert_int_equal(prev, 1); /* 2 - the unit the dead peer took */
    assert_false(RtReleaseSemaphore(s, 1, &prev));
    assert_int_equal(GetLastError(), ERROR_TOO_MANY_POSTS);
    assert_int_equal(drain(s), 2);

    /* Same after a normal exit. */
    tn_peer_start(&p, NULL, "os", name, "rs", "2", "w", "0", "w", "0", "w", "0", NULL);
    assert_true(sync_peer_ok(&p, NULL));
    assert_true(sync_peer_ok(&p, NULL));
    for (int i = 0; i < 3; i++) {
        assert_true(sync_peer_word(&p, "waiting", NULL, 0));
        assert_true(sync_peer_waited(&p, &r, NULL));
        assert_int_equal(r, i < 2 ? WAIT_OBJECT_0 : WAIT_TIMEOUT);
    }
    assert_true(sync_peer_done(&p));
    assert_int_equal(drain(s), 0);
    assert_true(CloseHandle(s));
}

/* A waiter killed while asleep takes no unit and loses no Release. */
static void test_killed_waiter_takes_nothing(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "killed-waiter");
    HANDLE s = RtCreateSemaphore(NULL, 0, 5, name);
    for (int i = 0; i < 3; i++) {
        struct tn_peer p;
        tn_peer_start(&p, NULL, "os", name, "w", "-1", NULL);
        assert_true(sync_peer_ok(&p, NULL));
        assert_true(sync_peer_blocked(&p));
        assert_true(tn_killed_by(tn_peer_kill(&p), SIGKILL));
    }
    LONG prev = -1;
    assert_true(RtReleaseSemaphore(s, 2, &prev));
    assert_int_equal(prev, 0);
    assert_int_equal(drain(s), 2);
    /* A live waiter asleep in another process is released promptly. */
    struct tn_peer p;
    tn_peer_start(&p, NULL, "os", name, "w", "-1", NULL);
    assert_true(sync_peer_ok(&p, NULL));
    assert_true(sync_peer_blocked(&p));
    int64_t t0 = sync_now_us(), woke = 0;
    assert_true(RtReleaseSemaphore(s, 1, NULL));
    DWORD r;
    assert_true(sync_peer_waited(&p, &r, &woke));
    assert_int_equal(r, WAIT_OBJECT_0);
    if (woke - t0 > SYNC_WAKE_US)
        fail_msg("woke %lld us after the Release", (long long)(woke - t0));
    assert_true(sync_peer_done(&p));
    assert_int_equal(drain(s), 0);
    assert_true(CloseHandle(s));
}

/* ---- producer/consumer between processes ----------------------------------------- */

static void test_producer_consumer_processes(void **state)
{
    (void)state;
    char prefix[64], name[96];
    SYNC_NAME(prefix, "ring");
    void *loc;
    snprintf(name, sizeof name, "%s.shm", prefix);
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, sizeof(struct sync_ring), name, &loc);
    assert_non_null(shm);
    struct sync_ring *ring = loc;
    snprintf(name, sizeof name, "%s.empty", prefix);
    HANDLE empty = RtCreateSemaphore(NULL, SYNC_RING_SLOTS, SYNC_RING_SLOTS, name);
    snprintf(name, sizeof name, "%s.full", prefix);
    HANDLE full = RtCreateSemaphore(NULL, 0, SYNC_RING_SLOTS, name);
    snprintf(name, sizeof name, "%s.mutex", prefix);
    HANDLE mutex = RtCreateMutex(NULL, FALSE, name);
    assert_non_null(empty), assert_non_null(full), assert_non_null(mutex);

    const unsigned half = SYNC_RING_TOTAL / 2;
    char first2[32], nhalf[32];
    snprintf(first2, sizeof first2, "%u", half);
    snprintf(nhalf, sizeof nhalf, "%u", half);
    int64_t t0 = sync_now_us();
    struct tn_peer p[4];
    tn_peer_start(&p[0], NULL, "consume", prefix, nhalf, NULL);
    tn_peer_start(&p[1], NULL, "consume", prefix, nhalf, NULL);
    tn_peer_start(&p[2], NULL, "produce", prefix, "0", nhalf, NULL);
    tn_peer_start(&p[3], NULL, "produce", prefix, first2, nhalf, NULL);
    for (int i = 0; i < 4; i++) {
        char rest[64];
        assert_true(sync_peer_word(&p[i], "done", rest, sizeof rest));
        assert_true(sync_peer_done(&p[i]));
    }
    fprintf(stderr, "  %u transfers between 4 processes in %lld ms\n", SYNC_RING_TOTAL,
            (long long)(sync_now_us() - t0) / 1000);
    /* Every value consumed exactly once; the ring and the counts balance. */
    unsigned lost = 0, doubled = 0;
    for (unsigned v = 0; v < SYNC_RING_TOTAL; v++) {
        uint32_t n = atomic_load(&ring->seen[v]);
        lost += n == 0;
        doubled += n > 1;
    }
    if (lost || doubled)
        fail_msg("%u values lost, %u consumed more than once", lost, doubled);
    assert_int_equal(ring->head, SYNC_RING_TOTAL);
    assert_int_equal(ring->tail, SYNC_RING_TOTAL);
    assert_int_equal(drain(full), 0);
    assert_int_equal(drain(empty), SYNC_RING_SLOTS);
    assert_int_equal(RtWaitForSingleObject(mutex, 0), WAIT_OBJECT_0); /* free, not abandoned */
    assert_true(RtReleaseMutex(mutex));
    assert_true(RtUnmapSharedMemory(loc));
    HANDLE all[] = {shm, empty, full, mutex};
    for (int i = 0; i < 4; i++)
        assert_true(CloseHandle(all[i]));
}

/* The same between threads, with multi-object waits on the consumer side:
 * {items, quit} - items has the lower index, so a consumer only sees quit
 * once no unit is left. */
struct tp {
    HANDLE items, quit;
    long got;
    DWORD last;
};

static void *consumer_main(void *arg)
{
    struct tp *t = arg;
    HANDLE list[2] = {t->items, t->quit};
    for (;;) {
        t->last = RtWaitForMultipleObjects(2, list, FALSE, 5000);
        if (t->last != WAIT_OBJECT_0)
            break;
        t->got++;
    }
    return NULL;
}

static void test_producer_consumer_threads(void **state)
{
    (void)state;
    struct tp t[2];
    HANDLE items = RtCreateSemaphore(NULL, 0, 50, NULL), quit = RtCreateEvent(NULL, TRUE, FALSE, NULL);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        t[i] = (struct tp){.items = items, .quit = quit};
        th[i] = sync_thread(consumer_main, &t[i]);
    }
    const long total = 100000;
    long produced = 0;
    while (produced < total) {
        LONG n = (LONG)(produced % 7) + 1;
        if (n > total - produced)
            n = (LONG)(total - produced);
        if (RtReleaseSemaphore(items, n, NULL))
            produced += n;
        else if (GetLastError() == ERROR_TOO_MANY_POSTS)
            sched_yield();
        else
            fail_msg("release: %u", GetLastError());
    }
    assert_true(RtSetEvent(quit));
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].last, WAIT_OBJECT_0 + 1);
    }
    assert_int_equal(t[0].got + t[1].got, total);
    assert_int_equal(drain(items), 0);
    assert_true(CloseHandle(items));
    assert_true(CloseHandle(quit));
}

/* ---- bad handles, fork ------------------------------------------------------------- */

static void test_bad_handles(void **state)
{
    (void)state;
    void *loc;
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, NULL, &loc);
    HANDLE e = RtCreateEvent(NULL, TRUE, FALSE, NULL);
    HANDLE m = RtCreateMutex(NULL, FALSE, NULL);
    HANDLE closed = RtCreateSemaphore(NULL, 0, 5, NULL);
    assert_true(CloseHandle(closed));
    HANDLE bad[] = {NULL, (HANDLE)(uintptr_t)3, (HANDLE)(uintptr_t)0xfffff, (HANDLE)(uintptr_t)-2, closed, shm, e, m};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        LONG prev = -9;
        SetLastError(0);
        if (RtReleaseSemaphore(bad[i], 1, &prev) != FALSE || GetLastError() != ERROR_INVALID_HANDLE || prev != -9)
            fail_msg("RtReleaseSemaphore on bad handle %zu: error %u", i, GetLastError());
    }
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    assert_true(RtUnmapSharedMemory(loc));
    assert_true(CloseHandle(shm));
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(m));
}

static void test_unnamed_semaphore_through_fork(void **state)
{
    (void)state;
    HANDLE s = RtCreateSemaphore(NULL, 0, 10, NULL);
    const long total = 20000;
    pid_t pid = tn_fork();
    if (pid == 0) {
        for (long sent = 0; sent < total;) {
            if (RtReleaseSemaphore(s, 1, NULL))
                sent++;
            else {
                TN_CHILD_CHECK(GetLastError() == ERROR_TOO_MANY_POSTS);
                sched_yield();
            }
        }
        _exit(0);
    }
    long got = 0;
    while (got < total) {
        DWORD r = RtWaitForSingleObject(s, 5000);
        if (r != WAIT_OBJECT_0)
            fail_msg("after %ld units: %#x", got, r);
        got++;
    }
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    assert_int_equal(drain(s), 0);
    assert_true(CloseHandle(s));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_parameters),
        cmocka_unit_test(test_release_bounds),
        cmocka_unit_test(test_release_wakes_that_many),
        cmocka_unit_test(test_unit_of_dead_process_stays_taken),
        cmocka_unit_test(test_killed_waiter_takes_nothing),
        cmocka_unit_test(test_producer_consumer_processes),
        cmocka_unit_test(test_producer_consumer_threads),
        cmocka_unit_test(test_bad_handles),
        cmocka_unit_test(test_unnamed_semaphore_through_fork),
    };
    return SYNC_RUN("sync_semaphore", tests);
}
