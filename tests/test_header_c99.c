/* SPEC 2: iwin32.h and iwin32_inspect.h are usable from strict C99 (built
 * with -std=c99 -pedantic-errors), and the calls link and work from such a
 * program.  SPEC 9: a program that defines the Win32 macros itself, the
 * usual way, before the header still builds (the header guards them). */
#define WINAPI
#define TEXT(quote) quote
#define INVALID_HANDLE_VALUE ((HANDLE)(intptr_t)-1)
#include <iwin32.h>
#include <iwin32_inspect.h>
#include <stdio.h>

#include "test_node.h"

int main(void)
{
    tn_setup("c99");
    VOID *p = 0;
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 100, "c99", &p);
    if (h == 0 || GetLastError() != ERROR_SUCCESS || p == 0) {
        fprintf(stderr, "create failed: %u\n", GetLastError());
        return 1;
    }
    ((volatile char *)p)[99] = 1;
    IWIN32_OBJECT_INFO *info = 0;
    if (!iwin32InspectObject("c99", 200, &info) || info->type != IWIN32_OBJECT_SHM || info->size != 100 ||
        info->holders != 1 || info->dataLength != 100 || info->data[99] != 1) {
        fprintf(stderr, "inspect failed: %u\n", GetLastError());
        return 1;
    }
    iwin32InspectFree(info, 1);
    if (!RtUnmapSharedMemory(p) || !CloseHandle(h))
        return 1;
    SetLastError(0);
    if (RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "c99", &p) != 0 || GetLastError() != ERROR_FILE_NOT_FOUND)
        return 1;
    uint64_t size, used;
    if (!iwin32PoolInfo(&size, &used) || used != 0)
        return 1;
    /* SPEC 9 from C99: the LARGE_INTEGER halves, a critical section, a clock. */
    LARGE_INTEGER t;
    if (!RtGetClockTime(CLOCK_FASTEST, &t) || t.QuadPart <= 0 || t.u.HighPart != t.HighPart)
        return 1;
    CRITICAL_SECTION cs;
    InitializeCriticalSection(&cs);
    EnterCriticalSection(&cs);
    LeaveCriticalSection(&cs);
    DeleteCriticalSection(&cs);
    HANDLE e = CreateEvent(NULL, TRUE, FALSE, TEXT("c99-event"));
    if (e == NULL || !SetEvent(e) || WaitForSingleObject(e, 0) != WAIT_OBJECT_0 || !RtCloseHandle(e))
        return 1;
    puts("c99 ok");
    return 0;
}
