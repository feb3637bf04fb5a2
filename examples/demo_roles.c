/*
 * iwin32-demo's producer and consumer (see demo.h).  Each opens the
 * monitor's objects by name - they are separate programs as far as iwin32
 * is concerned - and releases the "ready" semaphore once set up.
 */
#include "demo.h"
#include "example.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- samples --------------------------------------------------------------- */

/* FNV-1a over the sample's fields before the checksum. */
static uint32_t checksum_of(const struct demo_sample *s)
{
    const unsigned char *bytes = (const unsigned char *)s;
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < offsetof(struct demo_sample, checksum); i++)
        hash = (hash ^ bytes[i]) * 16777619u;
    return hash;
}

static void fill_sample(struct demo_sample *s, uint64_t sequence)
{
    s->sequence = sequence;
    for (unsigned i = 0; i < DEMO_PAYLOAD_WORDS; i++)
        s->payload[i] = (uint32_t)(sequence * 2654435761u) ^ i;
    s->stamp_ns = ex_now_ns();         /* last: the latency starts at publication */
    s->checksum = checksum_of(s);
}

/* ---- opening the monitor's objects ------------------------------------------- */

static struct demo_ring *open_ring(HANDLE *shm)
{
    struct demo_ring *ring;
    *shm = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, DEMO_RING_NAME, (VOID **)&ring);
    if (*shm == NULL)
        ex_fail("RtOpenSharedMemory(" DEMO_RING_NAME ")");
    return ring;
}

static HANDLE open_event(const char *name)
{
    HANDLE h = RtOpenEvent(0, FALSE, name);
    if (h == NULL)
        ex_fail(name);
    return h;
}

static void report_ready(void)
{
    HANDLE ready = RtOpenSemaphore(0, FALSE, DEMO_READY_NAME);
    if (ready == NULL || !RtReleaseSemaphore(ready, 1, NULL))
        ex_fail("releasing " DEMO_READY_NAME);
    CloseHandle(ready);
}

/* ---- the producer: the real-time side ------------------------------------------ */

/* SCHED_FIFO and locked memory where this process may have them; says which. */
static void become_real_time(void)
{
    char policy[128], memory[128];
    struct sched_param param = {.sched_priority = DEMO_RT_PRIORITY};
    if (sched_setscheduler(0, SCHED_FIFO, &param) == 0)
        snprintf(policy, sizeof policy, "SCHED_FIFO priority %d", DEMO_RT_PRIORITY);
    else
        snprintf(policy, sizeof policy, "SCHED_FIFO not permitted (%s): running SCHED_OTHER",
                 strerror(errno));
    /* The ring is already mapped, populated and (where allowed) locked by
     * the library; this locks the rest - code, stack, heap - and the future. */
    if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0)
        snprintf(memory, sizeof memory, "memory locked (mlockall)");
    else
        snprintf(memory, sizeof memory, "mlockall not permitted (%s): memory may page", strerror(errno));
    printf("[producer pid %d] %s; %s\n", (int)getpid(), policy, memory);
    fflush(stdout);
}

int demo_producer(void)
{
    HANDLE shm;
    struct demo_ring *ring = open_ring(&shm);
    HANDLE data = open_event(DEMO_DATA_NAME), go = open_event(DEMO_GO_NAME);
    become_real_time();
    report_ready();
    if (RtWaitForSingleObject(go, EX_TIMEOUT_MS) != WAIT_OBJECT_0)
        ex_fail("producer: waiting for " DEMO_GO_NAME);

    /* The periodic loop: absolute deadlines, so the period does not drift. */
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    uint64_t sequence = 0;
    while (!atomic_load_explicit(&ring->stop, memory_order_relaxed)) {
        next.tv_nsec += DEMO_PERIOD_NS;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);

        uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
        if (sequence - tail >= DEMO_SLOTS) {   /* full: a real-time side never waits */
            atomic_fetch_add_explicit(&ring->overruns, 1, memory_order_relaxed);
            continue;
        }
        fill_sample(&ring->slot[sequence % DEMO_SLOTS], sequence);
        atomic_store_explicit(&ring->head, ++sequence, memory_order_release);
        if (!RtSetEvent(data))
            ex_fail("RtSetEvent(" DEMO_DATA_NAME ")");
    }
    atomic_store_explicit(&ring->producer_done, 1, memory_order_release);
    if (!RtSetEvent(data))                     /* the consumer drains and ends */
        ex_fail("RtSetEvent(" DEMO_DATA_NAME ")");

    RtUnmapSharedMemory(ring);
    CloseHandle(go);
    CloseHandle(data);
    CloseHandle(shm);
    return 0;
}

/* ---- the consumer -------------------------------------------------------------- */

int demo_consumer(void)
{
    HANDLE shm;
    struct demo_ring *ring = open_ring(&shm);
    HANDLE data = open_event(DEMO_DATA_NAME);
    HANDLE stats_lock = RtOpenMutex(0, FALSE, DEMO_STATS_NAME);
    if (stats_lock == NULL)
        ex_fail("RtOpenMutex(" DEMO_STATS_NAME ")");
    report_ready();

    uint64_t expected = 0, errors = 0;
    for (;;) {
        /* The timeout only bounds how long a lost producer could keep us. */
        DWORD woke = RtWaitForSingleObject(data, 1000);
        int64_t woke_ns = ex_now_ns();
        if (woke == WAIT_FAILED)
            ex_fail("RtWaitForSingleObject(" DEMO_DATA_NAME ")");
        /* done before head: a final head is then read whole. */
        int done = atomic_load_explicit(&ring->producer_done, memory_order_acquire);
        uint64_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
        uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
        if (tail == head) {
            if (done)
                break;
            continue;
        }

        int64_t latency_ns = woke_ns - ring->slot[tail % DEMO_SLOTS].stamp_ns;
        uint64_t batch_errors = 0;
        for (uint64_t i = tail; i < head; i++) {
            const struct demo_sample *s = &ring->slot[i % DEMO_SLOTS];
            if (s->sequence != expected || s->checksum != checksum_of(s))
                batch_errors++;
            expected = s->sequence + 1;
        }
        atomic_store_explicit(&ring->tail, head, memory_order_release);
        errors += batch_errors;

        if (RtWaitForSingleObject(stats_lock, EX_TIMEOUT_MS) != WAIT_OBJECT_0)
            ex_fail("RtWaitForSingleObject(" DEMO_STATS_NAME ")");
        /* A wake owed to a sample taken in the last batch finds a newer
         * first sample, published after the wake: that is no latency. */
        if (woke == WAIT_OBJECT_0 && latency_ns >= 0)
            latency_record(&ring->stats.window, latency_ns);
        ring->stats.window_samples += head - tail;
        ring->stats.consumed += head - tail;
        ring->stats.errors += batch_errors;
        if (!RtReleaseMutex(stats_lock))
            ex_fail("RtReleaseMutex(" DEMO_STATS_NAME ")");
    }

    RtUnmapSharedMemory(ring);
    CloseHandle(stats_lock);
    CloseHandle(data);
    CloseHandle(shm);
    return errors == 0 ? 0 : 1;
}
