/*
 * The node: one namespace of objects, a directory on tmpfs.
 * $IWIN32_ROOT (absolute), default /dev/shm/iwin32-<uid>; created 0700.  It
 * is either private (the caller's own, files 0600) or group-shared (mode
 * 2770, files 0660); anything else - a symlink, not a directory, another
 * user's - is refused with ERROR_ACCESS_DENIED (node.c says exactly what is
 * accepted and why), and so is a directory that lacks ".node" and is not
 * empty (SPEC 8: someone else's directory, never written to).  Its file ".node" holds the node's settings and the
 * pool's shared counter, mapped by every process that uses the node, and
 * after that page the table of the node's member processes (members.h).
 */
#ifndef IW_NODE_H
#define IW_NODE_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "iwin32.h"

#define IW_NODE_MAGIC 0x4e573249u /* "I2WN" */
#define IW_NODE_VERSION 6u /* 2: files carry the library's mark (mark.h); pool_resets;
                              3: object headers carry their state's layout;
                              4: pool_doubt, pool_settled and the member table after the header page (members.h);
                              5: member slots carry their charges (members.c);
                              6: and lists of what they hold (member_list.h) */

struct iw_node_header {         /* atomic: rebuilt in place (node_header.h) */
    _Atomic uint32_t magic;
    _Atomic uint32_t version;
    /* Set when the node is created; the CLI changes it (iw_pool_set_size)
     * while creators read it, hence atomic. */
    _Atomic uint64_t pool_max_pages;
    _Atomic uint64_t pool_state;   /* see pool.c: used pages and a change count */
    _Atomic uint64_t pool_resets;  /* see pool.c: bumped before every reset */
    _Atomic uint64_t pool_doubt;   /* see pool.c: doubts raised about pool_state (too high) */
    _Atomic uint64_t pool_settled; /* see pool.c: the doubts an exact count has settled */
};

struct iw_node {
    int dirfd;
    size_t page_size;
    mode_t file_mode;              /* of the node's files: 0600, or 0660 if group-shared */
    uid_t uid;                     /* the caller (owner of the files it makes) */
    gid_t gid;                     /* the directory's group (a group-shared node's files') */
    struct iw_node_header *header;
};

/* The largest pool, in MiB (IWIN32_POOL_MB, the CLI's pool --set). */
#define IW_POOL_MB_MAX (1ull << 30)

/* The node directory's path: $IWIN32_ROOT, or /dev/shm/iwin32-<uid> when it
 * is unset or empty.  ERROR_INVALID_PARAMETER (reported on stderr) when
 * $IWIN32_ROOT is not an absolute path that fits. */
#define IW_NODE_PATH_SIZE 4096
DWORD iw_node_path(char path[IW_NODE_PATH_SIZE]);

/* The process's node, opened on first use.  Returns ERROR_SUCCESS, or the
 * error the calling call reports (*out is then NULL).  A node that could not
 * be opened is tried again by the next call (the cause may have been
 * passing: RLIMIT_NOFILE, a full tmpfs), except for an invalid IWIN32_ROOT
 * or IWIN32_POOL_MB, which is reported once and stays. */
DWORD iw_node_get(struct iw_node **out);

/* ERROR_SUCCESS, or ERROR_PATH_NOT_FOUND once the process's node directory
 * has been removed (node.c: what the process may still do).  One fstat. */
DWORD iw_node_present(struct iw_node *node);

/* A unique name, prefix ("t-", "t-h", "u-") + 32 lower-case hex digits, for a new node file;
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
