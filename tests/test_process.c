/*
 * SPEC 9: processes ending.  Real processes - this program again, run with
 * "--child WHAT ..." through RtCreateProcess - are started, waited on
 * (alone, from several threads, next to an event), killed from outside and
 * through TerminateProcess (once, from several threads at once); exit codes
 * read back; bad handles and arguments get Win32's errors.  Processes opened
 * by pid when they are not our children (a forked child, a grandchild), a
 * handle not confused by its pid's reuse, handles closed while the watcher
 * reports their end, and a forked child closing an inherited handle:
 * test_process_handles.c; the children and helpers they share:
 * test_process_util.h.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"
#include "test_process_util.h"

/* ---- tests ----------------------------------------------------------------------- */

static void test_current_process(void **state)
{
    (void)state;
    assert_ptr_equal(GetCurrentProcess(), (HANDLE)(intptr_t)-1);
    assert_int_equal(GetCurrentProcessId(), (DWORD)getpid());
    assert_int_equal(exit_code(GetCurrentProcess()), STILL_ACTIVE);
    SetLastError(SENTINEL);
    assert_true(CloseHandle(GetCurrentProcess())); /* a no-op, as in Win32 */
    assert_true(RtCloseHandle(GetCurrentProcess()));
    assert_int_equal(GetLastError(), SENTINEL);
    assert_int_equal(exit_code(GetCurrentProcess()), STILL_ACTIVE);
    /* Our own process by pid: a real handle, not signalled while we run. */
    HANDLE h = OpenProcess(0, FALSE, GetCurrentProcessId());
    assert_non_null(h);
    assert_int_equal(WaitForSingleObject(h, 0), WAIT_TIMEOUT);
    assert_int_equal(exit_code(h), STILL_ACTIVE);
    assert_true(CloseHandle(h));
}

static void test_exit_codes(void **state)
{
    (void)state;
    const int codes[] = {0, 1, 7, 255};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        int fds[2];
        inheritable_pipe(fds);
        PROCESS_INFORMATION pi;
        start(&pi, "wait_fd %d %d", fds[0], codes[i]);
        close(fds[0]);
        assert_int_equal(exit_code(pi.hProcess), STILL_ACTIVE);
        assert_int_equal(WaitForSingleObject(pi.hProcess, 50), WAIT_TIMEOUT);
        close(fds[1]); /* EOF: it exits */
        assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
        assert_int_equal(exit_code(pi.hProcess), (DWORD)codes[i]);
        assert_int_equal(RtWaitForSingleObject(pi.hProcess, 0), WAIT_OBJECT_0); /* not consumed */
        /* Reaped by the time its handle is signalled: no zombie, and not
         * ours to reap again. */
        errno = 0;
        assert_int_equal(waitpid((pid_t)pi.dwProcessId, NULL, WNOHANG | __WALL), -1);
        assert_int_equal(errno, ECHILD);
        assert_true(CloseHandle(pi.hProcess));
    }
    /* Other ways to end. */
    PROCESS_INFORMATION pi;
    start(&pi, "signal %d", SIGTERM);
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 128 + SIGTERM);
    CloseHandle(pi.hProcess);
    start(&pi, "exitprocess 9");
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 9);
    CloseHandle(pi.hProcess);
    start(&pi, "terminate_self 11");
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(RtGetExitCodeProcess(pi.hProcess, &(DWORD){0}), TRUE);
    assert_int_equal(exit_code(pi.hProcess), 11);
    CloseHandle(pi.hProcess);
    start(&pi, "terminate_self_opened 12");
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 12); /* not SIGKILL's 137 */
    CloseHandle(pi.hProcess);
    /* 32-bit codes: Linux keeps the low 8 bits. */
    start(&pi, "exitprocess %u", 0x1234u);
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 0x34);
    CloseHandle(pi.hProcess);
    assert_no_children();
}

static void test_bad_arguments(void **state)
{
    (void)state;
    PROCESS_INFORMATION pi;
    /* OpenProcess: 0 and pids no process has are ERROR_INVALID_PARAMETER (Win32). */
    DWORD pids[] = {0, 0x7FFFFFF0u, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof pids / sizeof pids[0]; i++) {
        SetLastError(SENTINEL);
        assert_null(OpenProcess(0, FALSE, pids[i]));
        assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
        assert_null(RtOpenProcess(0, FALSE, pids[i]));
    }
    /* Handles that are not a process's. */
    HANDLE ev = CreateEvent(NULL, TRUE, FALSE, NULL);
    assert_non_null(ev);
    start(&pi, "exit 0");
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    HANDLE closed = pi.hProcess;
    assert_true(CloseHandle(closed));
    HANDLE bad[] = {NULL, ev, closed, (HANDLE)(intptr_t)0x12345678, (HANDLE)(intptr_t)-2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        DWORD code = 77;
        SetLastError(SENTINEL);
        assert_false(GetExitCodeProcess(bad[i], &code));
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
        assert_int_equal(code, 77);
        SetLastError(SENTINEL);
        assert_false(TerminateProcess(bad[i], 1));
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    }
    SetLastError(SENTINEL);
    assert_false(CloseHandle(closed));
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    /* A process handle is not an event. */
    start(&pi, "block");
    SetLastError(SENTINEL);
    assert_false(SetEvent(pi.hProcess));
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    SetLastError(SENTINEL);
    assert_false(GetExitCodeProcess(pi.hProcess, NULL));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    /* The pseudo-handle is no waitable object here (a wait on it could
     * never end anyway). */
    SetLastError(SENTINEL);
    assert_int_equal(WaitForSingleObject(GetCurrentProcess(), 0), WAIT_FAILED);
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    assert_true(TerminateProcess(pi.hProcess, 1));
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    CloseHandle(pi.hProcess);
    CloseHandle(ev);
    assert_no_children();
}

/* An application that reaps its children itself takes our children's
 * status with them (Linux keeps one status, for one reaper; exec makes
 * every child a SIGCHLD child).  With SIGCHLD ignored the kernel discards
 * it at the end: the handle is still signalled, GetExitCodeProcess says
 * ERROR_NOT_SUPPORTED rather than make a code up - but a code given to
 * TerminateProcess is ours, and known. */
static void test_sigchld_ignored(void **state)
{
    (void)state;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
    PROCESS_INFORMATION pi;
    start(&pi, "exit 13");
    DWORD waited = WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS);
    DWORD code = 77;
    SetLastError(SENTINEL);
    BOOLEAN read = GetExitCodeProcess(pi.hProcess, &code);
    DWORD error = GetLastError();
    CloseHandle(pi.hProcess);
    start(&pi, "block");
    BOOLEAN terminated = TerminateProcess(pi.hProcess, 14);
    DWORD waited2 = WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS);
    DWORD code2 = 77;
    BOOLEAN read2 = GetExitCodeProcess(pi.hProcess, &code2);
    CloseHandle(pi.hProcess);
    assert_int_equal(sigaction(SIGCHLD, &old, NULL), 0); /* before any assertion can fail */
    assert_int_equal(waited, WAIT_OBJECT_0);
    assert_false(read);
    assert_int_equal(error, ERROR_NOT_SUPPORTED);
    assert_int_equal(code, 77);
    assert_true(terminated);
    assert_int_equal(waited2, WAIT_OBJECT_0);
    assert_true(read2);
    assert_int_equal(code2, 14);
}

/* ---- several threads waiting while the process is killed from outside ---- */

#define WAITERS 6

struct waiter {
    pthread_t thread;
    HANDLE handles[2];
    DWORD n;
    DWORD result;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    w->result = w->n == 1 ? WaitForSingleObject(w->handles[0], TN_TIMEOUT_MS)
                          : WaitForMultipleObjects(w->n, w->handles, FALSE, TN_TIMEOUT_MS);
    return NULL;
}

/* WAITERS threads waiting on process, half alone, half with ev (never set)
 * in front (index 1 wins); back once they sleep. */
static void start_waiters(struct waiter w[WAITERS], HANDLE ev, HANDLE process)
{
    for (int i = 0; i < WAITERS; i++) {
        w[i] = (struct waiter){.n = i % 2 ? 2 : 1, .result = 0xDEAD};
        w[i].handles[0] = i % 2 ? ev : process;
        w[i].handles[1] = process;
        assert_int_equal(pthread_create(&w[i].thread, NULL, waiter_main, &w[i]), 0);
    }
    usleep(100 * 1000); /* let them sleep */
}

/* Each saw the process end, at its own index. */
static void join_waiters(struct waiter w[WAITERS])
{
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(w[i].thread, NULL);
        assert_int_equal(w[i].result, i % 2 ? WAIT_OBJECT_0 + 1 : WAIT_OBJECT_0);
    }
}

static void test_killed_while_waited_on_by_threads(void **state)
{
    (void)state;
    PROCESS_INFORMATION pi;
    start(&pi, "block");
    HANDLE ev = CreateEvent(NULL, FALSE, FALSE, NULL); /* never set */
    struct waiter w[WAITERS];
    start_waiters(w, ev, pi.hProcess);
    assert_int_equal(kill((pid_t)pi.dwProcessId, SIGKILL), 0);
    join_waiters(w);
    assert_int_equal(exit_code(pi.hProcess), 128 + SIGKILL); /* not through TerminateProcess */
    CloseHandle(pi.hProcess);
    CloseHandle(ev);
}

/* The last handle closed while threads wait on it (alone, or next to an
 * event): the waits hold the process object, so they still see its end, and
 * the child is reaped all the same when the last wait lets go. */
static void test_closed_while_waited_on(void **state)
{
    (void)state;
    PROCESS_INFORMATION pi;
    start(&pi, "block");
    HANDLE ev = CreateEvent(NULL, FALSE, FALSE, NULL); /* never set */
    struct waiter w[WAITERS];
    start_waiters(w, ev, pi.hProcess);
    assert_true(CloseHandle(pi.hProcess));
    usleep(20 * 1000);
    assert_int_equal(kill((pid_t)pi.dwProcessId, SIGKILL), 0);
    join_waiters(w);
    CloseHandle(ev);
    assert_no_children();
}

static void test_process_and_event_in_one_wait(void **state)
{
    (void)state;
    int fds[2];
    inheritable_pipe(fds);
    PROCESS_INFORMATION pi;
    start(&pi, "wait_fd %d 4", fds[0]);
    close(fds[0]);
    HANDLE ev = CreateEvent(NULL, FALSE, FALSE, NULL); /* auto-reset */
    HANDLE both[2] = {ev, pi.hProcess};
    assert_int_equal(WaitForMultipleObjects(2, both, FALSE, 50), WAIT_TIMEOUT);
    assert_true(SetEvent(ev));
    assert_int_equal(WaitForMultipleObjects(2, both, FALSE, 0), WAIT_OBJECT_0); /* the event, consumed */
    assert_int_equal(WaitForMultipleObjects(2, both, FALSE, 50), WAIT_TIMEOUT);
    close(fds[1]);
    assert_int_equal(WaitForMultipleObjects(2, both, FALSE, TN_TIMEOUT_MS), WAIT_OBJECT_0 + 1);
    assert_int_equal(RtWaitForMultipleObjects(2, both, FALSE, 0), WAIT_OBJECT_0 + 1); /* still signalled */
    /* Both signalled: the lowest index wins, and the process is never consumed. */
    assert_true(SetEvent(ev));
    HANDLE process_first[2] = {pi.hProcess, ev};
    assert_int_equal(WaitForMultipleObjects(2, process_first, FALSE, 0), WAIT_OBJECT_0);
    assert_int_equal(WaitForMultipleObjects(2, both, FALSE, 0), WAIT_OBJECT_0); /* the event, still set */
    assert_int_equal(exit_code(pi.hProcess), 4);
    CloseHandle(pi.hProcess);
    CloseHandle(ev);
}

static void test_terminate(void **state)
{
    (void)state;
    PROCESS_INFORMATION pi;
    start(&pi, "block");
    SetLastError(SENTINEL);
    assert_true(TerminateProcess(pi.hProcess, 42));
    assert_int_equal(GetLastError(), SENTINEL);
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 42); /* the code given, not SIGKILL's */
    SetLastError(SENTINEL);
    assert_false(RtTerminateProcess(pi.hProcess, 43)); /* ended already */
    assert_int_equal(GetLastError(), ERROR_ACCESS_DENIED);
    assert_int_equal(exit_code(pi.hProcess), 42);
    CloseHandle(pi.hProcess);
}

struct terminator {
    pthread_t thread;
    HANDLE h;
    UINT code;
    BOOLEAN done;
};

static void *terminator_main(void *arg)
{
    struct terminator *t = arg;
    t->done = TerminateProcess(t->h, t->code);
    return NULL;
}

/* A process already terminating, or ended and not yet reported by the
 * watcher (a zombie takes signals), is not terminated again: Win32 says
 * ERROR_ACCESS_DENIED, and the first code stays the exit code. */
static void test_terminate_once(void **state)
{
    (void)state;
    for (int round = 0; round < 10; round++) {
        PROCESS_INFORMATION pi;
        start(&pi, "block");
        assert_true(TerminateProcess(pi.hProcess, 42));
        SetLastError(SENTINEL);
        BOOLEAN again = TerminateProcess(pi.hProcess, 43);
        DWORD error = GetLastError();
        assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
        assert_false(again);
        assert_int_equal(error, ERROR_ACCESS_DENIED);
        assert_int_equal(exit_code(pi.hProcess), 42);
        CloseHandle(pi.hProcess);
    }
    /* Several threads at once: one terminates it, with its code. */
    for (int round = 0; round < 10; round++) {
        PROCESS_INFORMATION pi;
        start(&pi, "block");
        struct terminator t[4];
        for (int i = 0; i < 4; i++) {
            t[i] = (struct terminator){.h = pi.hProcess, .code = 50 + (UINT)i};
            assert_int_equal(pthread_create(&t[i].thread, NULL, terminator_main, &t[i]), 0);
        }
        int done = 0;
        UINT code = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i].thread, NULL);
            if (t[i].done) {
                done++;
                code = t[i].code;
            }
        }
        assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
        assert_int_equal(done, 1);
        assert_int_equal(exit_code(pi.hProcess), code);
        CloseHandle(pi.hProcess);
    }
    for (int round = 0; round < 10; round++) {
        /* Our child, ended by itself: a zombie until the watcher reaps it
         * (seen without reaping: WNOWAIT), or reaped already. */
        PROCESS_INFORMATION pi;
        start(&pi, "exit 3");
        siginfo_t info = {0};
        while (waitid(P_PID, (id_t)pi.dwProcessId, &info, WEXITED | WNOWAIT | WNOHANG) == 0 && info.si_pid == 0)
            usleep(100);
        SetLastError(SENTINEL);
        assert_false(TerminateProcess(pi.hProcess, 44));
        assert_int_equal(GetLastError(), ERROR_ACCESS_DENIED);
        assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
        assert_int_equal(exit_code(pi.hProcess), 3);
        CloseHandle(pi.hProcess);
        /* A process not ours, opened as a zombie (its parent, the test,
         * has not reaped it): its code is not ours to make up either. */
        pid_t pid = tn_fork();
        if (pid == 0)
            _exit(5);
        assert_int_equal(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
        HANDLE h = OpenProcess(0, FALSE, (DWORD)pid);
        assert_non_null(h);
        SetLastError(SENTINEL);
        assert_false(TerminateProcess(h, 45));
        assert_int_equal(GetLastError(), ERROR_ACCESS_DENIED);
        assert_int_equal(WaitForSingleObject(h, TN_TIMEOUT_MS), WAIT_OBJECT_0);
        DWORD code = 77;
        SetLastError(SENTINEL);
        assert_false(GetExitCodeProcess(h, &code));
        assert_int_equal(GetLastError(), ERROR_NOT_SUPPORTED);
        assert_true(CloseHandle(h));
        int status = tn_wait(pid, TN_TIMEOUT_MS);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 5);
    }
    assert_no_children();
}

/* A process started by a real-time thread does not run at its priority: a
 * new process starts at the normal priority (Win32's NORMAL_PRIORITY_CLASS,
 * INtime's loader default), not SCHED_FIFO, which could starve the
 * machine.  Skipped where SCHED_FIFO is not permitted. */
static void *start_policy_child(void *arg)
{
    struct sched_param sp = {.sched_priority = 10};
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0)
        return NULL;
    PROCESS_INFORMATION *pi = arg;
    start(pi, "policy");
    return pi;
}

static void test_child_not_real_time(void **state)
{
    (void)state;
    PROCESS_INFORMATION pi;
    pthread_t t;
    void *started;
    assert_int_equal(pthread_create(&t, NULL, start_policy_child, &pi), 0);
    assert_int_equal(pthread_join(t, &started), 0);
    if (started == NULL)
        skip();
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), SCHED_OTHER);
    CloseHandle(pi.hProcess);
}

int main(int argc, char **argv)
{
    process_test_setup(argc, argv, "process");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_current_process, tn_teardown),
        cmocka_unit_test_teardown(test_exit_codes, tn_teardown),
        cmocka_unit_test_teardown(test_bad_arguments, tn_teardown),
        cmocka_unit_test_teardown(test_sigchld_ignored, tn_teardown),
        cmocka_unit_test_teardown(test_killed_while_waited_on_by_threads, tn_teardown),
        cmocka_unit_test_teardown(test_closed_while_waited_on, tn_teardown),
        cmocka_unit_test_teardown(test_process_and_event_in_one_wait, tn_teardown),
        cmocka_unit_test_teardown(test_terminate, tn_teardown),
        cmocka_unit_test_teardown(test_terminate_once, tn_teardown),
        cmocka_unit_test_teardown(test_child_not_real_time, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
