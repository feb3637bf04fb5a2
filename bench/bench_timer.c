/*
 * iwin32-bench-timer: how late a periodic RtCreateTimer routine runs against
 * a raw clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) loop at the same
 * SCHED_FIFO priority (issue 12, "The benchmark").  It reports; it never
 * fails on a figure.
 *
 * Lateness of an expiry = when the routine (or the loop, after its sleep)
 * reads CLOCK_MONOTONIC - the expiry's deadline.  The two are interleaved
 * expiry by expiry on one grid: the timer (RTX priority 100, SCHED_FIFO 72
 * by the library's mapping) is set to the even periods, first + 2k *
 * period, and the raw loop (a thread at SCHED_FIFO 72) sleeps to the odd
 * ones, so that both see the same machine at the same moments and never
 * compete for a CPU.  Both run on one CPU (the last this process may use,
 * or --cpu N; -1: any): they inherit it from the main thread, which only
 * waits, so the two see the same CPU's interrupts and neighbours.  A run later than its own interval (2 periods) is
 * counted as an overrun; both sides' next run is then for the first
 * deadline after it (timer.c: the late run took every deadline passed).
 *
 * mlockall where permitted.  Without the right to SCHED_FIFO a timer cannot
 * be created (ERROR_ACCESS_DENIED): it says so and exits 0.
 *
 * Usage: iwin32-bench-timer [--quick] [--period-us N] [--samples N] [--cpu N]
 * (default 10,000 expiries each side at 1 ms: 20 s; --quick 500: 1 s)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <iwin32.h>

#include "bench_stats.h"

#define TIMER_RTX 100
#define FIFO 72 /* TIMER_RTX by the library's mapping: man RtSetThreadPriority */

static int64_t period_ns = 1000000;
static size_t samples = 10000;

/* One side's lateness samples (ns). */
struct side {
    int64_t *late;
    size_t n;
    unsigned overruns;
};

/* ---- the two sides ----------------------------------------------------------------- */

/* Expiry k of a side is due at first + offset + k * 2 * period: the timer
 * takes the even periods of one grid, the raw loop the odd ones. */
struct run {
    int64_t first;
    HANDLE timer;
    struct side timer_side, raw_side;
    int64_t k;                     /* the timer's next expiry */
    sem_t done;
};

static VOID RTFCNDCL timer_routine(PVOID context)
{
    struct run *r = context;
    int64_t now = (int64_t)bench_now_ns();
    int64_t late = now - (r->first + r->k * 2 * period_ns);
    r->timer_side.late[r->timer_side.n++] = late;
    /* After an overrun the next run is for the first deadline after the
     * expiry (timer.c's next_deadline: this late run took every deadline
     * passed by then). */
    if (late >= 2 * period_ns) {
        r->timer_side.overruns++;
        r->k = (now - r->first) / (2 * period_ns) + 1;
    } else {
        r->k++;
    }
    if (r->timer_side.n == samples) {
        RtCancelTimer(r->timer, NULL);
        sem_post(&r->done);
    }
}

static void *raw_loop(void *arg)
{
    struct run *r = arg;
    struct side *s = &r->raw_side;
    for (int64_t k = 0; s->n < samples; k++) {
        int64_t deadline = r->first + period_ns + k * 2 * period_ns;
        struct timespec d = {.tv_sec = (time_t)(deadline / 1000000000), .tv_nsec = (long)(deadline % 1000000000)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL) == EINTR)
            ;
        int64_t late = (int64_t)bench_now_ns() - deadline;
        if (late >= 2 * period_ns) {
            s->overruns++;
            k = (late + period_ns) / (2 * period_ns) + k; /* the next deadline still ahead */
        }
        s->late[s->n++] = late;
    }
    return NULL;
}

static pthread_t start_raw(struct run *r)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&a, SCHED_FIFO);
    struct sched_param sp = {.sched_priority = FIFO};
    pthread_attr_setschedparam(&a, &sp);
    pthread_t t;
    int err = pthread_create(&t, &a, raw_loop, r);
    pthread_attr_destroy(&a);
    if (err != 0) {
        fprintf(stderr, "SCHED_FIFO %d thread: %s\n", FIFO, strerror(err));
        exit(1);
    }
    return t;
}

/* ---- report ---------------------------------------------------------------------- */

static int by_value(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The value at quantile q of the sorted v (nearest rank). */
static double at(const int64_t *v, size_t n, double q) { return (double)v[(size_t)(q * (double)(n - 1) + 0.5)]; }

static void cpu_model(char *out, size_t size)
{
    snprintf(out, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[256];
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':') != NULL) {
            snprintf(out, size, "%s", strchr(line, ':') + 2);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    fclose(f);
}

int main(int argc, char **argv)
{
    cpu_set_t allowed;
    sched_getaffinity(0, sizeof allowed, &allowed);
    int pin = -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed))
            pin = c;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc)
            pin = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0)
            samples = 500;
        else if (strcmp(argv[i], "--period-us") == 0 && i + 1 < argc)
            period_ns = atoll(argv[++i]) * 1000;
        else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            samples = (size_t)atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--quick] [--period-us N] [--samples N] [--cpu N]\n", argv[0]);
            return 2;
        }
    }
    if (period_ns < 10000 || samples < 1) {
        fprintf(stderr, "%s: a period of at least 10 us, and at least one sample\n", argv[0]);
        return 2;
    }
    char cpu[128];
    cpu_model(cpu, sizeof cpu);
    bool locked = mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
    if (pin >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(pin, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0) {
            fprintf(stderr, "cannot run on CPU %d\n", pin);
            return 2;
        }
    }
    printf("iwin32-bench-timer: %s; %zu expiries each side, alternating every %lld us; CPU %d; mlockall: %s\n",
           cpu, samples, (long long)(period_ns / 1000), pin, locked ? "yes" : "no");

    struct run r = {.timer_side.late = calloc(samples, sizeof(int64_t)),
                    .raw_side.late = calloc(samples, sizeof(int64_t))};
    if (r.timer_side.late == NULL || r.raw_side.late == NULL)
        return 1;
    sem_init(&r.done, 0, 0);
    r.timer = RtCreateTimer(NULL, 0, timer_routine, &r, TIMER_RTX, CLOCK_FASTEST);
    if (r.timer == NULL) {
        printf("RtCreateTimer at priority %d: error %u (%s): no SCHED_FIFO here, nothing measured\n", TIMER_RTX,
               (unsigned)GetLastError(), GetLastError() == ERROR_ACCESS_DENIED ? "not permitted" : "failed");
        return 0;
    }
    /* 10 ms from now, on the 100 ns grid RtSetTimer takes. */
    r.first = ((int64_t)bench_now_ns() + 10000000) / 100 * 100;
    LARGE_INTEGER first = {.QuadPart = r.first / 100}, interval = {.QuadPart = 2 * period_ns / 100};
    if (!RtSetTimer(r.timer, &first, &interval)) {
        fprintf(stderr, "RtSetTimer failed: %u\n", (unsigned)GetLastError());
        return 1;
    }
    pthread_t raw_thread = start_raw(&r);
    while (sem_wait(&r.done) != 0)
        ;
    pthread_join(raw_thread, NULL);
    RtDeleteTimer(r.timer);
    struct side timer = r.timer_side, raw = r.raw_side;

    qsort(timer.late, timer.n, sizeof *timer.late, by_value);
    qsort(raw.late, raw.n, sizeof *raw.late, by_value);
    printf("%-28s %10s %10s %10s %9s\n", "lateness (us)", "p50", "p99", "max", "overruns");
    struct side *sides[] = {&timer, &raw};
    const char *names[] = {"RtCreateTimer routine", "clock_nanosleep loop"};
    for (int s = 0; s < 2; s++)
        printf("%-28s %10.1f %10.1f %10.1f %9u\n", names[s], at(sides[s]->late, sides[s]->n, 0.5) / 1e3,
               at(sides[s]->late, sides[s]->n, 0.99) / 1e3, at(sides[s]->late, sides[s]->n, 1.0) / 1e3,
               sides[s]->overruns);
    printf("%-28s %9.2fx %9.2fx %9.2fx   (goal: p99 <= 1.10x)\n", "timer / raw",
           at(timer.late, timer.n, 0.5) / at(raw.late, raw.n, 0.5), at(timer.late, timer.n, 0.99) / at(raw.late, raw.n, 0.99),
           at(timer.late, timer.n, 1.0) / at(raw.late, raw.n, 1.0));
    free(timer.late);
    free(raw.late);
    sem_destroy(&r.done);
    return 0;
}
