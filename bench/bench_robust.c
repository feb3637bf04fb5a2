/*
 * Robustness beside iwin32-bench-sync's times (issue 11): a process that
 * holds a mutex is SIGKILLed; what does a 200 ms timed wait for the mutex
 * then return?  Ours: RtWaitForSingleObject; Boost.Interprocess (where
 * built): named_mutex::timed_lock.  Measured each run, not asserted: the
 * line says what happened.
 */
#define _GNU_SOURCE
#include "bench_robust.h"

#include <errno.h>
#include <iwin32.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef IWIN32_BENCH_BOOST
#include "bench_boost.h"
#endif

/* The caller may have a SIGCHLD handler without SA_RESTART. */
static void reap(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

static const char *ours(void)
{
    HANDLE rm = RtCreateMutex(NULL, FALSE, "bsync.robust");
    int fds[2];
    if (rm == NULL)
        return "error: RtCreateMutex failed";
    if (pipe(fds) != 0) {
        CloseHandle(rm);
        return "error: pipe failed";
    }
    const char *what = "error: fork failed";
    pid_t pid = fork();
    if (pid == 0) {
        char c = RtWaitForSingleObject(rm, INFINITE) == WAIT_OBJECT_0;
        if (write(fds[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    if (pid > 0) {
        char c = 0;
        ssize_t got;
        while ((got = read(fds[0], &c, 1)) < 0 && errno == EINTR) {
        }
        kill(pid, SIGKILL);
        reap(pid);
        if (got != 1 || c != 1) {
            what = "error: the holder did not take the mutex";
        } else {
            DWORD r = RtWaitForSingleObject(rm, 200);
            what = r == WAIT_ABANDONED_0 ? "WAIT_ABANDONED_0 - the waiter owns it, told the owner died"
                   : r == WAIT_TIMEOUT   ? "WAIT_TIMEOUT - stays locked"
                                         : "another result";
            if (r == WAIT_ABANDONED_0 || r == WAIT_OBJECT_0)
                RtReleaseMutex(rm);
        }
    }
    close(fds[0]);
    close(fds[1]);
    CloseHandle(rm);
    return what;
}

void bench_robustness(void)
{
    printf("robustness (the holder SIGKILLed, then a 200 ms timed wait):\n");
    printf("  libiwin32 mutex, RtWaitForSingleObject(200): %s\n", ours());
#ifdef IWIN32_BENCH_BOOST
    char err[128] = "", name[64];
    snprintf(name, sizeof name, "iwbs-%d-robust", (int)getpid());
    int b = bip_killed_holder(name, 200, err, sizeof err);
    printf("  Boost named_mutex, timed_lock(200 ms):       %s%s\n",
           b == 1   ? "taken - freed with its holder"
           : b == 0 ? "timed out - stays locked, no owner-death report"
                    : "error: ",
           b < 0 ? err : "");
#endif
}
