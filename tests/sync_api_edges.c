/*
 * SPEC 6 edge cases of the sync calls that the per-type tests leave out:
 * one object named several times in a multi-object wait (every kind, on
 * the sleeping path, and no registration left behind), an object not
 * taken by a multi-object wait keeping a Set it received while the waiter
 * slept, abandonment left for the next acquirer when a multi-object wait
 * is satisfied by a lower index, a mutex created owned by a thread that
 * then ends, and the outputs and last error of failing calls.
 */
#include "sync_util.h"

#include <iwin32_inspect.h>

/* The state of the object named name, as a tool sees it. */
static IWIN32_OBJECT_STATE state_of(const char *name)
{
    IWIN32_OBJECT_INFO *info = NULL;
    if (!iwin32InspectObject(name, 0, &info))
        fail_msg("inspect %s: error %u", name, GetLastError());
    assert_true(info->stateKnown);
    IWIN32_OBJECT_STATE s = info->state;
    iwin32InspectFree(info, 1);
    return s;
}

/* A waiter asleep on n copies of h is woken by signal(h) and gets index 0;
 * afterwards the object counts no waiter. */
static void duplicates_case(HANDLE h, const char *name, DWORD n, BOOLEAN (*signal)(HANDLE))
{
    HANDLE set[MAXIMUM_WAIT_OBJECTS];
    for (DWORD i = 0; i < n; i++)
        set[i] = h;
    struct sync_waiter w;
    sync_waiter_start_ex(&w, set, n, 10000, false);
    assert_true(sync_waiter_blocked(&w));
    assert_true(signal(h));
    assert_true(sync_waiter_done_within(&w, 5000));
    sync_waiter_join(&w);
    if (w.result != WAIT_OBJECT_0)
        fail_msg("%u copies: %#x (error %u)", n, w.result, w.error);
    assert_int_equal(w.error, 0x5eed); /* success leaves the last error alone */
    IWIN32_OBJECT_STATE s = state_of(name);
    if (s.waiters != 0)
        fail_msg("%u copies: %u waiters left registered", n, s.waiters);
}

static BOOLEAN release_one_unit(HANDLE h) { return RtReleaseSemaphore(h, 1, NULL); }

static void test_duplicate_event_and_semaphore_handles(void **state)
{
    (void)state;
    char ev[64], sem[64];
    SYNC_NAME(ev, "dup-ev");
    SYNC_NAME(sem, "dup-sem");
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, ev);
    HANDLE s = RtCreateSemaphore(NULL, 0, 100, sem);
    assert_non_null(e);
    assert_non_null(s);
    static const DWORD counts[] = {2, 3, MAXIMUM_WAIT_OBJECTS};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        duplicates_case(e, ev, counts[i], RtSetEvent);
        assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT); /* one Set, taken once */
        duplicates_case(e, ev, counts[i], RtPulseEvent);
        assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
        duplicates_case(s, sem, counts[i], release_one_unit);
        assert_int_equal(state_of(sem).count, 0); /* one unit, taken once */
    }
    /* With nobody waiting, the next Set is the signalled state again. */
    assert_true(RtSetEvent(e));
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0);
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(s));
}

struct owner {
    HANDLE m;
    int hold_ms;    /* then release it, or (abandon) end the thread owning it; */
    bool abandon;   /* hold_ms < 0: until let_go is set */
    atomic_bool let_go;
};

static void *own_mutex(void *arg)
{
    struct owner *o = arg;
    if (RtWaitForSingleObject(o->m, 0) != WAIT_OBJECT_0)
        abort();
    if (o->hold_ms >= 0)
        sync_sleep_ms(o->hold_ms);
    while (o->hold_ms < 0 && !atomic_load(&o->let_go))
        usleep(200);
    if (o->abandon)
        return NULL; /* ends owning it: abandoned */
    if (!RtReleaseMutex(o->m))
        abort();
    return NULL;
}

static void test_duplicate_mutex_handles(void **state)
{
    (void)state;
    char mx[64];
    SYNC_NAME(mx, "dup-mx");
    HANDLE m = RtCreateMutex(NULL, FALSE, mx);
    assert_non_null(m);
    static const DWORD counts[] = {2, MAXIMUM_WAIT_OBJECTS};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        for (int abandon = 0; abandon < 2; abandon++) {
            HANDLE set[MAXIMUM_WAIT_OBJECTS];
            for (DWORD k = 0; k < counts[i]; k++)
                set[k] = m;
            /* Owned by another thread; the waiter sleeps on every copy. */
            struct owner o = {m, -1, abandon, false};
            pthread_t t = sync_thread(own_mutex, &o);
            while (state_of(mx).ownerTid == 0)
                usleep(200);
            struct sync_waiter w;
            sync_waiter_start_ex(&w, set, counts[i], 10000, true);
            assert_true(sync_waiter_blocked(&w)); /* asleep, not finding it free */
            atomic_store(&o.let_go, true);
            assert_true(sync_waiter_done_within(&w, 5000));
            sync_waiter_join(&w);
            pthread_join(t, NULL);
            DWORD want = abandon ? WAIT_ABANDONED_0 : WAIT_OBJECT_0;
            if (w.result != want)
                fail_msg("%u copies, abandon %d: %#x, want %#x (error %u)", counts[i], abandon, w.result, want,
                         w.error);
            IWIN32_OBJECT_STATE s = state_of(mx);
            if (s.waiters != 0 || s.ownerTid != 0)
                fail_msg("%u copies: %u waiters, owner %d left", counts[i], s.waiters, s.ownerTid);
        }
    }
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0);
    assert_true(RtReleaseMutex(m));
    assert_true(CloseHandle(m));
}

/* A waiter asleep on {e1, e2} (auto-reset): both are Set before it runs
 * again; it takes e1 (the lowest index) and e2 stays set. */
static void test_set_to_object_not_taken_stays(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        HANDLE e[2] = {RtCreateEvent(NULL, FALSE, FALSE, NULL), RtCreateEvent(NULL, FALSE, FALSE, NULL)};
        assert_non_null(e[0]);
        assert_non_null(e[1]);
        struct sync_waiter w;
        sync_waiter_start_multi(&w, e, 2, 10000);
        assert_true(sync_waiter_blocked(&w));
        assert_true(RtSetEvent(e[round % 2]));
        assert_true(RtSetEvent(e[1 - round % 2]));
        assert_true(sync_waiter_done_within(&w, 5000));
        sync_waiter_join(&w);
        assert_true(w.result == WAIT_OBJECT_0 || w.result == WAIT_OBJECT_0 + 1);
        /* Whichever it took, the other Set is not lost. */
        DWORD other = 1 - (w.result - WAIT_OBJECT_0);
        if (RtWaitForSingleObject(e[other], 0) != WAIT_OBJECT_0)
            fail_msg("round %d: took %u, the Set of %u was lost", round, w.result, other);
        assert_int_equal(RtWaitForSingleObject(e[1 - other], 0), WAIT_TIMEOUT);
        assert_true(CloseHandle(e[0]));
        assert_true(CloseHandle(e[1]));
    }
}

/* An abandoned mutex behind a signalled lower index: the wait takes the
 * lower index, and the abandonment goes to the mutex's next acquirer. */
static void test_abandonment_kept_behind_lower_index(void **state)
{
    (void)state;
    HANDLE m = RtCreateMutex(NULL, FALSE, NULL);
    HANDLE e = RtCreateEvent(NULL, TRUE, TRUE, NULL);
    assert_non_null(m);
    assert_non_null(e);
    struct owner o = {m, 0, true, false};
    pthread_join(sync_thread(own_mutex, &o), NULL);
    HANDLE set[2] = {e, m};
    SetLastError(0x5eed);
    assert_int_equal(RtWaitForMultipleObjects(2, set, FALSE, 0), WAIT_OBJECT_0);
    assert_int_equal(GetLastError(), 0x5eed);
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_ABANDONED_0);
    assert_int_equal(GetLastError(), 0x5eed);
    assert_true(RtReleaseMutex(m));
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0); /* reported once */
    assert_true(RtReleaseMutex(m));
    /* Reported with the index it has in a multi-object wait. */
    pthread_join(sync_thread(own_mutex, &o), NULL);
    assert_true(RtResetEvent(e));
    assert_int_equal(RtWaitForMultipleObjects(2, set, FALSE, 0), WAIT_ABANDONED_0 + 1);
    assert_true(RtReleaseMutex(m));
    assert_true(CloseHandle(m));
    assert_true(CloseHandle(e));
}

static void *create_owned_and_end(void *arg)
{
    HANDLE *m = arg;
    *m = RtCreateMutex(NULL, TRUE, NULL);
    return NULL;
}

/* bInitialOwner makes the creating thread the owner: if it ends owning
 * the mutex, the next acquirer is told. */
static void test_initial_owner_thread_ends(void **state)
{
    (void)state;
    HANDLE m = NULL;
    pthread_join(sync_thread(create_owned_and_end, &m), NULL);
    assert_non_null(m);
    SetLastError(0x5eed);
    DWORD r = RtWaitForSingleObject(m, 2000);
    if (r != WAIT_ABANDONED_0)
        fail_msg("wait after the creating owner ended: %#x (error %u)", r, GetLastError());
    assert_true(RtReleaseMutex(m));
    assert_true(CloseHandle(m));
}

/* Failing Releases leave *lpPreviousCount alone, whatever the reason. */
static void test_release_failures_leave_previous(void **state)
{
    (void)state;
    HANDLE s = RtCreateSemaphore(NULL, 1, 2, NULL);
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    assert_non_null(s);
    assert_non_null(e);
    static const LONG counts[] = {0, -1, INT32_MIN, 2, INT32_MAX};
    static const DWORD errors[] = {ERROR_INVALID_PARAMETER, ERROR_INVALID_PARAMETER, ERROR_INVALID_PARAMETER,
                                   ERROR_TOO_MANY_POSTS, ERROR_TOO_MANY_POSTS};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        LONG prev = -77;
        SetLastError(0);
        assert_false(RtReleaseSemaphore(s, counts[i], &prev));
        if (GetLastError() != errors[i] || prev != -77)
            fail_msg("count %d: error %u, previous %d", counts[i], GetLastError(), prev);
        assert_false(RtReleaseSemaphore(s, counts[i], NULL));
        assert_int_equal(GetLastError(), errors[i]);
    }
    HANDLE bad[] = {NULL, e, (HANDLE)(intptr_t)-1, (HANDLE)(uintptr_t)0x12345678};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        LONG prev = -77;
        SetLastError(0);
        assert_false(RtReleaseSemaphore(bad[i], 1, &prev));
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
        assert_int_equal(prev, -77);
    }
    LONG prev = -77;
    assert_true(RtReleaseSemaphore(s, 1, &prev)); /* the count is what it was */
    assert_int_equal(prev, 1);
    assert_true(CloseHandle(s));
    assert_true(CloseHandle(e));
}

/* SPEC 4: when the last handle is closed the object is destroyed and its
 * name is free - also while a thread of the process still waits on it
 * (Win32 removes a name with its last handle, whatever references the
 * waits hold).  The wait itself goes on, on an object nobody can name. */
static void test_close_under_wait_frees_name(void **state)
{
    (void)state;
    for (DWORD n = 1; n <= 2; n++) {
        char ev[64];
        SYNC_NAME(ev, "close-under-wait");
        HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, ev);
        HANDLE other = RtCreateEvent(NULL, FALSE, FALSE, NULL);
        assert_non_null(e);
        assert_non_null(other);
        HANDLE set[2] = {e, other};
        struct sync_waiter w;
        sync_waiter_start_multi(&w, set, n, 1500);
        assert_true(sync_waiter_blocked(&w));
        assert_true(CloseHandle(e));
        SetLastError(0);
        HANDLE opened = RtOpenEvent(0, FALSE, ev);
        if (opened != NULL || GetLastError() != ERROR_FILE_NOT_FOUND)
            fail_msg("%u-object wait: Open after the last close: %p, error %u", n, opened, GetLastError());
        pid_t pid = tn_fork(); /* nor in another process */
        if (pid == 0) {
            TN_CHILD_CHECK(RtOpenEvent(0, FALSE, ev) == NULL && GetLastError() == ERROR_FILE_NOT_FOUND);
            _exit(0);
        }
        assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
        SetLastError(SENTINEL);
        HANDLE fresh = RtCreateEvent(NULL, FALSE, FALSE, ev);
        assert_non_null(fresh);
        if (GetLastError() != 0)
            fail_msg("%u-object wait: Create after the last close: error %u, not a new object", n,
                     GetLastError());
        assert_true(RtSetEvent(fresh)); /* another object: the old wait does not see it */
        assert_true(sync_waiter_done_within(&w, 5000));
        sync_waiter_join(&w);
        assert_int_equal(w.result, WAIT_TIMEOUT);
        assert_int_equal(RtWaitForSingleObject(fresh, 0), WAIT_OBJECT_0);
        assert_true(CloseHandle(fresh));
        assert_true(CloseHandle(other));
    }
}

/* The same for references left without a wait: a mutex's watcher lingers
 * after a multi-object wait (up to 0.1 s), and a forked child inherits the
 * references of the parent's waits (and never drops them).  Neither may
 * keep a name alive once the last handle is closed. */
static void test_leftover_references_keep_no_name(void **state)
{
    (void)state;
    char mx[64], ev[64];
    SYNC_NAME(mx, "watched");
    SYNC_NAME(ev, "forked-wait");
    HANDLE m = RtCreateMutex(NULL, FALSE, mx);
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    assert_non_null(m);
    assert_non_null(e);
    /* Held until the wait has timed out, however long the look at its
     * owner takes (a listing under a parallel suite's lock churn reads
     * every process's /proc fdinfo): a timed hold could lapse first. */
    struct owner o = {m, -1, false, false};
    pthread_t t = sync_thread(own_mutex, &o);
    while (state_of(mx).ownerTid == 0)
        usleep(200);
    HANDLE set[2] = {e, m};
    assert_int_equal(RtWaitForMultipleObjects(2, set, FALSE, 30), WAIT_TIMEOUT); /* a watcher joined */
    atomic_store(&o.let_go, true);
    pthread_join(t, NULL);
    assert_true(CloseHandle(m));
    SetLastError(0);
    HANDLE again = RtOpenMutex(0, FALSE, mx);
    if (again != NULL || GetLastError() != ERROR_FILE_NOT_FOUND)
        fail_msg("Open of a mutex whose last handle is closed, its watcher lingering: %p, error %u", again,
                 GetLastError());

    HANDLE f = RtCreateEvent(NULL, FALSE, FALSE, ev);
    assert_non_null(f);
    struct sync_waiter w;
    sync_waiter_start(&w, f, 1500);
    assert_true(sync_waiter_blocked(&w));
    int to_child[2], to_parent[2];
    tn_pipe(to_child);
    tn_pipe(to_parent);
    pid_t pid = tn_fork();
    if (pid == 0) { /* holds the wait's reference, not its thread */
        TN_CHILD_CHECK(CloseHandle(f));
        tn_send_byte(to_parent[1]);
        TN_CHILD_CHECK(tn_recv_byte(to_child[0])); /* the parent closed its handle too */
        TN_CHILD_CHECK(RtOpenEvent(0, FALSE, ev) == NULL && GetLastError() == ERROR_FILE_NOT_FOUND);
        _exit(0);
    }
    assert_true(tn_recv_byte(to_parent[0]));
    assert_true(CloseHandle(f));
    tn_send_byte(to_child[1]);
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    assert_true(sync_waiter_done_within(&w, 5000));
    sync_waiter_join(&w);
    assert_int_equal(w.result, WAIT_TIMEOUT);
    assert_true(CloseHandle(e));
}

/* SPEC 6: a Create on an existing name of the same type ignores the other
 * arguments - for a semaphore its counts, even counts no new semaphore
 * could have (INtime: "ignores the lInitialCount and lMaximumCount
 * parameters because they were already set by the creation process").
 * Without such a semaphore they stay ERROR_INVALID_PARAMETER. */
static void test_create_existing_semaphore_ignores_bad_counts(void **state)
{
    (void)state;
    char sem[64], ev[64];
    SYNC_NAME(sem, "sem-bad-counts");
    SYNC_NAME(ev, "ev-not-sem");
    HANDLE s = RtCreateSemaphore(NULL, 1, 2, sem);
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, ev);
    assert_non_null(s);
    assert_non_null(e);
    static const LONG bad[][2] = {{-1, 1}, {2, 1}, {0, 0}, {1, 0}, {0, -1}, {INT32_MIN, INT32_MIN}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        SetLastError(0);
        HANDLE h = RtCreateSemaphore(NULL, bad[i][0], bad[i][1], sem);
        if (h == NULL || GetLastError() != ERROR_ALREADY_EXISTS)
            fail_msg("initial %d maximum %d on an existing semaphore: %p, error %u", bad[i][0], bad[i][1], h,
                     GetLastError());
        LONG prev = -1;
        assert_true(RtReleaseSemaphore(h, 1, &prev)); /* the existing one: count 1 of 2 */
        assert_int_equal(prev, 1);
        assert_int_equal(RtWaitForSingleObject(s, 0), WAIT_OBJECT_0);
        assert_true(CloseHandle(h));
        /* Another type's name: as for any Create. */
        SetLastError(0);
        assert_null(RtCreateSemaphore(NULL, bad[i][0], bad[i][1], ev));
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    }
    assert_true(CloseHandle(s));
    assert_true(CloseHandle(e));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) { /* no semaphore of that name now */
        SetLastError(0);
        assert_null(RtCreateSemaphore(NULL, bad[i][0], bad[i][1], sem));
        assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
        assert_null(RtCreateSemaphore(NULL, bad[i][0], bad[i][1], NULL));
        assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
        assert_null(RtOpenSemaphore(0, FALSE, sem)); /* and nothing made */
        assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    }
}

/* Names at and past the length limit, and with a backslash, for each
 * kind's Create and Open (SPEC 3's rules hold for every type). */
static HANDLE create_kind(int k, const char *name)
{
    return k == 0 ? RtCreateEvent(NULL, FALSE, FALSE, name)
         : k == 1 ? RtCreateMutex(NULL, FALSE, name)
                  : RtCreateSemaphore(NULL, 0, 1, name);
}

static HANDLE open_kind(int k, const char *name)
{
    return k == 0 ? RtOpenEvent(0, FALSE, name) : k == 1 ? RtOpenMutex(0, FALSE, name) : RtOpenSemaphore(0, FALSE, name);
}

static void test_name_limits_every_kind(void **state)
{
    (void)state;
    char longest[MAX_PATH], too_long[MAX_PATH + 1], other[MAX_PATH];
    for (int k = 0; k < 3; k++) {
        /* 259 bytes, hashed (every byte escaped), then one that differs
         * in its last byte only, then 260. */
        memset(longest, '\x01', MAX_PATH - 1);
        longest[0] = (char)('a' + k);
        longest[MAX_PATH - 1] = '\0';
        memcpy(other, longest, MAX_PATH);
        other[MAX_PATH - 2] = '\x02';
        memset(too_long, 'x', MAX_PATH);
        too_long[MAX_PATH] = '\0';
        SetLastError(SENTINEL);
        HANDLE h = create_kind(k, longest);
        assert_non_null(h);
        assert_int_equal(GetLastError(), 0);
        SetLastError(SENTINEL);
        assert_null(open_kind(k, other));
        assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
        SetLastError(SENTINEL);
        HANDLE o = open_kind(k, longest);
        assert_non_null(o);
        assert_int_equal(GetLastError(), SENTINEL);
        assert_true(CloseHandle(o));
        const char *bad[] = {too_long, "back\\slash", "\\", "trailing\\"};
        const DWORD errors[] = {ERROR_FILENAME_EXCED_RANGE, ERROR_PATH_NOT_FOUND, ERROR_PATH_NOT_FOUND,
                                ERROR_PATH_NOT_FOUND};
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            SetLastError(0);
            HANDLE c = create_kind(k, bad[i]);
            if (c != NULL || GetLastError() != errors[i])
                fail_msg("kind %d, create bad name %zu: %p, error %u", k, i, c, GetLastError());
            SetLastError(0);
            c = open_kind(k, bad[i]);
            if (c != NULL || GetLastError() != errors[i])
                fail_msg("kind %d, open bad name %zu: %p, error %u", k, i, c, GetLastError());
        }
        assert_true(CloseHandle(h));
        SetLastError(0);
        assert_null(open_kind(k, longest));
        assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicate_event_and_semaphore_handles),
        cmocka_unit_test(test_duplicate_mutex_handles),
        cmocka_unit_test(test_set_to_object_not_taken_stays),
        cmocka_unit_test(test_abandonment_kept_behind_lower_index),
        cmocka_unit_test(test_initial_owner_thread_ends),
        cmocka_unit_test(test_release_failures_leave_previous),
        cmocka_unit_test(test_close_under_wait_frees_name),
        cmocka_unit_test(test_name_limits_every_kind),
        cmocka_unit_test(test_leftover_references_keep_no_name),
        cmocka_unit_test(test_create_existing_semaphore_ignores_bad_counts),
    };
    return SYNC_RUN("sync_api_edges", tests);
}
