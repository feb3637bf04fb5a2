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

/* The system call itself, returning -errno on failure (errno untouched).
 * On x86-64 the instruction is inline: a signal or a wake then runs no
 * code outside the library's own hot pages - libc's syscall() is one more
 * page and a PLT hop, which cost a page walk each with cold caches (the
 * wake latency figures in the README). */
static inline long iw_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
#if defined(__x86_64__)
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#else
    long ret = syscall(nr, a1, a2, a3, a4, a5, a6);
    return ret == -1 ? -errno : ret;
#endif
}

/* Wakes every sleeper on word (after the caller changed it): how many woke. */
static inline int iw_futex_wake_all(_Atomic uint32_t *word)
{
    return (int)iw_syscall6(SYS_futex, (long)word, FUTEX_WAKE, INT32_MAX, 0, 0, 0);
}

/* Sleeps while *word == expected, until *deadline (CLOCK_MONOTONIC) or
 * forever when deadline is NULL.  Returns 0, or ETIMEDOUT/EAGAIN/EINTR. */
static inline int iw_futex_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *deadline)
{
    return (int)-iw_syscall6(SYS_futex, (long)word, FUTEX_WAIT_BITSET, (long)expected, (long)deadline, 0,
                             (long)FUTEX_BITSET_MATCH_ANY);
}

/* Sleeps until any of n words differs from its value in w, or *deadline. */
static inline int iw_futex_waitv(struct futex_waitv *w, unsigned n, const struct timespec *deadline)
{
    long rc = iw_syscall6(SYS_futex_waitv, (long)w, (long)n, 0, (long)deadline, CLOCK_MONOTONIC, 0);
    return rc >= 0 ? 0 : (int)-rc;
}
#endif
