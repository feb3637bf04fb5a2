/*
 * The pool (SPEC 5): all shared memory of a node comes from one pool of
 * pool_max_pages pages.  Objects count their size in whole pages; events,
 * mutexes, semaphores and the library's own bookkeeping count nothing.
 */
#ifndef IW_POOL_H
#define IW_POOL_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "node.h"

/* Reserves pages for an object whose file (inode own, descriptor own_fd)
 * is already sized, held and in the node directory; called in transit.
 * ERROR_SUCCESS or ERROR_NOT_ENOUGH_MEMORY (after an exact recount has shown
 * that live objects really fill the pool). */
DWORD iw_pool_reserve(struct iw_node *node, uint64_t pages, ino_t own, int own_fd);

/* The word may be too high in a way no dead member shows (pool.c): the
 * next refusal counts. */
void iw_pool_doubt(const struct iw_node *node);

/* The pool's reset epoch: a destroyer reads it before it unlinks. */
uint64_t iw_pool_epoch(struct iw_node *node);

/* Returns an object's pages, after its destroyer unlinked it - unless a
 * recount reset the pool since the epoch read before the unlink. */
void iw_pool_release(struct iw_node *node, uint64_t pages, uint64_t epoch);

/* Called outside transit (pool_count.c: scan_pass).  Counts the pages of every live object (removing stale files on the way),
 * and sets the shared counter to that count, objects being made included,
 * when nothing changed meanwhile.  *used_pages: the objects that exist. */
DWORD iw_pool_recount(struct iw_node *node, uint64_t *used_pages);

/* Sets the shared counter to the pages of every live object (objects
 * being made included), whatever it held: for a rebuilt header
 * (node_header.c), whose caller holds the rebuild lock. */
DWORD iw_pool_reset(struct iw_node *node);

/* The pages the shared counter holds now: never below the pages of live
 * objects, and above them by what crashed processes left, until a recount. */
uint64_t iw_pool_counted(struct iw_node *node);

/* Whether the word has room for pages more now: a hint for a creator's
 * order of work (object.c: make_file), never a reservation. */
bool iw_pool_has_room(struct iw_node *node, uint64_t pages);

/* Sets the pool's size (the CLI's pool --set): ERROR_NOT_ENOUGH_MEMORY,
 * nothing changed, when live objects use more than max_pages.
 * *used_pages: their pages, from a recount. */
DWORD iw_pool_set_size(struct iw_node *node, uint64_t max_pages, uint64_t *used_pages);

/* Pages an object file counts against the pool (0 for synchronization objects). */
uint64_t iw_pool_pages_of(const struct iw_node *node, const char *file, const struct stat *st);
#endif
