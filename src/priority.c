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
 * Handles: only the current thread's pseudo-handle (GetCurrentThread) for
 * now; other threads' handles come with CreateThread.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "export.h"
#include "last_error.h"
#include "priority.h"

#define PSEUDO_CURRENT_THREAD ((HANDLE)(intptr_t)-2)
#define RTX_TO_FIFO_OFFSET 28

/* What this thread last set: its RTX value and the FIFO priority that made
 * (0: nothing set).  Per thread: only the thread itself reads it for now. */
static __thread struct {
    int fifo;
    int rtx;
} last_set;

IW_API HANDLE GetCurrentThread(void) { return PSEUDO_CURRENT_THREAD; }
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

/* The thread behind h (only the current one so far); ERROR_INVALID_HANDLE otherwise. */
static bool thread_of(HANDLE h, pthread_t *t)
{
    if (h != PSEUDO_CURRENT_THREAD) {
        iw_set_error(ERROR_INVALID_HANDLE);
        return false;
    }
    *t = pthread_self();
    return true;
}

static BOOLEAN set_rtx(HANDLE h, int rtx)
{
    pthread_t t;
    if (!thread_of(h, &t))
        return FALSE;
    struct sched_param sp = {.sched_priority = iw_fifo_of_rtx(rtx)};
    int err = pthread_setschedparam(t, SCHED_FIFO, &sp);
    if (err != 0) {
        /* EPERM: no CAP_SYS_NICE and RLIMIT_RTPRIO too low. */
        iw_set_error(err == EPERM ? ERROR_ACCESS_DENIED : iw_error_from_errno(err));
        return FALSE;
    }
    iw_priority_record(rtx);
    return TRUE;
}

void iw_priority_record(int rtx)
{
    last_set.fifo = iw_fifo_of_rtx(rtx);
    last_set.rtx = rtx;
}

/* The thread's SCHED_FIFO/SCHED_RR priority, 0 if it is not real-time, -1
 * (last error set) on failure. */
static int fifo_of(HANDLE h)
{
    pthread_t t;
    if (!thread_of(h, &t))
        return -1;
    int policy;
    struct sched_param sp;
    int err = pthread_getschedparam(t, &policy, &sp);
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
    int fifo = fifo_of(hThread);
    if (fifo < 0)
        return THREAD_PRIORITY_ERROR_RETURN;
    if (fifo == 0)
        return RT_PRIORITY_MIN;
    if (fifo == last_set.fifo)
        return last_set.rtx;
    return fifo == 1 ? RT_PRIORITY_MIN : fifo + RTX_TO_FIFO_OFFSET;
}

IW_API INT GetThreadPriority(HANDLE hThread)
{
    int fifo = fifo_of(hThread);
    if (fifo < 0)
        return THREAD_PRIORITY_ERROR_RETURN;
    if (fifo == 0)
        return THREAD_PRIORITY_NORMAL;
    int w = THREAD_PRIORITY_TIME_CRITICAL;
    while (iw_fifo_of_rtx(rtx_of_win32(w)) > fifo)
        w--;
    return w;
}
