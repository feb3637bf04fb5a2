/*
 * Helpers shared by the timer tests (test_timer.c, test_timer_stop.c,
 * test_timer_wait.c): sleeping, RtGetClockTime's now, and a timer that
 * skips the case where this process may not use SCHED_FIFO.  Include after
 * cmocka.h.
 */
#ifndef IWIN32_TIMER_UTIL_H
#define IWIN32_TIMER_UTIL_H
#include <stdio.h>
#include <time.h>

#include <iwin32.h>

#define MS 10000LL /* 1 ms in 100 ns units */

static inline void sleep_ms(unsigned ms)
{
    struct timespec d = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&d, &d) != 0)
        ;
}

static inline LONGLONG clock_now(void)
{
    LARGE_INTEGER t;
    assert_true(RtGetClockTime(CLOCK_FASTEST, &t));
    return t.QuadPart;
}

/* A timer, or the case skipped where this process may not use SCHED_FIFO. */
static inline HANDLE make_timer(VOID(RTFCNDCL *routine)(PVOID), PVOID context, ULONG priority)
{
    SetLastError(0);
    HANDLE h = RtCreateTimer(NULL, 0, routine, context, priority, CLOCK_FASTEST);
    if (h == NULL && GetLastError() == ERROR_ACCESS_DENIED) {
        fprintf(stderr, "no real-time priority here (CAP_SYS_NICE or RLIMIT_RTPRIO): skipped\n");
        skip();
    }
    assert_non_null(h);
    return h;
}
#endif
