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

/* A multi-object waiter on mutex obj (holding a reference to it) joins its
 * watcher before it first sleeps; NULL when no watcher can be had (no
 * thread, no memory): the wait then learns of a death at its next wake.
 * The mutex's sleeper_join, _arm and _leave (object_ops.h): a watcher is
 * a void * there. */
void *iw_mutex_watch_join(struct iw_object *obj);
/* Before every sleep of a waiter that polled the mutex and didn't get it. */
void iw_mutex_watch_arm(void *watch);
/* When the waiter's wait ends. */
void iw_mutex_watch_leave(void *watch);

/* The mutex's fork hooks (fork.c): the child has no watcher threads. */
void iw_mutex_watch_fork_prepare(void);
void iw_mutex_watch_fork_parent(void);
void iw_mutex_watch_fork_child(void);

/* mutex.c: the watcher's turn at the lock, until *until (CLOCK_MONOTONIC).
 * If it gets the mutex it records an abandonment and hands the mutex back;
 * returns 0 then, or the lock's error (ETIMEDOUT).  The watcher then wakes
 * the multi-object waiters with iw_mutex_wake_waiters. */
int iw_mutex_hold_for_waiters(void *state, const struct timespec *until);
void iw_mutex_wake_waiters(void *state);
#endif
