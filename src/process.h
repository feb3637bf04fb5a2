/*
 * Process handles (SPEC 9): a local object (local_object.h) whose state is
 * the process's pidfd and what its end left.  process.c has the type and
 * the API calls; process_watch.c turns a pidfd becoming readable (the
 * process ended) into a wake of the state's waiters; spawn.c starts a
 * process with a pidfd from the first instant.
 */
#ifndef IW_PROCESS_H
#define IW_PROCESS_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <iwin32.h>

#include "end_latch.h"

struct iw_object;
struct iw_process_watch;

/* How the process ended, as the watcher saw it (how): */
enum { IW_END_UNKNOWN, IW_END_EXITED, IW_END_SIGNALLED };

struct iw_process_state {
    /* The wait protocol (end_latch.h), first; how and value are written
     * before it is set. */
    struct iw_end_latch end;
    uint32_t how;                       /* IW_END_* */
    uint32_t value;                     /* exit status, or the signal */
    /* TerminateProcess's exit code, and whether one is in force (set before
     * its SIGKILL is sent, withdrawn if the send fails). */
    _Atomic uint32_t terminate_code;
    _Atomic uint32_t terminated;
    int pidfd;                          /* this state's; -1 once handed on */
    pid_t pid;
    bool child;                         /* started by RtCreateProcess: ours to reap */
    struct iw_object *obj;              /* the object this state is in */
    struct iw_process_watch *watch;     /* its watcher entry; process_watch.c's,
                                           under its lock; NULL once ended */
};

/* ---- process_watch.c -------------------------------------------------------
 * The one watcher thread of this process (started on first use) and its
 * lock, a leaf of fork.c's lock order: held only for short list and epoll
 * changes, never by a waiter. */

/* Watches st's pidfd: when the process ends, st records how and wakes its
 * waiters.  ERROR_SUCCESS, or the error (no memory, no thread, no epoll). */
DWORD iw_process_watch_add(struct iw_process_state *st);
/* st's object is going (free_local): the watcher lets go of st.  A child of
 * ours that still runs is handed over (its pidfd with it, st->pidfd becomes
 * -1): the watcher reaps it when it ends, so that it leaves no zombie. */
void iw_process_watch_forget(struct iw_process_state *st);
/* In *out the object of a watched process with that pid that has not
 * ended, with a reference: its state's, or fresh's (process.c's new state)
 * for a child of ours whose every handle has been closed.  If none: NULL
 * while fresh has no pidfd; with one (pidfd_open's), fresh's, now watched.
 * ERROR_SUCCESS, or the error of watching fresh (*out NULL). */
DWORD iw_process_watch_open(pid_t pid, struct iw_process_state *fresh, struct iw_object **out);
/* Whether the process behind pidfd has ended (a pidfd is readable then). */
bool iw_process_has_ended(int pidfd);
/* fork.c */
void iw_process_watch_fork_prepare(void);
void iw_process_watch_fork_parent(void);
void iw_process_watch_fork_child(void);

/* ---- spawn.c ---------------------------------------------------------------
 * Starts path with argv and this process's environment, as a child; *pidfd
 * and *pid on success.  Returns ERROR_SUCCESS or the error of the exec. */
DWORD iw_spawn(const char *path, char *const argv[], int *pidfd, pid_t *pid);
/* Reaps the child of ours behind pidfd, which has ended or is ending
 * (waits for it; done at once if the application reaped it). */
void iw_process_reap(int pidfd);

/* ---- command_line.c --------------------------------------------------------
 * A Win32 command line split into arguments by the rules of Microsoft's C
 * runtime; a NULL-terminated array in one allocation the caller frees, or
 * NULL (no memory).  *argc gets the count. */
char **iw_command_line_split(const char *line, int *argc);
/* The program to run: name itself if it holds a '/', else the first
 * executable file named so in $PATH, in buf; an error if none. */
DWORD iw_command_line_program(const char *name, char *buf, size_t size);
#endif
