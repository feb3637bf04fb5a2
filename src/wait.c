/*
 * Waits (SPEC 6).  A wait first tries every object in index order; if none
 * is signalled it registers with each, then sleeps on their wake counters
 * (futex_waitv for several, a plain futex wait for one) and, on every wake,
 * polls them in index order: the lowest signalled index wins, and only that
 * object is consumed.  Nothing is allocated and nothing polls: sleepers
 * wake on a signal, a release, or the deadline (CLOCK_MONOTONIC).
 *
 * A single-object wait on a mutex is different: it blocks in the kernel's
 * PI lock (mutex.c) for priority inheritance and prompt abandonment.
 *
 * futex_waitv needs Linux 5.16; on an older kernel a multi-object wait that
 * has to sleep fails with WAIT_FAILED and ERROR_NOT_SUPPORTED (the README
 * says so); single-object waits work on any kernel.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>

#include "crash_point.h"
#include "export.h"
#include "futex.h"
#include "hazard.h"
#include "last_error.h"
#include "mutex_watch.h"
#include "sync.h"

_Atomic uint32_t *iw_sync_wake_word(struct iw_object *obj)
{
    void *state = iw_object_state(obj);
    switch (obj->type) {
    case IW_TYPE_EVENT: return iw_event_wake_word(state);
    case IW_TYPE_SEMAPHORE: return iw_semaphore_wake_word(state);
    default: return iw_mutex_wake_word(state);
    }
}

int iw_sync_try(struct iw_object *obj, bool *abandoned)
{
    *abandoned = false;
    switch (obj->type) {
    case IW_TYPE_EVENT: return iw_event_try(iw_object_state(obj));
    case IW_TYPE_SEMAPHORE: return iw_semaphore_try(iw_object_state(obj));
    default: return iw_mutex_try(obj, abandoned);
    }
}

uint32_t iw_sync_enter(struct iw_object *obj)
{
    switch (obj->type) {
    case IW_TYPE_EVENT: return iw_event_enter(iw_object_state(obj));
    case IW_TYPE_SEMAPHORE: iw_semaphore_enter(iw_object_state(obj)); return 0;
    default: iw_mutex_enter(iw_object_state(obj)); return 0;
    }
}

int iw_sync_poll(struct iw_object *obj, uint32_t cookie, bool *abandoned)
{
    *abandoned = false;
    switch (obj->type) {
    case IW_TYPE_EVENT: return iw_event_poll(iw_object_state(obj), cookie);
    case IW_TYPE_SEMAPHORE: return iw_semaphore_poll(iw_object_state(obj));
    default:
        if (!iw_mutex_try(obj, abandoned))
            return 0;
        iw_mutex_leave(iw_object_state(obj));
        return 1;
    }
}

void iw_sync_leave(struct iw_object *obj, uint32_t cookie)
{
    switch (obj->type) {
    case IW_TYPE_EVENT: iw_event_leave(iw_object_state(obj), cookie); break;
    case IW_TYPE_SEMAPHORE: iw_semaphore_leave(iw_object_state(obj)); break;
    default: iw_mutex_leave(iw_object_state(obj)); break;
    }
}

static void deadline_after(DWORD ms, struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static DWORD result(DWORD index, bool abandoned) { return (abandoned ? WAIT_ABANDONED_0 : WAIT_OBJECT_0) + index; }

/* Registered with every object: sleep and poll until one is ours. */
static DWORD sleep_and_poll(struct iw_object **objs, DWORD n, const struct timespec *deadline)
{
    uint32_t cookie[MAXIMUM_WAIT_OBJECTS];
    struct futex_waitv w[MAXIMUM_WAIT_OBJECTS];
    struct iw_mutex_watch *watch[MAXIMUM_WAIT_OBJECTS];
    for (DWORD i = 0; i < n; i++) {
        watch[i] = NULL;
        cookie[i] = iw_sync_enter(objs[i]);
        w[i] = (struct futex_waitv){.uaddr = (uintptr_t)iw_sync_wake_word(objs[i]), .flags = FUTEX2_SIZE_U32};
    }
    IW_CRASH_POINT("wait.registered");
    DWORD outcome = WAIT_TIMEOUT;
    DWORD taken = n;
    bool timed_out = false;
    for (;;) {
        /* Read the wake counters before polling: a signal after the poll
         * changes a counter, and the sleep below then returns at once. */
        for (DWORD i = 0; i < n; i++)
            w[i].val = atomic_load((_Atomic uint32_t *)(uintptr_t)w[i].uaddr);
        bool abandoned;
        for (DWORD i = 0; i < n && taken == n; i++)
            if (iw_sync_poll(objs[i], cookie[i], &abandoned)) {
                taken = i;
                outcome = result(i, abandoned);
            }
        if (taken < n) {
            IW_CRASH_POINT("wait.taken");
            break;
        }
        if (timed_out)
            break;
        /* A mutex we lost: a watcher blocks in its lock meanwhile, so an
         * owner's death wakes us (mutex_watch.c).  One sleeping alone on
         * a mutex needs none: it blocks in the lock itself (wait_objects). */
        for (DWORD i = 0; i < n; i++)
            if (objs[i]->type == IW_TYPE_MUTEX) {
                if (watch[i] == NULL)
                    watch[i] = iw_mutex_watch_join(objs[i]);
                if (watch[i] != NULL)
                    iw_mutex_watch_arm(watch[i]);
            }
        int rc = n == 1 ? iw_futex_wait((_Atomic uint32_t *)(uintptr_t)w[0].uaddr, (uint32_t)w[0].val, deadline)
                        : iw_futex_waitv(w, n, deadline);
        if (rc == ETIMEDOUT) {
            timed_out = true; /* one last poll: a mutex whose owner died is free now */
        } else if (rc != 0 && rc != EAGAIN && rc != EINTR) {
            iw_set_error(rc == ENOSYS ? ERROR_NOT_SUPPORTED : ERROR_INVALID_PARAMETER);
            outcome = WAIT_FAILED;
            break;
        }
    }
    for (DWORD i = 0; i < n; i++) {
        if (i != taken)
            iw_sync_leave(objs[i], cookie[i]);
        if (watch[i] != NULL)
            iw_mutex_watch_leave(watch[i]);
    }
    return outcome;
}

/* tried: the caller found none signalled a moment ago (it still may be,
 * which the first poll of sleep_and_poll sees). */
static DWORD wait_objects(struct iw_object **objs, DWORD n, DWORD ms, bool tried)
{
    bool abandoned;
    for (DWORD i = 0; i < n && !tried; i++)
        if (iw_sync_try(objs[i], &abandoned))
            return result(i, abandoned);
    if (ms == 0)
        return WAIT_TIMEOUT;
    struct timespec deadline;
    if (ms != INFINITE)
        deadline_after(ms, &deadline);
    const struct timespec *until = ms == INFINITE ? NULL : &deadline;
    if (n == 1 && objs[0]->type == IW_TYPE_MUTEX)
        return iw_mutex_wait(objs[0], until);
    return sleep_and_poll(objs, n, until);
}

IW_API DWORD RtWaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles, BOOLEAN bWaitAll, DWORD dwMilliseconds)
{
    /* bWaitAll: INtime refuses it, and so do we until atomic wait-all exists. */
    if (nCount == 0 || nCount > MAXIMUM_WAIT_OBJECTS || lpHandles == NULL || bWaitAll) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return WAIT_FAILED;
    }
    struct iw_object *objs[MAXIMUM_WAIT_OBJECTS];
    for (DWORD i = 0; i < nCount; i++) {
        objs[i] = iw_object_from_handle(lpHandles[i], 0);
        if (objs[i] == NULL) {
            while (i-- > 0)
                iw_object_put(objs[i]);
            return WAIT_FAILED; /* ERROR_INVALID_HANDLE, set by the lookup */
        }
    }
    DWORD outcome = wait_objects(objs, nCount, dwMilliseconds, false);
    for (DWORD i = 0; i < nCount; i++)
        iw_object_put(objs[i]);
    return outcome;
}

IW_API DWORD RtWaitForSingleObject(HANDLE h, DWORD dwMilliseconds)
{
    /* The common case - signalled, or a free mutex - pinned (no lock, no
     * reference); a wait that has to sleep holds a reference. */
    struct iw_object *obj = iw_object_pin(h, 0);
    if (obj == NULL)
        return WAIT_FAILED; /* ERROR_INVALID_HANDLE, set by the lookup */
    bool abandoned;
    int taken = iw_sync_try(obj, &abandoned);
    if (taken || dwMilliseconds == 0) {
        iw_object_unpin();
        return taken ? result(0, abandoned) : WAIT_TIMEOUT;
    }
    bool held = iw_object_get_pinned(obj); /* no lock: this wait sleeps on it */
    iw_object_unpin();
    if (!held)
        return WAIT_FAILED; /* closed meanwhile: ERROR_INVALID_HANDLE */
    DWORD outcome = wait_objects(&obj, 1, dwMilliseconds, true);
    iw_object_put(obj);
    return outcome;
}
