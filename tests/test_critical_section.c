/*
 * SPEC 9: critical sections.  Racing threads keep a counter exact;
 * recursion (entered n times, left n times); TryEnter from another thread
 * fails while the section is owned and succeeds once it is free; misuse sets
 * the last error (NULL, uninitialised, deleted, left by a non-owner); a
 * child of fork is not the owner of a section its parent's thread held
 * (even in a program that made no other object of the library), and its
 * Enter of it waits for ever; two threads entering two sections in
 * opposite orders deadlock, the process running on; a thread that ends
 * inside a section leaves it entered for ever, waiters asleep or not, the
 * process running on; and
 * priority inheritance: a SCHED_FIFO thread blocked in EnterCriticalSection
 * lifts the low-priority owner, as the kernel reports it (skipped where this
 * process may not use SCHED_FIFO).
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"

#define RACERS 4
#define ROUNDS 100000

static CRITICAL_SECTION cs;
static long counter; /* guarded by cs only: TSan sees any hole */

static void *racer(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        EnterCriticalSection(&cs);
        if (i % 2) { /* half the rounds nest: still one owner at a time */
            EnterCriticalSection(&cs);
            counter++;
            LeaveCriticalSection(&cs);
        } else {
            long v = counter;
            if (i % 64 == 0)
                sched_yield(); /* widen the window a lost update would need */
            counter = v + 1;
        }
        LeaveCriticalSection(&cs);
    }
    return NULL;
}

static void test_racing_threads_keep_count(void **state)
{
    (void)state;
    InitializeCriticalSection(&cs);
    counter = 0;
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, racer, NULL), 0);
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(counter, (long)RACERS * ROUNDS);
    DeleteCriticalSection(&cs);
}

static void *try_enter(void *arg)
{
    return (void *)(intptr_t)TryEnterCriticalSection(arg);
}

static BOOLEAN try_from_other_thread(LPCRITICAL_SECTION c)
{
    pthread_t t;
    void *r;
    assert_int_equal(pthread_create(&t, NULL, try_enter, c), 0);
    assert_int_equal(pthread_join(t, &r), 0);
    return (BOOLEAN)(intptr_t)r;
}

static void *leave_from_other_thread(void *arg)
{
    SetLastError(0);
    LeaveCriticalSection(arg);
    return (void *)(uintptr_t)GetLastError();
}

static void test_recursion_and_try_enter(void **state)
{
    (void)state;
    CRITICAL_SECTION c;
    InitializeCriticalSection(&c);
    for (int i = 0; i < 5; i++)
        EnterCriticalSection(&c);
    assert_true(TryEnterCriticalSection(&c)); /* the owner, again: 6 */
    assert_false(try_from_other_thread(&c));
    /* A non-owner's Leave is refused and changes nothing. */
    pthread_t t;
    void *err;
    assert_int_equal(pthread_create(&t, NULL, leave_from_other_thread, &c), 0);
    assert_int_equal(pthread_join(t, &err), 0);
    assert_int_equal((uintptr_t)err, ERROR_NOT_OWNER);
    for (int i = 0; i < 5; i++) {
        LeaveCriticalSection(&c);
        assert_false(try_from_other_thread(&c)); /* still owned: 6 - (i + 1) left */
    }
    LeaveCriticalSection(&c);
    assert_true(try_from_other_thread(&c)); /* free: that thread took it... */
    /* ...and ended owning it; a PI mutex whose owner is gone stays taken. */
    CRITICAL_SECTION d;
    InitializeCriticalSection(&d);
    assert_true(TryEnterCriticalSection(&d));
    LeaveCriticalSection(&d);
    SetLastError(0);
    LeaveCriticalSection(&d); /* once more than entered */
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    DeleteCriticalSection(&d);
}

static void test_misuse_sets_last_error(void **state)
{
    (void)state;
    SetLastError(0);
    InitializeCriticalSection(NULL);
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    EnterCriticalSection(NULL);
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    assert_false(TryEnterCriticalSection(NULL));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    LeaveCriticalSection(NULL);
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    DeleteCriticalSection(NULL);
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);

    CRITICAL_SECTION zeroed;
    memset(&zeroed, 0, sizeof zeroed); /* never initialised */
    SetLastError(0);
    EnterCriticalSection(&zeroed);     /* returns: does not block or crash */
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);

    CRITICAL_SECTION c;
    InitializeCriticalSection(&c);
    SetLastError(55);
    EnterCriticalSection(&c);
    LeaveCriticalSection(&c);
    DeleteCriticalSection(&c);
    assert_int_equal(GetLastError(), 55); /* success leaves it alone */
    SetLastError(0);
    EnterCriticalSection(&c); /* deleted */
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    assert_false(TryEnterCriticalSection(&c));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);

    /* Deleting an owned section is refused; the section keeps working. */
    InitializeCriticalSection(&c);
    EnterCriticalSection(&c);
    SetLastError(0);
    DeleteCriticalSection(&c);
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    LeaveCriticalSection(&c);
    SetLastError(0);
    assert_true(TryEnterCriticalSection(&c)); /* still a working section */
    LeaveCriticalSection(&c);
    DeleteCriticalSection(&c);                 /* free now: deleted */
    assert_int_equal(GetLastError(), 0);
}

/* ---- priority inheritance ------------------------------------------------ */

static CRITICAL_SECTION pi_cs;
static _Atomic pid_t low_tid;
static atomic_bool low_entered, low_may_leave, high_entered;
static int low_rtx_while_lifted = -1;

static void pause_1ms(void) { nanosleep(&(struct timespec){0, 1000000}, NULL); }

static void *low_owner(void *arg)
{
    (void)arg;
    if (!RtSetThreadPriority(GetCurrentThread(), 38)) /* FIFO 10 */
        return (void *)"RtSetThreadPriority(38) failed";
    atomic_store(&low_tid, (pid_t)syscall(SYS_gettid));
    EnterCriticalSection(&pi_cs);
    atomic_store(&low_entered, true);
    while (!atomic_load(&low_may_leave))
        pause_1ms();
    /* Lifted now, yet the thread's own priority reads unchanged. */
    low_rtx_while_lifted = RtGetThreadPriority(GetCurrentThread());
    LeaveCriticalSection(&pi_cs);
    return NULL;
}

static void *high_waiter(void *arg)
{
    (void)arg;
    if (!RtSetThreadPriority(GetCurrentThread(), 58)) /* FIFO 30 */
        return (void *)"RtSetThreadPriority(58) failed";
    EnterCriticalSection(&pi_cs); /* blocks: the low thread owns it */
    atomic_store(&high_entered, true);
    LeaveCriticalSection(&pi_cs);
    return NULL;
}

/* The kernel's effective priority of thread tid: field 18 of its stat,
 * -1 - FIFO priority for a real-time thread (the lent one included). */
static int effective_prio(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 1000;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* after the command name, which may hold spaces */
    int field = 2, prio = 1000;
    for (char *tok = strtok(p + 1, " "); tok != NULL; tok = strtok(NULL, " "))
        if (++field == 18) {
            prio = atoi(tok);
            break;
        }
    return prio;
}

/* A section held at fork: in the child it stays held by the parent's
 * thread, whose copy the child's thread is not (as for a mutex: self.h).
 * The old code, in a program whose first call of the library was
 * InitializeCriticalSection, let the child's Leave succeed without a word
 * and left the section locked for good (TryEnter FALSE, Enter for ever). */
static void test_fork_child_is_not_the_owner(void **state)
{
    (void)state;
    CRITICAL_SECTION c;
    InitializeCriticalSection(&c);
    EnterCriticalSection(&c);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10);
        SetLastError(0);
        LeaveCriticalSection(&c);
        DWORD leave = GetLastError();
        BOOLEAN again = TryEnterCriticalSection(&c);
        SetLastError(0);
        DeleteCriticalSection(&c); /* held: refused */
        DWORD del = GetLastError();
        if (leave != ERROR_NOT_OWNER || again || del != ERROR_INVALID_PARAMETER) {
            fprintf(stderr, "child: Leave error %u, TryEnter %d, Delete error %u\n", (unsigned)leave, again,
                    (unsigned)del);
            _exit(1);
        }
#ifndef __SANITIZE_THREAD__
        /* The child's way out: initialise its copy again.  (Not under TSan:
         * it keeps the pre-fork lock of that address across the new
         * pthread_mutex_init and reports the Delete as the destroy of a
         * locked mutex.) */
        InitializeCriticalSection(&c);
        SetLastError(0);
        again = TryEnterCriticalSection(&c);
        LeaveCriticalSection(&c);
        DeleteCriticalSection(&c);
        _exit(again && GetLastError() == 0 ? 0 : 6);
#else
        _exit(0);
#endif
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's own section is untouched. */
    SetLastError(0);
    LeaveCriticalSection(&c);
    DeleteCriticalSection(&c);
    assert_int_equal(GetLastError(), 0);
}

/* ---- two sections entered in opposite orders ---------------------------- */

static CRITICAL_SECTION dl[2];
static _Atomic pid_t dl_tid[2];
static atomic_bool dl_entering[2];
static pthread_barrier_t dl_both_hold;

/* Enters section i, then (once the other thread holds the other) the other. */
static void *deadlocker(void *arg)
{
    int i = (int)(intptr_t)arg;
    atomic_store(&dl_tid[i], (pid_t)syscall(SYS_gettid));
    EnterCriticalSection(&dl[i]);
    pthread_barrier_wait(&dl_both_hold);
    atomic_store(&dl_entering[i], true);
    EnterCriticalSection(&dl[1 - i]);
    return NULL;
}

/* Two threads each holding one section and entering the other: Win32's
 * answer is a deadlock of those two threads, the rest of the process
 * running on.  The old recursive PI mutex aborted the whole process: the
 * kernel finds the cycle in the PI chain and answers EDEADLK, which glibc
 * asserts never comes for a recursive mutex (pthread_mutex_lock.c:
 * "Assertion `e != EDEADLK || ...' failed", the child killed by SIGABRT).
 * In a child, whose deadlocked threads its _exit ends. */
static void test_deadlock_stops_only_its_threads(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        InitializeCriticalSection(&dl[0]);
        InitializeCriticalSection(&dl[1]);
        pthread_barrier_init(&dl_both_hold, NULL, 2);
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            if (pthread_create(&t[i], NULL, deadlocker, (void *)(intptr_t)i) != 0)
                _exit(2);
        /* Both past the barrier and asleep: each in its second Enter. */
        for (int i = 0; i < 10000; i++) {
            if (atomic_load(&dl_entering[0]) && atomic_load(&dl_entering[1]) &&
                tn_thread_state(atomic_load(&dl_tid[0])) == 'S' && tn_thread_state(atomic_load(&dl_tid[1])) == 'S')
                _exit(0);
            pause_1ms();
        }
        _exit(3);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the child died of signal %d", WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The child's Enter of a section its parent's thread held at the fork waits
 * for ever, as the section's header says (Win32's answer for a section
 * whose owner is gone), in a thread that can still be suspended or
 * terminated.  The old code asked the kernel for the lock, which refuses a
 * private PI lock held by a thread of another process (EPERM), and glibc
 * aborted the child ("The futex facility returned an unexpected error
 * code"). */
static CRITICAL_SECTION held_at_fork;
static _Atomic pid_t enterer_tid;

static void *enters_held_at_fork(void *arg)
{
    (void)arg;
    atomic_store(&enterer_tid, (pid_t)syscall(SYS_gettid));
    EnterCriticalSection(&held_at_fork);
    return (void *)"entered";
}

static void test_fork_child_enter_waits(void **state)
{
    (void)state;
    InitializeCriticalSection(&held_at_fork);
    EnterCriticalSection(&held_at_fork);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        pthread_t t;
        if (pthread_create(&t, NULL, enters_held_at_fork, NULL) != 0)
            _exit(2);
        /* Asleep in the Enter, for a while (not woken, not aborted). */
        int asleep = 0;
        for (int i = 0; i < 10000 && asleep < 100; i++) {
            pid_t tid = atomic_load(&enterer_tid);
            asleep = tid != 0 && tn_thread_state(tid) == 'S' ? asleep + 1 : 0;
            pause_1ms();
        }
        _exit(asleep == 100 ? 0 : 3);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the child died of signal %d", WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    LeaveCriticalSection(&held_at_fork);
    DeleteCriticalSection(&held_at_fork);
}

/* A thread that ends inside a section leaves it entered for ever (Win32:
 * its waiters wait on; man SuspendThread, "The dangers"), and the process
 * runs on.  A thread already asleep in the Enter when the owner ends is
 * handed the PI lock by the kernel, which marks it FUTEX_OWNER_DIED: glibc
 * asserts that never happens to a mutex that is not robust and aborted the
 * whole process ("robust || (oldval & FUTEX_OWNER_DIED) == 0").  A section
 * whose owner ended with nobody waiting stays entered too: TryEnter fails,
 * Enter sleeps. */
static CRITICAL_SECTION dies_holding, dies_alone;
static CRITICAL_SECTION *_Atomic dh_cs; /* the one the threads enter */
static _Atomic pid_t dh_waiter_tid;
static atomic_int dh_entered;

static DWORD WINAPI enters_then_exits(LPVOID go)
{
    EnterCriticalSection(atomic_load(&dh_cs));
    EnterCriticalSection(atomic_load(&dh_cs)); /* twice: the depth goes with it */
    if (go != NULL)
        WaitForSingleObject(go, INFINITE);
    ExitThread(3);
    return 0; /* not reached: the header does not say ExitThread is noreturn */
}

static DWORD WINAPI enters_dies_holding(LPVOID arg)
{
    (void)arg;
    atomic_store(&dh_waiter_tid, (pid_t)syscall(SYS_gettid));
    EnterCriticalSection(atomic_load(&dh_cs));
    atomic_store(&dh_entered, 1);
    LeaveCriticalSection(atomic_load(&dh_cs));
    return 4;
}

/* In the child: whether the waiter stays asleep, outside, 100 looks running. */
static bool waiter_stays_out(void)
{
    int asleep = 0;
    for (int i = 0; i < 10000 && asleep < 100 && !atomic_load(&dh_entered); i++) {
        pid_t tid = atomic_load(&dh_waiter_tid);
        asleep = tid != 0 && tn_thread_state(tid) == 'S' ? asleep + 1 : 0;
        pause_1ms();
    }
    return asleep == 100 && !atomic_load(&dh_entered);
}

static void test_owner_ends_inside(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        /* A waiter asleep in the Enter as the owner ends. */
        InitializeCriticalSection(&dies_holding);
        atomic_store(&dh_cs, &dies_holding);
        HANDLE go = CreateEvent(NULL, TRUE, FALSE, NULL);
        HANDLE owner = CreateThread(NULL, 0, enters_then_exits, go, 0, NULL);
        if (go == NULL || owner == NULL)
            _exit(2);
        while (TryEnterCriticalSection(&dies_holding)) /* until the owner is in */
            LeaveCriticalSection(&dies_holding);
        HANDLE waiter = CreateThread(NULL, 0, enters_dies_holding, NULL, 0, NULL);
        if (waiter == NULL || !waiter_stays_out())
            _exit(3);
        SetEvent(go);
        if (WaitForSingleObject(owner, 10000) != WAIT_OBJECT_0)
            _exit(4);
        if (!waiter_stays_out())
            _exit(5);
        if (TryEnterCriticalSection(&dies_holding))
            _exit(6);
        /* Nobody waiting as the owner ends. */
        InitializeCriticalSection(&dies_alone);
        atomic_store(&dh_cs, &dies_alone);
        atomic_store(&dh_waiter_tid, 0);
        HANDLE alone = CreateThread(NULL, 0, enters_then_exits, NULL, 0, NULL);
        if (alone == NULL || WaitForSingleObject(alone, 10000) != WAIT_OBJECT_0)
            _exit(7);
        if (TryEnterCriticalSection(&dies_alone) || TryEnterCriticalSection(&dies_alone))
            _exit(8);
        HANDLE late = CreateThread(NULL, 0, enters_dies_holding, NULL, 0, NULL);
        _exit(late != NULL && waiter_stays_out() ? 0 : 9);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the child died of signal %d", WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_priority_inheritance(void **state)
{
    (void)state;
    struct sched_param sp = {.sched_priority = 1}, old;
    int policy;
    pthread_getschedparam(pthread_self(), &policy, &old);
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0) {
        print_message("skipped: this process may not use SCHED_FIFO (CAP_SYS_NICE or RLIMIT_RTPRIO)\n");
        skip();
    }
    pthread_setschedparam(pthread_self(), policy, &old);

    InitializeCriticalSection(&pi_cs);
    pthread_t low, high;
    assert_int_equal(pthread_create(&low, NULL, low_owner, NULL), 0);
    for (int i = 0; i < 5000 && !atomic_load(&low_entered); i++)
        pause_1ms();
    assert_true(atomic_load(&low_entered));
    pid_t tid = atomic_load(&low_tid);
    assert_int_equal(effective_prio(tid), -11); /* FIFO 10, its own */

    assert_int_equal(pthread_create(&high, NULL, high_waiter, NULL), 0);
    int seen = 0;
    for (int i = 0; i < 5000 && (seen = effective_prio(tid)) != -31; i++)
        pause_1ms();
    assert_int_equal(seen, -31); /* lifted to the waiter's FIFO 30 */
    assert_false(atomic_load(&high_entered));

    atomic_store(&low_may_leave, true);
    void *r1, *r2;
    assert_int_equal(pthread_join(low, &r1), 0);
    assert_int_equal(pthread_join(high, &r2), 0);
    assert_null(r1);
    assert_null(r2);
    assert_true(atomic_load(&high_entered));
    assert_int_equal(low_rtx_while_lifted, 38);
    DeleteCriticalSection(&pi_cs);
}

int main(void)
{
    tn_setup("critical_section");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_racing_threads_keep_count),
        cmocka_unit_test(test_recursion_and_try_enter),
        cmocka_unit_test(test_misuse_sets_last_error),
        cmocka_unit_test(test_fork_child_is_not_the_owner),
        cmocka_unit_test(test_priority_inheritance),
        cmocka_unit_test(test_deadlock_stops_only_its_threads),
        cmocka_unit_test(test_fork_child_enter_waits),
        cmocka_unit_test(test_owner_ends_inside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
