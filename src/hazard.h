/*
 * Short calls on an event, mutex or semaphore (Set, Reset, Pulse, Release,
 * a wait's first try) pin the object instead of taking a reference: no
 * lock, no atomic read-modify-write (hazard.c).  A pinned call must not
 * block; one that has to sleep takes a reference (iw_object_get_pinned).
 * The pin protocol is stated in hazard.c; DESIGN.md ("The short calls take
 * no lock") refers to it.
 *
 * The pin is inline (always_inline: GCC once made it a function of its
 * own, unnoticed; test_hot_text now checks): it is a quarter of an
 * uncontended mutex wait+release, and a call (with its register saves)
 * would be more; only the first pin of a thread, a retry, a failure and a
 * process without membarrier go out of line.
 */
#ifndef IW_HAZARD_H
#define IW_HAZARD_H
#include <stdatomic.h>
#include <stdbool.h>

#include <iwin32.h>

#include "handle.h"
#include "object_ops.h"

struct iw_object;

/* A thread's slot (hazard.c). */
struct iw_hazard {
    struct iw_object *_Atomic obj;  /* pinned by the slot's thread */
    struct iw_hazard *next;         /* all slots; set before publication */
    atomic_bool taken;              /* the slot belongs to a live thread */
    /* membarrier works: readers need no fence.  The process's answer,
     * copied into the slot a pin writes anyway (one cold line less than a
     * global of its own). */
    bool asymmetric;
};
extern __thread struct iw_hazard *iw_hazard_mine __attribute__((tls_model("initial-exec")));

/* What a pin found: the object, its type and its state (handle.h). */
struct iw_pinned {
    struct iw_object *obj;
    const struct iw_object_ops *ops;
    void *state;
};

__attribute__((noinline, cold)) bool iw_hazard_pin_slow(HANDLE h, const struct iw_object_ops *want,
                                                        struct iw_pinned *p);

/* Pins the object behind handle h if it is of type want - or, want NULL,
 * waitable (iw_ops_are) - until iw_hazard_unpin, and fills *p; false (and
 * ERROR_INVALID_HANDLE set) if h is not an open handle of that type.  One
 * pin per thread at a time.  Only waitable types may be pinned: object.c
 * waits for pins on those alone. */
static inline __attribute__((always_inline)) bool iw_hazard_pin_found(HANDLE h, const struct iw_object_ops *want,
                                                                     struct iw_pinned *p)
{
    struct iw_hazard *mine = iw_hazard_mine;
    /* Without membarrier (valgrind, Linux < 4.14) a pin needs a full
     * fence: the slow path has it, out of line. */
    if (mine != NULL && mine->asymmetric) {
        /* The slot is written below: its miss (cold caches) overlaps the
         * handle slot's from here, instead of holding up the first locked
         * instruction after the pin, which waits for every earlier store. */
        __builtin_prefetch(&mine->obj, 1);
        struct iw_object *obj;
        struct iw_handle_slot *s = iw_handle_find(h, &obj);
        const struct iw_object_ops *ops = s ? iw_handle_ops(s) : NULL;
        if (s != NULL && iw_ops_are(ops, want)) {
            void *state = iw_handle_state(s);
            /* Release, here and in hazard.c: free on x86, and it lets
             * tools that don't know membarrier (TSan) see each call
             * ordered before the next value of the slot. */
            atomic_store_explicit(&mine->obj, obj, memory_order_release);
            atomic_signal_fence(memory_order_seq_cst);
            if (iw_handle_holds(s, h, obj)) { /* still h's object: the reclaimer sees our slot */
                /* Filled only now: *p stays in registers on this path. */
                *p = (struct iw_pinned){.obj = obj, .ops = ops, .state = state};
                return true;
            }
        }
    }
    return iw_hazard_pin_slow(h, want, p); /* first pin, a race lost, or no such handle */
}

/* The same when only the object is wanted: NULL on failure. */
static inline struct iw_object *iw_hazard_pin(HANDLE h, const struct iw_object_ops *want)
{
    struct iw_pinned p;
    return iw_hazard_pin_found(h, want, &p) ? p.obj : NULL;
}

static inline void iw_hazard_unpin(void)
{
    atomic_store_explicit(&iw_hazard_mine->obj, NULL, memory_order_release);
}

/* Before the last reference of an object that had handles lets go of it:
 * waits until no thread has it pinned (its handles are closed already). */
void iw_hazard_wait_unpinned(const struct iw_object *obj);

/* Settles how pins are ordered (membarrier's registration, which may wait
 * for an RCU grace period: milliseconds).  Called where handles are made,
 * so that a process's first wait doesn't pay it. */
void iw_hazard_setup(void);

/* fork.c: in the child. */
void iw_hazard_fork_child(void);
#endif
