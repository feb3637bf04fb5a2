#include "end_latch.h"

#include "futex.h"

void iw_end_latch_set(struct iw_end_latch *l)
{
    atomic_store_explicit(&l->ended, 1, memory_order_release);
    /* The counter changes after ended: a waiter that read it before polling
     * sees the change and does not sleep (wait.c). */
    atomic_fetch_add(&l->wake, 1);
    iw_futex_wake_all(&l->wake);
}

_Atomic uint32_t *iw_end_latch_wake_word(void *state) { return &((struct iw_end_latch *)state)->wake; }

int iw_end_latch_try_take(void *state, bool *abandoned)
{
    (void)abandoned;
    return iw_end_latch_is_set(state);
}

uint32_t iw_end_latch_enter(void *state)
{
    (void)state;
    return 0; /* nothing to register: the end is for every waiter */
}

int iw_end_latch_poll(void *state, uint32_t cookie, bool *abandoned)
{
    (void)cookie;
    return iw_end_latch_try_take(state, abandoned);
}

void iw_end_latch_leave(void *state, uint32_t cookie)
{
    (void)state;
    (void)cookie;
}
