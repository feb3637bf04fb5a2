/*
 * SPEC 9: process handles.  Processes opened by pid when they are not our
 * children (a forked child, a grandchild) or when they are (the same process
 * object, also after every handle was closed, and while the last one is
 * being closed); one object for threads that open a process at once; a
 * handle is not confused by its pid's reuse; handles closed from another
 * thread while the watcher reports their end; a forked child closing an
 * inherited handle leaves the parent's watching alone; no descriptor or
 * zombie is left by many starts, opens and closes, and failed starts.
 * Starting, waiting on, terminating processes and their exit codes:
 * test_process.c; the children (this program again, run with "--child
 * WHAT ...") and helpers they share: test_process_util.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
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

#include "test_node.h"
#include "test_process_util.h"

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

/* Threads open one process by pid at the same moment, none having a handle
 * to it yet: still one process object, so the code TerminateProcess gives
 * through one handle is every other's (test_open_non_child shows it for
 * opens one after the other).  The openers spin until all are ready and
 * go at once. */
#define SAME_OPENERS 3
#define SAME_ROUNDS 100

struct same_opener {
    pthread_t thread;
    atomic_int *ready;
    DWORD pid;
    HANDLE h;
};

static void *same_opener_main(void *arg)
{
    struct same_opener *o = arg;
    atomic_fetch_add(o->ready, 1);
    while (atomic_load(o->ready) < SAME_OPENERS)
        ;
    o->h = OpenProcess(0, FALSE, o->pid);
    return NULL;
}

static void test_open_by_threads_at_once(void **state)
{
    (void)state;
    int apart = 0;
    for (int round = 0; round < SAME_ROUNDS; round++) {
        pid_t pid = tn_fork();
        if (pid == 0) {
            for (;;)
                pause();
        }
        atomic_int ready = 0;
        struct same_opener o[SAME_OPENERS];
        for (int i = 0; i < SAME_OPENERS; i++) {
            o[i] = (struct same_opener){.ready = &ready, .pid = (DWORD)pid};
            assert_int_equal(pthread_create(&o[i].thread, NULL, same_opener_main, &o[i]), 0);
        }
        for (int i = 0; i < SAME_OPENERS; i++) {
            pthread_join(o[i].thread, NULL);
            assert_non_null(o[i].h);
        }
        assert_true(TerminateProcess(o[0].h, 6));
        bool one = true;
        for (int i = 1; i < SAME_OPENERS; i++) {
            DWORD code = 77;
            assert_int_equal(WaitForSingleObject(o[i].h, TN_TIMEOUT_MS), WAIT_OBJECT_0);
            one = one && GetExitCodeProcess(o[i].h, &code) && code == 6;
        }
        apart += !one;
        for (int i = 0; i < SAME_OPENERS; i++)
            assert_true(CloseHandle(o[i].h));
        assert_true(tn_killed_by(tn_wait(pid, TN_TIMEOUT_MS), SIGKILL));
    }
    print_message("%d of %d rounds gave the handles more than one process object\n", apart, SAME_ROUNDS);
    assert_int_equal(apart, 0);
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

/* OpenProcess of a running child of ours while another thread closes the
 * last handle to it: the object's references are at 0 and its entry not yet
 * handed back to the watcher (the closer is between its last put and
 * free_local).  An open meanwhile must still find the child as ours - a
 * handle that reads its exit code, as the man page says of a child whose
 * handles were all closed - and, succeeding, leave the last error as it
 * was.  Two threads open and close the pid in a loop, so that one's close
 * is often the last while the other opens. */
#define OPENERS 2
#define OPEN_ROUNDS 20000

struct opener {
    pthread_t thread;
    DWORD pid;
    int failed;     /* opens that returned NULL */
    int clobbered;  /* opens that succeeded and changed the last error */
    DWORD error;    /* the first such error */
    HANDLE kept;    /* its handle, kept to read the code at the end */
};

static void *opener_main(void *arg)
{
    struct opener *o = arg;
    for (int i = 0; i < OPEN_ROUNDS; i++) {
        SetLastError(SENTINEL);
        HANDLE h = OpenProcess(0, FALSE, o->pid);
        DWORD error = GetLastError();
        if (h == NULL) {
            o->failed++;
            continue;
        }
        if (error != SENTINEL && o->clobbered++ == 0) {
            o->error = error;
            o->kept = h;
            continue;
        }
        CloseHandle(h);
    }
    return NULL;
}

static void test_open_while_last_handle_closes(void **state)
{
    (void)state;
    PROCESS_INFORMATION pi;
    start(&pi, "block");
    assert_true(CloseHandle(pi.hProcess));
    struct opener o[OPENERS];
    for (int i = 0; i < OPENERS; i++) {
        o[i] = (struct opener){.pid = pi.dwProcessId};
        assert_int_equal(pthread_create(&o[i].thread, NULL, opener_main, &o[i]), 0);
    }
    int failed = 0, clobbered = 0;
    for (int i = 0; i < OPENERS; i++) {
        pthread_join(o[i].thread, NULL);
        failed += o[i].failed;
        clobbered += o[i].clobbered;
    }
    /* Opened now, quietly: ours as well. */
    HANDLE h = OpenProcess(0, FALSE, pi.dwProcessId);
    assert_non_null(h);
    assert_int_equal(kill((pid_t)pi.dwProcessId, SIGKILL), 0);
    int unknown = 0;
    for (int i = 0; i <= OPENERS; i++) {
        HANDLE kept = i < OPENERS ? o[i].kept : h;
        if (kept == NULL)
            continue;
        DWORD code = 77;
        assert_int_equal(WaitForSingleObject(kept, TN_TIMEOUT_MS), WAIT_OBJECT_0);
        bool known = GetExitCodeProcess(kept, &code) && code == 128 + SIGKILL;
        unknown += !known;
        if (i < OPENERS)
            print_message("opener %d: %d of %d opens changed the last error (first %lu); the code %s\n", i,
                          o[i].clobbered, OPEN_ROUNDS, (unsigned long)o[i].error, known ? "known" : "unknown");
        else
            print_message("a handle opened after: the code %s\n", known ? "known" : "unknown");
        assert_true(CloseHandle(kept));
    }
    assert_int_equal(failed, 0);
    assert_int_equal(clobbered, 0);
    assert_int_equal(unknown, 0);
    assert_no_children();
}

/* A pidfd names one process: once it has ended, its number may go to
 * another, and the handle still means the one that ended - signalled, its
 * exit code kept, TerminateProcess refused (the kernel's pidfd_send_signal
 * fails with ESRCH for an ended process, whoever has the number now).
 * Shown by giving the number to a new process on purpose (ns_last_pid:
 * root only; other processes may take it first, so a few tries). */
/* A child that sleeps, made with exactly pid want: clone3's set_tid
 * (Linux 5.5, CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE).  0 if the pid is
 * taken (EEXIST); -1 if clone3 can't do it here.  A raw clone: the child
 * makes raw system calls only (pause). */
static pid_t child_with_pid(pid_t want)
{
    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
            set_tid_size, cgroup;
    } args = {.exit_signal = SIGCHLD, .set_tid = (uint64_t)(uintptr_t)&want, .set_tid_size = 1};
    long p = syscall(SYS_clone3, &args, sizeof args);
    if (p == 0) {
        for (;;)
            syscall(SYS_pause);
    }
    return p > 0 ? (pid_t)p : errno == EEXIST ? 0 : -1;
}

/* The same by ns_last_pid and fork, which another process forking at the
 * same moment can defeat: -1 after 50 tries, 0 without the right. */
static pid_t child_with_pid_by_last_pid(pid_t want)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
        if (fd < 0)
            return 0;
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%d", want - 1);
        bool written = write(fd, buf, (size_t)len) == len;
        close(fd);
        assert_true(written);
        pid_t p = tn_fork();
        if (p == 0) {
            for (;;)
                pause();
        }
        if (p == want)
            return p;
        assert_true(tn_killed_by((kill(p, SIGKILL), tn_wait(p, TN_TIMEOUT_MS)), SIGKILL));
    }
    return -1;
}

static void test_pid_reuse(void **state)
{
    (void)state;
    PROCESS_INFORMATION pi;
    start(&pi, "exit 12");
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0); /* reaped: the pid is free */
    pid_t old = (pid_t)pi.dwProcessId;
    /* Other tests fork meanwhile (ctest -j2): the pid may be taken for a
     * moment by one of theirs. */
    pid_t reused = 0;
    for (int i = 0; i < 100 && reused == 0; i++) {
        reused = child_with_pid(old);
        if (reused == 0)
            usleep(10 * 1000);
    }
    if (reused < 0)
        reused = child_with_pid_by_last_pid(old);
    if (reused == 0) {
        CloseHandle(pi.hProcess);
        skip(); /* needs root (CAP_SYS_ADMIN / CAP_CHECKPOINT_RESTORE), or the pid stayed taken */
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

/* ---- nothing left behind ------------------------------------------------------ */

static int open_fds(void)
{
    int n = 0;
    DIR *dir = opendir("/proc/self/fd");
    assert_non_null(dir);
    while (readdir(dir) != NULL)
        n++;
    closedir(dir);
    return n;
}

#define CYCLES 30

/* Every path of RtCreateProcess and OpenProcess gives back its descriptors
 * (the pidfd, the exec's pipe) and reaps its children: handles closed after
 * the end, before it (the watcher reaps), in either order of two handles to
 * one process; no PROCESS_INFORMATION; an exec that fails. */
static void test_nothing_left_behind(void **state)
{
    (void)state;
    PROCESS_INFORMATION pi;
    start(&pi, "exit 0"); /* the watcher's thread and epoll instance, for good */
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    CloseHandle(pi.hProcess);
    int before = open_fds();
    char line[5000], missing[] = "/nonexistent/program";
    for (int i = 0; i < CYCLES; i++) {
        int fds[2]; /* it runs until fds[1] is closed, so that OpenProcess finds it */
        inheritable_pipe(fds);
        start(&pi, "wait_fd %d %d", fds[0], i);
        close(fds[0]);
        HANDLE other = OpenProcess(0, FALSE, pi.dwProcessId);
        assert_non_null(other);
        HANDLE first = i % 2 ? other : pi.hProcess, second = i % 2 ? pi.hProcess : other;
        if (i % 3 == 0) /* closed while it runs: the other handle still reads its code */
            assert_true(CloseHandle(first));
        close(fds[1]);
        assert_int_equal(WaitForSingleObject(second, TN_TIMEOUT_MS), WAIT_OBJECT_0);
        assert_int_equal(exit_code(second), (DWORD)i);
        if (i % 3 != 0)
            assert_true(CloseHandle(first));
        assert_true(CloseHandle(second));
        snprintf(line, sizeof line, "\"%s\" --child exit 0", self);
        assert_true(RtCreateProcess(NULL, line, NULL, NULL, FALSE, 0, NULL, NULL, NULL, NULL));
        SetLastError(SENTINEL);
        assert_false(RtCreateProcess(NULL, missing, NULL, NULL, FALSE, 0, NULL, NULL, NULL, &pi));
        assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    }
    assert_no_children();
    assert_int_equal(open_fds(), before);
}

int main(int argc, char **argv)
{
    process_test_setup(argc, argv, "process_handles");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_open_non_child, tn_teardown),
        cmocka_unit_test_teardown(test_open_by_threads_at_once, tn_teardown),
        cmocka_unit_test_teardown(test_open_own_child, tn_teardown),
        cmocka_unit_test_teardown(test_open_child_after_close, tn_teardown),
        cmocka_unit_test_teardown(test_open_while_last_handle_closes, tn_teardown),
        cmocka_unit_test_teardown(test_pid_reuse, tn_teardown),
        cmocka_unit_test_teardown(test_close_while_watcher_reports, tn_teardown),
        cmocka_unit_test_teardown(test_fork_child_closes_inherited_handle, tn_teardown),
        cmocka_unit_test_teardown(test_nothing_left_behind, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
