/*
 * Shared helpers of the process tests (test_process, test_process_handles,
 * test_process_command_line).
 * Header-only (static functions) so that each test executable stays one
 * source file plus test_node.c.
 */
#ifndef IWIN32_PROCESS_UTIL_H
#define IWIN32_PROCESS_UTIL_H
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"

/* The handle's exit code; the test fails if there is none. */
static inline DWORD exit_code(HANDLE h)
{
    DWORD code = 0xDEAD;
    assert_true(GetExitCodeProcess(h, &code));
    return code;
}

/* No child of ours is left unreaped, within 5 s (the watcher reaps ours). */
static inline void assert_no_children(void)
{
    int64_t until = tn_now_ms() + 5000;
    siginfo_t info;
    while (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 && tn_now_ms() < until)
        usleep(1000);
    errno = 0;
    assert_int_equal(waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT | __WALL), -1);
    assert_int_equal(errno, ECHILD);
}
#endif
