/*
 * SPEC 6, events: manual-reset releases every waiter and stays set;
 * auto-reset releases exactly one and resets; a Set with waiters hands the
 * event over (newcomers can't steal it; two Sets release two waiters);
 * wrong-type and bad handles; all of it between threads and between
 * processes (fork+exec peers, forked children with an inherited unnamed
 * handle); waiters wake without polling, at once (SYNC_WAKE_US); and the design
 * note's trap: a SIGKILLed waiter does not make later Sets get lost.
 * Pulse (only the waiters present released, all / one, the event left
 * reset): sync_event_pulse.c; the helpers they share: sync_event_util.h.
 */
#include "sync_event_util.h"

/* ---- manual reset ------------------------------------------------------------ */

static void test_manual_releases_all_and_stays_set(void **state)
{
    (void)state;
    HANDLE e = new_event(TRUE, FALSE);
    struct sync_waiter w[4];
    for (int i = 0; i < 4; i++)
        sync_waiter_start(&w[i], e, INFINITE);
    for (int i = 0; i < 4; i++)
        assert_true(sync_waiter_blocked(&w[i]));
    SetLastError(0);
    assert_true(RtSetEvent(e));
    for (int i = 0; i < 4; i++) {
        assert_true(sync_waiter_done_within(&w[i], 2000));
        sync_waiter_join(&w[i]);
        assert_int_equal(w[i].result, WAIT_OBJECT_0);
        assert_int_equal(w[i].error, 0x5eed); /* success leaves the last error alone */
    }
    /* Still set: any number of waits succeed until Reset. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0);
    assert_true(RtSetEvent(e)); /* setting a set event: no change */
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0);
    assert_true(RtResetEvent(e));
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    assert_true(RtResetEvent(e)); /* resetting a reset event */
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    assert_true(CloseHandle(e));

    HANDLE s = new_event(TRUE, TRUE); /* initially set */
    assert_int_equal(RtWaitForSingleObject(s, 0), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(s, 0), WAIT_OBJECT_0);
    assert_true(CloseHandle(s));
}

/* ---- auto reset ---------------------------------------------------------------- */

static void test_auto_releases_exactly_one(void **state)
{
    (void)state;
    HANDLE e = new_event(FALSE, FALSE);
    struct sync_waiter w[3];
    for (int i = 0; i < 3; i++)
        sync_waiter_start(&w[i], e, INFINITE);
    for (int i = 0; i < 3; i++)
        assert_true(sync_waiter_blocked(&w[i]));
    for (int released = 1; released <= 3; released++) {
        for (int i = 0; i < 3; i++) /* those left are back asleep */
            if (!atomic_load(&w[i].done))
                assert_true(sync_waiter_blocked(&w[i]));
        assert_true(RtSetEvent(e));
        /* Handed to a waiter: the event stays reset, a newcomer can't take it. */
        assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
        int64_t end = sync_now_us() + 2000000;
        while (count_done(w, 3) < released && sync_now_us() < end)
            usleep(200);
        sync_sleep_ms(QUIET_MS);
        assert_int_equal(count_done(w, 3), released);
        assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    }
    for (int i = 0; i < 3; i++) {
        sync_waiter_join(&w[i]);
        assert_int_equal(w[i].result, WAIT_OBJECT_0);
    }
    /* No waiter: Set leaves it signalled for exactly one later wait. */
    assert_true(RtSetEvent(e));
    assert_true(RtSetEvent(e)); /* Sets do not accumulate */
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    /* Initially set, then Reset. */
    HANDLE s = new_event(FALSE, TRUE);
    assert_true(RtResetEvent(s));
    assert_int_equal(RtWaitForSingleObject(s, 0), WAIT_TIMEOUT);
    assert_true(RtSetEvent(s));
    assert_int_equal(RtWaitForSingleObject(s, 10), WAIT_OBJECT_0);
    assert_true(CloseHandle(s));
    assert_true(CloseHandle(e));
}

/* Two Sets in a row with two sleeping waiters release both, every time. */
static void test_back_to_back_sets_release_two(void **state)
{
    (void)state;
    HANDLE e = new_event(FALSE, FALSE);
    for (int round = 0; round < 100; round++) {
        struct sync_waiter w[2];
        sync_waiter_start(&w[0], e, 5000);
        sync_waiter_start(&w[1], e, 5000);
        assert_true(sync_waiter_blocked(&w[0]));
        assert_true(sync_waiter_blocked(&w[1]));
        assert_true(RtSetEvent(e));
        assert_true(RtSetEvent(e));
        for (int i = 0; i < 2; i++) {
            sync_waiter_join(&w[i]);
            if (w[i].result != WAIT_OBJECT_0)
                fail_msg("round %d: waiter %d got %#x", round, i, w[i].result);
        }
        assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT); /* both Sets consumed */
    }
    assert_true(CloseHandle(e));
}

/* The same with the waiters in two other processes. */
static void test_back_to_back_sets_across_processes(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "b2b");
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, name);
    assert_non_null(e);
    for (int round = 0; round < 5; round++) {
        struct tn_peer p[2];
        for (int i = 0; i < 2; i++) {
            tn_peer_start(&p[i], NULL, "oe", name, "w", "5000", NULL);
            assert_true(sync_peer_ok(&p[i], NULL));
            assert_true(sync_peer_blocked(&p[i]));
        }
        assert_true(RtSetEvent(e));
        assert_true(RtSetEvent(e));
        for (int i = 0; i < 2; i++) {
            DWORD r;
            assert_true(sync_peer_waited(&p[i], &r, NULL));
            assert_int_equal(r, WAIT_OBJECT_0);
            assert_true(sync_peer_done(&p[i]));
        }
        assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    }
    assert_true(CloseHandle(e));
}

/* ---- between processes: prompt wake-up, no polling -------------------------------- */

static void test_wake_latency_and_no_polling_across_processes(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "latency");
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, name);
    assert_non_null(e);
    int64_t worst = 0;
    for (int round = 0; round < 5; round++) {
        struct tn_peer p;
        tn_peer_start(&p, NULL, "oe", name, "w", "-1", NULL);
        assert_true(sync_peer_ok(&p, NULL));
        assert_true(sync_peer_blocked(&p));
        if (round == 0) {
            /* Asleep, not polling: no CPU time while it waits. */
            long before = sync_task_switches(p.pid, p.pid);
            sync_sleep_ms(400);
            long after = sync_task_switches(p.pid, p.pid);
            if (before == LONG_MIN || after - before > 1)
                fail_msg("a blocked waiter was switched out %ld times in 400 ms", after - before);
            assert_int_equal(sync_task_syscall(p.pid, p.pid), SYNC_SYS_FUTEX);
        }
        int64_t t0 = sync_now_us();
        assert_true(RtSetEvent(e));
        DWORD r;
        int64_t woke = 0;
        assert_true(sync_peer_waited(&p, &r, &woke));
        assert_int_equal(r, WAIT_OBJECT_0);
        if (woke - t0 > worst)
            worst = woke - t0;
        assert_true(sync_peer_done(&p));
    }
    if (worst > SYNC_WAKE_US)
        fail_msg("a waiter in another process woke %lld us after the Set", (long long)worst);
    assert_true(CloseHandle(e));
}

/* Manual-reset between processes: three sleeping peers all released. */
static void test_manual_across_processes(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "manual-xp");
    HANDLE e = RtCreateEvent(NULL, TRUE, FALSE, name);
    struct tn_peer p[3];
    for (int i = 0; i < 3; i++) {
        tn_peer_start(&p[i], NULL, "oe", name, "w", "-1", "w", "0", "g", "reset", "w", "100", NULL);
        assert_true(sync_peer_ok(&p[i], NULL));
        assert_true(sync_peer_blocked(&p[i]));
    }
    assert_true(RtSetEvent(e));
    for (int i = 0; i < 3; i++) {
        DWORD r;
        assert_true(sync_peer_waited(&p[i], &r, NULL));
        assert_int_equal(r, WAIT_OBJECT_0);
    }
    /* Each peer sees it still set (nobody has reset it yet)... */
    for (int i = 0; i < 3; i++) {
        DWORD r;
        assert_true(sync_peer_word(&p[i], "waiting", NULL, 0));
        assert_true(sync_peer_waited(&p[i], &r, NULL));
        assert_int_equal(r, WAIT_OBJECT_0);
    }
    /* ...then, one at a time, each resets it and then finds it reset. */
    for (int i = 0; i < 3; i++) {
        DWORD r;
        tn_peer_send(&p[i]);
        assert_true(sync_peer_ok(&p[i], NULL));
        assert_true(sync_peer_word(&p[i], "waiting", NULL, 0));
        assert_true(sync_peer_waited(&p[i], &r, NULL));
        assert_int_equal(r, WAIT_TIMEOUT);
        assert_true(sync_peer_done(&p[i]));
    }
    assert_true(CloseHandle(e));
}

/* Auto-reset between processes: one Set, one of two sleeping peers. */
static void test_auto_across_processes(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "auto-xp");
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, name);
    struct tn_peer p[2];
    for (int i = 0; i < 2; i++) {
        tn_peer_start(&p[i], NULL, "oe", name, "w", "-1", NULL);
        assert_true(sync_peer_ok(&p[i], NULL));
        assert_true(sync_peer_blocked(&p[i]));
    }
    assert_true(RtSetEvent(e));
    sync_sleep_ms(QUIET_MS);
    /* Exactly one still sleeps in the kernel; find it. */
    int asleep = -1, n_asleep = 0;
    for (int i = 0; i < 2; i++)
        if (sync_task_syscall(p[i].pid, p[i].pid) == SYNC_SYS_FUTEX) {
            asleep = i;
            n_asleep++;
        }
    assert_int_equal(n_asleep, 1);
    DWORD r;
    assert_true(sync_peer_waited(&p[1 - asleep], &r, NULL));
    assert_int_equal(r, WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    assert_true(RtSetEvent(e));
    assert_true(sync_peer_waited(&p[asleep], &r, NULL));
    assert_int_equal(r, WAIT_OBJECT_0);
    for (int i = 0; i < 2; i++)
        assert_true(sync_peer_done(&p[i]));
    assert_true(CloseHandle(e));
}

/* ---- the design note's trap: killed waiters ------------------------------------------ */

static void test_killed_waiter_does_not_lose_sets(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "killed");
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, name);
    assert_non_null(e);

    /* One waiter killed while asleep; then a Set with nobody waiting stays
     * set for the next waiter. */
    struct tn_peer p;
    tn_peer_start(&p, NULL, "oe", name, "w", "-1", NULL);
    assert_true(sync_peer_ok(&p, NULL));
    assert_true(sync_peer_blocked(&p));
    assert_true(tn_killed_by(tn_peer_kill(&p), SIGKILL));
    assert_true(RtSetEvent(e));
    assert_int_equal(RtWaitForSingleObject(e, 1000), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT); /* exactly once */

    /* Three killed waiters; then a fresh waiter already asleep gets the Set. */
    for (int i = 0; i < 3; i++) {
        tn_peer_start(&p, NULL, "oe", name, "w", "-1", NULL);
        assert_true(sync_peer_ok(&p, NULL));
        assert_true(sync_peer_blocked(&p));
        assert_true(tn_killed_by(tn_peer_kill(&p), SIGKILL));
    }
    for (int round = 0; round < 3; round++) {
        struct sync_waiter w;
        sync_waiter_start(&w, e, 2000);
        assert_true(sync_waiter_blocked(&w));
        assert_true(RtSetEvent(e));
        sync_waiter_join(&w);
        assert_int_equal(w.result, WAIT_OBJECT_0);
        assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    }
    /* Two fresh sleepers and two Sets: both released despite the dead. */
    struct sync_waiter w[2];
    sync_waiter_start(&w[0], e, 2000);
    sync_waiter_start(&w[1], e, 2000);
    assert_true(sync_waiter_blocked(&w[0]));
    assert_true(sync_waiter_blocked(&w[1]));
    assert_true(RtSetEvent(e));
    assert_true(RtSetEvent(e));
    sync_waiter_join(&w[0]);
    sync_waiter_join(&w[1]);
    assert_int_equal(w[0].result, WAIT_OBJECT_0);
    assert_int_equal(w[1].result, WAIT_OBJECT_0);
    /* A Pulse with only dead waiters releases nobody and leaves it reset. */
    assert_true(RtPulseEvent(e));
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    /* And a fresh waiter in another process gets the next Set. */
    tn_peer_start(&p, NULL, "oe", name, "w", "3000", NULL);
    assert_true(sync_peer_ok(&p, NULL));
    assert_true(sync_peer_blocked(&p));
    assert_true(RtSetEvent(e));
    DWORD r;
    assert_true(sync_peer_waited(&p, &r, NULL));
    assert_int_equal(r, WAIT_OBJECT_0);
    assert_true(sync_peer_done(&p));
    assert_true(CloseHandle(e));
}

/* ---- unnamed events through fork ------------------------------------------------------- */

static void test_unnamed_event_shared_with_forked_child(void **state)
{
    (void)state;
    HANDLE ping = new_event(FALSE, FALSE), pong = new_event(FALSE, FALSE);
    pid_t pid = tn_fork();
    if (pid == 0) {
        for (int i = 0; i < 2000; i++) {
            TN_CHILD_CHECK(RtWaitForSingleObject(ping, 5000) == WAIT_OBJECT_0);
            TN_CHILD_CHECK(RtSetEvent(pong));
        }
        _exit(0);
    }
    /* First round: the child is asleep on the inherited handle when we Set. */
    assert_true(sync_task_blocked(pid, pid, 5000));
    for (int i = 0; i < 2000; i++) {
        assert_true(RtSetEvent(ping));
        assert_int_equal(RtWaitForSingleObject(pong, 5000), WAIT_OBJECT_0);
    }
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    assert_int_equal(RtWaitForSingleObject(ping, 0), WAIT_TIMEOUT);
    assert_int_equal(RtWaitForSingleObject(pong, 0), WAIT_TIMEOUT);
    assert_true(CloseHandle(ping));
    assert_true(CloseHandle(pong));
}

/* Ping-pong between two threads: no wake-up lost over many rounds. */
struct pingpong {
    HANDLE ping, pong;
    int rounds;
    int ok;
};

static void *pong_thread(void *arg)
{
    struct pingpong *pp = arg;
    for (int i = 0; i < pp->rounds; i++) {
        if (RtWaitForSingleObject(pp->ping, 5000) != WAIT_OBJECT_0 || !RtSetEvent(pp->pong))
            return NULL;
    }
    pp->ok = 1;
    return NULL;
}

static void test_ping_pong_threads(void **state)
{
    (void)state;
    struct pingpong pp = {new_event(FALSE, FALSE), new_event(FALSE, FALSE), 20000, 0};
    pthread_t t = sync_thread(pong_thread, &pp);
    for (int i = 0; i < pp.rounds; i++) {
        assert_true(RtSetEvent(pp.ping));
        DWORD r = RtWaitForSingleObject(pp.pong, 5000);
        if (r != WAIT_OBJECT_0)
            fail_msg("round %d: %#x", i, r);
    }
    pthread_join(t, NULL);
    assert_true(pp.ok);
    assert_true(CloseHandle(pp.ping));
    assert_true(CloseHandle(pp.pong));
}

/* ---- bad and wrong-type handles ----------------------------------------------------------- */

static void test_bad_handles(void **state)
{
    (void)state;
    void *loc;
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, NULL, &loc);
    assert_non_null(shm);
    HANDLE m = RtCreateMutex(NULL, FALSE, NULL);
    HANDLE s = RtCreateSemaphore(NULL, 0, 1, NULL);
    HANDLE closed = new_event(TRUE, FALSE);
    assert_true(CloseHandle(closed));
    HANDLE bad[] = {NULL, (HANDLE)(uintptr_t)1, (HANDLE)(uintptr_t)0x10000, (HANDLE)(uintptr_t)0xdeadbeef,
                    (HANDLE)(uintptr_t)-1, closed, shm, m, s};
    BOOLEAN (*const calls[])(HANDLE) = {RtSetEvent, RtResetEvent, RtPulseEvent};
    for (size_t c = 0; c < 3; c++)
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            SetLastError(0);
            if (calls[c](bad[i]) != FALSE || GetLastError() != ERROR_INVALID_HANDLE)
                fail_msg("call %zu on bad handle %zu: error %u", c, i, GetLastError());
        }
    /* The wrong-type objects were not touched. */
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0);
    assert_true(RtReleaseMutex(m));
    assert_int_equal(RtWaitForSingleObject(s, 0), WAIT_TIMEOUT);
    assert_true(RtUnmapSharedMemory(loc));
    assert_true(CloseHandle(shm));
    assert_true(CloseHandle(m));
    assert_true(CloseHandle(s));
}

/* ---- the waiter limit ------------------------------------------------------- */

/* 65535 registrations per event (event.c: 16-bit counts) - here 1024
 * threads, each waiting on the event 64 times (63 for the last) - and one
 * more wait is refused (WAIT_FAILED, ERROR_NOT_ENOUGH_MEMORY) instead of
 * wrapping the count to 0, after which a Pulse released none of them. */
#define CROWD 1024
static void test_waiter_limit(void **state)
{
    (void)state;
    HANDLE e = new_event(TRUE, FALSE);
    HANDLE many[MAXIMUM_WAIT_OBJECTS];
    for (int i = 0; i < MAXIMUM_WAIT_OBJECTS; i++)
        many[i] = e;
    struct sync_waiter *w = calloc(CROWD, sizeof *w);
    assert_non_null(w);
    for (int i = 0; i < CROWD; i++)
        sync_waiter_start_multi(&w[i], many, i < CROWD - 1 ? MAXIMUM_WAIT_OBJECTS : MAXIMUM_WAIT_OBJECTS - 1,
                                30000);
    for (int i = 0; i < CROWD; i++)
        assert_true(sync_waiter_blocked(&w[i]));
    struct sync_waiter extra;
    sync_waiter_start(&extra, e, 30000);
    int64_t end = sync_now_us() + 5000000;
    while (!atomic_load(&extra.done) && sync_task_syscall(getpid(), atomic_load(&extra.tid)) != SYNC_SYS_FUTEX &&
           sync_now_us() < end)
        usleep(1000);
    assert_true(RtPulseEvent(e));
    int released = 0;
    for (int i = 0; i < CROWD; i++)
        released += sync_waiter_done_within(&w[i], 10000) && w[i].result < WAIT_OBJECT_0 + MAXIMUM_WAIT_OBJECTS;
    assert_true(RtSetEvent(e)); /* whatever is still asleep returns */
    for (int i = 0; i < CROWD; i++)
        sync_waiter_join(&w[i]);
    sync_waiter_join(&extra);
    free(w);
    assert_int_equal(released, CROWD);
    assert_int_equal(extra.result, WAIT_FAILED);
    assert_int_equal(extra.error, ERROR_NOT_ENOUGH_MEMORY);
    assert_true(CloseHandle(e));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manual_releases_all_and_stays_set),
        cmocka_unit_test(test_auto_releases_exactly_one),
        cmocka_unit_test(test_back_to_back_sets_release_two),
        cmocka_unit_test(test_back_to_back_sets_across_processes),
        cmocka_unit_test(test_wake_latency_and_no_polling_across_processes),
        cmocka_unit_test(test_manual_across_processes),
        cmocka_unit_test(test_auto_across_processes),
        cmocka_unit_test(test_killed_waiter_does_not_lose_sets),
        cmocka_unit_test(test_unnamed_event_shared_with_forked_child),
        cmocka_unit_test(test_ping_pong_threads),
        cmocka_unit_test(test_bad_handles),
        cmocka_unit_test(test_waiter_limit),
    };
    return SYNC_RUN("sync_event", tests);
}
