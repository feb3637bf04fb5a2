/*
 * SPEC 9: timers stopped.  Cancel and Delete from the routine itself and
 * from another thread while the routine runs (counters show it never runs
 * after they return), CloseHandle as RtDeleteTimer for the last handle even
 * while the routine calls on its own handle, CloseHandle and RtDeleteTimer
 * ending the timer's thread, a routine that ends its thread with
 * ExitThread, and a fork child's copy of the handle (refused by the calls;
 * a wait there sees no expiry).  Expiries, times, priorities, bad handles
 * and the refusal: test_timer.c; the routines they share:
 * test_timer_util.h.
 *
 * A timer's thread is SCHED_FIFO: where this process may not use it, the
 * cases skip, saying so.  Routines sleep, never spin: a FIFO thread that
 * spins would starve the machine's other work.
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_child.h"
#include "test_node.h"
#include "test_timer_util.h"
#include "timer_util.h"

/* Timers' threads, by id: the library names each "iw-timer". */
#define MAX_TIDS 64
struct tids {
    int n;
    pid_t tid[MAX_TIDS];
};

static bool has_tid(const struct tids *t, pid_t tid)
{
    for (int i = 0; i < t->n; i++)
        if (t->tid[i] == tid)
            return true;
    return false;
}

/* The timers' threads listed in /proc/self/task now that are not in
 * before (NULL: all of them). */
static void timer_threads(const struct tids *before, struct tids *out)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        abort();
    out->n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && out->n < MAX_TIDS) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue; /* it ended meanwhile */
        bool timer = fgets(comm, sizeof comm, f) != NULL && strcmp(comm, "iw-timer\n") == 0;
        fclose(f);
        pid_t tid = (pid_t)atoi(e->d_name);
        if (timer && (before == NULL || !has_tid(before, tid)))
            out->tid[out->n++] = tid;
    }
    closedir(d);
}

/* Whether each of t's threads has left /proc/self/task, waited for: a
 * thread ends after the call that ended it returns - pthread_join returns
 * when the kernel clears the thread's id, early in its exit, before the
 * task leaves /proc (TSan CI once counted it still there).  10 s: a hang
 * guard only. */
static bool threads_gone(const struct tids *t)
{
    int listed = 0;
    for (int ms = 0; ms < 10000; ms++) {
        listed = 0;
        for (int i = 0; i < t->n; i++) {
            char path[64];
            snprintf(path, sizeof path, "/proc/self/task/%d", (int)t->tid[i]);
            listed += access(path, F_OK) == 0;
        }
        if (listed == 0)
            return true;
        sleep_ms(1);
    }
    print_error("%d of %d timer threads still in /proc/self/task after 10 s\n", listed, t->n);
    return false;
}

/* ---- the cases -------------------------------------------------------------------- */

/* The routine cancels its own timer on its 5th run (no deadlock: it does
 * not wait for itself), or deletes it on its 3rd. */
static void test_cancel_and_delete_from_routine(void **state)
{
    (void)state;
    static struct runs r;
    memset(&r, 0, sizeof r);
    r.cancel_at = 5;
    struct tids before, mine;
    timer_threads(NULL, &before);
    HANDLE h = make_timer(count_run, &r, PRIO);
    r.self = h;
    timer_threads(&before, &mine);
    assert_int_equal(mine.n, 1);
    LARGE_INTEGER due = {.QuadPart = MS}, period = {.QuadPart = MS};
    assert_true(RtSetTimerRelative(h, &due, &period));
    wait_runs(&r, 5);
    sleep_ms(30);
    assert_int_equal(atomic_load(&r.n), 5);
    assert_true(r.self_result);
    assert_true(CloseHandle(h));
    assert_true(threads_gone(&mine));

    memset(&r, 0, sizeof r);
    r.cancel_at = -3;
    timer_threads(NULL, &before);
    h = make_timer(count_run, &r, PRIO);
    r.self = h;
    timer_threads(&before, &mine);
    assert_int_equal(mine.n, 1);
    assert_true(RtSetTimerRelative(h, &due, &period));
    wait_runs(&r, 3);
    sleep_ms(30);
    assert_int_equal(atomic_load(&r.n), 3);
    assert_true(r.self_result);
    SetLastError(0);
    assert_false(RtGetTimer(h, &due)); /* the handle is gone */
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    assert_true(threads_gone(&mine)); /* and the thread, after the routine */
}

/* A routine that takes 5 ms, every 2 ms (so it runs all the time), and
 * sets its own timer again when it is a one-shot one. */
struct busy {
    atomic_int entered, left;
    HANDLE self;
    bool rearm;
};

static VOID RTFCNDCL busy_run(PVOID context)
{
    struct busy *b = context;
    atomic_fetch_add(&b->entered, 1);
    sleep_ms(5);
    if (b->rearm) {
        LARGE_INTEGER due = {.QuadPart = MS};
        RtSetTimerRelative(b->self, &due, NULL); /* may fail: being cancelled */
    }
    atomic_fetch_add(&b->left, 1);
}

/* Cancel (or Delete, or CloseHandle) from another thread while the routine
 * runs: when the call returns the routine has ended, and it never starts
 * again. */
static void test_stop_while_routine_runs(void **state)
{
    (void)state;
    static struct busy b;
    for (int round = 0; round < 12; round++) {
        int how = round % 3;   /* 0 Cancel, 1 Delete, 2 CloseHandle */
        memset(&b, 0, sizeof b);
        b.rearm = round % 2; /* the routine calls on its own handle */
        HANDLE h = make_timer(busy_run, &b, PRIO);
        b.self = h;
        LARGE_INTEGER due = {.QuadPart = MS}, period = {.QuadPart = 2 * MS};
        assert_true(RtSetTimerRelative(h, &due, b.rearm ? NULL : &period));
        while (atomic_load(&b.entered) < 2)
            sleep_ms(1);
        sleep_ms((unsigned)round % 4); /* somewhere in a run */
        if (how == 0)
            assert_true(RtCancelTimer(h, NULL));
        else if (how == 1)
            assert_true(RtDeleteTimer(h));
        else
            assert_true(CloseHandle(h));
        int entered = atomic_load(&b.entered);
        assert_int_equal(atomic_load(&b.left), entered); /* not running */
        sleep_ms(20);
        assert_int_equal(atomic_load(&b.entered), entered); /* never again */
        if (how == 0)
            assert_true(CloseHandle(h));
    }
}

/* CloseHandle is RtDeleteTimer for the last handle (INtime): once it
 * returns the routine has ended - even while the routine itself holds the
 * timer for a moment (a call on its own handle) as the handle is closed.
 * An application frees the routine's context after CloseHandle.  The
 * moment is stretched by a signal handler that sleeps 5 ms on the
 * routine's thread, landing in the routine's RtGetTimer about as often as
 * not. */
struct reads_own {
    atomic_int entered, left;
    _Atomic pid_t tid;
    HANDLE self;
};

static VOID RTFCNDCL reads_own_timer(PVOID context)
{
    struct reads_own *r = context;
    atomic_store(&r->tid, (pid_t)syscall(SYS_gettid));
    atomic_fetch_add(&r->entered, 1);
    int64_t end = mono_ns() + 20000000;
    LARGE_INTEGER left;
    while (mono_ns() < end)
        RtGetTimer(r->self, &left); /* fails once the handle is closed */
    atomic_fetch_add(&r->left, 1);
}

static void sleep_5ms(int sig)
{
    (void)sig;
    struct timespec d = {0, 5000000};
    nanosleep(&d, NULL);
}

static void test_close_while_routine_calls_on_its_handle(void **state)
{
    (void)state;
    static struct reads_own r;
    struct sigaction sa = {.sa_handler = sleep_5ms}, old;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    int running_after = 0;
    for (int round = 0; round < 30; round++) {
        memset(&r, 0, sizeof r);
        HANDLE h = make_timer(reads_own_timer, &r, PRIO);
        r.self = h;
        LARGE_INTEGER due = {.QuadPart = MS};
        assert_true(RtSetTimerRelative(h, &due, NULL));
        while (atomic_load(&r.entered) < 1)
            sleep_ms(1);
        assert_int_equal(syscall(SYS_tgkill, getpid(), atomic_load(&r.tid), SIGUSR1), 0);
        sleep_ms(1);
        assert_true(CloseHandle(h));
        running_after += atomic_load(&r.left) != atomic_load(&r.entered);
        /* Let a routine still running end before r is reused. */
        while (atomic_load(&r.left) != atomic_load(&r.entered))
            sleep_ms(1);
        sleep_ms(5);
    }
    sigaction(SIGUSR1, &old, NULL);
    print_message("CloseHandle returned with the routine running: %d of 30\n", running_after);
    assert_int_equal(running_after, 0);
}

/* CloseHandle and RtDeleteTimer end the timer's thread; a stack size is
 * accepted (rounded up to 4 KiB, at least the C library's minimum). */
static void test_close_stops_thread(void **state)
{
    (void)state;
    struct tids before, mine;
    timer_threads(NULL, &before);
    HANDLE h[4];
    for (int i = 0; i < 4; i++)
        h[i] = make_timer(never_run, NULL, PRIO);
    HANDLE small = RtCreateTimer(NULL, 1, never_run, NULL, PRIO, 0);
    assert_non_null(small);
    HANDLE big = RtCreateTimer(NULL, 1u << 20, never_run, NULL, PRIO, 0);
    assert_non_null(big);
    timer_threads(&before, &mine);
    assert_int_equal(mine.n, 6);
    LARGE_INTEGER far = {.QuadPart = 3600 * 1000 * MS};
    assert_true(RtSetTimerRelative(h[0], &far, NULL));
    assert_true(CloseHandle(h[0]));
    assert_true(RtDeleteTimer(h[1]));
    assert_true(CloseHandle(h[2]));
    assert_true(RtDeleteTimer(h[3]));
    assert_true(CloseHandle(small));
    assert_true(CloseHandle(big));
    assert_true(threads_gone(&mine));
}

/* A child of fork has the handle but not the thread: the calls refuse it,
 * a wait finds no expiry, CloseHandle frees it; the parent's timer runs on. */
static void test_fork_child(void **state)
{
    (void)state;
    static struct runs r;
    memset(&r, 0, sizeof r);
    HANDLE h = make_timer(count_run, &r, PRIO);
    LARGE_INTEGER due = {.QuadPart = MS}, period = {.QuadPart = MS};
    assert_true(RtSetTimerRelative(h, &due, &period));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        LARGE_INTEGER rem;
        SetLastError(0);
        int ok = !RtGetTimer(h, &rem) && GetLastError() == ERROR_INVALID_HANDLE;
        SetLastError(0);
        ok = ok && !RtCancelTimer(h, &rem) && GetLastError() == ERROR_INVALID_HANDLE;
        /* A wait sees the copy of its state, as a thread handle's: a
         * signal pending at the fork is taken once, and no expiry comes. */
        DWORD pending = RtWaitForSingleObject(h, 0);
        ok = ok && (pending == WAIT_OBJECT_0 || pending == WAIT_TIMEOUT);
        ok = ok && RtWaitForSingleObject(h, 20) == WAIT_TIMEOUT;
        ok = ok && CloseHandle(h);
        _exit(ok ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int n = atomic_load(&r.n);
    wait_runs(&r, n + 3);
    assert_true(RtDeleteTimer(h));
}

/* ---- a routine that ends its thread ------------------------------------------------ */

struct ender {
    atomic_int runs;
    HANDLE self;
    bool delete_first;              /* RtDeleteTimer of its own timer, then ExitThread */
};

static VOID RTFCNDCL end_thread_run(PVOID context)
{
    struct ender *e = context;
    atomic_fetch_add(&e->runs, 1);
    if (e->delete_first)
        RtDeleteTimer(e->self);
    ExitThread(7);
}

/* In a child, where a hang (a Cancel waiting for the run that never
 * returned, as it did) is a timeout of tc_finish, not a stuck suite. */
static int routine_ends_thread_child(void *arg)
{
    static struct ender e;
    e.delete_first = arg != NULL;
    struct tids before, mine;
    timer_threads(NULL, &before);
    SetLastError(0);
    HANDLE h = RtCreateTimer(NULL, 0, end_thread_run, &e, PRIO, CLOCK_FASTEST);
    if (h == NULL && GetLastError() == ERROR_ACCESS_DENIED)
        return TC_SKIP;
    TN_CHILD_CHECK(h != NULL);
    e.self = h;
    timer_threads(&before, &mine);
    TN_CHILD_CHECK(mine.n == 1);
    LARGE_INTEGER due = {.QuadPart = MS}, period = {.QuadPart = MS};
    TN_CHILD_CHECK(RtSetTimerRelative(h, &due, &period));
    TN_CHILD_CHECK(threads_gone(&mine));
    sleep_ms(20); /* 20 periods more: no other run */
    TN_CHILD_CHECK(atomic_load(&e.runs) == 1);
    LARGE_INTEGER rem = {.QuadPart = -1};
    SetLastError(0);
    if (e.delete_first) { /* the handle went with the delete */
        TN_CHILD_CHECK(!RtCancelTimer(h, &rem) && GetLastError() == ERROR_INVALID_HANDLE);
        return 0;
    }
    /* Nothing serves it now: Set refuses it, Cancel and Delete accept it. */
    TN_CHILD_CHECK(!RtSetTimerRelative(h, &due, &period) && GetLastError() == ERROR_INVALID_HANDLE);
    TN_CHILD_CHECK(RtCancelTimer(h, &rem));
    TN_CHILD_CHECK(rem.QuadPart == 0);
    TN_CHILD_CHECK(RtDeleteTimer(h));
    return 0;
}

/* ExitThread in the routine ends the timer's thread where it is (Win32's
 * ExitThread, in any thread); the timer's calls go on answering. */
static void test_routine_ends_its_thread(void **state)
{
    (void)state;
    tc_run(routine_ends_thread_child, NULL);
    tc_run(routine_ends_thread_child, "delete first");
}

int main(void)
{
    tn_setup("timer_stop");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_and_delete_from_routine),
        cmocka_unit_test(test_stop_while_routine_runs),
        cmocka_unit_test(test_close_while_routine_calls_on_its_handle),
        cmocka_unit_test(test_close_stops_thread),
        cmocka_unit_test(test_fork_child),
        cmocka_unit_test(test_routine_ends_its_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
