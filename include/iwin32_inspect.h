/*
 * iwin32_inspect.h - looking at a node from outside: what iwin32(1) shows,
 * for any tool (libiwin32_inspect(3) ... see iwin32InspectList(3)).
 *
 * These calls never make a node and never become a holder of an object: an
 * object is looked at without taking its reference lock, so nothing done
 * here keeps an object alive or destroys a live one.  A leftover - the file
 * of an object no process holds any more, what a killed process left - is
 * removed when a call meets it, as the library does on its next access.
 * The node is the calling process's: $IWIN32_ROOT, else /dev/shm/iwin32-UID.
 *
 * Errors: FALSE, and GetLastError() says why (iwin32ErrorText(3)).
 */
#ifndef IWIN32_INSPECT_H
#define IWIN32_INSPECT_H
#include <stddef.h>
#include <stdint.h>

#include "iwin32.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest name (bytes) and the largest pool (MiB) of a node. */
#define IWIN32_INSPECT_NAME_MAX 259
#define IWIN32_INSPECT_POOL_MB_MAX (1ull << 30)

typedef enum {
    IWIN32_OBJECT_SHM = 1,
    IWIN32_OBJECT_EVENT,
    IWIN32_OBJECT_MUTEX,
    IWIN32_OBJECT_SEMAPHORE
} IWIN32_OBJECT_TYPE;

/* An event's, a mutex's or a semaphore's state, read without changing it. */
typedef struct {
    BOOLEAN manualReset;        /* event */
    BOOLEAN signalled;          /* event */
    LONG count;                 /* semaphore */
    LONG maximum;               /* semaphore */
    int32_t ownerTid;           /* mutex: the owning thread as the kernel knows it; 0: none */
    int32_t ownerPid;           /* mutex: its process; 0 when that thread is not visible here */
    uint32_t depth;             /* mutex: the owner's acquisitions */
    BOOLEAN abandoned;          /* mutex: its owner died holding it; the next acquirer is told */
    uint32_t waiters;           /* threads waiting (a mutex: in multi-object waits) */
} IWIN32_OBJECT_STATE;

typedef struct {
    char name[IWIN32_INSPECT_NAME_MAX + 1]; /* NUL-terminated; "" for an unnamed object */
    size_t nameLength;
    char file[256];             /* its file in the node directory */
    IWIN32_OBJECT_TYPE type;    /* 0 only for a file being made (leftover callback) */
    uint64_t size;              /* shared memory: its exact size in bytes; others 0 */
    uint64_t poolPages;         /* the pages it takes from the pool */
    int64_t createdSeconds;     /* its creation (Unix time), -1 when the filesystem keeps none */
    long createdNanoseconds;
    uint32_t holders;           /* processes holding it */
    int32_t *pids;              /* processes with a descriptor on it that this user may see */
    size_t pidCount;
    BOOLEAN leftover;           /* no process held it: this call removed it */
    BOOLEAN stateKnown;         /* state is filled (events, mutexes, semaphores) */
    IWIN32_OBJECT_STATE state;
    unsigned char *data;        /* iwin32InspectObject: the first bytes of shared memory */
    size_t dataLength;
    uint64_t device, inode;     /* the file's identity */
} IWIN32_OBJECT_INFO;

/* Told of every leftover a listing removes. */
typedef void (*IWIN32_LEFTOVER_CALLBACK)(const IWIN32_OBJECT_INFO *leftover, void *context);

/* iwin32InspectList flags: also look at files of objects being made, and
 * remove those whose maker died (never listed). */
#define IWIN32_INSPECT_IN_FLIGHT 1u

/* The node's path into path (pathSize bytes), and whether there is a node
 * there that this process may use: FALSE with ERROR_PATH_NOT_FOUND when
 * none has been made (none is made here), ERROR_ACCESS_DENIED when it is
 * refused, ERROR_INVALID_PARAMETER when $IWIN32_ROOT is not an absolute
 * path or the node's path does not fit.  path is filled whenever it fits
 * ("" when $IWIN32_ROOT is not an absolute path). */
BOOLEAN iwin32InspectNode(char *path, size_t pathSize);

/* The node's live objects, in name order (bytes; unnamed ones last), with
 * their holders, pids and state, into *objects (*count of them; free with
 * iwin32InspectFree).  Leftovers are removed on the way, each told to
 * onLeftover when it is not NULL. */
BOOLEAN iwin32InspectList(DWORD flags, IWIN32_LEFTOVER_CALLBACK onLeftover, void *context,
                          IWIN32_OBJECT_INFO **objects, size_t *count);

/* The object named lpName, with its holders, pids, state and the first
 * dataBytes bytes of shared memory (data, dataLength), into *object (free
 * with iwin32InspectFree(*object, 1)).  A leftover is removed, and reported
 * with leftover TRUE and no holders.  FALSE with ERROR_FILE_NOT_FOUND when
 * there is no such object. */
BOOLEAN iwin32InspectObject(LPCTSTR lpName, uint64_t dataBytes, IWIN32_OBJECT_INFO **object);

/* Frees what iwin32InspectList or iwin32InspectObject returned. */
void iwin32InspectFree(IWIN32_OBJECT_INFO *objects, size_t count);

/* What the pool's shared counter holds now, in bytes, without a recount:
 * above the use iwin32PoolInfo reports by what killed processes left. */
BOOLEAN iwin32InspectPoolCounted(uint64_t *countedBytes);

/* Sets the pool's size: sizeBytes, a positive multiple of the page size,
 * at most IWIN32_INSPECT_POOL_MB_MAX MiB (else ERROR_INVALID_PARAMETER).
 * FALSE with ERROR_NOT_ENOUGH_MEMORY, nothing changed, when live objects
 * use more.  *usedBytes (when not NULL): their use, from a recount. */
BOOLEAN iwin32InspectSetPoolSize(uint64_t sizeBytes, uint64_t *usedBytes);

#ifdef __cplusplus
}
#endif
#endif
