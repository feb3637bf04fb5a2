/*
 * This thread's voluntary context switches: each time it slept - a wait, a
 * sleep, a lock that blocked - however short.  CPU taken from the thread,
 * and a yield that gives it away, count as involuntary switches and not
 * here: on a loaded machine a call that never blocks can take any wall time,
 * but no more of these.  Tests judge "did not wait" by them.
 */
#ifndef IWIN32_TEST_THREAD_SWITCHES_H
#define IWIN32_TEST_THREAD_SWITCHES_H
#include <stdlib.h>
#include <sys/resource.h>

static inline long voluntary_switches(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_THREAD, &u) != 0)
        abort();
    return u.ru_nvcsw;
}

#endif
