/*
 * The event's wait protocol and signal (event.c), for a type whose state
 * starts with a struct event_state of its own - a timer (timer.c) is an
 * auto-reset event its thread sets at each expiry - so that one
 * implementation of the protocol serves both.
 */
#ifndef IW_EVENT_WAIT_H
#define IW_EVENT_WAIT_H
#include <stdbool.h>

#include "event_state.h"

/* Set (set true) or Pulse (false) e: RtSetEvent's and RtPulseEvent's work.
 * No lock, no allocation: compare-and-swap, then a futex wake when it
 * releases a waiter. */
void iw_event_signal(struct event_state *e, bool set);

/* RtResetEvent's work: one atomic instruction. */
void iw_event_reset(struct event_state *e);

/* The wait protocol (object_ops.h) on a state that starts with an event's:
 * the type's table takes IW_EVENT_WAIT_OPS. */
_Atomic uint32_t *iw_event_wake_word(void *state);
int iw_event_try_take(void *state, bool *abandoned);
uint32_t iw_event_enter(void *state);
int iw_event_poll(void *state, uint32_t cookie, bool *abandoned);
void iw_event_leave(void *state, uint32_t cookie);

#define IW_EVENT_WAIT_OPS                                                                           \
    .wake_word = iw_event_wake_word, .try_take = iw_event_try_take, .enter = iw_event_enter,          \
    .poll = iw_event_poll, .leave = iw_event_leave
#endif
