/*
 * Helpers shared by the process tests that run this program again
 * (test_process.c: ends, exit codes, waits, TerminateProcess;
 * test_process_handles.c: processes opened by pid, handles closed while the
 * watcher reports, inherited through fork): the children, run with
 * "--child WHAT ...", and how they are started.  Header-only (static inline),
 * so that each test executable stays one source file plus test_node.c; the
 * helpers every process test uses are in process_util.h.
 */
#ifndef IWIN32_TEST_PROCESS_UTIL_H
#define IWIN32_TEST_PROCESS_UTIL_H
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "process_util.h"

/* This program's path (main reads it from /proc/self/exe). */
static char self[4096];

/* ---- the children ------------------------------------------------------------ */

static inline int child_main(char **argv)
{
    const char *what = argv[2];
    if (strcmp(what, "exit") == 0)
        return atoi(argv[3]);
    if (strcmp(what, "block") == 0) {
        for (;;)
            pause();
    }
    if (strcmp(what, "wait_fd") == 0) { /* exits with argv[4] once argv[3] reads a byte or EOF */
        char c;
        (void)!read(atoi(argv[3]), &c, 1);
        return atoi(argv[4]);
    }
    if (strcmp(what, "policy") == 0) /* exits with its scheduling policy */
        return sched_getscheduler(0);
    if (strcmp(what, "signal") == 0)
        raise(atoi(argv[3]));
    if (strcmp(what, "exitprocess") == 0)
        ExitProcess((UINT)atoi(argv[3]));
    if (strcmp(what, "terminate_self") == 0)
        TerminateProcess(GetCurrentProcess(), (UINT)atoi(argv[3]));
    if (strcmp(what, "terminate_self_opened") == 0) /* through a real handle to itself */
        TerminateProcess(OpenProcess(0, FALSE, GetCurrentProcessId()), (UINT)atoi(argv[3]));
    return 99;
}

/* ---- helpers ------------------------------------------------------------------- */

/* Starts this program with "--child <args>"; fills pi. */
static inline void start(PROCESS_INFORMATION *pi, const char *fmt, ...)
{
    char args[512], line[5000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "\"%s\" --child %s", self, args);
    memset(pi, 0xAA, sizeof *pi);
    SetLastError(SENTINEL);
    assert_true(RtCreateProcess(NULL, line, NULL, NULL, FALSE, 0, NULL, NULL, NULL, pi));
    assert_int_equal(GetLastError(), SENTINEL);
    assert_non_null(pi->hProcess);
    assert_null(pi->hThread);
    assert_true(pi->dwProcessId > 0);
    assert_int_equal(pi->dwThreadId, pi->dwProcessId);
}

/* A pipe whose read end a child inherits; the write end is close-on-exec,
 * or the child would hold it open and never read EOF. */
static inline void inheritable_pipe(int fds[2])
{
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    assert_int_equal(fcntl(fds[0], F_SETFD, 0), 0);
}

/* main's start: a child ("--child WHAT ...") does its part and exits;
 * otherwise self is read and the node named node_name made. */
static inline void process_test_setup(int argc, char **argv, const char *node_name)
{
    if (argc >= 3 && strcmp(argv[1], "--child") == 0)
        exit(child_main(argv));
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        exit(1);
    self[n] = '\0';
    tn_setup(node_name);
    tn_select_tests(argc, argv);
}
#endif
