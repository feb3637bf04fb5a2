/*
 * Starting a process with a pidfd from its first instant (RtCreateProcess).
 *
 * posix_spawn gives a pid, and a pidfd_open after it races: the child may
 * end and be reaped - by a SIGCHLD handler's waitpid(-1), or at once where
 * SIGCHLD is ignored - and its number go to another process before the
 * pidfd is made.  So the child is made by the clone system call itself with
 * CLONE_PIDFD: the kernel returns the pidfd with the child.
 *
 * It is a fork (no CLONE_VM) with CLONE_VFORK: the calling thread waits
 * until the child has exec'd or ended.  The raw system call, not glibc's
 * clone(): the sanitizers intercept that one and treat a child sharing our
 * memory as a fork (TSan then forgets the parent's locks), and glibc's
 * posix_spawn, which shares memory safely, has no CLONE_PIDFD before 2.39.
 * The child of a threaded process makes raw system calls only (another
 * thread may have held a lock of libc or a sanitizer at the clone): it sets
 * every caught signal back to its default, leaves a real-time policy for
 * SCHED_OTHER, restores the caller's signal mask (all signals are blocked
 * around the clone, so that no handler of the application runs in the
 * child) and execs; an exec that fails writes
 * its errno to a close-on-exec pipe and exits 127.  When clone returns the
 * child has exec'd (the pipe is empty) or written and ended: a non-blocking
 * read tells which, whoever else holds the pipe's write end (a fork by
 * another thread meanwhile).
 *
 * The cost of a fork: the page tables are copied, and until the exec the
 * caller's other threads take a copy-on-write fault on the first write to a
 * page: RtCreateProcess is not a call for a real-time loop.
 *
 * It is an ordinary child (SIGCHLD): the exit watcher reaps it
 * (process_watch.c) and keeps its status.  An application that reaps
 * children itself - waitpid(-1, ...), or SIGCHLD ignored, where the kernel
 * discards the status - takes that status first, and the handle then has
 * no exit code (process.c).
 */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "last_error.h"

struct start {
    const char *path;
    char *const *argv;
    char *const *envp;
    sigset_t mask;      /* the caller's, for the new program */
    int pipe;           /* write end: the exec's errno if it fails */
};

/* The kernel's struct sigaction (its size, 8-byte mask), for raw calls. */
struct kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

__attribute__((noreturn, no_sanitize("address", "thread", "undefined"))) static void child_main(const struct start *s)
{
    for (long sig = 1; sig < 65; sig++) {
        struct kernel_sigaction old;
        if (syscall(SYS_rt_sigaction, sig, NULL, &old, 8) == 0 && old.handler != (void *)SIG_IGN &&
            old.handler != (void *)SIG_DFL) {
            struct kernel_sigaction dfl = {.handler = (void *)SIG_DFL};
            syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
        }
    }
    /* A clone inherits the calling thread's policy: a process started by a
     * real-time thread would run SCHED_FIFO at its priority and could
     * starve the machine.  A new process starts at the normal priority, as
     * in Win32 (NORMAL_PRIORITY_CLASS) and INtime (the loader's default);
     * lowering one's own policy needs no privilege. */
    long policy = syscall(SYS_sched_getscheduler, 0) & ~(long)SCHED_RESET_ON_FORK;
    if (policy == SCHED_FIFO || policy == SCHED_RR) {
        struct sched_param normal = {.sched_priority = 0};
        syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &normal);
    }
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &s->mask, NULL, 8);
    syscall(SYS_execve, s->path, s->argv, s->envp); /* returns only on failure */
    int err = errno;
    syscall(SYS_write, s->pipe, &err, sizeof err);
    for (;;)
        syscall(SYS_exit_group, 127);
}

void iw_process_reap(int pidfd)
{
    /* A blocking wait: the child may still be ending (a vfork's parent
     * resumes as the child lets go of its memory, before it is a zombie).
     * Retried on EINTR: a signal the application catches without
     * SA_RESTART would cut it short, and the child, whose pidfd the caller
     * then closes, would stay a zombie that no one reaps.  ECHILD: the
     * application reaped it first. */
    siginfo_t info;
    while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED) != 0 && errno == EINTR)
        continue;
}

DWORD iw_spawn(const char *path, char *const argv[], int *pidfd, pid_t *pid)
{
    extern char **environ;
    struct start s = {.path = path, .argv = argv, .envp = environ};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return iw_error_from_errno(errno);
    s.pipe = fds[1];
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &s.mask);
    int fd = -1;
    /* flags, stack (0: the child's copy of ours), parent_tid (the pidfd),
     * then child_tid and tls, which are 0 in either order of the ABIs. */
    long p = syscall(SYS_clone, CLONE_VFORK | CLONE_PIDFD | SIGCHLD, 0, &fd, 0, 0);
    if (p == 0)
        child_main(&s);
    int clone_err = errno;
    pthread_sigmask(SIG_SETMASK, &s.mask, NULL);
    close(fds[1]);
    int exec_err = 0;
    bool failed = p > 0 && read(fds[0], &exec_err, sizeof exec_err) == (ssize_t)sizeof exec_err;
    close(fds[0]);
    if (p < 0)
        return clone_err == EAGAIN || clone_err == ENOMEM ? ERROR_NOT_ENOUGH_MEMORY : iw_error_from_errno(clone_err);
    if (fd < 0) { /* a kernel before 5.2 ignores CLONE_PIDFD: a pid alone is not safe to keep */
        kill((pid_t)p, SIGKILL);
        while (waitpid((pid_t)p, NULL, 0) < 0 && errno == EINTR) /* as iw_process_reap */
            continue;
        return ERROR_NOT_SUPPORTED;
    }
    if (failed) { /* the child is ending: reap it */
        iw_process_reap(fd);
        close(fd);
        /* E2BIG: arguments longer than the kernel takes (one over 128 KiB,
         * or all over a quarter of the stack limit) - Win32's error for a
         * command line that is too long, not one of memory.  ETXTBSY: the
         * program is open for writing - Win32 says a sharing violation,
         * which iwin32.h has not: the program may not be run now. */
        return exec_err == ENOEXEC   ? ERROR_BAD_EXE_FORMAT
               : exec_err == E2BIG   ? ERROR_FILENAME_EXCED_RANGE
               : exec_err == ETXTBSY ? ERROR_ACCESS_DENIED
                                     : iw_error_from_errno(exec_err);
    }
    *pidfd = fd;
    *pid = (pid_t)p;
    return ERROR_SUCCESS;
}
