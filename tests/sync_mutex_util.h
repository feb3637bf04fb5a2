/*
 * Helpers shared by the mutex tests (sync_mutex.c: ownership and recursion;
 * sync_mutex_abandon.c: abandonment; sync_mutex_pi.c: priority inheritance
 * and mutual exclusion hammered): a thread that holds a mutex until told, and
 * one call (a wait, a release, a create) made in another thread.  Header-only
 * (static inline), so that each test executable stays one source file plus
 * test_node.c.
 */
#ifndef IWIN32_SYNC_MUTEX_UTIL_H
#define IWIN32_SYNC_MUTEX_UTIL_H
#include "sync_util.h"

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

static inline void *holder_main(void *arg)
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

static inline void holder_start(struct holder *ho, HANDLE h, int depth)
{
    memset(ho, 0, sizeof *ho);
    ho->h = h;
    ho->depth = depth;
    ho->thread = sync_thread(holder_main, ho);
    while (atomic_load(&ho->state) != 1)
        usleep(100);
}

static inline void holder_finish(struct holder *ho, int cmd)
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

static inline void *call_main(void *arg)
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
static inline DWORD other_thread_try(HANDLE h)
{
    struct call c = {.h = h, .what = 0};
    pthread_join(sync_thread(call_main, &c), NULL);
    return c.r;
}

/* ---- a peer process that owns a mutex ------------------------------------------ */

/* Starts a peer (sync_peer.c) that opens the mutex called name, waits for it
 * ("om ... w -1") and then for a line from us ("g"), then does what more
 * lists (NULL-ended; e.g. "rm", "g": release, then wait again); returns
 * once the peer owns it. */
#define start_owner_peer(owner, name, ...)                                                         \
    do {                                                                                          \
        tn_peer_start((owner), NULL, "om", (name), "w", "-1", "g", __VA_ARGS__);                  \
        assert_true(sync_peer_ok((owner), NULL));                                                 \
        DWORD r_;                                                                                 \
        assert_true(sync_peer_word((owner), "waiting", NULL, 0));                                 \
        assert_true(sync_peer_waited((owner), &r_, NULL));                                        \
        assert_int_equal(r_, WAIT_OBJECT_0);                                                      \
    } while (0)
#endif
