/*
 * The node: one namespace of objects, a directory on tmpfs.
 * $IWIN32_ROOT (absolute), default /dev/shm/iwin32-<uid>; created 0700, and
 * refused (ERROR_ACCESS_DENIED) when it is a symlink, not a directory, or
 * owned by another user.  Its file ".node" holds the node's settings and the
 * pool's shared counter, mapped by every process that uses the node.
 */
#ifndef IW_NODE_H
#define IW_NODE_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "iwin32.h"

#define IW_NODE_MAGIC 0x4e573249u /* "I2WN" */
#define IW_NODE_VERSION 1u

struct iw_node_header {
    uint32_t magic;
    uint32_t version;
    uint64_t pool_max_pages;       /* set when the node is created */
    _Atomic uint64_t pool_state;   /* see pool.c: used pages and a change count */
};

struct iw_node {
    int dirfd;
    size_t page_size;
    struct iw_node_header *header;
};

/* The process's node, opened on first use.  Returns ERROR_SUCCESS or the
 * error every call reports while the node cannot be used. */
DWORD iw_node_get(struct iw_node **out);

/* A unique name, prefix ("t-", "u-") + 32 hex digits, for a new node file;
 * buf holds at least IW_UNIQUE_NAME_SIZE bytes. */
#define IW_UNIQUE_NAME_SIZE 64
void iw_node_unique_name(char *buf, const char *prefix);
/* Draws a new key for unique names (a forked child must not repeat its parent's). */
void iw_node_reseed(void);

static inline uint64_t iw_pages(const struct iw_node *node, uint64_t bytes)
{
    return (bytes + node->page_size - 1) / node->page_size;
}
#endif
