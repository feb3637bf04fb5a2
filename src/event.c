/*
 * Events (SPEC 6).  The state (event_state.h) is one 64-bit word changed
 * by compare-and-swap plus the wake counter sleepers wait on:
 *
 *   signalled  the event is set;
 *   gen        bumped by every Set/Pulse that releases registered waiters;
 *              a waiter remembers the gen it registered under, and only a
 *              bump after that releases it - newcomers can't be released by
 *              (or steal from) a Set or Pulse that came before them;
 *   old, new   registered waiters: "old" ones registered before the last
 *              bump (so a token may be theirs), "new" ones since.  A bump
 *              makes every new waiter old.  Each waiter leaves by itself,
 *              taken or not; one woken that finds no token stays an old
 *              waiter, and a later Set or Pulse counts it again;
 *   tokens     auto-reset only (a manual-reset event keeps gen's upper
 *              bits there): Sets and Pulses handed to old waiters, not
 *              yet taken (never more than there are old waiters).  An
 *              auto-reset Set or Pulse that finds more waiters than tokens
 *              hands one over instead of setting the event, so k Sets or k
 *              back-to-back Pulses release k waiters and the event stays
 *              reset.  A waiter takes the signalled state before a
 *              Pulse's token (one left over goes as at a leave:
 *              iw_event_leave), a Set's token before the signalled state;
 *   settok     some outstanding token came from a Set (so one left over
 *              becomes the signalled state; a Pulse's is dropped).
 *
 * Set/Reset with no waiter is one compare-and-swap, no system call.
 *
 * Crashes.  A setter killed between its state change and its wake call
 * leaves sleepers asleep until their timeout or the next signal (a window
 * of a few instructions).  A waiter killed while registered stays counted
 * as an old waiter.  An auto-reset Set that hands it a token and whose wake
 * call wakes no old waiter turns the token back into the signalled state,
 * so that Set is not lost.  A Pulse cannot do the same: a wake that finds nobody
 * asleep may only mean that the waiters are awake, between an earlier wake
 * and their next sleep (back-to-back Pulses), so its token stays.  Known
 * gap: a Pulse that finds only dead registrations leaves a token that
 * nobody takes, and once a later Set or Pulse makes newer waiters old, one
 * of them may take it - one extra release per such Pulse, and only after a
 * waiter was killed while waiting.
 *
 * Counts: gen has 15 bits (30 for a manual-reset event: gen_in), the
 * counts 16 (65535 waiters per event - each handle of a multi-object wait
 * counts - and a wait beyond is refused).  A waiter of an auto-reset event
 * asleep through a multiple of 32768 bumps would take itself for a new one: it then leaves the new count if that is not 0, the old one
 * otherwise, so the totals stay right.
 */
#include <stdatomic.h>

#include "crash_point.h"
#include "iwin32_inspect.h"
#include "event_state.h"
#include "event_wait.h"
#include "export.h"
#include "futex.h"
#include "hazard.h"
#include "hot.h"
#include "last_error.h"
#include "object.h"
#include "type.h"

static uint64_t with(uint64_t w, int shift, uint64_t mask, uint32_t value)
{
    return (w & ~(mask << shift)) | ((uint64_t)value & mask) << shift;
}
static uint64_t with_old(uint64_t w, uint32_t v) { return with(w, EVENT_OLD_SHIFT, EVENT_WAITER_MASK, v); }
static uint64_t with_new(uint64_t w, uint32_t v) { return with(w, EVENT_NEW_SHIFT, EVENT_WAITER_MASK, v); }
static uint64_t with_tokens(uint64_t w, uint32_t v)
{
    w = with(w, EVENT_TOKENS_SHIFT, EVENT_COUNT_MASK, v);
    return v ? w : w & ~EVENT_SETTOK;
}

/* The generation: 15 bits, and for a manual-reset event, whose tokens are
 * never used, 30 - the tokens' bits above them - so that a waiter stopped
 * (SIGSTOP, a debugger) through 32768 Pulses is not taken for a new one and
 * left asleep (test_manual_waiter_stopped_through_pulses: it slept to its
 * timeout). */
#define GEN_BITS 15
_Static_assert(EVENT_GEN_MASK == (1u << GEN_BITS) - 1, "gen's bits");
static uint32_t gen_in(const struct event_state *e, uint64_t w)
{
    return gen_of(w) | (e->manual ? tokens_of(w) << GEN_BITS : 0);
}

/* Releases every registered waiter: all of them become old. */
static uint64_t bump_gen(const struct event_state *e, uint64_t w)
{
    uint32_t gen = gen_in(e, w) + 1;
    w = with(w, EVENT_GEN_SHIFT, EVENT_GEN_MASK, gen);
    if (e->manual)
        w = with(w, EVENT_TOKENS_SHIFT, EVENT_COUNT_MASK, gen >> GEN_BITS);
    return with_new(with_old(w, old_of(w) + new_of(w)), 0);
}

/* A waiter that registered under cookie: released by a bump since. */
static bool released(const struct event_state *e, uint64_t w, uint32_t cookie) { return gen_in(e, w) != cookie; }

/* w less the waiter that registered under cookie. */
static uint64_t unregister(const struct event_state *e, uint64_t w, uint32_t cookie)
{
    if (released(e, w, cookie) ? old_of(w) == 0 : new_of(w) > 0)
        return with_new(w, new_of(w) - 1);
    return with_old(w, old_of(w) - 1);
}

/* w, an old waiter gone from it without its token (an auto-reset event's
 * tokens are never more than its old waiters): one token too many - one
 * that may have been handed to that waiter - is not left stranded: a Set's
 * becomes the signalled state (*gave_back), for the others, a Pulse's is
 * dropped (a Pulse never leaves the event set). */
static uint64_t without_surplus(uint64_t w, bool *gave_back)
{
    *gave_back = false;
    if (tokens_of(w) <= old_of(w))
        return w;
    *gave_back = (w & EVENT_SETTOK) != 0;
    return with_tokens(w, tokens_of(w) - 1) | (*gave_back ? EVENT_SIGNALLED : 0);
}

struct event_params {
    bool manual, initial;
};

static void init(void *state, const void *params)
{
    const struct event_params *p = params;
    struct event_state *e = state;
    e->manual = p->manual;
    atomic_init(&e->word, p->initial ? EVENT_SIGNALLED : 0);
}

_Atomic uint32_t *iw_event_wake_word(void *state) { return &((struct event_state *)state)->wake; }

IW_HOT_WAIT int iw_event_try_take(void *state, bool *abandoned)
{
    (void)abandoned; /* an event has no owner */
    struct event_state *e = state;
    uint64_t w = atomic_load(&e->word);
    do {
        if (!(w & EVENT_SIGNALLED))
            return 0;
        if (e->manual)
            return 1;
    } while (!atomic_compare_exchange_weak(&e->word, &w, w & ~EVENT_SIGNALLED));
    return 1;
}

/* Refused at 65535 registrations: one more would wrap a count to 0, and a
 * Set or Pulse would then see no waiter (test_waiter_limit: a Pulse
 * released none of 65536).  A bump adds new to old: the total must fit. */
uint32_t iw_event_enter(void *state)
{
    struct event_state *e = state;
    uint64_t w = atomic_load(&e->word);
    do {
        if (old_of(w) + new_of(w) >= EVENT_WAITER_MASK)
            return IW_ENTER_FULL;
    } while (!atomic_compare_exchange_weak(&e->word, &w, with_new(w, new_of(w) + 1)));
    return gen_in(e, w);
}

IW_HOT_WAIT int iw_event_poll(void *state, uint32_t cookie, bool *abandoned)
{
    (void)abandoned;
    struct event_state *e = state;
    uint64_t w = atomic_load(&e->word), next;
    do {
        next = unregister(e, w, cookie);
        if (e->manual) {
            if (!(w & EVENT_SIGNALLED) && !released(e, w, cookie))
                return 0;
        } else if (released(e, w, cookie) && tokens_of(w) > 0 &&
                   (!(w & EVENT_SIGNALLED) || (w & EVENT_SETTOK))) {
            /* A Set's token before the signalled state (a Set's too):
             * taking the state, the waiter would leave the token to the
             * old waiters that remain - for good, if they are dead (two
             * Sets, one live waiter and a killed one: the second Set was
             * lost; test_event_stopped). */
            next = with_tokens(next, tokens_of(w) - 1);
        } else if (w & EVENT_SIGNALLED) {
            /* The signalled state before a Pulse's token: a Pulse that
             * found the event set and more waiters than it provided for
             * kept it set for one of them and handed the rest a token; an
             * old waiter that took that token instead, while another one
             * left, would leave the Pulse's event set (test_event_stopped).
             * Taken here, the token left over goes as at a leave. */
            bool gave_back;
            next = without_surplus(next & ~EVENT_SIGNALLED, &gave_back);
        } else {
            return 0; /* still registered: a later Set or Pulse counts us */
        }
    } while (!atomic_compare_exchange_weak(&e->word, &w, next));
    return 1;
}

/* Leaving without taking the event (timed out, or a multi-object wait took
 * another object).  Tokens stay for the old waiters that remain. */
IW_HOT_WAIT void iw_event_leave(void *state, uint32_t cookie)
{
    struct event_state *e = state;
    uint64_t w = atomic_load(&e->word), next;
    bool gave_back = false;
    do {
        next = unregister(e, w, cookie);
        if (!e->manual) /* whose token bits are gen's */
            next = without_surplus(next, &gave_back);
    } while (!atomic_compare_exchange_weak(&e->word, &w, next));
    if (gave_back && old_of(next) + new_of(next) > 0) {
        atomic_fetch_add(&e->wake, 1);
        iw_futex_wake_all(&e->wake);
    }
}

/* Wakes the sleepers after a release.  If no old waiter was asleep to take
 * a Set's token (its waiter died, or is awake and will poll), the token
 * turns back into the signalled state - unless the event is set already,
 * and then the token stays for a registered waiter to take: either way no
 * Set is lost, and a waiter that is awake takes the signalled state as
 * well as a token.  The wake may have woken new waiters, registered since
 * the bump - asleep when it came, and unable to take the token: only more
 * woken than there are new waiters now shows an old one woke
 * (test_set_for_dead_waiter_reaches_newcomer: a new waiter woken in the
 * place of a dead old one counted as the token's taker, and slept on to
 * its timeout).  Such a new waiter may poll and go back to sleep before
 * the token turns into the signalled state: a second wake tells it.  A
 * Pulse's token stays: see Crashes above. */
IW_HOT_SIGNAL static void release_sleepers(struct event_state *e, bool set_token)
{
    atomic_fetch_add(&e->wake, 1);
    int woken = iw_futex_wake_all(&e->wake);
    if (!set_token)
        return;
    uint64_t w = atomic_load(&e->word), next;
    do {
        if (woken > (int)new_of(w) || tokens_of(w) == 0 || (w & EVENT_SIGNALLED))
            return; /* taken by an old waiter woken, meanwhile, or kept */
        next = with_tokens(w, tokens_of(w) - 1) | EVENT_SIGNALLED;
    } while (!atomic_compare_exchange_weak(&e->word, &w, next));
    if (new_of(next) > 0) {
        atomic_fetch_add(&e->wake, 1);
        iw_futex_wake_all(&e->wake);
    }
}

/* Set (set=true) and Pulse (set=false) of the state e. */
IW_HOT_SIGNAL void iw_event_signal(struct event_state *e, bool set)
{
    uint64_t w = atomic_load(&e->word), next;
    bool wake, token;
    do {
        next = w;
        token = false;
        uint32_t waiters = old_of(w) + new_of(w);
        if (e->manual) {
            /* Everyone registered now is released; a Set also stays set. */
            wake = waiters > 0;
            if (wake)
                next = bump_gen(e, next);
            next = set ? next | EVENT_SIGNALLED : next & ~EVENT_SIGNALLED;
        } else {
            /* Waiters not yet provided for by a token get one.  The
             * signalled state provides for one of them too, and a Set or
             * Pulse leaves it to that waiter - unless it is the only one
             * without a token: then the state is that waiter's (one the
             * event was set for before its first poll, or the token of a
             * Set whose wake found it not asleep yet: release_sleepers),
             * and this Set or Pulse finds no other waiter to release - the
             * state is handed over to it as a token, and a Set leaves the
             * event set, a Pulse reset.  Left as it was, the second Set was
             * absorbed and a Pulse took the first one's away
             * (test_set_set_one_waiter, test_set_pulse_one_waiter: the
             * event ended reset, the waiter slept to its timeout); nor can
             * a Pulse leave it set, as that waiter may be a killed one's
             * registration (test_pulse_after_dead_waiter_resets). */
            bool signalled = (w & EVENT_SIGNALLED) != 0;
            token = waiters > tokens_of(w) && tokens_of(w) < EVENT_COUNT_MASK;
            wake = token;
            if (token) {
                next = bump_gen(e, with_tokens(next, tokens_of(w) + 1)) | (set ? EVENT_SETTOK : 0);
                if (!set && signalled && waiters == tokens_of(w) + 1)
                    next &= ~EVENT_SIGNALLED;
            } else if (set) {
                next |= EVENT_SIGNALLED;
            } else {
                next &= ~EVENT_SIGNALLED;
            }
        }
    } while (!atomic_compare_exchange_weak(&e->word, &w, next));
    if (wake) {
        IW_CRASH_POINT("event.signalled");
        release_sleepers(e, token && set);
    }
}

IW_HOT_SIGNAL static BOOLEAN signal_event(HANDLE h, bool set)
{
    struct iw_pinned p;
    if (!iw_hazard_pin_found(h, &iw_event_ops, &p))
        return FALSE;
    iw_event_signal(p.state, set);
    iw_hazard_unpin();
    return TRUE;
}

IW_HOT_SIGNAL IW_API BOOLEAN RtSetEvent(HANDLE h) { return signal_event(h, true); }
IW_API BOOLEAN RtPulseEvent(HANDLE h) { return signal_event(h, false); }

void iw_event_reset(struct event_state *e) { atomic_fetch_and(&e->word, ~EVENT_SIGNALLED); }

IW_API BOOLEAN RtResetEvent(HANDLE h)
{
    struct iw_pinned p;
    if (!iw_hazard_pin_found(h, &iw_event_ops, &p))
        return FALSE;
    iw_event_reset(p.state);
    iw_hazard_unpin();
    return TRUE;
}

IW_API HANDLE RtCreateEvent(LPSECURITY_ATTRIBUTES a, BOOLEAN bManualReset, BOOLEAN bInitialState, LPCTSTR lpName)
{
    (void)a;
    struct event_params params = {.manual = bManualReset != 0, .initial = bInitialState != 0};
    return iw_object_create_handle(&iw_event_ops, lpName, &params);
}

IW_API HANDLE RtOpenEvent(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName)
{
    (void)dwDesiredAccess;
    (void)bInheritHandle;
    return iw_object_open_handle(&iw_event_ops, lpName);
}

static void describe(const void *state, IWIN32_OBJECT_STATE *out)
{
    struct event_state *e = (struct event_state *)state; /* only loaded from */
    uint64_t w = atomic_load(&e->word);
    out->manualReset = e->manual != 0;
    out->signalled = (w & EVENT_SIGNALLED) != 0;
    out->waiters = old_of(w) + new_of(w);
}

const struct iw_object_ops iw_event_ops = {
    .type = IW_TYPE_EVENT,
    .layout = 1,
    .name = "event",
    .state_size = sizeof(struct event_state),
    .init = init,
    IW_EVENT_WAIT_OPS,
    .describe = describe,
};
