/*
 * This process's records of objects, by file name; the process lock; and
 * fork, after which a child holds references of its own.
 */
#ifndef IW_RECORDS_H
#define IW_RECORDS_H
#include <stdbool.h>

#include "object.h"

/* The process lock, guarding the records and the handle table. */
void iw_records_lock(void);
void iw_records_unlock(void);

/* With the process lock held. */
struct iw_object *iw_records_find(const char *file);
bool iw_records_insert(struct iw_object *obj);
void iw_records_remove(struct iw_object *obj);

/* Brackets a call that holds object descriptors outside the records (being
 * made, opened or destroyed): fork waits for it (see transit.c).  Also a
 * call that makes or closes a handle of an object of the records, from its
 * record's handle count to the handle table: a child forked in between
 * would hold a reference (counted in handles) without its handle, for as
 * long as it lives (tests/test_lifetime_fork.c).  Brackets nest. */
void iw_transit_begin(void);
void iw_transit_end(void);

/* A long wait inside such a call (a recount, which may scan thousands of
 * files) need not hold fork up: the call parks its descriptor - leaving
 * transit - and unparks it - entering transit again - afterwards.  A child
 * forked meanwhile closes its copy of every parked descriptor, so it holds
 * nothing through them (the parent's copy keeps the description and its
 * lock).  The record lives on the caller's stack. */
struct iw_parked {
    int fd;
    unsigned depth;             /* the caller's brackets, back at unpark */
    struct iw_parked *next;
};
void iw_transit_park(struct iw_parked *parked, int fd);
void iw_transit_unpark(struct iw_parked *parked);

/* transit.c, for fork.c: prepare waits for the calls in transit and keeps
 * new ones out; parent and child let them in again (the child closes its
 * copies of the parked descriptors first). */
void iw_transit_fork_prepare(void);
void iw_transit_fork_parent(void);
void iw_transit_fork_child(void);

/* fork.c: prepare takes the process lock and raises the soft descriptor
 * limit for the fork; own gives every record a description of its own;
 * parent and child keep theirs, restore the limit and let go. */
void iw_records_fork_prepare(void);
void iw_records_fork_own(void);
void iw_records_fork_parent(void);
void iw_records_fork_child(void);
#endif
