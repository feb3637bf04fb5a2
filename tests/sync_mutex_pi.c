/*
 * SPEC 6, mutexes: priority inheritance (a SCHED_FIFO waiter lifts the
 * owner, in-process and across processes), and mutual exclusion: counters
 * hammered by threads and by processes.  The design notes' trap: a
 * multi-object waiter and single-object waiters on one mutex keep mutual
 * exclusion (no plain futex waiter on the PI word).  Ownership and
 * recursion: sync_mutex.c; abandonment: sync_mutex_abandon.c; the helpers
 * they share: sync_mutex_util.h.
 */
#include "sync_mutex_util.h"

#include <sched.h>

/* ---- priority inheritance -------------------------------------------------------------------- */

struct fifo_waiter {
    HANDLE h;
    _Atomic pid_t tid;
    DWORD result;
};

static void *fifo_waiter_main(void *arg)
{
    struct fifo_waiter *f = arg;
    atomic_store(&f->tid, sync_gettid());
    f->result = RtWaitForSingleObject(f->h, 5000);
    if (f->result == WAIT_OBJECT_0)
        RtReleaseMutex(f->h);
    return NULL;
}

#define FIFO_PRIO 20

/* Starts a SCHED_FIFO waiter; false if the system does not allow it. */
static bool fifo_waiter_start(struct fifo_waiter *f, HANDLE h, pthread_t *t)
{
    memset(f, 0, sizeof *f);
    f->h = h;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
    struct sched_param sp = {.sched_priority = FIFO_PRIO};
    pthread_attr_setschedparam(&attr, &sp);
    int rc = pthread_create(t, &attr, fifo_waiter_main, f);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        fprintf(stderr, "SCHED_FIFO thread not permitted (%s): priority inheritance not checked\n", strerror(rc));
        return false;
    }
    while (atomic_load(&f->tid) == 0)
        usleep(100);
    return true;
}

/* Waits up to 2 s for the task's effective priority to become want. */
static long prio_becomes(pid_t pid, pid_t tid, long want)
{
    long p = sync_task_prio(pid, tid);
    for (int i = 0; i < 2000 && p != want; i++) {
        usleep(1000);
        p = sync_task_prio(pid, tid);
    }
    return p;
}

static void test_priority_inheritance(void **state)
{
    (void)state;
    const long lifted = -1 - FIFO_PRIO;
    /* In-process: the owner is another thread of ours. */
    HANDLE m = RtCreateMutex(NULL, FALSE, NULL);
    struct holder ho;
    holder_start(&ho, m, 1);
    long base = sync_task_prio(getpid(), ho.tid);
    assert_true(base >= 0); /* not real-time itself */
    struct fifo_waiter f;
    pthread_t t;
    if (!fifo_waiter_start(&f, m, &t)) {
        holder_finish(&ho, RELEASE_AND_EXIT);
        assert_true(CloseHandle(m));
        skip();
    }
    assert_true(sync_task_blocked(getpid(), f.tid, 5000));
    long p = prio_becomes(getpid(), ho.tid, lifted);
    if (p != lifted)
        fail_msg("owner thread's priority %ld while a FIFO %d waiter blocks (want %ld)", p, FIFO_PRIO, lifted);
    holder_finish(&ho, RELEASE_AND_WAIT);
    pthread_join(t, NULL);
    assert_int_equal(f.result, WAIT_OBJECT_0);
    assert_int_equal(prio_becomes(getpid(), ho.tid, base), base); /* dropped back */
    holder_finish(&ho, RELEASE_AND_EXIT);
    assert_true(CloseHandle(m));

    /* Across processes: the owner is a peer. */
    char name[64];
    SYNC_NAME(name, "pi");
    m = RtCreateMutex(NULL, FALSE, name);
    struct tn_peer owner;
    start_owner_peer(&owner, name, "rm", "g", NULL);
    base = sync_task_prio(owner.pid, owner.pid);
    assert_true(fifo_waiter_start(&f, m, &t));
    assert_true(sync_task_blocked(getpid(), f.tid, 5000));
    p = prio_becomes(owner.pid, owner.pid, lifted);
    if (p != lifted)
        fail_msg("owner process's priority %ld while a FIFO %d waiter blocks (want %ld)", p, FIFO_PRIO, lifted);
    tn_peer_send(&owner);
    assert_true(sync_peer_ok(&owner, NULL));
    pthread_join(t, NULL);
    assert_int_equal(f.result, WAIT_OBJECT_0);
    assert_int_equal(prio_becomes(owner.pid, owner.pid, base), base);
    assert_true(sync_peer_done(&owner));
    assert_true(CloseHandle(m));
}

/* ---- hammering: mutual exclusion ------------------------------------------------------------- */

struct hammer {
    HANDLE m;
    HANDLE other;               /* for multi-object waits: an event never set */
    bool multi;
    long n;
    volatile uint64_t *counter;
    _Atomic int *inside;
    _Atomic int *overlaps;
    long failures;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    HANDLE list[2] = {h->other, h->m};
    for (long i = 0; i < h->n; i++) {
        DWORD r = h->multi ? RtWaitForMultipleObjects(2, list, FALSE, INFINITE) : RtWaitForSingleObject(h->m, INFINITE);
        if (r != (h->multi ? WAIT_OBJECT_0 + 1 : WAIT_OBJECT_0)) {
            h->failures++;
            continue;
        }
        if (atomic_fetch_add(h->inside, 1) != 0)
            atomic_fetch_add(h->overlaps, 1);
        uint64_t v = *h->counter;
        if ((i & 31) == 0)
            sched_yield();
        *h->counter = v + 1;
        atomic_fetch_sub(h->inside, 1);
        if (!RtReleaseMutex(h->m))
            h->failures++;
    }
    return NULL;
}

static void run_hammers(HANDLE m, int nthreads, int nmulti, long n, volatile uint64_t *counter, struct tn_peer *peer)
{
    HANDLE never = RtCreateEvent(NULL, TRUE, FALSE, NULL);
    _Atomic int inside = 0, overlaps = 0;
    struct hammer h[8];
    pthread_t t[8];
    for (int i = 0; i < nthreads; i++) {
        h[i] = (struct hammer){.m = m, .other = never, .multi = i < nmulti, .n = n, .counter = counter,
                               .inside = &inside, .overlaps = &overlaps};
        t[i] = sync_thread(hammer_main, &h[i]);
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].failures, 0);
    }
    if (peer) {
        char rest[64];
        assert_true(sync_peer_word(peer, "done", rest, sizeof rest));
        assert_true(sync_peer_done(peer));
    }
    assert_int_equal(atomic_load(&overlaps), 0);
    assert_true(CloseHandle(never));
}

static void test_hammer_threads(void **state)
{
    (void)state;
    HANDLE m = RtCreateMutex(NULL, FALSE, NULL);
    uint64_t counter = 0;
    run_hammers(m, 4, 0, 25000, &counter, NULL);
    assert_int_equal(counter, 100000);
    assert_int_equal(other_thread_try(m), WAIT_OBJECT_0); /* left free */
    assert_true(CloseHandle(m));
}

/* The design notes' trap: multi-object waiters (which must not sleep on the
 * PI lock word) mixed with single-object waiters (which sleep in the PI
 * lock) on one mutex - and a process hammering it from outside. */
static void test_hammer_multi_and_single_waits(void **state)
{
    (void)state;
    char mx[64], shm[64];
    SYNC_NAME(mx, "mixed-mx");
    SYNC_NAME(shm, "mixed-shm");
    HANDLE m = RtCreateMutex(NULL, FALSE, mx);
    void *loc;
    HANDLE sh = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, shm, &loc);
    assert_non_null(sh);
    volatile uint64_t *counter = loc;
    struct tn_peer p;
    tn_peer_start(&p, NULL, "hammer", shm, mx, "20000", NULL);
    run_hammers(m, 4, 2, 20000, counter, &p);
    assert_int_equal(*counter, 4 * 20000 + 20000);
    /* Only multi-object waiters, against the peer. */
    tn_peer_start(&p, NULL, "hammer", shm, mx, "10000", NULL);
    run_hammers(m, 2, 2, 10000, counter, &p);
    assert_int_equal(*counter, 100000 + 30000);
    assert_true(RtUnmapSharedMemory(loc));
    assert_true(CloseHandle(sh));
    assert_true(CloseHandle(m));
}

static void test_hammer_processes(void **state)
{
    (void)state;
    char mx[64], shm[64];
    SYNC_NAME(mx, "proc-mx");
    SYNC_NAME(shm, "proc-shm");
    HANDLE m = RtCreateMutex(NULL, FALSE, mx);
    void *loc;
    HANDLE sh = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, shm, &loc);
    struct tn_peer p[2];
    for (int i = 0; i < 2; i++)
        tn_peer_start(&p[i], NULL, "hammer", shm, mx, "25000", NULL);
    for (int i = 0; i < 2; i++) {
        char rest[64];
        assert_true(sync_peer_word(&p[i], "done", rest, sizeof rest));
        assert_true(sync_peer_done(&p[i]));
    }
    assert_int_equal(*(volatile uint64_t *)loc, 50000);
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0); /* free, not abandoned */
    assert_true(RtReleaseMutex(m));
    assert_true(RtUnmapSharedMemory(loc));
    assert_true(CloseHandle(sh));
    assert_true(CloseHandle(m));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority_inheritance),
        cmocka_unit_test(test_hammer_threads),
        cmocka_unit_test(test_hammer_multi_and_single_waits),
        cmocka_unit_test(test_hammer_processes),
    };
    return SYNC_RUN("sync_mutex_pi", tests);
}
