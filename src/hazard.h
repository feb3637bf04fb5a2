/*
 * Short calls on an event, mutex or semaphore (Set, Reset, Pulse, Release,
 * a wait's first try) pin the object instead of taking a reference: no
 * lock, no atomic read-modify-write (hazard.c).  A pinned call must not
 * block; one that has to sleep takes a reference (iw_object_get_pinned).
 * The pin protocol is stated in hazard.c; DESIGN.md ("The short calls take
 * no lock") refers to it.
 */
#ifndef IW_HAZARD_H
#define IW_HAZARD_H
#include <iwin32.h>

struct iw_object;
struct iw_object_ops;

/* The object behind handle h if it is of type ops - or, ops NULL, waitable
 * (iw_ops_are) - pinned until iw_hazard_unpin; NULL (and
 * ERROR_INVALID_HANDLE set) if h is not an open handle of that type.  One
 * pin per thread at a time.  Only waitable types may be pinned: object.c
 * waits for pins on those alone. */
struct iw_object *iw_hazard_pin(HANDLE h, const struct iw_object_ops *ops);
void iw_hazard_unpin(void);

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
