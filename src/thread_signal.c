/*
 * Suspending and terminating threads (thread.c has their life).
 *
 * Suspending (SuspendThread/ResumeThread, with Win32's counts): a thread
 * suspended by another thread is sent THREAD_SIGNAL, whose handler sleeps
 * (on a futex word that Resume and Terminate change) until the count is 0
 * again; SuspendThread returns once the thread is asleep there (ack), so
 * that it runs no more code of its own.  A thread suspending itself sleeps
 * there directly, CREATE_SUSPENDED sleeps there before the start routine.
 * TerminateThread sets the exit code, sends the same signal (and wakes a
 * suspended thread), and the handler jumps back to thread_main (thread.c).
 * Both act wherever the thread is, holding whatever it holds - a lock of
 * its own, malloc's, the process lock of the library's other calls: the
 * dangers Win32 documents for SuspendThread and TerminateThread
 * (docs/PORTING.md) - except inside the thread calls (here and thread.c)
 * and fork's handlers (fork.c), which run with the signal blocked (shield),
 * so that no thread is stopped holding what Resume, CreateThread or a
 * thread's end need.  A thread that
 * blocks THREAD_SIGNAL is suspended or terminated only when it unblocks it,
 * and SuspendThread waits for that.  Nor is a thread suspended inside a
 * short call's pin (hazard.h: SetEvent and the like, microseconds, never
 * blocking): the last CloseHandle of the pinned object would wait for it
 * until it is resumed, which Win32's CloseHandle never does.  The handler
 * returns there, flagging it, and SuspendThread sends the signal again; a
 * thread terminated there lets go of its pin as it ends.
 */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "export.h"
#include "hazard.h"
#include "last_error.h"
#include "local_object.h"
#include "object.h"
#include "thread.h"
#include "thread_state.h"

/* ---- suspended: asleep while the count is not 0 ----------------------------
 * Async-signal-safe (atomics and futex calls): the signal handler runs it. */
void iw_thread_sleep_while_suspended(struct thread_state *st)
{
    for (;;) {
        /* Read before the checks: a change after them changes it, and the
         * sleep below returns at once. */
        uint32_t resumed = atomic_load(&st->resumed);
        if (atomic_load(&st->terminate) || atomic_load(&st->suspend) == 0)
            break;
        /* SuspendThread may return - every time round: a thread resumed and
         * suspended again before it woke stays here, and its new
         * suspender waits for this. */
        atomic_store(&st->asleep, true);
        iw_thread_bump(&st->ack);
        iw_futex_wait(&st->resumed, resumed, NULL);
    }
    atomic_store(&st->asleep, false);
}

/* Whether the thread is inside a short call's pin (hazard.h): one that never
 * blocks and ends in microseconds, but whose object's last CloseHandle waits
 * for it - a thread suspended there would keep that close waiting. */
static bool pinned(void) { return iw_hazard_mine != NULL && atomic_load(&iw_hazard_mine->obj) != NULL; }

static void on_signal(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)info;
    (void)context;
    struct thread_state *st = iw_thread_me;
    if (st == NULL || atomic_load(&st->finishing))
        return; /* a signal sent before the thread began to end, delivered after */
    int saved = errno;
    if (pinned() && !atomic_load(&st->terminate) && atomic_load(&st->suspend) != 0) {
        /* Not here: the suspender sends the signal again (suspend()). */
        atomic_store(&st->deferred, true);
        iw_thread_bump(&st->ack);
        errno = saved;
        return;
    }
    iw_thread_sleep_while_suspended(st);
    if (atomic_load(&st->terminate)) {
        /* In a wait (wait_guard.h): asleep in a mutex's PI lock, drop the
         * wait's reference and end here - unless the lock is the thread's
         * already (mutex.c's wait_alone: it gives it back); anywhere else
         * in it, the wait ends the thread as it returns, its sleep cut
         * short. */
        struct iw_wait_guard *g = &st->wait_guard;
        struct iw_object *alone = atomic_load_explicit(&g->alone_ref, memory_order_relaxed);
        if (alone != NULL && !alone->ops->alone_holds(iw_object_state(alone), atomic_load(&st->tid))) {
            atomic_store_explicit(&g->alone_ref, NULL, memory_order_relaxed);
            iw_object_put(alone);
        } else if (atomic_load_explicit(&g->in_wait, memory_order_relaxed)) {
            atomic_store_explicit(&g->ending, true, memory_order_relaxed);
            _Atomic uint32_t *word = atomic_load_explicit(&g->wake_word, memory_order_relaxed);
            if (word != NULL) {
                atomic_fetch_add(word, 1);
                iw_futex_wake_all(word);
            }
            errno = saved;
            return;
        }
        st->pending = atomic_load(&st->terminate_code);
        siglongjmp(st->exit_jmp, 1);
    }
    errno = saved;
}

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static DWORD setup_error;

/* The signal's handler, installed by the first CreateThread. */
static void setup(void)
{
    struct sigaction sa = {.sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    if (sigaction(THREAD_SIGNAL, &sa, NULL) != 0)
        setup_error = iw_error_from_errno(errno);
}

static bool send_signal(struct thread_state *st)
{
    return syscall(SYS_tgkill, getpid(), atomic_load(&st->tid), THREAD_SIGNAL) == 0;
}

/* Waits until st is asleep, resumed meanwhile, or ended (ack moves on),
 * sending the signal again each time it came inside a pin (on_signal): a
 * pin lasts microseconds, so a later one lands outside it.  Unshielded
 * (suspend()), but for the resend. */
static void wait_stopped(struct thread_state *st, uint32_t ack)
{
    for (;;) {
        while (atomic_load(&st->ack) == ack)
            iw_futex_wait(&st->ack, ack, NULL);
        ack = atomic_load(&st->ack);
        if (!atomic_exchange(&st->deferred, false))
            return;
        /* Shielded while it holds st's ctl: this thread suspended or
         * terminated there would keep every call on st that takes it
         * (Resume, Terminate, the priorities, st's own end) waiting. */
        sigset_t old;
        iw_thread_shield(&old);
        pthread_mutex_lock(&st->ctl);
        /* Not when it is asleep already: a deferral flagged for a signal
         * whose suspender has returned (resumed meanwhile). */
        bool again = !atomic_load(&st->gone) && atomic_load(&st->suspend) != 0 && !atomic_load(&st->asleep) && send_signal(st);
        pthread_mutex_unlock(&st->ctl);
        iw_thread_unshield(&old);
        if (!again)
            return;
    }
}

/* SuspendThread's work, shielded: the count before, or (DWORD)-1. */
static DWORD suspend(struct thread_state *st, sigset_t *old)
{
    if (!iw_thread_lock_live(st))
        return (DWORD)-1;
    DWORD prev = atomic_load(&st->suspend);
    if (prev >= MAXIMUM_SUSPEND_COUNT) {
        pthread_mutex_unlock(&st->ctl);
        iw_set_error(ERROR_SIGNAL_REFUSED);
        return (DWORD)-1;
    }
    uint32_t ack = atomic_load(&st->ack);
    atomic_store(&st->suspend, prev + 1);
    bool self = st == iw_thread_me;
    if (prev == 0 && !self && !send_signal(st)) {
        atomic_store(&st->suspend, 0);
        pthread_mutex_unlock(&st->ctl);
        iw_set_error(iw_error_from_errno(errno));
        return (DWORD)-1;
    }
    pthread_mutex_unlock(&st->ctl);
    if (prev == 0 && self) {
        /* Until another thread resumes it (shielded: a TerminateThread
         * acts as it returns). */
        iw_thread_sleep_while_suspended(st);
    } else if (prev == 0) {
        /* Until it is asleep, resumed meanwhile, or ended; not shielded, so
         * that two threads suspending each other do not wait for each other
         * (the one place a thread call lets the signal in: what it holds
         * there, a reference, its end drops). */
        struct thread_state *mine = iw_thread_me;
        if (mine != NULL)
            atomic_store(&mine->holding, st->obj);
        iw_thread_unshield(old);
        wait_stopped(st, ack);
        iw_thread_shield(old);
        if (mine != NULL)
            atomic_store(&mine->holding, NULL);
    }
    return prev;
}

IW_API DWORD SuspendThread(HANDLE hThread)
{
    sigset_t old;
    iw_thread_shield(&old);
    struct thread_state *st = iw_thread_held(hThread);
    DWORD prev = (DWORD)-1;
    if (st != NULL) {
        prev = suspend(st, &old);
        iw_local_object_put(st->obj);
    }
    iw_thread_unshield(&old);
    return prev;
}

IW_API DWORD ResumeThread(HANDLE hThread)
{
    sigset_t old;
    iw_thread_shield(&old);
    struct thread_state *st = iw_thread_held(hThread);
    DWORD prev = (DWORD)-1;
    if (st != NULL && iw_thread_lock_live(st)) {
        prev = atomic_load(&st->suspend);
        if (prev > 0) {
            atomic_store(&st->suspend, prev - 1);
            if (prev == 1) {
                iw_thread_bump(&st->resumed);
                iw_thread_bump(&st->ack);
            }
        }
        pthread_mutex_unlock(&st->ctl);
    }
    if (st != NULL)
        iw_local_object_put(st->obj);
    iw_thread_unshield(&old);
    return prev;
}

IW_API BOOLEAN TerminateThread(HANDLE hThread, DWORD dwExitCode)
{
    if (hThread == IW_CURRENT_THREAD && iw_thread_me == NULL)
        ExitThread(dwExitCode); /* a thread the library did not create */
    sigset_t old;
    iw_thread_shield(&old);
    struct thread_state *st = iw_thread_held(hThread);
    if (st == NULL) {
        iw_thread_unshield(&old);
        return FALSE;
    }
    bool self = st == iw_thread_me, live = iw_thread_lock_if_live(st);
    if (live) {
        if (!atomic_load(&st->terminate)) { /* the first code asked is the one */
            atomic_store(&st->terminate_code, dwExitCode);
            atomic_store(&st->terminate, true);
            if (!self) {
                send_signal(st);              /* wherever it runs or sleeps */
                iw_thread_bump(&st->resumed); /* or is suspended */
            }
        }
        pthread_mutex_unlock(&st->ctl);
    }
    iw_local_object_put(st->obj); /* the thread's own reference keeps st */
    if (live && self)
        ExitThread(atomic_load(&st->terminate_code));
    iw_thread_unshield(&old);
    return TRUE; /* a thread that has ended already keeps its exit code */
}

IW_API DWORD RtSuspendThread(HANDLE hThread) __attribute__((alias("SuspendThread")));
IW_API DWORD RtResumeThread(HANDLE hThread) __attribute__((alias("ResumeThread")));
IW_API BOOLEAN RtTerminateThread(HANDLE hThread, DWORD dwExitCode) __attribute__((alias("TerminateThread")));

DWORD iw_thread_signal_install(void)
{
    pthread_once(&setup_once, setup);
    return setup_error;
}
