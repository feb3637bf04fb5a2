/*
 * example-liveness: is the real-time application still alive?
 *
 * The application creates the mutex "app.alive" already owning it
 * (RtCreateMutex(NULL, TRUE, "app.alive")) and never releases it.  Any other
 * process can then probe it: a wait on the mutex times out (WAIT_TIMEOUT)
 * while the owner lives, and returns WAIT_ABANDONED_0 - at once, not after
 * the timeout - when the owner has died, however it died.  No PID, no
 * heartbeat, no polling of /proc.
 *
 * The main role is the monitor: it starts the application (a second
 * process, "example-liveness app"), probes it a few times, kills it with
 * SIGKILL, and checks that the next probe reports the death promptly.
 */
#include "example.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char ALIVE_NAME[] = "app.alive";
static const char STARTED_NAME[] = "app.started";

#define PROBES 5
#define PROBE_MS 100

/* ---- the application ------------------------------------------------------- */
static int app(void)
{
    HANDLE alive = RtCreateMutex(NULL, TRUE, ALIVE_NAME);     /* owned from birth */
    if (alive == NULL)
        ex_fail("RtCreateMutex(app.alive)");
    if (GetLastError() == ERROR_ALREADY_EXISTS)
        ex_die("app.alive already exists: is another copy of this application running?");

    /* Tell the monitor the mutex exists (only so it need not poll for it). */
    HANDLE started = RtOpenEvent(0, FALSE, STARTED_NAME);
    if (started == NULL || !RtSetEvent(started))
        ex_fail("setting app.started");

    for (;;)                    /* the application's work, until it is killed */
        pause();
}

/* ---- the monitor ------------------------------------------------------------ */
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "app") == 0)
        return app();

    HANDLE started = RtCreateEvent(NULL, TRUE, FALSE, STARTED_NAME);
    if (started == NULL)
        ex_fail("RtCreateEvent(app.started)");
    pid_t app_pid = ex_spawn_self("app", NULL);
    if (RtWaitForSingleObject(started, EX_TIMEOUT_MS) != WAIT_OBJECT_0)
        ex_fail("waiting for app.started");

    HANDLE alive = RtOpenMutex(0, FALSE, ALIVE_NAME);
    if (alive == NULL)
        ex_fail("RtOpenMutex(app.alive)");
    for (int i = 0; i < PROBES; i++) {
        DWORD result = RtWaitForSingleObject(alive, PROBE_MS);
        if (result != WAIT_TIMEOUT)
            ex_die("probe %d while the application lives: 0x%x, expected WAIT_TIMEOUT", i, result);
    }
    printf("monitor: %d probes of app.alive timed out: the application (pid %d) is alive\n", PROBES,
           (int)app_pid);

    kill(app_pid, SIGKILL);
    int status;
    waitpid(app_pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        ex_die("the application ended some other way than by SIGKILL (status 0x%x)", status);

    /* A long timeout: the answer must come from the owner's death, not from it. */
    int64_t t0 = ex_now_ns();
    DWORD result = RtWaitForSingleObject(alive, EX_TIMEOUT_MS);
    double waited_ms = (double)(ex_now_ns() - t0) / 1e6;
    if (result != WAIT_ABANDONED_0)
        ex_die("probe after SIGKILL: 0x%x, expected WAIT_ABANDONED_0", result);
    printf("monitor: after SIGKILL the probe returned WAIT_ABANDONED_0 in %.3f ms: the application died\n",
           waited_ms);

    /* WAIT_ABANDONED_0 is an acquisition: the monitor owns the mutex now. */
    if (!RtReleaseMutex(alive))
        ex_fail("RtReleaseMutex(app.alive)");
    CloseHandle(alive);
    CloseHandle(started);
    return 0;
}
