/*
 * One table per object type (after Wine's server/object.h): everything the
 * core - object.c, records.c, handle.c, hazard.c, pool.c - and the generic
 * wait (wait.c) need to know about a type, so that they never name one.
 * A type is one file that defines its table and its API calls (shm.c,
 * event.c, mutex.c, semaphore.c), plus its line in the registry (type.c),
 * which gives it the number its files carry.
 *
 * An object's file either holds data sized per object (state_size 0: shared
 * memory, charged to the pool) or one page: the file header
 * (object.h) at offset 0 and the type's shared state at IW_STATE_OFFSET,
 * state_size bytes, mapped between guard pages for the life of the record.
 * A state's layout is the same in every process and every library that
 * opens the node: each type pins its own with _Static_asserts, and a change
 * to it bumps layout, which every file header carries and every open checks
 * (mark.c): a file of another layout is not this library's to touch.
 */
#ifndef IW_OBJECT_OPS_H
#define IW_OBJECT_OPS_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <iwin32.h>
#include <iwin32_inspect.h>

struct iw_object;
struct iw_wait_guard;

/* Where a state page's shared state starts, after the header; the state
 * ends within the smallest page (4 KiB): each type asserts it. */
#define IW_STATE_OFFSET 512
#define IW_STATE_MAX (4096 - IW_STATE_OFFSET)

struct iw_object_ops {
    uint32_t type;              /* in the file header: type.h */
    uint32_t layout;            /* version of the state's layout */
    const char *name;           /* "event": for messages and the tools */

    /* ---- the shared state ---------------------------------------------- */
    size_t state_size;          /* 0: a data object (no state page) */
    /* Sets up a new object's state in place, before anyone can see it;
     * params is the type's own struct (event.c: struct event_params). */
    void (*init)(void *state, const void *params);
    /* Undoes what init did that outlives the page (a mutex's initial
     * owner), for a creation that lost the race for the name; NULL: none. */
    void (*undo)(void *state);
    /* The page must stay mapped after the process lets go of the object
     * (a robust mutex a thread of ours still owns: mutex.c); NULL: never. */
    bool (*keep_mapped)(const void *state);

    /* ---- the wait protocol (NULL wake_word: not waitable) --------------
     * Every waitable state has a 32-bit wake counter its signallers bump
     * and wake, and that waiters sleep on (wait.c):
     *   try_take   take the object now if it is signalled (no registration);
     *   enter      register as a waiter; returns a cookie for poll/leave,
     *              or IW_ENTER_FULL, registering nothing, when the object
     *              counts as many waiters as it can (the wait then fails:
     *              ERROR_NOT_ENOUGH_MEMORY);
     *   poll       as a registered waiter, take it if it is ours now (and
     *              leave the registration with it);
     *   leave      stop waiting without taking it.
     * try_take and poll return 1 if taken - setting *abandoned when its
     * owner died holding it - and 0 if not.  Neither may block on a lock an
     * ordinary thread can hold while preempted (DESIGN.md, real time). */
    _Atomic uint32_t *(*wake_word)(void *state);
    int (*try_take)(void *state, bool *abandoned);
    uint32_t (*enter)(void *state);
#define IW_ENTER_FULL UINT32_MAX
    int (*poll)(void *state, uint32_t cookie, bool *abandoned);
    void (*leave)(void *state, uint32_t cookie);
    /* A wait on this object alone that must sleep, done by the type
     * (a mutex blocks in its PI lock); NULL: the generic sleep.  guard:
     * the waiting thread's (wait_guard.h), or NULL.  alone_holds: whether
     * the thread with kernel id tid holds the object's lock - handed it
     * in the sleep, perhaps not yet returned from it - asked by
     * TerminateThread's handler on that thread (thread_signal.c). */
    DWORD (*wait_alone)(void *state, const struct timespec *deadline, struct iw_wait_guard *guard);
    bool (*alone_holds)(const void *state, pid_t tid);
    /* A helper for a multi-object waiter on obj (which it holds a
     * reference to): joined before its first sleep, armed before every
     * sleep, left at the end (mutex_watch.c); NULL: none needed. */
    void *(*sleeper_join)(struct iw_object *obj);
    void (*sleeper_arm)(void *helper);
    void (*sleeper_leave)(void *helper);

    /* ---- fork (fork.c) ----------------------------------------------------
     * The type's own process-wide state around a fork (a mutex's watcher
     * threads: mutex_watch.c); NULL: none.  prepare takes the type's lock,
     * parent and child let go of it; the order is fork.c's. */
    void (*fork_prepare)(void);
    void (*fork_parent)(void);
    void (*fork_child)(void);

    /* ---- for the tools (iwin32_inspect.h) --------------------------------
     * The state, read from a read-only mapping of another process's object
     * with atomic loads, never changed; NULL: no state to describe. */
    void (*describe)(const void *state, IWIN32_OBJECT_STATE *out);

    /* ---- objects of this process alone (local_object.h) ------------------
     * Non-NULL: a type with no file, no name and no node (a thread, a
     * process handle, a timer; type 0); called once its last reference is
     * gone and no call has it pinned, to let go of what the state holds. */
    void (*free_local)(void *state);
    /* Non-NULL: called by CloseHandle for each handle of a local type it
     * closes, before it drops the handle's reference - which a wait may
     * outlive (a timer stops there, not at its last reference: timer.c). */
    void (*handle_closed)(void *state);
    /* ---- data objects --------------------------------------------------
     * Non-NULL: called when the process's last handle to obj is closed,
     * before its file is let go (shm.c: its spare mapping goes). */
    void (*last_handle_closed)(struct iw_object *obj);
    /* Non-NULL: called in a forked child for each of its records, by the
     * forking thread under the process lock (records.c; shm.c: the spare
     * inherited goes, since fork kept neither its locks nor its pages). */
    void (*forked)(struct iw_object *obj);
};

/* A waitable object: one the waits accept. */
static inline bool iw_ops_waitable(const struct iw_object_ops *ops) { return ops->wake_word != NULL; }

/* Whether type ops is want - or, want NULL, waitable. */
static inline bool iw_ops_are(const struct iw_object_ops *ops, const struct iw_object_ops *want)
{
    return want ? ops == want : iw_ops_waitable(ops);
}
#endif
