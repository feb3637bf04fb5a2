/*
 * SPEC 6, mutexes: owned by a thread; recursive (32 deep needs 32
 * releases); ERROR_NOT_OWNER for another thread's or an extra release;
 * bInitialOwner for a new mutex only (another process can't acquire it
 * until released); CloseHandle keeps ownership; wrong-type/bad handles;
 * unnamed mutexes through fork; a deadlock (two owners waiting for each
 * other, in one process or two) stops only its threads.  Abandonment: sync_mutex_abandon.c;
 * priority inheritance and mutual exclusion hammered: sync_mutex_pi.c;
 * abandonment seen from multi-object waits: sync_mutex_watch.c; the helpers
 * they share: sync_mutex_util.h.
 */
#include "sync_mutex_util.h"

static DWORD other_thread_release(HANDLE h, DWORD *err)
{
    struct call c = {.h = h, .what = 1};
    pthread_join(sync_thread(call_main, &c), NULL);
    *err = c.err;
    return c.r;
}

/* ---- ownership and recursion -------------------------------------------------------- */

static void test_owned_by_thread(void **state)
{
    (void)state;
    HANDLE m = RtCreateMutex(NULL, FALSE, NULL);
    assert_non_null(m);
    DWORD err;
    /* Unowned: anyone's release is a non-owner's. */
    SetLastError(0);
    assert_false(RtReleaseMutex(m));
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    assert_false(other_thread_release(m, &err));
    assert_int_equal(err, ERROR_NOT_OWNER);

    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0);
    assert_int_equal(other_thread_try(m), WAIT_TIMEOUT); /* owned by this thread */
    assert_false(other_thread_release(m, &err));         /* release by another thread */
    assert_int_equal(err, ERROR_NOT_OWNER);
    assert_int_equal(other_thread_try(m), WAIT_TIMEOUT); /* still ours */
    assert_true(RtReleaseMutex(m));
    SetLastError(0);
    assert_false(RtReleaseMutex(m)); /* once more than acquired */
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    assert_int_equal(other_thread_try(m), WAIT_OBJECT_0);
    assert_true(CloseHandle(m));
}

static void test_recursion_32_deep(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "recursive");
    HANDLE m = RtCreateMutex(NULL, FALSE, name);
    HANDLE m2 = RtOpenMutex(0, FALSE, name); /* a second handle: same mutex, same count */
    assert_non_null(m2);
    for (int i = 0; i < 32; i++)
        assert_int_equal(RtWaitForSingleObject(i % 2 ? m : m2, i % 3 ? INFINITE : 0), WAIT_OBJECT_0);
    for (int i = 31; i > 0; i--) {
        assert_true(RtReleaseMutex(i % 2 ? m2 : m));
        if (i % 8 == 0 || i == 1)
            assert_int_equal(other_thread_try(m), WAIT_TIMEOUT); /* held until the 32nd release */
    }
    assert_true(RtReleaseMutex(m));
    SetLastError(0);
    assert_false(RtReleaseMutex(m)); /* the 33rd */
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    assert_int_equal(other_thread_try(m), WAIT_OBJECT_0);
    /* Acquisitions through multi-object waits count too. */
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    HANDLE list[2] = {e, m};
    assert_int_equal(RtWaitForMultipleObjects(2, list, FALSE, 0), WAIT_OBJECT_0 + 1);
    assert_int_equal(RtWaitForMultipleObjects(2, list, FALSE, 10), WAIT_OBJECT_0 + 1);
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0);
    assert_true(RtReleaseMutex(m));
    assert_true(RtReleaseMutex(m));
    assert_int_equal(other_thread_try(m), WAIT_TIMEOUT);
    assert_true(RtReleaseMutex(m));
    assert_false(RtReleaseMutex(m));
    assert_int_equal(other_thread_try(m), WAIT_OBJECT_0);
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(m2));
    assert_true(CloseHandle(m));
}

/* ---- bInitialOwner -------------------------------------------------------------------- */

static void test_initial_owner_new_mutex(void **state)
{
    (void)state;
    /* Made here, owned here: another process can't get it until released. */
    char name[64];
    SYNC_NAME(name, "initial");
    SetLastError(99);
    HANDLE m = RtCreateMutex(NULL, TRUE, name);
    assert_non_null(m);
    assert_int_equal(GetLastError(), 0);
    assert_int_equal(other_thread_try(m), WAIT_TIMEOUT);
    struct tn_peer p;
    tn_peer_start(&p, NULL, "om", name, "w", "100", "g", "w", "3000", "rm", NULL);
    assert_true(sync_peer_ok(&p, NULL));
    DWORD r;
    assert_true(sync_peer_word(&p, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&p, &r, NULL));
    assert_int_equal(r, WAIT_TIMEOUT);
    assert_true(RtReleaseMutex(m));
    tn_peer_send(&p);
    assert_true(sync_peer_word(&p, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&p, &r, NULL));
    assert_int_equal(r, WAIT_OBJECT_0);
    assert_true(sync_peer_ok(&p, NULL)); /* its release */
    assert_true(sync_peer_done(&p));
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0);
    assert_true(RtReleaseMutex(m));
    assert_true(CloseHandle(m));

    /* Made and owned by another process: not ours until it lets go. */
    SYNC_NAME(name, "initial-peer");
    tn_peer_start(&p, NULL, "cm", name, "1", "g", "rm", "g", NULL);
    long err;
    assert_true(sync_peer_ok(&p, &err));
    assert_int_equal(err, 0);
    m = RtOpenMutex(0, FALSE, name);
    assert_non_null(m);
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_TIMEOUT);
    assert_int_equal(RtWaitForSingleObject(m, 50), WAIT_TIMEOUT);
    tn_peer_send(&p);
    assert_true(sync_peer_ok(&p, NULL));
    assert_int_equal(RtWaitForSingleObject(m, 1000), WAIT_OBJECT_0);
    assert_true(RtReleaseMutex(m));
    assert_true(sync_peer_done(&p));
    assert_true(CloseHandle(m));

    /* Unnamed, initially owned. */
    m = RtCreateMutex(NULL, TRUE, NULL);
    assert_int_equal(other_thread_try(m), WAIT_TIMEOUT);
    assert_true(RtReleaseMutex(m));
    assert_false(RtReleaseMutex(m));
    assert_true(CloseHandle(m));
}

static void test_initial_owner_ignored_for_existing(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "initial-exist");
    HANDLE m = RtCreateMutex(NULL, FALSE, name);
    struct call c = {.what = 2, .name = name};
    pthread_join(sync_thread(call_main, &c), NULL);
    assert_non_null(c.made);
    assert_int_equal(c.err, ERROR_ALREADY_EXISTS);
    assert_false(c.r); /* that thread did not own it... */
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0); /* ...so this one gets it */
    assert_true(RtReleaseMutex(m));
    assert_true(CloseHandle(c.made));
    assert_true(CloseHandle(m));
}

/* ---- CloseHandle keeps ownership ----------------------------------------------------------- */

static void test_close_does_not_release(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "close-owned");
    HANDLE m = RtCreateMutex(NULL, FALSE, name);
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0);
    HANDLE m2 = RtOpenMutex(0, FALSE, name);
    assert_true(CloseHandle(m));
    struct tn_peer p;
    tn_peer_start(&p, NULL, "om", name, "w", "100", "g", "w", "100", "g", "w", "3000", "rm", NULL);
    assert_true(sync_peer_ok(&p, NULL));
    DWORD r;
    assert_true(sync_peer_word(&p, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&p, &r, NULL));
    assert_int_equal(r, WAIT_TIMEOUT);
    /* Even with no handle left in this process, this thread owns it. */
    assert_true(CloseHandle(m2));
    tn_peer_send(&p);
    assert_true(sync_peer_word(&p, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&p, &r, NULL));
    assert_int_equal(r, WAIT_TIMEOUT);
    HANDLE m3 = RtOpenMutex(0, FALSE, name); /* the peer kept the name alive */
    assert_non_null(m3);
    assert_true(RtReleaseMutex(m3)); /* still the owner */
    tn_peer_send(&p);
    assert_true(sync_peer_word(&p, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&p, &r, NULL));
    assert_int_equal(r, WAIT_OBJECT_0); /* released, not abandoned */
    assert_true(sync_peer_ok(&p, NULL));
    assert_true(sync_peer_done(&p));
    assert_true(CloseHandle(m3));
}

/* ---- bad handles, unnamed through fork ------------------------------------------------------------- */

static void test_bad_handles(void **state)
{
    (void)state;
    void *loc;
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, NULL, &loc);
    HANDLE e = RtCreateEvent(NULL, TRUE, TRUE, NULL);
    HANDLE s = RtCreateSemaphore(NULL, 1, 1, NULL);
    HANDLE closed = RtCreateMutex(NULL, FALSE, NULL);
    assert_true(CloseHandle(closed));
    HANDLE bad[] = {NULL, (HANDLE)(uintptr_t)2, (HANDLE)(uintptr_t)0x7fffffff, (HANDLE)(uintptr_t)-1,
                    closed, shm, e, s};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SetLastError(0);
        if (RtReleaseMutex(bad[i]) != FALSE || GetLastError() != ERROR_INVALID_HANDLE)
            fail_msg("RtReleaseMutex on bad handle %zu: error %u", i, GetLastError());
    }
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0);
    LONG prev = -1;
    assert_false(RtReleaseSemaphore(s, 1, &prev)); /* untouched: still at its maximum */
    assert_true(RtUnmapSharedMemory(loc));
    assert_true(CloseHandle(shm));
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(s));
}

static void test_unnamed_mutex_through_fork(void **state)
{
    (void)state;
    HANDLE m = RtCreateMutex(NULL, FALSE, NULL);
    int go[2], back[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(back), 0);
    pid_t pid = tn_fork();
    if (pid == 0) {
        char c;
        TN_CHILD_CHECK(RtWaitForSingleObject(m, 0) == WAIT_OBJECT_0);
        TN_CHILD_CHECK(write(back[1], "o", 1) == 1);
        TN_CHILD_CHECK(read(go[0], &c, 1) == 1);
        TN_CHILD_CHECK(RtReleaseMutex(m));
        TN_CHILD_CHECK(write(back[1], "r", 1) == 1);
        TN_CHILD_CHECK(read(go[0], &c, 1) == 1);
        TN_CHILD_CHECK(RtWaitForSingleObject(m, 5000) == WAIT_OBJECT_0);
        _exit(0); /* ends owning it */
    }
    char c;
    assert_int_equal(read(back[0], &c, 1), 1);
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_TIMEOUT);
    assert_int_equal(RtWaitForSingleObject(m, 50), WAIT_TIMEOUT);
    assert_false(RtReleaseMutex(m));
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_int_equal(read(back[0], &c, 1), 1);
    assert_int_equal(RtWaitForSingleObject(m, 1000), WAIT_OBJECT_0);
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_true(sync_task_blocked(pid, pid, 5000));
    assert_true(RtReleaseMutex(m));
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    assert_int_equal(RtWaitForSingleObject(m, 1000), WAIT_ABANDONED_0); /* the child exited owning it */
    assert_true(RtReleaseMutex(m));
    assert_true(CloseHandle(m));
    close(go[0]), close(go[1]), close(back[0]), close(back[1]);
}

/* ---- a deadlock stops only its threads ------------------------------------------------ */

/* Two threads that each own one mutex and then wait for the other's make a
 * cycle the kernel finds in the PI chain: it answers the second wait with
 * EDEADLK.  glibc asserts that answer never comes for a recursive mutex, and
 * the whole process aborted (across processes, whichever one closed the
 * cycle).  Win32's answer is a deadlock of those two threads: each wait
 * times out, or, INFINITE, sleeps for ever.  Run in a child, whose death is
 * the failure. */
static HANDLE dl_mutex[2];
static pthread_barrier_t dl_both_own;
static _Atomic DWORD dl_result[2];
static _Atomic pid_t dl_tid[2];
static DWORD dl_timeout;

static void *dl_waiter(void *arg)
{
    int i = (int)(intptr_t)arg;
    atomic_store(&dl_tid[i], sync_gettid());
    if (RtWaitForSingleObject(dl_mutex[i], INFINITE) != WAIT_OBJECT_0)
        _exit(4);
    pthread_barrier_wait(&dl_both_own);
    atomic_store(&dl_result[i], RtWaitForSingleObject(dl_mutex[!i], dl_timeout));
    RtReleaseMutex(dl_mutex[i]);
    return NULL;
}

/* The child's exit status: 0 when both waits ended as Win32's would - each
 * timed out, or one got the mutex the other let go of after its own
 * timeout - or, INFINITE, both are still asleep in them after a while. */
static int deadlock_child(DWORD timeout)
{
    alarm(20);
    dl_timeout = timeout;
    char name[64];
    for (int i = 0; i < 2; i++) {
        SYNC_NAME(name, i ? "deadlock-b" : "deadlock-a");
        dl_mutex[i] = RtCreateMutex(NULL, FALSE, name);
        if (dl_mutex[i] == NULL)
            return 2;
    }
    pthread_barrier_init(&dl_both_own, NULL, 2);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        t[i] = sync_thread(dl_waiter, (void *)(intptr_t)i);
    if (timeout == INFINITE) {
        /* Both asleep, and still so 200 ms on: neither woke nor aborted. */
        for (int settled = 0, tries = 0; tries < 2000; tries++) {
            usleep(1000);
            bool asleep = tn_thread_state(atomic_load(&dl_tid[0])) == 'S' &&
                          tn_thread_state(atomic_load(&dl_tid[1])) == 'S';
            settled = asleep ? settled + 1 : 0;
            if (settled == 200)
                return atomic_load(&dl_result[0]) == 0 && atomic_load(&dl_result[1]) == 0 ? 0 : 5;
        }
        return 6;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    DWORD a = atomic_load(&dl_result[0]), b = atomic_load(&dl_result[1]);
    bool each_ok = (a == WAIT_TIMEOUT || a == WAIT_OBJECT_0) && (b == WAIT_TIMEOUT || b == WAIT_OBJECT_0);
    return each_ok && (a == WAIT_TIMEOUT || b == WAIT_TIMEOUT) ? 0 : 3;
}

static void expect_deadlock_survived(DWORD timeout)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(deadlock_child(timeout));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the child died of signal %d", WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_deadlock_times_out(void **state)
{
    (void)state;
    expect_deadlock_survived(300);
}

static void test_deadlock_infinite_sleeps(void **state)
{
    (void)state;
    expect_deadlock_survived(INFINITE);
}

/* The same between two processes: the kernel finds the cycle across them,
 * and the process whose wait closed it aborted.  Exit status 0: its wait
 * got the mutex; 1: timed out; else a failure. */
static char xdl_name[2][64]; /* named by the parent: a name has the pid in it */

static int deadlock_process(int i, int to_other, int from_other)
{
    alarm(20);
    HANDLE m[2];
    for (int k = 0; k < 2; k++)
        if ((m[k] = RtCreateMutex(NULL, FALSE, xdl_name[k])) == NULL)
            return 2;
    char c = 0;
    if (RtWaitForSingleObject(m[i], INFINITE) != WAIT_OBJECT_0 || write(to_other, &c, 1) != 1 ||
        read(from_other, &c, 1) != 1)
        return 3;
    DWORD r = RtWaitForSingleObject(m[!i], 300);
    RtReleaseMutex(m[i]);
    return r == WAIT_OBJECT_0 ? 0 : r == WAIT_TIMEOUT ? 1 : 4;
}

static void test_deadlock_across_processes(void **state)
{
    (void)state;
    SYNC_NAME(xdl_name[0], "xdeadlock-a");
    SYNC_NAME(xdl_name[1], "xdeadlock-b");
    int a[2], b[2];
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    pid_t pid[2];
    for (int i = 0; i < 2; i++) {
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0)
            _exit(i ? deadlock_process(1, b[1], a[0]) : deadlock_process(0, a[1], b[0]));
    }
    int timed_out = 0;
    for (int i = 0; i < 2; i++) {
        int status;
        assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
        if (WIFSIGNALED(status))
            fail_msg("process %d died of signal %d", i, WTERMSIG(status));
        assert_in_range(WEXITSTATUS(status), 0, 1);
        timed_out += WEXITSTATUS(status);
    }
    assert_true(timed_out > 0);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owned_by_thread),
        cmocka_unit_test(test_recursion_32_deep),
        cmocka_unit_test(test_initial_owner_new_mutex),
        cmocka_unit_test(test_initial_owner_ignored_for_existing),
        cmocka_unit_test(test_close_does_not_release),
        cmocka_unit_test(test_bad_handles),
        cmocka_unit_test(test_unnamed_mutex_through_fork),
        cmocka_unit_test(test_deadlock_times_out),
        cmocka_unit_test(test_deadlock_infinite_sleeps),
        cmocka_unit_test(test_deadlock_across_processes),
    };
    return SYNC_RUN("sync_mutex", tests);
}
