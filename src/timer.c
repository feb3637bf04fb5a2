/*
 * SPEC 9: timers (INtime's RtCreateTimer family): a thread per timer, at the
 * timer's priority, that calls the timer's routine at each expiry.
 *
 * Times are 100 ns units on CLOCK_MONOTONIC, the clock of RtGetClockTime
 * (clock.c): an absolute expiration is an RtGetClockTime value, a negative
 * one (RtSetTimer) or any RtSetTimerRelative one counts from now.  Inside,
 * a deadline is nanoseconds on that clock.
 *
 * No drift: a periodic timer's expiries are the grid first + k * interval,
 * each computed from the last deadline, never from when the routine ran or
 * ended.  The thread sleeps to each deadline with an absolute timeout on
 * CLOCK_MONOTONIC - a futex wait with FUTEX_WAIT_BITSET, the same kernel
 * high-resolution timer as clock_nanosleep(TIMER_ABSTIME), but one that a
 * Set or Cancel can end early by changing the word it sleeps on
 * (clock_nanosleep could only be cut short by a signal, which a library
 * must not take from its application).
 *
 * Overruns: an expiry is a signal to the timer's thread, as in INtime and
 * RTX (the handler thread is signalled at each expiry), and signals that
 * arrive while the routine still runs are one signal: when the routine
 * returns after one or more later deadlines have passed, it runs once at
 * once, late, and the deadlines it missed before the last are dropped; the
 * next run is back on the grid.  So a routine that overran once runs once
 * late and then on time again: the expiries it missed are never replayed in
 * a burst (a run late by more than a period is the same case, and so are
 * expiries that passed before the thread took one: a first expiration long
 * past, a thread held off the CPU - next_deadline).
 *
 * Set only an inactive timer (INtime: "a timer can be set only when not
 * active": a one-shot timer that has expired, or one stopped by
 * RtCancelTimer); setting an active one fails with ERROR_BUSY.  A timer is
 * active from Set until its one-shot expiry, or until Cancel.
 *
 * Cancel and Delete: once RtCancelTimer or RtDeleteTimer returns, the
 * routine does not run again (unless the timer is set again): they disarm
 * the timer and then wait for a run in progress to end, and the thread
 * disarms it again as that run ends (the routine may have set its own timer
 * meanwhile).  Called from
 * the routine itself they cannot wait for it (it is the caller): the
 * current run ends when the routine returns, and no other starts.  Two
 * routines that cancel each other's timers, or a routine that waits for
 * a thread that is cancelling its timer, deadlock, as with any call that
 * waits for a callback to end (Win32's DeleteTimerQueueTimer).  The wait
 * lends the routine no priority: a low-priority routine preempted by
 * other work delays a high-priority Cancel as long.
 *
 * A routine that ends its thread (ExitThread) ends the timer's service:
 * Cancel, Delete and Close still work (they no longer wait for a run that
 * will not return: routine_ended_thread), Set fails with
 * ERROR_INVALID_HANDLE.
 *
 * CloseHandle is RtDeleteTimer (INtime: "performs the same function"):
 * the close of the handle disarms the timer for good and waits for a run
 * in progress (timer_closed), and the object's last reference stops the
 * thread (timer_free: joins it).  The routine's calls on its own timer
 * take no reference (lock_timer), so a CloseHandle of another thread is
 * the last reference even then.  A call or a wait of another thread that
 * holds the timer at that moment keeps the (disarmed) thread until it
 * returns.
 *
 * Waitable (SPEC 9), as a Win32 synchronization timer (CreateWaitableTimer,
 * bManualReset FALSE): the handle's state is an auto-reset event
 * (event_wait.h: the event's own protocol, not a second one) that the
 * thread sets at each expiry, as it takes it and before the routine runs.
 * One expiry releases one wait; expiries nobody waited for leave it set
 * once, as the overrun rule collapses missed runs.  Set resets it (Win32:
 * KeSetTimer "sets the timer to a not-signaled state"), Cancel leaves it
 * (CancelWaitableTimer "does not change the signaled state").  A wait
 * holds a reference, so the last reference is no longer the moment to
 * stop: CloseHandle stops the timer at the close of its handle
 * (timer_closed; a timer has one handle), and a wait under it sees no
 * later expiry and ends by its timeout.
 *
 * Locking: the timer's fields are under its own priority-inheriting mutex,
 * held for a few instructions at a time; the timer's thread, at a real-time
 * priority, may block on it behind an ordinary thread in RtSetTimer, which
 * then runs at the timer's priority until it lets go.  Nothing the timer's
 * thread does between two expiries allocates or takes another lock.
 *
 * fork: the child gets the handle but not the thread (local_object.h); the
 * calls refuse the timer there (ERROR_INVALID_HANDLE), a wait sees the
 * copy of its event as a thread handle's end (a signal pending at the fork
 * is taken once; nothing sets it again) and CloseHandle only frees its
 * memory.  A routine that forks: the child's only thread is
 * the copy of the timer's, which ends when the routine returns there (the
 * child exits with 0, as after a thread's start routine) instead of
 * serving a timer the child does not have.  RtCreateTimer installs the
 * library's fork handlers (fork.c), as every Create does: a timer's calls
 * take the process lock, which a child forked while another thread held it
 * would inherit held; and they draw the identity in_fork_child compares.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "clock.h"
#include "event_wait.h"
#include "export.h"
#include "fork.h"
#include "futex.h"
#include "handle.h"
#include "last_error.h"
#include "local_object.h"
#include "priority.h"
#include "records.h"
#include "self.h"
#include "thread_state.h"

#define NS_MAX (INT64_MAX / 4) /* "never": far beyond any deadline, and room to add to it */

typedef VOID(RTFCNDCL *timer_routine)(PVOID);

struct timer {
    pthread_mutex_t lock;           /* PI: the fields below */
    _Atomic uint32_t seq;           /* bumped at every change the thread must see; it sleeps on it */
    _Atomic uint32_t running;       /* 1 while the routine runs; Cancel sleeps on it */
    unsigned waiters;               /* Cancels sleeping on running */
    bool armed;                     /* active: an expiry is due at deadline */
    bool deleted;                   /* RtDeleteTimer began: no more Set */
    bool quit;                      /* the thread is to end */
    bool detached;                  /* ...and free the timer itself (it ended it from its routine) */
    bool ended;                     /* the routine ended the thread (ExitThread): nothing serves it */
    int64_t deadline;               /* ns on CLOCK_MONOTONIC */
    int64_t interval;               /* ns; 0 for a one-shot timer */
    timer_routine routine;
    PVOID context;
    int rtx;                        /* its RTX priority */
    uint64_t process;               /* iw_self_process() of the process the thread runs in */
    pthread_t thread;
    struct event_state *signal;     /* the handle's (timer_state): set at each expiry */
};

/* The handle's state: an auto-reset event first, for the event's wait
 * protocol (event_wait.h), zeroed - reset - at creation. */
struct timer_state {
    struct event_state signal;      /* set at each expiry */
    struct timer *t;                /* NULL until its thread runs */
};
_Static_assert(offsetof(struct timer_state, signal) == 0, "the event comes first");

static void timer_free(void *state);
static void timer_closed(void *state);

static const struct iw_object_ops timer_ops = {
    .type = 0,
    .name = "timer",
    .state_size = sizeof(struct timer_state),
    IW_EVENT_WAIT_OPS,
    .free_local = timer_free,
    .handle_closed = timer_closed,
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* a + b for b >= 0, saturated at NS_MAX. */
static int64_t add_ns(int64_t a, int64_t b) { return b > NS_MAX - a ? NS_MAX : a + b; }

/* A non-negative number of 100 ns units in ns, saturated. */
static int64_t ns_of_ticks(LONGLONG ticks) { return ticks > NS_MAX / IW_NS_PER_TICK ? NS_MAX : ticks * IW_NS_PER_TICK; }

/* The time left until t's next expiry in 100 ns units, rounded up (0 when
 * it is inactive or due). Lock held. */
static LONGLONG remaining(const struct timer *t)
{
    if (!t->armed)
        return 0;
    int64_t left = t->deadline - now_ns();
    return left > 0 ? (left + IW_NS_PER_TICK - 1) / IW_NS_PER_TICK : 0;
}

/* A child of fork, where t's thread is not (the identity is drawn again in
 * the child: RtCreateTimer installed the fork handlers). */
static bool in_fork_child(const struct timer *t) { return t->process != iw_self_process(); }

/* ---- the timer's thread ------------------------------------------------------ */

/* At an expiry of periodic t (its deadline passed): the next is the first
 * grid point after now, so that every deadline already passed is taken by
 * this one expiry - those that passed before the Set (a first expiration
 * in the past) or while the thread was held off the CPU, as those that pass
 * while the routine runs (the wait for the next deadline, then passed too,
 * ends at once: one late run).  Lock held. */
static void next_deadline(struct timer *t)
{
    int64_t passed = now_ns() - t->deadline; /* >= 0, and below the uptime: no overflow */
    t->deadline = add_ns(t->deadline, (passed / t->interval + 1) * t->interval);
}

/* The timer whose thread this is (lock_timer), and its process. */
static __thread struct timer *own;
static __thread uint64_t own_process;

/* This is the copy of a timer's thread in a child of fork (the routine
 * forked).  Not read from the timer: the routine may have closed the
 * child's copy of it, which frees it there. */
static bool thread_in_fork_child(void) { return own_process != iw_self_process(); }

/* The routine ended the thread where it was (ExitThread, pthread_exit): a
 * Cancel sleeping on running, or one to come, must not wait for a run that
 * will never return, and a CloseHandle joins a thread that is gone.  The
 * timer stays a handle that Set refuses and Cancel, Delete and Close
 * accept.  Run by the thread's unwinding, with the lock not held (the
 * routine runs without it). */
static void routine_ended_thread(void *arg)
{
    struct timer *t = arg;
    if (thread_in_fork_child())
        return; /* nothing of the timer's here */
    pthread_mutex_lock(&t->lock);
    atomic_store_explicit(&t->running, 0, memory_order_relaxed);
    t->ended = true;
    t->armed = false;
    if (t->waiters != 0)
        iw_futex_wake_all(&t->running);
    bool detached = t->detached; /* the routine deleted its own timer first */
    pthread_mutex_unlock(&t->lock);
    if (detached) {
        pthread_mutex_destroy(&t->lock);
        free(t);
    }
}

static void *timer_thread(void *arg)
{
    struct timer *t = arg;
    own = t;
    own_process = t->process;
    iw_priority_record(t->rtx);
    /* No timer slack on the expiries: older kernels (Debian 12's 6.1) add a
     * thread's slack, 50 us by default, to a real-time thread's timeouts
     * too; newer ones give real-time threads none. */
    prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
    pthread_mutex_lock(&t->lock);
    while (!t->quit) {
        uint32_t seq = atomic_load_explicit(&t->seq, memory_order_relaxed);
        bool armed = t->armed;
        struct timespec due = {.tv_sec = (time_t)(t->deadline / 1000000000), .tv_nsec = (long)(t->deadline % 1000000000)};
        pthread_mutex_unlock(&t->lock);
        /* Until the deadline, or a change (EAGAIN, or 0 when woken): the
         * lock then shows what changed.  EINTR (a signal handler ran on
         * this thread): wait again for the same deadline. */
        int r = iw_futex_wait(&t->seq, seq, armed ? &due : NULL);
        pthread_mutex_lock(&t->lock);
        if (r != ETIMEDOUT || atomic_load_explicit(&t->seq, memory_order_relaxed) != seq)
            continue;
        /* The expiry it slept for, unchanged: signal the handle's waiters
         * and run the routine for it.  The signal is given under the lock,
         * so that a Set (which resets it) comes wholly before or after it;
         * it takes no lock and allocates nothing (a compare-and-swap and a
         * futex wake).  Expiries no wait took leave it signalled once. */
        if (t->interval != 0)
            next_deadline(t);
        else
            t->armed = false;
        iw_event_signal(t->signal, true);
        atomic_store_explicit(&t->running, 1, memory_order_relaxed);
        pthread_mutex_unlock(&t->lock);
        pthread_cleanup_push(routine_ended_thread, t);
        t->routine(t->context);
        pthread_cleanup_pop(0);
        /* The routine forked and this is the child's copy of the thread,
         * its only one: it ends there as a thread whose start routine
         * returns (the child exits with 0), never serving the timer (whose
         * lock a thread of the parent may hold). */
        if (thread_in_fork_child())
            pthread_exit(NULL);
        pthread_mutex_lock(&t->lock);
        atomic_store_explicit(&t->running, 0, memory_order_relaxed);
        /* A Cancel (Delete, Close) waits for this run: disarm for it here,
         * as it would.  Left to the Cancel, it must take the lock between
         * this unlock and the next expiry's - a routine that sets its own
         * timer due at once leaves a window of microseconds, and a Cancel
         * of an ordinary thread that wakes later each time finds the next
         * run going, and waits again, for as long as the routine keeps
         * setting (test_timer_races: over 1 s under load). */
        if (t->waiters != 0) {
            t->armed = false;
            iw_futex_wake_all(&t->running);
        }
    }
    bool detached = t->detached;
    pthread_mutex_unlock(&t->lock);
    if (detached) {
        pthread_mutex_destroy(&t->lock);
        free(t);
    }
    return NULL;
}

/* ---- the calls ----------------------------------------------------------------- */

static bool on_timer_thread(const struct timer *t) { return pthread_equal(pthread_self(), t->thread) != 0; }

/* Changes the thread must see are made; ends its sleep (after the lock is
 * let go, so that it does not wake only to block on it). */
static void changed(struct timer *t)
{
    atomic_fetch_add_explicit(&t->seq, 1, memory_order_relaxed);
    pthread_mutex_unlock(&t->lock);
    iw_futex_wake_all(&t->seq);
}

/* Disarms t and waits until its routine is not running, unless this is the
 * routine's own thread.  Lock held, and held again on return. */
static void disarm_and_wait(struct timer *t)
{
    for (;;) {
        t->armed = false;
        if (!atomic_load_explicit(&t->running, memory_order_relaxed) || on_timer_thread(t))
            return;
        t->waiters++;
        pthread_mutex_unlock(&t->lock);
        iw_futex_wait(&t->running, 1, NULL);
        pthread_mutex_lock(&t->lock);
        t->waiters--;
        /* Disarm again: the routine may have set its timer before it returned. */
    }
}

static void drop(struct iw_object *obj)
{
    if (obj != NULL)
        iw_object_put(obj);
}

/* A Set, Get, Cancel or Delete: the timer's reference (obj, for drop), and
 * THREAD_SIGNAL blocked throughout for a thread the library created - a
 * TerminateThread or SuspendThread then acts as the call returns, never
 * while it holds the process lock or the timer's (a thread ended holding
 * that PI lock, with the timer's thread waiting for it, made glibc abort
 * the whole process: test_terminated_in_timer_call; one ended holding the
 * process lock hung every later call).  That includes a Cancel's wait for
 * a run in progress: such a thread is ended once the routine returns. */
struct timer_call {
    struct iw_object *obj;
    bool shielded;
    sigset_t mask;
};

static void call_begin(struct timer_call *c)
{
    c->obj = NULL;
    c->shielded = iw_thread_me != NULL; /* no other thread takes the signal */
    if (c->shielded)
        iw_thread_shield(&c->mask);
}

static void call_end(struct timer_call *c)
{
    drop(c->obj);
    if (c->shielded)
        iw_thread_unshield(&c->mask);
}

/* The timer of handle h with its lock held, and the call begun (c: a
 * reference, dropped by call_end); NULL with the last error set (and the
 * call ended) if h is not a timer of this process (or is being deleted).
 * The routine calling on its own timer takes no reference (c->obj NULL):
 * its thread keeps the timer (timer_free joins it),
 * and a reference of its would make a CloseHandle of another thread at that
 * moment not the last one - returning at once, while the routine runs on. */
static struct timer *lock_timer(HANDLE h, struct timer_call *c)
{
    struct timer *t = NULL;
    struct iw_object **obj = &c->obj;
    call_begin(c);
    iw_records_lock();
    *obj = iw_handle_lookup(h);
    if (*obj != NULL && iw_ops_are((*obj)->ops, &timer_ops)) {
        t = ((struct timer_state *)iw_object_state(*obj))->t;
        if (t == own)
            *obj = NULL;
        else
            atomic_fetch_add(&(*obj)->refs, 1); /* the handle's is counted: not 0 */
    }
    iw_records_unlock();
    if (t != NULL && !in_fork_child(t)) {
        pthread_mutex_lock(&t->lock);
        if (!t->deleted && !t->quit)
            return t;
        pthread_mutex_unlock(&t->lock);
    }
    if (t == NULL)
        *obj = NULL; /* no reference was taken */
    call_end(c);
    iw_set_error(ERROR_INVALID_HANDLE);
    return NULL;
}

static void unlock_timer(struct timer *t, struct timer_call *c)
{
    pthread_mutex_unlock(&t->lock);
    call_end(c);
}

IW_API HANDLE RtCreateTimer(PSECURITY_ATTRIBUTES pThreadAttributes, ULONG dwStackSize,
                            VOID(RTFCNDCL *Routine)(PVOID Context), PVOID Context, ULONG Priority,
                            CLOCK Clock)
{
    (void)pThreadAttributes; /* INtime: ignored */
    (void)Clock;             /* INtime: ignored; every time here is CLOCK_MONOTONIC */
    if (Routine == NULL || Priority > RT_PRIORITY_MAX)
        return iw_fail(ERROR_INVALID_PARAMETER);
    /* The fork handlers, as every Create installs them (fork.h): a child
     * forked while another thread is in a timer call must not inherit the
     * process lock held. */
    iw_fork_watch();
    struct iw_object *obj = iw_local_object_new(&timer_ops);
    if (obj == NULL)
        return NULL;
    struct timer *t = calloc(1, sizeof *t);
    if (t == NULL) {
        iw_object_put(obj);
        return iw_fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&t->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    t->routine = Routine;
    t->context = Context;
    t->rtx = (int)Priority;
    t->process = iw_self_process();
    t->signal = &((struct timer_state *)iw_object_state(obj))->signal;

    /* The thread starts at its priority, so a process that may not use it
     * learns so here (EPERM: ERROR_ACCESS_DENIED, as RtSetThreadPriority). */
    pthread_attr_t ta;
    pthread_attr_init(&ta);
    pthread_attr_setinheritsched(&ta, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&ta, SCHED_FIFO);
    struct sched_param sp = {.sched_priority = iw_fifo_of_rtx(t->rtx)};
    pthread_attr_setschedparam(&ta, &sp);
    int err = 0;
    if (dwStackSize != 0) {
        /* INtime: rounded up to a multiple of 4 KiB; and at least the C library's minimum. */
        size_t size = ((size_t)dwStackSize + 4095) / 4096 * 4096;
        err = pthread_attr_setstacksize(&ta, size < (size_t)PTHREAD_STACK_MIN ? (size_t)PTHREAD_STACK_MIN : size);
    }
    if (err == 0)
        err = pthread_create(&t->thread, &ta, timer_thread, t);
    pthread_attr_destroy(&ta);
    if (err != 0) {
        pthread_mutex_destroy(&t->lock);
        free(t);
        iw_object_put(obj);
        return iw_fail(iw_error_from_errno(err));
    }
    pthread_setname_np(t->thread, "iw-timer");
    ((struct timer_state *)iw_object_state(obj))->t = t;
    return iw_object_handle(obj); /* on failure, its put stops the thread */
}

/* Arms h to expire first at deadline (ns), then every interval ns (0: once). */
static BOOLEAN set_timer(HANDLE h, int64_t deadline, const PLARGE_INTEGER pInterval)
{
    LONGLONG interval = pInterval == NULL ? 0 : pInterval->QuadPart;
    if (interval < 0) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    struct timer_call c;
    struct timer *t = lock_timer(h, &c);
    if (t == NULL)
        return FALSE;
    if (t->ended || t->armed) {
        /* The error is read under the lock: once unlock_timer drops the
         * reference, t may be gone - a CloseHandle of another thread in
         * between leaves that drop the last one, which frees t here. */
        DWORD error = t->ended ? ERROR_INVALID_HANDLE : ERROR_BUSY;
        unlock_timer(t, &c);
        iw_set_error(error);
        return FALSE;
    }
    /* Win32's SetWaitableTimer (KeSetTimer) resets the timer: a signal
     * of an earlier expiry that no wait took is dropped. */
    iw_event_reset(t->signal);
    t->armed = true;
    t->deadline = deadline;
    t->interval = ns_of_ticks(interval);
    changed(t);
    call_end(&c);
    return TRUE;
}

IW_API BOOLEAN RtSetTimerRelative(HANDLE hTimer, PLARGE_INTEGER pExpiration, PLARGE_INTEGER pInterval)
{
    if (pExpiration == NULL || pExpiration->QuadPart < 0) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    return set_timer(hTimer, add_ns(now_ns(), ns_of_ticks(pExpiration->QuadPart)), pInterval);
}

IW_API BOOLEAN RtSetTimer(HANDLE hTimer, PLARGE_INTEGER pExpiration, PLARGE_INTEGER pInterval)
{
    if (pExpiration == NULL) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    LONGLONG e = pExpiration->QuadPart;
    if (e < 0) {
        /* Relative: -e, with the one value that has no negation saturated. */
        LARGE_INTEGER rel = {.QuadPart = e == LLONG_MIN ? LLONG_MAX : -e};
        return RtSetTimerRelative(hTimer, &rel, pInterval);
    }
    return set_timer(hTimer, ns_of_ticks(e), pInterval);
}

IW_API BOOLEAN RtGetTimer(HANDLE hTimer, PLARGE_INTEGER pTimeRemaining)
{
    if (pTimeRemaining == NULL) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    struct timer_call c;
    struct timer *t = lock_timer(hTimer, &c);
    if (t == NULL)
        return FALSE;
    pTimeRemaining->QuadPart = remaining(t);
    unlock_timer(t, &c);
    return TRUE;
}

IW_API BOOLEAN RtCancelTimer(HANDLE hTimer, PLARGE_INTEGER pTimeRemaining)
{
    struct timer_call c;
    struct timer *t = lock_timer(hTimer, &c);
    if (t == NULL)
        return FALSE;
    if (pTimeRemaining != NULL)
        pTimeRemaining->QuadPart = remaining(t);
    disarm_and_wait(t);
    changed(t);
    call_end(&c);
    return TRUE;
}

IW_API BOOLEAN RtDeleteTimer(HANDLE hTimer)
{
    struct timer_call c;
    struct timer *t = lock_timer(hTimer, &c);
    if (t == NULL)
        return FALSE;
    unlock_timer(t, &c);
    return CloseHandle(hTimer); /* timer_closed */
}

/* Its handle is closed (a timer has one: no call duplicates it): no Set
 * from here on, and no run - nor signal - after CloseHandle returns, even
 * while another call or a wait still holds the timer. */
static void timer_closed(void *state)
{
    struct timer *t = ((struct timer_state *)state)->t;
    if (t == NULL || in_fork_child(t))
        return; /* no thread: timer_free does the rest */
    pthread_mutex_lock(&t->lock);
    t->deleted = true;
    disarm_and_wait(t);
    changed(t);
}

/* The last reference: stops the thread (the run in progress ends first),
 * or, from the routine itself, lets the thread free the timer as it ends. */
static void timer_free(void *state)
{
    struct timer *t = ((struct timer_state *)state)->t;
    if (t == NULL)
        return; /* RtCreateTimer failed before the thread */
    if (in_fork_child(t)) {
        /* A child of fork: the thread is not here, and the lock may be
         * held by a thread that is not here either. */
        free(t);
        return;
    }
    pthread_mutex_lock(&t->lock);
    t->quit = true;
    t->armed = false;
    bool self = on_timer_thread(t);
    t->detached = self;
    changed(t);
    if (self) {
        pthread_detach(t->thread);
        return;
    }
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
