/*
 * SPEC 7: iwin32ErrorText, the text of a last-error code.  One line per code
 * the library sets (man GetLastError lists the same), each "NAME (number):
 * what it means here"; the texts are literals, so the call allocates nothing
 * and never fails.  A code the library never sets (a caller's own
 * SetLastError) gets its number in a per-thread buffer: still never NULL or
 * empty, and valid until the same thread asks again for such a code.
 */
#include <stdio.h>

#include "export.h"
#include "iwin32.h"

struct error_text {
    DWORD code;
    const char *text;
};

static const struct error_text texts[] = {
    {ERROR_SUCCESS, "ERROR_SUCCESS (0): the call succeeded; after a Create, the object is new"},
    {ERROR_FILE_NOT_FOUND, "ERROR_FILE_NOT_FOUND (2): no object of that name exists in the node"},
    {ERROR_PATH_NOT_FOUND,
     "ERROR_PATH_NOT_FOUND (3): the name contains a backslash, or the node directory's parent "
     "does not exist"},
    {ERROR_TOO_MANY_OPEN_FILES,
     "ERROR_TOO_MANY_OPEN_FILES (4): the process reached its limit of open files (RLIMIT_NOFILE)"},
    {ERROR_ACCESS_DENIED,
     "ERROR_ACCESS_DENIED (5): the node directory or an entry in it is refused: a symbolic link, "
     "not a directory, another user's, or not a private or group-shared node of this user; "
     "or a real-time priority this process may not use (no CAP_SYS_NICE, RLIMIT_RTPRIO too low); "
     "or a thread that has ended, given to a call that needs it running; "
     "or a process that has ended or may not be signalled (TerminateProcess), or a program "
     "that may not be run (RtCreateProcess)"},
    {ERROR_INVALID_HANDLE,
     "ERROR_INVALID_HANDLE (6): the handle is not open, or is of the wrong type for this call; "
     "or the name belongs to an object of another type; or a thread call given a handle "
     "that is neither a thread of the library's nor GetCurrentThread()"},
    {ERROR_NOT_ENOUGH_MEMORY,
     "ERROR_NOT_ENOUGH_MEMORY (8): the node's pool or the file system under it is full, "
     "or memory ran out"},
    {ERROR_NOT_SUPPORTED,
     "ERROR_NOT_SUPPORTED (50): a multi-object wait had to sleep on a kernel older than "
     "Linux 5.16 (no futex_waitv); or the exit code of a process this process did not "
     "start, which Linux lets only its parent read"},
    {ERROR_INVALID_PARAMETER,
     "ERROR_INVALID_PARAMETER (87): an argument is out of range or NULL, or IWIN32_ROOT or "
     "IWIN32_POOL_MB is invalid"},
    {ERROR_BUSY,
     "ERROR_BUSY (170): RtSetTimer on a timer that is still active (cancel it first)"},
    {ERROR_INVALID_NAME,
     "ERROR_INVALID_NAME (123): two over-long names share one SHA-256 file name"},
    {ERROR_SIGNAL_REFUSED,
     "ERROR_SIGNAL_REFUSED (156): the thread's suspend count is at MAXIMUM_SUSPEND_COUNT already"},
    {ERROR_ALREADY_EXISTS,
     "ERROR_ALREADY_EXISTS (183): a Create call opened an existing object of that name"},
    {ERROR_BAD_EXE_FORMAT,
     "ERROR_BAD_EXE_FORMAT (193): RtCreateProcess's program is not one the kernel can run"},
    {ERROR_FILENAME_EXCED_RANGE,
     "ERROR_FILENAME_EXCED_RANGE (206): the name is 260 bytes or longer; RtCreateProcess: a path "
     "of 4096 bytes or more, or a command line longer than Linux takes"},
    {ERROR_NOT_OWNER,
     "ERROR_NOT_OWNER (288): this thread does not own the mutex or critical section (or "
     "released it more often than it acquired it)"},
    {ERROR_TOO_MANY_POSTS,
     "ERROR_TOO_MANY_POSTS (298): the release would take the semaphore past its maximum count"},
    {ERROR_INVALID_ADDRESS,
     "ERROR_INVALID_ADDRESS (487): the address is not the start of a mapping made by the library"},
};

IW_API const char *iwin32ErrorText(DWORD code)
{
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (texts[i].code == code)
            return texts[i].text;
    static __thread char other[64];
    snprintf(other, sizeof other, "error %u: not a code libiwin32 sets", (unsigned)code);
    return other;
}
