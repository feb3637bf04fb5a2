/*
 * SPEC 9: sleeps and clocks.  Every time here is CLOCK_MONOTONIC, the clock
 * the waits' timeouts run on: it never jumps (no NTP step, no date change),
 * so a deadline computed from RtGetClockTime is one a sleep or a wait can
 * reach.  Its zero is the kernel's boot (time spent suspended excluded);
 * INtime's "system clock" has no documented zero and RTX's counts from
 * 1601, and nothing portable may rely on either.  Units: milliseconds for
 * Sleep, 100 ns for the Rt*Ft and clock calls (LARGE_INTEGER.QuadPart).
 *
 * Sleeps are never early: the deadline is taken once, on entry, and the
 * sleep is clock_nanosleep(TIMER_ABSTIME) to it, restarted after a signal
 * handler (EINTR) with the same deadline - so a signal neither cuts the
 * sleep short nor adds to it.  INtime rounds a sleep up to its kernel tick
 * (500 us by default, and RtSleep below 10 ms is a yield in INtime 6);
 * Linux's high-resolution timers need no tick, so a sleep lasts the time
 * asked plus the wake-up latency.  A duration of 0 yields (sched_yield), as
 * Win32's Sleep(0) does.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"
#include "export.h"
#include "last_error.h"

/* Sleeps until the monotonic time *deadline has passed. */
static void sleep_until(const struct timespec *deadline)
{
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, deadline, NULL) == EINTR)
        ;
}

/* Sleeps for sec seconds and nsec nanoseconds (not both 0), from now. */
static void sleep_for(int64_t sec, int64_t nsec)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    /* Saturate instead of wrapping: a sleep of centuries ends never. */
    if (sec > INT64_MAX / 2 - t.tv_sec)
        sec = INT64_MAX / 2 - t.tv_sec;
    t.tv_sec += (time_t)sec;
    t.tv_nsec += (long)nsec;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_nsec -= 1000000000L;
        t.tv_sec++;
    }
    sleep_until(&t);
}

IW_API VOID Sleep(DWORD dwMilliseconds)
{
    if (dwMilliseconds == 0) {
        sched_yield();
        return;
    }
    /* INFINITE (Win32: forever) saturates to a deadline that never comes. */
    int64_t sec = dwMilliseconds == INFINITE ? INT64_MAX : dwMilliseconds / 1000;
    sleep_for(sec, (int64_t)(dwMilliseconds % 1000) * 1000000);
}
IW_API VOID RtSleep(DWORD dwMilliseconds) __attribute__((alias("Sleep")));

/* NULL: nothing to sleep for; the last error says why (the call returns
 * nothing).  Zero or negative: a yield, as Sleep(0). */
IW_API VOID RtSleepFt(PLARGE_INTEGER pDuration)
{
    if (pDuration == NULL) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return;
    }
    LONGLONG ticks = pDuration->QuadPart;
    if (ticks <= 0) {
        sched_yield();
        return;
    }
    sleep_for(ticks / IW_TICKS_PER_SEC, ticks % IW_TICKS_PER_SEC * IW_NS_PER_TICK);
}

IW_API BOOLEAN RtGetClockTime(CLOCK Clock, PLARGE_INTEGER pTime)
{
    (void)Clock; /* INtime ignores it */
    if (pTime == NULL) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    pTime->QuadPart = iw_ticks_of(&t, false);
    return TRUE;
}

IW_API BOOLEAN RtGetClockResolution(CLOCK Clock, PLARGE_INTEGER pResolution)
{
    (void)Clock;
    if (pResolution == NULL) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    struct timespec t;
    clock_getres(CLOCK_MONOTONIC, &t);
    pResolution->QuadPart = iw_ticks_of(&t, true);
    return TRUE;
}

/* INtime: "the same as RtGetClockResolution" - timers and sleeps have the
 * clock's own resolution here (high-resolution timers, no tick). */
IW_API BOOLEAN RtGetClockTimerPeriod(CLOCK Clock, PLARGE_INTEGER pTime)
    __attribute__((alias("RtGetClockResolution")));
