/*
 * TerminateThread of a multi-object waiter while its poll of a mutex waits
 * for a handback (mutex.c's await_handback): the mutex is held but no
 * application thread owns it on record - here another process stopped
 * (SIGSTOP: a debugger, Ctrl-Z) inside RtReleaseMutex, between clearing
 * its owner record and the unlock - so the poll blocks in the PI lock for
 * up to 10 ms instead of failing.  The thread is terminated there, and the
 * other process then resumed: its release comes after TerminateThread
 * returned, and the ended wait must not take the mutex (Win32 aborts the
 * wait; SPEC 9).  Taken, the thread ended owning it, and the next acquirer
 * was told WAIT_ABANDONED_0 of a mutex nobody had abandoned.
 *
 * Linked with the tests' copy of the library: the releasing process stops
 * itself at a crash point (iw_crash_point_stop_at).  Threaded: labelled
 * "threads"; skipped under TSan (a thread asleep in the library's futex
 * call never gets the signal there: thread_util.h).
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "crash_point.h"
#include "test_node.h"
#include "thread_util.h"

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

#define ROUNDS 5

/* Whether thread tid of this process is blocked in a PI lock. */
static bool in_pi_lock(pid_t tid)
{
    char file[64], buf[256];
    snprintf(file, sizeof file, "/proc/self/task/%d/syscall", (int)tid);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    unsigned long nr, uaddr, op;
    return sscanf(buf, "%lu 0x%lx 0x%lx", &nr, &uaddr, &op) == 3 && nr == SYS_futex &&
           ((op & 127) == FUTEX_LOCK_PI || (op & 127) == FUTEX_LOCK_PI2);
}

struct waiter {
    HANDLE h[2]; /* {mutex, event}: the mutex is polled first */
    atomic_int tid;
};

static DWORD WINAPI wait_both(LPVOID p)
{
    struct waiter *w = p;
    atomic_store(&w->tid, (int)syscall(SYS_gettid));
    return WaitForMultipleObjects(2, w->h, FALSE, INFINITE);
}

/* A process that owns the mutex and stops inside its release, holding the
 * lock with no owner on record. */
static pid_t stopped_releaser(const char *name)
{
    pid_t pid = tn_fork(); /* tn_teardown kills it if the test fails */
    if (pid == 0) {
        HANDLE m = OpenMutex(0, FALSE, name);
        if (m == NULL || WaitForSingleObject(m, 0) != WAIT_OBJECT_0)
            _exit(1);
        iw_crash_point_stop_at("mutex.releasing");
        _exit(ReleaseMutex(m) ? 0 : 2);
    }
    if (!tn_wait_stopped(pid))
        fail_msg("the releaser did not stop in its release");
    return pid;
}

static void test_terminated_in_handback_takes_nothing(void **state)
{
    (void)state;
    if (TSAN)
        skip();
    HANDLE m = CreateMutex(NULL, FALSE, "th-handback.mutex");
    HANDLE e = CreateEvent(NULL, FALSE, FALSE, NULL);
    assert_non_null(m);
    assert_non_null(e);
    int caught = 0, abandoned = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pid_t releaser = stopped_releaser("th-handback.mutex");
        struct waiter w = {.h = {m, e}};
        HANDLE t = CreateThread(NULL, 0, wait_both, &w, 0, NULL);
        assert_non_null(t);
        /* Its polls meet the stopped release: each gives up after 10 ms,
         * and it sleeps (its watcher blocks in the lock meanwhile). */
        usleep(100000);
        assert_true(SetEvent(e)); /* woken, it polls the mutex first: into the handback wait */
        bool in = false;
        for (int i = 0; i < 20000 && !(in = in_pi_lock(atomic_load(&w.tid))); i++)
            ;
        assert_true(TerminateThread(t, 77));
        kill(releaser, SIGCONT); /* the release, after TerminateThread returned */
        assert_true(tn_exited_ok(tn_wait(releaser, TN_TIMEOUT_MS)));
        assert_int_equal(WaitForSingleObject(t, TN_TIMEOUT_MS), WAIT_OBJECT_0);
        /* Not seen in the handback wait (a loaded machine), it may have
         * taken the event and returned before TerminateThread came. */
        DWORD code = exit_code(t);
        assert_true(code == 77 || (!in && code == WAIT_OBJECT_0 + 1));
        assert_true(CloseHandle(t));
        caught += in && code == 77;
        DWORD r = WaitForSingleObject(m, TN_TIMEOUT_MS);
        assert_true(r == WAIT_OBJECT_0 || r == WAIT_ABANDONED_0);
        abandoned += r == WAIT_ABANDONED_0;
        assert_true(ReleaseMutex(m));
        ResetEvent(e);
    }
    printf("terminated in the handback wait in %d of %d rounds; the mutex then reported abandoned %d times\n",
           caught, ROUNDS, abandoned);
    assert_true(caught > 0);
    assert_int_equal(abandoned, 0);
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(m));
}

int main(int argc, char **argv)
{
    tn_select_tests(argc, argv);
    tn_setup("thread_terminate_handback");
    unsetenv("IWIN32_CRASH_AT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_terminated_in_handback_takes_nothing, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
