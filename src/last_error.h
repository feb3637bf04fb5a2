/* The per-thread last error (GetLastError / SetLastError). */
#ifndef IW_LAST_ERROR_H
#define IW_LAST_ERROR_H
#include "iwin32.h"

void iw_set_error(DWORD code);
/* Sets the last error and returns NULL: the failure value of the Create/Open calls. */
HANDLE iw_fail(DWORD code);
/* Maps an errno from a system call to the Win32 code a caller expects. */
DWORD iw_error_from_errno(int err);
#endif
