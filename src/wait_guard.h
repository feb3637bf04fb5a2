/*
 * A wait of a thread the library created, as TerminateThread sees it
 * (thread_signal.c).  TerminateThread ends a thread by a jump from its
 * signal handler back to thread_main; a wait jumped out of would leave its
 * references, its registration with each object (an event's waiter count)
 * and a mutex watcher's seat (the watcher would block in the PI lock for
 * it for good, lifting every later owner to the ended thread's priority).
 * So while a thread is in a wait (in_wait) the handler does not jump: it
 * sets ending and bumps a wake counter the wait sleeps on (wake_word: any
 * sleeper on it polls once more and finds nothing new), so that the wait's
 * sleep returns at once - a futex call interrupted by the handler is
 * restarted (SA_RESTART) and then sees the counter moved - and the wait
 * sleeps no more, lets go of everything as any wait does, and ends the
 * thread as it returns (iw_wait_exit).  The one sleep that no counter
 * ends is a mutex's own, in its PI lock, which holds nothing but the
 * wait's reference: there the handler drops that (alone_ref) and jumps -
 * unless the thread holds the lock already (handed it as the signal came),
 * which its lock must then complete and the wait give back (mutex.c's
 * wait_alone).
 * A thread the library did not create has no guard (NULL) and cannot be
 * terminated.
 *
 * The handler runs on the thread itself, between two of its instructions:
 * program order is all it needs - relaxed atomics, and signal fences that
 * keep the compiler from moving them (no locked instruction on a wait's
 * path).
 */
#ifndef IW_WAIT_GUARD_H
#define IW_WAIT_GUARD_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct iw_object;

struct iw_wait_guard {
    atomic_bool in_wait;
    atomic_bool ending;                 /* TerminateThread came during the wait */
    _Atomic uint32_t *_Atomic wake_word; /* a counter the wait sleeps on, or NULL */
    struct iw_object *_Atomic alone_ref; /* a mutex's wait asleep in its PI lock: its reference */
};

extern __thread struct iw_wait_guard *iw_wait_guard_mine __attribute__((tls_model("initial-exec")));

/* thread.c: ends the calling thread as TerminateThread asked. */
__attribute__((cold)) _Noreturn void iw_thread_end_terminated(void);

/* The fences only where there is a guard: a compiler barrier makes it
 * reload what it kept in registers, on every thread's path otherwise. */
static inline bool iw_wait_ending(struct iw_wait_guard *g)
{
    if (__builtin_expect(g == NULL, 1))
        return false;
    atomic_signal_fence(memory_order_seq_cst);
    return __builtin_expect(atomic_load_explicit(&g->ending, memory_order_relaxed), 0);
}

static inline struct iw_wait_guard *iw_wait_enter(void)
{
    struct iw_wait_guard *g = iw_wait_guard_mine;
    if (g != NULL) {
        atomic_store_explicit(&g->in_wait, true, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
    }
    return g;
}

static inline void iw_wait_exit(struct iw_wait_guard *g)
{
    if (g == NULL)
        return;
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&g->in_wait, false, memory_order_relaxed);
    if (iw_wait_ending(g))
        iw_thread_end_terminated();
}

/* The counter the handler bumps (NULL: none any more). */
static inline void iw_wait_sleeps_on(struct iw_wait_guard *g, _Atomic uint32_t *word)
{
    if (g != NULL) {
        atomic_store_explicit(&g->wake_word, word, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
    }
}
#endif
