/*
 * SPEC 9: every call under both of INtime's names.  The Rt* calls of
 * SPEC 3-6 are defined where they are implemented; their Win32 names
 * (CreateEvent, WaitForSingleObject, ...) and the Rt names of the Win32
 * calls (RtCloseHandle, RtGetLastError, RtSetLastError) are defined here,
 * as real exported functions (dlsym, ctypes and other languages find them,
 * not only C through a macro).
 *
 * They are calls, not symbol aliases: GCC's alias attribute needs its target
 * in the same file, and these targets live in the files the core's ops-table
 * refactor owns.  The library is built with -fno-semantic-interposition
 * (CMakeLists.txt), so each call binds directly to its target (with LTO it
 * is the target's own code, or a single jump): no PLT hop on the sync fast
 * paths.
 */
#include "export.h"
#include "iwin32.h"

IW_API HANDLE CreateEvent(LPSECURITY_ATTRIBUTES a, BOOLEAN bManualReset, BOOLEAN bInitialState,
                          LPCTSTR lpName)
{
    return RtCreateEvent(a, bManualReset, bInitialState, lpName);
}

IW_API HANDLE OpenEvent(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName)
{
    return RtOpenEvent(dwDesiredAccess, bInheritHandle, lpName);
}

IW_API BOOLEAN SetEvent(HANDLE h) { return RtSetEvent(h); }
IW_API BOOLEAN ResetEvent(HANDLE h) { return RtResetEvent(h); }
IW_API BOOLEAN PulseEvent(HANDLE h) { return RtPulseEvent(h); }

IW_API HANDLE CreateMutex(LPSECURITY_ATTRIBUTES a, BOOLEAN bInitialOwner, LPCTSTR lpName)
{
    return RtCreateMutex(a, bInitialOwner, lpName);
}

IW_API HANDLE OpenMutex(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName)
{
    return RtOpenMutex(dwDesiredAccess, bInheritHandle, lpName);
}

IW_API BOOLEAN ReleaseMutex(HANDLE h) { return RtReleaseMutex(h); }

IW_API HANDLE CreateSemaphore(LPSECURITY_ATTRIBUTES a, LONG lInitialCount, LONG lMaximumCount,
                              LPCTSTR lpName)
{
    return RtCreateSemaphore(a, lInitialCount, lMaximumCount, lpName);
}

IW_API HANDLE OpenSemaphore(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName)
{
    return RtOpenSemaphore(dwDesiredAccess, bInheritHandle, lpName);
}

IW_API BOOLEAN ReleaseSemaphore(HANDLE h, LONG lReleaseCount, LPLONG lpPreviousCount)
{
    return RtReleaseSemaphore(h, lReleaseCount, lpPreviousCount);
}

IW_API DWORD WaitForSingleObject(HANDLE h, DWORD dwMilliseconds)
{
    return RtWaitForSingleObject(h, dwMilliseconds);
}

IW_API DWORD WaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles, BOOLEAN bWaitAll,
                                    DWORD dwMilliseconds)
{
    return RtWaitForMultipleObjects(nCount, lpHandles, bWaitAll, dwMilliseconds);
}

IW_API BOOLEAN RtCloseHandle(HANDLE hObject) { return CloseHandle(hObject); }
IW_API DWORD RtGetLastError(void) { return GetLastError(); }
IW_API void RtSetLastError(DWORD dwErrCode) { SetLastError(dwErrCode); }
