/*
 * SPEC 9: a timer handle is waitable, as a Win32 synchronization timer
 * (CreateWaitableTimer, bManualReset FALSE): signalled at each expiry, as
 * the timer's thread takes it and before the routine runs; one expiry
 * releases one wait (auto-reset), and expiries nobody waited for leave it
 * signalled once (no burst).  RtSetTimer resets a pending signal (Win32's
 * KeSetTimer: "sets the timer to a not-signaled state"), RtCancelTimer
 * keeps it (CancelWaitableTimer "does not change the signaled state").
 * A wait whose timer is closed under it ends by its timeout: the close
 * stops the timer, the wait's reference only keeps its memory.
 *
 * Timers are SCHED_FIFO: where this process may not use it, the cases
 * skip, saying so.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"
#include "timer_util.h"

#define PRIO 60            /* RTX: FIFO 32 */

static VOID RTFCNDCL count_run(PVOID context) { atomic_fetch_add((atomic_int *)context, 1); }

/* A timer counting its runs in *runs, or the case skipped where this
 * process may not use SCHED_FIFO. */
static HANDLE make_counting_timer(atomic_int *runs) { return make_timer(count_run, runs, PRIO); }

static void set_relative(HANDLE h, LONGLONG first, LONGLONG period)
{
    LARGE_INTEGER e = {.QuadPart = first}, p = {.QuadPart = period};
    assert_true(RtSetTimerRelative(h, &e, &p));
}

/* A 2 ms periodic timer waited 20 times: each wait returns at or after its
 * own expiry on the grid (the i-th wait takes at most the i-th expiry: no
 * wait is released early), and the routine still runs at each. */
static void test_periodic_wait(void **state)
{
    (void)state;
    static atomic_int runs;
    atomic_store(&runs, 0);
    HANDLE h = make_counting_timer(&runs);
    LONGLONG start = clock_now();
    set_relative(h, 2 * MS, 2 * MS);
    for (int i = 1; i <= 20; i++) {
        assert_int_equal(RtWaitForSingleObject(h, 1000), WAIT_OBJECT_0);
        assert_true(clock_now() >= start + i * 2 * MS);
    }
    assert_true(RtCancelTimer(h, NULL));
    assert_true(atomic_load(&runs) >= 20);
    assert_true(CloseHandle(h));
}

static void test_wait_multiple(void **state)
{
    (void)state;
    static atomic_int runs;
    atomic_store(&runs, 0);
    HANDLE h = make_counting_timer(&runs);
    HANDLE ev = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    assert_non_null(ev);
    set_relative(h, 5 * MS, 0);
    HANDLE both[2] = {ev, h};
    assert_int_equal(RtWaitForMultipleObjects(2, both, FALSE, 1000), WAIT_OBJECT_0 + 1);
    assert_int_equal(RtWaitForMultipleObjects(2, both, FALSE, 20), WAIT_TIMEOUT);
    assert_true(CloseHandle(ev));
    assert_true(CloseHandle(h));
}

static void test_one_shot_once(void **state)
{
    (void)state;
    static atomic_int runs;
    atomic_store(&runs, 0);
    HANDLE h = make_counting_timer(&runs);
    assert_int_equal(RtWaitForSingleObject(h, 0), WAIT_TIMEOUT); /* created reset */
    set_relative(h, 5 * MS, 0);
    assert_int_equal(RtWaitForSingleObject(h, 1000), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(h, 50), WAIT_TIMEOUT);
    assert_int_equal(atomic_load(&runs), 1);
    assert_true(CloseHandle(h));
}

static HANDLE waited;
static atomic_int released, timed_out;

static void *wait_300(void *arg)
{
    (void)arg;
    DWORD r = RtWaitForSingleObject(waited, 300);
    atomic_fetch_add(r == WAIT_OBJECT_0 ? &released : &timed_out, 1);
    return NULL;
}

/* Auto-reset: two waiters, one expiry, one released. */
static void test_one_expiry_releases_one(void **state)
{
    (void)state;
    static atomic_int runs;
    atomic_store(&runs, 0);
    waited = make_counting_timer(&runs);
    atomic_store(&released, 0);
    atomic_store(&timed_out, 0);
    pthread_t a, b;
    assert_int_equal(pthread_create(&a, NULL, wait_300, NULL), 0);
    assert_int_equal(pthread_create(&b, NULL, wait_300, NULL), 0);
    sleep_ms(30); /* both asleep on it */
    set_relative(waited, 10 * MS, 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    assert_int_equal(atomic_load(&released), 1);
    assert_int_equal(atomic_load(&timed_out), 1);
    assert_true(CloseHandle(waited));
}

/* Five expiries nobody waited for: signalled once; the next wait waits
 * for the next expiry. */
static void test_no_burst(void **state)
{
    (void)state;
    static atomic_int runs;
    atomic_store(&runs, 0);
    HANDLE h = make_counting_timer(&runs);
    LONGLONG start = clock_now();
    set_relative(h, 10 * MS, 10 * MS);
    for (int i = 0; i < 2000 && atomic_load(&runs) < 5; i++) /* 50 ms, on a loaded machine more */
        sleep_ms(1);
    assert_true(atomic_load(&runs) >= 5);
    assert_int_equal(RtWaitForSingleObject(h, 0), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(h, 0), WAIT_TIMEOUT);
    int before = atomic_load(&runs);
    assert_int_equal(RtWaitForSingleObject(h, 1000), WAIT_OBJECT_0);
    assert_true(clock_now() >= start + (before + 1) * 10 * MS);
    assert_true(CloseHandle(h));
}

/* runs once it has reached n (5 s at most). */
static int runs_reach(atomic_int *runs, int n)
{
    for (int i = 0; i < 5000 && atomic_load(runs) < n; i++)
        sleep_ms(1);
    return atomic_load(runs);
}

/* Set resets a pending signal; Cancel keeps it.  Each expiry is waited for
 * (its run counted), not assumed 20 ms after a 1 ms Set: a timer thread
 * held back longer (a loaded or stolen vCPU) had not expired yet. */
static void test_set_resets_cancel_keeps(void **state)
{
    (void)state;
    static atomic_int runs;
    atomic_store(&runs, 0);
    HANDLE h = make_counting_timer(&runs);
    set_relative(h, 1 * MS, 0);
    assert_int_equal(runs_reach(&runs, 1), 1);
    set_relative(h, 10000 * MS, 0); /* expired, so inactive: Set resets it */
    assert_int_equal(RtWaitForSingleObject(h, 0), WAIT_TIMEOUT);
    assert_true(RtCancelTimer(h, NULL));
    set_relative(h, 1 * MS, 0);
    assert_int_equal(runs_reach(&runs, 2), 2);
    assert_true(RtCancelTimer(h, NULL)); /* inactive already: the signal stays */
    assert_int_equal(RtWaitForSingleObject(h, 0), WAIT_OBJECT_0);
    set_relative(h, 1 * MS, 10000 * MS);
    assert_int_equal(runs_reach(&runs, 3), 3);
    assert_true(RtCancelTimer(h, NULL)); /* active, periodic: the signal stays */
    assert_int_equal(RtWaitForSingleObject(h, 0), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(h, 0), WAIT_TIMEOUT);
    assert_true(CloseHandle(h));
}

static atomic_int close_wait, close_waiter;

static void *wait_1000(void *arg)
{
    (void)arg;
    atomic_store(&close_waiter, (int)syscall(SYS_gettid));
    atomic_store(&close_wait, (int)RtWaitForSingleObject(waited, 1000));
    return NULL;
}

/* CloseHandle while a thread waits: the timer stops (the routine does not
 * run, no expiry), and the wait ends by its timeout.  The waiter is seen
 * asleep in its wait first, then the timer set and closed at once: its
 * 200 ms, well inside the 1000 ms wait, are all the room a late close has
 * (before: set, then a 30 ms sleep for the waiter to get there, leaving 70
 * ms of the 100 ms due). */
static void test_close_under_wait(void **state)
{
    (void)state;
    static atomic_int runs;
    atomic_store(&runs, 0);
    waited = make_counting_timer(&runs);
    atomic_store(&close_wait, -1);
    atomic_store(&close_waiter, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_1000, NULL), 0);
    for (int i = 0; i < 5000 && (atomic_load(&close_waiter) == 0 || tn_thread_state(atomic_load(&close_waiter)) != 'S');
         i++)
        sleep_ms(1);
    assert_int_equal(tn_thread_state(atomic_load(&close_waiter)), 'S');
    set_relative(waited, 200 * MS, 20 * MS);
    assert_true(CloseHandle(waited));
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&close_wait), WAIT_TIMEOUT);
    assert_int_equal(atomic_load(&runs), 0);
}

int main(void)
{
    tn_setup("timer_wait");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periodic_wait),
        cmocka_unit_test(test_wait_multiple),
        cmocka_unit_test(test_one_shot_once),
        cmocka_unit_test(test_one_expiry_releases_one),
        cmocka_unit_test(test_no_burst),
        cmocka_unit_test(test_set_resets_cancel_keeps),
        cmocka_unit_test(test_close_under_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
