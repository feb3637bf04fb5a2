/*
 * The node header (".node"): mapped between guard pages (guard.h), checked
 * when the node is opened and wherever the pool relies on it, and rebuilt
 * when it is damaged - someone wrote over the file, or cut it short - by
 * setting its values again and the pool's counter to an exact recount
 * (SPEC 8): a damaged header is never a permanent refusal.
 *
 * Not detected: a pool counter overwritten with another plausible value
 * while magic, version and pool size stay right.  Too high, the next
 * refused reservation's recount repairs it (pool.c); too low, the pool can
 * be overcommitted until a rebuild or a recount that finds it full.
 */
#ifndef IW_NODE_HEADER_H
#define IW_NODE_HEADER_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "node.h"

/* Maps ".node" (fd, checked to be the node's) as node->header, rebuilding
 * it first if it is damaged; pool_pages is the size a rebuild gives a pool
 * whose size is lost (IWIN32_POOL_MB, or the default). */
DWORD iw_node_header_map(struct iw_node *node, int fd, uint64_t pool_pages);
void iw_node_header_unmap(struct iw_node *node);

/* Magic, version and pool size are what they can be: two loads on the
 * pool's cache line, for the Create path. */
static inline bool iw_node_header_whole(const struct iw_node *node)
{
    const struct iw_node_header *h = node->header;
    uint64_t max = atomic_load_explicit(&h->pool_max_pages, memory_order_relaxed);
    return atomic_load_explicit(&h->magic, memory_order_acquire) == IW_NODE_MAGIC &&
           atomic_load_explicit(&h->version, memory_order_relaxed) == IW_NODE_VERSION && max > 0 &&
           max <= (IW_POOL_MB_MAX << 20) / node->page_size;
}

/* Rebuilds the header if it is (still) damaged.  ERROR_SUCCESS, or why
 * not (it is tried again by the next call that finds it damaged). */
DWORD iw_node_header_repair(struct iw_node *node);
#endif
