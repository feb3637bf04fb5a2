/*
 * Semaphores (SPEC 6).  The state is one 64-bit word - count (low half) and
 * registered waiters (high half) - plus the wake counter.  Units have no
 * owner: a unit taken by a process that dies stays taken (as in Win32), and
 * a waiter that dies while registered costs later Releases one futex wake
 * each, never a unit.  Release with no waiter is one compare-and-swap.
 */
#include <stdatomic.h>

#include "crash_point.h"
#include "describe.h"
#include "export.h"
#include "futex.h"
#include "hazard.h"
#include "last_error.h"
#include "sync.h"

struct semaphore_state {
    _Atomic uint32_t wake;
    LONG maximum;
    _Atomic uint64_t word;
};

#define COUNT_MASK 0xFFFFFFFFull
#define ONE_WAITER (1ull << 32)

static void init(struct iw_object *obj, const void *arg)
{
    const LONG *counts = arg; /* {initial, maximum} */
    struct semaphore_state *s = iw_object_state(obj);
    s->maximum = counts[1];
    atomic_init(&s->word, (uint64_t)(uint32_t)counts[0]);
}

_Atomic uint32_t *iw_semaphore_wake_word(void *state) { return &((struct semaphore_state *)state)->wake; }

/* Takes a unit, and drops a registration with it when waiter is true. */
static int take(struct semaphore_state *s, bool waiter)
{
    uint64_t w = atomic_load(&s->word);
    do {
        if ((w & COUNT_MASK) == 0)
            return 0;
    } while (!atomic_compare_exchange_weak(&s->word, &w, w - 1 - (waiter ? ONE_WAITER : 0)));
    return 1;
}

int iw_semaphore_try(void *state) { return take(state, false); }
int iw_semaphore_poll(void *state) { return take(state, true); }
void iw_semaphore_enter(void *state) { atomic_fetch_add(&((struct semaphore_state *)state)->word, ONE_WAITER); }
void iw_semaphore_leave(void *state) { atomic_fetch_sub(&((struct semaphore_state *)state)->word, ONE_WAITER); }

IW_API BOOLEAN RtReleaseSemaphore(HANDLE h, LONG lReleaseCount, LPLONG lpPreviousCount)
{
    struct iw_object *obj = iw_object_pin(h, IW_TYPE_SEMAPHORE);
    if (obj == NULL)
        return FALSE;
    BOOLEAN ok = FALSE;
    struct semaphore_state *s = iw_object_state(obj);
    uint64_t w = atomic_load(&s->word);
    if (lReleaseCount < 1) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        goto out;
    }
    do {
        if ((int64_t)(w & COUNT_MASK) + lReleaseCount > s->maximum) {
            iw_set_error(ERROR_TOO_MANY_POSTS); /* count and *lpPreviousCount unchanged */
            goto out;
        }
    } while (!atomic_compare_exchange_weak(&s->word, &w, w + (uint64_t)lReleaseCount));
    if (lpPreviousCount)
        *lpPreviousCount = (LONG)(w & COUNT_MASK);
    if (w >> 32) {
        IW_CRASH_POINT("semaphore.released");
        atomic_fetch_add(&s->wake, 1);
        iw_futex_wake_all(&s->wake);
    }
    ok = TRUE;
out:
    iw_object_unpin();
    return ok;
}

IW_API HANDLE RtCreateSemaphore(LPSECURITY_ATTRIBUTES a, LONG lInitialCount, LONG lMaximumCount, LPCTSTR lpName)
{
    (void)a;
    if (lMaximumCount < 1 || lInitialCount < 0 || lInitialCount > lMaximumCount)
        return iw_fail(ERROR_INVALID_PARAMETER);
    LONG counts[2] = {lInitialCount, lMaximumCount};
    struct iw_new_state state = {.init = init, .arg = counts};
    return iw_sync_create(IW_TYPE_SEMAPHORE, lpName, &state);
}

IW_API HANDLE RtOpenSemaphore(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName)
{
    (void)dwDesiredAccess;
    (void)bInheritHandle;
    return iw_sync_open(IW_TYPE_SEMAPHORE, lpName);
}

void iw_semaphore_describe(const void *state, IWIN32_OBJECT_STATE *out)
{
    struct semaphore_state *s = (struct semaphore_state *)state; /* only loaded from */
    uint64_t w = atomic_load(&s->word);
    out->count = (LONG)(w & COUNT_MASK);
    out->maximum = s->maximum;
    out->waiters = (uint32_t)(w >> 32);
}
