/*
 * example-latest-value: one writer, many readers - a control loop publishes
 * a snapshot at 1 kHz; C readers (and a Python one: latest_value_reader.py)
 * each follow the latest value.  docs/LATEST-VALUE.md explains the pattern
 * and the guarantee; in short:
 *
 *   "ex.latest"          shared memory: the snapshot behind a sequence
 *                        counter (a seqlock: odd while the writer writes; a
 *                        reader retries when it changed under its copy).
 *   "ex.latest.wake.<i>" one auto-reset event per reader slot.  The writer
 *                        sets every slot's event after each publish.  A set
 *                        stays until the reader's next wait takes it, so a
 *                        reader busy elsewhere at that moment does not lose
 *                        it (RtPulseEvent would: it only releases threads
 *                        already waiting).
 *
 * The check (the writer's) is made to catch a lost wake: every CHECK_EVERY
 * publishes, the writer publishes a value, waits until each reader has read
 * it (seen[i]) - and so is busy with it, each reader spends WORK_US on a
 * value, as a GUI drawing it would - publishes the next at once, and waits until
 * each reader reports having read that one too.  A reader whose wake was
 * lost sleeps on with no further publish coming, and is counted "missed the
 * latest value"; the last value is checked the same way.  Readers check their
 * own side: values strictly increasing, no torn snapshot, the last one is
 * the final value.  Run with --pulse to see the same check fail with one
 * manual-reset event and RtPulseEvent instead of the per-reader events.
 *
 * Usage: example-latest-value [--count N] [--readers N] [--pulse] [--python PYTHON SCRIPT]
 */
#include "example.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHM_NAME "ex.latest"
#define WAKE_FORMAT "ex.latest.wake.%d"
#define PULSE_NAME "ex.latest.pulse"
#define READERS_MAX 8
#define WORDS 8             /* the snapshot: word k holds value * (k + 1) */
#define CHECK_EVERY 100
#define CHECK_TIMEOUT_MS 2000 /* a reader that was woken has long read by then */
#define PERIOD_NS 1000000   /* 1 kHz */
#define WORK_US 300         /* what a reader does with each value */

/* The layout latest_value_reader.py reads too: 8-byte words, in this order. */
struct latest {
    _Atomic uint64_t seq;               /* 2 * value, odd while being written */
    _Atomic uint64_t words[WORDS];
    _Atomic uint64_t total;             /* how many values the run publishes */
    _Atomic uint64_t pulse;             /* 1: readers wait on PULSE_NAME */
    _Atomic uint64_t attached[READERS_MAX];
    _Atomic uint64_t seen[READERS_MAX]; /* the value each reader read last */
};

static void publish(struct latest *l, uint64_t value)
{
    uint64_t s = atomic_load_explicit(&l->seq, memory_order_relaxed);
    atomic_store_explicit(&l->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* odd before any word changes */
    for (int k = 0; k < WORDS; k++)
        atomic_store_explicit(&l->words[k], value * (uint64_t)(k + 1), memory_order_relaxed);
    atomic_store_explicit(&l->seq, 2 * value, memory_order_release);
}

/* The latest consistent snapshot's value; *torn counts snapshots whose words
 * disagree although the sequence said they were whole (a broken seqlock). */
static uint64_t read_latest(struct latest *l, unsigned *torn)
{
    for (;;) {
        uint64_t s1 = atomic_load_explicit(&l->seq, memory_order_acquire), w[WORDS];
        if (s1 & 1)
            continue; /* being written: the writer is a few stores from done */
        for (int k = 0; k < WORDS; k++)
            w[k] = atomic_load_explicit(&l->words[k], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire); /* the copy before the re-check */
        if (atomic_load_explicit(&l->seq, memory_order_relaxed) != s1)
            continue; /* changed under the copy: take the newer one */
        for (int k = 0; k < WORDS; k++)
            if (w[k] != (s1 / 2) * (uint64_t)(k + 1)) {
                (*torn)++;
                break;
            }
        return s1 / 2;
    }
}

/* ---- a reader ------------------------------------------------------------- */
static int reader(int slot)
{
    struct latest *l;
    HANDLE shm = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, SHM_NAME, (VOID **)&l);
    if (shm == NULL)
        ex_fail("RtOpenSharedMemory(" SHM_NAME ")");
    char name[32];
    snprintf(name, sizeof name, WAKE_FORMAT, slot);
    HANDLE wake = RtOpenEvent(0, FALSE, atomic_load(&l->pulse) ? PULSE_NAME : name);
    if (wake == NULL)
        ex_fail("RtOpenEvent");
    uint64_t total = atomic_load(&l->total), last = 0, reads = 0;
    unsigned torn = 0, backwards = 0, repeats = 0;
    atomic_store(&l->attached[slot], 1);
    while (last < total) {
        /* A timeout only ends a reader whose wake was lost for good (--pulse). */
        if (RtWaitForSingleObject(wake, CHECK_TIMEOUT_MS * 5) != WAIT_OBJECT_0)
            break;
        uint64_t value = read_latest(l, &torn);
        reads++;
        if (value < last)
            backwards++;
        else if (value == last)
            repeats++; /* a set for a value this reader had already read */
        last = value > last ? value : last;
        atomic_store_explicit(&l->seen[slot], last, memory_order_release);
        for (int64_t until = ex_now_ns() + WORK_US * 1000; ex_now_ns() < until;)
            ; /* working on it: a publish now finds this reader not waiting */
    }
    printf("reader %d (C): read %llu values of %llu (skipped %llu), %u repeated, %u backwards, %u torn, "
           "ended on %llu\n", slot, (unsigned long long)(reads - repeats), (unsigned long long)total,
           (unsigned long long)(total - (reads - repeats)), repeats, backwards, torn, (unsigned long long)last);
    CloseHandle(wake);
    CloseHandle(shm);
    return torn == 0 && backwards == 0 && last == total ? 0 : 1;
}

/* ---- the writer ----------------------------------------------------------- */

/* Waits until every reader has read value; false if one did not in time.
 * Spins: the check publishes next as soon as the readers are busy. */
static bool readers_have(struct latest *l, int readers, uint64_t value, bool ok[])
{
    int64_t deadline = ex_now_ns() + (int64_t)CHECK_TIMEOUT_MS * 1000000;
    bool all = true;
    for (int i = 0; i < readers; i++) {
        while (atomic_load_explicit(&l->seen[i], memory_order_acquire) < value && ex_now_ns() < deadline)
            ;
        ok[i] = atomic_load_explicit(&l->seen[i], memory_order_acquire) >= value;
        all = all && ok[i];
    }
    return all;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "reader") == 0)
        return reader(atoi(argv[2]));
    uint64_t total = 3000;
    int readers = 2;
    bool pulse = false;
    char *python = NULL, *script = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            total = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--readers") == 0 && i + 1 < argc)
            readers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--pulse") == 0)
            pulse = true;
        else if (strcmp(argv[i], "--python") == 0 && i + 2 < argc)
            python = argv[++i], script = argv[++i];
        else
            ex_die("usage: %s [--count N] [--readers N] [--pulse] [--python PYTHON SCRIPT]", argv[0]);
    }
    int all = readers + (python != NULL);
    if (total == 0 || readers < 0 || all < 1 || all > READERS_MAX)
        ex_die("--count must be > 0 and 1 to %d readers in all", READERS_MAX);

    struct latest *l;
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, sizeof *l, SHM_NAME, (VOID **)&l);
    if (shm == NULL)
        ex_fail("RtCreateSharedMemory(" SHM_NAME ")");
    atomic_store(&l->total, total);
    atomic_store(&l->pulse, pulse);
    HANDLE wake[READERS_MAX], pulse_event = RtCreateEvent(NULL, TRUE, FALSE, PULSE_NAME);
    if (pulse_event == NULL)
        ex_fail("RtCreateEvent(" PULSE_NAME ")");
    for (int i = 0; i < all; i++) {
        char name[32];
        snprintf(name, sizeof name, WAKE_FORMAT, i);
        if ((wake[i] = RtCreateEvent(NULL, FALSE, FALSE, name)) == NULL)
            ex_fail("RtCreateEvent(ex.latest.wake.N)");
    }
    pid_t pids[READERS_MAX];
    for (int i = 0; i < all; i++) {
        char slot[12];
        snprintf(slot, sizeof slot, "%d", i);
        if (i < readers)
            pids[i] = ex_spawn_self("reader", slot);
        else
            pids[i] = ex_spawn(python, (char *[]){python, script, slot, NULL});
    }
    for (int i = 0; i < all; i++)
        for (int64_t deadline = ex_now_ns() + (int64_t)EX_TIMEOUT_MS * 1000000; !atomic_load(&l->attached[i]);)
            if (ex_now_ns() > deadline || ex_child_ended(pids[i], "reader"))
                ex_die("reader %d did not start", i);

    unsigned missed[READERS_MAX] = {0};
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (uint64_t value = 1; value <= total; value++) {
        bool checked = value % CHECK_EVERY == 0 || value == total, ok[READERS_MAX];
        if (checked && value > 1)
            readers_have(l, all, value - 1, ok); /* then publish while they work on it */
        publish(l, value);
        if (pulse) {
            RtPulseEvent(pulse_event);
        } else {
            for (int i = 0; i < all; i++)
                RtSetEvent(wake[i]);
        }
        if (checked) {
            readers_have(l, all, value, ok);
            for (int i = 0; i < all; i++)
                missed[i] += !ok[i];
            clock_gettime(CLOCK_MONOTONIC, &next); /* the check's pause is not the loop's lateness */
        }
        if ((value + 1) % CHECK_EVERY == 0 || value + 1 == total)
            continue; /* the check's value comes next: while the readers work on this one */
        next.tv_nsec += PERIOD_NS;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    bool ok = true;
    unsigned checks = (unsigned)((total + CHECK_EVERY - 1) / CHECK_EVERY);
    for (int i = 0; i < all; i++) {
        if (missed[i] > 0 && pulse)
            RtSetEvent(pulse_event); /* let a reader that slept through the last pulse finish */
        printf("writer: reader %d missed the latest value at %u of %u checks\n", i, missed[i], checks);
        ok = ok && missed[i] == 0;
    }
    for (int i = 0; i < all; i++)
        ok = ex_child_ok(pids[i], "reader", EX_TIMEOUT_MS) && ok;
    for (int i = 0; i < all; i++)
        CloseHandle(wake[i]);
    CloseHandle(pulse_event);
    CloseHandle(shm);
    return ok ? 0 : 1;
}
