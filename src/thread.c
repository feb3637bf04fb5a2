/*
 * Threads (SPEC 9, issue 12): CreateThread and the calls on thread handles.
 * A thread is a local object (local_object.h) of a waitable type with no
 * number in the file-type registry: its handle is signalled when the thread
 * ends, stays signalled (a wait never consumes it), and works in both waits
 * next to events, mutexes and semaphores.  The object is freed when the
 * handles and the running thread have all let go of it: the thread holds a
 * reference of its own, dropped last thing before it ends.
 *
 * A thread runs thread_main, a detached pthread, which calls the start
 * routine.  ExitThread and TerminateThread end it by a siglongjmp back to
 * thread_main, which ends it as a return would: nothing of the thread's own
 * frames runs (no C++ destructor, no pthread cleanup handler), as in Win32.
 * In a thread the library did not create, ExitThread is pthread_exit.
 *
 * The thread id is the kernel's thread id (gettid): stable for the
 * thread's life, the one ps, top and chrt show, and the one OpenThread
 * takes; it may be reused after the thread ends, as a Win32 id may.
 *
 * SuspendThread, ResumeThread and TerminateThread, and the signal they
 * send: thread_signal.c.
 *
 * The end: the thread marks itself gone under its control lock (ctl), which
 * every call that signals the thread or sets its priority holds while it
 * uses the thread id - so a signal or a priority never reaches a thread id
 * the kernel may have given to another thread - then publishes the exit
 * code, wakes the waiters, and leaves the registry (OpenThread's list of
 * running threads).  ctl and the registry lock are priority-inheriting: a
 * real-time thread's end never waits for a preempted ordinary thread.
 */
#include "thread.h"
#include "thread_state.h"

#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <linux/futex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "export.h"
#include "fork.h"
#include "futex.h"
#include "hazard.h"
#include "last_error.h"
#include "local_object.h"
#include "object.h"

__thread struct thread_state *iw_thread_me __attribute__((tls_model("initial-exec")));
__thread struct iw_wait_guard *iw_wait_guard_mine __attribute__((tls_model("initial-exec")));
/* priority.c's record for a thread the library did not create. */
static __thread _Atomic uint32_t foreign_last_set;

static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t registry_lock;
static struct thread_state *registry;

static struct thread_state *state_of(struct iw_object *obj) { return iw_object_state(obj); }

static void init_pi_mutex(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

/* ---- the type: signalled once ended, for good (end_latch.h) ----------------- */

_Static_assert(offsetof(struct thread_state, end) == 0, "the end latch comes first");

static void free_local(void *state) { pthread_mutex_destroy(&((struct thread_state *)state)->ctl); }

static const struct iw_object_ops iw_thread_ops = {
    .type = 0,
    .layout = 1,
    .name = "thread",
    .state_size = sizeof(struct thread_state),
    IW_END_LATCH_OPS,
    .free_local = free_local,
};

static void registry_init(void) { init_pi_mutex(&registry_lock); }

/* ---- the registry of running threads ---------------------------------------- */

/* Shielded, or by a thread that is ending (the signal does nothing then). */
static void registry_add(struct thread_state *st)
{
    pthread_mutex_lock(&registry_lock);
    st->prev = NULL;
    st->next = registry;
    if (registry)
        registry->prev = st;
    registry = st;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(struct thread_state *st)
{
    pthread_mutex_lock(&registry_lock);
    if (st->prev)
        st->prev->next = st->next;
    else
        registry = st->next;
    if (st->next)
        st->next->prev = st->prev;
    pthread_mutex_unlock(&registry_lock);
}

/* fork holds the transit gate, the process lock and the leaves (fork.c)
 * from its prepare handler to its parent's and child's: shielded all that
 * time, as every other call that holds them, so that the forking thread is
 * never suspended or terminated holding them - which would stop every
 * CreateThread, CreateEvent and thread end until it was resumed, or for
 * good.  A signal sent meanwhile acts as fork returns (in the parent: the
 * child starts with none pending).  Only a thread the library created
 * takes the signal, and it runs with it unblocked (the library forks from
 * no shielded call: RtCreateProcess's clone runs no fork handler), so the
 * unshield unblocks it: no mask to save (a thread-local sigset_t would add
 * 128 bytes of static TLS to every thread's stack). */
static void fork_mask(int how)
{
    if (iw_thread_me == NULL)
        return;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, THREAD_SIGNAL);
    pthread_sigmask(how, &s, NULL);
}

void iw_thread_fork_shield(void) { fork_mask(SIG_BLOCK); }
void iw_thread_fork_unshield(void) { fork_mask(SIG_UNBLOCK); }

void iw_thread_fork_prepare(void)
{
    pthread_once(&registry_once, registry_init);
    pthread_mutex_lock(&registry_lock);
}

void iw_thread_fork_parent(void) { pthread_mutex_unlock(&registry_lock); }

/* The child's only thread is the forking one: the other threads of the
 * registry are not in it (their objects stay, for the child to close), and
 * the forking thread, if the library created it, has a new id. */
void iw_thread_fork_child(void)
{
    /* The forking thread holds the registry lock under the parent's thread
     * ID, which no thread of the child has: this unlock does nothing (the
     * kernel refuses it, EPERM) but tells tools that track holders (TSan)
     * it is free; the init frees it. */
    pthread_mutex_unlock(&registry_lock);
    init_pi_mutex(&registry_lock);
    for (struct thread_state *st = registry, *next; st != NULL; st = next) {
        next = st->next;
        /* Any thread's ctl may have been held at the fork by a parent's
         * thread that the child lacks (one reading a priority, a thread
         * ending): a PI mutex whose owner is a thread of another process,
         * which the child's next lock of it would fail on (glibc aborts).
         * The child has one thread, so made afresh it is free. */
        init_pi_mutex(&st->ctl);
        if (st == iw_thread_me)
            continue;
        /* The other threads are the parent's: their ids are threads of
         * another process, which no signal or priority of the child may
         * reach - the calls refuse them as threads that are not there - and
         * no end of theirs drops their own reference here: the child's
         * last CloseHandle frees the object. */
        atomic_store(&st->gone, true);
        iw_local_object_put(st->obj);
    }
    registry = NULL;
    if (iw_thread_me) {
        atomic_store(&iw_thread_me->tid, gettid());
        /* A SuspendThread or TerminateThread that came inside fork
         * (shielded) acts on the parent's thread as fork returns there;
         * the child's runs on, with no signal pending and none of their
         * requests. */
        atomic_store(&iw_thread_me->suspend, 0);
        atomic_store(&iw_thread_me->terminate, false);
        registry_add(iw_thread_me);
    }
}

/* ---- a thread's life ----------------------------------------------------------- */

static void finish(struct thread_state *st)
{
    atomic_store(&st->finishing, true); /* the signal does nothing from here on */
    /* Terminated inside a short call: its pin goes (the call is abandoned),
     * so that the last put below never waits for this thread's own slot. */
    if (iw_hazard_mine != NULL)
        iw_hazard_unpin();
    /* Terminated while its SuspendThread waited: the reference it held. */
    struct iw_object *held_obj = atomic_exchange(&st->holding, NULL);
    if (held_obj != NULL)
        iw_local_object_put(held_obj);
    pthread_mutex_lock(&st->ctl);
    atomic_store(&st->gone, true);
    pthread_mutex_unlock(&st->ctl);
    atomic_store(&st->exit_code, st->pending);
    iw_end_latch_set(&st->end); /* the waiters */
    iw_thread_bump(&st->ack);  /* a SuspendThread waiting for a thread that ended instead */
    registry_remove(st);
    iw_thread_me = NULL;
    iw_wait_guard_mine = NULL;
    iw_local_object_put(st->obj); /* the thread's own reference: may free st */
}

/* glibc's pending slot in the thread's robust list (the kernel's ABI,
 * struct robust_list_head, found with get_robust_list), or NULL.
 *
 * A thread ExitThread or TerminateThread jumps out of a robust mutex's
 * lock or unlock - an API mutex's fast path (RtWaitForSingleObject's try,
 * RtReleaseMutex), a try waiting for a handback - may hold the mutex's
 * lock with the mutex only in that slot, which tells the kernel to hand
 * the lock on as the thread exits (SPEC 6: the owner's end).  But its end
 * (finish) unlocks PI mutexes of its own, ctl and the registry lock, and
 * glibc's PI unlock empties the slot, robust or not: the thread would
 * exit holding the lock unrecorded, and the next locker's
 * pthread_mutex_lock abort the process (glibc asserts on the kernel's
 * ESRCH for a robust mutex; test_terminated_in_mutex_fast_path).  So the
 * end puts back what the slot held; the kernel then marks the owner dead,
 * and mutex.c's owner record decides whether that is an abandonment. */
static void **robust_pending_slot(void)
{
    struct robust_list_head *head;
    size_t len;
    if (syscall(SYS_get_robust_list, 0, &head, &len) != 0 || head == NULL)
        return NULL;
    return (void **)&head->list_op_pending;
}

static void *thread_main(void *arg)
{
    struct thread_state *st = arg;
    /* ExitThread and TerminateThread come back here: nothing after the
     * sigsetjmp changes a local variable. */
    if (sigsetjmp(st->exit_jmp, 0) == 0) {
        iw_thread_me = st;
        iw_wait_guard_mine = &st->wait_guard;
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, THREAD_SIGNAL);
        pthread_sigmask(SIG_UNBLOCK, &s, NULL); /* the creator's mask is inherited */
        atomic_store(&st->tid, gettid());
        iw_futex_wake_all((_Atomic uint32_t *)&st->tid); /* CreateThread returns */
        iw_thread_sleep_while_suspended(st);                         /* CREATE_SUSPENDED */
        st->pending = atomic_load(&st->terminate) ? atomic_load(&st->terminate_code) : st->start(st->param);
    }
    void **slot = robust_pending_slot();
    void *pending = slot != NULL ? *slot : NULL;
    finish(st);
    if (slot != NULL)
        *slot = pending; /* for the kernel, as the thread exits: above */
    return NULL;
}

/* The state behind h, held (a reference, which the caller drops): for
 * GetCurrentThread() the current thread's own, if the library created it.
 * Taken through a pin, without the process lock: a thread suspended
 * holding that lock (making or closing a handle) must not stop
 * ResumeThread. */
struct thread_state *iw_thread_held(HANDLE h)
{
    if (h == IW_CURRENT_THREAD && iw_thread_me != NULL) {
        iw_local_object_get(iw_thread_me->obj); /* the running thread holds one: never 0 */
        return iw_thread_me;
    }
    struct iw_object *obj = iw_hazard_pin(h, &iw_thread_ops);
    if (obj == NULL)
        return NULL;
    bool got = iw_object_get_pinned(obj);
    iw_hazard_unpin();
    return got ? state_of(obj) : NULL;
}

/* ctl held and the thread still there, or false (ctl not held).
 *
 * A thread gone is gone for good: its ctl is not taken then.  In a fork
 * child that lock may be held by a thread of the parent (one that was
 * inside this call at the fork, on a thread that had ended): the child's
 * fork handler makes the lock afresh for the registry's threads, which an
 * ended thread has left (it was gone before it left: finish).  A lock of
 * that copy was glibc's abort ("The futex facility returned an unexpected
 * error code") or a wait for ever. */
bool iw_thread_lock_if_live(struct thread_state *st)
{
    if (atomic_load(&st->gone))
        return false;
    pthread_mutex_lock(&st->ctl);
    if (!atomic_load(&st->gone))
        return true;
    pthread_mutex_unlock(&st->ctl);
    return false;
}

/* The same, false with ERROR_ACCESS_DENIED: Win32's answer for a thread
 * that is terminating. */
bool iw_thread_lock_live(struct thread_state *st)
{
    if (iw_thread_lock_if_live(st))
        return true;
    iw_set_error(ERROR_ACCESS_DENIED);
    return false;
}

/* CreateThread's work, shielded (the new thread inherits the blocked
 * signal, and unblocks it itself once it can take it). */
static HANDLE create(DWORD dwStackSize, LPTHREAD_START_ROUTINE lpStartAddress, LPVOID lpParameter,
                     DWORD dwCreationFlags, LPDWORD lpThreadId)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return iw_fail(ERROR_NOT_ENOUGH_MEMORY);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (dwStackSize != 0) {
        /* Whole pages, at least PTHREAD_STACK_MIN (INtime: multiples of 4 KiB). */
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t least = (size_t)PTHREAD_STACK_MIN; /* a sysconf call in glibc 2.34+ */
        size_t size = ((size_t)dwStackSize + page - 1) / page * page;
        pthread_attr_setstacksize(&attr, size < least ? least : size);
    }
    struct iw_object *obj = iw_local_object_new(&iw_thread_ops);
    if (obj == NULL) {
        pthread_attr_destroy(&attr);
        return NULL;
    }
    struct thread_state *st = state_of(obj);
    init_pi_mutex(&st->ctl);
    st->obj = obj;
    st->start = lpStartAddress;
    st->param = lpParameter;
    atomic_init(&st->suspend, dwCreationFlags & CREATE_SUSPENDED ? 1 : 0);
    /* The new thread runs at its creator's priority (Linux's inheritance),
     * so it reads back what its creator last set. */
    atomic_init(&st->last_set, atomic_load(iw_thread_me ? &iw_thread_me->last_set : &foreign_last_set));
    HANDLE h = iw_object_handle(obj); /* on failure it dropped obj */
    if (h == NULL) {
        pthread_attr_destroy(&attr);
        return NULL;
    }
    iw_local_object_get(obj); /* the thread's own */
    registry_add(st);         /* before it runs: it leaves it when it ends */
    int err = pthread_create(&st->thread, &attr, thread_main, st);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        registry_remove(st);
        iw_local_object_put(obj);
        CloseHandle(h);
        return iw_fail(err == EPERM ? ERROR_ACCESS_DENIED : ERROR_NOT_ENOUGH_MEMORY);
    }
    /* Its id, published by the thread itself as it starts. */
    pid_t tid;
    while ((tid = atomic_load(&st->tid)) == 0)
        iw_futex_wait((_Atomic uint32_t *)&st->tid, 0, NULL);
    if (lpThreadId)
        *lpThreadId = (DWORD)tid;
    iw_set_error(ERROR_SUCCESS);
    return h;
}

IW_API HANDLE CreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes, DWORD dwStackSize,
                           LPTHREAD_START_ROUTINE lpStartAddress, LPVOID lpParameter, DWORD dwCreationFlags,
                           LPDWORD lpThreadId)
{
    (void)lpThreadAttributes;
    if (lpStartAddress == NULL)
        return iw_fail(ERROR_INVALID_PARAMETER);
    iw_fork_watch();
    pthread_once(&registry_once, registry_init);
    DWORD setup_error = iw_thread_signal_install();
    if (setup_error)
        return iw_fail(setup_error);
    sigset_t old;
    iw_thread_shield(&old);
    HANDLE h = create(dwStackSize, lpStartAddress, lpParameter, dwCreationFlags, lpThreadId);
    iw_thread_unshield(&old);
    return h;
}

IW_API HANDLE RtCreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes, DWORD dwStackSize,
                             LPTHREAD_START_ROUTINE lpStartAddress, LPVOID lpParameter, DWORD dwCreationFlags,
                             LPDWORD lpThreadId) __attribute__((alias("CreateThread")));

/* wait_guard.h: a wait TerminateThread's signal met outside its sleep ends
 * the thread as it returns. */
_Noreturn void iw_thread_end_terminated(void)
{
    struct thread_state *st = iw_thread_me;
    st->pending = atomic_load(&st->terminate_code);
    siglongjmp(st->exit_jmp, 1);
}

IW_API VOID ExitThread(DWORD dwExitCode)
{
    struct thread_state *st = iw_thread_me;
    if (st != NULL && !atomic_load(&st->finishing)) {
        st->pending = dwExitCode;
        siglongjmp(st->exit_jmp, 1);
    }
    pthread_exit(NULL); /* a thread the library did not create */
}

IW_API VOID RtExitThread(DWORD dwExitCode) __attribute__((alias("ExitThread")));

IW_API DWORD GetCurrentThreadId(void) { return (DWORD)gettid(); }

IW_API HANDLE OpenThread(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, DWORD dwThreadId)
{
    (void)dwDesiredAccess;
    (void)bInheritHandle;
    pthread_once(&registry_once, registry_init);
    sigset_t old;
    iw_thread_shield(&old);
    struct iw_object *obj = NULL;
    pthread_mutex_lock(&registry_lock);
    for (struct thread_state *st = registry; st && dwThreadId != 0; st = st->next)
        if ((DWORD)atomic_load(&st->tid) == dwThreadId) {
            obj = st->obj;
            iw_local_object_get(obj); /* the thread's own reference is still counted */
            break;
        }
    pthread_mutex_unlock(&registry_lock);
    /* An id it does not know: Win32's ERROR_INVALID_PARAMETER. */
    HANDLE h = obj ? iw_object_handle(obj) : iw_fail(ERROR_INVALID_PARAMETER);
    iw_thread_unshield(&old);
    return h;
}

IW_API BOOLEAN GetExitCodeThread(HANDLE hThread, LPDWORD lpExitCode)
{
    if (lpExitCode == NULL) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    if (hThread == IW_CURRENT_THREAD) {
        *lpExitCode = STILL_ACTIVE; /* the caller is running */
        return TRUE;
    }
    struct iw_object *obj = iw_hazard_pin(hThread, &iw_thread_ops);
    if (obj == NULL)
        return FALSE;
    struct thread_state *st = state_of(obj);
    *lpExitCode = iw_end_latch_is_set(&st->end) ? atomic_load(&st->exit_code) : STILL_ACTIVE;
    iw_hazard_unpin();
    return TRUE;
}

/* ---- GetCurrentThread() in the waits ------------------------------------------ */

/* The calling thread's handle is not signalled while that thread waits on
 * it (a thread ends only after its wait has returned): a wait on
 * GetCurrentThread() times out, or never ends with INFINITE, as in Win32,
 * and an object next to it is found as in any wait.  One thread object
 * that never runs, and so never ends, stands for the caller in every
 * thread - also in a thread the library did not create, which has no
 * object of its own.  Made by the first such wait (inside the wait's
 * guard, so a TerminateThread cannot end the thread in its allocation:
 * wait_guard.h) and kept for the process's life; two threads that make it
 * at once keep the first. */
static _Atomic(struct iw_object *) never_ends;

struct iw_object *iw_thread_current_object(void)
{
    struct iw_object *obj = atomic_load(&never_ends);
    if (obj == NULL) {
        struct iw_object *made = iw_local_object_new(&iw_thread_ops);
        if (made == NULL)
            return NULL; /* ERROR_NOT_ENOUGH_MEMORY */
        if (atomic_compare_exchange_strong(&never_ends, &obj, made))
            obj = made;
        else
            iw_local_object_put(made); /* another thread's came first: obj */
    }
    iw_local_object_get(obj);
    return obj;
}

/* ---- priority.c's target ------------------------------------------------------ */

bool iw_thread_target_begin(HANDLE h, struct iw_thread_target *t)
{
    t->obj = NULL;
    if (h == IW_CURRENT_THREAD) {
        t->thread = pthread_self();
        t->tid = gettid();
        t->last_set = iw_thread_me ? &iw_thread_me->last_set : &foreign_last_set;
        return true;
    }
    iw_thread_shield(&t->mask);
    struct thread_state *st = iw_thread_held(h);
    if (st == NULL || !iw_thread_lock_live(st)) {
        if (st != NULL)
            iw_local_object_put(st->obj);
        iw_thread_unshield(&t->mask);
        return false;
    }
    t->obj = st->obj;
    t->thread = st->thread;
    t->tid = atomic_load(&st->tid);
    t->last_set = &st->last_set;
    return true;
}

void iw_thread_target_end(struct iw_thread_target *t)
{
    if (t->obj == NULL)
        return;
    pthread_mutex_unlock(&state_of(t->obj)->ctl);
    iw_local_object_put(t->obj);
    iw_thread_unshield(&t->mask);
}
