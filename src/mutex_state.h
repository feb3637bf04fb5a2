/*
 * The state of a mutex in its shared page (mutex.c explains it, and
 * describes it for the tools: its table's describe).
 */
#ifndef IW_MUTEX_STATE_H
#define IW_MUTEX_STATE_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "object_ops.h"

/* Shared by every process of the node: a change bumps iw_mutex_ops.layout.
 * The lock is glibc's pthread_mutex_t (40 bytes on 64-bit Linux, the same
 * ABI in every process of a node). */
struct mutex_state {
    _Atomic uint32_t wake;
    _Atomic uint32_t waiters;   /* multi-object waiters registered */
    /* Written only by the owner, while it owns the mutex (so the mutex
     * orders them), read by anyone: atomics, relaxed. */
    _Atomic uint32_t abandoned;         /* a watcher took it from a dead owner */
    _Atomic uint32_t depth;             /* the owner's acquisitions: the recursion (mutex.c) */
    _Atomic uint64_t owner_thread;      /* iw_self_thread() of the owner, 0: none */
    _Atomic uint64_t owner_process;     /* iw_self_process() of the last owner */
    pthread_mutex_t lock;
};
_Static_assert(offsetof(struct mutex_state, waiters) == 4 && offsetof(struct mutex_state, abandoned) == 8 &&
                   offsetof(struct mutex_state, depth) == 12 && offsetof(struct mutex_state, owner_thread) == 16 &&
                   offsetof(struct mutex_state, owner_process) == 24 && offsetof(struct mutex_state, lock) == 32 &&
                   sizeof(struct mutex_state) <= IW_STATE_MAX,
               "mutex state layout (layout 2)");
#endif
