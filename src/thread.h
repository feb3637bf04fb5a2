/*
 * Threads (thread.c): what the rest of the library needs of them - the
 * current thread's pseudo-handle (and what a wait on it waits for: wait.c),
 * the thread a priority call aims at (priority.c), and fork.
 */
#ifndef IW_THREAD_H
#define IW_THREAD_H
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <iwin32.h>

/* GetCurrentThread()'s pseudo-handle, (HANDLE)-2 as in Win32: no handle
 * value (handle.h) is ever this, and CloseHandle of it does nothing. */
#define IW_CURRENT_THREAD ((HANDLE)(intptr_t)-2)

struct iw_object;

/* A thread a priority call aims at, held so that it cannot end meanwhile
 * (its kernel thread, and with it tid, stays until iw_thread_target_end). */
struct iw_thread_target {
    pthread_t thread;
    pid_t tid;
    /* priority.c's record of the RTX value last set on the thread (and the
     * FIFO priority it made): in the thread's object for a thread the
     * library created, per thread otherwise. */
    _Atomic uint32_t *last_set;
    struct iw_object *obj;      /* held (a reference and its lock); NULL: the current thread */
    sigset_t mask;              /* the caller's signal mask, while obj's lock is held */
};

/* The thread behind h: GetCurrentThread() or a thread handle of this
 * library's; false with the last error set (ERROR_INVALID_HANDLE, or
 * ERROR_ACCESS_DENIED for a thread that has ended). */
bool iw_thread_target_begin(HANDLE h, struct iw_thread_target *t);
void iw_thread_target_end(struct iw_thread_target *t);

/* wait.c: what a wait on GetCurrentThread() waits for, with a reference
 * (iw_object_put drops it): a thread object that never ends; NULL with
 * ERROR_NOT_ENOUGH_MEMORY. */
struct iw_object *iw_thread_current_object(void);

/* fork.c: THREAD_SIGNAL blocked from the first prepare step to the last
 * parent or child step (thread.c says why). */
void iw_thread_fork_shield(void);
void iw_thread_fork_unshield(void);

/* fork.c: the registry of running threads (a leaf of fork.c's lock order). */
void iw_thread_fork_prepare(void);
void iw_thread_fork_parent(void);
void iw_thread_fork_child(void);
#endif
