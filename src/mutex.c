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

#include "crash_point.h"
#include "export.h"
#include "futex.h"
#include "hazard.h"
#include "last_error.h"
#include "mutex_watch.h"
#include "self.h"
#include "sync.h"

struct mutex_state {
    _Atomic uint32_t wake;
    _Atomic uint32_t waiters;   /* multi-object waiters registered */
    /* Written only by the owner, while it owns the mutex (so the mutex
     * orders them), read by anyone: atomics, relaxed. */
    _Atomic uint32_t abandoned;         /* a watcher took it from a dead owner */
    _Atomic uint32_t watchers_queued;   /* watchers blocked in the lock (any process) */
    _Atomic uint32_t depth;             /* the owner's acquisitions */
    _Atomic uint64_t owner_thread;      /* iw_self_thread() of the owner, 0: none */
    _Atomic uint64_t owner_process;     /* iw_self_process() of the last owner */
    pthread_mutex_t lock;
};

/* The library keeps its own record of the owner (the lock word's layout is
 * glibc's private business): a release by a non-owner is refused without a
 * system call, and a process knows whether one of its threads owns a mutex
 * whose page it is about to unmap (object.c). */
/* The owner record is kept on every acquisition and release: inlined (GCC
 * would not, with several callers), it costs about 2 ns of a 21 ns
 * uncontended wait+release instead of 4. */
#define HOT_PATH static inline __attribute__((always_inline))

static uint64_t relaxed_load(_Atomic uint64_t *v) { return atomic_load_explicit(v, memory_order_relaxed); }

HOT_PATH void now_owned(struct mutex_state *m, bool afresh)
{
    uint64_t me = iw_self_thread();
    if (!afresh && relaxed_load(&m->owner_thread) == me) {
        atomic_store_explicit(&m->depth, atomic_load_explicit(&m->depth, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        return;
    }
    atomic_store_explicit(&m->depth, 1, memory_order_relaxed);
    atomic_store_explicit(&m->owner_process, iw_self_process(), memory_order_relaxed);
    atomic_store_explicit(&m->owner_thread, me, memory_order_relaxed);
}

/* Before the unlock: false if the calling thread doesn't own the mutex. */
HOT_PATH bool release_one(struct mutex_state *m)
{
    if (relaxed_load(&m->owner_thread) != iw_self_thread())
        return false;
    uint32_t depth = atomic_load_explicit(&m->depth, memory_order_relaxed) - 1;
    atomic_store_explicit(&m->depth, depth, memory_order_relaxed);
    if (depth == 0)
        atomic_store_explicit(&m->owner_thread, 0, memory_order_relaxed);
    return true;
}

bool iw_mutex_owned_here(struct iw_object *obj)
{
    struct mutex_state *m = iw_object_state(obj);
    return relaxed_load(&m->owner_thread) != 0 && relaxed_load(&m->owner_process) == iw_self_process();
}

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
        now_owned(m, true);
    }
}

/* A creation that lost the race for the name lets go of its initial ownership. */
static void undo(struct iw_object *obj)
{
    struct mutex_state *m = iw_object_state(obj);
    release_one(m);
    pthread_mutex_unlock(&m->lock);
}

_Atomic uint32_t *iw_mutex_wake_word(void *state) { return &((struct mutex_state *)state)->wake; }
void iw_mutex_enter(void *state) { atomic_fetch_add(&((struct mutex_state *)state)->waiters, 1); }
void iw_mutex_leave(void *state) { atomic_fetch_sub(&((struct mutex_state *)state)->waiters, 1); }

/* After pthread reports a lock: 0 acquired, 1 acquired but abandoned (its
 * owner died: we are told so by the lock, or by a watcher that took it
 * first), -1 not. */
HOT_PATH int acquired(struct mutex_state *m, int rc)
{
    if (rc == EOWNERDEAD) {
        IW_CRASH_POINT("mutex.owner_dead");
        pthread_mutex_consistent(&m->lock);
        atomic_store_explicit(&m->abandoned, 1, memory_order_relaxed);
    } else if (rc != 0) {
        return -1;
    }
    bool abandoned = atomic_load_explicit(&m->abandoned, memory_order_relaxed);
    if (abandoned)
        atomic_store_explicit(&m->abandoned, 0, memory_order_relaxed);
    now_owned(m, abandoned); /* the dead owner's record is stale */
    IW_CRASH_POINT("mutex.acquired");
    return abandoned;
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
    atomic_fetch_add(&m->watchers_queued, 1); /* a watcher killed here leaves it high: harmless */
    do
        rc = pthread_mutex_clocklock(&m->lock, CLOCK_MONOTONIC, until);
    while (rc == EINTR || rc == EAGAIN);
    if (rc != 0 && rc != EOWNERDEAD) {
        atomic_fetch_sub(&m->watchers_queued, 1);
        return rc;
    }
    if (rc == EOWNERDEAD) {
        /* Before the unlock, as the owner: the flag travels with the mutex.
         * Killed before the unlock, we leave it abandoned once more. */
        atomic_store_explicit(&m->abandoned, 1, memory_order_relaxed);
        pthread_mutex_consistent(&m->lock);
    }
    IW_CRASH_POINT("mutex.watch_locked");
    pthread_mutex_unlock(&m->lock);
    /* Counted as queued until it has given the mutex back, so that a poll
     * meeting it busy meanwhile knows to wait (iw_mutex_try). */
    atomic_fetch_sub(&m->watchers_queued, 1);
    return 0;
}

void iw_mutex_watch_wake(void *state) { wake_multi_waiters(state); }

/* How long a try waits for a watcher to hand the mutex back. */
#define HANDBACK_NS 10000000L

int iw_mutex_try(struct iw_object *obj, bool *abandoned)
{
    struct mutex_state *m = iw_object_state(obj);
    int rc = pthread_mutex_trylock(&m->lock);
    if (rc == EBUSY && relaxed_load(&m->owner_thread) == 0 &&
        atomic_load_explicit(&m->watchers_queued, memory_order_relaxed) > 0) {
        /* Busy, but no owner on record, and a watcher is in the lock (or
         * holds it): most likely the watcher got it on its release and is
         * giving it back (or a waiter it was handed to is waking up).  Block
         * in the PI lock for that, briefly - a real-time caller lifts the
         * holder, which gives it back at once; an ordinary one may wait for
         * it to be scheduled: at most 10 ms.  A poll should not fail for a
         * mutex nobody really holds. */
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += HANDBACK_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        rc = pthread_mutex_clocklock(&m->lock, CLOCK_MONOTONIC, &until);
    }
    int r = acquired(m, rc);
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
    int r = acquired(m, rc);
    if (r >= 0)
        return r ? WAIT_ABANDONED_0 : WAIT_OBJECT_0;
    if (rc == ETIMEDOUT)
        return WAIT_TIMEOUT;
    iw_set_error(rc == ENOTRECOVERABLE ? ERROR_INVALID_HANDLE : ERROR_INVALID_PARAMETER);
    return WAIT_FAILED;
}

IW_API BOOLEAN RtReleaseMutex(HANDLE h)
{
    struct iw_object *obj = iw_object_pin(h, IW_TYPE_MUTEX);
    if (obj == NULL)
        return FALSE;
    struct mutex_state *m = iw_object_state(obj);
    BOOLEAN ok = release_one(m);
    if (ok) {
        IW_CRASH_POINT("mutex.releasing");
        ok = pthread_mutex_unlock(&m->lock) == 0;
    }
    if (ok) {
        IW_CRASH_POINT("mutex.released");
        wake_multi_waiters(m);
    } else {
        iw_set_error(ERROR_NOT_OWNER); /* not the owner, or released once too often */
    }
    iw_object_unpin();
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
