/*
 * A thread's state (thread.c), shared with the signalling of SuspendThread,
 * ResumeThread and TerminateThread (thread_signal.c); private to those two.
 */
#ifndef IW_THREAD_STATE_H
#define IW_THREAD_STATE_H
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <iwin32.h>

#include "end_latch.h"
#include "futex.h"
#include "wait_guard.h"

/* Sent to a thread to suspend or terminate it (docs/PORTING.md names it). */
#define THREAD_SIGNAL (SIGRTMAX - 1)

struct thread_state {
    /* ---- the wait protocol (end_latch.h), first: set when exit_code is final */
    struct iw_end_latch end;
    _Atomic DWORD exit_code;

    /* ---- suspending and terminating ------------------------------------ */
    _Atomic uint32_t suspend;       /* the count */
    _Atomic uint32_t resumed;       /* bumped when the count falls to 0 or
                                       TerminateThread asks: a suspended
                                       thread sleeps on it */
    _Atomic uint32_t ack;           /* bumped when the thread falls asleep on
                                       suspend, is resumed to 0, ends, or
                                       takes the signal inside a pin */
    atomic_bool deferred;           /* ...that last: send it again */
    atomic_bool asleep;             /* in sleep_while_suspended */
    atomic_bool terminate;          /* TerminateThread asked (terminate_code) */
    _Atomic DWORD terminate_code;
    atomic_bool finishing;          /* the thread is ending: no more jumps */
    sigjmp_buf exit_jmp;            /* in thread_main: ExitThread, TerminateThread */
    DWORD pending;                  /* the code it ends with (its own) */
    struct iw_object *_Atomic holding; /* a thread object it holds while its
                                       SuspendThread waits unshielded: the
                                       thread's end drops it if it is
                                       terminated there */
    struct iw_wait_guard wait_guard; /* its wait, if it is in one (wait_guard.h) */

    /* ---- identity ------------------------------------------------------- */
    _Atomic pid_t tid;              /* 0 until the thread runs */
    pthread_t thread;
    pthread_mutex_t ctl;            /* gone, and the thread's life for the
                                       calls that use tid or thread */
    atomic_bool gone;               /* past its last use of signals and
                                       priorities: set under ctl, for good,
                                       so read before taking it too
                                       (iw_thread_lock_live) */
    _Atomic uint32_t last_set;      /* priority.c's (thread.h) */
    LPTHREAD_START_ROUTINE start;
    LPVOID param;
    struct iw_object *obj;          /* whose state this is */
    struct thread_state *prev, *next; /* the registry: threads not yet ended */
};

/* The thread's own state, for a thread the library created (read by the
 * signal handler: initial-exec TLS is async-signal-safe). */
extern __thread struct thread_state *iw_thread_me __attribute__((tls_model("initial-exec")));

/* Every call that holds something of the library's thread machinery - a
 * thread's ctl, the registry lock, a reference, the process lock (making a
 * handle) - runs with THREAD_SIGNAL blocked ("shielded"): a thread is never
 * suspended or terminated inside one, which would stop every other
 * thread's Resume, CreateThread or end (or its own end).  A signal sent
 * meanwhile acts as the call returns. */
static inline void iw_thread_shield(sigset_t *old)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, THREAD_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &s, old);
}

static inline void iw_thread_unshield(const sigset_t *old) { pthread_sigmask(SIG_SETMASK, old, NULL); }

static inline void iw_thread_bump(_Atomic uint32_t *word)
{
    atomic_fetch_add(word, 1);
    iw_futex_wake_all(word);
}

/* thread.c: the state behind h, held (a reference, which the caller drops),
 * or NULL with the last error set; and st's ctl held if the thread is still
 * there, else false (ctl not held) - with ERROR_ACCESS_DENIED in the
 * second. */
struct thread_state *iw_thread_held(HANDLE h);
bool iw_thread_lock_if_live(struct thread_state *st);
bool iw_thread_lock_live(struct thread_state *st);

/* thread_signal.c: the signal's handler, installed once (0, or the ERROR_*
 * that refused it); and the sleep of a suspended thread (async-signal-safe). */
DWORD iw_thread_signal_install(void);
void iw_thread_sleep_while_suspended(struct thread_state *st);
#endif
