/*
 * SPEC 9 / issue 12: threads suspended (src/thread_signal.c).
 * SuspendThread/ResumeThread (CREATE_SUSPENDED, counts and their maximum,
 * self-suspension, a thread asleep in a wait, a thread or its suspender
 * stopped inside the library's short calls).  TerminateThread:
 * test_thread_terminate.c.  Shared helpers: thread_util.h.
 * Threaded: labelled "threads" (TSan in CI).  The threads' loops sleep
 * (usleep): a sanitizer delivers signals at such calls.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test_node.h"
#include "thread_util.h"

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

/* It passes on six arguments whatever the call gave (the kernel reads only
 * its own): past a short call's last one, va_arg reads the caller's stack,
 * which ASan takes for an underflow of the caller's locals (thread.c's
 * get_robust_list at every thread's end). */
__attribute__((no_sanitize("address"))) long syscall(long nr, ...)
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

int main(int argc, char **argv)
{
    tn_setup("thread_signal");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_suspended_then_resume),
        cmocka_unit_test(test_suspend_counts),
        cmocka_unit_test(test_suspend_a_waiting_thread),
        cmocka_unit_test(test_self_suspend),
        cmocka_unit_test(test_never_stopped_inside_the_library),
        cmocka_unit_test(test_suspended_in_a_short_call_keeps_no_close_waiting),
        cmocka_unit_test(test_suspended_suspender_holds_nothing_of_its_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
