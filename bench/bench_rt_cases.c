/*
 * iwin32-bench-rt, the inversion and churn cases (see bench_rt.c).
 *
 * inversion: three threads of this process on one CPU.  The low thread
 * (FIFO 10, started by the high thread) takes the lock and does 5 ms of CPU work (CLOCK_THREAD_CPUTIME_ID,
 * so preemption does not count as work); once it holds the lock the high
 * thread (FIFO 30) starts the mid thread (FIFO 20, a 20 ms busy hog, which
 * cannot run before the high thread blocks) and takes the lock.  With
 * priority inheritance the low thread runs at 30 and the high thread waits
 * about the rest of the 5 ms; without it the hog runs first: about 25 ms.
 *
 * churn: a FIFO 90 thread on one CPU calls RtWaitForMultipleObjects on 16
 * events, the last one a set manual-reset event (so the call returns at
 * once: what is timed is the wait's own path), every `CHURN_PERIOD_NS`, with
 * and without a SCHED_OTHER thread of the same process that re-creates one
 * of the 16 names (an open of a name it already holds) and closes it in a
 * loop, free on every CPU.
 */
#define _GNU_SOURCE
#include "bench_rt.h"
#include "bench_stats.h"

#include <errno.h>
#include <iwin32.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_t start_thread(void *(*fn)(void *), void *arg, int prio, int cpu)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    if (prio > 0 && rt_fifo) {
        struct sched_param sp = {.sched_priority = prio};
        pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
        pthread_attr_setschedpolicy(&a, SCHED_FIFO);
        pthread_attr_setschedparam(&a, &sp);
    }
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        pthread_attr_setaffinity_np(&a, sizeof set, &set);
    }
    pthread_t t;
    int rc = pthread_create(&t, &a, fn, arg);
    pthread_attr_destroy(&a);
    if (rc != 0)
        rt_die("pthread_create: %s", strerror(rc));
    return t;
}

/* ---- inversion ------------------------------------------------------------------ */

enum { V_SINGLE, V_MULTI, V_PI, V_PLAIN, NVAR };
static const char *const var_name[NVAR] = {
    "RtWaitForSingleObject(mutex)", "RtWaitForMultipleObjects([mutex, event])",
    "pthread mutex PTHREAD_PRIO_INHERIT", "pthread mutex (no protocol)"};

static int variant;
static HANDLE inv_mx, inv_ev;
static pthread_mutex_t pm_pi, pm_plain;
static _Atomic int owned;
static uint64_t high_wait_ns;

static void lock(void)
{
    DWORD r = WAIT_OBJECT_0;
    HANDLE both[2] = {inv_mx, inv_ev};
    switch (variant) {
    case V_SINGLE: r = RtWaitForSingleObject(inv_mx, 2000); break;
    case V_MULTI: r = RtWaitForMultipleObjects(2, both, FALSE, 2000); break;
    case V_PI: pthread_mutex_lock(&pm_pi); break;
    default: pthread_mutex_lock(&pm_plain);
    }
    if (r != WAIT_OBJECT_0)
        rt_die("inversion: wait returned %#x, error %u", r, GetLastError());
}

static void unlock(void)
{
    switch (variant) {
    case V_SINGLE:
    case V_MULTI:
        if (!RtReleaseMutex(inv_mx))
            rt_die("RtReleaseMutex: error %u", GetLastError());
        break;
    case V_PI: pthread_mutex_unlock(&pm_pi); break;
    default: pthread_mutex_unlock(&pm_plain);
    }
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
    lock();
    uint64_t until = thread_cpu_ns() + 5000000;
    atomic_store(&owned, 1);
    while (thread_cpu_ns() < until) {
    }
    unlock();
    return NULL;
}

static void *mid_fn(void *arg)
{
    (void)arg;
    rt_spin_until(rt_now() + 20000000);
    return NULL;
}

static void *high_fn(void *arg)
{
    (void)arg;
    /* The low thread starts from here: it cannot run before this thread
     * sleeps, whatever the (SCHED_OTHER) main thread is doing. */
    pthread_t low = start_thread(low_fn, NULL, 10, rt_cpu[0]);
    while (!atomic_load(&owned))
        nanosleep(&(struct timespec){0, 20000}, NULL); /* lets the low thread run */
    pthread_t mid = start_thread(mid_fn, NULL, 20, rt_cpu[0]);
    uint64_t t0 = rt_now();
    lock();
    high_wait_ns = rt_now() - t0;
    unlock();
    pthread_join(mid, NULL);
    pthread_join(low, NULL);
    return NULL;
}

void rt_inversion_case(void)
{
    printf("\n== priority inversion: low (FIFO 10) owns the lock with 5 ms of work, mid (FIFO 20) hogs "
           "20 ms, high (FIFO 30) waits; one CPU\n");
    if (!rt_fifo) {
        printf("  skipped: needs SCHED_FIFO\n");
        return;
    }
    inv_mx = RtCreateMutex(NULL, FALSE, "brt.inv.mutex");
    inv_ev = RtCreateEvent(NULL, TRUE, FALSE, "brt.inv.event"); /* never set */
    if (inv_mx == NULL || inv_ev == NULL)
        rt_die("create: error %u", GetLastError());
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&pm_pi, &a);
    pthread_mutexattr_destroy(&a);
    pthread_mutex_init(&pm_plain, NULL);

    enum { MAXREP = 7 };
    unsigned reps = rt_quick ? 1 : MAXREP;
    double ms[NVAR][MAXREP];
    for (unsigned r = 0; r < reps; r++)
        for (int i = 0; i < NVAR; i++) {
            variant = (int)((unsigned)i + r) % NVAR; /* rotate the order */
            atomic_store(&owned, 0);
            pthread_t high = start_thread(high_fn, NULL, 30, rt_cpu[0]);
            pthread_join(high, NULL);
            ms[variant][r] = (double)high_wait_ns / 1e6;
        }
    printf("  %-42s %10s %10s %10s   (%u runs)\n", "high thread's wait in", "median ms", "min ms", "max ms",
           reps);
    for (int i = 0; i < NVAR; i++) {
        qsort(ms[i], reps, sizeof ms[i][0], bench_cmp_double);
        printf("  %-42s %10.2f %10.2f %10.2f\n", var_name[i], ms[i][reps / 2], ms[i][0], ms[i][reps - 1]);
    }
    CloseHandle(inv_mx);
    CloseHandle(inv_ev);
    pthread_mutex_destroy(&pm_pi);
    pthread_mutex_destroy(&pm_plain);
}

/* ---- churn ------------------------------------------------------------------------ */

#define NCHURN 16
#define CHURN_PERIOD_NS 100000

static HANDLE churn_ev[NCHURN];
static _Atomic int churn_stop;
static _Atomic unsigned long churn_loops;
static uint64_t *churn_lat;
static unsigned churn_n;

static void *churner_fn(void *arg)
{
    (void)arg;
    while (!atomic_load(&churn_stop)) {
        HANDLE h = RtCreateEvent(NULL, FALSE, FALSE, "brt.churn.0"); /* held: an open */
        if (h == NULL)
            rt_die("churn: RtCreateEvent: error %u", GetLastError());
        CloseHandle(h);
        atomic_fetch_add(&churn_loops, 1);
    }
    return NULL;
}

static void *waiter_fn(void *arg)
{
    (void)arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (unsigned i = 0; i < churn_n; i++) {
        next.tv_nsec += CHURN_PERIOD_NS;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
        }
        uint64_t t0 = rt_now();
        DWORD r = RtWaitForMultipleObjects(NCHURN, churn_ev, FALSE, INFINITE);
        churn_lat[i] = rt_now() - t0;
        if (r != WAIT_OBJECT_0 + NCHURN - 1)
            rt_die("churn: wait returned %#x, error %u", r, GetLastError());
    }
    return NULL;
}

void rt_churn_case(bool load)
{
    churn_n = rt_quick ? 1000 : 20000;
    bool loaded = load && rt_load_start(2 * churn_n * CHURN_PERIOD_NS / 1000000000u + 10);
    printf("\n== process-lock churn, %s: FIFO 90 thread on CPU %d, RtWaitForMultipleObjects on 16 events "
           "(the last set: returns at once) every %u us, %u calls\n",
           !load ? "idle" : loaded ? "under stress-ng" : "LOAD REQUESTED BUT stress-ng NOT FOUND: idle",
           rt_cpu[0], CHURN_PERIOD_NS / 1000, churn_n);
    for (int i = 0; i < NCHURN; i++) {
        char name[32];
        snprintf(name, sizeof name, "brt.churn.%d", i);
        churn_ev[i] = RtCreateEvent(NULL, i == NCHURN - 1, i == NCHURN - 1, name);
        if (churn_ev[i] == NULL)
            rt_die("create: error %u", GetLastError());
    }
    churn_lat = malloc(churn_n * sizeof *churn_lat);
    if (churn_lat == NULL)
        rt_die("out of memory");
    printf("  %-44s %9s %9s %9s %9s\n", "", "p50 us", "p99 us", "p99.9 us", "max us");
    for (int with = 0; with < 2; with++) {
        atomic_store(&churn_stop, 0);
        atomic_store(&churn_loops, 0);
        pthread_t churner = {0};
        if (with)
            churner = start_thread(churner_fn, NULL, 0, -1);
        pthread_t t = start_thread(waiter_fn, NULL, 90, rt_cpu[0]);
        pthread_join(t, NULL);
        atomic_store(&churn_stop, 1);
        if (with)
            pthread_join(churner, NULL);
        struct rt_stats s = rt_stats_of(churn_lat, churn_n);
        char label[64];
        if (with)
            snprintf(label, sizeof label, "with a churner (%lu re-creates)", atomic_load(&churn_loops));
        else
            snprintf(label, sizeof label, "without a churner");
        printf("  %-44s %9.2f %9.2f %9.2f %9.2f\n", label, s.p50 / 1e3, s.p99 / 1e3, s.p999 / 1e3, s.max / 1e3);
    }
    if (loaded)
        rt_load_stop();
    free(churn_lat);
    for (int i = 0; i < NCHURN; i++)
        CloseHandle(churn_ev[i]);
}
