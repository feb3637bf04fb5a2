/*
 * Objects of this process alone: threads, process handles, timers (SPEC 9).
 * They have no name, no file and no node - CreateThread works without one -
 * but they are objects like the named ones in every other way: a handle in
 * the handle table, CloseHandle, references, pins, and (for a waitable
 * type) the generic waits of wait.c through their type's table
 * (object_ops.h: free_local non-NULL marks a local type).
 *
 * The state lives in private memory, zeroed, at iw_object_state(obj) as for
 * a named object, so a type's wait protocol reads the same either way.
 *
 * Lifetime: a local object is never in the process's records, so nothing
 * finds it but a handle or a reference its type keeps (a running thread
 * holds its own).  Its references drop without the process lock: a lookup
 * through a handle only ever finds it while that handle's reference is
 * still counted (the handle leaves the table first, under the lock), so
 * the count never rises from zero.  The last drop waits for pins
 * (hazard.c), then calls free_local and frees the memory.
 *
 * fork(): a child inherits the parent's table and with it these handles,
 * but not the threads behind them (only the forking thread is copied):
 * the child may close them and must not otherwise use them.
 */
#ifndef IW_LOCAL_OBJECT_H
#define IW_LOCAL_OBJECT_H
#include <iwin32.h>

#include "object.h"

/* A new local object of type ops with one reference and its state zeroed;
 * NULL with ERROR_NOT_ENOUGH_MEMORY set. */
struct iw_object *iw_local_object_new(const struct iw_object_ops *ops);

/* Another reference, for the type's own use (a running thread's). */
void iw_local_object_get(struct iw_object *obj);

/* iw_object_put's way for a local object. */
void iw_local_object_put(struct iw_object *obj);

/* Whether obj is a local object. */
static inline bool iw_object_is_local(const struct iw_object *obj) { return obj->ops->free_local != NULL; }
#endif
