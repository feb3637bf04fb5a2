/*
 * SPEC 9 / issue 12: threads.  CreateThread (stack size, the thread id),
 * ExitThread, GetCurrentThreadId, OpenThread, GetExitCodeThread; thread
 * handles in both waits, from several threads at once and next to an
 * event; handles closed while the thread runs; the priority calls on
 * thread handles, read back from the kernel (sched_getparam on the thread
 * id); bad handles and arguments with their Win32 errors (those of
 * SuspendThread, ResumeThread and TerminateThread too).  Suspending:
 * test_thread_signal.c; terminating: test_thread_terminate.c and
 * test_thread_terminate_wait.c; fork: test_thread_fork.c; shared
 * helpers: thread_util.h.  Threaded: labelled "threads" (TSan in CI).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test_node.h"
#include "thread_util.h"

/* ---- helpers ------------------------------------------------------------ */

static pid_t tid_now(void) { return (pid_t)syscall(SYS_gettid); }

/* ---- normal use ------------------------------------------------------------ */

static void test_create_wait_exit_code(void **state)
{
    (void)state;
    struct waiter_arg a = {.go = new_event(), .code = 42};
    DWORD id = 0;
    SetLastError(99);
    HANDLE h = CreateThread(NULL, 0, wait_then_return, &a, 0, &id);
    assert_non_null(h);
    assert_true(eventually(&a.started));
    assert_int_equal(id, a.id);            /* the id the thread itself sees */
    assert_int_not_equal(id, GetCurrentThreadId());
    assert_int_equal(exit_code(h), STILL_ACTIVE);
    assert_int_equal(WaitForSingleObject(h, 0), WAIT_TIMEOUT);
    assert_int_equal(WaitForSingleObject(h, 20), WAIT_TIMEOUT);
    assert_true(SetEvent(a.go));
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 42);
    /* Stays signalled: a wait never consumes a thread. */
    assert_int_equal(RtWaitForSingleObject(h, 0), WAIT_OBJECT_0);
    assert_int_equal(WaitForMultipleObjects(1, &h, FALSE, 0), WAIT_OBJECT_0);
    assert_true(CloseHandle(h));
    assert_true(CloseHandle(a.go));
}

static void test_current_thread_id_is_the_kernel_tid(void **state)
{
    (void)state;
    assert_int_equal(GetCurrentThreadId(), (DWORD)tid_now());
    assert_int_equal(GetCurrentThreadId(), GetCurrentThreadId());
}

static DWORD WINAPI report_stack(LPVOID p)
{
    pthread_attr_t attr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstacksize(&attr, &size);
        pthread_attr_destroy(&attr);
    }
    *(size_t *)p = size;
    return 0;
}

static void test_stack_size(void **state)
{
    (void)state;
    DWORD asked[] = {1, 4096, 1024 * 1024 + 1, 0};
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        size_t got = 0;
        HANDLE h = RtCreateThread(NULL, asked[i], report_stack, &got, 0, NULL);
        assert_non_null(h);
        assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
        assert_true(got >= asked[i]);
        assert_true(got >= (size_t)PTHREAD_STACK_MIN);
        assert_int_equal(got % (size_t)sysconf(_SC_PAGESIZE), 0);
        assert_true(CloseHandle(h));
    }
}

/* ExitThread from a nested call: nothing after it runs. */
static atomic_int after_exit;
static void nested_exit(DWORD code)
{
    ExitThread(code);
}

static DWORD WINAPI exits_early(LPVOID p)
{
    nested_exit((DWORD)(uintptr_t)p);
    atomic_store(&after_exit, 1);
    return 5;
}

static DWORD WINAPI rt_exits(LPVOID p)
{
    (void)p;
    RtExitThread(STILL_ACTIVE + 1);
    return 5;
}

static void test_exit_thread_code(void **state)
{
    (void)state;
    HANDLE h = CreateThread(NULL, 0, exits_early, (LPVOID)(uintptr_t)77, 0, NULL);
    assert_non_null(h);
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 77);
    assert_int_equal(atomic_load(&after_exit), 0);
    assert_true(CloseHandle(h));
    h = CreateThread(NULL, 0, rt_exits, NULL, 0, NULL);
    assert_non_null(h);
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), STILL_ACTIVE + 1);
    assert_true(CloseHandle(h));
}

/* ExitThread in a thread the library did not create: pthread_exit. */
static atomic_int foreign_after;
static void *foreign_exits(void *p)
{
    (void)p;
    ExitThread(3);
    atomic_store(&foreign_after, 1);
    return (void *)1;
}

static void test_exit_thread_in_a_foreign_thread(void **state)
{
    (void)state;
    pthread_t t;
    void *result = (void *)2;
    assert_int_equal(pthread_create(&t, NULL, foreign_exits, NULL), 0);
    assert_int_equal(pthread_join(t, &result), 0);
    assert_null(result);
    assert_int_equal(atomic_load(&foreign_after), 0);
}

/* ---- waits ----------------------------------------------------------------- */

struct multi_waiter {
    HANDLE h;
    bool multi;
    DWORD result;
};

static void *wait_on_thread(void *p)
{
    struct multi_waiter *w = p;
    if (w->multi) {
        HANDLE e = CreateEvent(NULL, FALSE, FALSE, NULL);
        HANDLE both[2] = {e, w->h};
        w->result = WaitForMultipleObjects(2, both, FALSE, INFINITE);
        CloseHandle(e);
    } else {
        w->result = WaitForSingleObject(w->h, INFINITE);
    }
    return NULL;
}

static void test_end_wakes_every_waiter(void **state)
{
    (void)state;
    enum { N = 6 };
    struct waiter_arg a = {.go = new_event(), .code = 3};
    HANDLE h = CreateThread(NULL, 0, wait_then_return, &a, 0, NULL);
    assert_non_null(h);
    pthread_t t[N];
    struct multi_waiter w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct multi_waiter){.h = h, .multi = i % 2 == 1, .result = 999};
        assert_int_equal(pthread_create(&t[i], NULL, wait_on_thread, &w[i]), 0);
    }
    usleep(50000); /* let them sleep */
    assert_true(SetEvent(a.go));
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].result, w[i].multi ? WAIT_OBJECT_0 + 1 : WAIT_OBJECT_0);
    }
    assert_int_equal(exit_code(h), 3);
    assert_true(CloseHandle(h));
    assert_true(CloseHandle(a.go));
}

static void test_thread_and_event_in_one_wait(void **state)
{
    (void)state;
    struct waiter_arg a = {.go = new_event(), .code = 8};
    HANDLE h = CreateThread(NULL, 0, wait_then_return, &a, 0, NULL);
    assert_non_null(h);
    HANDLE ev = CreateEvent(NULL, FALSE, FALSE, NULL);
    HANDLE sem = CreateSemaphore(NULL, 0, 1, NULL);
    assert_non_null(ev);
    assert_non_null(sem);
    HANDLE objs[3] = {ev, sem, h};
    assert_int_equal(WaitForMultipleObjects(3, objs, FALSE, 20), WAIT_TIMEOUT);
    assert_true(SetEvent(ev));
    assert_int_equal(WaitForMultipleObjects(3, objs, FALSE, 1000), WAIT_OBJECT_0);
    assert_true(SetEvent(a.go)); /* the thread ends while we sleep on all three */
    assert_int_equal(WaitForMultipleObjects(3, objs, FALSE, 10000), WAIT_OBJECT_0 + 2);
    /* Both signalled: the lowest index wins, the thread stays signalled. */
    assert_true(SetEvent(ev));
    HANDLE order[2] = {h, ev};
    assert_int_equal(WaitForMultipleObjects(2, order, FALSE, 0), WAIT_OBJECT_0);
    assert_int_equal(WaitForMultipleObjects(2, order, FALSE, 0), WAIT_OBJECT_0);
    assert_int_equal(WaitForSingleObject(ev, 0), WAIT_OBJECT_0);
    assert_true(CloseHandle(h));
    assert_true(CloseHandle(ev));
    assert_true(CloseHandle(sem));
    assert_true(CloseHandle(a.go));
}

/* ---- handles --------------------------------------------------------------- */

static DWORD WINAPI signal_and_return(LPVOID p)
{
    struct waiter_arg *a = p;
    usleep(20000); /* outlive the creator's CloseHandle */
    atomic_store(&a->started, 1);
    return 0;
}

static void test_handle_closed_while_running(void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++) {
        struct waiter_arg a = {0};
        HANDLE h = CreateThread(NULL, 0, signal_and_return, &a, 0, NULL);
        assert_non_null(h);
        assert_true(CloseHandle(h)); /* the thread runs on and frees its object (ASan: no leak) */
        assert_true(eventually(&a.started));
    }
    usleep(50000);
}

static void test_open_thread(void **state)
{
    (void)state;
    struct waiter_arg a = {.go = new_event(), .code = 17};
    DWORD id;
    HANDLE h = CreateThread(NULL, 0, wait_then_return, &a, 0, &id);
    assert_non_null(h);
    HANDLE o = OpenThread(THREAD_ALL_ACCESS, FALSE, id);
    assert_non_null(o);
    assert_ptr_not_equal(o, h);
    assert_true(CloseHandle(h)); /* the opened handle keeps the object */
    assert_int_equal(exit_code(o), STILL_ACTIVE);
    assert_true(SetEvent(a.go));
    assert_int_equal(WaitForSingleObject(o, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(o), 17);
    assert_true(CloseHandle(o));
    /* An ended thread's id (it left the registry as it ended, soon after the signal) */
    for (int i = 0; i < 1000 && (o = OpenThread(THREAD_ALL_ACCESS, FALSE, id)) != NULL; i++) {
        CloseHandle(o);
        usleep(1000);
    }
    assert_null(o);
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    assert_true(CloseHandle(a.go));
}

static void test_pseudo_handle(void **state)
{
    (void)state;
    assert_ptr_equal(GetCurrentThread(), (HANDLE)(intptr_t)-2);
    /* Closing a pseudo-handle does nothing, and succeeds (Win32). */
    SetLastError(1234);
    assert_true(CloseHandle(GetCurrentThread()));
    assert_true(RtCloseHandle(GetCurrentThread()));
    assert_int_equal(GetLastError(), 1234);
    DWORD code = 0;
    assert_true(GetExitCodeThread(GetCurrentThread(), &code));
    assert_int_equal(code, STILL_ACTIVE);
    assert_int_equal(GetThreadPriority(GetCurrentThread()), THREAD_PRIORITY_NORMAL);
}

/* Every wait on GetCurrentThread() sees the calling thread's handle, which
 * is not signalled while that thread runs (INtime: the pseudo-handle stands
 * for the caller wherever a thread handle is required; SPEC 9: thread
 * handles are waitable): each wait times out, an object next to it in a
 * multi-object wait is found as in any wait.  Returns a count of what went
 * wrong (a thread the library created cannot use cmocka's asserts). */
static int own_handle_wait_faults(void)
{
    int faults = 0;
    HANDLE set = new_event(), unset = new_event();
    SetEvent(set);
    SetLastError(1234);
    struct timespec t0, t1;
    faults += WaitForSingleObject(GetCurrentThread(), 0) != WAIT_TIMEOUT;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    faults += RtWaitForSingleObject(GetCurrentThread(), 20) != WAIT_TIMEOUT;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    faults += (t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec < 20000000L; /* not early */
    HANDLE pair[2] = {GetCurrentThread(), set};
    faults += WaitForMultipleObjects(2, pair, FALSE, 1000) != WAIT_OBJECT_0 + 1;
    pair[1] = unset;
    faults += RtWaitForMultipleObjects(2, pair, FALSE, 10) != WAIT_TIMEOUT;
    faults += GetLastError() != 1234; /* left alone on success and timeout, as by any wait */
    CloseHandle(set);
    CloseHandle(unset);
    return faults;
}

static DWORD WINAPI waits_on_own_handle(LPVOID p)
{
    (void)p;
    return (DWORD)own_handle_wait_faults();
}

static DWORD WINAPI waits_on_own_handle_for_ever(LPVOID p)
{
    atomic_store((atomic_int *)p, 1);
    return WaitForSingleObject(GetCurrentThread(), INFINITE); /* a thread waiting for its own end */
}

static void test_wait_on_own_pseudo_handle(void **state)
{
    (void)state;
    /* A thread the library did not create (this one) and one it did. */
    assert_int_equal(own_handle_wait_faults(), 0);
    HANDLE h = CreateThread(NULL, 0, waits_on_own_handle, NULL, 0, NULL);
    assert_non_null(h);
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 0);
    assert_true(CloseHandle(h));
    if (TSAN)
        return; /* TerminateThread's signal never reaches a futex sleep under TSan: thread_util.h */
    /* INFINITE waits for ever, as in Win32, and TerminateThread still ends it. */
    atomic_int started = 0;
    h = CreateThread(NULL, 0, waits_on_own_handle_for_ever, &started, 0, NULL);
    assert_non_null(h);
    assert_true(eventually(&started));
    assert_int_equal(WaitForSingleObject(h, 50), WAIT_TIMEOUT);
    assert_true(TerminateThread(h, 77));
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 77);
    assert_true(CloseHandle(h));
}

/* ---- bad handles and arguments ---------------------------------------------- */

static void test_bad_arguments(void **state)
{
    (void)state;
    SetLastError(0);
    assert_null(CreateThread(NULL, 0, NULL, NULL, 0, NULL));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);

    HANDLE ev = new_event();
    HANDLE ended = CreateThread(NULL, 0, returns_at_once, NULL, 0, NULL);
    assert_non_null(ended);
    assert_int_equal(WaitForSingleObject(ended, 10000), WAIT_OBJECT_0);
    HANDLE closed = CreateThread(NULL, 0, returns_at_once, NULL, 0, NULL);
    assert_non_null(closed);
    assert_true(CloseHandle(closed));

    HANDLE bad[] = {NULL, ev, closed, (HANDLE)(intptr_t)-1, (HANDLE)0x12345678};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        DWORD code = 5;
        SetLastError(0);
        assert_false(GetExitCodeThread(bad[i], &code));
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
        assert_int_equal(code, 5);
        SetLastError(0);
        assert_int_equal(SuspendThread(bad[i]), (DWORD)-1);
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
        SetLastError(0);
        assert_int_equal(ResumeThread(bad[i]), (DWORD)-1);
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
        SetLastError(0);
        assert_false(TerminateThread(bad[i], 1));
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
        SetLastError(0);
        assert_false(SetThreadPriority(bad[i], 0));
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
        SetLastError(0);
        assert_int_equal(RtGetThreadPriority(bad[i]), THREAD_PRIORITY_ERROR_RETURN);
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    }
    /* A thread handle where another type is wanted. */
    SetLastError(0);
    assert_false(SetEvent(ended));
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    SetLastError(0);
    assert_false(ReleaseMutex(ended));
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);

    SetLastError(0);
    assert_false(GetExitCodeThread(ended, NULL));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);

    /* An ended thread: no suspending or priorities; Terminate changes nothing. */
    SetLastError(0);
    assert_int_equal(SuspendThread(ended), (DWORD)-1);
    assert_int_equal(GetLastError(), ERROR_ACCESS_DENIED);
    SetLastError(0);
    assert_int_equal(ResumeThread(ended), (DWORD)-1);
    assert_int_equal(GetLastError(), ERROR_ACCESS_DENIED);
    SetLastError(0);
    assert_false(RtSetThreadPriority(ended, 50));
    assert_int_equal(GetLastError(), ERROR_ACCESS_DENIED);
    SetLastError(0);
    assert_int_equal(GetThreadPriority(ended), THREAD_PRIORITY_ERROR_RETURN);
    assert_int_equal(GetLastError(), ERROR_ACCESS_DENIED);
    assert_true(TerminateThread(ended, 99));
    assert_int_equal(exit_code(ended), 1);

    /* OpenThread: ids of no thread of the library's. */
    DWORD ids[] = {0, GetCurrentThreadId(), (DWORD)getpid(), 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        SetLastError(0);
        assert_null(OpenThread(THREAD_ALL_ACCESS, FALSE, ids[i]));
        assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    }
    /* The pseudo-handle of a thread the library did not create has no
     * thread object to suspend. */
    SetLastError(0);
    assert_int_equal(SuspendThread(GetCurrentThread()), (DWORD)-1);
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);

    assert_true(CloseHandle(ended));
    assert_true(CloseHandle(ev));
}

/* ---- priorities on thread handles -------------------------------------------- */

static DWORD WINAPI own_rtx(LPVOID p)
{
    (void)p;
    return (DWORD)RtGetThreadPriority(GetCurrentThread());
}

/* A thread made by a real-time thread of ours: it inherits the priority,
 * and reads back the RTX value its creator set. */
static DWORD WINAPI creates_a_child(LPVOID p)
{
    (void)p;
    if (!RtSetThreadPriority(GetCurrentThread(), 100))
        return 1000;
    DWORD id;
    HANDLE c = CreateThread(NULL, 0, own_rtx, NULL, CREATE_SUSPENDED, &id);
    if (c == NULL)
        return 1001;
    int policy, prio;
    kernel_sched(id, &policy, &prio);
    DWORD result = policy == SCHED_FIFO && prio == 72 ? 0 : 1002;
    ResumeThread(c);
    WaitForSingleObject(c, INFINITE);
    DWORD code = 0;
    GetExitCodeThread(c, &code);
    CloseHandle(c);
    return result ? result : code;
}

static void test_priorities_on_thread_handles(void **state)
{
    (void)state;
    if (!fifo_permitted())
        skip();
    DWORD id;
    HANDLE h = CreateThread(NULL, 0, own_rtx, NULL, CREATE_SUSPENDED, &id);
    assert_non_null(h);
    int policy, prio;
    kernel_sched(id, &policy, &prio);
    assert_int_equal(policy, SCHED_OTHER); /* the creator's */
    assert_int_equal(RtGetThreadPriority(h), 0);
    assert_int_equal(GetThreadPriority(h), THREAD_PRIORITY_NORMAL);
    assert_true(SetThreadPriority(h, THREAD_PRIORITY_HIGHEST));
    kernel_sched(id, &policy, &prio);
    assert_int_equal(policy, SCHED_FIFO);
    assert_int_equal(prio, 39);
    assert_int_equal(GetThreadPriority(h), THREAD_PRIORITY_HIGHEST);
    assert_true(RtSetThreadPriority(h, 90));
    kernel_sched(id, &policy, &prio);
    assert_int_equal(prio, 62);
    assert_int_equal(RtGetThreadPriority(h), 90);
    /* Through another handle to the same thread: the same record. */
    HANDLE o = OpenThread(THREAD_ALL_ACCESS, FALSE, id);
    assert_non_null(o);
    assert_int_equal(RtGetThreadPriority(o), 90);
    assert_true(RtSetThreadPriority(o, 20)); /* RTX 0-29 share FIFO 1 */
    kernel_sched(id, &policy, &prio);
    assert_int_equal(prio, 1);
    assert_int_equal(RtGetThreadPriority(h), 20);
    assert_true(CloseHandle(o));
    /* The thread itself reads, through its pseudo-handle, what was set on its handle. */
    assert_true(RtSetThreadPriority(h, 90));
    assert_int_equal(ResumeThread(h), 1);
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 90);
    assert_true(CloseHandle(h));
    /* This (main) thread is unchanged. */
    assert_int_equal(sched_getscheduler(0), SCHED_OTHER);

    h = CreateThread(NULL, 0, creates_a_child, NULL, 0, NULL);
    assert_non_null(h);
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 100);
    assert_true(CloseHandle(h));
}

int main(int argc, char **argv)
{
    tn_setup("thread");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_wait_exit_code),
        cmocka_unit_test(test_current_thread_id_is_the_kernel_tid),
        cmocka_unit_test(test_stack_size),
        cmocka_unit_test(test_exit_thread_code),
        cmocka_unit_test(test_exit_thread_in_a_foreign_thread),
        cmocka_unit_test(test_end_wakes_every_waiter),
        cmocka_unit_test(test_thread_and_event_in_one_wait),
        cmocka_unit_test(test_handle_closed_while_running),
        cmocka_unit_test(test_open_thread),
        cmocka_unit_test(test_pseudo_handle),
        cmocka_unit_test(test_wait_on_own_pseudo_handle),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_priorities_on_thread_handles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
