/*
 * Deadlines on CLOCK_MONOTONIC, the clock of every timed wait in the
 * library (futexes, pthread_mutex_clocklock): immune to the wall clock
 * being set.
 */
#ifndef IW_DEADLINE_H
#define IW_DEADLINE_H
#include <stdint.h>
#include <time.h>

#define IW_NS_PER_S 1000000000L

/* *ts = from + ns. */
static inline void iw_deadline_after(struct timespec *ts, const struct timespec *from, uint64_t ns)
{
    ts->tv_sec = from->tv_sec + (time_t)(ns / IW_NS_PER_S);
    ts->tv_nsec = from->tv_nsec + (long)(ns % IW_NS_PER_S);
    if (ts->tv_nsec >= IW_NS_PER_S) {
        ts->tv_sec++;
        ts->tv_nsec -= IW_NS_PER_S;
    }
}

/* *ts = now + ns. */
static inline void iw_deadline_in(struct timespec *ts, uint64_t ns)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    iw_deadline_after(ts, &now, ns);
}
#endif
