/*
 * SPEC 9: critical sections - INtime's nameless mutexes, for the threads of
 * one process.  A CRITICAL_SECTION holds a priority-inheriting pthread
 * mutex (a waiting real-time thread lifts a lower-priority owner, as an
 * INtime mutex does) and counts its owner's entries itself (entered again
 * by its owner, left once per entry, as Win32's).  Entering and leaving
 * without contention is glibc's PI fast path: one compare-and-swap in user
 * space, no system call; entering again, an increment.  Not shared between
 * processes: that is what RtCreateMutex is for.
 *
 * The pthread mutex is a plain (not recursive) one because of deadlocks:
 * two threads entering two sections in opposite orders make a cycle the
 * kernel finds in the PI chain, and it answers the second thread's lock
 * with EDEADLK.  For a plain mutex glibc then sleeps that thread for ever -
 * Win32's deadlock, of those two threads only; for a recursive one it
 * asserts the answer never comes and aborts the whole process.
 *
 * It is robust because of a thread that ends inside the section (Win32:
 * the section stays entered, its waiters wait on).  The kernel hands the
 * PI lock of an owner that exits to a waiter asleep in FUTEX_LOCK_PI,
 * marked FUTEX_OWNER_DIED, which glibc asserts never happens to a mutex
 * that is not robust: the whole process aborted.  Robust, that lock (or
 * any later one) answers EOWNERDEAD, and the section lets it go unmarked:
 * glibc then answers every lock ENOTRECOVERABLE, and Enter waits for ever,
 * TryEnter fails - entered for good, by the thread that ended.
 *
 * The calls return nothing (Win32's VOID), so a misuse they can notice sets
 * the last error instead: a NULL pointer or a section that was never
 * initialised (or was deleted) -> ERROR_INVALID_PARAMETER, leaving a section
 * this thread does not own -> ERROR_NOT_OWNER; the section is left as it
 * was.  A magic word next to the mutex tells an initialised section from
 * other memory (zeroed memory, a deleted section); it is no proof against
 * garbage that happens to hold it.
 *
 * The section keeps its own owner and depth - the recursion, and so that a
 * misuse is refused before it reaches the pthread mutex (whose answer to a
 * foreign unlock or a destroy while locked differs between C libraries, and
 * which sanitizers report as the caller's bug).  Only the owner writes
 * them, under the lock; another thread reads owner only to find it is not
 * itself, which no concurrent write can change (relaxed atomics: no data
 * race) - so a thread that reads itself there holds the lock.
 *
 * fork: a section held by the forking thread stays held in the child, by
 * the parent's thread, which the child's is not (a new identity: self.h) -
 * the child's Leave is refused (ERROR_NOT_OWNER), its Enter waits for ever,
 * as Win32's does for a section whose owner is gone.  That wait is the
 * section's own (held_elsewhere): the kernel refuses a private PI lock
 * whose holder is a thread of another process (EPERM), and glibc aborts
 * the process on that answer.  The identity is
 * drawn again in the child by the library's fork handlers, so Initialize
 * installs them (fork.h): without them, in a program whose only use of the
 * library is critical sections, the child kept the parent's identity, its
 * Leave passed the check and the pthread mutex (which belongs to the
 * parent's TID) refused the unlock unseen - the section then held for good.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "export.h"
#include "fork.h"
#include "last_error.h"
#include "self.h"

#define CS_MAGIC 0x43526974u /* "CRit" */

struct cs {
    pthread_mutex_t mutex;
    uint32_t magic;
    uint32_t depth;                 /* entries by the owner; owner only */
    _Atomic uint64_t owner;         /* iw_self_thread() of the owner, 0 if free */
};
_Static_assert(sizeof(struct cs) <= sizeof(((CRITICAL_SECTION *)0)->opaque), "CRITICAL_SECTION too small");
_Static_assert(_Alignof(struct cs) <= _Alignof(CRITICAL_SECTION), "CRITICAL_SECTION misaligned");

/* The section, or NULL (last error set) for NULL or an uninitialised section. */
static struct cs *cs_of(LPCRITICAL_SECTION cs)
{
    struct cs *c = (struct cs *)(void *)cs;
    if (c == NULL || c->magic != CS_MAGIC) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    return c;
}

static bool owned_by_caller(struct cs *c)
{
    return atomic_load_explicit(&c->owner, memory_order_relaxed) == iw_self_thread();
}

/* The caller has just locked c's mutex. */
static void entered(struct cs *c)
{
    c->depth = 1;
    atomic_store_explicit(&c->owner, iw_self_thread(), memory_order_relaxed);
}

/* Whether c's lock, which the caller could not take, is held by a thread of
 * another process: in a fork child, the parent's thread that held it at
 * the fork (or was entering or leaving it).  The lock word holds the
 * holder's TID (glibc keeps the PI futex word first, as the kernel's ABI
 * has it).  No thread of this process can let go of such a lock, nor can a
 * thread of another process take it later (the memory is this process's
 * own): once true, true for good.  A TID that names no thread of this
 * process may also be one of its threads that has just left and ended:
 * the word read again then no longer holds it.  (Or one that ended
 * holding it: waiting for ever is glibc's answer to that too.) */
static bool held_elsewhere(struct cs *c)
{
    _Atomic uint32_t *word = (_Atomic uint32_t *)&c->mutex.__data.__lock;
    uint32_t tid = atomic_load_explicit(word, memory_order_relaxed) & FUTEX_TID_MASK;
    return tid != 0 && syscall(SYS_tgkill, getpid(), (pid_t)tid, 0) != 0 && errno == ESRCH &&
           (atomic_load_explicit(word, memory_order_relaxed) & FUTEX_TID_MASK) == tid;
}

/* A lock's answer, 0 if the caller now holds the lock.  EOWNERDEAD (the
 * lock is the caller's, its owner ended inside the section): let go of
 * unmarked, so that it stays refused to all (header). */
static int lock_answer(struct cs *c, int err)
{
    if (err != EOWNERDEAD)
        return err;
    pthread_mutex_unlock(&c->mutex);
    return ENOTRECOVERABLE;
}

/* The owner enters again: true, or false past UINT32_MAX entries (the
 * count would wrap; the entry is refused, as glibc refuses a recursive
 * mutex's past its count). */
static bool entered_again(struct cs *c)
{
    if (c->depth == UINT32_MAX)
        return false;
    c->depth++;
    return true;
}

IW_API VOID InitializeCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    if (lpCriticalSection == NULL) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return;
    }
    iw_fork_watch(); /* the owner's identity must be drawn again in a child */
    struct cs *c = (struct cs *)(void *)lpCriticalSection;
    memset(lpCriticalSection, 0, sizeof *lpCriticalSection);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
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
    struct cs *c = cs_of(lpCriticalSection);
    if (c == NULL)
        return;
    if (owned_by_caller(c)) {
        entered_again(c);
        return;
    }
    int err = lock_answer(c, pthread_mutex_trylock(&c->mutex));
    if (err == EBUSY) {
        while (held_elsewhere(c))
            pause(); /* for ever; suspended or terminated meanwhile as anywhere */
        err = lock_answer(c, pthread_mutex_lock(&c->mutex)); /* (in a deadlock glibc sleeps in it for ever) */
    }
    while (err == ENOTRECOVERABLE)
        pause(); /* its owner ended inside it: the same */
    if (err != 0)
        return;
    entered(c);
}

IW_API BOOLEAN TryEnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    struct cs *c = cs_of(lpCriticalSection);
    if (c == NULL)
        return FALSE;
    if (owned_by_caller(c))
        return entered_again(c);
    if (lock_answer(c, pthread_mutex_trylock(&c->mutex)) != 0)
        return FALSE;
    entered(c);
    return TRUE;
}

IW_API VOID LeaveCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    struct cs *c = cs_of(lpCriticalSection);
    if (c == NULL)
        return;
    if (!owned_by_caller(c)) { /* not the owner, or left more often than entered */
        iw_set_error(ERROR_NOT_OWNER);
        return;
    }
    if (--c->depth > 0)
        return;
    atomic_store_explicit(&c->owner, 0, memory_order_relaxed);
    pthread_mutex_unlock(&c->mutex);
}

/* Deleting a section a thread owns is the caller's bug (Win32: undefined);
 * here it is refused and the section stays.  (A thread still waiting for it
 * means another owns it: refused too.) */
IW_API VOID DeleteCriticalSection(LPCRITICAL_SECTION lpCriticalSection)
{
    struct cs *c = cs_of(lpCriticalSection);
    if (c == NULL)
        return;
    if (atomic_load_explicit(&c->owner, memory_order_relaxed) != 0 || pthread_mutex_destroy(&c->mutex) != 0) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return;
    }
    c->magic = 0;
}
