/*
 * Mutex watchers (mutex_watch.c): while threads of this process sleep in
 * multi-object waits on a mutex, a watcher thread blocks in its PI lock for
 * them, so that its owner's death reaches them at once.
 */
#ifndef IW_MUTEX_WATCH_H
#define IW_MUTEX_WATCH_H
#include <stddef.h>
#include <time.h>

#include "object.h"

struct iw_mutex_watch;

/* A multi-object waiter on mutex obj (holding a reference to it) joins its
 * watcher before it first sleeps; NULL when no watcher can be had (no
 * thread, no memory): the wait then learns of a death at its next wake. */
struct iw_mutex_watch *iw_mutex_watch_join(struct iw_object *obj);
/* Before every sleep of a waiter that polled the mutex and didn't get it. */
void iw_mutex_watch_arm(struct iw_mutex_watch *w);
/* When the waiter's wait ends. */
void iw_mutex_watch_leave(struct iw_mutex_watch *w);

/* mutex.c: the watcher's turn at the lock, until *until (CLOCK_MONOTONIC).
 * If it gets the mutex it records an abandonment and hands the mutex back;
 * returns 0 then, or the lock's error (ETIMEDOUT).  The watcher then wakes
 * the multi-object waiters with iw_mutex_watch_wake. */
int iw_mutex_watch_lock(void *state, const struct timespec *until);
void iw_mutex_watch_wake(void *state);
#endif
