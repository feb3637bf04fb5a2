/*
 * example-supervisor: start a worker process, wait on its handle together
 * with an event, report its exit code.
 *
 * The supervisor starts the worker with RtCreateProcess (this program
 * again, "example-supervisor worker ..."), and waits with
 * WaitForMultipleObjects on two handles: the event "supervisor.stop" and
 * the worker's process handle, which is signalled when the worker ends.
 *   1. A worker that does its job and exits 3: the wait returns the
 *      process (index 1), and GetExitCodeProcess reads 3.
 *   2. A worker that asks to be stopped (it sets "supervisor.stop") and
 *      then hangs: the wait returns the event (index 0), the supervisor
 *      stops it with TerminateProcess(h, 99), and the exit code it reads
 *      is the 99 it gave.
 * Exits 0 only if both went so.
 */
#include "example.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char STOP_NAME[] = "supervisor.stop";

/* ---- the worker ------------------------------------------------------------ */
static int worker(const char *how)
{
    if (strcmp(how, "exit3") == 0) {
        usleep(100 * 1000); /* "work" */
        ExitProcess(3);
    }
    HANDLE stop = RtOpenEvent(0, FALSE, STOP_NAME);
    if (stop == NULL || !SetEvent(stop))
        ex_fail("worker: SetEvent(supervisor.stop)");
    CloseHandle(stop);
    for (;;)
        pause(); /* hangs until stopped */
}

/* ---- the supervisor ------------------------------------------------------------ */
static char self[4096];

/* Starts a worker, waits for it or the stop event; returns its exit code. */
static DWORD supervise(HANDLE stop, const char *how, DWORD want_index)
{
    char line[4200];
    snprintf(line, sizeof line, "\"%s\" worker %s", self, how);
    PROCESS_INFORMATION pi;
    if (!RtCreateProcess(NULL, line, NULL, NULL, FALSE, 0, NULL, NULL, NULL, &pi))
        ex_fail("RtCreateProcess");
    printf("supervisor: started worker %u (%s)\n", (unsigned)pi.dwProcessId, how);
    HANDLE both[2] = {stop, pi.hProcess};
    DWORD r = WaitForMultipleObjects(2, both, FALSE, EX_TIMEOUT_MS);
    if (r != WAIT_OBJECT_0 + want_index)
        ex_die("the wait returned %#x, expected %#x", (unsigned)r, (unsigned)(WAIT_OBJECT_0 + want_index));
    if (r == WAIT_OBJECT_0) {
        printf("supervisor: stop requested: terminating worker %u\n", (unsigned)pi.dwProcessId);
        if (!TerminateProcess(pi.hProcess, 99))
            ex_fail("TerminateProcess");
        if (WaitForSingleObject(pi.hProcess, EX_TIMEOUT_MS) != WAIT_OBJECT_0)
            ex_fail("WaitForSingleObject(worker)");
    }
    DWORD code;
    if (!GetExitCodeProcess(pi.hProcess, &code))
        ex_fail("GetExitCodeProcess");
    printf("supervisor: worker %u exited with code %u\n", (unsigned)pi.dwProcessId, (unsigned)code);
    CloseHandle(pi.hProcess);
    return code;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "worker") == 0)
        return worker(argv[2]);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        ex_die("cannot find this program (/proc/self/exe)");
    self[n] = '\0';
    HANDLE stop = CreateEvent(NULL, FALSE, FALSE, STOP_NAME);
    if (stop == NULL)
        ex_fail("CreateEvent(supervisor.stop)");
    if (supervise(stop, "exit3", 1) != 3)
        ex_die("the first worker's exit code is not 3");
    if (supervise(stop, "ask_stop", 0) != 99)
        ex_die("the second worker's exit code is not 99");
    CloseHandle(stop);
    printf("supervisor: ok\n");
    return 0;
}
