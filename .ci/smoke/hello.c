/* The packages' smoke test (.ci/package): a program built against the
 * installed files only, run against the installed library. */
#include <stdio.h>
#include <string.h>

#include <iwin32.h>
#include <iwin32_inspect.h>

int main(void)
{
    char *p;
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 100, "smoke", (VOID **)&p);
    uint64_t size = 0;
    if (h == NULL || !iwin32SharedMemorySize(h, &size) || size != 100) {
        fprintf(stderr, "hello: %s\n", iwin32ErrorText(GetLastError()));
        return 1;
    }
    strcpy(p, "hello");
    IWIN32_OBJECT_INFO *info;
    if (!iwin32InspectObject("smoke", 6, &info) || info->holders != 1 || strcmp((char *)info->data, "hello") != 0)
        return 1;
    iwin32InspectFree(info, 1);
    HANDLE missing = RtOpenEvent(0, FALSE, "no-such-event");
    if (missing != NULL || strncmp(iwin32ErrorText(GetLastError()), "ERROR_FILE_NOT_FOUND (2): ", 26) != 0)
        return 1;
    RtUnmapSharedMemory(p);
    CloseHandle(h);
    puts("hello: ok");
    return 0;
}
