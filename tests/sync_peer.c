/* The sync_peer program: see sync_peer.h for its commands. */
#include "sync_peer.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iwin32.h>

static HANDLE list[2 * MAXIMUM_WAIT_OBJECTS];
static DWORD count;

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void need(int argc, int i, int n, const char *cmd)
{
    if (i + n >= argc) {
        fprintf(stderr, "sync_peer: %s needs %d argument(s)\n", cmd, n);
        exit(64);
    }
}

static void made(HANDLE h)
{
    if (h == NULL) {
        say("fail %u", GetLastError());
        return;
    }
    DWORD err = GetLastError();
    if (count < sizeof list / sizeof list[0])
        list[count++] = h;
    say("ok %u", err);
}

static HANDLE last(void)
{
    if (count == 0) {
        fprintf(stderr, "sync_peer: no handle\n");
        exit(65);
    }
    return list[count - 1];
}

static void answer(BOOLEAN ok) { ok ? say("ok 0") : say("fail %u", GetLastError()); }

static void go(void)
{
    char c;
    while (read(0, &c, 1) < 0 && errno == EINTR)
        ;
}

static void *open_shm(const char *name)
{
    void *p = NULL;
    if (RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, name, &p) == NULL) {
        fprintf(stderr, "sync_peer: open shm %s: %u\n", name, GetLastError());
        exit(66);
    }
    return p;
}

static HANDLE open_or_die(HANDLE h, const char *what)
{
    if (h == NULL) {
        fprintf(stderr, "sync_peer: open %s: %u\n", what, GetLastError());
        exit(67);
    }
    return h;
}

static void hammer(const char *shm, const char *mutex, long n)
{
    volatile uint64_t *counter = open_shm(shm);
    HANDLE m = open_or_die(RtOpenMutex(0, FALSE, mutex), mutex);
    for (long i = 0; i < n; i++) {
        DWORD r = RtWaitForSingleObject(m, INFINITE);
        if (r != WAIT_OBJECT_0) {
            say("fail wait %u %u", r, GetLastError());
            exit(1);
        }
        uint64_t v = *counter;
        if ((i & 63) == 0)
            sched_yield(); /* widen the window a lost update needs */
        *counter = v + 1;
        if (!RtReleaseMutex(m)) {
            say("fail release %u", GetLastError());
            exit(1);
        }
    }
    say("done %ld", n);
}

struct ring_objects {
    struct sync_ring *ring;
    HANDLE empty, full, mutex;
};

static void open_ring(const char *prefix, struct ring_objects *r)
{
    char name[256];
    snprintf(name, sizeof name, "%s.shm", prefix);
    r->ring = open_shm(name);
    snprintf(name, sizeof name, "%s.empty", prefix);
    r->empty = open_or_die(RtOpenSemaphore(0, FALSE, name), name);
    snprintf(name, sizeof name, "%s.full", prefix);
    r->full = open_or_die(RtOpenSemaphore(0, FALSE, name), name);
    snprintf(name, sizeof name, "%s.mutex", prefix);
    r->mutex = open_or_die(RtOpenMutex(0, FALSE, name), name);
}

static void ring_transfer(const char *prefix, long first, long n, int produce)
{
    struct ring_objects r;
    open_ring(prefix, &r);
    for (long i = 0; i < n; i++) {
        DWORD w = RtWaitForSingleObject(produce ? r.empty : r.full, SYNC_RING_WAIT_MS);
        if (w != WAIT_OBJECT_0) {
            say("fail %s wait %u at %ld", produce ? "empty" : "full", w, i);
            exit(1);
        }
        w = RtWaitForSingleObject(r.mutex, SYNC_RING_WAIT_MS);
        if (w != WAIT_OBJECT_0) {
            say("fail mutex wait %u at %ld", w, i);
            exit(1);
        }
        uint32_t v = 0;
        if (produce)
            r.ring->slot[r.ring->head++ % SYNC_RING_SLOTS] = (uint32_t)(first + i);
        else
            v = r.ring->slot[r.ring->tail++ % SYNC_RING_SLOTS];
        if (!RtReleaseMutex(r.mutex)) {
            say("fail mutex release %u", GetLastError());
            exit(1);
        }
        if (!RtReleaseSemaphore(produce ? r.full : r.empty, 1, NULL)) {
            say("fail release %u at %ld", GetLastError(), i);
            exit(1);
        }
        if (!produce) {
            if (v >= SYNC_RING_TOTAL) {
                say("fail value %u", v);
                exit(1);
            }
            atomic_fetch_add(&r.ring->seen[v], 1);
        }
    }
    say("done %ld", n);
}

static void mix(const char *prefix, long n)
{
    for (long i = 0; i < n; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s%ld", prefix, i);
        HANDLE h = i % 4 < 2 ? RtOpenEvent(0, FALSE, name)
                   : i % 4 == 2 ? RtOpenSemaphore(0, FALSE, name)
                                : RtOpenMutex(0, FALSE, name);
        if (h == NULL) {
            say("fail %ld %u", i, GetLastError());
            return;
        }
        list[count++] = h;
    }
    say("ok %ld", n);
}

static DWORD ms_of(const char *s)
{
    long v = strtol(s, NULL, 0);
    return v < 0 ? INFINITE : (DWORD)v;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        const char *c = argv[i];
        if (strcmp(c, "ce") == 0) {
            need(argc, i, 3, c);
            made(RtCreateEvent(NULL, (BOOLEAN)atoi(argv[i + 2]), (BOOLEAN)atoi(argv[i + 3]), argv[i + 1]));
            i += 3;
        } else if (strcmp(c, "oe") == 0) {
            need(argc, i, 1, c);
            made(RtOpenEvent(0, FALSE, argv[++i]));
        } else if (strcmp(c, "cm") == 0) {
            need(argc, i, 2, c);
            made(RtCreateMutex(NULL, (BOOLEAN)atoi(argv[i + 2]), argv[i + 1]));
            i += 2;
        } else if (strcmp(c, "om") == 0) {
            need(argc, i, 1, c);
            made(RtOpenMutex(0, FALSE, argv[++i]));
        } else if (strcmp(c, "cs") == 0) {
            need(argc, i, 3, c);
            made(RtCreateSemaphore(NULL, atoi(argv[i + 2]), atoi(argv[i + 3]), argv[i + 1]));
            i += 3;
        } else if (strcmp(c, "os") == 0) {
            need(argc, i, 1, c);
            made(RtOpenSemaphore(0, FALSE, argv[++i]));
        } else if (strcmp(c, "mix") == 0) {
            need(argc, i, 2, c);
            mix(argv[i + 1], strtol(argv[i + 2], NULL, 10));
            i += 2;
        } else if (strcmp(c, "w") == 0 || strcmp(c, "wall") == 0) {
            need(argc, i, 1, c);
            DWORD ms = ms_of(argv[++i]);
            HANDLE h = last();
            say("waiting %lld", now_us());
            DWORD r = strcmp(c, "w") == 0 ? RtWaitForSingleObject(h, ms)
                                          : RtWaitForMultipleObjects(count, list, FALSE, ms);
            long long t = now_us();
            say("w %u %lld", r, t);
        } else if (strcmp(c, "set") == 0) {
            answer(RtSetEvent(last()));
        } else if (strcmp(c, "reset") == 0) {
            answer(RtResetEvent(last()));
        } else if (strcmp(c, "pulse") == 0) {
            answer(RtPulseEvent(last()));
        } else if (strcmp(c, "rm") == 0) {
            answer(RtReleaseMutex(last()));
        } else if (strcmp(c, "rs") == 0) {
            need(argc, i, 1, c);
            LONG prev = -1;
            if (RtReleaseSemaphore(last(), atoi(argv[++i]), &prev))
                say("ok %d", (int)prev);
            else
                say("fail %u", GetLastError());
        } else if (strcmp(c, "close") == 0) {
            answer(CloseHandle(last()));
            count--;
        } else if (strcmp(c, "g") == 0) {
            go();
        } else if (strcmp(c, "sleep") == 0) {
            need(argc, i, 1, c);
            usleep((useconds_t)strtol(argv[++i], NULL, 10) * 1000);
        } else if (strcmp(c, "kill") == 0) {
            raise(SIGKILL);
        } else if (strcmp(c, "hammer") == 0) {
            need(argc, i, 3, c);
            hammer(argv[i + 1], argv[i + 2], strtol(argv[i + 3], NULL, 10));
            i += 3;
        } else if (strcmp(c, "produce") == 0) {
            need(argc, i, 3, c);
            ring_transfer(argv[i + 1], strtol(argv[i + 2], NULL, 10), strtol(argv[i + 3], NULL, 10), 1);
            i += 3;
        } else if (strcmp(c, "consume") == 0) {
            need(argc, i, 2, c);
            ring_transfer(argv[i + 1], 0, strtol(argv[i + 2], NULL, 10), 0);
            i += 2;
        } else {
            fprintf(stderr, "sync_peer: unknown command %s\n", c);
            return 64;
        }
    }
    return 0;
}
