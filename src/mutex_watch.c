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
 * A blocked PI lock can't be cancelled, so a watcher blocks for at most
 * SLICE at a time: once no waiter of this process needs it, it lets go
 * within SLICE.  While it blocks it is one more, lowest-priority
 * (SCHED_OTHER) waiter on the mutex: it doesn't lift a real-time owner
 * (SPEC 6: multi-object waits don't), and the kernel hands a released mutex
 * to any higher-priority waiter first.
 *
 * After handing a mutex back a watcher stays disarmed until a waiter that
 * polled and lost arms it again before sleeping: otherwise it would take
 * the free mutex straight back, and the waiters it bumped would never win.
 *
 * Watchers (their threads and records) are made on first need and reused,
 * never freed; each maps the state page itself, because the waiters' object
 * may be closed and freed while a watcher still blocks on its mutex.
 */
#include "mutex_watch.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "guard.h"
#include "deadline.h"
#include "object.h"

#define SLICE_NS 100000000L

struct iw_mutex_watch {
    struct iw_mutex_watch *next;    /* all watchers, never freed */
    pthread_cond_t armed_cond;
    pthread_t thread;
    bool running;                   /* its thread exists (not after fork) */
    uint64_t serial;                /* object record watched; 0: free */
    void *page;                     /* its own mapping of the state page */
    size_t page_size;
    unsigned users;                 /* multi-object waiters of this process */
    bool armed;                     /* to block (or blocking) in the lock */
};

/* Guards every field above but next (set once, before publication). */
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iw_mutex_watch *watchers;

static void retire(struct iw_mutex_watch *w)
{
    iw_guard_unmap(w->page, w->page_size, w->page_size);
    w->page = NULL;
    w->serial = 0;
    w->armed = false;
}

static void *watch_main(void *arg)
{
    struct iw_mutex_watch *w = arg;
    pthread_mutex_lock(&watch_lock);
    for (;;) {
        while (!w->armed)
            pthread_cond_wait(&w->armed_cond, &watch_lock);
        void *state = (char *)w->page + IW_STATE_OFFSET;
        pthread_mutex_unlock(&watch_lock);

        struct timespec until;
        iw_deadline_in(&until, SLICE_NS);
        int rc = iw_mutex_hold_for_waiters(state, &until);

        pthread_mutex_lock(&watch_lock);
        if (rc != ETIMEDOUT)
            w->armed = false; /* handed back (or unusable): wait to be re-armed */
        /* Wake the waiters only now, disarmed: a waiter that loses its poll
         * to someone else after this wake arms us again.  Woken before the
         * disarm, its arm could land while we still looked armed, be lost,
         * and a later death of that someone else go unseen. */
        if (rc == 0)
            iw_mutex_wake_waiters(state);
        if (w->users == 0)
            retire(w);
    }
    return NULL;
}

/* A watcher's thread: signals blocked (the application's handlers must not
 * run on it), SCHED_OTHER whatever its creator runs at, a small stack. */
static bool start_thread(struct iw_mutex_watch *w)
{
    pthread_attr_t attr;
    struct sched_param normal = {.sched_priority = 0};
    pthread_attr_init(&attr);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
    pthread_attr_setschedparam(&attr, &normal);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, &attr, watch_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    w->running = rc == 0;
    return w->running;
}

/* fork: the child has none of the watcher threads; it starts afresh. */
void iw_mutex_watch_fork_prepare(void) { pthread_mutex_lock(&watch_lock); }
void iw_mutex_watch_fork_parent(void) { pthread_mutex_unlock(&watch_lock); }
void iw_mutex_watch_fork_child(void)
{
    for (struct iw_mutex_watch *w = watchers; w; w = w->next) {
        if (w->page)
            retire(w);
        w->users = 0;
        w->running = false;
        pthread_cond_init(&w->armed_cond, NULL);
    }
    pthread_mutex_unlock(&watch_lock); /* the forking thread took it in prepare */
}

/* A free watcher with a running thread, or a new one; NULL if none can be had. */
static struct iw_mutex_watch *free_watcher(void)
{
    for (struct iw_mutex_watch *w = watchers; w; w = w->next)
        if (w->serial == 0 && w->running)
            return w;
    for (struct iw_mutex_watch *w = watchers; w; w = w->next)
        if (w->serial == 0 && start_thread(w))
            return w; /* a record left thread-less by fork */
    struct iw_mutex_watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
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

void *iw_mutex_watch_join(struct iw_object *obj)
{
    struct iw_node *node;
    iw_node_get(&node); /* cannot fail: obj exists */
    size_t page_size = node->page_size;
    pthread_mutex_lock(&watch_lock);
    struct iw_mutex_watch *w;
    for (w = watchers; w; w = w->next)
        if (w->serial == obj->serial) {
            w->users++;
            goto out;
        }
    w = free_watcher();
    if (w == NULL)
        goto out;
    w->page = iw_object_map_page(obj->file, page_size);
    if (w->page == MAP_FAILED) {
        w->page = NULL;
        w = NULL;
        goto out;
    }
    w->page_size = page_size;
    w->serial = obj->serial;
    w->users = 1;
out:
    pthread_mutex_unlock(&watch_lock);
    return w;
}

void iw_mutex_watch_arm(void *watch)
{
    struct iw_mutex_watch *w = watch;
    pthread_mutex_lock(&watch_lock);
    if (!w->armed) {
        w->armed = true;
        pthread_cond_signal(&w->armed_cond);
    }
    pthread_mutex_unlock(&watch_lock);
}

void iw_mutex_watch_leave(void *watch)
{
    struct iw_mutex_watch *w = watch;
    pthread_mutex_lock(&watch_lock);
    /* An armed watcher may be blocked in the lock: it retires itself when
     * it comes back (within SLICE).  A disarmed one sits in its condition
     * wait, away from the page. */
    if (--w->users == 0 && !w->armed)
        retire(w);
    pthread_mutex_unlock(&watch_lock);
}
