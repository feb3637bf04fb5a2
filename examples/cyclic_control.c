/*
 * example-cyclic-control: a cyclic control loop as INtime code writes one -
 * a periodic RtCreateTimer at real-time priority 100 (RTX scale: SCHED_FIFO
 * 72 here) whose routine runs every millisecond and publishes a cycle
 * counter and its timestamp to shared memory, and a reader process that
 * follows them.
 *
 *   "ex.cyclic"       shared memory: the cycle behind a sequence counter
 *                     (odd while the routine writes; a reader retries when
 *                     it changed under its copy), the timer's first
 *                     expiry, its period and how many cycles the run has.
 *   "ex.cyclic.done"  an event the routine sets after its last cycle (it
 *                     cancels its own timer first).
 *
 * The reader checks what a consumer of a control loop relies on: the counter
 * never goes back, no snapshot is torn, and each cycle's timestamp is at or
 * after that cycle's deadline on the grid first + k * period (RtGetClockTime's
 * clock, the timer's).  The controller reports the cycles' lateness.
 *
 * Real-time priority needs CAP_SYS_NICE or an rtprio limit (ulimit -r) of
 * 72; without it RtCreateTimer fails with ERROR_ACCESS_DENIED, and the
 * example says so and runs at the highest priority the limit allows, or,
 * where none is allowed, says it skipped.
 *
 * Usage: example-cyclic-control [--cycles N]
 */
#include "example.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define SHM_NAME "ex.cyclic"
#define DONE_NAME "ex.cyclic.done"
#define PRIORITY 100               /* RTX scale, as INtime code writes it */
#define PERIOD (10000)             /* 1 ms in 100 ns units */
#define RTX_OF_FIFO(f) ((f) + 28)  /* man RtSetThreadPriority */

struct cycle_shm {
    _Atomic uint64_t seq;          /* 2 * cycles published, odd while writing */
    _Atomic int64_t counter;       /* the cycle: 1, 2, ... */
    _Atomic int64_t stamp;         /* RtGetClockTime when it ran */
    _Atomic int64_t first;         /* the timer's first expiry (RtGetClockTime units) */
    _Atomic int64_t period;
    _Atomic int64_t cycles;        /* how many the run has */
};

/* ---- the controller: the timer's routine ------------------------------------ */

struct loop {
    struct cycle_shm *shm;
    HANDLE timer, done;
    int64_t cycles, counter;
    int64_t late_max, late_sum;    /* 100 ns units */
};

static VOID RTFCNDCL control_cycle(PVOID context)
{
    struct loop *l = context;
    LARGE_INTEGER now;
    RtGetClockTime(CLOCK_FASTEST, &now);
    int64_t k = ++l->counter;
    /* ... read inputs, compute, write outputs: this cycle's work ... */
    uint64_t s = atomic_load_explicit(&l->shm->seq, memory_order_relaxed);
    atomic_store_explicit(&l->shm->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&l->shm->counter, k, memory_order_relaxed);
    atomic_store_explicit(&l->shm->stamp, now.QuadPart, memory_order_relaxed);
    atomic_store_explicit(&l->shm->seq, s + 2, memory_order_release);

    int64_t late = now.QuadPart - (atomic_load(&l->shm->first) + (k - 1) * PERIOD);
    l->late_sum += late;
    l->late_max = late > l->late_max ? late : l->late_max;
    if (k == l->cycles) {
        RtCancelTimer(l->timer, NULL); /* from its own routine: no wait, no deadlock */
        SetEvent(l->done);
    }
}

/* The timer at PRIORITY, or at the highest priority the rtprio limit allows. */
static HANDLE create_timer(struct loop *l, ULONG *priority)
{
    *priority = PRIORITY;
    HANDLE h = RtCreateTimer(NULL, 0, control_cycle, l, *priority, CLOCK_FASTEST);
    if (h != NULL || GetLastError() != ERROR_ACCESS_DENIED)
        return h;
    struct rlimit rt;
    getrlimit(RLIMIT_RTPRIO, &rt);
    fprintf(stderr, "example-cyclic-control: priority %d not permitted (needs CAP_SYS_NICE or ulimit -r %d); "
            "rtprio limit %llu\n", PRIORITY, PRIORITY - 28, (unsigned long long)rt.rlim_cur);
    if (rt.rlim_cur == 0)
        return NULL;
    *priority = (ULONG)RTX_OF_FIFO(rt.rlim_cur < 99 ? (int)rt.rlim_cur : 99);
    return RtCreateTimer(NULL, 0, control_cycle, l, *priority, CLOCK_FASTEST);
}

static int controller(int64_t cycles)
{
    struct loop l = {.cycles = cycles};
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, sizeof *l.shm, SHM_NAME, (VOID **)&l.shm);
    if (shm == NULL)
        ex_fail("RtCreateSharedMemory(" SHM_NAME ")");
    if ((l.done = CreateEvent(NULL, TRUE, FALSE, DONE_NAME)) == NULL)
        ex_fail("CreateEvent(" DONE_NAME ")");
    ULONG priority;
    if ((l.timer = create_timer(&l, &priority)) == NULL) {
        if (GetLastError() != ERROR_ACCESS_DENIED)
            ex_fail("RtCreateTimer");
        printf("skipped: no real-time priority permitted here\n");
        CloseHandle(l.done);
        CloseHandle(shm);
        return 0;
    }
    /* The first expiry 50 ms from now (absolute); then every period. */
    LARGE_INTEGER first, period = {.QuadPart = PERIOD};
    RtGetClockTime(CLOCK_FASTEST, &first);
    first.QuadPart += 500000;
    atomic_store(&l.shm->first, first.QuadPart);
    atomic_store(&l.shm->period, PERIOD);
    atomic_store(&l.shm->cycles, cycles);
    pid_t reader_pid = ex_spawn_self("reader", NULL);
    if (!RtSetTimer(l.timer, &first, &period))
        ex_fail("RtSetTimer");
    if (WaitForSingleObject(l.done, EX_TIMEOUT_MS) != WAIT_OBJECT_0)
        ex_die("the control loop did not finish its %lld cycles", (long long)cycles);
    if (!RtDeleteTimer(l.timer))
        ex_fail("RtDeleteTimer");
    printf("controller: %lld cycles of 1 ms at RTX priority %u, lateness mean %.1f us, max %.1f us\n",
           (long long)l.counter, (unsigned)priority, l.late_sum / 10.0 / (double)l.counter, l.late_max / 10.0);
    bool ok = ex_child_ok(reader_pid, "reader", EX_TIMEOUT_MS);
    CloseHandle(l.done);
    CloseHandle(shm);
    return ok ? 0 : 1;
}

/* ---- the reader ---------------------------------------------------------------- */

static int reader(void)
{
    struct cycle_shm *c;
    HANDLE shm = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, SHM_NAME, (VOID **)&c);
    if (shm == NULL)
        ex_fail("RtOpenSharedMemory(" SHM_NAME ")");
    int64_t cycles = atomic_load(&c->cycles), period = atomic_load(&c->period), first = atomic_load(&c->first);
    int64_t last = 0, reads = 0, early = 0, backwards = 0, torn = 0;
    /* It dies with the controller (example.h): a loop that stopped ends it too. */
    LARGE_INTEGER poll = {.QuadPart = PERIOD / 2};
    for (; last < cycles; RtSleepFt(&poll)) {
        uint64_t s1 = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t k = atomic_load_explicit(&c->counter, memory_order_relaxed);
        int64_t stamp = atomic_load_explicit(&c->stamp, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if ((s1 & 1) || atomic_load_explicit(&c->seq, memory_order_relaxed) != s1)
            continue; /* being written, or changed under the copy */
        if (k == 0)
            continue; /* not started yet */
        if ((uint64_t)k * 2 != s1)
            torn++;
        if (k < last)
            backwards++;
        if (k > last) {
            reads++;
            if (stamp < first + (k - 1) * period)
                early++;
        }
        last = k > last ? k : last;
    }
    printf("reader: saw %lld of %lld cycles, %lld early, %lld backwards, %lld torn\n", (long long)reads,
           (long long)cycles, (long long)early, (long long)backwards, (long long)torn);
    CloseHandle(shm);
    return early == 0 && backwards == 0 && torn == 0 && last == cycles ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "reader") == 0)
        return reader();
    int64_t cycles = 2000;
    if (argc == 3 && strcmp(argv[1], "--cycles") == 0)
        cycles = atoll(argv[2]);
    else if (argc != 1)
        ex_die("usage: %s [--cycles N]", argv[0]);
    if (cycles < 1)
        ex_die("--cycles must be at least 1");
    return controller(cycles);
}
