/*
 * SPEC 9 / issue 12: threads terminated (src/thread_signal.c).
 * TerminateThread: running, suspended, asleep, itself, ended, owning a
 * mutex, inside a pin of its own handle, while suspending another.  A
 * wait it ends: test_thread_terminate_wait.c.  SuspendThread:
 * test_thread_signal.c.  Shared helpers: thread_util.h.
 * Threaded: labelled "threads" (TSan in CI).  The threads' loops sleep
 * (usleep): a sanitizer delivers signals at such calls.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test_node.h"
#include "thread_util.h"

static void test_terminate_running(void **state)
{
    (void)state;
    struct counter_arg a = {0};
    HANDLE h = CreateThread(NULL, 0, count_until_stopped, &a, 0, NULL);
    assert_non_null(h);
    assert_true(advancing(&a));
    assert_true(TerminateThread(h, 99));
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 99);
    assert_true(frozen(&a));
    assert_true(TerminateThread(h, 5)); /* ended: the code stays */
    assert_int_equal(exit_code(h), 99);
    assert_true(CloseHandle(h));
}

static void test_terminate_suspended_and_waiting(void **state)
{
    (void)state;
    /* Created suspended: the start routine never runs. */
    struct counter_arg a = {0};
    HANDLE h = CreateThread(NULL, 0, count_until_stopped, &a, CREATE_SUSPENDED, NULL);
    assert_non_null(h);
    assert_true(RtTerminateThread(h, 11));
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 11);
    assert_int_equal(atomic_load(&a.count), 0);
    assert_true(CloseHandle(h));
    /* Suspended while running. */
    h = CreateThread(NULL, 0, count_until_stopped, &a, 0, NULL);
    assert_non_null(h);
    assert_true(advancing(&a));
    assert_int_equal(SuspendThread(h), 0);
    assert_true(TerminateThread(h, 12));
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 12);
    assert_true(CloseHandle(h));
    if (TSAN)
        return; /* see TSAN */
    /* Asleep in a wait. */
    struct waiter_arg w = {.go = new_event(), .code = 1};
    h = CreateThread(NULL, 0, wait_then_return, &w, 0, NULL);
    assert_non_null(h);
    assert_true(eventually(&w.started));
    usleep(20000);
    assert_true(TerminateThread(h, 13));
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 13);
    assert_true(CloseHandle(h));
    assert_true(CloseHandle(w.go));
}

/* A thread terminated while it owns a mutex: the mutex is abandoned, as in
 * Win32 (the next owner's wait returns WAIT_ABANDONED). */
struct owner_arg {
    HANDLE mutex;
    atomic_int owns;
};

static DWORD WINAPI owns_a_mutex(LPVOID p)
{
    struct owner_arg *a = p;
    if (WaitForSingleObject(a->mutex, INFINITE) != WAIT_OBJECT_0)
        return 1;
    atomic_store(&a->owns, 1);
    for (;;)
        usleep(1000);
    return 0;
}

static void test_terminated_owner_abandons_its_mutex(void **state)
{
    (void)state;
    struct owner_arg a = {.mutex = CreateMutex(NULL, FALSE, NULL)};
    assert_non_null(a.mutex);
    HANDLE h = CreateThread(NULL, 0, owns_a_mutex, &a, 0, NULL);
    assert_non_null(h);
    assert_true(eventually(&a.owns));
    assert_int_equal(WaitForSingleObject(a.mutex, 20), WAIT_TIMEOUT);
    assert_true(TerminateThread(h, 2));
    HANDLE both[2] = {h, a.mutex};
    assert_int_equal(WaitForMultipleObjects(2, both, FALSE, 10000), WAIT_OBJECT_0);
    assert_int_equal(WaitForSingleObject(a.mutex, 10000), WAIT_ABANDONED);
    assert_true(ReleaseMutex(a.mutex));
    assert_true(CloseHandle(h));
    assert_true(CloseHandle(a.mutex));
}

static DWORD WINAPI terminates_itself(LPVOID p)
{
    (void)p;
    TerminateThread(GetCurrentThread(), 21);
    return 5;
}

/* A thread terminated inside a short call on its own handle (the pin of
 * GetExitCodeThread) whose handles are all closed: its own reference is
 * the last, and its end must not wait for its own pin. */
struct reads_own_code_arg {
    HANDLE self;
    atomic_int spins;
};

static DWORD WINAPI reads_own_exit_code(LPVOID p)
{
    struct reads_own_code_arg *a = p;
    for (;;) {
        DWORD code;
        GetExitCodeThread(a->self, &code);
        atomic_fetch_add(&a->spins, 1);
    }
    return 0;
}

static bool task_exists(DWORD tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%u", (unsigned)tid);
    return access(path, F_OK) == 0;
}

static void test_terminated_inside_a_pin_of_its_own_handle(void **state)
{
    (void)state;
    if (TSAN)
        skip(); /* the signal lands only in an interceptor: never inside a pin */
    int hung = 0;
    for (int round = 0; round < 200; round++) {
        struct reads_own_code_arg a = {0};
        DWORD tid;
        HANDLE h = CreateThread(NULL, 0, reads_own_exit_code, &a, CREATE_SUSPENDED, &tid);
        assert_non_null(h);
        a.self = h;
        assert_int_equal(ResumeThread(h), 1);
        assert_true(eventually(&a.spins));
        assert_true(TerminateThread(h, 3));
        assert_true(CloseHandle(h));
        int i = 0;
        while (task_exists(tid) && i++ < 2000)
            usleep(1000);
        hung += task_exists(tid);
        if (hung)
            break; /* a thread stuck for good: the rest would only add more */
    }
    print_message("terminated threads that never ended: %d\n", hung);
    assert_int_equal(hung, 0);
}

/* A thread terminated while its SuspendThread waits for a thread that
 * blocks the signal (the one wait of the thread calls that lets the signal
 * in) must not keep its reference to that thread's object: the object is
 * freed when its handles are closed (LeakSanitizer sees it otherwise). */
struct blocker_arg {
    atomic_int blocked, release;
};

static DWORD WINAPI blocks_the_signal(LPVOID p)
{
    struct blocker_arg *b = p;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGRTMAX - 1);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    atomic_store(&b->blocked, 1);
    while (!atomic_load(&b->release))
        usleep(1000);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL); /* suspended here until resumed */
    return 4;
}

static atomic_int suspender_tid;

static DWORD WINAPI suspends_it(LPVOID p)
{
    atomic_store(&suspender_tid, (int)syscall(SYS_gettid));
    SuspendThread((HANDLE)p); /* waits: the thread blocks the signal */
    return 0;
}

static void test_terminated_while_suspending_another(void **state)
{
    (void)state;
    if (TSAN)
        skip(); /* the signal never reaches a thread asleep in a futex */
    struct blocker_arg b = {0};
    HANDLE blocker = CreateThread(NULL, 0, blocks_the_signal, &b, 0, NULL);
    assert_non_null(blocker);
    assert_true(eventually(&b.blocked));
    atomic_store(&suspender_tid, 0);
    HANDLE suspender = CreateThread(NULL, 0, suspends_it, blocker, 0, NULL);
    assert_non_null(suspender);
    /* In SuspendThread's wait: asleep, its only sleep there (the lock it
     * takes first is free).  Seen in /proc, not assumed after 50 ms: a
     * suspender that a loaded machine delayed longer was terminated before
     * its SuspendThread, and the Resume below found no suspension. */
    assert_true(eventually(&suspender_tid));
    for (int i = 0; i < 10000 && tn_thread_state(atomic_load(&suspender_tid)) != 'S'; i++)
        usleep(1000);
    assert_int_equal(tn_thread_state(atomic_load(&suspender_tid)), 'S');
    assert_int_equal(WaitForSingleObject(suspender, 0), WAIT_TIMEOUT);
    assert_true(TerminateThread(suspender, 8));
    assert_int_equal(WaitForSingleObject(suspender, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(suspender), 8);
    atomic_store(&b.release, 1);
    assert_int_equal(ResumeThread(blocker), 1); /* the suspension it asked stays */
    assert_int_equal(WaitForSingleObject(blocker, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(blocker), 4);
    assert_true(CloseHandle(suspender));
    assert_true(CloseHandle(blocker));
}

static void test_terminate_itself(void **state)
{
    (void)state;
    HANDLE h = CreateThread(NULL, 0, terminates_itself, NULL, 0, NULL);
    assert_non_null(h);
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 21);
    assert_true(CloseHandle(h));
}

int main(int argc, char **argv)
{
    tn_setup("thread_terminate");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terminate_running),
        cmocka_unit_test(test_terminate_suspended_and_waiting),
        cmocka_unit_test(test_terminate_itself),
        cmocka_unit_test(test_terminated_while_suspending_another),
        cmocka_unit_test(test_terminated_inside_a_pin_of_its_own_handle),
        cmocka_unit_test(test_terminated_owner_abandons_its_mutex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
