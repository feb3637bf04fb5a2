/*
 * What test_timer.c (expiries, times, priorities, refusals) and
 * test_timer_stop.c (stopping a timer and its thread) share: their
 * priority, CLOCK_MONOTONIC's now, a routine that counts and remembers
 * when it ran, and one that must never run.  What all the timer tests
 * share: timer_util.h.
 */
#ifndef IWIN32_TEST_TIMER_UTIL_H
#define IWIN32_TEST_TIMER_UTIL_H
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "timer_util.h"

#define PRIO 60            /* RTX: FIFO 32 */

static inline int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- a routine that counts and remembers when it ran --------------------------- */

#define MAX_RUNS 512
struct runs {
    atomic_int n;
    int64_t at[MAX_RUNS];          /* CLOCK_MONOTONIC ns of each run */
    int policy, fifo, rtx;         /* the timer thread, as the kernel and the library see it */
    long slack_ns;                 /* and its timer slack (prctl) */
    unsigned sleep_ms;             /* each run lasts that long */
    unsigned first_sleep_us;       /* the first run lasts that long */
    int64_t first_end;             /* when the first run ended */
    int cancel_at;                 /* the nth run cancels (> 0) or deletes (< 0) its own timer */
    HANDLE self;
    BOOLEAN self_result;
};

static inline VOID RTFCNDCL count_run(PVOID context)
{
    struct runs *r = context;
    int64_t now = mono_ns();
    int n = atomic_load(&r->n);
    if (n < MAX_RUNS)
        r->at[n] = now;
    if (n == 0) {
        pid_t tid = (pid_t)syscall(SYS_gettid);
        struct sched_param sp;
        r->policy = sched_getscheduler(tid);
        r->fifo = sched_getparam(tid, &sp) == 0 ? sp.sched_priority : -1;
        r->rtx = RtGetThreadPriority(GetCurrentThread());
        r->slack_ns = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    }
    if (r->sleep_ms)
        sleep_ms(r->sleep_ms);
    if (n == 0 && r->first_sleep_us) {
        struct timespec d = {r->first_sleep_us / 1000000, (long)(r->first_sleep_us % 1000000) * 1000};
        while (nanosleep(&d, &d) != 0)
            ;
        r->first_end = mono_ns();
    }
    if (r->cancel_at > 0 && n + 1 == r->cancel_at)
        r->self_result = RtCancelTimer(r->self, NULL);
    if (r->cancel_at < 0 && n + 1 == -r->cancel_at)
        r->self_result = RtDeleteTimer(r->self);
    atomic_store(&r->n, n + 1);
}

/* Waits (5 s at most) until r has run n times. */
static inline void wait_runs(struct runs *r, int n)
{
    for (int i = 0; i < 5000 && atomic_load(&r->n) < n; i++)
        sleep_ms(1);
    assert_true(atomic_load(&r->n) >= n);
}

static inline VOID RTFCNDCL never_run(PVOID context) { (void)context; abort(); }
#endif
