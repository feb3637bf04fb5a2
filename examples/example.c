/* Roles as processes and loud failures: see example.h. */
#include "example.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void ex_fail(const char *what)
{
    DWORD error = GetLastError();   /* read before stdio can disturb anything */
    fprintf(stderr, "%s: %s failed, last error %u\n", program_invocation_short_name, what, error);
    exit(1);
}

void ex_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

pid_t ex_spawn(const char *path, char *const argv[])
{
    pid_t parent = getpid();
    fflush(NULL);                   /* or the child's stdio repeats ours */
    pid_t pid = fork();
    if (pid < 0)
        ex_die("fork: %s", strerror(errno));
    if (pid == 0) {
        /* Die with the parent; if it is already gone, the signal was missed. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(126);
        execvp(path, argv); /* a bare name (--python python3) is looked up in PATH */
        fprintf(stderr, "%s: exec %s: %s\n", program_invocation_short_name, path, strerror(errno));
        _exit(127);
    }
    return pid;
}

pid_t ex_spawn_self(const char *role, const char *arg)
{
    char *argv[] = {program_invocation_name, (char *)role, (char *)arg, NULL};
    return ex_spawn("/proc/self/exe", argv);
}

/* Reports a wait status that is not a clean exit 0; true if it is. */
static bool report_status(int status, const char *role)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    if (WIFEXITED(status))
        fprintf(stderr, "%s: role %s exited with status %d\n", program_invocation_short_name, role,
                WEXITSTATUS(status));
    else
        fprintf(stderr, "%s: role %s was killed by signal %d\n", program_invocation_short_name, role,
                WTERMSIG(status));
    return false;
}

bool ex_child_ended(pid_t pid, const char *role)
{
    int status;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == 0)
        return false;
    if (done < 0)
        ex_die("waitpid(%s): %s", role, strerror(errno));
    report_status(status, role);
    return true;
}

bool ex_child_ok(pid_t pid, const char *role, int timeout_ms)
{
    /* waitpid has no timeout; a 10 ms poll is plenty for an example. */
    int64_t deadline = ex_now_ns() + (int64_t)timeout_ms * 1000000;
    int status;
    for (;;) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid)
            return report_status(status, role);
        if (done < 0)
            ex_die("waitpid(%s): %s", role, strerror(errno));
        if (ex_now_ns() > deadline) {
            fprintf(stderr, "%s: role %s did not finish within %d ms: killing it\n",
                    program_invocation_short_name, role, timeout_ms);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return false;
        }
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
}

int64_t ex_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
