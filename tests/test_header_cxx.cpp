// SPEC 2: iwin32.h and iwin32_inspect.h are usable from C++ (extern "C":
// these calls link against the C library) and its types keep their Win32
// widths there too.
#include <iwin32.h>
#include <iwin32_inspect.h>

#include <cstdio>
#include <type_traits>

extern "C" {
#include "test_node.h"
}

// SPEC 9: a program that also declares the Win32 types the usual way builds
// (C++ allows a typedef again when it names the same type).
typedef unsigned short WORD;
typedef unsigned char BYTE;
typedef long long LONGLONG;
typedef void *LPVOID;
typedef DWORD *LPDWORD;
static_assert(sizeof(LARGE_INTEGER) == 8, "LARGE_INTEGER");

static DWORD WINAPI thread_routine(LPVOID p) { return p == nullptr; }

static_assert(sizeof(DWORD) == 4 && sizeof(LONG) == 4 && sizeof(UINT) == 4, "Win32 widths");
static_assert(std::is_same<DWORD, uint32_t>::value, "DWORD");
static_assert(std::is_same<LONG, int32_t>::value, "LONG");
static_assert(std::is_same<BOOLEAN, unsigned char>::value, "BOOLEAN");
static_assert(std::is_same<HANDLE, void *>::value, "HANDLE");
static_assert(std::is_same<LPCTSTR, const char *>::value, "LPCTSTR");

int main()
{
    tn_setup("cxx");
    VOID *p = nullptr;
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 64, "cxx", &p);
    if (h == nullptr || GetLastError() != ERROR_SUCCESS)
        return 1;
    static_cast<volatile char *>(p)[0] = 1;
    VOID *q = nullptr;
    HANDLE o = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "cxx", &q);
    if (o == nullptr || static_cast<char *>(q)[0] != 1)
        return 1;
    IWIN32_OBJECT_INFO *info = nullptr;
    size_t n = 0;
    if (!iwin32InspectList(0, nullptr, nullptr, &info, &n) || n != 1 || info[0].size != 64)
        return 1;
    iwin32InspectFree(info, n);
    if (!RtUnmapSharedMemory(p) || !RtUnmapSharedMemory(q) || !CloseHandle(h) || !CloseHandle(o))
        return 1;
    uint64_t size = 0, used = 1;
    if (!iwin32PoolInfo(&size, &used) || used != 0)
        return 1;
    LPTHREAD_START_ROUTINE start = thread_routine;
    LARGE_INTEGER t;
    if (start(nullptr) != 1 || !RtGetClockTime(CLOCK_SYSTEM, &t) || t.QuadPart <= 0)
        return 1;
    t.QuadPart = 1; // 100 ns
    RtSleepFt(&t);
    CRITICAL_SECTION cs;
    InitializeCriticalSection(&cs);
    if (!TryEnterCriticalSection(&cs))
        return 1;
    LeaveCriticalSection(&cs);
    DeleteCriticalSection(&cs);
    std::puts("c++ ok");
    return 0;
}
