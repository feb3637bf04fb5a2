/*
 * Mutexes (SPEC 6): a robust, priority-inheriting, process-shared pthread
 * mutex in the object's shared page - owned by a thread, a waiter lifts the
 * owner's priority, and the owner's death hands the mutex to the next
 * locker with EOWNERDEAD, which becomes WAIT_ABANDONED_0 + i.  All through
 * glibc's public API.  The recursion is the library's own (its owner record,
 * below): the owner's wait counts one more acquisition without touching the
 * lock, and only the release of the last unlocks it.
 *
 * The pthread mutex is a plain (not recursive) one because of deadlocks:
 * two threads - of one process or two - that each own a mutex and wait for
 * the other's make a cycle the kernel finds in the PI chain, and it answers
 * the wait that closes it with EDEADLK.  For a plain mutex glibc then sleeps
 * that wait until its timeout (for ever, INFINITE) - Win32's deadlock, of
 * those threads only; for a recursive one it asserts that the answer never
 * comes and aborts the process (sync_mutex's test_deadlock_*).
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
 * whoever it is - reports it.  The watcher runs at the highest priority
 * of the waiters it serves, so a thread in a multi-object wait lifts the
 * owner through it, as a single-object waiter does itself.
 *
 * Abandonment (SPEC 6) is reported only when a thread that acquired the
 * mutex through the API ends owning it.  The kernel can't tell: it reports
 * EOWNERDEAD for whatever thread held the lock word - a watcher holding it
 * for a moment, or an API thread killed a few instructions into a call.
 * The library's own owner record can: owner_thread is set once an API
 * acquisition is complete and cleared before the API release unlocks, and
 * no watcher ever sets it.  So on EOWNERDEAD, the death is an abandonment
 * if owner_thread is set (that owner died) or the abandoned flag is (a
 * watcher saw such a death and handed the mutex on).  Each window:
 *
 *   - killed after the lock but before now_owned: owner_thread is 0 (or
 *     still names a dead owner whose death nobody has reported yet: then
 *     it is reported by the next acquirer, as it should be);
 *   - killed in now_owned / after it: owner_thread names the dead thread,
 *     which did acquire: abandoned;
 *   - killed in RtReleaseMutex after release_one cleared owner_thread,
 *     before the unlock: the release was decided, not abandoned;
 *   - a watcher killed while it holds the lock: owner_thread is 0 and the
 *     flag is whatever it was - a real owner's death it was carrying is
 *     still reported (it sets the flag before clearing owner_thread);
 *   - an acquirer that found the flag set keeps it until it has recorded
 *     itself as owner: killed in between, the next one still reports it.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>

#include "crash_point.h"
#include "deadline.h"
#include "export.h"
#include "iwin32_inspect.h"
#include "futex.h"
#include "hazard.h"
#include "last_error.h"
#include "mutex_state.h"
#include "mutex_watch.h"
#include "object.h"
#include "self.h"
#include "type.h"
#include "wait_guard.h"

/* The library keeps its own record of the owner (the lock word's layout is
 * glibc's private business): a release by a non-owner is refused without a
 * system call, and a process knows whether one of its threads owns a mutex
 * whose page it is about to unmap (owned_here). */
/* The owner record is kept on every acquisition and release: inlined (GCC
 * would not, with several callers), it costs about 2 ns of a 21 ns
 * uncontended wait+release instead of 4. */
#define HOT_PATH static inline __attribute__((always_inline))

static uint64_t relaxed_load(const _Atomic uint64_t *v) { return atomic_load_explicit(v, memory_order_relaxed); }

/* The lock's futex word, which for a robust PI mutex is the kernel's: the
 * holder's TID and FUTEX_OWNER_DIED (describe says more). */
static uint32_t lock_word(const struct mutex_state *m)
{
    return atomic_load_explicit((_Atomic uint32_t *)&m->lock.__data.__lock, memory_order_relaxed);
}

/* The caller has just locked the mutex: its first acquisition. */
HOT_PATH void now_owned(struct mutex_state *m)
{
    atomic_store_explicit(&m->depth, 1, memory_order_relaxed);
    atomic_store_explicit(&m->owner_process, iw_self_process(), memory_order_relaxed);
    atomic_store_explicit(&m->owner_thread, iw_self_thread(), memory_order_relaxed);
}

/* The owner acquires it once more: true, or false at UINT32_MAX
 * acquisitions (the count would wrap: not taken). */
HOT_PATH bool owned_again(struct mutex_state *m)
{
    uint32_t depth = atomic_load_explicit(&m->depth, memory_order_relaxed);
    if (depth == UINT32_MAX)
        return false;
    atomic_store_explicit(&m->depth, depth + 1, memory_order_relaxed);
    return true;
}

/* The calling thread owns the mutex.  Another thread reads owner_thread
 * only to find it is not itself, which no concurrent write can change. */
HOT_PATH bool owned_by_caller(const struct mutex_state *m)
{
    return relaxed_load(&m->owner_thread) == iw_self_thread();
}

enum release { NOT_OWNER, STILL_OWNED, TO_UNLOCK };

/* One release of the caller's; TO_UNLOCK for the last, which the caller
 * completes with the unlock. */
HOT_PATH enum release release_one(struct mutex_state *m)
{
    if (!owned_by_caller(m))
        return NOT_OWNER;
    uint32_t depth = atomic_load_explicit(&m->depth, memory_order_relaxed) - 1;
    atomic_store_explicit(&m->depth, depth, memory_order_relaxed);
    if (depth > 0)
        return STILL_OWNED;
    atomic_store_explicit(&m->owner_thread, 0, memory_order_relaxed);
    return TO_UNLOCK;
}

/* A thread of this process owns it: its page stays mapped (keep_mapped,
 * object_ops.h), since the kernel writes into a robust mutex's page when
 * its owner dies, and whatever had been mapped there since would be
 * corrupted (glibc bug 14485).  One page per such mutex, on purpose. */
static bool owned_here(const void *state)
{
    const struct mutex_state *m = state;
    return relaxed_load(&m->owner_thread) != 0 && relaxed_load(&m->owner_process) == iw_self_process();
}

struct mutex_params {
    bool owned; /* by the creating thread */
};

static void init(void *state, const void *params)
{
    struct mutex_state *m = state;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&m->lock, &attr); /* plain: see the top */
    pthread_mutexattr_destroy(&attr);
    if (((const struct mutex_params *)params)->owned) {
        pthread_mutex_lock(&m->lock); /* before the name exists: nobody can get in first */
        now_owned(m);
    }
}

/* A creation that lost the race for the name lets go of its initial ownership. */
static void undo(void *state)
{
    struct mutex_state *m = state;
    if (release_one(m) == TO_UNLOCK)
        pthread_mutex_unlock(&m->lock);
}

static _Atomic uint32_t *wake_word(void *state) { return &((struct mutex_state *)state)->wake; }

static uint32_t enter(void *state)
{
    atomic_fetch_add(&((struct mutex_state *)state)->waiters, 1);
    return 0;
}

static void leave(void *state, uint32_t cookie)
{
    (void)cookie;
    atomic_fetch_sub(&((struct mutex_state *)state)->waiters, 1);
}

/* After EOWNERDEAD, as the lock's holder: whether the thread that died
 * owned the mutex through the API (see the windows above). */
static __attribute__((noinline, cold)) bool api_owner_died(struct mutex_state *m)
{
    pthread_mutex_consistent(&m->lock);
    return relaxed_load(&m->owner_thread) != 0;
}

/* After pthread reports a lock: 0 acquired, 1 acquired but abandoned (its
 * owner died: we are told so by the lock, or by a watcher that took it
 * first), -1 not. */
HOT_PATH int acquired(struct mutex_state *m, int rc)
{
    bool abandoned = false;
    if (rc == EOWNERDEAD) {
        IW_CRASH_POINT("mutex.owner_dead");
        abandoned = api_owner_died(m);
    } else if (rc != 0) {
        return -1;
    }
    abandoned |= atomic_load_explicit(&m->abandoned, memory_order_relaxed) != 0;
    now_owned(m); /* a dead owner's record, if any, is stale */
    if (abandoned) {
        IW_CRASH_POINT("mutex.abandoned_owned");
        atomic_store_explicit(&m->abandoned, 0, memory_order_relaxed); /* reported: ours now */
    }
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

/* Lets go of a lock taken (rc 0 or EOWNERDEAD) on no application thread's
 * account - a watcher's, or a poll's whose thread is being terminated -
 * leaving a death it found to the next acquirer. */
static void hand_back(struct mutex_state *m, int rc)
{
    if (rc == EOWNERDEAD && api_owner_died(m)) {
        /* Before the unlock, as the holder: the flag travels with the
         * mutex.  Set before the owner record is cleared, so that a watcher
         * killed in between leaves the death to be reported either way;
         * cleared, so that a poll meeting us in the lock knows nobody owns
         * it (try_take). */
        atomic_store_explicit(&m->abandoned, 1, memory_order_relaxed);
        IW_CRASH_POINT("mutex.watch_flagged");
        atomic_store_explicit(&m->owner_thread, 0, memory_order_relaxed);
    }
    IW_CRASH_POINT("mutex.watch_locked");
    pthread_mutex_unlock(&m->lock);
}

int iw_mutex_hold_for_waiters(void *state, const struct timespec *until)
{
    struct mutex_state *m = state;
    int rc;
    do
        rc = pthread_mutex_clocklock(&m->lock, CLOCK_MONOTONIC, until);
    while (rc == EINTR || rc == EAGAIN);
    if (rc != 0 && rc != EOWNERDEAD)
        return rc;
    hand_back(m, rc);
    return 0;
}

void iw_mutex_wake_waiters(void *state) { wake_multi_waiters(state); }

/* The handback a busy try waits for: checked every SLICE, given up after
 * LIMIT (a holder that is stopped, or starved of CPU). */
#define HANDBACK_SLICE_NS 100000L
#define HANDBACK_LIMIT_NS 10000000L

/* Busy, but no application thread owns it (no owner on record): its holder
 * is a few instructions from letting go or from recording itself - a
 * watcher handing it back, or an API call between the lock and its record.
 * A poll must not fail for a mutex nobody owns: block in the PI lock for
 * the handback (a real-time caller lifts the holder to its own priority,
 * so it takes microseconds), rechecking the record every slice: once an
 * owner is on record, the mutex is owned and the try fails.
 *
 * This is a sleep inside a wait's poll, so TerminateThread's handler only
 * flags the wait as ending (wait_guard.h) - and the wait checked that flag
 * before polling.  So the poll checks it itself, every slice, and after
 * the lock: a lock handed to it once the thread is being ended is let go
 * of at once (as wait_alone gives back its own), never taken - Win32
 * aborts the wait, and the ended thread would hold the mutex, to be
 * reported abandoned (test_thread_terminate_handback). */
static __attribute__((noinline)) int await_handback(struct mutex_state *m)
{
    struct iw_wait_guard *guard = iw_wait_guard_mine;
    struct timespec start, until;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long ns = HANDBACK_SLICE_NS; ns <= HANDBACK_LIMIT_NS && relaxed_load(&m->owner_thread) == 0 &&
                                      !iw_wait_ending(guard);
         ns += HANDBACK_SLICE_NS) {
        iw_deadline_after(&until, &start, (uint64_t)ns);
        int rc = pthread_mutex_clocklock(&m->lock, CLOCK_MONOTONIC, &until);
        if ((rc == 0 || rc == EOWNERDEAD) && iw_wait_ending(guard)) {
            hand_back(m, rc);
            wake_multi_waiters(m); /* those that polled while we held it */
            return EBUSY;
        }
        if (rc != ETIMEDOUT && rc != EINTR && rc != EAGAIN)
            return rc;
    }
    return EBUSY;
}

static int try_take(void *state, bool *abandoned)
{
    struct mutex_state *m = state;
    if (owned_by_caller(m)) {
        *abandoned = false;
        return owned_again(m);
    }
    int rc = pthread_mutex_trylock(&m->lock);
    if (rc == EBUSY && relaxed_load(&m->owner_thread) == 0)
        rc = await_handback(m);
    int r = acquired(m, rc);
    *abandoned = r == 1;
    return r >= 0;
}

/* A poll leaves the registration it takes the mutex with. */
static int poll(void *state, uint32_t cookie, bool *abandoned)
{
    if (!try_take(state, abandoned))
        return 0;
    leave(state, cookie);
    return 1;
}

/* The lock word names tid as the holder.  Read by TerminateThread's
 * handler on the waiting thread itself, so the answer for that thread
 * cannot change under it. */
static bool alone_holds(const void *state, pid_t tid)
{
    return (pid_t)(lock_word(state) & FUTEX_TID_MASK) == tid;
}

/* A wait whose thread TerminateThread is ending took the mutex: it lets go
 * as if it had never had it (Win32 aborts the wait) - an abandonment it was
 * told of set again first, as a watcher does, for the next acquirer. */
static __attribute__((cold)) void give_back(struct mutex_state *m, bool abandoned)
{
    if (abandoned)
        atomic_store_explicit(&m->abandoned, 1, memory_order_relaxed);
    release_one(m); /* TO_UNLOCK: a wait's acquisition is a first one (try_take) */
    pthread_mutex_unlock(&m->lock);
    wake_multi_waiters(m);
}

/* Alone, a wait blocks in the kernel's PI lock itself: priority
 * inheritance and prompt owner-death hand-over.
 *
 * TerminateThread's handler jumps out of this sleep (nothing else ends
 * it) - but not once the thread holds the lock: the kernel may hand it
 * the lock as the signal comes (an owner's unlock racing the signal's
 * wake), and glibc's lock may have got it by its own compare-and-swap.
 * Jumped out of, the lock would pass on only as the thread exits, from
 * glibc's robust-list pending slot (thread.c keeps it for the kernel:
 * without that, the next locker aborted the process;
 * test_mutex_released_after_terminate), and as an abandonment if
 * acquired() had recorded the owner.  So the handler lets such a lock
 * complete, and the wait gives the mutex back here at once: a terminated
 * wait takes nothing (Win32 aborts it). */
static DWORD wait_alone(void *state, const struct timespec *deadline, struct iw_wait_guard *guard)
{
    struct mutex_state *m = state;
    int rc;
    do
        rc = deadline ? pthread_mutex_clocklock(&m->lock, CLOCK_MONOTONIC, deadline)
                      : pthread_mutex_lock(&m->lock);
    while (rc == EINTR || rc == EAGAIN);
    int r = acquired(m, rc);
    if (r >= 0 && iw_wait_ending(guard)) {
        give_back(m, r == 1);
        return WAIT_TIMEOUT; /* the caller ends the thread */
    }
    if (r >= 0)
        return r ? WAIT_ABANDONED_0 : WAIT_OBJECT_0;
    if (rc == ETIMEDOUT)
        return WAIT_TIMEOUT;
    iw_set_error(rc == ENOTRECOVERABLE ? ERROR_INVALID_HANDLE : ERROR_INVALID_PARAMETER);
    return WAIT_FAILED;
}

/* The release is pinned, like every short call, though its caller owns the
 * mutex and an owned page is kept mapped (owned_here).  Without the pin:
 *   - whether the caller owns it is read from the page itself, and a
 *     non-owner's release (ERROR_NOT_OWNER, never a crash) would read a
 *     page a concurrent last CloseHandle may have unmapped;
 *   - even the owner races that close: release_one clears owner_thread
 *     before the unlock (the abandonment windows above need that order),
 *     and from that store on let_go's keep_mapped check answers false, so
 *     a let_go on another thread between release_one and the unlock unmaps
 *     the page under the unlock's write to the lock word and the waiters'
 *     wake.  What closes that window is a mark in process-local memory
 *     that let_go looks for after its keep_mapped check - which is the pin
 *     (the last reference waits for pins before let_go, hazard.c), and its
 *     recheck too: a pin published after the reclaimer's scan must see the
 *     handle gone.
 * Measured (callgrind, bench/README.md): the pin is about a dozen of the ~190
 * instructions the library adds to glibc's trylock+unlock per pair. */
IW_API BOOLEAN RtReleaseMutex(HANDLE h)
{
    struct iw_pinned p;
    if (!iw_hazard_pin_found(h, &iw_mutex_ops, &p))
        return FALSE;
    struct mutex_state *m = p.state;
    enum release r = release_one(m);
    BOOLEAN ok = r != NOT_OWNER;
    if (r == TO_UNLOCK) {
        IW_CRASH_POINT("mutex.releasing");
        ok = pthread_mutex_unlock(&m->lock) == 0;
        if (ok) {
            IW_CRASH_POINT("mutex.released");
            wake_multi_waiters(m);
        }
    }
    if (!ok) {
        iw_set_error(ERROR_NOT_OWNER); /* not the owner, or released once too often */
    }
    iw_hazard_unpin();
    return ok;
}

IW_API HANDLE RtCreateMutex(LPSECURITY_ATTRIBUTES a, BOOLEAN bInitialOwner, LPCTSTR lpName)
{
    (void)a;
    struct mutex_params params = {.owned = bInitialOwner != 0};
    return iw_object_create_handle(&iw_mutex_ops, lpName, &params);
}

IW_API HANDLE RtOpenMutex(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName)
{
    (void)dwDesiredAccess;
    (void)bInheritHandle;
    return iw_object_open_handle(&iw_mutex_ops, lpName);
}

/* The library's owner record holds random identities, not thread ids; the
 * lock is a robust, priority-inheriting pthread mutex, and for those the
 * futex word is the kernel's: the owner's TID in its low 30 bits,
 * FUTEX_OWNER_DIED set when the owner died holding it (glibc's public
 * __data.__lock).  The TID is in the pid namespace of the process that
 * locked it.  A multi-object waiter's watcher that took the mutex from a
 * dead owner marks it abandoned in our state until the next acquirer
 * reports it. */
static void describe(const void *state, IWIN32_OBJECT_STATE *out)
{
    struct mutex_state *m = (struct mutex_state *)state; /* only loaded from */
    uint32_t word = lock_word(m);
    out->ownerTid = (int32_t)(word & FUTEX_TID_MASK);
    out->depth = out->ownerTid ? atomic_load(&m->depth) : 0;
    out->abandoned = (word & FUTEX_OWNER_DIED) || atomic_load(&m->abandoned);
    out->waiters = atomic_load(&m->waiters);
}

const struct iw_object_ops iw_mutex_ops = {
    .type = IW_TYPE_MUTEX,
    .layout = 2, /* 2: the lock is a plain mutex, the recursion the owner record's */
    .name = "mutex",
    .state_size = sizeof(struct mutex_state),
    .init = init,
    .undo = undo,
    .keep_mapped = owned_here,
    .wake_word = wake_word,
    .try_take = try_take,
    .enter = enter,
    .poll = poll,
    .leave = leave,
    .wait_alone = wait_alone,
    .alone_holds = alone_holds,
    .sleeper_join = iw_mutex_watch_join,
    .sleeper_arm = iw_mutex_watch_arm,
    .sleeper_leave = iw_mutex_watch_leave,
    .fork_prepare = iw_mutex_watch_fork_prepare,
    .fork_parent = iw_mutex_watch_fork_parent,
    .fork_child = iw_mutex_watch_fork_child,
    .describe = describe,
};
