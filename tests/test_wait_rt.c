/*
 * Issue 11.1 and 11.2: waits are real-time grade.
 *
 * test_no_process_lock: while a thread of the process holds the process
 * lock (as a preempted ordinary thread in Create, Open or Close would), no
 * wait or signal call may wait for it: multi-object waits that return at
 * once and that sleep (events, a semaphore, a mutex another thread owns,
 * with its watcher), single waits, Set/Reset/Pulse/Release.  The holder
 * lets go after HOLD_MS; each call must return long before.  Linked with
 * the tests' copy of the library, so that it can take that lock itself.
 *
 * test_multi_wait_pi: priority inheritance through a multi-object wait.  On
 * one CPU: a low thread (FIFO 10) owns a mutex and does 5 ms of CPU work, a
 * mid thread (FIFO 50) spins 20 ms, a high thread (FIFO 90) waits in
 * RtWaitForMultipleObjects([mutex, event]).  Lifted, the owner finishes
 * first: about 5 ms; not lifted, the hog runs first: about 25 ms.  Judged
 * by the hog's own CPU time when the high thread gets the mutex: lifted,
 * the owner preempts the hog as soon as the watcher blocks in the lock, so
 * the hog has done almost none of its 20 ms; not lifted, the owner cannot
 * run until the hog has done all of it.  Neither wall time nor the order
 * against the hog's wall-clock end will do: time taken from every FIFO
 * thread on the CPU (vCPU steal, the kernel's fair server running starved
 * ordinary tasks under ctest -j2) stretches both, and a CI machine saw the
 * order fail in 4 of 5 lifted runs.  Skipped where SCHED_FIFO is refused.
 *
 * test_watcher_priority_follows: the watcher runs at its waiters' highest
 * priority, recomputed as they leave, and back at SCHED_OTHER after.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "records.h"
#include "test_node.h"

#define HOLD_MS 2000
/* A call that waited for the lock takes about HOLD_MS.  Under TSan the
 * first report it symbolizes (the watcher's unlock of a lock it took with
 * pthread_mutex_clocklock, which TSan doesn't see: sync_tsan.supp) stops
 * every thread for about 0.3 s. */
#if defined(__SANITIZE_THREAD__)
#define CALL_LIMIT_MS 1000
#else
#define CALL_LIMIT_MS 300
#endif

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(int ms) { nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL); }

/* ---- the process lock ----------------------------------------------------------- */

static _Atomic int lock_held, lock_release;

static void *hold_lock(void *arg)
{
    (void)arg;
    iw_records_lock();
    atomic_store(&lock_held, 1);
    for (int ms = 0; ms < HOLD_MS && !atomic_load(&lock_release); ms++)
        sleep_ms(1);
    iw_records_unlock();
    return NULL;
}

static HANDLE owned_mx;
static _Atomic int owner_has_it;

/* Owns owned_mx from before the lock is taken until 50 ms after it. */
static void *own_mutex(void *arg)
{
    (void)arg;
    if (RtWaitForSingleObject(owned_mx, 1000) != WAIT_OBJECT_0)
        return "owner: wait failed";
    atomic_store(&owner_has_it, 1);
    while (!atomic_load(&lock_held))
        sleep_ms(1);
    sleep_ms(50);
    return RtReleaseMutex(owned_mx) ? NULL : "owner: release failed";
}

static double worst_ms;
static const char *worst_call;

#define TIMED(call)                                                                                \
    ({                                                                                             \
        uint64_t t0_ = now_ns();                                                                   \
        __typeof__(call) r_ = (call);                                                              \
        double ms_ = (double)(now_ns() - t0_) / 1e6;                                               \
        if (ms_ > worst_ms) {                                                                      \
            worst_ms = ms_;                                                                        \
            worst_call = #call;                                                                    \
        }                                                                                          \
        r_;                                                                                        \
    })

static void test_no_process_lock(void **state)
{
    (void)state;
    HANDLE set = RtCreateEvent(NULL, TRUE, TRUE, "rt.set");
    HANDLE unset = RtCreateEvent(NULL, FALSE, FALSE, "rt.unset");
    HANDLE sem = RtCreateSemaphore(NULL, 0, 10, "rt.sem");
    HANDLE mx = RtCreateMutex(NULL, FALSE, "rt.mx");
    owned_mx = RtCreateMutex(NULL, FALSE, "rt.owned");
    assert_non_null(set);
    assert_non_null(unset);
    assert_non_null(sem);
    assert_non_null(mx);
    assert_non_null(owned_mx);
    pthread_t owner, holder;
    assert_int_equal(pthread_create(&owner, NULL, own_mutex, NULL), 0);
    while (!atomic_load(&owner_has_it))
        sleep_ms(1);
    assert_int_equal(pthread_create(&holder, NULL, hold_lock, NULL), 0);
    while (!atomic_load(&lock_held))
        sleep_ms(1);

    uint64_t t0 = now_ns();
    HANDLE ready[2] = {unset, set}, none[2] = {unset, sem}, mutexes[2] = {unset, mx}, busy[2] = {unset, owned_mx};
    DWORD r_ready = TIMED(RtWaitForMultipleObjects(2, ready, FALSE, 0));
    DWORD r_none = TIMED(RtWaitForMultipleObjects(2, none, FALSE, 20));
    DWORD r_mutexes = TIMED(RtWaitForMultipleObjects(2, mutexes, FALSE, INFINITE));
    BOOLEAN released = TIMED(RtReleaseMutex(mx));
    DWORD r_busy = TIMED(RtWaitForMultipleObjects(2, busy, FALSE, 1000)); /* its owner lets go after 50 ms */
    BOOLEAN released_busy = TIMED(RtReleaseMutex(owned_mx));
    BOOLEAN set_ok = TIMED(RtSetEvent(unset));
    DWORD r_single = TIMED(RtWaitForSingleObject(unset, 0));
    BOOLEAN pulse_ok = TIMED(RtPulseEvent(unset));
    BOOLEAN reset_ok = TIMED(RtResetEvent(set));
    BOOLEAN sem_ok = TIMED(RtReleaseSemaphore(sem, 1, NULL));
    DWORD r_sem = TIMED(RtWaitForSingleObject(sem, 0));
    double all_ms = (double)(now_ns() - t0) / 1e6;

    atomic_store(&lock_release, 1);
    pthread_join(holder, NULL);
    void *owner_failed;
    pthread_join(owner, &owner_failed);
    print_message("  slowest call with the process lock held: %.2f ms (%s); all %.2f ms\n", worst_ms, worst_call,
                  all_ms);
    assert_null(owner_failed);
    assert_int_equal(r_ready, WAIT_OBJECT_0 + 1);
    assert_int_equal(r_none, WAIT_TIMEOUT);
    assert_int_equal(r_mutexes, WAIT_OBJECT_0 + 1);
    assert_true(released);
    assert_int_equal(r_busy, WAIT_OBJECT_0 + 1);
    assert_true(released_busy);
    assert_true(set_ok && pulse_ok && reset_ok && sem_ok);
    assert_int_equal(r_single, WAIT_OBJECT_0);
    assert_int_equal(r_sem, WAIT_OBJECT_0);
    assert_true(worst_ms < CALL_LIMIT_MS);
    for (HANDLE *h = (HANDLE[]){set, unset, sem, mx, owned_mx, NULL}; *h; h++)
        assert_true(CloseHandle(*h));
}

/* ---- priority inheritance --------------------------------------------------------- */

static HANDLE pi_mx, pi_ev;
static _Atomic int pi_owned;
static double pi_wait_ms;
static DWORD pi_result;
static _Atomic uint64_t pi_hog_cpu_ns; /* the hog's CPU time so far */
static uint64_t pi_hog_at_take_ns;   /* and when the high thread had the mutex */
static int pi_cpu;

static int start_fifo_arg(pthread_t *t, void *(*fn)(void *), void *arg, int prio);
static int start_fifo(pthread_t *t, void *(*fn)(void *), int prio) { return start_fifo_arg(t, fn, NULL, prio); }

/* A SCHED_FIFO thread at prio on pi_cpu. */
static int start_fifo_arg(pthread_t *t, void *(*fn)(void *), void *arg, int prio)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    struct sched_param sp = {.sched_priority = prio};
    pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&a, SCHED_FIFO);
    pthread_attr_setschedparam(&a, &sp);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(pi_cpu, &set);
    pthread_attr_setaffinity_np(&a, sizeof set, &set);
    int rc = pthread_create(t, &a, fn, arg);
    pthread_attr_destroy(&a);
    return rc;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *low_fn(void *arg)
{
    (void)arg;
    if (RtWaitForSingleObject(pi_mx, 1000) != WAIT_OBJECT_0)
        return "low: wait failed";
    uint64_t until = thread_cpu_ns() + 5000000; /* CPU time: preemption is no work */
    atomic_store(&pi_owned, 1);
    while (thread_cpu_ns() < until) {
    }
    return RtReleaseMutex(pi_mx) ? NULL : "low: release failed";
}

#define HOG_NS 20000000u

/* 20 ms of CPU work, its progress published as it goes. */
static void *mid_fn(void *arg)
{
    (void)arg;
    uint64_t start = thread_cpu_ns(), used;
    while ((used = thread_cpu_ns() - start) < HOG_NS)
        atomic_store(&pi_hog_cpu_ns, used);
    atomic_store(&pi_hog_cpu_ns, used);
    return NULL;
}

/* The high thread starts the others: neither can run before it sleeps. */
static void *high_fn(void *arg)
{
    (void)arg;
    pthread_t low, mid;
    if (start_fifo(&low, low_fn, 10) != 0)
        return "start low";
    while (!atomic_load(&pi_owned))
        nanosleep(&(struct timespec){0, 20000}, NULL);
    if (start_fifo(&mid, mid_fn, 50) != 0)
        return "start mid";
    HANDLE both[2] = {pi_mx, pi_ev};
    uint64_t t0 = now_ns();
    pi_result = RtWaitForMultipleObjects(2, both, FALSE, 2000);
    pi_hog_at_take_ns = atomic_load(&pi_hog_cpu_ns);
    pi_wait_ms = (double)(now_ns() - t0) / 1e6;
    if (pi_result == WAIT_OBJECT_0 && !RtReleaseMutex(pi_mx))
        return "high: release failed";
    void *low_failed;
    pthread_join(mid, NULL);
    pthread_join(low, &low_failed);
    return low_failed;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_multi_wait_pi(void **state)
{
    (void)state;
    pi_cpu = sched_getcpu();
    pi_mx = RtCreateMutex(NULL, FALSE, "rt.pi.mx");
    pi_ev = RtCreateEvent(NULL, TRUE, FALSE, "rt.pi.ev"); /* never set */
    assert_non_null(pi_mx);
    assert_non_null(pi_ev);
    /* Five runs; lifted, the hog has done under half its work in each (a
     * majority is asked: a watcher woken onto a CPU that is lost to the VM
     * for a while lets the hog run on). */
    enum { RUNS = 5 };
    double ms[RUNS];
    char hog_ms[RUNS * 8] = "";
    int lifted = 0;
    for (int i = 0; i < RUNS; i++) {
        atomic_store(&pi_owned, 0);
        atomic_store(&pi_hog_cpu_ns, 0);
        pthread_t high;
        int rc = start_fifo(&high, high_fn, 90);
        if (rc == EPERM) {
            print_message("  skipped: SCHED_FIFO refused (EPERM)\n");
            skip();
        }
        assert_int_equal(rc, 0);
        void *failed;
        pthread_join(high, &failed);
        if (failed)
            fail_msg("%s", (const char *)failed);
        assert_int_equal(pi_result, WAIT_OBJECT_0);
        ms[i] = pi_wait_ms;
        lifted += pi_hog_at_take_ns < HOG_NS / 2;
        snprintf(hog_ms + strlen(hog_ms), sizeof hog_ms - strlen(hog_ms), "%s%.1f", i ? " " : "",
                 (double)pi_hog_at_take_ns / 1e6);
    }
    qsort(ms, RUNS, sizeof ms[0], cmp_double);
    print_message("  FIFO 90 in RtWaitForMultipleObjects([mutex, event]): median %.2f ms (min %.2f, max %.2f); "
                  "the 20 ms hog's CPU time when the mutex was taken: %s ms (lifted: under 10 in %d of %d runs); "
                  "5 ms and 0 with priority inheritance, 25 ms and 20 without\n",
                  ms[RUNS / 2], ms[0], ms[RUNS - 1], hog_ms, lifted, RUNS);
    assert_true(lifted > RUNS / 2);
    assert_true(CloseHandle(pi_mx));
    assert_true(CloseHandle(pi_ev));
}

/* ---- the watcher's priority follows its waiters ----------------------------------- */

static HANDLE follow_mx, follow_ev;
static _Atomic pid_t follow_tid[2];

struct follower {
    int index;
    DWORD ms;
    DWORD result;
};

static void *follow_fn(void *arg)
{
    struct follower *f = arg;
    atomic_store(&follow_tid[f->index], (pid_t)syscall(SYS_gettid));
    HANDLE both[2] = {follow_mx, follow_ev};
    f->result = RtWaitForMultipleObjects(2, both, FALSE, f->ms);
    if (f->result == WAIT_OBJECT_0)
        RtReleaseMutex(follow_mx);
    return NULL;
}

/* The highest SCHED_FIFO priority among this process's threads but the
 * two followers (so: the watcher's), 0 if none runs SCHED_FIFO. */
static int others_fifo(void)
{
    DIR *d = opendir("/proc/self/task");
    int top = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        pid_t tid = (pid_t)atoi(e->d_name);
        struct sched_param sp;
        if (tid <= 0 || tid == atomic_load(&follow_tid[0]) || tid == atomic_load(&follow_tid[1]))
            continue;
        if (sched_getscheduler(tid) == SCHED_FIFO && sched_getparam(tid, &sp) == 0 && sp.sched_priority > top)
            top = sp.sched_priority;
    }
    if (d)
        closedir(d);
    return top;
}

/* others_fifo() once it is want, or its last value after ms. */
static int others_fifo_becomes(int want, int ms)
{
    int top = others_fifo();
    for (uint64_t end = now_ns() + (uint64_t)ms * 1000000u; top != want && now_ns() < end; top = others_fifo())
        sleep_ms(1);
    return top;
}

/* Waiters at FIFO 20 and 40 lift the watcher to 40; once the 40 one has
 * timed out, 20; once both are gone, SCHED_OTHER.  Each level is waited
 * for (up to the 40 one's timeout, then 5 s), not assumed after a sleep:
 * this ordinary thread, if a loaded or stolen vCPU delayed it 150 ms past
 * its 150 ms sleep (the rest of the 40 one's 300 ms then), read 20 where 40
 * was right. */
static void test_watcher_priority_follows(void **state)
{
    (void)state;
    follow_mx = RtCreateMutex(NULL, TRUE, "rt.follow.mx"); /* owned by this (SCHED_OTHER) thread */
    follow_ev = RtCreateEvent(NULL, TRUE, FALSE, "rt.follow.ev");
    assert_non_null(follow_mx);
    assert_non_null(follow_ev);
    struct follower low = {0, 10000, 0}, high = {1, 1000, 0};
    pthread_t tl, th;
    pi_cpu = sched_getcpu();
    int rc = start_fifo_arg(&tl, follow_fn, &low, 20);
    if (rc == EPERM) {
        print_message("  skipped: SCHED_FIFO refused (EPERM)\n");
        skip();
    }
    assert_int_equal(rc, 0);
    assert_int_equal(start_fifo_arg(&th, follow_fn, &high, 40), 0);
    int both = others_fifo_becomes(40, 1000);
    pthread_join(th, NULL);
    int one = others_fifo_becomes(20, 5000);
    assert_true(RtReleaseMutex(follow_mx));
    pthread_join(tl, NULL);
    int none = others_fifo();
    print_message("  watcher's priority: %d with waiters at 20 and 40, %d with the 20 one left, %d after\n", both,
                  one, none);
    assert_int_equal(high.result, WAIT_TIMEOUT);
    assert_int_equal(low.result, WAIT_OBJECT_0);
    assert_int_equal(both, 40);
    assert_int_equal(one, 20);
    assert_int_equal(none, 0);
    assert_true(CloseHandle(follow_mx));
    assert_true(CloseHandle(follow_ev));
}

int main(int argc, char **argv)
{
    tn_setup("wait_rt");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_no_process_lock, tn_teardown),
        cmocka_unit_test_teardown(test_multi_wait_pi, tn_teardown),
        cmocka_unit_test_teardown(test_watcher_priority_follows, tn_teardown),
    };
    tn_select_tests(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
