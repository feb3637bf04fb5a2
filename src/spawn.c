/*
 * Starting a process with a pidfd from its first instant (RtCreateProcess).
 *
 * posix_spawn gives a pid, and a pidfd_open after it races: the child may
 * end and be reaped - by a SIGCHLD handler's waitpid(-1), or at once where
 * SIGCHLD is ignored - and its number go to another process before the
 * pidfd is made.  So the child is made as posix_spawn makes it, by clone
 * with CLONE_VM | CLONE_VFORK on a stack of its own, plus CLONE_PIDFD: the
 * kernel returns the pidfd with the child.
 *
 * It is an ordinary child (SIGCHLD; exec makes every child one anyway): the
 * exit watcher reaps it (process_watch.c) and keeps its status.  An
 * application that reaps children itself - waitpid(-1, ...), or SIGCHLD
 * ignored, where the kernel discards the status - takes that status first,
 * and the handle then has no exit code (process.c).
 *
 * Between clone and exec the child shares our memory and runs on the
 * calling thread's TLS (the parent thread is suspended until the exec or
 * the child's end), so it makes raw system calls only: no library function
 * whose state is shared (errno aside, which is the suspended thread's), and
 * no sanitizer interceptor, whose state is the parent's.  All signals are
 * blocked around the clone so that no handler of the application runs in
 * the child; the child sets every caught signal back to its default, then
 * restores the caller's mask and execs.  An exec that fails leaves its
 * errno in memory we share and exits 127.  (Under valgrind, which runs a
 * vfork as a fork, that errno is lost: the start then succeeds and the
 * process ends with 127.)
 */
#include "process.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "last_error.h"

#define CHILD_STACK (64 * 1024)

struct start {
    const char *path;
    char *const *argv;
    char *const *envp;
    sigset_t mask;      /* the caller's, for the new program */
    int err;            /* the exec's errno, written by the child */
};

/* The kernel's struct sigaction (its size, 8-byte mask), for raw calls. */
struct kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

__attribute__((no_sanitize("address", "thread", "undefined"))) static int child_main(void *arg)
{
    struct start *s = arg;
    for (long sig = 1; sig < 65; sig++) {
        struct kernel_sigaction old;
        if (syscall(SYS_rt_sigaction, sig, NULL, &old, 8) == 0 && old.handler != (void *)SIG_IGN &&
            old.handler != (void *)SIG_DFL) {
            struct kernel_sigaction dfl = {.handler = (void *)SIG_DFL};
            syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
        }
    }
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &s->mask, NULL, 8);
    syscall(SYS_execve, s->path, s->argv, s->envp); /* returns only on failure */
    s->err = errno;
    syscall(SYS_exit_group, 127);
    return 127;
}

DWORD iw_spawn(const char *path, char *const argv[], int *pidfd, pid_t *pid)
{
    extern char **environ;
    struct start s = {.path = path, .argv = argv, .envp = environ};
    void *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return ERROR_NOT_ENOUGH_MEMORY;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &s.mask);
    int fd = -1;
    pid_t p = clone(child_main, (char *)stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &s, &fd);
    int clone_err = errno;
    pthread_sigmask(SIG_SETMASK, &s.mask, NULL);
    munmap(stack, CHILD_STACK);
    if (p < 0)
        return clone_err == EAGAIN || clone_err == ENOMEM ? ERROR_NOT_ENOUGH_MEMORY : iw_error_from_errno(clone_err);
    if (fd < 0) { /* a kernel before 5.2 ignores CLONE_PIDFD: a pid alone is not safe to keep */
        kill(p, SIGKILL);
        waitpid(p, NULL, 0);
        return ERROR_NOT_SUPPORTED;
    }
    if (s.err != 0) { /* the exec failed: the child has ended, reap it */
        siginfo_t info;
        waitid((idtype_t)P_PIDFD, (id_t)fd, &info, WEXITED);
        close(fd);
        return s.err == ENOEXEC ? ERROR_BAD_EXE_FORMAT : iw_error_from_errno(s.err);
    }
    *pidfd = fd;
    *pid = p;
    return ERROR_SUCCESS;
}
