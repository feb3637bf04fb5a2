/*
 * The exit watcher: waits sleep on futex words only (futex_waitv), and a
 * process's end shows as its pidfd becoming readable, so one thread per
 * process, started on first use, waits in epoll on every watched pidfd and
 * turns an end into a wake: it records how the process ended in the state
 * (reaping it first if it is a child of ours: waitid(P_PIDFD)), sets ended,
 * bumps the wake counter and wakes its waiters.
 *
 * Entries.  Each watched pidfd has an entry, registered in epoll under a
 * serial number that is never reused.  The watcher looks the serial up in
 * the list under the lock: an event that comes after its entry was removed
 * (epoll_wait returned it, then the handle was closed) finds nothing and is
 * dropped, so the watcher never touches a freed state.  The lock is held by
 * the watcher while it records an end, by the last close of a handle
 * (iw_process_watch_forget) and by a new handle's registration: never by a
 * waiter, a signaller or GetExitCodeProcess, which read the state's atomics.
 * So a handle closed while the watcher reports either goes first (the
 * watcher then finds no entry) or waits a few microseconds for the report
 * to finish, and frees the state after it.
 *
 * A child of ours (RtCreateProcess) whose handles are all closed while it
 * runs stays watched without a state (st NULL): its entry owns the pidfd,
 * and the watcher reaps it when it ends, so no zombie is left.  OpenProcess
 * of its pid gives the entry a new state (iw_process_watch_open): the
 * handle then gets the exit code the watcher reaps, as the first did.  An
 * OpenProcess that comes while the last close is under way (the state's
 * references at 0, its free_local not yet at the lock) waits for the
 * hand-over: a state is given up in free_local alone, after the pins on it
 * (hazard.h) have gone, since a pinned TerminateProcess may still use its
 * pidfd.
 * OpenProcess of a watched process's pid gives its object again: one
 * process object per process, as in Win32, so TerminateProcess's code is
 * every handle's.
 *
 * The thread runs SCHED_OTHER with every signal blocked, as the mutex
 * watchers (mutex_watch.c): a process's end is not a real-time event, and
 * the application's handlers must not run on it.
 *
 * fork (fork.c): the child has no watcher thread, and the epoll instance it
 * inherits is the parent's own (an epoll descriptor refers to one shared
 * instance): a change the child made to it would unwatch the parent's
 * processes.  So the child closes its copy and forgets the entries: the
 * pidfds of stateless ones are closed, and the states it inherited (the
 * handles, which it may only close: local_object.h) are no longer watched.
 * Its own first registration starts a new instance and thread.
 */
#include "process.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "futex.h"
#include "helper_thread.h"
#include "object.h"

struct iw_process_watch {
    struct iw_process_watch *next;
    uint64_t serial;                /* its epoll data */
    int pidfd;
    pid_t pid;
    bool child;
    struct iw_process_state *st;    /* NULL: a child of ours to reap, no handle left */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int epfd = -1;               /* this process's instance; -1: no watcher yet */
static struct iw_process_watch *entries;
static uint64_t serials;

/* How it ended: a child of ours is reaped here, unless the application
 * reaped it first (spawn.c); another process's status is not ours to read
 * (waitid needs a child). */
static void record_end(struct iw_process_watch *e)
{
    uint32_t how = IW_END_UNKNOWN, value = 0;
    if (e->child) {
        siginfo_t info = {0};
        if (waitid((idtype_t)P_PIDFD, (id_t)e->pidfd, &info, WEXITED | WNOHANG) == 0 && info.si_pid != 0) {
            how = info.si_code == CLD_EXITED ? IW_END_EXITED : IW_END_SIGNALLED;
            value = (uint32_t)info.si_status;
        }
    }
    struct iw_process_state *st = e->st;
    if (st == NULL) {
        close(e->pidfd); /* reaped: nothing else to tell */
        return;
    }
    st->how = how;
    st->value = value;
    st->watch = NULL;
    iw_end_latch_set(&st->end);
}

/* Takes entry *link out of the list and of epoll (before its pidfd may be
 * closed) and returns it. */
static struct iw_process_watch *unlink_entry(struct iw_process_watch **link)
{
    struct iw_process_watch *e = *link;
    *link = e->next;
    epoll_ctl(epfd, EPOLL_CTL_DEL, e->pidfd, NULL);
    return e;
}

static void ended(uint64_t serial)
{
    for (struct iw_process_watch **link = &entries; *link; link = &(*link)->next)
        if ((*link)->serial == serial) {
            struct iw_process_watch *e = unlink_entry(link);
            record_end(e);
            free(e);
            return;
        }
    /* Not found: its handle was closed after epoll_wait reported it. */
}

static void *watch_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct epoll_event ev[16];
    for (;;) {
        int n = epoll_wait(fd, ev, 16, -1);
        pthread_mutex_lock(&lock);
        for (int i = 0; i < n; i++)
            ended(ev[i].data.u64);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

/* The instance and its thread, under the lock. */
static DWORD start(void)
{
    if (epfd >= 0)
        return ERROR_SUCCESS;
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0)
        return iw_error_from_errno(errno);
    pthread_t t;
    int rc = iw_helper_thread_start(&t, watch_main, (void *)(intptr_t)fd, "iw-exit-watch");
    if (rc != 0) {
        close(fd);
        return ERROR_NOT_ENOUGH_MEMORY;
    }
    epfd = fd;
    return ERROR_SUCCESS;
}

/* Watches st's pidfd with entry e (freed on failure), under the lock. */
static DWORD add(struct iw_process_state *st, struct iw_process_watch *e)
{
    DWORD err = start();
    if (err == ERROR_SUCCESS) {
        e->serial = ++serials;
        e->pidfd = st->pidfd;
        e->pid = st->pid;
        e->child = st->child;
        e->st = st;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = e->serial};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, e->pidfd, &ev) != 0)
            err = iw_error_from_errno(errno);
    }
    if (err == ERROR_SUCCESS) {
        e->next = entries;
        entries = e;
        st->watch = e;
    } else {
        free(e);
    }
    return err;
}

DWORD iw_process_watch_add(struct iw_process_state *st)
{
    struct iw_process_watch *e = calloc(1, sizeof *e);
    if (e == NULL)
        return ERROR_NOT_ENOUGH_MEMORY;
    pthread_mutex_lock(&lock);
    DWORD err = add(st, e);
    pthread_mutex_unlock(&lock);
    return err;
}

void iw_process_watch_forget(struct iw_process_state *st)
{
    pthread_mutex_lock(&lock);
    if (st->watch != NULL) {
        struct iw_process_watch **link = &entries;
        while (*link != st->watch)
            link = &(*link)->next;
        if (st->child) {
            st->watch->st = NULL; /* it owns the pidfd now, to reap the child */
            st->pidfd = -1;
        } else {
            free(unlink_entry(link));
        }
        st->watch = NULL;
    }
    pthread_mutex_unlock(&lock);
}

bool iw_process_has_ended(int pidfd)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

DWORD iw_process_watch_open(pid_t pid, struct iw_process_state *fresh, struct iw_object **out)
{
    /* An entry for fresh, made before the lock. */
    struct iw_process_watch *mine = NULL;
    *out = NULL;
    if (fresh->pidfd >= 0 && (mine = calloc(1, sizeof *mine)) == NULL)
        return ERROR_NOT_ENOUGH_MEMORY;
    /* Naps as hazard.c's: the closer may be a thread of lower priority. */
    for (long nap_ns = 10000;; nap_ns = nap_ns < 1000000 ? 2 * nap_ns : nap_ns) {
        struct iw_object *obj = NULL;
        bool handing_over = false;
        pthread_mutex_lock(&lock);
        /* The pid is still the entry's process while that has not ended: a
         * child of ours is not reaped before the watcher removes its entry
         * (unless the application reaps children itself: spawn.c); another
         * process, reaped by its parent, may have ended just now. */
        for (struct iw_process_watch *e = entries; e && obj == NULL && !handing_over; e = e->next) {
            if (e->pid != pid || (!e->child && iw_process_has_ended(e->pidfd)))
                continue;
            if (e->st == NULL) { /* a child of ours, every handle closed: fresh takes the pidfd back */
                if (fresh->pidfd >= 0)
                    close(fresh->pidfd); /* pidfd_open's, on the same process */
                fresh->pidfd = e->pidfd;
                fresh->pid = pid;
                fresh->child = true;
                fresh->watch = e;
                e->st = fresh;
                obj = fresh->obj;
            } else if (iw_object_get_live(e->st->obj)) {
                obj = e->st->obj;
            } else {
                /* Its last reference went: free_local is on its way.  It
                 * hands a child of ours to the entry (then fresh takes it,
                 * and knows its code: a pidfd_open would not); another
                 * process's entry goes with it (the caller opens the pid
                 * anew). */
                handing_over = e->child;
            }
        }
        /* None: fresh's own pidfd, registered under the same hold of the
         * lock, so that two opens of one process make one object. */
        DWORD err = ERROR_SUCCESS;
        if (obj == NULL && !handing_over && mine != NULL) {
            err = add(fresh, mine);
            obj = err == ERROR_SUCCESS ? fresh->obj : NULL;
            mine = NULL;
        }
        pthread_mutex_unlock(&lock);
        if (!handing_over) {
            free(mine);
            *out = obj;
            return err;
        }
        nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = nap_ns}, NULL);
    }
}

void iw_process_watch_fork_prepare(void) { pthread_mutex_lock(&lock); }
void iw_process_watch_fork_parent(void) { pthread_mutex_unlock(&lock); }

void iw_process_watch_fork_child(void)
{
    if (epfd >= 0)
        close(epfd);
    epfd = -1;
    while (entries) {
        struct iw_process_watch *e = entries;
        entries = e->next;
        if (e->st)
            e->st->watch = NULL;
        else
            close(e->pidfd);
        free(e);
    }
    pthread_mutex_unlock(&lock); /* the forking thread took it in prepare */
}
