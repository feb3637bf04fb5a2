#include "guard.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>

/* MAP_FIXED at a given address, or anywhere when at is NULL; without
 * MAP_LOCKED if the process may not lock that much.  The kernel refuses
 * MAP_LOCKED (RLIMIT_MEMLOCK) before it touches the range, so a guarded
 * map's reservation is still whole for the second try. */
static void *map_populated(void *at, int fd, size_t len, off_t offset)
{
    int flags = MAP_SHARED | MAP_POPULATE | (at ? MAP_FIXED : 0);
    void *p = mmap(at, len, PROT_READ | PROT_WRITE, flags | MAP_LOCKED, fd, offset);
    if (p == MAP_FAILED)
        p = mmap(at, len, PROT_READ | PROT_WRITE, flags, fd, offset);
    return p;
}

void *iw_guard_map_shared(int fd, size_t len, off_t offset) { return map_populated(NULL, fd, len, offset); }

/* A PROT_NONE reservation of len + 2 pages, never backed by memory, with
 * the file mapped over its middle.  The reservation is this thread's alone
 * (no other mmap can be placed inside it), so MAP_FIXED replaces nothing
 * but our own guard space. */
static void *map_guarded(int fd, size_t len, off_t offset, size_t page, bool populated)
{
    char *r = mmap(NULL, len + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return MAP_FAILED;
    void *p = populated ? map_populated(r + page, fd, len, offset)
                        : mmap(r + page, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, offset);
    if (p == MAP_FAILED) {
        int err = errno;
        munmap(r, len + 2 * page);
        errno = err;
    }
    return p;
}

void *iw_guard_map(int fd, size_t len, off_t offset, size_t page) { return map_guarded(fd, len, offset, page, true); }

void *iw_guard_map_sparse(int fd, size_t len, off_t offset, size_t page)
{
    return map_guarded(fd, len, offset, page, false);
}

/* One call takes the page and its guards: no moment when a guard is gone
 * and the page is still there. */
void iw_guard_unmap(void *p, size_t len, size_t page) { munmap((char *)p - page, len + 2 * page); }
