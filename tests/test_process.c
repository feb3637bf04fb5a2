/*
 * SPEC 9: processes.  Real processes - this program again, run with
 * "--child WHAT ..." through RtCreateProcess, or forked - are started,
 * waited on (alone, from several threads, next to an event), killed from
 * outside and through TerminateProcess, opened by pid when they are not our
 * children (a forked child, a grandchild), and closed while the watcher
 * reports their end; exit codes read back; bad handles and arguments get
 * Win32's errors; a handle is not confused by its pid's reuse; a forked
 * child closing an inherited handle leaves the parent's watching alone.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "process_util.h"
#include "test_node.h"

static char self[4096];

/* ---- the children ------------------------------------------------------------ */

static int child_main(char **argv)
{
    const char *what = argv[2];
    if (strcmp(what, "exit") == 0)
        return atoi(argv[3]);
    if (strcmp(what, "block") == 0) {
        for (;;)
            pause();
    }
    if (strcmp(what, "wait_fd") == 0) { /* exits with argv[4] once argv[3] reads a byte or EOF */
        char c;
        (void)!read(atoi(argv[3]), &c, 1);
        return atoi(argv[4]);
    }
    if (strcmp(what, "signal") == 0)
        raise(atoi(argv[3]));
    if (strcmp(what, "exitprocess") == 0)
        ExitProcess((UINT)atoi(argv[3]));
    if (strcmp(what, "terminate_self") == 0)
        TerminateProcess(GetCurrentProcess(), (UINT)atoi(argv[3]));
    if (strcmp(what, "terminate_self_opened") == 0) /* through a real handle to itself */
        TerminateProcess(OpenProcess(0, FALSE, GetCurrentProcessId()), (UINT)atoi(argv[3]));
    return 99;
}

/* ---- helpers ------------------------------------------------------------------- */

/* Starts this program with "--child <args>"; fills pi. */
static void start(PROCESS_INFORMATION *pi, const char *fmt, ...)
{
    char args[512], line[5000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "\"%s\" --child %s", self, args);
    memset(pi, 0xAA, sizeof *pi);
    SetLastError(SENTINEL);
    assert_true(RtCreateProcess(NULL, line, NULL, NULL, FALSE, 0, NULL, NULL, NULL, pi));
    assert_int_equal(GetLastError(), SENTINEL);
    assert_non_null(pi->hProcess);
    assert_null(pi->hThread);
    assert_true(pi->dwProcessId > 0);
    assert_int_equal(pi->dwThreadId, pi->dwProcessId);
}

/* A pipe whose read end a child inherits; the write end is close-on-exec,
 * or the child would hold it open and never read EOF. */
static void inheritable_pipe(int fds[2])
{
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    assert_int_equal(fcntl(fds[0], F_SETFD, 0), 0);
}

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

static void test_killed_while_waited_on_by_threads(void **state)
{
    (void)state;
    PROCESS_INFORMATION pi;
    start(&pi, "block");
    HANDLE ev = CreateEvent(NULL, FALSE, FALSE, NULL); /* never set */
    struct waiter w[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        /* Half alone, half with an event in front (index 1 wins). */
        w[i] = (struct waiter){.n = i % 2 ? 2 : 1, .result = 0xDEAD};
        w[i].handles[0] = i % 2 ? ev : pi.hProcess;
        w[i].handles[1] = pi.hProcess;
        assert_int_equal(pthread_create(&w[i].thread, NULL, waiter_main, &w[i]), 0);
    }
    usleep(100 * 1000); /* let them sleep */
    assert_int_equal(kill((pid_t)pi.dwProcessId, SIGKILL), 0);
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(w[i].thread, NULL);
        assert_int_equal(w[i].result, i % 2 ? WAIT_OBJECT_0 + 1 : WAIT_OBJECT_0);
    }
    assert_int_equal(exit_code(pi.hProcess), 128 + SIGKILL); /* not through TerminateProcess */
    CloseHandle(pi.hProcess);
    CloseHandle(ev);
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

/* ---- processes that are not our children ---------------------------------- */

static void test_open_non_child(void **state)
{
    (void)state;
    /* A forked child (the test's own, which it reaps itself). */
    pid_t pid = tn_fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    HANDLE h = OpenProcess(0, FALSE, (DWORD)pid);
    assert_non_null(h);
    assert_int_equal(WaitForSingleObject(h, 50), WAIT_TIMEOUT);
    assert_int_equal(exit_code(h), STILL_ACTIVE);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(WaitForSingleObject(h, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    /* Its status is its parent's (ours, through waitpid), not the handle's. */
    DWORD code = 77;
    SetLastError(SENTINEL);
    assert_false(GetExitCodeProcess(h, &code));
    assert_int_equal(GetLastError(), ERROR_NOT_SUPPORTED);
    assert_int_equal(code, 77);
    assert_true(tn_killed_by(tn_wait(pid, TN_TIMEOUT_MS), SIGKILL)); /* the library did not reap it */
    assert_true(CloseHandle(h));

    /* Two handles opened by pid to a process not ours: one process object,
     * so the code TerminateProcess gives through one is every handle's. */
    pid = tn_fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    HANDLE first = OpenProcess(0, FALSE, (DWORD)pid), second = OpenProcess(0, FALSE, (DWORD)pid);
    assert_non_null(first);
    assert_non_null(second);
    assert_true(TerminateProcess(first, 6));
    assert_int_equal(WaitForSingleObject(second, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(second), 6);
    assert_true(CloseHandle(first));
    assert_true(CloseHandle(second));
    assert_true(tn_killed_by(tn_wait(pid, TN_TIMEOUT_MS), SIGKILL));

    /* A grandchild: its parent exits, init or a subreaper reaps it. */
    int fds[2];
    tn_pipe(fds);
    pid = tn_fork();
    if (pid == 0) {
        pid_t g = fork();
        if (g == 0) {
            for (;;)
                pause();
        }
        TN_CHILD_CHECK(write(fds[1], &g, sizeof g) == sizeof g);
        _exit(0);
    }
    pid_t grandchild = 0;
    assert_int_equal(read(fds[0], &grandchild, sizeof grandchild), (ssize_t)sizeof grandchild);
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    h = OpenProcess(0, FALSE, (DWORD)grandchild);
    assert_non_null(h);
    HANDLE ev = CreateEvent(NULL, TRUE, FALSE, NULL);
    HANDLE both[2] = {ev, h};
    assert_int_equal(WaitForMultipleObjects(2, both, FALSE, 50), WAIT_TIMEOUT);
    assert_true(TerminateProcess(h, 5));
    assert_int_equal(WaitForMultipleObjects(2, both, FALSE, TN_TIMEOUT_MS), WAIT_OBJECT_0 + 1);
    assert_int_equal(exit_code(h), 5); /* the code we gave, which we know */
    CloseHandle(h);
    CloseHandle(ev);
    tn_close(fds[0]);
    tn_close(fds[1]);
}

/* OpenProcess of a child we started: the same process object, which alone
 * reaps it and knows its code. */
static void test_open_own_child(void **state)
{
    (void)state;
    int fds[2];
    inheritable_pipe(fds);
    PROCESS_INFORMATION pi;
    start(&pi, "wait_fd %d 6", fds[0]);
    close(fds[0]);
    HANDLE h = OpenProcess(0, FALSE, pi.dwProcessId);
    assert_non_null(h);
    assert_ptr_not_equal(h, pi.hProcess);
    assert_true(CloseHandle(pi.hProcess)); /* the other handle keeps it */
    close(fds[1]);
    assert_int_equal(WaitForSingleObject(h, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h), 6);
    CloseHandle(h);
}

/* A child of ours whose every handle was closed while it ran is still
 * ours: OpenProcess by its pid gives a handle that knows its exit code. */
static void test_open_child_after_close(void **state)
{
    (void)state;
    int fds[2];
    inheritable_pipe(fds);
    PROCESS_INFORMATION pi;
    start(&pi, "wait_fd %d 7", fds[0]);
    close(fds[0]);
    assert_true(CloseHandle(pi.hProcess));
    HANDLE h = OpenProcess(0, FALSE, pi.dwProcessId);
    assert_non_null(h);
    assert_int_equal(exit_code(h), STILL_ACTIVE);
    HANDLE h2 = OpenProcess(0, FALSE, pi.dwProcessId); /* the same object again */
    assert_non_null(h2);
    assert_true(CloseHandle(h));
    close(fds[1]);
    assert_int_equal(WaitForSingleObject(h2, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(h2), 7);
    assert_true(CloseHandle(h2));
    assert_no_children();
}

/* A pidfd names one process: once it has ended, its number may go to
 * another, and the handle still means the one that ended - signalled, its
 * exit code kept, TerminateProcess refused (the kernel's pidfd_send_signal
 * fails with ESRCH for an ended process, whoever has the number now).
 * Shown by giving the number to a new process on purpose (ns_last_pid:
 * root only; other processes may take it first, so a few tries). */
static void test_pid_reuse(void **state)
{
    (void)state;
    PROCESS_INFORMATION pi;
    start(&pi, "exit 12");
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0); /* reaped: the pid is free */
    pid_t old = (pid_t)pi.dwProcessId, reused = 0;
    for (int attempt = 0; attempt < 50 && reused == 0; attempt++) {
        int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
        if (fd < 0) {
            CloseHandle(pi.hProcess);
            skip(); /* needs root (CAP_SYS_ADMIN / CAP_CHECKPOINT_RESTORE) */
        }
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%d", old - 1);
        bool written = write(fd, buf, (size_t)len) == len;
        close(fd);
        assert_true(written);
        pid_t p = tn_fork();
        if (p == 0) {
            for (;;)
                pause();
        }
        if (p == old)
            reused = p;
        else
            assert_true(tn_killed_by((kill(p, SIGKILL), tn_wait(p, TN_TIMEOUT_MS)), SIGKILL));
    }
    assert_int_equal(reused, old); /* the number is another process's now */
    assert_int_equal(WaitForSingleObject(pi.hProcess, 0), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 12);
    SetLastError(SENTINEL);
    assert_false(TerminateProcess(pi.hProcess, 1));
    assert_int_equal(GetLastError(), ERROR_ACCESS_DENIED);
    usleep(50 * 1000);
    assert_int_equal(waitpid(reused, NULL, WNOHANG), 0); /* the new process was not touched */
    /* OpenProcess by number now opens the new one, as in Win32. */
    HANDLE h = OpenProcess(0, FALSE, (DWORD)reused);
    assert_non_null(h);
    assert_int_equal(WaitForSingleObject(h, 0), WAIT_TIMEOUT);
    assert_int_equal(kill(reused, SIGKILL), 0);
    assert_int_equal(WaitForSingleObject(h, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_true(tn_killed_by(tn_wait(reused, TN_TIMEOUT_MS), SIGKILL));
    CloseHandle(h);
    CloseHandle(pi.hProcess);
}

/* ---- closing handles while the watcher reports ----------------------------- */

#define CLOSE_ROUNDS 200

struct closer {
    HANDLE h;
    unsigned delay_us;
    BOOLEAN closed;
};

static void *closer_main(void *arg)
{
    struct closer *c = arg;
    usleep(c->delay_us);
    c->closed = CloseHandle(c->h);
    return NULL;
}

/* Children that end at once, their handles closed from another thread at
 * varying moments around the end: before the watcher sees it, while it
 * records it, after.  Every close succeeds, nothing is touched after it is
 * freed (ASan, TSan), and every child is reaped (no zombie left). */
static void test_close_while_watcher_reports(void **state)
{
    (void)state;
    for (int i = 0; i < CLOSE_ROUNDS; i++) {
        PROCESS_INFORMATION pi;
        start(&pi, "exit %d", i % 3);
        struct closer c = {.h = pi.hProcess, .delay_us = (unsigned)(i % 20) * 100};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, closer_main, &c), 0);
        if (i % 2) /* a waiter too, sometimes: it keeps the object alive past the close */
            (void)WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS);
        pthread_join(t, NULL);
        assert_true(c.closed);
    }
    assert_no_children();
}

/* A forked child may close the process handles it inherits (local_object.h);
 * doing so must not unwatch the parent's: the epoll instance is shared
 * between them, so the child forgets it (process_watch.c). */
static void test_fork_child_closes_inherited_handle(void **state)
{
    (void)state;
    int fds[2];
    inheritable_pipe(fds);
    PROCESS_INFORMATION pi;
    start(&pi, "wait_fd %d 8", fds[0]);
    close(fds[0]);
    pid_t pid = tn_fork();
    if (pid == 0) {
        TN_CHILD_CHECK(CloseHandle(pi.hProcess));
#ifndef __SANITIZE_THREAD__ /* TSan can't start threads (a watcher) in the child of a threaded fork */
        /* and a process handle of its own works in the child */
        PROCESS_INFORMATION mine;
        char line[5000];
        snprintf(line, sizeof line, "\"%s\" --child exit 3", self);
        TN_CHILD_CHECK(RtCreateProcess(NULL, line, NULL, NULL, FALSE, 0, NULL, NULL, NULL, &mine));
        TN_CHILD_CHECK(WaitForSingleObject(mine.hProcess, TN_TIMEOUT_MS) == WAIT_OBJECT_0);
        DWORD code = 0;
        TN_CHILD_CHECK(GetExitCodeProcess(mine.hProcess, &code) && code == 3);
#endif
        _exit(0);
    }
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    close(fds[1]);
    assert_int_equal(WaitForSingleObject(pi.hProcess, 5000), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 8);
    CloseHandle(pi.hProcess);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 1;
    self[n] = '\0';
    tn_setup("process");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_current_process, tn_teardown),
        cmocka_unit_test_teardown(test_exit_codes, tn_teardown),
        cmocka_unit_test_teardown(test_bad_arguments, tn_teardown),
        cmocka_unit_test_teardown(test_sigchld_ignored, tn_teardown),
        cmocka_unit_test_teardown(test_killed_while_waited_on_by_threads, tn_teardown),
        cmocka_unit_test_teardown(test_process_and_event_in_one_wait, tn_teardown),
        cmocka_unit_test_teardown(test_terminate, tn_teardown),
        cmocka_unit_test_teardown(test_terminate_once, tn_teardown),
        cmocka_unit_test_teardown(test_open_non_child, tn_teardown),
        cmocka_unit_test_teardown(test_open_own_child, tn_teardown),
        cmocka_unit_test_teardown(test_open_child_after_close, tn_teardown),
        cmocka_unit_test_teardown(test_pid_reuse, tn_teardown),
        cmocka_unit_test_teardown(test_close_while_watcher_reports, tn_teardown),
        cmocka_unit_test_teardown(test_fork_child_closes_inherited_handle, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
