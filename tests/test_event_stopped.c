/*
 * SPEC 6, an auto-reset event signalled while its waiters are registered
 * but not asleep: other processes stopped (SIGSTOP: a debugger, Ctrl-Z, or
 * just a preemption) at the crash point "wait.registered", between their
 * registration and their first poll.  A Set's wake then finds nobody
 * asleep and turns its token into the signalled state (event.c); a Pulse
 * after it must still leave the event reset once the waiters have run,
 * whichever of them takes what: Set then Pulse release at most two present
 * waiters and never leave the event set.  And a Set whose only old waiter
 * was killed reaches a waiter that came to sleep during the Set (the
 * setter stopped at "event.signalled", between its state change and its
 * wake).  A manual-reset event's waiter stopped through 32768 Pulses is
 * released by them.
 *
 * Linked with the tests' copy of the library: the waiters and the setter
 * stop themselves at a crash point (iw_crash_point_stop_at).
 */
#include "crash_point.h"
#include "sync_util.h"

/* A process that waits on the n handles h, stopped once registered; it
 * exits with the wait's result (WAIT_TIMEOUT after 5 s). */
static pid_t stopped_waiter(const HANDLE *h, DWORD n)
{
    pid_t pid = tn_fork(); /* tn_teardown kills it if the test fails */
    if (pid == 0) {
        iw_crash_point_stop_at("wait.registered");
        _exit((int)RtWaitForMultipleObjects(n, h, FALSE, 5000));
    }
    if (!tn_wait_stopped(pid))
        fail_msg("the waiter did not stop once registered");
    return pid;
}

static DWORD result_of(pid_t pid)
{
    kill(pid, SIGCONT);
    int status = tn_wait(pid, TN_TIMEOUT_MS);
    assert_true(WIFEXITED(status));
    return (DWORD)WEXITSTATUS(status);
}

/* One waiter registered twice (the same handle twice in one wait): Set
 * releases it, and the Pulse after finds no other waiter - the event ends
 * reset. */
static void test_set_pulse_one_waiter_registered_twice(void **state)
{
    (void)state;
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    assert_non_null(e);
    HANDLE h[2] = {e, e};
    pid_t w = stopped_waiter(h, 2);
    assert_true(RtSetEvent(e));
    assert_true(RtPulseEvent(e));
    DWORD r = result_of(w);
    assert_true(r == WAIT_OBJECT_0 || r == WAIT_OBJECT_0 + 1);
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT); /* not left set */
    assert_true(CloseHandle(e));
}

/* Two waiters; one of them takes a semaphore unit instead (index 0 of its
 * wait), as a multi-object wait may at any moment: the other is released,
 * and the event ends reset. */
static void test_set_pulse_one_waiter_takes_another_object(void **state)
{
    (void)state;
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    HANDLE s = RtCreateSemaphore(NULL, 0, 1, NULL);
    assert_non_null(e);
    assert_non_null(s);
    HANDLE both[2] = {s, e};
    pid_t w1 = stopped_waiter(&e, 1);
    pid_t w2 = stopped_waiter(both, 2);
    assert_true(RtSetEvent(e));
    assert_true(RtPulseEvent(e));
    assert_true(RtReleaseSemaphore(s, 1, NULL));
    assert_int_equal(result_of(w2), WAIT_OBJECT_0); /* the unit: polled first */
    assert_int_equal(result_of(w1), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT); /* not left set */
    assert_true(CloseHandle(s));
    assert_true(CloseHandle(e));
}

/* A waiter killed while registered stays an old waiter (event.c), and a
 * Set hands it a token.  A new waiter that registers and goes to sleep
 * between the Set's state change and its wake (the setter stopped at
 * "event.signalled") is woken by that wake: the wake must not count it as
 * the token's taker - the Set would be lost, the new waiter asleep to its
 * timeout though the event was Set after the only other waiter died. */
static void test_set_for_dead_waiter_reaches_newcomer(void **state)
{
    (void)state;
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    assert_non_null(e);
    pid_t dead = tn_fork();
    if (dead == 0)
        _exit((int)RtWaitForSingleObject(e, INFINITE));
    while (!sync_task_blocked(dead, dead, 5000))
        ;
    kill(dead, SIGKILL);
    assert_true(tn_killed_by(tn_wait(dead, TN_TIMEOUT_MS), SIGKILL));
    pid_t setter = tn_fork();
    if (setter == 0) {
        iw_crash_point_stop_at("event.signalled");
        _exit(RtSetEvent(e) ? 0 : 1);
    }
    if (!tn_wait_stopped(setter))
        fail_msg("the setter did not stop before its wake");
    pid_t newcomer = tn_fork();
    if (newcomer == 0)
        _exit((int)RtWaitForSingleObject(e, 5000));
    assert_true(sync_task_blocked(newcomer, newcomer, 5000));
    kill(setter, SIGCONT);
    assert_true(tn_exited_ok(tn_wait(setter, TN_TIMEOUT_MS)));
    int status = tn_wait(newcomer, TN_TIMEOUT_MS);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), WAIT_OBJECT_0);
    assert_true(CloseHandle(e));
}

/* A Set releases the waiter registered when it comes, even if it is not
 * asleep yet: the Set's wake finds nobody asleep and turns its token into
 * the signalled state, which stands for that waiter - a Pulse after it has
 * no other waiter to release and must not take it away (it did: the waiter
 * slept to its timeout). */
static void test_set_pulse_one_waiter(void **state)
{
    (void)state;
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    assert_non_null(e);
    pid_t w = stopped_waiter(&e, 1);
    assert_true(RtSetEvent(e));
    assert_true(RtPulseEvent(e));
    assert_int_equal(result_of(w), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT); /* not left set */
    assert_true(CloseHandle(e));
}

/* The same for a second Set: the first one's signalled state is the
 * registered waiter's, so the second finds no other waiter and leaves the
 * event set (it was absorbed: the event ended reset). */
static void test_set_set_one_waiter(void **state)
{
    (void)state;
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    assert_non_null(e);
    pid_t w = stopped_waiter(&e, 1);
    assert_true(RtSetEvent(e));
    assert_true(RtSetEvent(e));
    assert_int_equal(result_of(w), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0); /* the second Set */
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    assert_true(CloseHandle(e));
}

/* A registration left by a waiter killed while waiting looks like a waiter
 * that has not polled yet; a Set with no live waiter leaves the event set
 * (its token turned into the signalled state: release_sleepers), and a
 * Pulse after it still resets it, as with no waiter at all. */
static void test_pulse_after_dead_waiter_resets(void **state)
{
    (void)state;
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    assert_non_null(e);
    pid_t dead = stopped_waiter(&e, 1);
    kill(dead, SIGKILL);
    assert_true(tn_killed_by(tn_wait(dead, TN_TIMEOUT_MS), SIGKILL));
    for (int i = 0; i < 3; i++) {
        assert_true(RtSetEvent(e));
        assert_true(RtPulseEvent(e));
        assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    }
    assert_true(RtSetEvent(e));
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0);
    assert_true(CloseHandle(e));
}

/* Two Sets, one live waiter and one killed while registered (an old
 * waiter for good, event.c): the live one is released and the event ends
 * set - the other Set is not lost to the dead registration.  Both Sets
 * come while the waiters are registered but not asleep: the first one's
 * token turns into the signalled state, the second's stays beside it.
 * The live waiter must take the Set's token and leave the signalled state
 * (taking the signalled state, it left the token to the dead waiter, for
 * good). */
static void test_two_sets_dead_waiter_leave_set(void **state)
{
    (void)state;
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    assert_non_null(e);
    pid_t dead = stopped_waiter(&e, 1);
    kill(dead, SIGKILL);
    assert_true(tn_killed_by(tn_wait(dead, TN_TIMEOUT_MS), SIGKILL));
    pid_t live = stopped_waiter(&e, 1);
    assert_true(RtSetEvent(e));
    assert_true(RtSetEvent(e));
    assert_int_equal(result_of(live), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0); /* the second Set */
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    assert_true(CloseHandle(e));
}

/* A manual-reset event's waiter stopped (SIGSTOP: a debugger, Ctrl-Z)
 * while asleep, through 32768 Pulses: each released it, and it returns
 * once resumed, instead of taking itself for a new waiter (a 15-bit
 * generation back where it registered) and sleeping to its timeout. */
static void test_manual_waiter_stopped_through_pulses(void **state)
{
    (void)state;
    HANDLE e = RtCreateEvent(NULL, TRUE, FALSE, NULL);
    assert_non_null(e);
    pid_t w = tn_fork();
    if (w == 0)
        _exit((int)RtWaitForSingleObject(e, 5000));
    assert_true(sync_task_blocked(w, w, 5000));
    kill(w, SIGSTOP);
    if (!tn_wait_stopped(w))
        fail_msg("the waiter did not stop");
    for (int i = 0; i < 32768; i++)
        assert_true(RtPulseEvent(e));
    kill(w, SIGCONT);
    int status = tn_wait(w, TN_TIMEOUT_MS);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT); /* left reset */
    /* Past those bumps, a waiter that leaves (times out) releases no other. */
    struct sync_waiter brief, longer;
    sync_waiter_start(&longer, e, 400);
    sync_waiter_start(&brief, e, 50);
    sync_waiter_join(&brief);
    sync_waiter_join(&longer);
    assert_int_equal(brief.result, WAIT_TIMEOUT);
    assert_int_equal(longer.result, WAIT_TIMEOUT);
    assert_true(CloseHandle(e));
}

int main(int argc, char **argv)
{
    tn_select_tests(argc, argv);
    tn_setup("event_stopped");
    unsetenv("IWIN32_CRASH_AT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_set_pulse_one_waiter_registered_twice, tn_teardown),
        cmocka_unit_test_teardown(test_set_pulse_one_waiter_takes_another_object, tn_teardown),
        cmocka_unit_test_teardown(test_set_for_dead_waiter_reaches_newcomer, tn_teardown),
        cmocka_unit_test_teardown(test_set_pulse_one_waiter, tn_teardown),
        cmocka_unit_test_teardown(test_set_set_one_waiter, tn_teardown),
        cmocka_unit_test_teardown(test_pulse_after_dead_waiter_resets, tn_teardown),
        cmocka_unit_test_teardown(test_two_sets_dead_waiter_leave_set, tn_teardown),
        cmocka_unit_test_teardown(test_manual_waiter_stopped_through_pulses, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
