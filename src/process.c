/*
 * SPEC 9: processes.  A process handle is a local object (local_object.h,
 * type 0, in no registry) whose state holds the process's pidfd: a pidfd
 * names one process for its whole life, never a later one that is given
 * its number, so no call on a handle can reach another process (a signal
 * through it to an ended process fails with ESRCH, whoever has the number
 * now).  Only OpenProcess takes a number, once, as in Win32.
 *
 * The handle is waitable like an event that is set once, for good, when the
 * process ends: a wait never consumes it.  The exit watcher
 * (process_watch.c) sets it; waits read it (wait.c), with no lock.
 *
 * Exit codes (GetExitCodeProcess): STILL_ACTIVE while it runs; then
 *   - exited: its exit status (Linux keeps 8 bits of the code it gave);
 *   - killed by TerminateProcess through this handle: uExitCode, as Win32
 *     (the kernel knows only SIGKILL: the code is ours to remember);
 *   - killed by another signal: 128 + the signal, a shell's $?;
 *   - a process we did not start (OpenProcess): nothing - Linux lets only
 *     its parent read its status (waitid needs a child), and that status is
 *     the parent's to reap, not ours: GetExitCodeProcess fails with
 *     ERROR_NOT_SUPPORTED rather than make a code up.  TerminateProcess
 *     through our handle is the exception: the code is the one we gave.
 * Processes started by RtCreateProcess are our children: the watcher reaps
 * them and keeps their status - unless the application reaps children
 * itself (waitpid(-1), SIGCHLD ignored) and takes it first: then, as for a
 * process we did not start, ERROR_NOT_SUPPORTED (spawn.c).
 */
#include "process.h"

#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "export.h"
#include "fork.h"
#include "hazard.h"
#include "last_error.h"
#include "local_object.h"
#include "object.h"

#define PSEUDO_CURRENT_PROCESS ((HANDLE)(intptr_t)-1)

/* ---- the type: signalled once ended, for good (end_latch.h) ----------------- */

_Static_assert(offsetof(struct iw_process_state, end) == 0, "the end latch comes first");

static void free_local(void *state)
{
    struct iw_process_state *st = state;
    iw_process_watch_forget(st);
    if (st->pidfd >= 0)
        close(st->pidfd);
}

static const struct iw_object_ops process_ops = {
    .type = 0,
    .layout = 1,
    .name = "process",
    .state_size = sizeof(struct iw_process_state),
    IW_END_LATCH_OPS,
    .free_local = free_local,
};

/* ---- making a handle -------------------------------------------------------- */

static int send_kill(int pidfd) { return (int)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0); }

/* A child of ours the watcher does not have: ended and reaped here. */
static void kill_and_reap(int pidfd)
{
    send_kill(pidfd);
    iw_process_reap(pidfd);
}

/* A new process object, not yet any process's (no pidfd to close); NULL
 * with the error set. */
static struct iw_object *process_new(void)
{
    struct iw_object *obj = iw_local_object_new(&process_ops);
    if (obj != NULL) {
        struct iw_process_state *st = iw_object_state(obj);
        st->pidfd = -1;
        st->obj = obj;
    }
    return obj;
}

/* A handle to obj (process_new's, whose reference it takes) made the
 * process behind pidfd's (which it takes, failing or not), a child of ours.
 * A child that gets none is killed: RtCreateProcess then leaves nothing. */
static HANDLE child_handle(struct iw_object *obj, int pidfd, pid_t pid)
{
    struct iw_process_state *st = iw_object_state(obj);
    st->pidfd = pidfd;
    st->pid = pid;
    st->child = true;
    DWORD err = iw_process_watch_add(st);
    if (err != ERROR_SUCCESS) {
        kill_and_reap(pidfd);
        iw_object_put(obj); /* closes pidfd */
        return iw_fail(err);
    }
    iw_local_object_get(obj); /* kept until the handle is made: to kill the child if it isn't */
    HANDLE h = iw_object_handle(obj);
    if (h == NULL)
        send_kill(st->pidfd); /* the watcher reaps it (the put below hands it over) */
    iw_object_put(obj);
    return h;
}

/* ---- the calls -------------------------------------------------------------- */

IW_API HANDLE GetCurrentProcess(void) { return PSEUDO_CURRENT_PROCESS; }
IW_API DWORD GetCurrentProcessId(void) { return (DWORD)getpid(); }

IW_API HANDLE RtOpenProcess(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, DWORD dwProcessId)
{
    (void)dwDesiredAccess; /* ignored, as by INtime */
    (void)bInheritHandle;
    if (dwProcessId == 0 || dwProcessId > INT32_MAX)
        return iw_fail(ERROR_INVALID_PARAMETER);
    iw_fork_watch();
    struct iw_object *fresh = process_new();
    if (fresh == NULL)
        return NULL;
    /* A process with a handle already: its object (or fresh, given its
     * pidfd, for a child of ours with none left) - for a child of ours the
     * only one that can read its exit code (another pidfd on it would not
     * be the one that reaps), for any the one TerminateProcess's code is in. */
    struct iw_process_state *st = iw_object_state(fresh);
    struct iw_object *obj;
    DWORD err = iw_process_watch_open((pid_t)dwProcessId, st, &obj);
    if (err == ERROR_SUCCESS && obj == NULL) {
        int fd = (int)syscall(SYS_pidfd_open, (pid_t)dwProcessId, 0);
        /* No such process (ESRCH), or a thread's id (EINVAL): Win32's error. */
        err = fd >= 0                             ? ERROR_SUCCESS
              : errno == ENOSYS                   ? ERROR_NOT_SUPPORTED
              : errno == ESRCH || errno == EINVAL ? ERROR_INVALID_PARAMETER
                                                  : iw_error_from_errno(errno);
        st->pidfd = fd;
        st->pid = (pid_t)dwProcessId;
        /* Again, with the pidfd: a handle another thread made meanwhile
         * wins, so that the process has one object. */
        if (err == ERROR_SUCCESS)
            err = iw_process_watch_open((pid_t)dwProcessId, st, &obj);
    }
    if (obj != fresh)
        iw_object_put(fresh); /* closes its pidfd, if any */
    return err == ERROR_SUCCESS ? iw_object_handle(obj) : iw_fail(err);
}

/* The state behind h, pinned (iw_hazard_unpin after); NULL with the error set. */
static struct iw_process_state *pin(HANDLE h)
{
    struct iw_object *obj = iw_hazard_pin(h, &process_ops);
    return obj ? iw_object_state(obj) : NULL;
}

IW_API BOOLEAN RtGetExitCodeProcess(HANDLE hProcess, LPDWORD lpExitCode)
{
    if (lpExitCode == NULL) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    if (hProcess == PSEUDO_CURRENT_PROCESS) {
        *lpExitCode = STILL_ACTIVE;
        return TRUE;
    }
    struct iw_process_state *st = pin(hProcess);
    if (st == NULL)
        return FALSE;
    DWORD code = STILL_ACTIVE;
    bool known = true;
    if (iw_end_latch_is_set(&st->end)) {
        bool terminated = atomic_load(&st->terminated);
        if (st->how == IW_END_EXITED)
            code = st->value;
        else if (terminated && (st->how == IW_END_UNKNOWN || st->value == SIGKILL))
            code = atomic_load(&st->terminate_code);
        else if (st->how == IW_END_SIGNALLED)
            code = 128 + st->value;
        else
            known = false;
    }
    iw_hazard_unpin();
    if (!known) {
        iw_set_error(ERROR_NOT_SUPPORTED);
        return FALSE;
    }
    *lpExitCode = code;
    return TRUE;
}

IW_API BOOLEAN RtTerminateProcess(HANDLE hProcess, UINT uExitCode)
{
    if (hProcess == PSEUDO_CURRENT_PROCESS)
        _exit((int)uExitCode); /* Win32: at once, no atexit handlers */
    struct iw_process_state *st = pin(hProcess);
    if (st == NULL)
        return FALSE;
    /* Once only, as in Win32 (a process that is ending is not terminated
     * again: the first code stays): the first caller claims terminated, and
     * any other meanwhile - another thread, or a second call before the
     * watcher has seen the end - finds it claimed.  A process that ended by
     * itself is not terminated either, though the watcher has not reported
     * it yet: a zombie takes signals, but its pidfd is readable.  (One that
     * ends between that look and the kill is told terminated, and keeps the
     * code it exited with: the two crossed, as they may in Win32.)  The
     * code is in force before the kill can land, so that a waiter woken by
     * the end reads it; withdrawn if no kill was sent. */
    int rc = -1;
    errno = ESRCH;
    uint32_t none = 0;
    if (!iw_end_latch_is_set(&st->end) && !iw_process_has_ended(st->pidfd) &&
        atomic_compare_exchange_strong(&st->terminated, &none, 1)) {
        atomic_store(&st->terminate_code, uExitCode);
        /* A handle to this very process (OpenProcess of its own pid): as
         * the pseudo-handle, so that the code is the one its parent reads,
         * not SIGKILL's.  (A live pidfd with our pid is ours: a process
         * that had the number before us has ended, as the look above saw.) */
        if (st->pid == getpid())
            _exit((int)uExitCode);
        rc = send_kill(st->pidfd);
        if (rc != 0)
            atomic_store(&st->terminated, 0);
    }
    int err = errno;
    iw_hazard_unpin();
    if (rc == 0)
        return TRUE;
    /* Ended already (ESRCH), or not ours to kill (EPERM): Win32 says
     * ERROR_ACCESS_DENIED for both. */
    iw_set_error(err == ENOSYS ? ERROR_NOT_SUPPORTED : ERROR_ACCESS_DENIED);
    return FALSE;
}

IW_API VOID RtExitProcess(UINT uExitCode) { exit((int)uExitCode); }

IW_API BOOLEAN RtCreateProcess(LPCTSTR lpApplicationName, LPTSTR lpCommandLine,
                               LPSECURITY_ATTRIBUTES lpProcessAttributes, LPSECURITY_ATTRIBUTES lpThreadAttributes,
                               BOOLEAN bInheritHandles, DWORD dwCreationFlags, LPVOID lpEnvironment,
                               LPCTSTR lpCurrentDirectory, LPSTARTUPINFO lpStartupInfo,
                               LPPROCESS_INFORMATION lpProcessInformation)
{
    /* Ignored, as by INtime: attributes, inheritance (every descriptor not
     * marked close-on-exec is inherited, as by exec), the environment (the
     * caller's), the directory (the caller's), the startup information. */
    (void)lpProcessAttributes;
    (void)lpThreadAttributes;
    (void)bInheritHandles;
    (void)lpEnvironment;
    (void)lpCurrentDirectory;
    (void)lpStartupInfo;
    if (dwCreationFlags != 0 || (lpApplicationName == NULL && lpCommandLine == NULL)) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    iw_fork_watch();
    int argc = 1;
    char *only[2] = {(char *)lpApplicationName, NULL};
    char **argv = lpCommandLine ? iw_command_line_split(lpCommandLine, &argc) : only;
    if (argv != NULL && argc == 0 && lpApplicationName != NULL) {
        /* An empty command line: Win32 runs the application all the same;
         * its name is the one argument, as for a NULL line. */
        free(argv);
        argv = only;
        argc = 1;
    }
    char path[4096];
    DWORD err = argv == NULL ? ERROR_NOT_ENOUGH_MEMORY : argc == 0 ? ERROR_INVALID_PARAMETER : ERROR_SUCCESS;
    /* Win32: the application name is a path as given (no search); without
     * one, the command line's first word is looked up in $PATH. */
    if (err == ERROR_SUCCESS)
        err = lpApplicationName ? (strlen(lpApplicationName) < sizeof path ? ERROR_SUCCESS : ERROR_FILENAME_EXCED_RANGE)
                                : iw_command_line_program(argv[0], path, sizeof path);
    /* The object first: with no memory for it, no process is started. */
    struct iw_object *obj = err == ERROR_SUCCESS ? process_new() : NULL;
    if (err == ERROR_SUCCESS && obj == NULL)
        err = ERROR_NOT_ENOUGH_MEMORY;
    int pidfd = -1;
    pid_t pid = 0;
    if (err == ERROR_SUCCESS)
        err = iw_spawn(lpApplicationName ? lpApplicationName : path, argv, &pidfd, &pid);
    if (argv != only)
        free(argv);
    if (err != ERROR_SUCCESS) {
        if (obj != NULL)
            iw_object_put(obj);
        iw_set_error(err);
        return FALSE;
    }
    HANDLE h = child_handle(obj, pidfd, pid);
    if (h == NULL)
        return FALSE;
    if (lpProcessInformation == NULL) {
        CloseHandle(h); /* the watcher still reaps it */
        return TRUE;
    }
    *lpProcessInformation = (PROCESS_INFORMATION){
        .hProcess = h, .hThread = NULL, .dwProcessId = (DWORD)pid, .dwThreadId = (DWORD)pid};
    return TRUE;
}

/* The Win32 names (INtime has both): the same functions. */
IW_API HANDLE OpenProcess(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, DWORD dwProcessId)
    __attribute__((alias("RtOpenProcess")));
IW_API BOOLEAN GetExitCodeProcess(HANDLE hProcess, LPDWORD lpExitCode) __attribute__((alias("RtGetExitCodeProcess")));
IW_API BOOLEAN TerminateProcess(HANDLE hProcess, UINT uExitCode) __attribute__((alias("RtTerminateProcess")));
IW_API VOID ExitProcess(UINT uExitCode) __attribute__((alias("RtExitProcess")));
