/*
 * The state of a mutex in its shared page (mutex.c explains it, and
 * describes it for the tools: iw_mutex_describe).
 */
#ifndef IW_MUTEX_STATE_H
#define IW_MUTEX_STATE_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct mutex_state {
    _Atomic uint32_t wake;
    _Atomic uint32_t waiters;   /* multi-object waiters registered */
    /* Written only by the owner, while it owns the mutex (so the mutex
     * orders them), read by anyone: atomics, relaxed. */
    _Atomic uint32_t abandoned;         /* a watcher took it from a dead owner */
    _Atomic uint32_t depth;             /* the owner's acquisitions */
    _Atomic uint64_t owner_thread;      /* iw_self_thread() of the owner, 0: none */
    _Atomic uint64_t owner_process;     /* iw_self_process() of the last owner */
    pthread_mutex_t lock;
};
#endif
