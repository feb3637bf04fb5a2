/*
 * Helpers shared by the event tests (sync_event.c: Set, Reset, waiters
 * between threads and processes; sync_event_pulse.c: PulseEvent): an
 * unnamed event made or the test fails, and how many waiters are done.
 * Header-only (static inline), so that each test executable stays one source
 * file plus test_node.c.
 */
#ifndef IWIN32_SYNC_EVENT_UTIL_H
#define IWIN32_SYNC_EVENT_UTIL_H
#include "sync_util.h"

/* How long "not released" is watched before it is believed. */
#define QUIET_MS 150

static inline HANDLE new_event(BOOLEAN manual, BOOLEAN initial)
{
    HANDLE h = RtCreateEvent(NULL, manual, initial, NULL);
    assert_non_null(h);
    return h;
}

static inline int count_done(struct sync_waiter *w, int n)
{
    int done = 0;
    for (int i = 0; i < n; i++)
        done += atomic_load(&w[i].done);
    return done;
}
#endif
