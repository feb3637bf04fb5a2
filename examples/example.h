/*
 * What every example (and the demo) needs besides the iwin32 calls it shows:
 * starting its other role as a real second process, waiting for it with a
 * deadline, and failing loudly.
 *
 * Each example is one program with several roles.  Run without arguments it
 * plays the first role and starts the others by fork+exec of itself with a
 * role word ("example gui"), the way two separately built INtime programs
 * would meet: nothing is inherited, every object is opened by name.  A role
 * process dies with the process that started it (PR_SET_PDEATHSIG), so a
 * failed example never leaves a process - or, through it, an object - behind.
 */
#ifndef IWIN32_EXAMPLE_H
#define IWIN32_EXAMPLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <iwin32.h>

/* How long a role may take before the example gives up on it: generous, as
 * the examples run as tests on loaded machines. */
#define EX_TIMEOUT_MS 30000

/* Prints "<program>: <what> failed, last error N" on stderr and exits 1. */
__attribute__((noreturn)) void ex_fail(const char *what);
/* Prints "<program>: <printf message>" on stderr and exits 1. */
__attribute__((noreturn, format(printf, 1, 2))) void ex_die(const char *fmt, ...);

/* Starts the program at path (a name without a slash: looked up in PATH, as
 * a shell does) with argv (NULL-terminated) in a child that
 * dies with this process.  Exits through ex_die if it cannot fork; a child
 * that cannot exec exits 127. */
pid_t ex_spawn(const char *path, char *const argv[]);
/* Starts this program again as "<program> role [arg]" (arg may be NULL). */
pid_t ex_spawn_self(const char *role, const char *arg);
/* Waits up to timeout_ms for the child to end; SIGKILLs it on timeout.
 * True only if it exited with status 0; otherwise says what happened. */
bool ex_child_ok(pid_t pid, const char *role, int timeout_ms);
/* True if the child has ended (and reaps it); says so on stderr unless it
 * exited with status 0. */
bool ex_child_ended(pid_t pid, const char *role);

/* CLOCK_MONOTONIC, the clock iwin32 measures its timeouts on, in ns. */
int64_t ex_now_ns(void);

#endif
