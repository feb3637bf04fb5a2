/*
 * The state of an event in its shared page (event.c explains it, and
 * describes it for the tools: its table's describe).
 */
#ifndef IW_EVENT_STATE_H
#define IW_EVENT_STATE_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "object_ops.h"

/* Shared by every process of the node: a change bumps iw_event_ops.layout. */
struct event_state {
    _Atomic uint32_t wake;
    uint32_t manual;
    _Atomic uint64_t word;
};
_Static_assert(offsetof(struct event_state, manual) == 4 && offsetof(struct event_state, word) == 8 &&
                   sizeof(struct event_state) == 16 && sizeof(struct event_state) <= IW_STATE_MAX,
               "event state layout (layout 1)");

/* The word: signalled (bit 0), gen (15 bits), old and new waiters (16 bits
 * each), tokens (15 bits; a manual-reset event's gen above its 15), settok
 * (bit 63). */
#define EVENT_SIGNALLED 1ull
#define EVENT_GEN_SHIFT 1
#define EVENT_GEN_MASK 0x7fffull
#define EVENT_OLD_SHIFT 16
#define EVENT_NEW_SHIFT 32
#define EVENT_TOKENS_SHIFT 48
#define EVENT_COUNT_MASK 0x7fffull /* tokens: 15 bits, then settok */
#define EVENT_WAITER_MASK 0xffffull
#define EVENT_SETTOK (1ull << 63)

static inline uint32_t gen_of(uint64_t w) { return (uint32_t)(w >> EVENT_GEN_SHIFT & EVENT_GEN_MASK); }
static inline uint32_t old_of(uint64_t w) { return (uint32_t)(w >> EVENT_OLD_SHIFT & EVENT_WAITER_MASK); }
static inline uint32_t new_of(uint64_t w) { return (uint32_t)(w >> EVENT_NEW_SHIFT & EVENT_WAITER_MASK); }
static inline uint32_t tokens_of(uint64_t w) { return (uint32_t)(w >> EVENT_TOKENS_SHIFT & EVENT_COUNT_MASK); }
#endif
