/*
 * Crash points (tests only): named places inside Create, Open, Close and the
 * wait/release paths where a test can make the process die, to show that a
 * process killed at that instant leaves nothing a later call can tell.
 *
 * The shipped library has none: IW_CRASH_POINT is empty unless the sources
 * are compiled with IWIN32_CRASH_POINTS, which only the tests' own copy of
 * the library objects is (tests/CMakeLists.txt, iwin32_crash_objects).
 *
 * Arming: the environment variable IWIN32_CRASH_AT=<name>[:<n>] (read once,
 * at the first point the process passes) makes the process _exit(86) the
 * n-th time (default: the first) it passes the point of that name.  _exit,
 * not a signal: the kernel's cleanup is the same as for SIGKILL (descriptors
 * closed, OFD locks dropped, robust futexes handed over), and the exit code
 * tells the test the point was really reached.
 *
 * Each point also leaves a record in the ELF section "iw_crash_points", so
 * that a test enumerates every point there is (iw_crash_points_all) without
 * a hand-kept list, and learns which ones a run passed (hits).
 */
#ifndef IW_CRASH_POINT_H
#define IW_CRASH_POINT_H

#define IW_CRASH_EXIT_CODE 86

#ifdef IWIN32_CRASH_POINTS
#include <stddef.h>

struct iw_crash_point {
    const char *name;
    const char *file;
    int line;
    unsigned hits;              /* by this process, counted atomically */
} __attribute__((aligned(32)));

void iw_crash_point_pass(struct iw_crash_point *point);

/* Arms this process (a forked test child, whose IWIN32_CRASH_AT was read
 * by its parent) to stop itself with SIGSTOP - not exit - the first time it
 * passes the point of that name: a process paused mid-call, as by Ctrl-Z
 * or a debugger; the test resumes it with SIGCONT. */
void iw_crash_point_stop_at(const char *name);

/* The records of every point in the program: *first, and their number. */
size_t iw_crash_points_all(struct iw_crash_point **first);

#define IW_CRASH_POINT(point_name)                                                                 \
    do {                                                                                           \
        static struct iw_crash_point iw_crash_point_record_                                        \
            __attribute__((used, section("iw_crash_points"))) = {point_name, __FILE__, __LINE__, 0}; \
        iw_crash_point_pass(&iw_crash_point_record_);                                              \
    } while (0)
#else
#define IW_CRASH_POINT(point_name) ((void)0)
#endif

#endif
