/*
 * iwin32-demo: what its three processes share.
 *
 *   monitor (demo.c, the program as started) creates the objects below,
 *           starts the other two, prints a line a second, runs `iwin32 ls`,
 *           stops everything and checks that the node is left clean;
 *   producer (demo_roles.c, "iwin32-demo producer"): the real-time side, a
 *           periodic SCHED_FIFO loop that publishes stamped, checksummed
 *           samples into the ring and sets the data event;
 *   consumer (demo_roles.c, "iwin32-demo consumer"): wakes on the event,
 *           verifies every sample, and records the wake latency - from the
 *           producer's stamp to its own wake-up - for the monitor.
 */
#ifndef IWIN32_DEMO_H
#define IWIN32_DEMO_H

#include <stdatomic.h>
#include <stdint.h>

#include "latency_histogram.h"

#define DEMO_RING_NAME  "iwin32-demo.ring"   /* shared memory: struct demo_ring */
#define DEMO_DATA_NAME  "iwin32-demo.data"   /* auto-reset event: samples published */
#define DEMO_STATS_NAME "iwin32-demo.stats"  /* mutex guarding demo_ring.stats */
#define DEMO_READY_NAME "iwin32-demo.ready"  /* semaphore: each role releases it once set up */
#define DEMO_GO_NAME    "iwin32-demo.go"     /* manual-reset event: start producing */

#define DEMO_SLOTS 4096                /* 0.8 s of samples: room for a stalled consumer */
#define DEMO_PERIOD_NS 200000          /* the producer's period: 5 kHz */
#define DEMO_PAYLOAD_WORDS 12
#define DEMO_RT_PRIORITY 80            /* SCHED_FIFO priority of the producer */

struct demo_sample {
    uint64_t sequence;                 /* 0, 1, 2, ... with no gap */
    int64_t stamp_ns;                  /* CLOCK_MONOTONIC when published */
    uint32_t payload[DEMO_PAYLOAD_WORDS];
    uint32_t checksum;                 /* over all of the above */
};

/* Written by the consumer and read by the monitor, under the stats mutex. */
struct demo_stats {
    struct latency_histogram window;   /* wake latencies since the monitor last took them */
    uint64_t window_samples;           /* samples verified since then */
    uint64_t consumed;                 /* samples verified in all */
    uint64_t errors;                   /* samples with a wrong sequence number or checksum */
};

struct demo_ring {
    /* Single producer, single consumer: the indices need no lock. */
    _Atomic uint64_t head;             /* samples published (producer) */
    _Atomic uint64_t tail;             /* samples consumed (consumer) */
    _Atomic uint64_t overruns;         /* periods the producer found the ring full */
    atomic_int stop;                   /* monitor -> producer: stop producing */
    atomic_int producer_done;          /* producer -> consumer: head is final */
    struct demo_stats stats;
    struct demo_sample slot[DEMO_SLOTS];
};

/* The roles' main functions (demo_roles.c); each returns the exit status. */
int demo_producer(void);
int demo_consumer(void);

#endif
