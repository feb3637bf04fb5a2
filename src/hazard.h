/*
 * Short calls on an event, mutex or semaphore (Set, Reset, Pulse, Release,
 * a wait's first try) pin the object instead of taking a reference: no
 * lock, no atomic read-modify-write (hazard.c).  A pinned call must not
 * block; one that has to sleep takes a reference (iw_object_from_handle).
 */
#ifndef IW_HAZARD_H
#define IW_HAZARD_H
#include "object.h"

/* The object behind handle h if it is of that type (any type but shared
 * memory when type is 0), pinned until
 * iw_object_unpin; NULL (and ERROR_INVALID_HANDLE set) otherwise.  One pin
 * per thread at a time. */
struct iw_object *iw_object_pin(HANDLE h, enum iw_type type);
void iw_object_unpin(void);

/* Before the last reference of an object that had handles lets go of it:
 * waits until no thread has it pinned (its handles are closed already). */
void iw_hazard_wait_unpinned(const struct iw_object *obj);
#endif
