/*
 * SPEC 6, mutexes: owned by a thread; recursive (32 deep needs 32
 * releases); ERROR_NOT_OWNER for another thread's or an extra release;
 * bInitialOwner for a new mutex only (another process can't acquire it
 * until released); CloseHandle keeps ownership; abandonment - owner thread
 * exits or owner process is SIGKILLed, a blocked waiter gets
 * WAIT_ABANDONED_0(+i) promptly; priority inheritance (a SCHED_FIFO waiter
 * lifts the owner, in-process and across processes); counters hammered by
 * threads and by processes; wrong-type/bad handles; unnamed mutexes through
 * fork.  The design notes' traps: a multi-object waiter and single-object
 * waiters on one mutex keep mutual exclusion (no plain futex waiter on the
 * PI word), and a mutex page stays mapped while its owner lives (glibc bug
 * 14485: the kernel writes the page when the owner dies).
 */
#include "sync_util.h"

#include <sched.h>
#include <sys/mman.h>

/* ---- a thread that holds a mutex until told ------------------------------------ */

enum { HOLD, RELEASE_AND_WAIT, RELEASE_AND_EXIT, EXIT_OWNING };

struct holder {
    HANDLE h;
    int depth;                  /* acquisitions */
    _Atomic int cmd;            /* HOLD until told otherwise */
    _Atomic int state;          /* 0 starting, 1 holding, 2 released, 3 done */
    _Atomic pid_t tid;
    DWORD result;
    pthread_t thread;
};

static void *holder_main(void *arg)
{
    struct holder *ho = arg;
    atomic_store(&ho->tid, sync_gettid());
    for (int i = 0; i < ho->depth; i++)
        ho->result = RtWaitForSingleObject(ho->h, INFINITE);
    atomic_store(&ho->state, 1);
    int cmd;
    while ((cmd = atomic_load(&ho->cmd)) == HOLD)
        usleep(200);
    if (cmd == RELEASE_AND_WAIT || cmd == RELEASE_AND_EXIT) {
        for (int i = 0; i < ho->depth; i++)
            if (!RtReleaseMutex(ho->h))
                fprintf(stderr, "holder: release failed: %u\n", GetLastError());
        atomic_store(&ho->state, 2);
        while (cmd == RELEASE_AND_WAIT && atomic_load(&ho->cmd) == RELEASE_AND_WAIT)
            usleep(200);
    }
    atomic_store(&ho->state, 3);
    return NULL; /* EXIT_OWNING: the thread ends owning the mutex */
}

static void holder_start(struct holder *ho, HANDLE h, int depth)
{
    memset(ho, 0, sizeof *ho);
    ho->h = h;
    ho->depth = depth;
    ho->thread = sync_thread(holder_main, ho);
    while (atomic_load(&ho->state) != 1)
        usleep(100);
}

static void holder_finish(struct holder *ho, int cmd)
{
    atomic_store(&ho->cmd, cmd);
    if (cmd != RELEASE_AND_WAIT)
        pthread_join(ho->thread, NULL);
}

/* ---- one call in another thread -------------------------------------------------- */

struct call {
    HANDLE h;
    int what;                   /* 0 wait(0), 1 release, 2 create(TRUE) by name */
    const char *name;
    DWORD r, err;
    HANDLE made;
};

static void *call_main(void *arg)
{
    struct call *c = arg;
    SetLastError(0);
    if (c->what == 0) {
        c->r = RtWaitForSingleObject(c->h, 0);
        if (c->r == WAIT_OBJECT_0 || c->r == WAIT_ABANDONED_0)
            RtReleaseMutex(c->h);
    } else if (c->what == 1) {
        c->r = RtReleaseMutex(c->h);
    } else {
        c->made = RtCreateMutex(NULL, TRUE, c->name);
        c->err = GetLastError();
        SetLastError(0);
        c->r = RtReleaseMutex(c->made);
    }
    if (c->what != 2)
        c->err = GetLastError();
    return NULL;
}

/* What a wait(0) from another thread says: WAIT_TIMEOUT while owned here. */
static DWORD other_thread_try(HANDLE h)
{
    struct call c = {.h = h, .what = 0};
    pthread_join(sync_thread(call_main, &c), NULL);
    return c.r;
}

static DWORD other_thread_release(HANDLE h, DWORD *err)
{
    struct call c = {.h = h, .what = 1};
    pthread_join(sync_thread(call_main, &c), NULL);
    *err = c.err;
    return c.r;
}

/* ---- ownership and recursion -------------------------------------------------------- */

static void test_owned_by_thread(void **state)
{
    (void)state;
    HANDLE m = RtCreateMutex(NULL, FALSE, NULL);
    assert_non_null(m);
    DWORD err;
    /* Unowned: anyone's release is a non-owner's. */
    SetLastError(0);
    assert_false(RtReleaseMutex(m));
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    assert_false(other_thread_release(m, &err));
    assert_int_equal(err, ERROR_NOT_OWNER);

    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0);
    assert_int_equal(other_thread_try(m), WAIT_TIMEOUT); /* owned by this thread */
    assert_false(other_thread_release(m, &err));         /* release by another thread */
    assert_int_equal(err, ERROR_NOT_OWNER);
    assert_int_equal(other_thread_try(m), WAIT_TIMEOUT); /* still ours */
    assert_true(RtReleaseMutex(m));
    SetLastError(0);
    assert_false(RtReleaseMutex(m)); /* once more than acquired */
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    assert_int_equal(other_thread_try(m), WAIT_OBJECT_0);
    assert_true(CloseHandle(m));
}

static void test_recursion_32_deep(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "recursive");
    HANDLE m = RtCreateMutex(NULL, FALSE, name);
    HANDLE m2 = RtOpenMutex(0, FALSE, name); /* a second handle: same mutex, same count */
    assert_non_null(m2);
    for (int i = 0; i < 32; i++)
        assert_int_equal(RtWaitForSingleObject(i % 2 ? m : m2, i % 3 ? INFINITE : 0), WAIT_OBJECT_0);
    for (int i = 31; i > 0; i--) {
        assert_true(RtReleaseMutex(i % 2 ? m2 : m));
        if (i % 8 == 0 || i == 1)
            assert_int_equal(other_thread_try(m), WAIT_TIMEOUT); /* held until the 32nd release */
    }
    assert_true(RtReleaseMutex(m));
    SetLastError(0);
    assert_false(RtReleaseMutex(m)); /* the 33rd */
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    assert_int_equal(other_thread_try(m), WAIT_OBJECT_0);
    /* Acquisitions through multi-object waits count too. */
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    HANDLE list[2] = {e, m};
    assert_int_equal(RtWaitForMultipleObjects(2, list, FALSE, 0), WAIT_OBJECT_0 + 1);
    assert_int_equal(RtWaitForMultipleObjects(2, list, FALSE, 10), WAIT_OBJECT_0 + 1);
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0);
    assert_true(RtReleaseMutex(m));
    assert_true(RtReleaseMutex(m));
    assert_int_equal(other_thread_try(m), WAIT_TIMEOUT);
    assert_true(RtReleaseMutex(m));
    assert_false(RtReleaseMutex(m));
    assert_int_equal(other_thread_try(m), WAIT_OBJECT_0);
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(m2));
    assert_true(CloseHandle(m));
}

/* ---- bInitialOwner -------------------------------------------------------------------- */

static void test_initial_owner_new_mutex(void **state)
{
    (void)state;
    /* Made here, owned here: another process can't get it until released. */
    char name[64];
    SYNC_NAME(name, "initial");
    SetLastError(99);
    HANDLE m = RtCreateMutex(NULL, TRUE, name);
    assert_non_null(m);
    assert_int_equal(GetLastError(), 0);
    assert_int_equal(other_thread_try(m), WAIT_TIMEOUT);
    struct tn_peer p;
    tn_peer_start(&p, NULL, "om", name, "w", "100", "g", "w", "3000", "rm", NULL);
    assert_true(sync_peer_ok(&p, NULL));
    DWORD r;
    assert_true(sync_peer_word(&p, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&p, &r, NULL));
    assert_int_equal(r, WAIT_TIMEOUT);
    assert_true(RtReleaseMutex(m));
    tn_peer_send(&p);
    assert_true(sync_peer_word(&p, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&p, &r, NULL));
    assert_int_equal(r, WAIT_OBJECT_0);
    assert_true(sync_peer_ok(&p, NULL)); /* its release */
    assert_true(sync_peer_done(&p));
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0);
    assert_true(RtReleaseMutex(m));
    assert_true(CloseHandle(m));

    /* Made and owned by another process: not ours until it lets go. */
    SYNC_NAME(name, "initial-peer");
    tn_peer_start(&p, NULL, "cm", name, "1", "g", "rm", "g", NULL);
    long err;
    assert_true(sync_peer_ok(&p, &err));
    assert_int_equal(err, 0);
    m = RtOpenMutex(0, FALSE, name);
    assert_non_null(m);
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_TIMEOUT);
    assert_int_equal(RtWaitForSingleObject(m, 50), WAIT_TIMEOUT);
    tn_peer_send(&p);
    assert_true(sync_peer_ok(&p, NULL));
    assert_int_equal(RtWaitForSingleObject(m, 1000), WAIT_OBJECT_0);
    assert_true(RtReleaseMutex(m));
    assert_true(sync_peer_done(&p));
    assert_true(CloseHandle(m));

    /* Unnamed, initially owned. */
    m = RtCreateMutex(NULL, TRUE, NULL);
    assert_int_equal(other_thread_try(m), WAIT_TIMEOUT);
    assert_true(RtReleaseMutex(m));
    assert_false(RtReleaseMutex(m));
    assert_true(CloseHandle(m));
}

static void test_initial_owner_ignored_for_existing(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "initial-exist");
    HANDLE m = RtCreateMutex(NULL, FALSE, name);
    struct call c = {.what = 2, .name = name};
    pthread_join(sync_thread(call_main, &c), NULL);
    assert_non_null(c.made);
    assert_int_equal(c.err, ERROR_ALREADY_EXISTS);
    assert_false(c.r); /* that thread did not own it... */
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0); /* ...so this one gets it */
    assert_true(RtReleaseMutex(m));
    assert_true(CloseHandle(c.made));
    assert_true(CloseHandle(m));
}

/* ---- CloseHandle keeps ownership ----------------------------------------------------------- */

static void test_close_does_not_release(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "close-owned");
    HANDLE m = RtCreateMutex(NULL, FALSE, name);
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0);
    HANDLE m2 = RtOpenMutex(0, FALSE, name);
    assert_true(CloseHandle(m));
    struct tn_peer p;
    tn_peer_start(&p, NULL, "om", name, "w", "100", "g", "w", "100", "g", "w", "3000", "rm", NULL);
    assert_true(sync_peer_ok(&p, NULL));
    DWORD r;
    assert_true(sync_peer_word(&p, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&p, &r, NULL));
    assert_int_equal(r, WAIT_TIMEOUT);
    /* Even with no handle left in this process, this thread owns it. */
    assert_true(CloseHandle(m2));
    tn_peer_send(&p);
    assert_true(sync_peer_word(&p, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&p, &r, NULL));
    assert_int_equal(r, WAIT_TIMEOUT);
    HANDLE m3 = RtOpenMutex(0, FALSE, name); /* the peer kept the name alive */
    assert_non_null(m3);
    assert_true(RtReleaseMutex(m3)); /* still the owner */
    tn_peer_send(&p);
    assert_true(sync_peer_word(&p, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&p, &r, NULL));
    assert_int_equal(r, WAIT_OBJECT_0); /* released, not abandoned */
    assert_true(sync_peer_ok(&p, NULL));
    assert_true(sync_peer_done(&p));
    assert_true(CloseHandle(m3));
}

/* ---- abandonment ---------------------------------------------------------------------------- */

/* The owner process is SIGKILLed while this process (a thread) and another
 * process are blocked in RtWaitForSingleObject: the first to get it sees
 * WAIT_ABANDONED_0 at once, not at its timeout. */
static void test_owner_killed_single_waiters_get_abandoned_promptly(void **state)
{
    (void)state;
    for (int remote = 0; remote < 2; remote++) {
        char name[64];
        SYNC_NAME(name, "killed-owner");
        HANDLE m = RtCreateMutex(NULL, FALSE, name);
        struct tn_peer owner, waiter;
        tn_peer_start(&owner, NULL, "om", name, "w", "-1", "g", NULL);
        assert_true(sync_peer_ok(&owner, NULL));
        DWORD r;
        assert_true(sync_peer_word(&owner, "waiting", NULL, 0));
        assert_true(sync_peer_waited(&owner, &r, NULL));
        assert_int_equal(r, WAIT_OBJECT_0);
        struct sync_waiter w;
        if (remote) {
            tn_peer_start(&waiter, NULL, "om", name, "w", "5000", "rm", NULL);
            assert_true(sync_peer_ok(&waiter, NULL));
            assert_true(sync_peer_blocked(&waiter));
        } else {
            sync_waiter_start(&w, m, 5000);
            assert_true(sync_waiter_blocked(&w));
        }
        int64_t t0 = sync_now_us();
        assert_true(tn_killed_by(tn_peer_kill(&owner), SIGKILL));
        int64_t woke = 0;
        if (remote) {
            assert_true(sync_peer_waited(&waiter, &r, &woke));
            assert_true(sync_peer_ok(&waiter, NULL)); /* it owns it: its release works */
            assert_true(sync_peer_done(&waiter));
        } else {
            sync_waiter_join(&w);
            r = w.result;
            woke = w.woke_us;
            assert_int_equal(w.error, 0x5eed);
            assert_true(RtReleaseMutex(m) == FALSE); /* the waiter thread owns it, not us */
        }
        assert_int_equal(r, WAIT_ABANDONED_0);
        if (woke - t0 > 250000)
            fail_msg("abandonment seen %lld us after the kill (remote %d)", (long long)(woke - t0), remote);
        if (!remote) {
            /* The waiter thread ended owning it: abandoned once more, for us. */
            assert_int_equal(RtWaitForSingleObject(m, 1000), WAIT_ABANDONED_0);
            assert_true(RtReleaseMutex(m));
        }
        /* Consistent again: the next acquirer gets a plain WAIT_OBJECT_0. */
        assert_int_equal(RtWaitForSingleObject(m, 1000), WAIT_OBJECT_0);
        assert_true(RtReleaseMutex(m));
        assert_true(CloseHandle(m));
    }
}

static void test_owner_thread_exits(void **state)
{
    (void)state;
    HANDLE m = RtCreateMutex(NULL, FALSE, NULL);
    /* Nobody waiting when it ends (owning it 3 times): the next acquirer
     * gets it abandoned, once, with a count of one. */
    struct holder ho;
    holder_start(&ho, m, 3);
    assert_int_equal(ho.result, WAIT_OBJECT_0);
    holder_finish(&ho, EXIT_OWNING);
    SetLastError(0x1234);
    assert_int_equal(RtWaitForSingleObject(m, 1000), WAIT_ABANDONED_0);
    assert_int_equal(GetLastError(), 0x1234);
    assert_true(RtReleaseMutex(m));
    assert_false(RtReleaseMutex(m));
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0);
    assert_true(RtReleaseMutex(m));

    /* A waiter already blocked when the owner thread ends: prompt. */
    holder_start(&ho, m, 1);
    struct sync_waiter w;
    sync_waiter_start_ex(&w, &m, 1, 5000, true);
    assert_true(sync_waiter_blocked(&w));
    int64_t t0 = sync_now_us();
    holder_finish(&ho, EXIT_OWNING);
    sync_waiter_join(&w);
    assert_int_equal(w.result, WAIT_ABANDONED_0);
    if (w.woke_us - t0 > 250000)
        fail_msg("abandonment seen %lld us after the owner thread ended", (long long)(w.woke_us - t0));
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0);
    assert_true(RtReleaseMutex(m));

    /* Found abandoned by a multi-object wait (not yet asleep): + index. */
    holder_start(&ho, m, 1);
    holder_finish(&ho, EXIT_OWNING);
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL), s = RtCreateSemaphore(NULL, 0, 1, NULL);
    HANDLE list[3] = {e, s, m};
    assert_int_equal(RtWaitForMultipleObjects(3, list, FALSE, 100), WAIT_ABANDONED_0 + 2);
    assert_true(RtReleaseMutex(m));
    assert_int_equal(RtWaitForMultipleObjects(3, list, FALSE, 100), WAIT_OBJECT_0 + 2);
    assert_true(RtReleaseMutex(m));
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(s));
    assert_true(CloseHandle(m));
}

/* Across processes with a killed owner, found by a later multi-object wait. */
static void test_owner_killed_then_multi_wait(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "killed-multi");
    HANDLE m = RtCreateMutex(NULL, FALSE, name);
    struct tn_peer owner;
    tn_peer_start(&owner, NULL, "om", name, "w", "-1", "g", NULL);
    assert_true(sync_peer_ok(&owner, NULL));
    DWORD r;
    assert_true(sync_peer_word(&owner, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&owner, &r, NULL));
    assert_int_equal(r, WAIT_OBJECT_0);
    assert_true(tn_killed_by(tn_peer_kill(&owner), SIGKILL));
    HANDLE e = RtCreateEvent(NULL, TRUE, FALSE, NULL);
    HANDLE list[4] = {e, e, e, m};
    assert_int_equal(RtWaitForMultipleObjects(4, list, FALSE, 100), WAIT_ABANDONED_0 + 3);
    assert_true(RtReleaseMutex(m));
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(m));
}

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
    tn_peer_start(&owner, NULL, "om", name, "w", "-1", "g", "rm", "g", NULL);
    assert_true(sync_peer_ok(&owner, NULL));
    DWORD r;
    assert_true(sync_peer_word(&owner, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&owner, &r, NULL));
    assert_int_equal(r, WAIT_OBJECT_0);
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

/* ---- glibc bug 14485: the page of an owned mutex stays mapped ----------------------------------- */

struct page_owner {
    HANDLE h;                   /* NULL: a raw robust PI mutex in raw_page (the control) */
    void *raw_page;
    _Atomic int stage;          /* 1: owns it, handle closed/page unmapped; 2: exit now */
    _Atomic pid_t tid;
};

static void *page_owner_main(void *arg)
{
    struct page_owner *po = arg;
    atomic_store(&po->tid, sync_gettid());
    if (po->h) {
        if (RtWaitForSingleObject(po->h, 0) != WAIT_OBJECT_0 || !CloseHandle(po->h))
            return NULL;
    } else {
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
        pthread_mutex_t *mu = (pthread_mutex_t *)((char *)po->raw_page + 512);
        pthread_mutex_init(mu, &a);
        pthread_mutex_lock(mu);
        munmap(po->raw_page, tn_page()); /* what the library must not do */
    }
    atomic_store(&po->stage, 1);
    while (atomic_load(&po->stage) != 2)
        usleep(200);
    return NULL; /* ends owning it: the kernel walks its robust list */
}

#define FILL_PAGES 512

/* Runs an owner, fills fresh pages with its tid after its handle is closed,
 * lets it die; returns how many words the kernel changed. */
static long corrupted_words_after_owner_death(HANDLE h, void *raw_page)
{
    struct page_owner po = {.h = h, .raw_page = raw_page};
    pthread_t t = sync_thread(page_owner_main, &po);
    while (atomic_load(&po.stage) != 1)
        usleep(100);
    uint32_t tid = (uint32_t)atomic_load(&po.tid);
    static void *pages[FILL_PAGES];
    size_t pg = tn_page();
    for (int i = 0; i < FILL_PAGES; i++) {
        pages[i] = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(pages[i] != MAP_FAILED);
        for (size_t k = 0; k < pg / 4; k++)
            ((uint32_t *)pages[i])[k] = tid;
    }
    atomic_store(&po.stage, 2);
    pthread_join(t, NULL);
    long changed = 0;
    for (int i = 0; i < FILL_PAGES; i++) {
        for (size_t k = 0; k < pg / 4; k++)
            changed += ((uint32_t *)pages[i])[k] != tid;
        munmap(pages[i], pg);
    }
    return changed;
}

static void test_owned_mutex_page_stays_mapped(void **state)
{
    (void)state;
    /* Control: a robust mutex whose page was unmapped under its owner - the
     * kernel writes into whatever is mapped there when the owner dies.  If
     * this does not reproduce here, the check below proves nothing. */
    void *raw = mmap(NULL, tn_page(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(raw != MAP_FAILED);
    long control = corrupted_words_after_owner_death(NULL, raw);
    if (control == 0)
        fprintf(stderr, "note: control did not reproduce glibc bug 14485 here (address not reused)\n");
    /* The library: the owner closes its only handle (the object dies by
     * name), then dies owning the mutex.  Nothing of ours may change. */
    for (int named = 0; named < 2; named++) {
        char name[64];
        SYNC_NAME(name, "14485");
        HANDLE m = RtCreateMutex(NULL, FALSE, named ? name : NULL);
        assert_int_equal(corrupted_words_after_owner_death(m, NULL), 0);
    }
    if (control == 0)
        skip();
}

/* ---- bad handles, unnamed through fork ------------------------------------------------------------- */

static void test_bad_handles(void **state)
{
    (void)state;
    void *loc;
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, NULL, &loc);
    HANDLE e = RtCreateEvent(NULL, TRUE, TRUE, NULL);
    HANDLE s = RtCreateSemaphore(NULL, 1, 1, NULL);
    HANDLE closed = RtCreateMutex(NULL, FALSE, NULL);
    assert_true(CloseHandle(closed));
    HANDLE bad[] = {NULL, (HANDLE)(uintptr_t)2, (HANDLE)(uintptr_t)0x7fffffff, (HANDLE)(uintptr_t)-1,
                    closed, shm, e, s};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SetLastError(0);
        if (RtReleaseMutex(bad[i]) != FALSE || GetLastError() != ERROR_INVALID_HANDLE)
            fail_msg("RtReleaseMutex on bad handle %zu: error %u", i, GetLastError());
    }
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0);
    LONG prev = -1;
    assert_false(RtReleaseSemaphore(s, 1, &prev)); /* untouched: still at its maximum */
    assert_true(RtUnmapSharedMemory(loc));
    assert_true(CloseHandle(shm));
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(s));
}

static void test_unnamed_mutex_through_fork(void **state)
{
    (void)state;
    HANDLE m = RtCreateMutex(NULL, FALSE, NULL);
    int go[2], back[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(back), 0);
    pid_t pid = tn_fork();
    if (pid == 0) {
        char c;
        TN_CHILD_CHECK(RtWaitForSingleObject(m, 0) == WAIT_OBJECT_0);
        TN_CHILD_CHECK(write(back[1], "o", 1) == 1);
        TN_CHILD_CHECK(read(go[0], &c, 1) == 1);
        TN_CHILD_CHECK(RtReleaseMutex(m));
        TN_CHILD_CHECK(write(back[1], "r", 1) == 1);
        TN_CHILD_CHECK(read(go[0], &c, 1) == 1);
        TN_CHILD_CHECK(RtWaitForSingleObject(m, 5000) == WAIT_OBJECT_0);
        _exit(0); /* ends owning it */
    }
    char c;
    assert_int_equal(read(back[0], &c, 1), 1);
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_TIMEOUT);
    assert_int_equal(RtWaitForSingleObject(m, 50), WAIT_TIMEOUT);
    assert_false(RtReleaseMutex(m));
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_int_equal(read(back[0], &c, 1), 1);
    assert_int_equal(RtWaitForSingleObject(m, 1000), WAIT_OBJECT_0);
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_true(sync_task_blocked(pid, pid, 5000));
    assert_true(RtReleaseMutex(m));
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    assert_int_equal(RtWaitForSingleObject(m, 1000), WAIT_ABANDONED_0); /* the child exited owning it */
    assert_true(RtReleaseMutex(m));
    assert_true(CloseHandle(m));
    close(go[0]), close(go[1]), close(back[0]), close(back[1]);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owned_by_thread),
        cmocka_unit_test(test_recursion_32_deep),
        cmocka_unit_test(test_initial_owner_new_mutex),
        cmocka_unit_test(test_initial_owner_ignored_for_existing),
        cmocka_unit_test(test_close_does_not_release),
        cmocka_unit_test(test_owner_killed_single_waiters_get_abandoned_promptly),
        cmocka_unit_test(test_owner_thread_exits),
        cmocka_unit_test(test_owner_killed_then_multi_wait),
        cmocka_unit_test(test_priority_inheritance),
        cmocka_unit_test(test_hammer_threads),
        cmocka_unit_test(test_hammer_multi_and_single_waits),
        cmocka_unit_test(test_hammer_processes),
        cmocka_unit_test(test_owned_mutex_page_stays_mapped),
        cmocka_unit_test(test_bad_handles),
        cmocka_unit_test(test_unnamed_mutex_through_fork),
    };
    return SYNC_RUN("sync_mutex", tests);
}
