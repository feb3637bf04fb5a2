/*
 * SPEC 6, waits: WAIT_OBJECT_0 + the lowest signalled index, and only that
 * object consumed (others keep their state, count, owner); 64-object waits
 * over mixed types, in-process and from another process; parameter errors
 * (nCount 0 or 65, NULL list, bWaitAll TRUE) and handle errors (bad,
 * closed, shared memory) with nothing consumed; a timeout of 0 polls;
 * timeouts within a few ms of what was asked; the last error left alone on
 * success and timeout; waiters asleep in the kernel (futex/futex_waitv), not
 * polling, and woken at once (SYNC_WAKE_US).
 */
#include "sync_util.h"
#include "thread_switches.h"

#include <sched.h>

/* ---- a thread keeping mutexes owned, releasing/retaking them on request ---------- */

#define KEEP_MAX 16
enum { K_IDLE, K_RELEASE, K_TAKE, K_QUIT };

struct keeper {
    HANDLE m[KEEP_MAX];
    int n;
    _Atomic int cmd, arg;
    _Atomic int ready;
    DWORD last;                 /* result of the last K_TAKE */
    pthread_t thread;
};

static void *keeper_main(void *p)
{
    struct keeper *k = p;
    for (int i = 0; i < k->n; i++)
        if (RtWaitForSingleObject(k->m[i], 0) != WAIT_OBJECT_0)
            fprintf(stderr, "keeper: could not take mutex %d\n", i);
    atomic_store(&k->ready, 1);
    for (;;) {
        int cmd = atomic_load(&k->cmd);
        if (cmd == K_IDLE) {
            usleep(100);
            continue;
        }
        int i = atomic_load(&k->arg);
        if (cmd == K_RELEASE && !RtReleaseMutex(k->m[i]))
            fprintf(stderr, "keeper: release %d failed: %u\n", i, GetLastError());
        if (cmd == K_TAKE)
            k->last = RtWaitForSingleObject(k->m[i], 5000);
        if (cmd == K_QUIT) {
            for (int j = 0; j < k->n; j++)
                RtReleaseMutex(k->m[j]);
            atomic_store(&k->cmd, K_IDLE);
            return NULL;
        }
        atomic_store(&k->cmd, K_IDLE);
    }
}

static void keeper_start(struct keeper *k, const HANDLE *m, int n)
{
    memset(k, 0, sizeof *k);
    memcpy(k->m, m, (size_t)n * sizeof *m);
    k->n = n;
    k->thread = sync_thread(keeper_main, k);
    while (!atomic_load(&k->ready))
        usleep(100);
}

static void keeper_do(struct keeper *k, int cmd, int i)
{
    atomic_store(&k->arg, i);
    atomic_store(&k->cmd, cmd);
    while (atomic_load(&k->cmd) != K_IDLE)
        usleep(100);
}

static void keeper_stop(struct keeper *k)
{
    keeper_do(k, K_QUIT, 0);
    pthread_join(k->thread, NULL);
}

/* ---- the 64 mixed objects: i%4 = 0 auto event, 1 manual event, 2 semaphore, 3 mutex ---- */

struct mixed {
    HANDLE h[MAXIMUM_WAIT_OBJECTS];
    struct keeper keeper;       /* owns the 16 mutexes */
};

static void mixed_make(struct mixed *x, const char *prefix)
{
    HANDLE mutexes[KEEP_MAX];
    for (int i = 0; i < MAXIMUM_WAIT_OBJECTS; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s%d", prefix ? prefix : "", i);
        const char *n = prefix ? name : NULL;
        switch (i % 4) {
        case 0: x->h[i] = RtCreateEvent(NULL, FALSE, FALSE, n); break;
        case 1: x->h[i] = RtCreateEvent(NULL, TRUE, FALSE, n); break;
        case 2: x->h[i] = RtCreateSemaphore(NULL, 0, 10, n); break;
        default: x->h[i] = RtCreateMutex(NULL, FALSE, n); mutexes[i / 4] = x->h[i]; break;
        }
        assert_non_null(x->h[i]);
    }
    keeper_start(&x->keeper, mutexes, KEEP_MAX);
}

static void mixed_signal(struct mixed *x, int i)
{
    switch (i % 4) {
    case 0:
    case 1: assert_true(RtSetEvent(x->h[i])); break;
    case 2: assert_true(RtReleaseSemaphore(x->h[i], 1, NULL)); break;
    default: keeper_do(&x->keeper, K_RELEASE, i / 4); break;
    }
}

/* After a waiter took object i (and released it if a mutex): back to unsignalled. */
static void mixed_restore(struct mixed *x, int i)
{
    if (i % 4 == 1)
        assert_true(RtResetEvent(x->h[i]));
    if (i % 4 == 3) {
        keeper_do(&x->keeper, K_TAKE, i / 4);
        assert_int_equal(x->keeper.last, WAIT_OBJECT_0);
    }
}

/* Every object unsignalled (checked from another thread, for the mutexes). */
static void mixed_check_unsignalled(struct mixed *x)
{
    struct sync_waiter w;
    sync_waiter_start_ex(&w, x->h, MAXIMUM_WAIT_OBJECTS, 0, true);
    sync_waiter_join(&w);
    if (w.result != WAIT_TIMEOUT)
        fail_msg("object %#x is signalled", w.result);
}

static void mixed_free(struct mixed *x)
{
    keeper_stop(&x->keeper);
    for (int i = 0; i < MAXIMUM_WAIT_OBJECTS; i++)
        assert_true(CloseHandle(x->h[i]));
}

/* ---- parameter and handle errors ------------------------------------------------- */

static void test_parameter_errors(void **state)
{
    (void)state;
    HANDLE list[MAXIMUM_WAIT_OBJECTS + 1];
    for (int i = 0; i <= MAXIMUM_WAIT_OBJECTS; i++)
        list[i] = RtCreateSemaphore(NULL, 1, 1, NULL);
    struct {
        DWORD n;
        const HANDLE *l;
        BOOLEAN all;
    } bad[] = {{0, list, FALSE}, {MAXIMUM_WAIT_OBJECTS + 1, list, FALSE}, {1000, list, FALSE}, {0xFFFFFFFFu, list, FALSE},
               {1, NULL, FALSE}, {1, list, TRUE}, {2, list, TRUE}, {MAXIMUM_WAIT_OBJECTS, list, TRUE}, {0, NULL, TRUE}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (DWORD ms = 0; ms < 2; ms++) {
            SetLastError(0);
            DWORD r = RtWaitForMultipleObjects(bad[i].n, bad[i].l, bad[i].all, ms ? INFINITE : 0);
            if (r != WAIT_FAILED || GetLastError() != ERROR_INVALID_PARAMETER)
                fail_msg("case %zu: %#x, error %u", i, r, GetLastError());
        }
    /* Nothing was consumed; 64 is accepted. */
    for (int i = 0; i < MAXIMUM_WAIT_OBJECTS; i++)
        assert_int_equal(RtWaitForMultipleObjects(MAXIMUM_WAIT_OBJECTS, list, FALSE, 0), WAIT_OBJECT_0 + (DWORD)i);
    assert_int_equal(RtWaitForMultipleObjects(MAXIMUM_WAIT_OBJECTS, list, FALSE, 0), WAIT_TIMEOUT);
    assert_int_equal(RtWaitForSingleObject(list[MAXIMUM_WAIT_OBJECTS], 0), WAIT_OBJECT_0);
    for (int i = 0; i <= MAXIMUM_WAIT_OBJECTS; i++)
        assert_true(CloseHandle(list[i]));
}

static void test_handle_errors(void **state)
{
    (void)state;
    void *loc;
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, NULL, &loc);
    assert_non_null(shm);
    HANDLE closed = RtCreateEvent(NULL, TRUE, TRUE, NULL);
    assert_true(CloseHandle(closed));
    HANDLE s = RtCreateSemaphore(NULL, 1, 1, NULL), e = RtCreateEvent(NULL, FALSE, TRUE, NULL);
    HANDLE bad[] = {NULL, (HANDLE)(uintptr_t)4, (HANDLE)(uintptr_t)0x10000, (HANDLE)(uintptr_t)0x12345678,
                    (HANDLE)(uintptr_t)-1, closed, shm};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SetLastError(0);
        DWORD r = RtWaitForSingleObject(bad[i], 0);
        if (r != WAIT_FAILED || GetLastError() != ERROR_INVALID_HANDLE)
            fail_msg("single, bad handle %zu: %#x, error %u", i, r, GetLastError());
        SetLastError(0);
        r = RtWaitForSingleObject(bad[i], INFINITE); /* fails at once, never blocks */
        if (r != WAIT_FAILED || GetLastError() != ERROR_INVALID_HANDLE)
            fail_msg("single INFINITE, bad handle %zu: %#x, error %u", i, r, GetLastError());
        /* Anywhere in a list whose other objects are signalled. */
        HANDLE lists[3][3] = {{bad[i], s, e}, {s, bad[i], e}, {s, e, bad[i]}};
        for (int l = 0; l < 3; l++) {
            SetLastError(0);
            r = RtWaitForMultipleObjects(3, lists[l], FALSE, 100);
            if (r != WAIT_FAILED || GetLastError() != ERROR_INVALID_HANDLE)
                fail_msg("multi, bad handle %zu at %d: %#x, error %u", i, l, r, GetLastError());
        }
    }
    /* None of the good objects was consumed. */
    assert_int_equal(RtWaitForSingleObject(s, 0), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0);
    assert_true(RtUnmapSharedMemory(loc));
    assert_true(CloseHandle(shm));
    assert_true(CloseHandle(s));
    assert_true(CloseHandle(e));
}

/* ---- lowest index wins, only it is consumed --------------------------------------------- */

static void test_lowest_index_wins_only_it_consumed(void **state)
{
    (void)state;
    HANDLE e0 = RtCreateEvent(NULL, FALSE, FALSE, NULL);  /* unsignalled */
    HANDLE s1 = RtCreateSemaphore(NULL, 2, 5, NULL);      /* two units */
    HANDLE e2 = RtCreateEvent(NULL, FALSE, TRUE, NULL);   /* auto, set */
    HANDLE m3 = RtCreateMutex(NULL, FALSE, NULL);         /* free */
    HANDLE e4 = RtCreateEvent(NULL, TRUE, TRUE, NULL);    /* manual, set */
    HANDLE l[5] = {e0, s1, e2, m3, e4};
    SetLastError(0x7777);
    assert_int_equal(RtWaitForMultipleObjects(5, l, FALSE, 0), WAIT_OBJECT_0 + 1);
    assert_int_equal(RtWaitForMultipleObjects(5, l, FALSE, 100), WAIT_OBJECT_0 + 1);
    assert_int_equal(GetLastError(), 0x7777);
    /* The semaphore gave two units; the others are untouched. */
    LONG prev = -1;
    assert_true(RtReleaseSemaphore(s1, 1, &prev));
    assert_int_equal(prev, 0);
    assert_int_equal(RtWaitForSingleObject(s1, 0), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForMultipleObjects(5, l, FALSE, INFINITE), WAIT_OBJECT_0 + 2); /* e2 now */
    assert_int_equal(RtWaitForSingleObject(e2, 0), WAIT_TIMEOUT);                        /* consumed */
    struct sync_waiter w;
    sync_waiter_start_ex(&w, &m3, 1, 0, true); /* the mutex is still free: another thread gets it */
    sync_waiter_join(&w);
    assert_int_equal(w.result, WAIT_OBJECT_0);
    assert_int_equal(RtWaitForMultipleObjects(5, l, FALSE, 0), WAIT_OBJECT_0 + 3); /* m3: ours now */
    sync_waiter_start_ex(&w, &m3, 1, 0, true);
    sync_waiter_join(&w);
    assert_int_equal(w.result, WAIT_TIMEOUT);
    HANDLE l2[2] = {e0, e4};
    assert_int_equal(RtWaitForMultipleObjects(2, l2, FALSE, 0), WAIT_OBJECT_0 + 1); /* e4 still set */
    assert_true(RtReleaseMutex(m3));
    /* The same object twice: consumed once. */
    assert_true(RtSetEvent(e0));
    HANDLE twice[3] = {e0, e0, s1};
    assert_int_equal(RtWaitForMultipleObjects(3, twice, FALSE, 0), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForMultipleObjects(3, twice, FALSE, 0), WAIT_TIMEOUT);
    for (int i = 0; i < 5; i++)
        assert_true(CloseHandle(l[i]));
}

/* A sleeping multi-object waiter is woken by each kind of object. */
static void test_blocked_multi_woken_by_each_kind(void **state)
{
    (void)state;
    struct mixed x;
    mixed_make(&x, NULL);
    for (int k = 0; k < 8; k++) {
        struct sync_waiter w;
        sync_waiter_start_ex(&w, x.h, 4, INFINITE, true);
        assert_true(sync_waiter_blocked(&w));
        assert_true(sync_task_in_waitv(getpid(), w.tid, 5000));
        mixed_signal(&x, k % 4);
        sync_waiter_join(&w);
        assert_int_equal(w.result, WAIT_OBJECT_0 + (DWORD)(k % 4));
        assert_int_equal(w.error, 0x5eed);
        mixed_restore(&x, k % 4);
        mixed_check_unsignalled(&x);
    }
    mixed_free(&x);
}

/* ---- 64 objects of mixed types ---------------------------------------------------------------- */

static void test_64_mixed_in_process(void **state)
{
    (void)state;
    struct mixed x;
    mixed_make(&x, NULL);
    mixed_check_unsignalled(&x);
    static const int ks[] = {0, 1, 2, 3, 21, 42, 47, 62, 63};
    for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
        int k = ks[j];
        struct sync_waiter w;
        sync_waiter_start_ex(&w, x.h, MAXIMUM_WAIT_OBJECTS, INFINITE, true);
        assert_true(sync_waiter_blocked(&w));
        if (j == 0) { /* asleep, not polling */
            long before = sync_task_switches(getpid(), w.tid);
            sync_sleep_ms(300);
            long after = sync_task_switches(getpid(), w.tid);
            if (before == LONG_MIN || after - before > 1)
                fail_msg("a waiter on 64 objects was switched out %ld times in 300 ms", after - before);
        }
        int64_t t0 = sync_now_us();
        mixed_signal(&x, k);
        sync_waiter_join(&w);
        if (w.result != WAIT_OBJECT_0 + (DWORD)k)
            fail_msg("signalled %d, got %#x", k, w.result);
        if (k % 4 != 3 && w.woke_us - t0 > SYNC_WAKE_US)
            fail_msg("woke %lld us after the signal", (long long)(w.woke_us - t0));
        mixed_restore(&x, k);
        mixed_check_unsignalled(&x);
    }
    /* Several signalled: the lowest index each time, one consumed each time. */
    static const int several[] = {50, 33, 10, 63, 7};
    for (int i = 0; i < 5; i++)
        mixed_signal(&x, several[i]);
    static const int order[] = {7, 10, 33, 50, 63};
    for (int i = 0; i < 5; i++) {
        struct sync_waiter w;
        sync_waiter_start_ex(&w, x.h, MAXIMUM_WAIT_OBJECTS, 0, true);
        sync_waiter_join(&w);
        if (w.result != WAIT_OBJECT_0 + (DWORD)order[i])
            fail_msg("step %d: want %d, got %#x", i, order[i], w.result);
        mixed_restore(&x, order[i]);
    }
    mixed_check_unsignalled(&x);
    mixed_free(&x);
}

/* A peer in another process waits on the same 64 named objects. */
static void test_64_mixed_across_processes(void **state)
{
    (void)state;
    char prefix[64];
    SYNC_NAME(prefix, "mix64-");
    struct mixed x;
    mixed_make(&x, prefix);
    static const int ks[] = {62, 1, 0, 40};
    for (int j = 0; j < 4; j++) {
        int k = ks[j];
        struct tn_peer p;
        tn_peer_start(&p, NULL, "mix", prefix, "64", "wall", "-1", NULL);
        long n;
        assert_true(sync_peer_ok(&p, &n));
        assert_int_equal(n, 64);
        assert_true(sync_peer_blocked(&p));
        assert_true(sync_task_in_waitv(p.pid, p.pid, 5000));
        int64_t t0 = sync_now_us(), woke = 0;
        mixed_signal(&x, k);
        DWORD r;
        assert_true(sync_peer_waited(&p, &r, &woke));
        assert_int_equal(r, WAIT_OBJECT_0 + (DWORD)k);
        if (woke - t0 > SYNC_WAKE_US)
            fail_msg("peer woke %lld us after the signal", (long long)(woke - t0));
        assert_true(sync_peer_done(&p));
        mixed_restore(&x, k);
        mixed_check_unsignalled(&x);
    }
    mixed_free(&x);
}

/* ---- timeouts ---------------------------------------------------------------------------------- */

/* The time this thread has spent runnable but waiting for a CPU
 * (/proc/thread-self/schedstat's second field, ns): how much of a wait's
 * lateness the machine's load, not the wait, made. */
static int64_t runqueue_wait_ns(void)
{
    FILE *f = fopen("/proc/thread-self/schedstat", "re");
    unsigned long long on_cpu = 0, queued = 0;
    if (f == NULL || fscanf(f, "%llu %llu", &on_cpu, &queued) != 2)
        fail_msg("/proc/thread-self/schedstat: unreadable");
    fclose(f);
    return (int64_t)queued;
}

/* Runs a wait expected to time out after ms; checks result, duration, last
 * error.  Never early; late by at most 30 ms once the time the thread
 * waited for a CPU after its wake is taken off - twice in a row, since a
 * loaded machine (CI's neighbours, a stolen vCPU the run queue doesn't
 * see) can hold any one wake back by tens of ms, where a wait that times
 * out late on its own is late every time.  A poll (0 ms) never sleeps:
 * judged by this thread's voluntary switches (a sleep, however short, is
 * one), not by its wall time, which CPU taken from the thread stretches
 * (counted as involuntary switches only). */
static void check_timeout(const char *what, const HANDLE *h, DWORD n, DWORD ms)
{
    int64_t took = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        SetLastError(0xbeef);
        long slept = voluntary_switches();
        int64_t queued = runqueue_wait_ns();
        int64_t t0 = sync_now_us();
        DWORD r = n == 1 ? RtWaitForSingleObject(h[0], ms) : RtWaitForMultipleObjects(n, h, FALSE, ms);
        took = sync_now_us() - t0;
        queued = runqueue_wait_ns() - queued;
        slept = voluntary_switches() - slept;
        if (r != WAIT_TIMEOUT)
            fail_msg("%s, %u ms: %#x", what, ms, r);
        if (GetLastError() != 0xbeef)
            fail_msg("%s, %u ms: timeout changed the last error to %u", what, ms, GetLastError());
        if (took < (int64_t)ms * 1000)
            fail_msg("%s: asked %u ms, returned early after %lld us", what, ms, (long long)took);
        if (ms == 0 && slept != 0)
            fail_msg("%s: a poll slept (%ld voluntary switches, %lld us)", what, slept, (long long)took);
        if (ms == 0 || took - queued / 1000 < ((int64_t)ms + 30) * 1000)
            return;
        fprintf(stderr, "%s: asked %u ms, took %lld us, %lld us of it waiting for a CPU\n", what, ms,
                (long long)took, (long long)queued / 1000);
    }
    fail_msg("%s: asked %u ms, late twice", what, ms);
}

static void test_timeouts(void **state)
{
    (void)state;
    struct mixed x;
    mixed_make(&x, NULL); /* the mutexes are owned by the keeper thread */
    static const DWORD times[] = {0, 50, 200};
    for (int t = 0; t < 3; t++) {
        check_timeout("auto event", &x.h[0], 1, times[t]);
        check_timeout("manual event", &x.h[1], 1, times[t]);
        check_timeout("semaphore", &x.h[2], 1, times[t]);
        check_timeout("mutex owned elsewhere", &x.h[3], 1, times[t]);
        check_timeout("4 objects", x.h, 4, times[t]);
        check_timeout("64 objects", x.h, MAXIMUM_WAIT_OBJECTS, times[t]);
    }
    check_timeout("semaphore, 1 ms", &x.h[2], 1, 1);
    check_timeout("64 objects, 1 ms", x.h, MAXIMUM_WAIT_OBJECTS, 1);
    mixed_check_unsignalled(&x);
    mixed_free(&x);
}

/* A timeout of 0 polls: signalled objects are taken, never a sleep.  Judged
 * by this thread's voluntary switches (a sleep, however short, is one), not
 * by the wall time the call took: CPU time taken from it (a loaded or
 * stolen vCPU) counts as involuntary switches only. */
static void test_zero_timeout_polls(void **state)
{
    (void)state;
    HANDLE e = RtCreateEvent(NULL, FALSE, TRUE, NULL), s = RtCreateSemaphore(NULL, 1, 1, NULL);
    HANDLE m = RtCreateMutex(NULL, FALSE, NULL);
    HANDLE list[3] = {e, s, m};
    for (int i = 0; i < 3; i++) {
        SetLastError(0xabc);
        long before = voluntary_switches();
        assert_int_equal(RtWaitForSingleObject(list[i], 0), WAIT_OBJECT_0);
        assert_int_equal(voluntary_switches() - before, 0);
        assert_int_equal(GetLastError(), 0xabc);
    }
    assert_true(RtReleaseMutex(m));
    assert_true(RtSetEvent(e));
    assert_true(RtReleaseSemaphore(s, 1, NULL));
    for (int i = 0; i < 3; i++)
        assert_int_equal(RtWaitForMultipleObjects(3, list, FALSE, 0), WAIT_OBJECT_0 + (DWORD)i);
    assert_true(RtReleaseMutex(m));
    assert_int_equal(RtWaitForMultipleObjects(2, list, FALSE, 0), WAIT_TIMEOUT);
    for (int i = 0; i < 3; i++)
        assert_true(CloseHandle(list[i]));
}

/* The last error is left alone by a wait that succeeds, including after an
 * earlier failure set it. */
static void test_last_error_left_alone(void **state)
{
    (void)state;
    HANDLE e = RtCreateEvent(NULL, TRUE, TRUE, NULL), s = RtCreateSemaphore(NULL, 5, 5, NULL);
    HANDLE m = RtCreateMutex(NULL, FALSE, NULL);
    HANDLE list[3] = {e, s, m};
    assert_int_equal(RtWaitForSingleObject(NULL, 0), WAIT_FAILED);
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(RtWaitForSingleObject(list[i], 10), WAIT_OBJECT_0);
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
        assert_int_equal(RtWaitForMultipleObjects(3 - (DWORD)i, list + i, FALSE, INFINITE), WAIT_OBJECT_0);
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    }
    assert_true(RtReleaseMutex(m));
    assert_true(RtReleaseMutex(m));
    SetLastError(0);
    assert_int_equal(RtWaitForSingleObject(m, INFINITE), WAIT_OBJECT_0);
    assert_int_equal(GetLastError(), 0);
    assert_true(RtReleaseMutex(m));
    for (int i = 0; i < 3; i++)
        assert_true(CloseHandle(list[i]));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parameter_errors),
        cmocka_unit_test(test_handle_errors),
        cmocka_unit_test(test_lowest_index_wins_only_it_consumed),
        cmocka_unit_test(test_blocked_multi_woken_by_each_kind),
        cmocka_unit_test(test_64_mixed_in_process),
        cmocka_unit_test(test_64_mixed_across_processes),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_zero_timeout_polls),
        cmocka_unit_test(test_last_error_left_alone),
    };
    return SYNC_RUN("sync_wait", tests);
}
