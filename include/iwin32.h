/*
 * iwin32.h - the INtime iwin32 API (the Rt* calls RTX shares) on Linux:
 * named shared memory and named synchronization objects shared between
 * processes by name.  This is the library's only public header; it follows
 * the behaviour contract (SPEC.md) section by section.
 */
#ifndef IWIN32_H
#define IWIN32_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 2. Types: Win32 ABI widths regardless of platform ---------------- */
typedef uint32_t DWORD;
typedef uint32_t UINT;
typedef int32_t LONG;           /* 32-bit, not C long */
typedef LONG *LPLONG;
typedef int BOOL;
typedef unsigned char BOOLEAN;
typedef void *HANDLE;
typedef void *PVOID;
typedef void VOID;
typedef const char *LPCTSTR;    /* UTF-8 */
typedef struct _SECURITY_ATTRIBUTES *LPSECURITY_ATTRIBUTES; /* accepted, ignored */

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#define INFINITE 0xFFFFFFFFu

/* ---- 2. Constants: Win32's numeric values ---------------------------- */
#define ERROR_SUCCESS               0u
#define ERROR_FILE_NOT_FOUND        2u
#define ERROR_PATH_NOT_FOUND        3u
#define ERROR_TOO_MANY_OPEN_FILES   4u   /* RLIMIT_NOFILE reached (beyond the SPEC's list) */
#define ERROR_ACCESS_DENIED         5u
#define ERROR_INVALID_HANDLE        6u
#define ERROR_NOT_ENOUGH_MEMORY     8u
#define ERROR_INVALID_PARAMETER     87u
#define ERROR_NOT_SUPPORTED         50u  /* multi-object wait on a kernel without futex_waitv */
#define ERROR_INVALID_NAME          123u
#define ERROR_ALREADY_EXISTS        183u
#define ERROR_FILENAME_EXCED_RANGE  206u
#define ERROR_NOT_OWNER             288u
#define ERROR_TOO_MANY_POSTS        298u
#define ERROR_INVALID_ADDRESS       487u

#define WAIT_OBJECT_0       0x00000000u
#define WAIT_ABANDONED_0    0x00000080u
#define WAIT_TIMEOUT        0x00000102u
#define WAIT_FAILED         0xFFFFFFFFu

#define MAX_PATH            260
#define PAGE_READONLY       2u
#define PAGE_READWRITE      4u
#define SHM_MAP_READ        1u
#define SHM_MAP_WRITE       2u
#define SHM_MAP_ALL_ACCESS  3u
#define MAXIMUM_WAIT_OBJECTS 64

/* ---- 3. Shared memory ------------------------------------------------- */
HANDLE  RtCreateSharedMemory(DWORD flProtect, DWORD MaximumSizeHigh,
                             DWORD MaximumSizeLow, LPCTSTR lpName, VOID **location);
HANDLE  RtOpenSharedMemory(DWORD dwDesiredAccess, BOOLEAN bInheritHandle,
                           LPCTSTR lpName, VOID **location);
BOOLEAN RtUnmapSharedMemory(PVOID location);

/* ---- 6. Events, mutexes, semaphores and waits (same namespace) -------- */
HANDLE  RtCreateEvent(LPSECURITY_ATTRIBUTES a, BOOLEAN bManualReset, BOOLEAN bInitialState, LPCTSTR lpName);
HANDLE  RtOpenEvent(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName);
BOOLEAN RtSetEvent(HANDLE h);
BOOLEAN RtResetEvent(HANDLE h);
BOOLEAN RtPulseEvent(HANDLE h);
HANDLE  RtCreateMutex(LPSECURITY_ATTRIBUTES a, BOOLEAN bInitialOwner, LPCTSTR lpName);
HANDLE  RtOpenMutex(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName);
BOOLEAN RtReleaseMutex(HANDLE h);
HANDLE  RtCreateSemaphore(LPSECURITY_ATTRIBUTES a, LONG lInitialCount, LONG lMaximumCount, LPCTSTR lpName);
HANDLE  RtOpenSemaphore(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName);
BOOLEAN RtReleaseSemaphore(HANDLE h, LONG lReleaseCount, LPLONG lpPreviousCount);
DWORD   RtWaitForSingleObject(HANDLE h, DWORD dwMilliseconds);
DWORD   RtWaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles, BOOLEAN bWaitAll,
                                 DWORD dwMilliseconds);

/* ---- 4. Handles and the last error ------------------------------------ */
BOOLEAN CloseHandle(HANDLE hObject);
DWORD   GetLastError(void);
void    SetLastError(DWORD dwErrCode);

/* ---- 5. The pool (an extension: what INtime's node manager shows) ----- */
/* Recounts the node's live objects (reclaiming what killed processes left)
 * and reports the pool's size and use in bytes.  FALSE + GetLastError() on
 * failure. */
BOOLEAN iwin32PoolInfo(uint64_t *sizeBytes, uint64_t *usedBytes);

/* ---- 7. Extensions for users (not in INtime) --------------------------- */
/* The exact size in bytes, as created, of the shared memory object behind
 * hShm: what an opener must check before it writes a struct into memory an
 * older, smaller version of the struct made.  FALSE + ERROR_INVALID_HANDLE
 * for a handle that is not open shared memory, ERROR_INVALID_PARAMETER for a
 * NULL sizeBytes. */
BOOLEAN iwin32SharedMemorySize(HANDLE hShm, uint64_t *sizeBytes);
/* "ERROR_FILE_NOT_FOUND (2): <what it means here>" for every code the
 * library sets, a non-empty text for any other code; never NULL.  Leaves the
 * last error alone. */
const char *iwin32ErrorText(DWORD code);

#ifdef __cplusplus
}
#endif
#endif /* IWIN32_H */
