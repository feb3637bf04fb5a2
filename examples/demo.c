/*
 * iwin32-demo: a real-time producer and an ordinary consumer exchange data
 * through shared memory and an event, the way an INtime application and its
 * Windows-side tools do - on Linux, with nothing to set up.
 *
 *   ./build/iwin32-demo [--seconds N]
 *
 * This process is the monitor (demo.h has the cast): it creates the ring
 * "iwin32-demo.ring" and its events, mutex and semaphore on the default node
 * (/dev/shm/iwin32-<uid>, or $IWIN32_ROOT), starts the producer and the
 * consumer as separate programs, prints throughput and wake latency once a
 * second for N seconds (default 4), shows the objects with `iwin32 ls`,
 * stops both, and checks that every sample arrived intact and that the node
 * holds none of the demo's objects afterwards.  Exit status 0 only then.
 */
#include "demo.h"
#include "example.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SECONDS 4

struct demo_objects {
    struct demo_ring *ring;
    HANDLE shm, data, stats_lock, ready, go;
};

static _Noreturn void usage(const char *program)
{
    fprintf(stderr, "usage: %s [--seconds N]   (N from 1 to 3600, default %d)\n", program, DEFAULT_SECONDS);
    exit(2);
}

static int parse_seconds(int argc, char **argv)
{
    if (argc == 1)
        return DEFAULT_SECONDS;
    if (argc != 3 || strcmp(argv[1], "--seconds") != 0)
        usage(argv[0]);
    char *end;
    long seconds = strtol(argv[2], &end, 10);
    if (end == argv[2] || *end != '\0' || seconds < 1 || seconds > 3600)
        usage(argv[0]);
    return (int)seconds;
}

static void create_objects(struct demo_objects *o)
{
    o->shm = RtCreateSharedMemory(PAGE_READWRITE, 0, sizeof *o->ring, DEMO_RING_NAME, (VOID **)&o->ring);
    if (o->shm == NULL)
        ex_fail("RtCreateSharedMemory(" DEMO_RING_NAME ")");
    if (GetLastError() == ERROR_ALREADY_EXISTS)
        ex_die(DEMO_RING_NAME " already exists: another iwin32-demo is running on this node");
    o->data = RtCreateEvent(NULL, FALSE, FALSE, DEMO_DATA_NAME);
    o->go = RtCreateEvent(NULL, TRUE, FALSE, DEMO_GO_NAME);
    o->stats_lock = RtCreateMutex(NULL, FALSE, DEMO_STATS_NAME);
    o->ready = RtCreateSemaphore(NULL, 0, 2, DEMO_READY_NAME);
    if (o->data == NULL || o->go == NULL || o->stats_lock == NULL || o->ready == NULL)
        ex_fail("creating the demo's events, mutex and semaphore");
}

static void close_objects(struct demo_objects *o)
{
    if (!RtUnmapSharedMemory(o->ring))
        ex_fail("RtUnmapSharedMemory");
    HANDLE handles[] = {o->shm, o->data, o->stats_lock, o->ready, o->go};
    for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++)
        if (!CloseHandle(handles[i]))
            ex_fail("CloseHandle");
}

/* Both roles report ready (the semaphore), unless one dies first. */
static void wait_roles_ready(struct demo_objects *o, pid_t producer, pid_t consumer)
{
    int64_t deadline = ex_now_ns() + (int64_t)EX_TIMEOUT_MS * 1000000;
    for (int ready = 0; ready < 2;) {
        DWORD r = RtWaitForSingleObject(o->ready, 200);
        if (r == WAIT_OBJECT_0)
            ready++;
        else if (r != WAIT_TIMEOUT)
            ex_fail("RtWaitForSingleObject(" DEMO_READY_NAME ")");
        else if (ex_child_ended(producer, "producer") || ex_child_ended(consumer, "consumer"))
            ex_die("a role ended before it was ready");
        else if (ex_now_ns() > deadline)
            ex_die("the producer and the consumer were not ready within %d ms", EX_TIMEOUT_MS);
    }
}

/* Takes the consumer's statistics and starts a new window. */
static struct demo_stats take_stats(struct demo_objects *o)
{
    if (RtWaitForSingleObject(o->stats_lock, EX_TIMEOUT_MS) != WAIT_OBJECT_0)
        ex_fail("RtWaitForSingleObject(" DEMO_STATS_NAME ")");
    struct demo_stats stats = o->ring->stats;
    memset(&o->ring->stats.window, 0, sizeof o->ring->stats.window);
    o->ring->stats.window_samples = 0;
    if (!RtReleaseMutex(o->stats_lock))
        ex_fail("RtReleaseMutex(" DEMO_STATS_NAME ")");
    return stats;
}

static void print_latencies(const struct latency_histogram *h)
{
    printf("wake latency p50 %.1f us, p99 %.1f us, max %.1f us", latency_percentile(h, 0.50) / 1e3,
           latency_percentile(h, 0.99) / 1e3, h->max_ns / 1e3);
}

/* One line a second while the roles run; the whole run's latencies into all. */
static void monitor(struct demo_objects *o, int seconds, pid_t producer, pid_t consumer,
                    struct latency_histogram *all)
{
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    int64_t last_ns = ex_now_ns();
    for (int second = 1; second <= seconds; second++) {
        next.tv_sec++;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        if (ex_child_ended(producer, "producer") || ex_child_ended(consumer, "consumer"))
            ex_die("a role ended while the demo was running");
        struct demo_stats stats = take_stats(o);
        int64_t now_ns = ex_now_ns();
        double elapsed = (double)(now_ns - last_ns) / 1e9;
        last_ns = now_ns;
        latency_merge(all, &stats.window);

        printf("[monitor] %2d s: %6.0f samples/s (%4.0f KiB/s), ", second, stats.window_samples / elapsed,
               stats.window_samples * sizeof(struct demo_sample) / elapsed / 1024);
        print_latencies(&stats.window);
        printf("; errors %llu, overruns %llu\n", (unsigned long long)stats.errors,
               (unsigned long long)atomic_load(&o->ring->overruns));
        fflush(stdout);
    }
}

/* `iwin32 ls`: the objects as any tool on the node sees them. */
static void show_objects(void)
{
#ifdef IWIN32_CLI_PATH
    printf("[monitor] the node's objects while the demo runs (iwin32 ls):\n");
    char *argv[] = {"iwin32", "ls", NULL};
    if (!ex_child_ok(ex_spawn(IWIN32_CLI_PATH, argv), "iwin32 ls", EX_TIMEOUT_MS))
        ex_die("iwin32 ls failed");
#else
    printf("[monitor] the iwin32 CLI (target iwin32-cli) is not built: not showing `iwin32 ls`\n");
#endif
}

/* An Open of a name the node no longer holds fails with ERROR_FILE_NOT_FOUND. */
static void check_gone(HANDLE h, const char *name)
{
    if (h != NULL || GetLastError() != ERROR_FILE_NOT_FOUND)
        ex_die("%s still exists after every handle was closed (last error %u)", name, GetLastError());
}

/* After the last handle anywhere is closed, no name of the demo may remain. */
static void check_node_clean(void)
{
    VOID *mapping;
    check_gone(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, DEMO_RING_NAME, &mapping), DEMO_RING_NAME);
    check_gone(RtOpenEvent(0, FALSE, DEMO_DATA_NAME), DEMO_DATA_NAME);
    check_gone(RtOpenEvent(0, FALSE, DEMO_GO_NAME), DEMO_GO_NAME);
    check_gone(RtOpenMutex(0, FALSE, DEMO_STATS_NAME), DEMO_STATS_NAME);
    check_gone(RtOpenSemaphore(0, FALSE, DEMO_READY_NAME), DEMO_READY_NAME);
    printf("[monitor] all handles closed: the node holds none of the demo's 5 objects\n");
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "producer") == 0)
        return demo_producer();
    if (argc == 2 && strcmp(argv[1], "consumer") == 0)
        return demo_consumer();
    int seconds = parse_seconds(argc, argv);

    const char *root = getenv("IWIN32_ROOT");
    char default_root[64];
    snprintf(default_root, sizeof default_root, "/dev/shm/iwin32-%u", (unsigned)getuid());
    printf("[monitor pid %d] node %s: a %.0f Hz producer, a consumer, %d s\n", (int)getpid(),
           root && *root ? root : default_root, 1e9 / DEMO_PERIOD_NS, seconds);

    struct demo_objects o;
    create_objects(&o);
    pid_t consumer = ex_spawn_self("consumer", NULL);
    pid_t producer = ex_spawn_self("producer", NULL);
    wait_roles_ready(&o, producer, consumer);
    if (!RtSetEvent(o.go))
        ex_fail("RtSetEvent(" DEMO_GO_NAME ")");

    struct latency_histogram all = {0};
    monitor(&o, seconds, producer, consumer, &all);
    show_objects();

    atomic_store(&o.ring->stop, 1);
    if (!ex_child_ok(producer, "producer", EX_TIMEOUT_MS) || !ex_child_ok(consumer, "consumer", EX_TIMEOUT_MS))
        ex_die("the producer or the consumer failed");
    struct demo_stats stats = take_stats(&o);
    latency_merge(&all, &stats.window);
    uint64_t published = atomic_load(&o.ring->head);
    printf("[monitor] published %llu samples, consumer verified %llu, %llu errors, %llu overruns\n",
           (unsigned long long)published, (unsigned long long)stats.consumed,
           (unsigned long long)stats.errors, (unsigned long long)atomic_load(&o.ring->overruns));
    printf("[monitor] over the run: ");
    print_latencies(&all);
    printf(" (%llu wake-ups)\n", (unsigned long long)all.total);
    if (published == 0 || stats.consumed != published || stats.errors != 0)
        ex_die("samples were lost or corrupted");

    close_objects(&o);
    check_node_clean();
    return 0;
}
