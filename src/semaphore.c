/*
 * Semaphores (SPEC 6).  The state is one 64-bit word - count (low half) and
 * registered waiters (high half) - plus the wake counter.  Units have no
 * owner: a unit taken by a process that dies stays taken (as in Win32), and
 * a waiter that dies while registered costs later Releases one futex wake
 * each, never a unit.  Release with no waiter is one compare-and-swap.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "crash_point.h"
#include "iwin32_inspect.h"
#include "export.h"
#include "futex.h"
#include "hazard.h"
#include "hot.h"
#include "last_error.h"
#include "object.h"
#include "type.h"

/* Shared by every process of the node: a change bumps iw_semaphore_ops.layout. */
struct semaphore_state {
    _Atomic uint32_t wake;
    LONG maximum;
    _Atomic uint64_t word;
};
_Static_assert(offsetof(struct semaphore_state, maximum) == 4 && offsetof(struct semaphore_state, word) == 8 &&
                   sizeof(struct semaphore_state) == 16 && sizeof(struct semaphore_state) <= IW_STATE_MAX,
               "semaphore state layout (layout 1)");

#define COUNT_MASK 0xFFFFFFFFull
#define ONE_WAITER (1ull << 32)

struct semaphore_params {
    LONG initial, maximum;
};

static void init(void *state, const void *params)
{
    const struct semaphore_params *p = params;
    struct semaphore_state *s = state;
    s->maximum = p->maximum;
    atomic_init(&s->word, (uint64_t)(uint32_t)p->initial);
}

static _Atomic uint32_t *wake_word(void *state) { return &((struct semaphore_state *)state)->wake; }

/* Takes a unit, and drops a registration with it when waiter is true. */
IW_HOT_WAIT static int take(struct semaphore_state *s, bool waiter)
{
    uint64_t w = atomic_load(&s->word);
    do {
        if ((w & COUNT_MASK) == 0)
            return 0;
    } while (!atomic_compare_exchange_weak(&s->word, &w, w - 1 - (waiter ? ONE_WAITER : 0)));
    return 1;
}

/* Units have no owner, so nothing is ever abandoned. */
IW_HOT_WAIT static int try_take(void *state, bool *abandoned)
{
    (void)abandoned;
    return take(state, false);
}

IW_HOT_WAIT static int poll(void *state, uint32_t cookie, bool *abandoned)
{
    (void)cookie;
    (void)abandoned;
    return take(state, true);
}

static uint32_t enter(void *state)
{
    atomic_fetch_add(&((struct semaphore_state *)state)->word, ONE_WAITER);
    return 0;
}

IW_HOT_WAIT static void leave(void *state, uint32_t cookie)
{
    (void)cookie;
    atomic_fetch_sub(&((struct semaphore_state *)state)->word, ONE_WAITER);
}

IW_HOT_SIGNAL IW_API BOOLEAN RtReleaseSemaphore(HANDLE h, LONG lReleaseCount, LPLONG lpPreviousCount)
{
    struct iw_pinned p;
    if (!iw_hazard_pin_found(h, &iw_semaphore_ops, &p))
        return FALSE;
    BOOLEAN ok = FALSE;
    struct semaphore_state *s = p.state;
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
    iw_hazard_unpin();
    return ok;
}

/* Counts no new semaphore may have: only an existing semaphore of that name
 * is an answer.  A Create of an existing name ignores the counts (SPEC 6:
 * "the other arguments ignored"; INtime: they "were already set by the
 * creation process"), whatever they are - Win32 refuses them first, but
 * INtime wins.  Without one, ERROR_INVALID_PARAMETER, and nothing made. */
static HANDLE existing_only(LPCTSTR lpName)
{
    if (lpName == NULL || lpName[0] == '\0')
        return iw_fail(ERROR_INVALID_PARAMETER);
    HANDLE h = iw_object_open_handle(&iw_semaphore_ops, lpName);
    if (h != NULL)
        iw_set_error(ERROR_ALREADY_EXISTS);
    else if (GetLastError() == ERROR_FILE_NOT_FOUND)
        iw_set_error(ERROR_INVALID_PARAMETER);
    return h;
}

IW_API HANDLE RtCreateSemaphore(LPSECURITY_ATTRIBUTES a, LONG lInitialCount, LONG lMaximumCount, LPCTSTR lpName)
{
    (void)a;
    if (lMaximumCount < 1 || lInitialCount < 0 || lInitialCount > lMaximumCount)
        return existing_only(lpName);
    struct semaphore_params params = {.initial = lInitialCount, .maximum = lMaximumCount};
    return iw_object_create_handle(&iw_semaphore_ops, lpName, &params);
}

IW_API HANDLE RtOpenSemaphore(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName)
{
    (void)dwDesiredAccess;
    (void)bInheritHandle;
    return iw_object_open_handle(&iw_semaphore_ops, lpName);
}

static void describe(const void *state, IWIN32_OBJECT_STATE *out)
{
    struct semaphore_state *s = (struct semaphore_state *)state; /* only loaded from */
    uint64_t w = atomic_load(&s->word);
    out->count = (LONG)(w & COUNT_MASK);
    out->maximum = s->maximum;
    out->waiters = (uint32_t)(w >> 32);
}

const struct iw_object_ops iw_semaphore_ops = {
    .type = IW_TYPE_SEMAPHORE,
    .layout = 1,
    .name = "semaphore",
    .state_size = sizeof(struct semaphore_state),
    .init = init,
    .wake_word = wake_word,
    .try_take = try_take,
    .enter = enter,
    .poll = poll,
    .leave = leave,
    .describe = describe,
};
