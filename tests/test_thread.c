/*
 * SPEC 9 / issue 12: threads.  CreateThread (stack size, CREATE_SUSPENDED,
 * the thread id), ExitThread, GetCurrentThreadId, OpenThread,
 * GetExitCodeThread, SuspendThread/ResumeThread (counts, self-suspension,
 * a thread asleep in a wait), TerminateThread (running, suspended, asleep,
 * itself, ended); thread handles in both waits, from several threads at
 * once and next to an event; handles closed while the thread runs; the
 * priority calls on thread handles, read back from the kernel
 * (sched_getparam on the thread id); bad handles and arguments with their
 * Win32 errors.  Threaded: labelled "threads" (TSan in CI).  The threads'
 * loops sleep (usleep): a sanitizer delivers signals at such calls.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"

/* ThreadSanitizer delivers a signal to a thread only inside one of its
 * interceptors: a thread asleep in the library's futex system call (a wait)
 * never gets SuspendThread's or TerminateThread's signal under it.  Those
 * cases run in every other build. */
#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif
#ifndef TSAN
#define TSAN 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif

/* ---- helpers ------------------------------------------------------------ */

static HANDLE new_event(void)
{
    HANDLE e = CreateEvent(NULL, TRUE, FALSE, NULL);
    assert_non_null(e);
    return e;
}

/* Waits until *flag is nonzero (10 s at most). */
static bool eventually(atomic_int *flag)
{
    for (int i = 0; i < 10000 && !atomic_load(flag); i++)
        usleep(1000);
    return atomic_load(flag) != 0;
}

static pid_t tid_now(void) { return (pid_t)syscall(SYS_gettid); }

/* A thread that reports its id, waits for an event, and returns a code. */
struct waiter_arg {
    HANDLE go;
    DWORD id;
    DWORD code;
    atomic_int started;
};

static DWORD WINAPI wait_then_return(LPVOID p)
{
    struct waiter_arg *a = p;
    a->id = GetCurrentThreadId();
    atomic_store(&a->started, 1);
    if (WaitForSingleObject(a->go, INFINITE) != WAIT_OBJECT_0)
        return 1000;
    return a->code;
}

/* A thread that counts until told to stop. */
struct counter_arg {
    atomic_int count;
    atomic_int stop;
};

static DWORD WINAPI count_until_stopped(LPVOID p)
{
    struct counter_arg *a = p;
    while (!atomic_load(&a->stop)) {
        atomic_fetch_add(&a->count, 1);
        usleep(100);
    }
    return 7;
}

/* Whether the count stays still for 50 ms. */
static bool frozen(struct counter_arg *a)
{
    int before = atomic_load(&a->count);
    usleep(50000);
    return atomic_load(&a->count) == before;
}

static bool advancing(struct counter_arg *a)
{
    int before = atomic_load(&a->count);
    for (int i = 0; i < 1000; i++) {
        usleep(1000);
        if (atomic_load(&a->count) > before + 2)
            return true;
    }
    return false;
}

static DWORD exit_code(HANDLE h)
{
    DWORD code = 12345;
    assert_true(GetExitCodeThread(h, &code));
    return code;
}

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

/* fork: the child has the handles but not the threads; it closes them, and
 * its own CreateThread, OpenThread and waits work (the registry was made
 * afresh for it). */
static int fork_child_body(HANDLE parents)
{
    /* The child's last handle frees the parent's thread's object (a block of
     * over 512 bytes: local_object.c): no end of that thread's drops its
     * own reference here.  ASan's allocator keeps no such count. */
    size_t before = mallinfo2().uordblks;
    if (!CloseHandle(parents))
        return 10;
    if (!ASAN && before - mallinfo2().uordblks < 512)
        return 16;
    struct waiter_arg a = {.go = CreateEvent(NULL, TRUE, TRUE, NULL), .code = 6};
    DWORD id;
    HANDLE h = CreateThread(NULL, 0, wait_then_return, &a, 0, &id);
    if (h == NULL)
        return 11;
    HANDLE o = OpenThread(THREAD_ALL_ACCESS, FALSE, id);
    if (WaitForSingleObject(h, 10000) != WAIT_OBJECT_0)
        return 12;
    DWORD code = 0;
    if (!GetExitCodeThread(h, &code) || code != 6)
        return 13;
    if (o != NULL && !CloseHandle(o)) /* NULL: it ended before OpenThread looked */
        return 14;
    return CloseHandle(h) && CloseHandle(a.go) ? 0 : 15;
}

static void test_fork_child(void **state)
{
    (void)state;
    if (TSAN)
        skip(); /* TSan refuses new threads in a child of a threaded process */
    struct waiter_arg a = {.go = new_event(), .code = 9};
    HANDLE h = CreateThread(NULL, 0, wait_then_return, &a, 0, NULL);
    assert_non_null(h);
    pid_t pid = tn_fork();
    if (pid == 0)
        _exit(fork_child_body(h));
    int status = tn_wait(pid, 10000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(exit_code(h), STILL_ACTIVE); /* the parent's thread runs on */
    assert_true(SetEvent(a.go));
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 9);
    assert_true(CloseHandle(h));
    assert_true(CloseHandle(a.go));
}

/* ---- bad handles and arguments ---------------------------------------------- */

static DWORD WINAPI returns_at_once(LPVOID p)
{
    (void)p;
    return 1;
}

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

/* ---- suspending ------------------------------------------------------------- */

static void test_create_suspended_then_resume(void **state)
{
    (void)state;
    struct counter_arg a = {0};
    HANDLE h = CreateThread(NULL, 0, count_until_stopped, &a, CREATE_SUSPENDED, NULL);
    assert_non_null(h);
    assert_true(frozen(&a));
    assert_int_equal(atomic_load(&a.count), 0); /* never ran */
    assert_int_equal(exit_code(h), STILL_ACTIVE);
    assert_int_equal(WaitForSingleObject(h, 20), WAIT_TIMEOUT);
    assert_int_equal(ResumeThread(h), 1);
    assert_true(advancing(&a));
    assert_int_equal(ResumeThread(h), 0); /* not suspended: nothing to do */
    atomic_store(&a.stop, 1);
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 7);
    assert_true(CloseHandle(h));
}

static void test_suspend_counts(void **state)
{
    (void)state;
    struct counter_arg a = {0};
    HANDLE h = CreateThread(NULL, 0, count_until_stopped, &a, 0, NULL);
    assert_non_null(h);
    assert_true(advancing(&a));
    assert_int_equal(SuspendThread(h), 0);
    assert_true(frozen(&a)); /* stopped by the time SuspendThread returned */
    assert_int_equal(RtSuspendThread(h), 1);
    assert_int_equal(ResumeThread(h), 2);
    assert_true(frozen(&a)); /* still suspended once */
    assert_int_equal(RtResumeThread(h), 1);
    assert_true(advancing(&a));
    /* The count has a maximum. */
    for (DWORD i = 0; i < MAXIMUM_SUSPEND_COUNT; i++)
        assert_int_equal(SuspendThread(h), i);
    SetLastError(0);
    assert_int_equal(SuspendThread(h), (DWORD)-1);
    assert_int_equal(GetLastError(), ERROR_SIGNAL_REFUSED);
    for (DWORD i = MAXIMUM_SUSPEND_COUNT; i > 0; i--)
        assert_int_equal(ResumeThread(h), i);
    assert_true(advancing(&a));
    atomic_store(&a.stop, 1);
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_true(CloseHandle(h));
}

/* A thread asleep in a wait, suspended: it takes the event only once resumed. */
static void test_suspend_a_waiting_thread(void **state)
{
    (void)state;
    if (TSAN)
        skip(); /* see TSAN */
    struct waiter_arg a = {.go = new_event(), .code = 4};
    HANDLE h = CreateThread(NULL, 0, wait_then_return, &a, 0, NULL);
    assert_non_null(h);
    assert_true(eventually(&a.started));
    usleep(20000); /* asleep in the wait */
    assert_int_equal(SuspendThread(h), 0);
    assert_true(SetEvent(a.go));
    assert_int_equal(WaitForSingleObject(h, 100), WAIT_TIMEOUT);
    assert_int_equal(ResumeThread(h), 1);
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 4);
    assert_true(CloseHandle(h));
    assert_true(CloseHandle(a.go));
}

static atomic_int self_before, self_after;
static DWORD WINAPI suspends_itself(LPVOID p)
{
    (void)p;
    atomic_store(&self_before, 1);
    DWORD prev = SuspendThread(GetCurrentThread());
    atomic_store(&self_after, 1);
    return prev + 100;
}

static void test_self_suspend(void **state)
{
    (void)state;
    HANDLE h = CreateThread(NULL, 0, suspends_itself, NULL, 0, NULL);
    assert_non_null(h);
    assert_true(eventually(&self_before));
    usleep(50000);
    assert_int_equal(atomic_load(&self_after), 0);
    assert_int_equal(ResumeThread(h), 1);
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 100);
    assert_true(CloseHandle(h));
}

/* A thread busy in the library's calls on its own handle (which hold its
 * control lock), suspended, resumed and finally terminated many times
 * over: neither may catch it holding that lock (Resume would wait for it
 * for ever, and its own end would). */
static DWORD WINAPI reads_own_priority(LPVOID p)
{
    /* Never closed: a terminated thread lets go of nothing (man SuspendThread). */
    HANDLE self = OpenThread(THREAD_ALL_ACCESS, FALSE, GetCurrentThreadId());
    atomic_int *spins = p;
    for (;;) {
        GetThreadPriority(self);
        atomic_fetch_add(spins, 1);
    }
    return 0;
}

static void test_never_stopped_inside_the_library(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        atomic_int spins = 0;
        HANDLE h = CreateThread(NULL, 0, reads_own_priority, &spins, 0, NULL);
        assert_non_null(h);
        assert_true(eventually(&spins));
        for (int i = 0; i < 50; i++) {
            assert_int_equal(SuspendThread(h), 0);
            assert_int_equal(ResumeThread(h), 1);
        }
        assert_true(TerminateThread(h, 31));
        assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
        assert_int_equal(exit_code(h), 31);
        assert_true(CloseHandle(h));
    }
}

/* A thread suspended inside a short call on an event (SetEvent pins it,
 * hazard.h) must not keep the event's last CloseHandle waiting: Win32's
 * CloseHandle never waits for a suspended thread. */
static HANDLE _Atomic pinned_event;

static DWORD WINAPI sets_the_event(LPVOID p)
{
    atomic_int *spins = p;
    for (;;) {
        SetEvent(atomic_load(&pinned_event));
        atomic_fetch_add(spins, 1);
    }
    return 0;
}

static void *close_event(void *p)
{
    atomic_int *done = p;
    CloseHandle(atomic_load(&pinned_event));
    atomic_store(done, 1);
    return NULL;
}

static void test_suspended_in_a_short_call_keeps_no_close_waiting(void **state)
{
    (void)state;
    if (TSAN)
        skip(); /* the signal lands only in an interceptor: never inside a pin */
    atomic_int spins = 0;
    atomic_store(&pinned_event, new_event());
    HANDLE h = CreateThread(NULL, 0, sets_the_event, &spins, 0, NULL);
    assert_non_null(h);
    assert_true(eventually(&spins));
    int stuck = 0;
    for (int round = 0; round < 1000; round++) {
        assert_int_equal(SuspendThread(h), 0);
        atomic_int done = 0;
        pthread_t closer;
        assert_int_equal(pthread_create(&closer, NULL, close_event, &done), 0);
        for (int i = 0; i < 2000 && !atomic_load(&done); i++)
            usleep(1000);
        stuck += !atomic_load(&done);
        assert_int_equal(ResumeThread(h), 1); /* lets a stuck close go */
        assert_int_equal(pthread_join(closer, NULL), 0);
        atomic_store(&pinned_event, new_event());
    }
    assert_true(TerminateThread(h, 0));
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_true(CloseHandle(h));
    assert_true(CloseHandle(atomic_load(&pinned_event)));
    print_message("closes kept waiting by a suspended thread: %d of 1000\n", stuck);
    assert_int_equal(stuck, 0);
}

/* SuspendThread sends its signal again when it landed inside a short call
 * of the target (pinned), holding the target's ctl for it: a suspender
 * suspended (or terminated) right there would keep every call on the
 * target that takes ctl - ResumeThread, TerminateThread, the priority
 * calls, the target's own end - waiting until it is resumed (or forever).
 * The window is a few instructions; the test widens it: this program's
 * syscall(), which the library's tgkill goes through, sleeps 300 ms once
 * before the suspender's first resend (a second tgkill of THREAD_SIGNAL
 * within one SuspendThread). */
static atomic_int resend_hook_armed, resend_hook_hit;
static __thread bool is_suspender;
static __thread int sends; /* within this SuspendThread */

static long (*real_syscall)(long, ...);

__attribute__((constructor)) static void find_real_syscall(void)
{
    real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
}

long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_tgkill && a[2] == SIGRTMAX - 1 && is_suspender && ++sends >= 2 &&
        atomic_exchange(&resend_hook_armed, 0)) {
        atomic_store(&resend_hook_hit, 1);
        usleep(300000);
    }
    return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static DWORD WINAPI suspends_and_resumes(LPVOID p)
{
    HANDLE target = *(HANDLE *)p;
    is_suspender = true;
    for (;;) {
        sends = 0;
        SuspendThread(target);
        ResumeThread(target);
    }
    return 0;
}

struct thread_call {
    HANDLE h;
    atomic_int done;
};

static void *suspends(void *p)
{
    struct thread_call *c = p;
    SuspendThread(c->h);
    atomic_store(&c->done, 1);
    return NULL;
}

static void *reads_priority(void *p)
{
    struct thread_call *c = p;
    GetThreadPriority(c->h);
    atomic_store(&c->done, 1);
    return NULL;
}

/* The target: PulseEvent on an event that threads wait on, so that its pin
 * holds a system call (the wake), where the signal lands: it defers often. */
struct pulse_arg {
    HANDLE ev;
    atomic_int spins, stop;
};

static DWORD WINAPI pulses(LPVOID p)
{
    struct pulse_arg *a = p;
    for (;;) {
        PulseEvent(a->ev);
        atomic_fetch_add(&a->spins, 1);
    }
    return 0;
}

static DWORD WINAPI waits_for_pulses(LPVOID p)
{
    struct pulse_arg *a = p;
    while (!atomic_load(&a->stop))
        WaitForSingleObject(a->ev, 10);
    return 0;
}

static void test_suspended_suspender_holds_nothing_of_its_target(void **state)
{
    (void)state;
    if (TSAN)
        skip(); /* the signal lands only in an interceptor: never inside a pin */
    struct pulse_arg a = {.ev = new_event()};
    HANDLE waiters[2];
    for (int i = 0; i < 2; i++)
        assert_non_null(waiters[i] = CreateThread(NULL, 0, waits_for_pulses, &a, 0, NULL));
    HANDLE target = CreateThread(NULL, 0, pulses, &a, 0, NULL);
    assert_non_null(target);
    assert_true(eventually(&a.spins));
    atomic_store(&resend_hook_hit, 0);
    atomic_store(&resend_hook_armed, 1);
    HANDLE suspender = CreateThread(NULL, 0, suspends_and_resumes, &target, 0, NULL);
    assert_non_null(suspender);
    /* A resend needs the target's signal to land inside its pin. */
    for (int i = 0; i < 60000 && !atomic_load(&resend_hook_hit); i++)
        usleep(1000);
    atomic_store(&resend_hook_armed, 0);
    bool hit = atomic_load(&resend_hook_hit);
    bool stuck = false;
    if (hit) {
        /* Suspend the suspender now, inside its resend (from another
         * thread: if the resend is shielded, this waits until it is over). */
        struct thread_call s = {.h = suspender}, r = {.h = target};
        pthread_t suspending, reader;
        assert_int_equal(pthread_create(&suspending, NULL, suspends, &s), 0);
        assert_true(eventually(&s.done));
        assert_int_equal(pthread_create(&reader, NULL, reads_priority, &r), 0);
        for (int i = 0; i < 5000 && !atomic_load(&r.done); i++)
            usleep(1000);
        stuck = !atomic_load(&r.done);
        assert_int_equal(ResumeThread(suspender), 1); /* lets a stuck read go */
        assert_int_equal(pthread_join(reader, NULL), 0);
        assert_int_equal(pthread_join(suspending, NULL), 0);
    }
    assert_true(TerminateThread(suspender, 0));
    assert_int_equal(WaitForSingleObject(suspender, 10000), WAIT_OBJECT_0);
    assert_true(TerminateThread(target, 0));
    assert_int_equal(WaitForSingleObject(target, 10000), WAIT_OBJECT_0);
    atomic_store(&a.stop, 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(WaitForSingleObject(waiters[i], 10000), WAIT_OBJECT_0);
        assert_true(CloseHandle(waiters[i]));
    }
    assert_true(CloseHandle(suspender));
    assert_true(CloseHandle(target));
    assert_true(CloseHandle(a.ev));
    if (!hit)
        skip(); /* no signal landed in a pin in 60 s: nothing to check */
    print_message("a call on the target kept waiting by its suspended suspender: %s\n", stuck ? "yes" : "no");
    assert_false(stuck);
}

/* ---- terminating ------------------------------------------------------------ */

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

static DWORD WINAPI suspends_it(LPVOID p)
{
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
    HANDLE suspender = CreateThread(NULL, 0, suspends_it, blocker, 0, NULL);
    assert_non_null(suspender);
    usleep(50000); /* in SuspendThread's wait */
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

/* ---- priorities on thread handles -------------------------------------------- */

static bool fifo_permitted(void)
{
    struct sched_param sp = {.sched_priority = 1};
    int policy;
    struct sched_param old;
    pthread_getschedparam(pthread_self(), &policy, &old);
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0)
        return false;
    pthread_setschedparam(pthread_self(), policy, &old);
    return true;
}

static void kernel_sched(DWORD tid, int *policy, int *prio)
{
    struct sched_param sp;
    *policy = sched_getscheduler((pid_t)tid);
    *prio = sched_getparam((pid_t)tid, &sp) == 0 ? sp.sched_priority : -1;
}

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

/* fork: the child's copies of the parent's other threads are no threads
 * of its own - a priority set on one must not reach the parent's thread
 * behind it (the thread id is the parent's), and the calls refuse them. */
static int fork_priority_child(HANDLE parents)
{
    SetLastError(0);
    if (RtSetThreadPriority(parents, 90) || GetLastError() != ERROR_ACCESS_DENIED)
        return 20;
    SetLastError(0);
    if (GetThreadPriority(parents) != THREAD_PRIORITY_ERROR_RETURN || GetLastError() != ERROR_ACCESS_DENIED)
        return 21; /* not the parent's thread's priority */
    SetLastError(0);
    if (SuspendThread(parents) != (DWORD)-1 || GetLastError() != ERROR_ACCESS_DENIED)
        return 22;
    return CloseHandle(parents) ? 0 : 23;
}

static void test_fork_child_leaves_the_parents_threads_alone(void **state)
{
    (void)state;
    if (TSAN)
        skip(); /* TSan refuses new threads in a child of a threaded process */
    if (!fifo_permitted())
        skip(); /* else the child's SetThreadPriority fails anyway (EPERM) */
    struct waiter_arg a = {.go = new_event(), .code = 9};
    DWORD id;
    HANDLE h = CreateThread(NULL, 0, wait_then_return, &a, 0, &id);
    assert_non_null(h);
    assert_true(SetThreadPriority(h, THREAD_PRIORITY_HIGHEST));
    pid_t pid = tn_fork();
    if (pid == 0)
        _exit(fork_priority_child(h));
    int status = tn_wait(pid, 10000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    int policy, prio;
    kernel_sched(id, &policy, &prio);
    assert_int_equal(policy, SCHED_FIFO); /* the parent's thread, untouched */
    assert_int_equal(prio, 39);
    assert_int_equal(GetThreadPriority(h), THREAD_PRIORITY_HIGHEST);
    assert_true(SetEvent(a.go));
    assert_int_equal(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 9);
    assert_true(CloseHandle(h));
    assert_true(CloseHandle(a.go));
}

/* fork while another thread of the parent holds the forking thread's ctl
 * (reading its priority): the child's copy of that lock has an owner the
 * child does not have, and the forking thread's end in the child must not
 * wait for it. */
struct forker_arg {
    HANDLE self;
    atomic_int ready, stop;
};

static DWORD WINAPI polls_priority(LPVOID p)
{
    struct forker_arg *f = p;
    while (!atomic_load(&f->stop))
        GetThreadPriority(f->self);
    return 0;
}

static void exit_quietly(void) { _exit(0); }

static DWORD WINAPI forks_and_ends_in_the_child(LPVOID p)
{
    struct forker_arg *f = p;
    while (!atomic_load(&f->ready))
        usleep(1000);
    for (int i = 0; i < 200; i++) {
        pid_t pid = tn_fork();
        if (pid == 0) {
            /* The child's only thread: its end is the child's exit, with
             * no leak check (what the test's main thread held is lost). */
            atexit(exit_quietly);
            ExitThread(0);
        }
        int status = tn_wait(pid, 10000);
        if (status == -1)
            return 1000 + (DWORD)i; /* the child hung in the thread's end */
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return 2000 + (DWORD)i;
    }
    return 0;
}

static void test_fork_while_another_thread_holds_the_forkers_lock(void **state)
{
    (void)state;
    if (TSAN)
        skip(); /* TSan refuses new threads in a child of a threaded process */
    struct forker_arg f = {0};
    DWORD id;
    HANDLE forker = CreateThread(NULL, 0, forks_and_ends_in_the_child, &f, CREATE_SUSPENDED, &id);
    assert_non_null(forker);
    f.self = OpenThread(THREAD_ALL_ACCESS, FALSE, id);
    assert_non_null(f.self);
    HANDLE poller = CreateThread(NULL, 0, polls_priority, &f, 0, NULL);
    assert_non_null(poller);
    atomic_store(&f.ready, 1);
    assert_int_equal(ResumeThread(forker), 1);
    assert_int_equal(WaitForSingleObject(forker, 120000), WAIT_OBJECT_0);
    atomic_store(&f.stop, 1);
    assert_int_equal(WaitForSingleObject(poller, 10000), WAIT_OBJECT_0);
    DWORD code = exit_code(forker);
    print_message("forker: %u (0: every child ended; 1000+i: child i hung)\n", (unsigned)code);
    assert_int_equal(code, 0);
    assert_true(CloseHandle(poller));
    assert_true(CloseHandle(forker));
    assert_true(CloseHandle(f.self));
}

/* fork holds the library's locks (the process lock, the registry of
 * threads...) from its prepare handler to its parent and child handlers:
 * a thread terminated there (or suspended) would hold them for good (until
 * resumed), and every CreateThread, CreateEvent, thread end would wait.
 * The test's own prepare handler, registered before the library's, runs
 * after it - with those locks held - and sleeps 300 ms there once, while
 * the thread that forks is terminated.  All of it in a child process, so
 * that a hang stays there. */
static atomic_int fork_hook_armed, fork_hook_in;

static void fork_hook_prepare(void)
{
    if (atomic_exchange(&fork_hook_armed, 0)) {
        atomic_store(&fork_hook_in, 1);
        usleep(300000);
    }
}

__attribute__((constructor)) static void register_fork_hook(void) { pthread_atfork(fork_hook_prepare, NULL, NULL); }

static DWORD WINAPI forks_once(LPVOID p)
{
    (void)p;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return 0;
}

static void *creates_a_thread(void *p)
{
    atomic_int *done = p;
    HANDLE h = CreateThread(NULL, 0, returns_at_once, NULL, 0, NULL);
    if (h != NULL && WaitForSingleObject(h, 10000) == WAIT_OBJECT_0 && CloseHandle(h))
        atomic_store(done, 1);
    else
        atomic_store(done, 2);
    return NULL;
}

static int terminated_in_fork_child(void)
{
    atomic_store(&fork_hook_armed, 1);
    HANDLE forker = CreateThread(NULL, 0, forks_once, NULL, 0, NULL);
    if (forker == NULL)
        return 30;
    if (!eventually(&fork_hook_in))
        return 31;
    if (!TerminateThread(forker, 5))
        return 32;
    atomic_int done = 0;
    pthread_t creator;
    if (pthread_create(&creator, NULL, creates_a_thread, &done) != 0)
        return 33;
    for (int i = 0; i < 5000 && !atomic_load(&done); i++)
        usleep(1000);
    if (atomic_load(&done) == 0)
        return 34; /* CreateThread stuck: the terminated thread held fork's locks */
    if (atomic_load(&done) != 1)
        return 35;
    if (WaitForSingleObject(forker, 10000) != WAIT_OBJECT_0)
        return 36;
    return 0;
}

static void test_terminated_inside_fork_holds_no_lock(void **state)
{
    (void)state;
    /* TSan refuses new threads in a child of a threaded process.  ASan's
     * runtime keeps its own thread records, which a thread ended by a jump
     * out of the middle of fork (this case) can leave inconsistent: CI saw
     * "CHECK failed: asan_thread.cpp:449" once, in a thread the child made
     * after it (not reproduced here in 26 runs).  It runs in every other
     * build. */
    if (TSAN || ASAN)
        skip();
    pid_t pid = tn_fork();
    if (pid == 0)
        _exit(terminated_in_fork_child());
    int status = tn_wait(pid, 60000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
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
        cmocka_unit_test_teardown(test_fork_child, tn_teardown),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_create_suspended_then_resume),
        cmocka_unit_test(test_suspend_counts),
        cmocka_unit_test(test_suspend_a_waiting_thread),
        cmocka_unit_test(test_self_suspend),
        cmocka_unit_test(test_never_stopped_inside_the_library),
        cmocka_unit_test(test_suspended_in_a_short_call_keeps_no_close_waiting),
        cmocka_unit_test(test_suspended_suspender_holds_nothing_of_its_target),
        cmocka_unit_test(test_terminate_running),
        cmocka_unit_test(test_terminate_suspended_and_waiting),
        cmocka_unit_test(test_terminate_itself),
        cmocka_unit_test(test_terminated_while_suspending_another),
        cmocka_unit_test(test_terminated_inside_a_pin_of_its_own_handle),
        cmocka_unit_test(test_terminated_owner_abandons_its_mutex),
        cmocka_unit_test(test_priorities_on_thread_handles),
        cmocka_unit_test_teardown(test_fork_child_leaves_the_parents_threads_alone, tn_teardown),
        cmocka_unit_test_teardown(test_fork_while_another_thread_holds_the_forkers_lock, tn_teardown),
        cmocka_unit_test_teardown(test_terminated_inside_fork_holds_no_lock, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
