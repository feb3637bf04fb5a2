/*
 * TerminateThread of a thread asleep in a wait (SPEC 9): the wait lets go
 * of what it holds as the thread ends - its registration with each object
 * (an event's waiter count), a mutex watcher's seat (which would otherwise
 * keep the watcher blocking in the mutex's PI lock for good, lifting every
 * later owner to the ended thread's priority), and its references (checked
 * by LeakSanitizer in the ASan build).  A single-object, a multi-object and
 * a mutex's own PI-lock wait; what is released just after TerminateThread
 * returned (not taken by the ended wait); a thread ended inside a mutex's
 * own lock or unlock (the next locker neither hangs nor aborts).  Threaded: labelled "threads"; under TSan a
 * thread asleep in the library's futex call never gets the signal
 * (thread_util.h), so the cases skip there.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <iwin32_inspect.h>

#include "test_node.h"
#include "thread_util.h"

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

/* Threads of this process blocked in a PI lock (a mutex watcher, or a
 * single-object mutex wait). */
static int threads_in_pi_lock(void)
{
    int count = 0;
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char file[300], buf[256];
        snprintf(file, sizeof file, "/proc/self/task/%s/syscall", de->d_name);
        int fd = de->d_name[0] == '.' ? -1 : open(file, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
        if (fd >= 0)
            close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        unsigned long nr, uaddr, op;
        if (sscanf(buf, "%lu 0x%lx 0x%lx", &nr, &uaddr, &op) == 3 && nr == SYS_futex &&
            ((op & 127) == FUTEX_LOCK_PI || (op & 127) == FUTEX_LOCK_PI2))
            count++;
    }
    closedir(d);
    return count;
}

/* Polls until threads_in_pi_lock() is want (5 s at most). */
static bool pi_lock_count_becomes(int want)
{
    for (int i = 0; i < 500; i++) {
        if (threads_in_pi_lock() == want)
            return true;
        usleep(10000);
    }
    return threads_in_pi_lock() == want;
}

static uint32_t waiters_of(const char *name)
{
    IWIN32_OBJECT_INFO *info;
    assert_true(iwin32InspectObject(name, 0, &info));
    assert_true(info->stateKnown);
    uint32_t n = info->state.waiters;
    iwin32InspectFree(info, 1);
    return n;
}

struct owner {
    HANDLE m;
    atomic_int owns, go;
};

static DWORD WINAPI own_until_told(LPVOID p)
{
    struct owner *o = p;
    if (WaitForSingleObject(o->m, INFINITE) != WAIT_OBJECT_0)
        return 1;
    atomic_store(&o->owns, 1);
    while (!atomic_load(&o->go))
        usleep(1000);
    return ReleaseMutex(o->m) ? 0 : 2;
}

struct waits {
    HANDLE h[2];
    DWORD n;
};

static DWORD WINAPI wait_forever(LPVOID p)
{
    struct waits *w = p;
    return w->n == 1 ? WaitForSingleObject(w->h[0], INFINITE) : WaitForMultipleObjects(w->n, w->h, FALSE, INFINITE);
}

/* Starts a thread waiting on w and terminates it once it sleeps (blocked:
 * the test's own check of where it is). */
static void terminate_waiter(struct waits *w, bool (*blocked)(void))
{
    HANDLE t = CreateThread(NULL, 0, wait_forever, w, 0, NULL);
    assert_non_null(t);
    for (int i = 0; i < 500 && !blocked(); i++)
        usleep(10000);
    assert_true(blocked());
    usleep(20000); /* past the registration, asleep */
    assert_true(TerminateThread(t, 77));
    assert_int_equal(WaitForSingleObject(t, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(t), 77);
    assert_true(CloseHandle(t));
}

static const char *event_name = "tw-event";
static bool event_has_a_waiter(void) { return waiters_of(event_name) == 1; }
static bool watcher_blocks(void) { return threads_in_pi_lock() == 1; }

static void test_single_wait(void **state)
{
    (void)state;
    if (TSAN)
        skip();
    event_name = "tw-single";
    HANDLE e = CreateEvent(NULL, FALSE, FALSE, event_name);
    assert_non_null(e);
    struct waits w = {.h = {e}, .n = 1};
    terminate_waiter(&w, event_has_a_waiter);
    assert_int_equal(waiters_of(event_name), 0); /* registration let go */
    assert_true(CloseHandle(e));
}

static void test_multi_wait_with_a_mutex(void **state)
{
    (void)state;
    if (TSAN)
        skip();
    event_name = "tw-multi";
    struct owner o = {.m = CreateMutex(NULL, FALSE, "tw-multi.mutex")};
    HANDLE e = CreateEvent(NULL, FALSE, FALSE, event_name);
    assert_non_null(o.m);
    assert_non_null(e);
    HANDLE ot = CreateThread(NULL, 0, own_until_told, &o, 0, NULL);
    assert_non_null(ot);
    assert_true(eventually(&o.owns));
    struct waits w = {.h = {e, o.m}, .n = 2};
    terminate_waiter(&w, watcher_blocks);
    assert_int_equal(waiters_of(event_name), 0);
    /* Its seat left with it: the watcher stops blocking for it (it blocks
     * in slices of 0.1 s while any waiter needs it). */
    assert_true(pi_lock_count_becomes(0));
    atomic_store(&o.go, 1);
    assert_int_equal(WaitForSingleObject(ot, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(ot), 0);
    assert_int_equal(WaitForSingleObject(o.m, 0), WAIT_OBJECT_0); /* free, not abandoned */
    assert_true(ReleaseMutex(o.m));
    assert_true(CloseHandle(ot));
    assert_true(CloseHandle(o.m));
    assert_true(CloseHandle(e));
}

static bool one_in_pi_lock(void) { return threads_in_pi_lock() == 1; }

static void test_mutex_wait_in_its_pi_lock(void **state)
{
    (void)state;
    if (TSAN)
        skip();
    struct owner o = {.m = CreateMutex(NULL, FALSE, "tw-alone.mutex")};
    assert_non_null(o.m);
    HANDLE ot = CreateThread(NULL, 0, own_until_told, &o, 0, NULL);
    assert_non_null(ot);
    assert_true(eventually(&o.owns));
    struct waits w = {.h = {o.m}, .n = 1};
    terminate_waiter(&w, one_in_pi_lock);
    assert_true(pi_lock_count_becomes(0));
    atomic_store(&o.go, 1);
    assert_int_equal(WaitForSingleObject(ot, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(ot), 0);
    assert_int_equal(WaitForSingleObject(o.m, 0), WAIT_OBJECT_0);
    assert_true(ReleaseMutex(o.m));
    assert_true(CloseHandle(ot));
    assert_true(CloseHandle(o.m));
}

/* A unit released just after TerminateThread returned, while the waiter
 * is still asleep: the terminated wait must not take it (Win32 aborts the
 * wait; the ended thread would keep the unit from everyone, for good).
 * Single and multi-object, suspended first or not; rounds, as the waiter
 * must not have run its handler yet when the Release comes (it usually has
 * not: a wake-up on another CPU takes microseconds, the Release less than
 * one). */
static const char *sem_name = "tw-sem";
static bool sem_has_a_waiter(void) { return waiters_of(sem_name) == 1; }

static void test_release_after_terminate_is_not_taken(void **state)
{
    (void)state;
    if (TSAN)
        skip();
    HANDLE s = CreateSemaphore(NULL, 0, 1, sem_name);
    HANDLE e = CreateEvent(NULL, FALSE, FALSE, NULL);
    assert_non_null(s);
    assert_non_null(e);
    int lost = 0, rounds = 40;
    for (int i = 0; i < rounds; i++) {
        struct waits w = {.h = {s, e}, .n = 1 + (DWORD)(i & 1)};
        HANDLE t = CreateThread(NULL, 0, wait_forever, &w, 0, NULL);
        assert_non_null(t);
        for (int j = 0; j < 500 && !sem_has_a_waiter(); j++)
            usleep(1000);
        assert_true(sem_has_a_waiter());
        usleep(5000); /* past the registration, asleep */
        if (i & 2) /* suspended there first: the handler sleeps, then ends the wait */
            assert_int_equal(SuspendThread(t), 0);
        assert_true(TerminateThread(t, 77));
        assert_true(ReleaseSemaphore(s, 1, NULL));
        assert_int_equal(WaitForSingleObject(t, TN_TIMEOUT_MS), WAIT_OBJECT_0);
        assert_int_equal(exit_code(t), 77);
        assert_true(CloseHandle(t));
        if (WaitForSingleObject(s, 0) != WAIT_OBJECT_0)
            lost++;
    }
    if (lost != 0)
        fail_msg("%d of %d units released after TerminateThread taken by the ended waiter", lost, rounds);
    assert_int_equal(waiters_of(sem_name), 0);
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(s));
}

/* A mutex released just after TerminateThread returned, its waiter asleep
 * in the PI lock: the kernel may hand the lock to that waiter before the
 * signal takes it out of the lock, and the thread then ends holding the
 * lock with no owner on record.  The next acquirer must get the mutex
 * once that thread is gone - not hang, and not as abandoned: the thread
 * never acquired it through the API (SPEC 6). */
static void test_mutex_released_after_terminate(void **state)
{
    (void)state;
    if (TSAN)
        skip();
    HANDLE m = CreateMutex(NULL, TRUE, "tw-handoff.mutex");
    assert_non_null(m);
    for (int i = 0; i < 20; i++) {
        struct waits w = {.h = {m}, .n = 1};
        HANDLE t = CreateThread(NULL, 0, wait_forever, &w, 0, NULL);
        assert_non_null(t);
        assert_true(pi_lock_count_becomes(1));
        usleep(2000);
        assert_true(TerminateThread(t, 77));
        assert_true(ReleaseMutex(m));
        assert_int_equal(WaitForSingleObject(t, TN_TIMEOUT_MS), WAIT_OBJECT_0);
        assert_int_equal(exit_code(t), 77);
        assert_true(CloseHandle(t));
        assert_int_equal(WaitForSingleObject(m, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    }
    assert_true(ReleaseMutex(m));
    assert_true(pi_lock_count_becomes(0));
    assert_true(CloseHandle(m));
}

/* A thread terminated at any instant of polls and releases of a free
 * mutex - the pinned fast path, whose lock and unlock glibc brackets with
 * the robust list's pending slot: whatever instant it ends at, the next
 * locker gets the mutex (abandoned or not), and neither hangs nor aborts
 * (SPEC 6: the owner's end hands it on). */
static DWORD WINAPI poll_and_release(LPVOID p)
{
    HANDLE m = p;
    for (;;) {
        DWORD r = WaitForSingleObject(m, 0);
        if (r == WAIT_OBJECT_0 || r == WAIT_ABANDONED_0)
            ReleaseMutex(m);
    }
    return 0; /* not reached: terminated */
}

static void test_terminated_in_mutex_fast_path(void **state)
{
    (void)state;
    if (TSAN)
        skip();
    HANDLE m = CreateMutex(NULL, FALSE, "tw-fast.mutex");
    assert_non_null(m);
    for (int i = 0; i < 200; i++) {
        HANDLE t = CreateThread(NULL, 0, poll_and_release, m, 0, NULL);
        assert_non_null(t);
        usleep(200 + (useconds_t)(i % 7) * 100);
        assert_true(TerminateThread(t, 77));
        assert_int_equal(WaitForSingleObject(t, TN_TIMEOUT_MS), WAIT_OBJECT_0);
        assert_true(CloseHandle(t));
        DWORD r = WaitForSingleObject(m, TN_TIMEOUT_MS);
        assert_true(r == WAIT_OBJECT_0 || r == WAIT_ABANDONED_0);
        assert_true(ReleaseMutex(m));
    }
    assert_true(CloseHandle(m));
}

int main(int argc, char **argv)
{
    tn_setup("thread_terminate_wait");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_wait),
        cmocka_unit_test(test_multi_wait_with_a_mutex),
        cmocka_unit_test(test_mutex_wait_in_its_pi_lock),
        cmocka_unit_test(test_release_after_terminate_is_not_taken),
        cmocka_unit_test(test_mutex_released_after_terminate),
        cmocka_unit_test(test_terminated_in_mutex_fast_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
