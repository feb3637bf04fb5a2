/*
 * Events (SPEC 6).  The state is one 64-bit word changed by compare-and-swap
 * plus the wake counter sleepers wait on:
 *
 *   signalled  the event is set;
 *   waiters    registered waiters (each leaves by itself: taken or not);
 *   gen        bumped by every Set/Pulse that releases registered waiters;
 *              a waiter remembers the gen it registered under, and only a
 *              bump after that releases it - newcomers can't be released by
 *              (or steal from) a Set that came before them;
 *   tokens     auto-reset only: Sets handed to registered waiters, not yet
 *              taken.  An auto-reset Set that finds more waiters than
 *              tokens hands one over instead of setting the event, so two
 *              Sets release two waiters and the event stays reset.
 *
 * Set/Reset with no waiter is one compare-and-swap, no system call.
 *
 * Crashes.  A setter killed between its state change and its wake call
 * leaves sleepers asleep until their timeout or the next signal (a window
 * of a few instructions).  A waiter killed while registered stays counted:
 * an auto-reset Set that hands it a token and whose wake call wakes nobody
 * turns the token back into the signalled state, so that Set is not lost;
 * the dead registration costs later Sets one futex wake each.  Known gap:
 * if that wake does reach a sleeper, but only one that registered after the
 * token's generation (so it may not take it), the token waits for the next
 * Set's waiter - the Set is late, not lost, and only after a waiter died.
 * Pulse on an auto-reset event releases a waiter that is asleep; one that
 * registered but has not yet gone to sleep when the Pulse comes is not
 * released (the Pulse's token is dropped when its wake finds no sleeper).
 */
#include <stdatomic.h>

#include "crash_point.h"
#include "export.h"
#include "futex.h"
#include "hazard.h"
#include "last_error.h"
#include "sync.h"

struct event_state {
    _Atomic uint32_t wake;
    uint32_t manual;
    _Atomic uint64_t word;
};

#define SIGNALLED 1ull
#define FIELD_BITS 21
#define FIELD_MASK ((1ull << FIELD_BITS) - 1)
#define GEN_SHIFT 1
#define WAITERS_SHIFT (GEN_SHIFT + FIELD_BITS)
#define TOKENS_SHIFT (WAITERS_SHIFT + FIELD_BITS)

static uint32_t gen_of(uint64_t w) { return (uint32_t)(w >> GEN_SHIFT & FIELD_MASK); }
static uint32_t waiters_of(uint64_t w) { return (uint32_t)(w >> WAITERS_SHIFT & FIELD_MASK); }
static uint32_t tokens_of(uint64_t w) { return (uint32_t)(w >> TOKENS_SHIFT & FIELD_MASK); }

static uint64_t with(uint64_t w, int shift, uint32_t value)
{
    return (w & ~(FIELD_MASK << shift)) | ((uint64_t)(value & FIELD_MASK) << shift);
}
static uint64_t bump_gen(uint64_t w) { return with(w, GEN_SHIFT, gen_of(w) + 1); }

static void init(struct iw_object *obj, const void *arg)
{
    const BOOLEAN *flags = arg; /* {manual, initial} */
    struct event_state *e = iw_object_state(obj);
    e->manual = flags[0];
    atomic_init(&e->word, flags[1] ? SIGNALLED : 0);
}

_Atomic uint32_t *iw_event_wake_word(void *state) { return &((struct event_state *)state)->wake; }

int iw_event_try(void *state)
{
    struct event_state *e = state;
    uint64_t w = atomic_load(&e->word);
    do {
        if (!(w & SIGNALLED))
            return 0;
        if (e->manual)
            return 1;
    } while (!atomic_compare_exchange_weak(&e->word, &w, w & ~SIGNALLED));
    return 1;
}

uint32_t iw_event_enter(void *state)
{
    struct event_state *e = state;
    uint64_t w = atomic_load(&e->word);
    while (!atomic_compare_exchange_weak(&e->word, &w, with(w, WAITERS_SHIFT, waiters_of(w) + 1)))
        ;
    return gen_of(w);
}

int iw_event_poll(void *state, uint32_t cookie)
{
    struct event_state *e = state;
    uint64_t w = atomic_load(&e->word), next;
    do {
        bool released = gen_of(w) != cookie;
        next = with(w, WAITERS_SHIFT, waiters_of(w) - 1);
        if (e->manual) {
            if (!(w & SIGNALLED) && !released)
                return 0;
        } else if (released && tokens_of(w) > 0) {
            next = with(next, TOKENS_SHIFT, tokens_of(w) - 1);
        } else if (w & SIGNALLED) {
            next &= ~SIGNALLED;
        } else {
            return 0;
        }
    } while (!atomic_compare_exchange_weak(&e->word, &w, next));
    return 1;
}

/* Leaving without taking the event.  A token that may have been handed to
 * us is not left stranded: it becomes the signalled state, for the others. */
void iw_event_leave(void *state, uint32_t cookie)
{
    struct event_state *e = state;
    uint64_t w = atomic_load(&e->word), next;
    bool gave_back;
    do {
        next = with(w, WAITERS_SHIFT, waiters_of(w) - 1);
        gave_back = !e->manual && gen_of(w) != cookie && tokens_of(w) > 0;
        if (gave_back)
            next = with(next, TOKENS_SHIFT, tokens_of(w) - 1) | SIGNALLED;
    } while (!atomic_compare_exchange_weak(&e->word, &w, next));
    if (gave_back && waiters_of(next) > 0) {
        atomic_fetch_add(&e->wake, 1);
        iw_futex_wake_all(&e->wake);
    }
}

/* Wakes the sleepers after a release.  If none was asleep to take the token
 * we handed over (its waiter died, or has not gone to sleep yet), a Set
 * turns it back into the signalled state - unless the event is set already,
 * and then the token stays for a registered waiter to take: either way no
 * Set is lost.  A Pulse drops it. */
static void release_sleepers(struct event_state *e, bool token, bool set)
{
    atomic_fetch_add(&e->wake, 1);
    if (iw_futex_wake_all(&e->wake) > 0 || !token)
        return;
    uint64_t w = atomic_load(&e->word), next;
    do {
        if (tokens_of(w) == 0 || (set && (w & SIGNALLED)))
            return; /* taken meanwhile, or kept */
        next = with(w, TOKENS_SHIFT, tokens_of(w) - 1);
        if (set)
            next |= SIGNALLED;
    } while (!atomic_compare_exchange_weak(&e->word, &w, next));
}

/* Set (set=true) and Pulse (set=false). */
static BOOLEAN signal_event(HANDLE h, bool set)
{
    struct iw_object *obj = iw_object_pin(h, IW_TYPE_EVENT);
    if (obj == NULL)
        return FALSE;
    struct event_state *e = iw_object_state(obj);
    uint64_t w = atomic_load(&e->word), next;
    bool wake, token;
    do {
        next = w;
        token = false;
        if (e->manual) {
            /* Everyone registered now is released; a Set also stays set. */
            wake = waiters_of(w) > 0;
            if (wake)
                next = bump_gen(next);
            next = set ? next | SIGNALLED : next & ~SIGNALLED;
        } else {
            /* Waiters not yet provided for - by a token each, or by the
             * signalled state, which one of them will take - get a token. */
            token = waiters_of(w) > tokens_of(w) + (w & SIGNALLED ? 1 : 0);
            wake = token;
            if (token)
                next = bump_gen(with(next, TOKENS_SHIFT, tokens_of(w) + 1));
            else if (set)
                next |= SIGNALLED;
            else
                next &= ~SIGNALLED;
        }
    } while (!atomic_compare_exchange_weak(&e->word, &w, next));
    if (wake) {
        IW_CRASH_POINT("event.signalled");
        release_sleepers(e, token, set);
    }
    iw_object_unpin();
    return TRUE;
}

IW_API BOOLEAN RtSetEvent(HANDLE h) { return signal_event(h, true); }
IW_API BOOLEAN RtPulseEvent(HANDLE h) { return signal_event(h, false); }

IW_API BOOLEAN RtResetEvent(HANDLE h)
{
    struct iw_object *obj = iw_object_pin(h, IW_TYPE_EVENT);
    if (obj == NULL)
        return FALSE;
    struct event_state *e = iw_object_state(obj);
    atomic_fetch_and(&e->word, ~SIGNALLED);
    iw_object_unpin();
    return TRUE;
}

IW_API HANDLE RtCreateEvent(LPSECURITY_ATTRIBUTES a, BOOLEAN bManualReset, BOOLEAN bInitialState, LPCTSTR lpName)
{
    (void)a;
    BOOLEAN flags[2] = {bManualReset != 0, bInitialState != 0};
    struct iw_new_state state = {.init = init, .arg = flags};
    return iw_sync_create(IW_TYPE_EVENT, lpName, &state);
}

IW_API HANDLE RtOpenEvent(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName)
{
    (void)dwDesiredAccess;
    (void)bInheritHandle;
    return iw_sync_open(IW_TYPE_EVENT, lpName);
}
