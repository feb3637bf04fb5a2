/*
 * Futexes shared between processes (never FUTEX_PRIVATE_FLAG: the words live
 * in shared file mappings), and futex_waitv (Linux 5.16+).  Debian 12's
 * kernel headers lack the futex2 flags; they are defined here, once.
 */
#ifndef IW_FUTEX_H
#define IW_FUTEX_H
#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

/* Wakes every sleeper on word (after the caller changed it). */
static inline int iw_futex_wake_all(_Atomic uint32_t *word)
{
    return (int)syscall(SYS_futex, word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* Sleeps while *word == expected, until *deadline (CLOCK_MONOTONIC) or
 * forever when deadline is NULL.  Returns 0, or ETIMEDOUT/EAGAIN/EINTR. */
static inline int iw_futex_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *deadline)
{
    if (syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, deadline, NULL, FUTEX_BITSET_MATCH_ANY) == 0)
        return 0;
    return errno;
}

/* Sleeps until any of n words differs from its value in w, or *deadline. */
static inline int iw_futex_waitv(struct futex_waitv *w, unsigned n, const struct timespec *deadline)
{
    if (syscall(SYS_futex_waitv, w, n, 0, deadline, CLOCK_MONOTONIC) >= 0)
        return 0;
    return errno;
}
#endif
