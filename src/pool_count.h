/*
 * The pool's exact count: every object file someone holds, read from the
 * node directory in two passes (pool_count.c); stale files met on the way
 * are removed.  pool.c decides what the count means for the word.
 */
#ifndef IW_POOL_COUNT_H
#define IW_POOL_COUNT_H
#include <stdint.h>
#include <sys/types.h>

#include "node.h"

/* What a recount found. */
struct iw_pool_count {
    uint64_t live;              /* pages of every held file */
    uint64_t in_flight;         /* of those still being made (their creators may yet give up) */
    uint64_t ahead;             /* of those among them with an inode number below own */
    uint64_t stable;            /* of objects that existed at the instant between the passes */
};

/* Counts every held object file (own: the caller's file being made, whose
 * inode orders it among the files in flight).  Returns 0 or an errno
 * (EMFILE, ENOMEM...: a count without a file would be too low).  Called
 * outside transit (pool_count.c, scan_pass). */
int iw_pool_count_live(struct iw_node *node, ino_t own, struct iw_pool_count *c);
#endif
