/*
 * The Rt* calls' time unit: 100 ns on CLOCK_MONOTONIC (clock.c says why
 * that clock), for the calls that take or return such times (clock.c,
 * timer.c).
 */
#ifndef IW_CLOCK_H
#define IW_CLOCK_H
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <iwin32.h>

#define IW_NS_PER_TICK 100              /* one unit of the Rt* clock calls */
#define IW_TICKS_PER_SEC 10000000LL

/* A value in 100 ns units from a timespec, rounded up when asked (a
 * resolution of 1 ns is one unit, never 0). */
static inline LONGLONG iw_ticks_of(const struct timespec *t, bool round_up)
{
    return (LONGLONG)t->tv_sec * IW_TICKS_PER_SEC + (t->tv_nsec + (round_up ? IW_NS_PER_TICK - 1 : 0)) / IW_NS_PER_TICK;
}
#endif
