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

/* ---- 9. The base types INtime's iwin32.h has besides (Win32's) --------- */
typedef uint16_t WORD;
typedef uint8_t BYTE;
typedef int INT;
typedef uint32_t ULONG;         /* 32-bit, not C unsigned long */
typedef void *LPVOID;
typedef DWORD *LPDWORD;
typedef long long LONGLONG;     /* Win32's __int64: long long, not int64_t's long */
/* Win32's 64-bit integer with its two halves (little-endian).  The halves
 * are an anonymous struct, as in Win32 (u names them for strict compilers);
 * __extension__ keeps GCC's and Clang's -pedantic C99 and C++ quiet about it. */
#ifdef __GNUC__
#define IWIN32_ANONYMOUS __extension__
#else
#define IWIN32_ANONYMOUS
#endif
typedef union _LARGE_INTEGER {
    IWIN32_ANONYMOUS struct {
        DWORD LowPart;
        LONG HighPart;
    };
    struct {
        DWORD LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;
/* A clock identifier (RTX's CLOCK_1 ...): INtime ignores it, and so does this
 * library: every clock is CLOCK_MONOTONIC in 100 ns units. */
typedef DWORD CLOCK;
#define CLOCK_1 1u
#define CLOCK_2 2u
#define CLOCK_3 3u
#define CLOCK_SYSTEM CLOCK_1
#define CLOCK_FASTEST CLOCK_2
/* Calling-convention markers of Windows; nothing on Linux. */
#ifndef WINAPI
#define WINAPI
#endif
#ifndef RTFCNDCL
#define RTFCNDCL
#endif
typedef DWORD (WINAPI *LPTHREAD_START_ROUTINE)(LPVOID lpThreadParameter);
/* No wide characters: LPCTSTR is UTF-8, so TEXT("x") is "x". */
#ifndef TEXT
#define TEXT(quote) quote
#endif
/* NULL as <stddef.h> has it (which #undefs it first: either order works);
 * not <stddef.h> itself, whose attributes the docs checks would misread. */
#ifndef NULL
#ifdef __cplusplus
#define NULL __null
#else
#define NULL ((void *)0)
#endif
#endif

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
#define ERROR_BUSY                  170u /* RtSetTimer on a timer that is still active */
#define ERROR_INVALID_NAME          123u
#define ERROR_ALREADY_EXISTS        183u
#define ERROR_BAD_EXE_FORMAT        193u /* RtCreateProcess: not a program the kernel can run */
#define ERROR_FILENAME_EXCED_RANGE  206u
#define ERROR_SIGNAL_REFUSED        156u /* SuspendThread past MAXIMUM_SUSPEND_COUNT */
#define ERROR_NOT_OWNER             288u
#define ERROR_TOO_MANY_POSTS        298u
#define ERROR_INVALID_ADDRESS       487u

#define WAIT_OBJECT_0       0x00000000u
#define WAIT_ABANDONED_0    0x00000080u
#define WAIT_TIMEOUT        0x00000102u
#define WAIT_FAILED         0xFFFFFFFFu
#define WAIT_ABANDONED      WAIT_ABANDONED_0
#ifndef INVALID_HANDLE_VALUE
#define INVALID_HANDLE_VALUE ((HANDLE)(intptr_t)-1) /* no call here returns it: failures are NULL */
#endif
#define STILL_ACTIVE        259u   /* exit code of a thread or process still running */
#define CREATE_SUSPENDED    0x4u   /* CreateThread flag */

/* Win32 thread priority levels (SetThreadPriority); RTX-style priorities
 * (RtSetThreadPriority) are 0 (lowest) to 127 (highest).  Both map onto
 * SCHED_FIFO: man RtSetThreadPriority, docs/PORTING.md. */
#define THREAD_PRIORITY_IDLE            (-15)
#define THREAD_PRIORITY_LOWEST          (-2)
#define THREAD_PRIORITY_BELOW_NORMAL    (-1)
#define THREAD_PRIORITY_NORMAL          0
#define THREAD_PRIORITY_ABOVE_NORMAL    1
#define THREAD_PRIORITY_HIGHEST         2
#define THREAD_PRIORITY_TIME_CRITICAL   15
#define THREAD_PRIORITY_ERROR_RETURN    0x7FFFFFFF
#define RT_PRIORITY_MIN 0
#define RT_PRIORITY_MAX 127

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
/* The Open calls' access rights, Win32's values: accepted, ignored (every
 * handle may do everything, as in INtime). */
#define SYNCHRONIZE                 0x00100000u
#define EVENT_MODIFY_STATE          0x0002u
#define EVENT_ALL_ACCESS            0x001F0003u
#define MUTEX_MODIFY_STATE          0x0001u
#define MUTEX_ALL_ACCESS            0x001F0001u
#define SEMAPHORE_MODIFY_STATE      0x0002u
#define SEMAPHORE_ALL_ACCESS        0x001F0003u
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

/* ---- 9. The same calls under their Win32 names (INtime has both) ------ */
HANDLE  CreateEvent(LPSECURITY_ATTRIBUTES a, BOOLEAN bManualReset, BOOLEAN bInitialState, LPCTSTR lpName);
HANDLE  OpenEvent(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName);
BOOLEAN SetEvent(HANDLE h);
BOOLEAN ResetEvent(HANDLE h);
BOOLEAN PulseEvent(HANDLE h);
HANDLE  CreateMutex(LPSECURITY_ATTRIBUTES a, BOOLEAN bInitialOwner, LPCTSTR lpName);
HANDLE  OpenMutex(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName);
BOOLEAN ReleaseMutex(HANDLE h);
HANDLE  CreateSemaphore(LPSECURITY_ATTRIBUTES a, LONG lInitialCount, LONG lMaximumCount, LPCTSTR lpName);
HANDLE  OpenSemaphore(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName);
BOOLEAN ReleaseSemaphore(HANDLE h, LONG lReleaseCount, LPLONG lpPreviousCount);
DWORD   WaitForSingleObject(HANDLE h, DWORD dwMilliseconds);
DWORD   WaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles, BOOLEAN bWaitAll,
                               DWORD dwMilliseconds);
BOOLEAN RtCloseHandle(HANDLE hObject);
DWORD   RtGetLastError(void);
void    RtSetLastError(DWORD dwErrCode);

/* ---- 9. Threads: the current thread and priorities -------------------- */
/* The current thread's pseudo-handle, (HANDLE)-2 as in Win32: valid in the
 * thread that uses it, never closed. */
HANDLE  GetCurrentThread(void);
HANDLE  RtGetCurrentThread(void);
BOOLEAN SetThreadPriority(HANDLE hThread, int nPriority);
BOOLEAN RtSetThreadPriority(HANDLE hThread, int nPriority);
INT     GetThreadPriority(HANDLE hThread);
INT     RtGetThreadPriority(HANDLE hThread);

/* ---- 9. Threads: create, end, suspend; thread handles ----------------- */
/* A thread handle is signalled when the thread ends (both waits take it);
 * the id is the kernel's thread id (gettid).  man CreateThread. */
#define MAXIMUM_SUSPEND_COUNT       127
/* OpenThread's access rights: accepted, ignored (every handle may do all). */
#define THREAD_TERMINATE            0x0001u
#define THREAD_SUSPEND_RESUME       0x0002u
#define THREAD_SET_INFORMATION      0x0020u
#define THREAD_QUERY_INFORMATION    0x0040u
#define THREAD_ALL_ACCESS           0x1FFFFFu
HANDLE  CreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes, DWORD dwStackSize,
                     LPTHREAD_START_ROUTINE lpStartAddress, LPVOID lpParameter,
                     DWORD dwCreationFlags, LPDWORD lpThreadId);
HANDLE  RtCreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes, DWORD dwStackSize,
                       LPTHREAD_START_ROUTINE lpStartAddress, LPVOID lpParameter,
                       DWORD dwCreationFlags, LPDWORD lpThreadId);
VOID    ExitThread(DWORD dwExitCode);
VOID    RtExitThread(DWORD dwExitCode);
DWORD   GetCurrentThreadId(void);
HANDLE  OpenThread(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, DWORD dwThreadId);
BOOLEAN GetExitCodeThread(HANDLE hThread, LPDWORD lpExitCode);
DWORD   SuspendThread(HANDLE hThread);
DWORD   RtSuspendThread(HANDLE hThread);
DWORD   ResumeThread(HANDLE hThread);
DWORD   RtResumeThread(HANDLE hThread);
BOOLEAN TerminateThread(HANDLE hThread, DWORD dwExitCode);
BOOLEAN RtTerminateThread(HANDLE hThread, DWORD dwExitCode);

/* ---- 9. Sleeps and clocks (CLOCK_MONOTONIC; 100 ns units) ------------- */
VOID    Sleep(DWORD dwMilliseconds);
VOID    RtSleep(DWORD dwMilliseconds);
VOID    RtSleepFt(PLARGE_INTEGER pDuration);
BOOLEAN RtGetClockTime(CLOCK Clock, PLARGE_INTEGER pTime);
BOOLEAN RtGetClockResolution(CLOCK Clock, PLARGE_INTEGER pResolution);
BOOLEAN RtGetClockTimerPeriod(CLOCK Clock, PLARGE_INTEGER pTime);

/* ---- 9. Timers: a thread per timer calls a routine at each expiry ------ */
/* Times in 100 ns units on RtGetClockTime's clock; an expiration that is
 * negative (RtSetTimer) counts from now; an interval of 0 or NULL: once.
 * Priority: RTX 0-127, as RtSetThreadPriority.  Waitable: signalled at each
 * expiry, auto-reset (SPEC 9).  man RtCreateTimer. */
typedef struct _SECURITY_ATTRIBUTES *PSECURITY_ATTRIBUTES; /* accepted, ignored */
HANDLE  RtCreateTimer(PSECURITY_ATTRIBUTES pThreadAttributes, ULONG dwStackSize,
                      VOID (RTFCNDCL *Routine)(PVOID Context), PVOID Context, ULONG Priority,
                      CLOCK Clock);
BOOLEAN RtSetTimer(HANDLE hTimer, PLARGE_INTEGER pExpiration, PLARGE_INTEGER pInterval);
BOOLEAN RtSetTimerRelative(HANDLE hTimer, PLARGE_INTEGER pExpiration, PLARGE_INTEGER pInterval);
BOOLEAN RtGetTimer(HANDLE hTimer, PLARGE_INTEGER pTimeRemaining);
BOOLEAN RtCancelTimer(HANDLE hTimer, PLARGE_INTEGER pTimeRemaining);
BOOLEAN RtDeleteTimer(HANDLE hTimer);

/* ---- 9. Critical sections: a process's nameless mutexes --------------- */
/* Recursive and priority-inheriting; opaque (a pthread mutex inside). */
typedef struct _RTL_CRITICAL_SECTION {
    union {
        LONGLONG align;
        unsigned char bytes[64];
    } opaque;
} CRITICAL_SECTION, *LPCRITICAL_SECTION;
VOID    InitializeCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
VOID    EnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
BOOLEAN TryEnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
VOID    LeaveCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
VOID    DeleteCriticalSection(LPCRITICAL_SECTION lpCriticalSection);

/* ---- 9. Processes ------------------------------------------------------ */
/* A process handle is waitable (signalled once the process has ended) and
 * rests on a pidfd: it names that one process, never a later one that gets
 * its number.  Exit codes: man GetExitCodeProcess, docs/PORTING.md. */
typedef char *LPTSTR;           /* UTF-8, writable */
typedef BYTE *LPBYTE;
/* Win32's STARTUPINFO: accepted and ignored, as INtime does. */
typedef struct _STARTUPINFO {
    DWORD cb;
    LPTSTR lpReserved, lpDesktop, lpTitle;
    DWORD dwX, dwY, dwXSize, dwYSize, dwXCountChars, dwYCountChars, dwFillAttribute, dwFlags;
    WORD wShowWindow, cbReserved2;
    LPBYTE lpReserved2;
    HANDLE hStdInput, hStdOutput, hStdError;
} STARTUPINFO, *LPSTARTUPINFO;
/* What RtCreateProcess fills in: hThread is NULL (no handle reaches a thread
 * of another process) and dwThreadId the initial thread's id (the pid). */
typedef struct _PROCESS_INFORMATION {
    HANDLE hProcess;
    HANDLE hThread;
    DWORD dwProcessId;
    DWORD dwThreadId;
} PROCESS_INFORMATION, *LPPROCESS_INFORMATION;
/* OpenProcess's access rights, Win32's values: accepted, ignored. */
#define PROCESS_TERMINATE                 0x0001u
#define PROCESS_QUERY_INFORMATION         0x0400u
#define PROCESS_QUERY_LIMITED_INFORMATION 0x1000u
#define PROCESS_ALL_ACCESS                0x001FFFFFu
/* The current process's pseudo-handle, (HANDLE)-1 as in Win32: never closed. */
HANDLE  GetCurrentProcess(void);
DWORD   GetCurrentProcessId(void);
HANDLE  OpenProcess(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, DWORD dwProcessId);
HANDLE  RtOpenProcess(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, DWORD dwProcessId);
BOOLEAN RtCreateProcess(LPCTSTR lpApplicationName, LPTSTR lpCommandLine,
                        LPSECURITY_ATTRIBUTES lpProcessAttributes, LPSECURITY_ATTRIBUTES lpThreadAttributes,
                        BOOLEAN bInheritHandles, DWORD dwCreationFlags, LPVOID lpEnvironment,
                        LPCTSTR lpCurrentDirectory, LPSTARTUPINFO lpStartupInfo,
                        LPPROCESS_INFORMATION lpProcessInformation);
BOOLEAN GetExitCodeProcess(HANDLE hProcess, LPDWORD lpExitCode);
BOOLEAN RtGetExitCodeProcess(HANDLE hProcess, LPDWORD lpExitCode);
BOOLEAN TerminateProcess(HANDLE hProcess, UINT uExitCode);
BOOLEAN RtTerminateProcess(HANDLE hProcess, UINT uExitCode);
VOID    ExitProcess(UINT uExitCode);
VOID    RtExitProcess(UINT uExitCode);

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
