/*
 * SPEC 9: critical sections - INtime's nameless mutexes, for the threads of
 * one process.  A CRITICAL_SECTION holds a pthread mutex that is recursive
 * (entered again by its owner, left once per entry, as Win32's) and
 * priority-inheriting (a waiting real-time thread lifts a lower-priority
 * owner, as an INtime mutex does).  Entering and leaving without contention
 * is glibc's PI fast path: one compare-and-swap in user space, no system
 * call.  Not shared between processes: that is what RtCreateMutex is for.
 *
 * The calls return nothing (Win32's VOID), so a misuse they can notice sets
 * the last error instead: a NULL pointer or a section that was never
 * initialised (or was deleted) -> ERROR_INVALID_PARAMETER, leaving a section
 * this thread does not own -> ERROR_NOT_OWNER; the section is left as it
 * was.  A magic word next to the mutex tells an initialised section from
 * other memory (zeroed memory, a deleted section); it is no proof against
 * garbage that happens to hold it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "export.h"
#include "last_error.h"

#define CS_MAGIC 0x43526974u /* "CRit" */

struct cs {
    pthread_mutex_t mutex;
    uint32_t magic;
};
_Static_assert(sizeof(struct cs) <= sizeof(((CRITICAL_SECTION *)0)->opaque), "CRITICAL_SECTION too small");
_Static_assert(_Alignof(struct cs) <= _Alignof(CRITICAL_SECTION), "CRITICAL_SECTION misaligned");

/* The section's mutex, or NULL (last error set) for NULL or an uninitialised section. */
static pthread_mutex_t *mutex_of(LPCRITICAL_SECTION cs)
{
    struct cs *c = (struct cs *)(void *)cs;
    if (c == NULL || c->magic != CS_MAGIC) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    return &c->mutex;
}

IW_API VOID InitializeCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    if (lpCriticalSection == NULL) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return;
    }
    struct cs *c = (struct cs *)(void *)lpCriticalSection;
    memset(lpCriticalSection, 0, sizeof *lpCriticalSection);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    int err = pthread_mutex_init(&c->mutex, &a);
    pthread_mutexattr_destroy(&a);
    if (err != 0) { /* not on Linux: a PI mutex needs no resources to make */
        iw_set_error(iw_error_from_errno(err));
        return;
    }
    c->magic = CS_MAGIC;
}

IW_API VOID EnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    pthread_mutex_t *m = mutex_of(lpCriticalSection);
    if (m != NULL)
        pthread_mutex_lock(m); /* fails only past 2^31 recursive entries (EAGAIN) */
}

IW_API BOOLEAN TryEnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    pthread_mutex_t *m = mutex_of(lpCriticalSection);
    return m != NULL && pthread_mutex_trylock(m) == 0 ? TRUE : FALSE;
}

IW_API VOID LeaveCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    pthread_mutex_t *m = mutex_of(lpCriticalSection);
    if (m != NULL && pthread_mutex_unlock(m) != 0) /* EPERM: not the owner */
        iw_set_error(ERROR_NOT_OWNER);
}

/* Deleting a section a thread still owns or waits for is the caller's bug
 * (Win32: undefined); here the mutex refuses (EBUSY) and the section stays. */
IW_API VOID DeleteCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    pthread_mutex_t *m = mutex_of(lpCriticalSection);
    if (m == NULL)
        return;
    if (pthread_mutex_destroy(m) != 0) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return;
    }
    ((struct cs *)(void *)lpCriticalSection)->magic = 0;
}
