/*
 * Mutexes (SPEC 6): a robust, priority-inheriting, recursive, process-shared
 * pthread mutex in the object's shared page - owned by a thread, recursive,
 * EPERM for a non-owner's unlock, a waiter lifts the owner's priority, and
 * the owner's death hands the mutex to the next locker with EOWNERDEAD,
 * which becomes WAIT_ABANDONED_0 + i.  All through glibc's public API.
 *
 * Multi-object waits must not sleep on the PI lock word: one plain futex
 * waiter there makes the kernel's PI lock fail with EINVAL, and glibc 2.36
 * then returns success while another thread owns the mutex.  They sleep on
 * the separate wake counter instead, which every release bumps when such
 * waiters are registered, and take the mutex with trylock.
 *
 * A multi-object waiter learns of an owner's death through a watcher
 * thread that blocks in the PI lock for it (mutex_watch.c): the watcher
 * records the abandonment in the shared state, and the next acquirer -
 * whoever it is - reports it.  A thread in a multi-object wait does not
 * lift the owner's priority.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "export.h"
#include "futex.h"
#include "last_error.h"
#include "mutex_watch.h"
#include "sync.h"

struct mutex_state {
    _Atomic uint32_t wake;
    _Atomic uint32_t waiters;   /* multi-object waiters registered */
    uint32_t abandoned;         /* a watcher took it from a dead owner;
                                   read and written by owners only */
    pthread_mutex_t lock;
};

static void init(struct iw_object *obj, const void *arg)
{
    struct mutex_state *m = iw_object_state(obj);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&m->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    if (*(const BOOLEAN *)arg) {
        pthread_mutex_lock(&m->lock); /* before the name exists: nobody can get in first */
        atomic_fetch_add(&obj->owned, 1);
    }
}

/* A creation that lost the race for the name lets go of its initial ownership. */
static void undo(struct iw_object *obj)
{
    struct mutex_state *m = iw_object_state(obj);
    pthread_mutex_unlock(&m->lock);
    atomic_fetch_sub(&obj->owned, 1);
}

_Atomic uint32_t *iw_mutex_wake_word(void *state) { return &((struct mutex_state *)state)->wake; }
void iw_mutex_enter(void *state) { atomic_fetch_add(&((struct mutex_state *)state)->waiters, 1); }
void iw_mutex_leave(void *state) { atomic_fetch_sub(&((struct mutex_state *)state)->waiters, 1); }

/* After pthread reports a lock: 0 acquired, 1 acquired but abandoned (its
 * owner died: we are told so by the lock, or by a watcher that took it
 * first), -1 not. */
static int acquired(struct iw_object *obj, struct mutex_state *m, int rc)
{
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(&m->lock);
        m->abandoned = 1;
    } else if (rc != 0) {
        return -1;
    }
    atomic_fetch_add(&obj->owned, 1);
    if (m->abandoned) {
        m->abandoned = 0;
        return 1;
    }
    return 0;
}

static void wake_multi_waiters(struct mutex_state *m)
{
    if (atomic_load(&m->waiters) > 0) {
        atomic_fetch_add(&m->wake, 1);
        iw_futex_wake_all(&m->wake);
    }
}

int iw_mutex_watch_lock(void *state, const struct timespec *until)
{
    struct mutex_state *m = state;
    int rc;
    do
        rc = pthread_mutex_clocklock(&m->lock, CLOCK_MONOTONIC, until);
    while (rc == EINTR || rc == EAGAIN);
    if (rc == EOWNERDEAD) {
        /* Before the unlock, as the owner: the flag travels with the mutex.
         * Killed before the unlock, we leave it abandoned once more. */
        m->abandoned = 1;
        pthread_mutex_consistent(&m->lock);
    } else if (rc != 0) {
        return rc;
    }
    pthread_mutex_unlock(&m->lock);
    wake_multi_waiters(m);
    return 0;
}

int iw_mutex_try(struct iw_object *obj, bool *abandoned)
{
    struct mutex_state *m = iw_object_state(obj);
    int r = acquired(obj, m, pthread_mutex_trylock(&m->lock));
    *abandoned = r == 1;
    return r >= 0;
}

DWORD iw_mutex_wait(struct iw_object *obj, const struct timespec *deadline)
{
    struct mutex_state *m = iw_object_state(obj);
    int rc;
    do
        rc = deadline ? pthread_mutex_clocklock(&m->lock, CLOCK_MONOTONIC, deadline)
                      : pthread_mutex_lock(&m->lock);
    while (rc == EINTR || rc == EAGAIN);
    int r = acquired(obj, m, rc);
    if (r >= 0)
        return r ? WAIT_ABANDONED_0 : WAIT_OBJECT_0;
    if (rc == ETIMEDOUT)
        return WAIT_TIMEOUT;
    iw_set_error(rc == ENOTRECOVERABLE ? ERROR_INVALID_HANDLE : ERROR_INVALID_PARAMETER);
    return WAIT_FAILED;
}

IW_API BOOLEAN RtReleaseMutex(HANDLE h)
{
    struct iw_object *obj = iw_object_from_handle(h, IW_TYPE_MUTEX);
    if (obj == NULL)
        return FALSE;
    struct mutex_state *m = iw_object_state(obj);
    BOOLEAN ok = pthread_mutex_unlock(&m->lock) == 0;
    if (ok) {
        atomic_fetch_sub(&obj->owned, 1);
        wake_multi_waiters(m);
    } else {
        iw_set_error(ERROR_NOT_OWNER); /* not the owner, or released once too often */
    }
    iw_object_put(obj);
    return ok;
}

IW_API HANDLE RtCreateMutex(LPSECURITY_ATTRIBUTES a, BOOLEAN bInitialOwner, LPCTSTR lpName)
{
    (void)a;
    BOOLEAN owner = bInitialOwner != 0;
    struct iw_new_state state = {.init = init, .undo = owner ? undo : NULL, .arg = &owner};
    return iw_sync_create(IW_TYPE_MUTEX, lpName, &state);
}

IW_API HANDLE RtOpenMutex(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName)
{
    (void)dwDesiredAccess;
    (void)bInheritHandle;
    return iw_sync_open(IW_TYPE_MUTEX, lpName);
}
