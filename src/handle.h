/*
 * The handle table: per process, O(1), values >= 0x10000.
 * A handle's value is (generation << 20) | slot, generation 1..2047, so a
 * closed handle's value comes back only after its slot has been reused 2047
 * times: a stale handle fails instead of reaching a new object.
 * All functions are called with the process lock held (object.h), but
 * iw_handle_lookup may also be called without (see hazard.c).
 */
#ifndef IW_HANDLE_H
#define IW_HANDLE_H
#include "object.h"

/* A new handle for obj (which already counts the reference it stands for),
 * or NULL when the table is full or memory is short. */
HANDLE iw_handle_new(struct iw_object *obj);

/* The object behind h, or NULL for a value that is not an open handle.
 * Without the process lock, the object may be closed and freed at any
 * moment: only hazard.c does that, and validates what it found. */
struct iw_object *iw_handle_lookup(HANDLE h);

/* Closes h and returns its object (whose reference the caller drops), or NULL. */
struct iw_object *iw_handle_remove(HANDLE h);
#endif
