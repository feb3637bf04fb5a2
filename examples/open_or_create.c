/*
 * example-open-or-create: several processes start at once, each needs the
 * shared configuration "ex.config", and exactly one of them must initialize
 * it - whichever comes first.
 *
 * The INtime idiom: try RtOpenSharedMemory; if the name does not exist
 * (ERROR_FILE_NOT_FOUND), RtCreateSharedMemory.  Between the two calls
 * another process may have created it, so Create's last error decides:
 * 0 means "I made it: initialize it", ERROR_ALREADY_EXISTS means "someone
 * else did: wait until it is ready".  Readiness is a manual-reset event that
 * every racer creates-or-opens (same arguments, so who makes it does not
 * matter) and the initializer sets once the configuration is written.
 *
 * The main role fires two racers at the same instant, ROUNDS times, and
 * checks in the shared memory itself that each round had exactly one
 * initializer and two racers who saw the whole configuration.
 */
#include "example.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char CONFIG_NAME[] = "ex.config";
static const char READY_NAME[] = "ex.config.ready";
/* The main role's start gun, check-in count and release, for the racers. */
static const char GO_NAME[] = "ex.race.go";
static const char CHECKIN_NAME[] = "ex.race.checkin";
static const char FINISH_NAME[] = "ex.race.finish";

#define RACERS 2
#define ROUNDS 20
#define CONFIG_MAGIC 0xC0F1C0DEu
_Static_assert(RACERS == 2, "the summary line names two racers");

struct config {
    unsigned magic;             /* written last by the initializer */
    int initializer_pid;
    double gains[4];
    /* Bookkeeping for the check, not part of the idiom: */
    atomic_int initializations;
    atomic_int attachments;     /* racers that found the configuration complete */
    atomic_int late_creators;   /* Create answered ERROR_ALREADY_EXISTS */
};

static HANDLE open_event(const char *name)
{
    HANDLE h = RtOpenEvent(0, FALSE, name);
    if (h == NULL)
        ex_fail(name);
    return h;
}

static void wait_for(HANDLE h, const char *what)
{
    if (RtWaitForSingleObject(h, EX_TIMEOUT_MS) != WAIT_OBJECT_0)
        ex_fail(what);
}

/* ---- a racer: the idiom itself ------------------------------------------------ */
static int racer(void)
{
    HANDLE go = open_event(GO_NAME), finish = open_event(FINISH_NAME);
    HANDLE checkin = RtOpenSemaphore(0, FALSE, CHECKIN_NAME);
    if (checkin == NULL)
        ex_fail("RtOpenSemaphore(ex.race.checkin)");
    if (!RtReleaseSemaphore(checkin, 1, NULL))     /* "I am at the start line" */
        ex_fail("RtReleaseSemaphore(ex.race.checkin)");
    wait_for(go, "waiting for the start");

    /* Every racer creates-or-opens the readiness event with the same arguments. */
    HANDLE ready = RtCreateEvent(NULL, TRUE, FALSE, READY_NAME);
    if (ready == NULL)
        ex_fail("RtCreateEvent(ex.config.ready)");

    struct config *config;
    BOOL initialize = FALSE;
    HANDLE shm = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, CONFIG_NAME, (VOID **)&config);
    if (shm == NULL) {
        if (GetLastError() != ERROR_FILE_NOT_FOUND)
            ex_fail("RtOpenSharedMemory(ex.config)");
        shm = RtCreateSharedMemory(PAGE_READWRITE, 0, sizeof *config, CONFIG_NAME, (VOID **)&config);
        if (shm == NULL)
            ex_fail("RtCreateSharedMemory(ex.config)");
        initialize = GetLastError() != ERROR_ALREADY_EXISTS;
        if (!initialize)
            atomic_fetch_add(&config->late_creators, 1);
    }

    if (initialize) {
        config->initializer_pid = (int)getpid();
        for (int i = 0; i < 4; i++)
            config->gains[i] = 0.5 * (i + 1);
        config->magic = CONFIG_MAGIC;
        atomic_fetch_add(&config->initializations, 1);
        RtSetEvent(ready);                          /* the others may read it now */
    } else {
        wait_for(ready, "waiting for ex.config.ready");
    }

    if (config->magic != CONFIG_MAGIC || config->gains[3] != 2.0)
        ex_die("racer %d: the configuration is not complete", (int)getpid());
    atomic_fetch_add(&config->attachments, 1);

    /* Keep the objects alive until every racer has checked: the last close
     * anywhere would destroy them, and a late racer would initialize again. */
    if (!RtReleaseSemaphore(checkin, 1, NULL))
        ex_fail("RtReleaseSemaphore(ex.race.checkin)");
    wait_for(finish, "waiting for the end of the round");
    RtUnmapSharedMemory(config);
    CloseHandle(shm);
    CloseHandle(ready);
    CloseHandle(checkin);
    CloseHandle(go);
    CloseHandle(finish);
    return 0;
}

/* ---- the main role: start the race, check the result ------------------------ */
static void wait_checkins(HANDLE checkin, const char *what)
{
    for (int i = 0; i < RACERS; i++)
        wait_for(checkin, what);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "racer") == 0)
        return racer();

    HANDLE go = RtCreateEvent(NULL, TRUE, FALSE, GO_NAME);
    HANDLE finish = RtCreateEvent(NULL, TRUE, FALSE, FINISH_NAME);
    HANDLE checkin = RtCreateSemaphore(NULL, 0, RACERS, CHECKIN_NAME);
    if (go == NULL || finish == NULL || checkin == NULL)
        ex_fail("creating the race's events and semaphore");

    int wins[RACERS] = {0}, late_creators = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pid_t pids[RACERS];
        for (int i = 0; i < RACERS; i++)
            pids[i] = ex_spawn_self("racer", NULL);
        wait_checkins(checkin, "waiting for the racers to line up");
        RtSetEvent(go);
        wait_checkins(checkin, "waiting for the racers to read the configuration");

        /* Every racer holds ex.config now: look at it before they let go. */
        struct config *config;
        HANDLE shm = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, CONFIG_NAME, (VOID **)&config);
        if (shm == NULL)
            ex_fail("RtOpenSharedMemory(ex.config) while the racers hold it");
        int initializations = atomic_load(&config->initializations);
        int attachments = atomic_load(&config->attachments);
        int winner = -1;
        for (int i = 0; i < RACERS; i++)
            if (pids[i] == config->initializer_pid)
                winner = i;
        late_creators += atomic_load(&config->late_creators);
        RtUnmapSharedMemory(config);
        CloseHandle(shm);

        RtSetEvent(finish);
        for (int i = 0; i < RACERS; i++)
            if (!ex_child_ok(pids[i], "racer", EX_TIMEOUT_MS))
                return 1;
        if (initializations != 1 || attachments != RACERS || winner < 0)
            ex_die("round %d: %d initializations, %d racers attached, initializer %s", round,
                   initializations, attachments, winner < 0 ? "unknown" : "a racer");
        wins[winner]++;

        /* The last racer closed it: the next round starts from nothing. */
        VOID *gone;
        if (RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, CONFIG_NAME, &gone) != NULL ||
            GetLastError() != ERROR_FILE_NOT_FOUND)
            ex_die("round %d: ex.config outlived its last handle", round);
        RtResetEvent(go);
        RtResetEvent(finish);
    }
    printf("%d rounds of %d racers: exactly one initializer every time "
           "(first racer won %d, second %d; %d Create calls lost the race after their Open)\n",
           ROUNDS, RACERS, wins[0], wins[1], late_creators);
    CloseHandle(go);
    CloseHandle(finish);
    CloseHandle(checkin);
    return 0;
}
