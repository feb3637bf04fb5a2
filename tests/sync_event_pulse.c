/*
 * SPEC 6, events pulsed: PulseEvent releases only the waiters present (a
 * manual-reset event all of them, an auto-reset one exactly one per Pulse,
 * k Pulses k of 8 waiters in single and multi-object waits and in other
 * processes) and leaves the event reset; a later waiter is not released; all
 * of it between threads and between processes.  Set, Reset and the waiters
 * between threads and processes: sync_event.c; the helpers they share:
 * sync_event_util.h.
 */
#include "sync_event_util.h"

/* ---- Pulse --------------------------------------------------------------------- */

static void test_pulse_manual_releases_present_waiters(void **state)
{
    (void)state;
    HANDLE e = new_event(TRUE, FALSE);
    struct sync_waiter w[3];
    for (int i = 0; i < 3; i++)
        sync_waiter_start(&w[i], e, INFINITE);
    for (int i = 0; i < 3; i++)
        assert_true(sync_waiter_blocked(&w[i]));
    assert_true(RtPulseEvent(e));
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT); /* left reset */
    for (int i = 0; i < 3; i++) {
        sync_waiter_join(&w[i]);
        assert_int_equal(w[i].result, WAIT_OBJECT_0);
    }
    /* A waiter arriving after the pulse is not released by it. */
    struct sync_waiter late;
    sync_waiter_start(&late, e, INFINITE);
    assert_true(sync_waiter_blocked(&late));
    sync_sleep_ms(QUIET_MS);
    assert_false(atomic_load(&late.done));
    assert_true(RtSetEvent(e));
    sync_waiter_join(&late);
    assert_int_equal(late.result, WAIT_OBJECT_0);
    /* Pulse with no waiter on a set event: reset, nobody released later. */
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0);
    assert_true(RtPulseEvent(e));
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    assert_int_equal(RtWaitForSingleObject(e, 20), WAIT_TIMEOUT);
    assert_true(CloseHandle(e));
}

static void test_pulse_auto_releases_one_present_waiter(void **state)
{
    (void)state;
    HANDLE e = new_event(FALSE, FALSE);
    struct sync_waiter w[2];
    for (int i = 0; i < 2; i++)
        sync_waiter_start(&w[i], e, INFINITE);
    for (int i = 0; i < 2; i++)
        assert_true(sync_waiter_blocked(&w[i]));
    assert_true(RtPulseEvent(e));
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT); /* left reset */
    int64_t end = sync_now_us() + 2000000;
    while (count_done(w, 2) < 1 && sync_now_us() < end)
        usleep(200);
    sync_sleep_ms(QUIET_MS);
    assert_int_equal(count_done(w, 2), 1);
    /* A waiter arriving after the pulse is not released by it. */
    struct sync_waiter late;
    sync_waiter_start(&late, e, QUIET_MS);
    sync_waiter_join(&late);
    assert_int_equal(late.result, WAIT_TIMEOUT);
    int left = atomic_load(&w[0].done) ? 1 : 0;
    assert_false(atomic_load(&w[left].done));
    assert_true(RtSetEvent(e));
    sync_waiter_join(&w[0]);
    sync_waiter_join(&w[1]);
    assert_int_equal(w[0].result, WAIT_OBJECT_0);
    assert_int_equal(w[1].result, WAIT_OBJECT_0);
    /* Pulse on a set auto-reset event with no waiter: reset. */
    assert_true(RtSetEvent(e));
    assert_true(RtPulseEvent(e));
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    assert_true(CloseHandle(e));
}

/* SPEC 6: k back-to-back Pulses of an auto-reset event with 8 waiters asleep
 * (threads in single and multi-object waits, and processes) release exactly
 * k of them; nothing is left for a later wait; the others still wait, and
 * later Sets count them.  A manual-reset Pulse releases all 8.  (Before: the
 * first Pulse woke every sleeper, the second found none asleep and dropped
 * its token - 2 Pulses released 1.) */
#define PULSE_THREADS 4
#define PULSE_PEERS 4
#define PULSE_WAITERS (PULSE_THREADS + PULSE_PEERS)
#define PULSE_WAIT_MS "2000"

/* One round; returns how many waiters the k Pulses released. */
static int pulse_round(const char *name, HANDLE e, HANDLE idle, bool manual, int k)
{
    struct sync_waiter w[PULSE_THREADS];
    struct tn_peer p[PULSE_PEERS];
    HANDLE multi[2] = {idle, e}; /* the event at index 1 of a multi-object wait */
    for (int i = 0; i < PULSE_THREADS; i++) {
        if (i % 2)
            sync_waiter_start_multi(&w[i], multi, 2, 2000);
        else
            sync_waiter_start(&w[i], e, 2000);
    }
    for (int i = 0; i < PULSE_PEERS; i++)
        tn_peer_start(&p[i], NULL, "oe", name, "w", PULSE_WAIT_MS, NULL);
    for (int i = 0; i < PULSE_THREADS; i++)
        assert_true(sync_waiter_blocked(&w[i]));
    for (int i = 0; i < PULSE_PEERS; i++) {
        assert_true(sync_peer_ok(&p[i], NULL));
        assert_true(sync_peer_blocked(&p[i]));
    }
    for (int i = 0; i < k; i++)
        assert_true(RtPulseEvent(e));
    sync_sleep_ms(QUIET_MS);
    /* Nothing left over: neither set nor a token for a later waiter. */
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    struct sync_waiter late;
    sync_waiter_start(&late, e, 50);
    sync_waiter_join(&late);
    assert_int_equal(late.result, WAIT_TIMEOUT);
    /* The others are still waiting: one Set each lets them go. */
    int64_t sets_from = sync_now_us();
    for (int i = manual ? PULSE_WAITERS : k; i < PULSE_WAITERS; i++) {
        assert_true(RtSetEvent(e));
        sync_sleep_ms(1);
    }
    /* Released by the Pulses: returned before the first Set. */
    int released = 0;
    for (int i = 0; i < PULSE_THREADS; i++) {
        sync_waiter_join(&w[i]);
        assert_int_not_equal(w[i].result, WAIT_FAILED);
        released += w[i].result == WAIT_OBJECT_0 + (i % 2) && w[i].woke_us < sets_from;
    }
    for (int i = 0; i < PULSE_PEERS; i++) {
        DWORD r = WAIT_FAILED;
        int64_t when = 0;
        assert_true(sync_peer_waited(&p[i], &r, &when));
        assert_true(sync_peer_done(&p[i]));
        released += r == WAIT_OBJECT_0 && when < sets_from;
    }
    RtResetEvent(e); /* a Set left over if the Pulses released too many */
    return released;
}

static void test_pulse_releases_exactly_k_of_8(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "pulse-k");
    HANDLE idle = new_event(FALSE, FALSE);
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, name);
    assert_non_null(e);
    int wrong = 0, total = 0, expected = 0;
    for (int round = 0; round < 2; round++)
        for (int k = 1; k <= PULSE_WAITERS; k++) {
            int got = pulse_round(name, e, idle, false, k);
            if (got != k)
                fprintf(stderr, "round %d: %d Pulses released %d\n", round, k, got);
            wrong += got != k;
            total += got;
            expected += k;
        }
    assert_true(CloseHandle(e));
    if (wrong)
        fail_msg("%d rounds of 16 wrong: %d released for %d Pulses", wrong, total, expected);

    SYNC_NAME(name, "pulse-manual");
    e = RtCreateEvent(NULL, TRUE, FALSE, name);
    assert_non_null(e);
    for (int k = 1; k <= 2; k++)
        assert_int_equal(pulse_round(name, e, idle, true, k), PULSE_WAITERS);
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(idle));
}

/* Pulse between processes: both sleeping peers released, a later one not. */
static void test_pulse_across_processes(void **state)
{
    (void)state;
    for (int manual = 1; manual >= 0; manual--) {
        char name[64];
        SYNC_NAME(name, "pulse");
        HANDLE e = RtCreateEvent(NULL, (BOOLEAN)manual, FALSE, name);
        assert_non_null(e);
        struct tn_peer p[2];
        for (int i = 0; i < 2; i++) {
            tn_peer_start(&p[i], NULL, "oe", name, "w", "3000", NULL);
            assert_true(sync_peer_ok(&p[i], NULL));
            assert_true(sync_peer_blocked(&p[i]));
        }
        assert_true(RtPulseEvent(e));
        struct tn_peer late;
        tn_peer_start(&late, NULL, "oe", name, "w", "200", NULL);
        assert_true(sync_peer_ok(&late, NULL));
        DWORD r;
        assert_true(sync_peer_word(&late, "waiting", NULL, 0));
        assert_true(sync_peer_waited(&late, &r, NULL));
        assert_int_equal(r, WAIT_TIMEOUT);
        assert_true(sync_peer_done(&late));
        if (!manual) /* the one not released: let it go */
            assert_true(RtSetEvent(e));
        for (int i = 0; i < 2; i++) {
            assert_true(sync_peer_waited(&p[i], &r, NULL));
            assert_int_equal(r, WAIT_OBJECT_0);
            assert_true(sync_peer_done(&p[i]));
        }
        assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
        assert_true(CloseHandle(e));
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pulse_manual_releases_present_waiters),
        cmocka_unit_test(test_pulse_auto_releases_one_present_waiter),
        cmocka_unit_test(test_pulse_across_processes),
        cmocka_unit_test(test_pulse_releases_exactly_k_of_8),
    };
    return SYNC_RUN("sync_event_pulse", tests);
}
