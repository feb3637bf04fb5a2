/*
 * How the library maps node files into memory.
 *
 * Its own shared state - the node header (".node") and each event's,
 * mutex's and semaphore's state page - is mapped with a PROT_NONE guard
 * page below and above it (SPEC 8).  The kernel places mappings next to
 * each other, so without guards the page right above or below a user's
 * shared memory is as likely as not the node header or another process's
 * semaphore: a 24-byte overrun once turned every later Create in every
 * process into ERROR_ACCESS_DENIED.  With them, an overrun or underrun of
 * up to one page of any user memory - shared memory, heap, stacks - faults
 * in the offender (SIGSEGV) before it can reach state other processes
 * share.  The cost is one more mmap per map, and one more VMA per page
 * mapped (guards of neighbouring pages merge): README, "Limits".
 *
 * Every mapping is populated so that touching it never faults, and locked
 * where the process may lock memory (RLIMIT_MEMLOCK, CAP_IPC_LOCK) - but
 * for the sparse one below, which no wait or signal touches.
 */
#ifndef IW_GUARD_H
#define IW_GUARD_H
#include <stddef.h>
#include <sys/types.h>

/* Maps len bytes of fd from offset, shared, read-write: user memory,
 * unguarded.  MAP_FAILED (errno set) on failure. */
void *iw_guard_map_shared(int fd, size_t len, off_t offset);

/* The same, between two guard pages: the library's own state.  len is a
 * multiple of page.  Undone only by iw_guard_unmap. */
void *iw_guard_map(int fd, size_t len, off_t offset, size_t page);
void iw_guard_unmap(void *p, size_t len, size_t page);

/* The same, neither populated nor locked: for a large table of which a
 * process touches a page or two.  A page must exist before it is written
 * (fallocate): on a full tmpfs, writing a missing page is SIGBUS. */
void *iw_guard_map_sparse(int fd, size_t len, off_t offset, size_t page);
#endif
