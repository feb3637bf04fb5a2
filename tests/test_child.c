#include "test_child.h"

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

pid_t tc_start(int (*body)(void *), void *arg)
{
    pid_t pid = tn_fork();
    if (pid == 0) {
        int code = body(arg);
        fflush(stdout); /* what it printed, before _exit drops it */
        _exit(code);
    }
    return pid;
}

void tc_finish(pid_t pid)
{
    int status = tn_wait(pid, TN_TIMEOUT_MS);
    if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == TC_SKIP)
        skip();
    if (status >= 0 && WIFSIGNALED(status))
        fprintf(stderr, "child %d killed by signal %d\n", (int)pid, WTERMSIG(status));
    else if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0)
        fprintf(stderr, "child %d exited with %d\n", (int)pid, WEXITSTATUS(status));
    assert_true(tn_exited_ok(status));
}

void tc_run(int (*body)(void *), void *arg) { tc_finish(tc_start(body, arg)); }

void tc_become(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups)
{
    TN_CHILD_CHECK(setgroups(ngroups, groups) == 0);
    TN_CHILD_CHECK(setresgid(gid, gid, gid) == 0);
    TN_CHILD_CHECK(setresuid(uid, uid, uid) == 0);
    TN_CHILD_CHECK(geteuid() == uid && getegid() == gid);
}

void tc_use_node(const char *dir) { TN_CHILD_CHECK(setenv("IWIN32_ROOT", dir, 1) == 0); }

void tc_require_root(const char *why)
{
    if (geteuid() != 0) {
        printf("not root: %s; skipped\n", why);
        skip();
    }
}

void tc_open_base(void) { assert_int_equal(chmod(tn_base(), 0711), 0); }

const char *tc_listing(const char *dir)
{
    static char buf[4096];
    tn_list_dir(dir, buf, sizeof buf);
    return buf;
}

int tc_drop_rt_priority(void)
{
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_RTPRIO, &none) != 0)
        return 10;
    if (geteuid() == 0)
        tc_become(TC_NOBODY, TC_NOGROUP, NULL, 0);
    struct sched_param sp = {.sched_priority = 1};
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != EPERM) {
        fprintf(stderr, "this process may still use SCHED_FIFO (CAP_SYS_NICE?)\n");
        return TC_SKIP;
    }
    return 0;
}

const char *tc_hashed_name(void)
{
    static char name[201];
    memset(name, ' ', 200);
    return name;
}
