/*
 * example-ring-semaphores: a bounded ring in shared memory shared by several
 * producer and consumer processes - the classic pair of counting semaphores
 * plus a mutex.
 *
 *   "ex.ring.slots"  counts free slots (starts at SLOTS): a producer takes
 *                    one before writing, so it blocks while the ring is full;
 *   "ex.ring.items"  counts filled slots (starts at 0): a consumer takes one
 *                    before reading, so it blocks while the ring is empty;
 *   "ex.ring.lock"   guards the indices, which several producers (and
 *                    several consumers) move.
 *
 * The main role starts PRODUCERS producers and CONSUMERS consumers
 * ("example-ring-semaphores producer N" / "... consumer"), waits for the
 * producers, then puts one 0 per consumer in the ring to stop them.  It
 * checks that what was consumed is exactly what was produced, in count and
 * in sum, and that the ring ends empty.
 */
#include "example.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char RING_NAME[] = "ex.ring";
static const char SLOTS_NAME[] = "ex.ring.slots";
static const char ITEMS_NAME[] = "ex.ring.items";
static const char LOCK_NAME[] = "ex.ring.lock";

#define SLOTS 16
#define PRODUCERS 2
#define CONSUMERS 2
#define ITEMS_PER_PRODUCER 5000
#define STOP 0u                 /* the value that stops a consumer; items are never 0 */

struct ring {
    uint64_t head, tail;        /* next slot to write / to read, guarded by the lock */
    uint32_t slot[SLOTS];
    /* What every process did, added under the lock as it finishes. */
    uint64_t produced, produced_sum, consumed, consumed_sum;
};

struct ring_handles {
    struct ring *ring;
    HANDLE shm, slots, items, lock;
};

static void lock(struct ring_handles *r)
{
    if (RtWaitForSingleObject(r->lock, EX_TIMEOUT_MS) != WAIT_OBJECT_0)
        ex_fail("RtWaitForSingleObject(ex.ring.lock)");
}

static void unlock(struct ring_handles *r)
{
    if (!RtReleaseMutex(r->lock))
        ex_fail("RtReleaseMutex(ex.ring.lock)");
}

static void put(struct ring_handles *r, uint32_t value)
{
    if (RtWaitForSingleObject(r->slots, EX_TIMEOUT_MS) != WAIT_OBJECT_0)   /* a free slot */
        ex_fail("RtWaitForSingleObject(ex.ring.slots)");
    lock(r);
    r->ring->slot[r->ring->head++ % SLOTS] = value;
    unlock(r);
    if (!RtReleaseSemaphore(r->items, 1, NULL))                            /* one more item */
        ex_fail("RtReleaseSemaphore(ex.ring.items)");
}

static uint32_t take(struct ring_handles *r)
{
    if (RtWaitForSingleObject(r->items, EX_TIMEOUT_MS) != WAIT_OBJECT_0)   /* an item */
        ex_fail("RtWaitForSingleObject(ex.ring.items)");
    lock(r);
    uint32_t value = r->ring->slot[r->ring->tail++ % SLOTS];
    unlock(r);
    if (!RtReleaseSemaphore(r->slots, 1, NULL))                            /* one more free slot */
        ex_fail("RtReleaseSemaphore(ex.ring.slots)");
    return value;
}

static void open_ring(struct ring_handles *r)
{
    r->shm = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, RING_NAME, (VOID **)&r->ring);
    r->slots = RtOpenSemaphore(0, FALSE, SLOTS_NAME);
    r->items = RtOpenSemaphore(0, FALSE, ITEMS_NAME);
    r->lock = RtOpenMutex(0, FALSE, LOCK_NAME);
    if (r->shm == NULL || r->slots == NULL || r->items == NULL || r->lock == NULL)
        ex_fail("opening ex.ring and its semaphores and mutex");
}

static void close_ring(struct ring_handles *r)
{
    RtUnmapSharedMemory(r->ring);
    CloseHandle(r->shm);
    CloseHandle(r->slots);
    CloseHandle(r->items);
    CloseHandle(r->lock);
}

/* Producer number n puts values n*1000000 + 1, + 2, ... (never 0). */
static uint32_t item_value(unsigned n, unsigned i) { return n * 1000000u + i + 1; }

static int producer(unsigned n)
{
    struct ring_handles r;
    open_ring(&r);
    uint64_t sum = 0;
    for (unsigned i = 0; i < ITEMS_PER_PRODUCER; i++) {
        put(&r, item_value(n, i));
        sum += item_value(n, i);
    }
    lock(&r);
    r.ring->produced += ITEMS_PER_PRODUCER;
    r.ring->produced_sum += sum;
    unlock(&r);
    close_ring(&r);
    return 0;
}

static int consumer(void)
{
    struct ring_handles r;
    open_ring(&r);
    uint64_t count = 0, sum = 0;
    for (uint32_t value; (value = take(&r)) != STOP;) {
        count++;
        sum += value;
    }
    lock(&r);
    r.ring->consumed += count;
    r.ring->consumed_sum += sum;
    unlock(&r);
    printf("consumer: took %" PRIu64 " items\n", count);
    close_ring(&r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "producer") == 0)
        return producer((unsigned)atoi(argv[2]));
    if (argc > 1 && strcmp(argv[1], "consumer") == 0)
        return consumer();

    struct ring_handles r;
    r.shm = RtCreateSharedMemory(PAGE_READWRITE, 0, sizeof *r.ring, RING_NAME, (VOID **)&r.ring);
    if (r.shm == NULL)
        ex_fail("RtCreateSharedMemory(ex.ring)");
    if (GetLastError() == ERROR_ALREADY_EXISTS)
        ex_die("ex.ring already exists: is another copy of this example running on this node?");
    r.slots = RtCreateSemaphore(NULL, SLOTS, SLOTS, SLOTS_NAME);   /* all slots free */
    r.items = RtCreateSemaphore(NULL, 0, SLOTS, ITEMS_NAME);       /* no items yet */
    r.lock = RtCreateMutex(NULL, FALSE, LOCK_NAME);
    if (r.slots == NULL || r.items == NULL || r.lock == NULL)
        ex_fail("creating the ring's semaphores and mutex");

    pid_t producers[PRODUCERS], consumers[CONSUMERS];
    for (unsigned n = 0; n < PRODUCERS; n++) {
        char arg[16];
        snprintf(arg, sizeof arg, "%u", n);
        producers[n] = ex_spawn_self("producer", arg);
    }
    for (int i = 0; i < CONSUMERS; i++)
        consumers[i] = ex_spawn_self("consumer", NULL);

    int ok = 1;
    for (int n = 0; n < PRODUCERS; n++)
        ok &= ex_child_ok(producers[n], "producer", EX_TIMEOUT_MS);
    for (int i = 0; i < CONSUMERS; i++)     /* stop the consumers even if a producer failed */
        put(&r, STOP);
    for (int i = 0; i < CONSUMERS; i++)
        ok &= ex_child_ok(consumers[i], "consumer", EX_TIMEOUT_MS);
    if (!ok)
        return 1;

    uint64_t expected = 0;
    for (unsigned n = 0; n < PRODUCERS; n++)
        for (unsigned i = 0; i < ITEMS_PER_PRODUCER; i++)
            expected += item_value(n, i);
    struct ring *ring = r.ring;
    printf("produced %" PRIu64 " items (sum %" PRIu64 "), consumed %" PRIu64 " (sum %" PRIu64 ")\n",
           ring->produced, ring->produced_sum, ring->consumed, ring->consumed_sum);
    if (ring->produced != (uint64_t)PRODUCERS * ITEMS_PER_PRODUCER || ring->produced_sum != expected ||
        ring->consumed != ring->produced || ring->consumed_sum != ring->produced_sum)
        ex_die("the total was not conserved (expected %d items, sum %" PRIu64 ")",
               PRODUCERS * ITEMS_PER_PRODUCER, expected);
    if (ring->head != ring->tail || RtWaitForSingleObject(r.items, 0) != WAIT_TIMEOUT)
        ex_die("the ring did not end empty");
    printf("conserved: every item produced was consumed exactly once, and the ring is empty\n");
    close_ring(&r);
    return 0;
}
