/*
 * Calls in transit: those holding object descriptors outside the records,
 * which fork waits for (fork.c), and parked descriptors (records.h).
 */
#include "records.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Calls that have object descriptors outside the records - being made,
 * opened, or destroyed - count themselves in transit, and fork waits for
 * them: a child that inherited such a descriptor would hold its lock (a
 * read lock keeping a dead object alive, or a write lock making openers
 * wait) until it exits or execs.  The gate keeps new calls out meanwhile.
 * (Not a rwlock: glibc's records its writer's thread ID, which the child
 * does not share, so the child could not release it.) */
static pthread_mutex_t transit_gate = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint32_t in_transit; /* threads in transit */
static _Atomic uint32_t fork_waiting;

/* A thread's brackets nest (a handle's Create holds one around the Create's
 * own: records.h): only the outermost passes the gate and counts, since an
 * inner one waiting at the gate that fork holds while it waits for the
 * outer one to end would never get through. */
static __thread uint32_t depth;

void iw_transit_begin(void)
{
    if (depth++ > 0)
        return;
    pthread_mutex_lock(&transit_gate);
    atomic_fetch_add(&in_transit, 1);
    pthread_mutex_unlock(&transit_gate);
}

void iw_transit_end(void)
{
    if (--depth > 0)
        return;
    if (atomic_fetch_sub(&in_transit, 1) == 1 && atomic_load(&fork_waiting))
        syscall(SYS_futex, &in_transit, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

void iw_transit_fork_prepare(void)
{
    pthread_mutex_lock(&transit_gate);
    atomic_store(&fork_waiting, 1);
    for (uint32_t n; (n = atomic_load(&in_transit)) != 0;)
        syscall(SYS_futex, &in_transit, FUTEX_WAIT_PRIVATE, n, NULL, NULL, 0);
    atomic_store(&fork_waiting, 0);
}

/* Parked descriptors, under the process lock (taken after the gate in
 * fork's prepare, so the list holds still). */
static struct iw_parked *parked_list;

void iw_transit_park(struct iw_parked *parked, int fd)
{
    parked->fd = fd;
    iw_records_lock();
    parked->next = parked_list;
    parked_list = parked;
    iw_records_unlock();
    parked->depth = depth; /* out of transit altogether, however deep */
    depth = 1;
    iw_transit_end();
}

void iw_transit_unpark(struct iw_parked *parked)
{
    iw_transit_begin();
    depth = parked->depth;
    iw_records_lock();
    struct iw_parked **link = &parked_list;
    while (*link != parked)
        link = &(*link)->next;
    *link = parked->next;
    iw_records_unlock();
}

void iw_transit_fork_parent(void) { pthread_mutex_unlock(&transit_gate); }

void iw_transit_fork_child(void)
{
    /* The threads that parked them are not in the child. */
    for (struct iw_parked *p = parked_list; p; p = p->next)
        close(p->fd);
    parked_list = NULL;
    pthread_mutex_unlock(&transit_gate); /* taken by the forking thread, ours */
}
