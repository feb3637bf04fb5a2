#include "node_header.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crash_point.h"
#include "guard.h"
#include "last_error.h"
#include "pool.h"

/* The byte of ".node" whose OFD write lock a rebuilder holds.  Not byte 0:
 * the process making the node holds a read lock there (node.c) until it
 * has mapped the header, and its own rebuild must not wait for itself. */
#define REBUILD_LOCK_BYTE 1

/* The pool size a rebuild gives a pool whose size is lost.  One node per
 * process, so one value; set before the header is first checked. */
static _Atomic uint64_t default_pool_pages;

DWORD iw_node_header_map(struct iw_node *node, int fd, uint64_t pool_pages)
{
    atomic_store(&default_pool_pages, pool_pages);
    /* A file cut shorter than the header is damaged like any other, but a
     * mapping would fault beyond its end: it gets its length back first,
     * zeros that the check below finds wrong.  By fallocate, which only
     * ever lengthens a file: another process may have extended it, since
     * our fstat, past the header page to hold the member table (members.c),
     * and an ftruncate to the header's length would cut that table off
     * under it - its slots wiped, its next touch of them SIGBUS. */
    struct stat st;
    if (fstat(fd, &st) != 0)
        return iw_error_from_errno(errno);
    if ((size_t)st.st_size < sizeof(struct iw_node_header)) {
        IW_CRASH_POINT("node.header_short");
        int rc = posix_fallocate(fd, 0, sizeof(struct iw_node_header));
        if (rc != 0)
            return iw_error_from_errno(rc);
    }
    void *p = iw_guard_map(fd, node->page_size, 0, node->page_size);
    if (p == MAP_FAILED)
        return iw_error_from_errno(errno);
    node->header = p;
    /* An intact magic with another version is no damage: it is a node of
     * another version of the library, whose files follow other rules (mark.h).
     * Rebuilding it would make its files ours; it is refused instead. */
    const struct iw_node_header *h = node->header;
    DWORD err = ERROR_ACCESS_DENIED;
    if (atomic_load(&h->magic) != IW_NODE_MAGIC || atomic_load(&h->version) == IW_NODE_VERSION)
        err = iw_node_header_whole(node) ? ERROR_SUCCESS : iw_node_header_repair(node);
    if (err != ERROR_SUCCESS)
        iw_node_header_unmap(node);
    return err;
}

void iw_node_header_unmap(struct iw_node *node)
{
    iw_guard_unmap(node->header, node->page_size, node->page_size);
    node->header = NULL;
}

/* Under the rebuild lock.  The magic goes first and comes back last, so a
 * rebuilder killed half-way leaves a header every process still finds
 * damaged (the next one rebuilds it), and a process that reads the magic
 * whole also reads the values written before it.  A pool size that is
 * plausible is kept: it may be what the CLI's pool --set chose. */
static DWORD rebuild(struct iw_node *node)
{
    struct iw_node_header *h = node->header;
    atomic_store(&h->magic, 0);
    atomic_store(&h->version, IW_NODE_VERSION);
    uint64_t max = atomic_load(&h->pool_max_pages);
    if (max == 0 || max > (IW_POOL_MB_MAX << 20) / node->page_size)
        atomic_store(&h->pool_max_pages, atomic_load(&default_pool_pages));
    IW_CRASH_POINT("node.rebuild_begun");
    DWORD err = iw_pool_reset(node);
    if (err != ERROR_SUCCESS)
        return err;
    IW_CRASH_POINT("node.rebuild_counted");
    atomic_store_explicit(&h->magic, IW_NODE_MAGIC, memory_order_release);
    return ERROR_SUCCESS;
}

/* Two processes (or threads) that find the header damaged at once: each
 * takes the rebuild lock, on a description of its own (a shared one - a
 * dup, or one inherited across fork - would not exclude the other), and
 * looks again once it has it: the second finds the first's work done.  A
 * rebuilder killed holding the lock loses it with its descriptors, and the
 * magic it had cleared sends the next caller to rebuild again.  Waiting
 * for the lock is bounded: its holder only scans the directory, and never
 * waits for anything while it holds the lock. */
DWORD iw_node_header_repair(struct iw_node *node)
{
    int fd = openat(node->dirfd, ".node", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return iw_error_from_errno(errno);
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = REBUILD_LOCK_BYTE, .l_len = 1};
    int rc;
    while ((rc = fcntl(fd, F_OFD_SETLKW, &lock)) != 0 && errno == EINTR)
        ;
    DWORD err = rc == 0 ? ERROR_SUCCESS : iw_error_from_errno(errno);
    if (err == ERROR_SUCCESS) {
        IW_CRASH_POINT("node.rebuild_locked");
        if (!iw_node_header_whole(node))
            err = rebuild(node);
    }
    close(fd); /* and with it the lock */
    return err;
}
