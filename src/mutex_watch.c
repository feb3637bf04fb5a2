/*
 * Mutex watchers: prompt abandonment for multi-object waits (SPEC 6).
 *
 * When a mutex's owner dies, the kernel hands the mutex (robust list, PI
 * futex) to a thread blocked in the PI lock itself, and wakes nobody else.
 * A multi-object waiter can't block there: it sleeps on several wake
 * counters at once, and a plain futex waiter on the PI lock word breaks the
 * lock (mutex.c).  So while threads of this process sleep in multi-object
 * waits on a mutex, one watcher thread blocks in that mutex's PI lock for
 * them, through pthread's public API:
 *
 *   - it gets the mutex when its owner releases it normally: it unlocks at
 *     once and bumps the wake counter, so the waiters poll again;
 *   - it gets it with EOWNERDEAD when the owner dies: it records the
 *     abandonment in the mutex's shared state (iw_mutex_hold_for_waiters),
 *     makes the mutex consistent, unlocks and bumps - and the next acquirer,
 *     whoever and wherever it is, reports WAIT_ABANDONED_0 + i.
 *
 * Priority inheritance: a watcher runs at the highest real-time priority
 * among the waiters it serves (SCHED_FIFO at that priority, SCHED_OTHER
 * when none is real-time), set as waiters join and leave - also while it
 * blocks, and the kernel then passes the change on to the owner.  So a
 * multi-object waiter lifts the owner as a single-object wait does, through
 * its watcher.  When the owner lets go the kernel hands the mutex to the
 * watcher (the top waiter), which hands it back at once: the owner holds
 * it no longer than with a single waiter, and the waiters it serves poll.
 *
 * The watcher holds the mutex for those few instructions on the waiters'
 * account, and that can't be avoided: a PI waiter always becomes the owner
 * when it wakes (the kernel has no "wait until free" for PI locks), and a
 * multi-object waiter can't block in the PI lock itself.  A poll meeting
 * it there blocks in the PI lock for the handback (mutex.c); only a
 * watcher whose process is stopped (SIGSTOP, a debugger) in that window
 * makes such a poll give up, after 10 ms.
 *
 * A blocked PI lock can't be cancelled, so a watcher blocks for at most
 * SLICE at a time: once no waiter of this process needs it, it lets go
 * within SLICE.
 *
 * After handing a mutex back a watcher stays disarmed until a waiter that
 * polled and lost arms it again before sleeping: otherwise it would take
 * the free mutex straight back, and the waiters it bumped would never win.
 *
 * Watchers (their threads and records) are made on first need and reused,
 * never freed.  A watcher holds a reference to the object it watches (its
 * waiters may all have returned, and the handles been closed, while it
 * still blocks in the lock), so its page stays mapped while it blocks
 * there (glibc bug 14485: mutex.c); it drops it outside its lock (a last reference
 * takes the process lock: fork.c's lock order) - on a waiter's thread it is
 * never the last, since that waiter holds one of its own.
 *
 * The watcher lock: waiters take it to join, arm and leave, so it is a
 * priority-inheriting mutex (a real-time waiter lifts a watcher or an
 * ordinary waiter that holds it), held for a few instructions - and a
 * sched_setscheduler call when the priority changes, or a thread's start
 * on a process's first need of a watcher.
 */
#include "mutex_watch.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "deadline.h"
#include "helper_thread.h"
#include "object.h"

#define SLICE_NS 100000000L
#define PRIOS 100 /* SCHED_FIFO's 1-99, and 0 for every other policy */

struct iw_mutex_watch;

/* What a waiter gets from join: its watcher, and (by its place in the
 * watcher's array) the priority it joined at, which its leave takes back. */
struct seat {
    struct iw_mutex_watch *watch;
};

struct iw_mutex_watch {
    struct iw_mutex_watch *next;    /* all watchers, never freed */
    pthread_cond_t armed_cond;
    pthread_t thread;
    bool running;                   /* its thread exists (not after fork) */
    struct iw_object *obj;          /* watched, with a reference; NULL: free */
    unsigned users;                 /* multi-object waiters of this process */
    unsigned at[PRIOS];             /* of them, at each priority */
    int prio;                       /* the thread's now: 0 SCHED_OTHER, else FIFO */
    bool armed;                     /* to block (or blocking) in the lock */
    struct seat seats[PRIOS];       /* seats[p].watch: this watcher */
};

/* Guards every field above but next and seats (set once, before
 * publication).  Priority-inheriting (see above), so it can't be a static
 * initializer, and a forked child makes it afresh: the forking thread
 * holds it there under the parent's thread ID, which no child thread has. */
static pthread_mutex_t watch_lock;
static pthread_once_t watch_lock_once = PTHREAD_ONCE_INIT;
static struct iw_mutex_watch *watchers;

static void make_watch_lock(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&watch_lock, &attr);
    pthread_mutexattr_destroy(&attr);
}

static void lock_watchers(void)
{
    pthread_once(&watch_lock_once, make_watch_lock);
    pthread_mutex_lock(&watch_lock);
}

/* The watcher at the highest priority among its users (under the lock).
 * Refused (a process that may not use SCHED_FIFO has no real-time waiter
 * to lift), it stays where it is. */
static void set_priority(struct iw_mutex_watch *w)
{
    int top = PRIOS - 1;
    while (top > 0 && w->at[top] == 0)
        top--;
    if (top == w->prio)
        return;
    struct sched_param sp = {.sched_priority = top};
    if (pthread_setschedparam(w->thread, top ? SCHED_FIFO : SCHED_OTHER, &sp) == 0)
        w->prio = top;
}

/* Under the lock; the caller drops the returned reference once it has let
 * go of the lock. */
static struct iw_object *retire(struct iw_mutex_watch *w)
{
    struct iw_object *obj = w->obj;
    w->obj = NULL;
    w->armed = false;
    return obj;
}

static void *watch_main(void *arg)
{
    struct iw_mutex_watch *w = arg;
    lock_watchers();
    for (;;) {
        while (!w->armed)
            pthread_cond_wait(&w->armed_cond, &watch_lock);
        void *state = iw_object_state(w->obj);
        pthread_mutex_unlock(&watch_lock);

        struct timespec until;
        iw_deadline_in(&until, SLICE_NS);
        int rc = iw_mutex_hold_for_waiters(state, &until);

        lock_watchers();
        if (rc != ETIMEDOUT)
            w->armed = false; /* handed back (or unusable): wait to be re-armed */
        /* Wake the waiters only now, disarmed: a waiter that loses its poll
         * to someone else after this wake arms us again.  Woken before the
         * disarm, its arm could land while we still looked armed, be lost,
         * and a later death of that someone else go unseen. */
        if (rc == 0)
            iw_mutex_wake_waiters(state);
        if (w->users == 0) {
            /* Its users gone, so is its priority (set_priority at the last
             * leave): the last reference, if it is one, is let go at
             * SCHED_OTHER, outside the lock. */
            struct iw_object *obj = retire(w);
            pthread_mutex_unlock(&watch_lock);
            iw_object_put(obj);
            lock_watchers();
        }
    }
    return NULL;
}

/* A watcher's thread (helper_thread.h; set_priority lifts it). */
static bool start_thread(struct iw_mutex_watch *w)
{
    int rc = iw_helper_thread_start(&w->thread, watch_main, w, "iw-mutex-watch");
    w->running = rc == 0;
    w->prio = 0;
    return w->running;
}

/* fork: the child has none of the watcher threads; it starts afresh.  A
 * busy watcher's reference goes with its thread - unless it is the last:
 * letting go takes the process lock, which the forking thread holds now.
 * Such an object's record then stays in the child until it exits, as do
 * those the parent's waiting threads held; not its name, which goes with
 * the child's last handle (iw_object_close). */
void iw_mutex_watch_fork_prepare(void) { lock_watchers(); }
void iw_mutex_watch_fork_parent(void) { pthread_mutex_unlock(&watch_lock); }
void iw_mutex_watch_fork_child(void)
{
    for (struct iw_mutex_watch *w = watchers; w; w = w->next) {
        if (w->obj != NULL) {
            unsigned refs = atomic_load(&w->obj->refs);
            while (refs > 1 && !atomic_compare_exchange_weak(&w->obj->refs, &refs, refs - 1))
                ;
        }
        w->obj = NULL;
        w->armed = false;
        w->users = 0;
        for (int p = 0; p < PRIOS; p++)
            w->at[p] = 0;
        w->running = false;
        pthread_cond_init(&w->armed_cond, NULL);
    }
    /* The forking thread holds the lock, under the parent's thread ID (see
     * watch_lock): this unlock does nothing (the kernel refuses it, EPERM)
     * but tell tools that track holders (TSan) it is free; the init frees
     * it. */
    pthread_mutex_unlock(&watch_lock);
    make_watch_lock();
}

/* A free watcher with a running thread, or a new one; NULL if none can be had. */
static struct iw_mutex_watch *free_watcher(void)
{
    for (struct iw_mutex_watch *w = watchers; w; w = w->next)
        if (w->obj == NULL && w->running)
            return w;
    for (struct iw_mutex_watch *w = watchers; w; w = w->next)
        if (w->obj == NULL && start_thread(w))
            return w; /* a record left thread-less by fork */
    struct iw_mutex_watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    for (int p = 0; p < PRIOS; p++)
        w->seats[p].watch = w;
    pthread_cond_init(&w->armed_cond, NULL);
    if (!start_thread(w)) {
        pthread_cond_destroy(&w->armed_cond);
        free(w);
        return NULL;
    }
    w->next = watchers;
    watchers = w;
    return w;
}

/* The calling thread's real-time priority, 0 if it has none.  A system
 * call, once per multi-object wait that sleeps on a mutex. */
static int my_priority(void)
{
    int policy;
    struct sched_param sp;
    if (pthread_getschedparam(pthread_self(), &policy, &sp) != 0 || (policy != SCHED_FIFO && policy != SCHED_RR))
        return 0;
    return sp.sched_priority > 0 && sp.sched_priority < PRIOS ? sp.sched_priority : 0;
}

void *iw_mutex_watch_join(struct iw_object *obj)
{
    int prio = my_priority();
    lock_watchers();
    struct iw_mutex_watch *w;
    for (w = watchers; w; w = w->next)
        if (w->obj == obj)
            break;
    if (w == NULL) {
        w = free_watcher();
        if (w == NULL) {
            pthread_mutex_unlock(&watch_lock);
            return NULL;
        }
        /* Another reference: the caller holds one, so the count is above
         * zero and may rise without the process lock (object.c). */
        atomic_fetch_add(&obj->refs, 1);
        w->obj = obj;
    }
    w->users++;
    w->at[prio]++;
    set_priority(w);
    pthread_mutex_unlock(&watch_lock);
    return &w->seats[prio];
}

void iw_mutex_watch_arm(void *seat)
{
    struct iw_mutex_watch *w = ((struct seat *)seat)->watch;
    lock_watchers();
    if (!w->armed) {
        w->armed = true;
        pthread_cond_signal(&w->armed_cond);
    }
    pthread_mutex_unlock(&watch_lock);
}

void iw_mutex_watch_leave(void *seat)
{
    struct iw_mutex_watch *w = ((struct seat *)seat)->watch;
    struct iw_object *obj = NULL;
    lock_watchers();
    w->users--;
    w->at[(struct seat *)seat - w->seats]--;
    set_priority(w);
    /* An armed watcher may be blocked in the lock: it retires itself when
     * it comes back (within SLICE).  A disarmed one sits in its condition
     * wait, away from the mutex. */
    if (w->users == 0 && !w->armed)
        obj = retire(w);
    pthread_mutex_unlock(&watch_lock);
    if (obj != NULL)
        iw_object_put(obj); /* never the last: the caller holds one */
}
