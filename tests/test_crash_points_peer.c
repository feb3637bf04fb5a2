/*
 * test_crash_points' peer: run as "test_crash_points --peer SCENARIO KIND
 * NAME", it plays one scenario's calls (a Create, an Open, a Set or Release,
 * a multi-object wait), every answer checked, then prints "hit <point>" for
 * every crash point it passed.  Part of the test_crash_points executable
 * (which execs itself as its peer); the scenes and checks around each run:
 * test_crash_points.c; what they share: test_crash_points_util.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iwin32.h>

#include "crash_point.h"
#include "test_crash_points_util.h"

/* ---- the peer: one scenario's calls ------------------------------------------ */

#define PEER_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "crash peer: line %d: %s (last error %u)\n", __LINE__, #cond, GetLastError()); \
            _exit(3);                                                                              \
        }                                                                                          \
    } while (0)

/* Sets the event once the main thread sleeps in its wait (so that the wait
 * registers and sleeps first, and wakes on this Set). */
static void *set_when_asleep(void *arg)
{
    for (int tries = 0; tries < 10000 && !asleep(getpid()); tries++)
        usleep(1000);
    RtSetEvent(*(HANDLE *)arg);
    return NULL;
}

/* A multi-object wait that sleeps, then gets the named object: an event
 * this process sets, or a mutex whose owner the test kills (abandoned) or
 * makes release it meanwhile. */
static void peer_wait_multiple(enum kind kind, HANDLE named, bool abandoned)
{
    HANDLE objs[2] = {RtCreateEvent(NULL, FALSE, FALSE, NULL), named};
    PEER_CHECK(objs[0] != NULL);
    pthread_t t;
    if (kind == EVENT)
        PEER_CHECK(pthread_create(&t, NULL, set_when_asleep, &objs[1]) == 0);
    DWORD r = RtWaitForMultipleObjects(2, objs, FALSE, 30000);
    if (kind == EVENT) {
        PEER_CHECK(r == WAIT_OBJECT_0 + 1);
        pthread_join(t, NULL);
    } else {
        PEER_CHECK(r == (abandoned ? WAIT_ABANDONED_0 : WAIT_OBJECT_0) + 1);
        PEER_CHECK(RtReleaseMutex(named));
    }
    PEER_CHECK(CloseHandle(objs[0]));
}

static void peer_signal(enum kind kind, HANDLE h)
{
    switch (kind) {
    case EVENT: PEER_CHECK(RtSetEvent(h)); break;
    case SEMAPHORE: PEER_CHECK(RtReleaseSemaphore(h, 1, NULL)); break;
    default: {
        DWORD r = RtWaitForSingleObject(h, 30000);
        PEER_CHECK(r == WAIT_OBJECT_0 || r == WAIT_ABANDONED_0);
        PEER_CHECK(RtReleaseMutex(h));
    }
    }
}

/* One scenario's calls, every answer checked. */
static void play(const char *scenario, enum kind kind, const char *name)
{
    void *p = NULL;
    HANDLE h;
    if (strcmp(scenario, "recount") == 0 || strcmp(scenario, "mknode") == 0) {
        uint64_t size, used;
        PEER_CHECK(iwin32PoolInfo(&size, &used) && size == (uint64_t)POOL_MB << 20);
        if (scenario[0] == 'r')
            return;
    }
    if (strcmp(scenario, "create") == 0 || strcmp(scenario, "full") == 0 || strcmp(scenario, "mknode") == 0) {
        bool fresh;
        DWORD size = strcmp(scenario, "full") == 0 ? FULL_SIZE : SIZE;
        h = create(kind, strcmp(name, "-") == 0 ? NULL : name, size, &p, &fresh);
        PEER_CHECK(h != NULL);
        if (kind == SHM && fresh) {
            PEER_CHECK(all_zero(p, size));
            fill(p, size, (uint32_t)getpid());
        } else if (kind == SHM) {
            PEER_CHECK(intact(p, SIZE, SEED));
        }
    } else {
        h = open_object(kind, name, &p);
        if (strcmp(scenario, "open-gone") == 0) {
            PEER_CHECK(h == NULL && GetLastError() == ERROR_FILE_NOT_FOUND);
            return;
        }
        PEER_CHECK(h != NULL);
        if (kind == SHM)
            PEER_CHECK(intact(p, SIZE, SEED));
        if (strcmp(scenario, "signal") == 0)
            peer_signal(kind, h);
        else if (strncmp(scenario, "wait", 4) == 0)
            peer_wait_multiple(kind, h, strcmp(scenario, "wait") == 0);
    }
    PEER_CHECK(release(h, p));
}

/* The peer: plays the scenario, then names the points it passed. */
int crash_peer(const char *scenario, enum kind kind, const char *name)
{
    play(scenario, kind, name);
    struct iw_crash_point *points;
    size_t n = iw_crash_points_all(&points);
    for (size_t i = 0; i < n; i++)
        if (points[i].hits > 0)
            printf("hit %s\n", points[i].name);
    return 0;
}
