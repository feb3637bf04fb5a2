/*
 * What the two halves of test_crash_points share (test_crash_points.c: the
 * scenes, the checks after each run, every point covered;
 * test_crash_points_peer.c: the peer, one scenario's calls): the pool and
 * object sizes, the kinds of object, checksummed shared memory, the objects
 * made and opened by kind, and whether a process sleeps in a wait.
 * Header-only (static inline); both files are one executable, which is its
 * own peer.
 */
#ifndef IWIN32_TEST_CRASH_POINTS_UTIL_H
#define IWIN32_TEST_CRASH_POINTS_UTIL_H
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <iwin32.h>

#include "sync_util.h"
#include "test_node.h"

#define POOL_MB 8
#define SIZE ((64u << 10) + 123)
#define FULL_SIZE (4u << 20)
#define SEED 0x5eedu

enum kind { SHM, EVENT, MUTEX, SEMAPHORE };

/* ---- checksummed shared memory ------------------------------------------- */

struct stamp {
    uint32_t magic, seed, sum;
};
#define STAMP_MAGIC 0xC4A5E0u

static inline uint8_t pattern(uint32_t seed, size_t i) { return (uint8_t)((seed * 2654435761u + i * 40503u) >> 7); }

static inline uint32_t checksum(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = sizeof(struct stamp); i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static inline void fill(unsigned char *p, size_t n, uint32_t seed)
{
    for (size_t i = sizeof(struct stamp); i < n; i++)
        p[i] = pattern(seed, i);
    struct stamp s = {STAMP_MAGIC, seed, checksum(p, n)};
    memcpy(p, &s, sizeof s);
}

static inline bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Filled completely with that seed's pattern, checksum matching. */
static inline bool intact(const unsigned char *p, size_t n, uint32_t seed)
{
    struct stamp s;
    memcpy(&s, p, sizeof s);
    return s.magic == STAMP_MAGIC && s.seed == seed && s.sum == checksum(p, n);
}

/* ---- the objects, by kind ---------------------------------------------------- */

/* Create: *fresh tells whether it is new (last error 0) or existed. */
static inline HANDLE create(enum kind kind, const char *name, DWORD size, void **p, bool *fresh)
{
    HANDLE h = NULL;
    SetLastError(SENTINEL);
    switch (kind) {
    case SHM: h = RtCreateSharedMemory(PAGE_READWRITE, 0, size, name, p); break;
    case EVENT: h = RtCreateEvent(NULL, FALSE, FALSE, name); break;
    case MUTEX: h = RtCreateMutex(NULL, FALSE, name); break;
    case SEMAPHORE: h = RtCreateSemaphore(NULL, 0, 10, name); break;
    }
    *fresh = h != NULL && GetLastError() == ERROR_SUCCESS;
    if (h != NULL && !*fresh && GetLastError() != ERROR_ALREADY_EXISTS)
        return NULL;
    return h;
}

static inline HANDLE open_object(enum kind kind, const char *name, void **p)
{
    switch (kind) {
    case SHM: return RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, name, p);
    case EVENT: return RtOpenEvent(0, FALSE, name);
    case MUTEX: return RtOpenMutex(0, FALSE, name);
    default: return RtOpenSemaphore(0, FALSE, name);
    }
}

static inline bool release(HANDLE h, void *p) { return (p == NULL || RtUnmapSharedMemory(p)) && CloseHandle(h); }

/* The main thread of process pid sleeps in a futex: in a wait, registered. */
static inline bool asleep(pid_t pid)
{
    long call = sync_task_syscall(pid, pid);
    return call == SYNC_SYS_FUTEX || call == SYNC_SYS_FUTEX_WAITV;
}

/* The peer (test_crash_points_peer.c): plays the scenario, then names the
 * points it passed. */
int crash_peer(const char *scenario, enum kind kind, const char *name);
#endif
