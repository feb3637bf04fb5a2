/*
 * SPEC 9 / issue 12: threads suspended and terminated (src/thread_signal.c).
 * SuspendThread/ResumeThread (CREATE_SUSPENDED, counts and their maximum,
 * self-suspension, a thread asleep in a wait, a thread or its suspender
 * stopped inside the library's short calls), TerminateThread (running,
 * suspended, asleep, itself, ended, owning a mutex, inside a pin of its own
 * handle, while suspending another).  Shared helpers: thread_util.h.
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

/* ---- helpers ------------------------------------------------------------ */

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
        cmocka_unit_test(test_terminate_running),
        cmocka_unit_test(test_terminate_suspended_and_waiting),
        cmocka_unit_test(test_terminate_itself),
        cmocka_unit_test(test_terminated_while_suspending_another),
        cmocka_unit_test(test_terminated_inside_a_pin_of_its_own_handle),
        cmocka_unit_test(test_terminated_owner_abandons_its_mutex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
