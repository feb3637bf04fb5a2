/*
 * SPEC 9: thread priorities.  INtime has three scales for one priority: its
 * own (0 best .. 254), Win32 levels (-15 .. +15, higher is better; the calls
 * without the Rt prefix) and RTX's (0 .. 127, 127 highest; the Rt calls).
 * Here the one real priority is the kernel's SCHED_FIFO priority (1 .. 99,
 * higher is better), and the two API scales map onto it by one mapping:
 *
 *   RTX p (0 .. 127)       -> SCHED_FIFO max(1, p - 28)
 *                              (RTX 29 .. 127 are FIFO 1 .. 99, one to one;
 *                               RTX 0 .. 28 share FIFO 1, the lowest)
 *   Win32 w (-15 .. +15)   -> RTX 0 for THREAD_PRIORITY_IDLE (-15),
 *                              RTX 127 for THREAD_PRIORITY_TIME_CRITICAL (15),
 *                              RTX 63 + 2w otherwise (NORMAL 63, HIGHEST 67:
 *                              INtime's one published example, HIGHEST =
 *                              RTX 67), then as RTX
 *
 * RTX keeps the top of its scale distinct, where real-time designs put their
 * priorities, and keeps 127 the highest priority there is (FIFO 99).  Every
 * Win32 level has a FIFO priority of its own (IDLE 1, -14 .. 14 on 7 .. 63
 * step 2, TIME_CRITICAL 99).
 *
 * Back: GetThreadPriority returns the highest level whose FIFO priority is
 * at or below the thread's (exact for every level); RtGetThreadPriority
 * returns the RTX value this thread last set through either call if its
 * FIFO priority is still the one that set, else FIFO f + 28 (RTX 0 for FIFO
 * 1): so Get returns exactly what Set set, and a priority set from outside
 * (chrt) still reads sensibly.  A thread that is not real-time (SCHED_OTHER,
 * _BATCH, _IDLE) reads THREAD_PRIORITY_NORMAL and RTX 0: a new thread's
 * values in Win32 and RTX.  What is read is the thread's own priority, not
 * one priority inheritance lent it (the kernel keeps both).
 *
 * A process without the right to real-time priorities (no CAP_SYS_NICE and
 * RLIMIT_RTPRIO below the priority asked) gets FALSE and
 * ERROR_ACCESS_DENIED, and its priority is unchanged: never a silent no-op.
 *
 * Handles: GetCurrentThread()'s pseudo-handle, for any thread (one the
 * library did not create too), and the handles of threads the library
 * created (CreateThread, OpenThread), held for the call so that the thread
 * cannot end under it (thread.h).  The value last set is kept in the
 * thread's object for those, per thread for the others.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "export.h"
#include "last_error.h"
#include "priority.h"
#include "thread.h"

#define RTX_TO_FIFO_OFFSET 28

/* The record of what was last set on a thread (thread.h): its RTX value and
 * the FIFO priority that made, in one word (0: nothing set). */
static uint32_t last_set_of(int fifo, int rtx) { return (uint32_t)fifo << 8 | (uint32_t)rtx; }
static int fifo_in(uint32_t last_set) { return (int)(last_set >> 8); }
static int rtx_in(uint32_t last_set) { return (int)(last_set & 0xFF); }

IW_API HANDLE GetCurrentThread(void) { return IW_CURRENT_THREAD; }
IW_API HANDLE RtGetCurrentThread(void) __attribute__((alias("GetCurrentThread")));

int iw_fifo_of_rtx(int p) { return p - RTX_TO_FIFO_OFFSET > 1 ? p - RTX_TO_FIFO_OFFSET : 1; }

static int rtx_of_win32(int w)
{
    if (w == THREAD_PRIORITY_IDLE)
        return RT_PRIORITY_MIN;
    if (w == THREAD_PRIORITY_TIME_CRITICAL)
        return RT_PRIORITY_MAX;
    return 63 + 2 * w;
}

static BOOLEAN set_rtx(HANDLE h, int rtx)
{
    struct iw_thread_target t;
    if (!iw_thread_target_begin(h, &t))
        return FALSE;
    struct sched_param sp = {.sched_priority = iw_fifo_of_rtx(rtx)};
    int err = pthread_setschedparam(t.thread, SCHED_FIFO, &sp);
    if (err == 0)
        atomic_store(t.last_set, last_set_of(sp.sched_priority, rtx));
    iw_thread_target_end(&t);
    if (err != 0) {
        /* EPERM: no CAP_SYS_NICE and RLIMIT_RTPRIO too low. */
        iw_set_error(err == EPERM ? ERROR_ACCESS_DENIED : iw_error_from_errno(err));
        return FALSE;
    }
    return TRUE;
}

void iw_priority_record(int rtx)
{
    struct iw_thread_target t;
    if (iw_thread_target_begin(IW_CURRENT_THREAD, &t)) {
        atomic_store(t.last_set, last_set_of(iw_fifo_of_rtx(rtx), rtx));
        iw_thread_target_end(&t);
    }
}

/* The thread's SCHED_FIFO/SCHED_RR priority as the kernel has it (one set
 * from outside, by chrt, too), 0 if it is not real-time, -1 (last error
 * set) on failure; *last: what was last set on it. */
static int fifo_of(HANDLE h, uint32_t *last)
{
    struct iw_thread_target t;
    if (!iw_thread_target_begin(h, &t))
        return -1;
    int policy = sched_getscheduler(t.tid);
    struct sched_param sp;
    int err = policy < 0 || sched_getparam(t.tid, &sp) != 0 ? errno : 0;
    /* A policy set with SCHED_RESET_ON_FORK (chrt -R) comes back with that
     * flag ORed in: the policy is what is left. */
    policy &= ~SCHED_RESET_ON_FORK;
    *last = atomic_load(t.last_set);
    iw_thread_target_end(&t);
    if (err != 0) {
        iw_set_error(iw_error_from_errno(err));
        return -1;
    }
    return policy == SCHED_FIFO || policy == SCHED_RR ? sp.sched_priority : 0;
}

IW_API BOOLEAN RtSetThreadPriority(HANDLE hThread, int nPriority)
{
    if (nPriority < RT_PRIORITY_MIN || nPriority > RT_PRIORITY_MAX) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    return set_rtx(hThread, nPriority);
}

IW_API BOOLEAN SetThreadPriority(HANDLE hThread, int nPriority)
{
    if (nPriority < THREAD_PRIORITY_IDLE || nPriority > THREAD_PRIORITY_TIME_CRITICAL) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    return set_rtx(hThread, rtx_of_win32(nPriority));
}

IW_API INT RtGetThreadPriority(HANDLE hThread)
{
    uint32_t last;
    int fifo = fifo_of(hThread, &last);
    if (fifo < 0)
        return THREAD_PRIORITY_ERROR_RETURN;
    if (fifo == 0)
        return RT_PRIORITY_MIN;
    if (fifo == fifo_in(last))
        return rtx_in(last);
    return fifo == 1 ? RT_PRIORITY_MIN : fifo + RTX_TO_FIFO_OFFSET;
}

IW_API INT GetThreadPriority(HANDLE hThread)
{
    uint32_t last;
    int fifo = fifo_of(hThread, &last);
    if (fifo < 0)
        return THREAD_PRIORITY_ERROR_RETURN;
    if (fifo == 0)
        return THREAD_PRIORITY_NORMAL;
    int w = THREAD_PRIORITY_TIME_CRITICAL;
    while (iw_fifo_of_rtx(rtx_of_win32(w)) > fifo)
        w--;
    return w;
}
