/*
 * The wait protocol of a thread's or a process's end (thread.c, process.c):
 * signalled once, for good, and consumed by no wait.  The type's state
 * starts with a struct iw_end_latch, so that the protocol, given the state,
 * finds it.
 */
#ifndef IW_END_LATCH_H
#define IW_END_LATCH_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct iw_end_latch {
    _Atomic uint32_t wake;      /* bumped and woken once, after ended */
    _Atomic uint32_t ended;
};

/* Sets it, after the state's final values (exit code) are written, and
 * wakes every waiter. */
void iw_end_latch_set(struct iw_end_latch *l);

static inline bool iw_end_latch_is_set(const struct iw_end_latch *l)
{
    return atomic_load_explicit(&l->ended, memory_order_acquire) != 0;
}

/* The wait protocol (object_ops.h), for the type's table: IW_END_LATCH_OPS. */
_Atomic uint32_t *iw_end_latch_wake_word(void *state);
int iw_end_latch_try_take(void *state, bool *abandoned);
uint32_t iw_end_latch_enter(void *state);
int iw_end_latch_poll(void *state, uint32_t cookie, bool *abandoned);
void iw_end_latch_leave(void *state, uint32_t cookie);

#define IW_END_LATCH_OPS                                                                            \
    .wake_word = iw_end_latch_wake_word, .try_take = iw_end_latch_try_take, .enter = iw_end_latch_enter, \
    .poll = iw_end_latch_poll, .leave = iw_end_latch_leave
#endif
