/*
 * Waits (SPEC 6).  A wait first tries every object in index order; if none
 * is signalled it registers with each, then sleeps on their wake counters
 * (futex_waitv for several, a plain futex wait for one) and, on every wake,
 * polls them in index order: the lowest signalled index wins, and only that
 * object is consumed.  Nothing is allocated and nothing polls: sleepers
 * wake on a signal, a release, or the deadline (CLOCK_MONOTONIC).
 *
 * Each object's type says how (object_ops.h); this file names none.  A
 * type may sleep alone on its own terms (wait_alone: a mutex blocks in the
 * kernel's PI lock, for priority inheritance and prompt abandonment), and
 * may need a helper while a multi-object waiter sleeps (sleeper_join: a
 * mutex's watcher thread, which also carries the waiter's priority to the
 * owner).
 *
 * No wait takes the process lock: handles are looked up by pins
 * (hazard.c), single and multi-object alike.
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
#include "deadline.h"
#include "export.h"
#include "futex.h"
#include "hazard.h"
#include "hot.h"
#include "last_error.h"
#include "object.h"
#include "thread.h"
#include "wait_guard.h"

/* The wait protocol of each object's type (object_ops.h), on its state. */
static int try_take(struct iw_object *obj, bool *abandoned)
{
    *abandoned = false;
    return obj->ops->try_take(iw_object_state(obj), abandoned);
}


/* The lines a waiter touches after a wake, asked for all at once (prefetch
 * for writing, a hint that never faults): with cold caches each object's
 * state and record is a cache miss, often a page walk too, and the
 * compare-and-swaps that follow - the poll, leaving the objects not taken,
 * dropping the references - are locked instructions that the CPU does one
 * after another, each waiting out its own miss.  Prefetched together, the
 * misses overlap (bench-rt's multi case: the 16-object wait's gap to a
 * 1-object wait was mostly these; a single wait has two, its state and its
 * record). */
IW_HOT_WAIT static void prefetch_objects(struct iw_object **objs, void *const *state, DWORD n)
{
    for (DWORD i = 0; i < n; i++) {
        __builtin_prefetch(state[i], 1); /* the wake counter's line, too: it leads every state */
        __builtin_prefetch(&objs[i]->refs, 1);
    }
}

static DWORD result(DWORD index, bool abandoned) { return (abandoned ? WAIT_ABANDONED_0 : WAIT_OBJECT_0) + index; }

/* An object counts as many waiters as it can (object_ops.h): the n
 * registered before it are let go of, and the wait fails.  Out of the
 * hot page: it never runs on a wake. */
__attribute__((cold, noinline)) static DWORD refuse(const struct iw_object_ops **ops, void *const *state,
                                                     const uint32_t *cookie, DWORD n)
{
    for (DWORD i = 0; i < n; i++)
        ops[i]->leave(state[i], cookie[i]);
    iw_set_error(ERROR_NOT_ENOUGH_MEMORY);
    return WAIT_FAILED;
}

/* Registered with every object: sleep and poll until one is ours. */
IW_HOT_WAIT static DWORD sleep_and_poll(struct iw_object **objs, DWORD n, const struct timespec *deadline,
                                        struct iw_wait_guard *guard)
{
    uint32_t cookie[MAXIMUM_WAIT_OBJECTS];
    struct futex_waitv w[MAXIMUM_WAIT_OBJECTS];
    void *helper[MAXIMUM_WAIT_OBJECTS];
    /* Each object's type and state, read from its record once, before the
     * sleep: the polls after a wake then touch the states alone. */
    const struct iw_object_ops *ops[MAXIMUM_WAIT_OBJECTS];
    void *state[MAXIMUM_WAIT_OBJECTS];
    bool any_helper = false;
    for (DWORD i = 0; i < n; i++) {
        helper[i] = NULL;
        ops[i] = objs[i]->ops;
        state[i] = iw_object_state(objs[i]);
        any_helper |= ops[i]->sleeper_join != NULL;
        cookie[i] = ops[i]->enter(state[i]);
        if (cookie[i] == IW_ENTER_FULL)
            return refuse(ops, state, cookie, i);
        w[i] = (struct futex_waitv){.uaddr = (uintptr_t)ops[i]->wake_word(state[i]), .flags = FUTEX2_SIZE_U32};
    }
    IW_CRASH_POINT("wait.registered");
    iw_wait_sleeps_on(guard, (_Atomic uint32_t *)(uintptr_t)w[0].uaddr);
    DWORD outcome = WAIT_TIMEOUT;
    DWORD taken = n;
    bool timed_out = false;
    for (;;) {
        /* Read the wake counters before polling: a signal after the poll
         * changes a counter, and the sleep below then returns at once. */
        for (DWORD i = 0; i < n; i++)
            w[i].val = atomic_load((_Atomic uint32_t *)(uintptr_t)w[i].uaddr);
        /* After the counters are read: a TerminateThread from here on moves
         * w[0]'s, and the sleep returns at once (wait_guard.h).  Before the
         * poll: a thread terminated asleep runs the handler as its sleep
         * returns, and a unit, token or mutex released after TerminateThread
         * returned must not go to the ended thread (Win32 aborts the wait;
         * test_release_after_terminate_is_not_taken). */
        if (iw_wait_ending(guard))
            break; /* no more polls or sleeps: RtWaitFor* ends the thread */
        for (DWORD i = 0; i < n && taken == n; i++) {
            bool abandoned = false;
            if (ops[i]->poll(state[i], cookie[i], &abandoned)) {
                taken = i;
                outcome = result(i, abandoned);
            }
        }
        if (taken < n) {
            IW_CRASH_POINT("wait.taken");
            break;
        }
        if (timed_out)
            break;
        /* An object we lost whose type needs a helper while we sleep (a
         * mutex's watcher blocks in its lock, so that an owner's death
         * wakes us).  One sleeping alone on such an object needs none: its
         * type sleeps itself (wait_objects). */
        for (DWORD i = 0; i < n && any_helper; i++)
            if (ops[i]->sleeper_join) {
                if (helper[i] == NULL)
                    helper[i] = ops[i]->sleeper_join(objs[i]);
                if (helper[i] != NULL)
                    ops[i]->sleeper_arm(helper[i]);
            }
        int rc = n == 1 ? iw_futex_wait((_Atomic uint32_t *)(uintptr_t)w[0].uaddr, (uint32_t)w[0].val, deadline)
                        : iw_futex_waitv(w, n, deadline);
        prefetch_objects(objs, state, n);
        if (rc == ETIMEDOUT) {
            timed_out = true; /* one last poll: a mutex whose owner died is free now */
        } else if (rc != 0 && rc != EAGAIN && rc != EINTR) {
            iw_set_error(rc == ENOSYS ? ERROR_NOT_SUPPORTED : ERROR_INVALID_PARAMETER);
            outcome = WAIT_FAILED;
            break;
        }
    }
    iw_wait_sleeps_on(guard, NULL);
    for (DWORD i = 0; i < n; i++) {
        if (i != taken)
            ops[i]->leave(state[i], cookie[i]);
        if (helper[i] != NULL)
            ops[i]->sleeper_leave(helper[i]);
    }
    return outcome;
}

/* tried: the caller found none signalled a moment ago (it still may be,
 * which the first poll of sleep_and_poll sees). */
IW_HOT_WAIT static DWORD wait_objects(struct iw_object **objs, DWORD n, DWORD ms, bool tried,
                                      struct iw_wait_guard *guard)
{
    bool abandoned;
    for (DWORD i = 0; i < n && !tried; i++)
        if (try_take(objs[i], &abandoned))
            return result(i, abandoned);
    if (ms == 0)
        return WAIT_TIMEOUT;
    struct timespec deadline;
    if (ms != INFINITE)
        iw_deadline_in(&deadline, (uint64_t)ms * 1000000u);
    const struct timespec *until = ms == INFINITE ? NULL : &deadline;
    if (n == 1 && objs[0]->ops->wait_alone) {
        /* Asleep in its PI lock, registered nowhere: a TerminateThread
         * there drops the reference and ends the thread, or, the lock
         * handed to it already, lets the type give it back (wait_guard.h). */
        if (guard != NULL)
            atomic_store_explicit(&guard->alone_ref, objs[0], memory_order_relaxed);
        if (iw_wait_ending(guard))
            return WAIT_TIMEOUT; /* the caller ends the thread */
        DWORD outcome = objs[0]->ops->wait_alone(iw_object_state(objs[0]), until, guard);
        if (guard != NULL) {
            atomic_signal_fence(memory_order_seq_cst);
            atomic_store_explicit(&guard->alone_ref, NULL, memory_order_relaxed);
        }
        return outcome;
    }
    return sleep_and_poll(objs, n, until, guard);
}

/* The object behind h with a reference, as the single wait takes one: a
 * pin turned into a reference (hazard.c), so no thread of the process can
 * delay the lookup (the process lock is not taken: a thread preempted in
 * Create, Open or Close while holding it would stall a real-time wait). */
static struct iw_object *reference(HANDLE h)
{
    if (h == IW_CURRENT_THREAD)
        return iw_thread_current_object(); /* the caller's: never signalled while it waits */
    struct iw_object *obj = iw_hazard_pin(h, NULL);
    if (obj == NULL)
        return NULL;
    bool held = iw_object_get_pinned(obj);
    iw_hazard_unpin();
    return held ? obj : NULL;
}

/* Every handle is looked up before anything is taken: one that is invalid
 * fails the call with nothing consumed.  Out of line and not hot: it runs
 * before the sleep, and RtWaitForMultipleObjects must stay small to share
 * the hot page (below). */
__attribute__((noinline)) static bool reference_all(DWORD n, const HANDLE *handles, struct iw_object **objs)
{
    for (DWORD i = 0; i < n; i++) {
        objs[i] = reference(handles[i]);
        if (objs[i] == NULL) {
            while (i-- > 0)
                iw_object_put(objs[i]);
            return false; /* ERROR_INVALID_HANDLE, set by the lookup */
        }
    }
    return true;
}

/* Hot, as the leave of each type: what runs after a multi-object wait's
 * wake then lies in the page a single wait's return touches anyway (a
 * cold page of code is a page walk: hot.h). */
IW_HOT_WAIT IW_API DWORD RtWaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles, BOOLEAN bWaitAll, DWORD dwMilliseconds)
{
    /* bWaitAll: INtime refuses it, and so do we until atomic wait-all exists. */
    if (nCount == 0 || nCount > MAXIMUM_WAIT_OBJECTS || lpHandles == NULL || bWaitAll) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return WAIT_FAILED;
    }
    struct iw_object *objs[MAXIMUM_WAIT_OBJECTS];
    struct iw_wait_guard *guard = iw_wait_enter(); /* before the references: wait_guard.h */
    if (!reference_all(nCount, lpHandles, objs)) {
        iw_wait_exit(guard);
        return WAIT_FAILED;
    }
    DWORD outcome = wait_objects(objs, nCount, dwMilliseconds, false, guard);
    /* A wait's reference is the last only when another thread closed the
     * object's last handle during the wait; this thread then does what that
     * close left to it - under the transit gate and the process lock, with
     * system calls (object.c: the record must leave the records as its count
     * drops to zero, or an Open of the name here would revive an object
     * being destroyed; fork must not copy its descriptor meanwhile).  So a
     * real-time thread never waits for those locks unless the application
     * closes a handle under its wait.  Otherwise a put is one
     * compare-and-swap. */
    for (DWORD i = 0; i < nCount; i++)
        iw_object_put(objs[i]);
    iw_wait_exit(guard);
    return outcome;
}

IW_HOT_WAIT IW_API DWORD RtWaitForSingleObject(HANDLE h, DWORD dwMilliseconds)
{
    /* GetCurrentThread() has no handle to pin: the multi-object wait's
     * lookup finds what stands for it (reference, above). */
    if (h == IW_CURRENT_THREAD)
        return RtWaitForMultipleObjects(1, &h, FALSE, dwMilliseconds);
    /* The common case - signalled, or a free mutex - pinned (no lock, no
     * reference, and the object's record not even read: the pin tells its
     * type and state); a wait that has to sleep holds a reference. */
    struct iw_pinned p;
    if (!iw_hazard_pin_found(h, NULL, &p))
        return WAIT_FAILED; /* ERROR_INVALID_HANDLE, set by the lookup */
    struct iw_object *obj = p.obj;
    bool abandoned = false;
    int taken = p.ops->try_take(p.state, &abandoned);
    if (taken || dwMilliseconds == 0) {
        iw_hazard_unpin();
        return taken ? result(0, abandoned) : WAIT_TIMEOUT;
    }
    /* Before the reference (wait_guard.h); inside the pin, which a
     * terminated thread lets go of as it ends. */
    struct iw_wait_guard *guard = iw_wait_enter();
    bool held = iw_object_get_pinned(obj); /* no lock: this wait sleeps on it */
    iw_hazard_unpin();
    if (!held) {
        iw_wait_exit(guard);
        return WAIT_FAILED; /* closed meanwhile: ERROR_INVALID_HANDLE */
    }
    DWORD outcome = wait_objects(&obj, 1, dwMilliseconds, true, guard);
    iw_object_put(obj); /* the last only if closed meanwhile: see above */
    iw_wait_exit(guard);
    return outcome;
}
