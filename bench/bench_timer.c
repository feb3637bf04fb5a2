/*
 * iwin32-bench-timer: how late a periodic RtCreateTimer routine runs against
 * a raw clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) loop at the same
 * SCHED_FIFO priority (issue 12, "The benchmark").  It reports; it never
 * fails on a figure.
 *
 * Lateness of an expiry = when the routine (or the loop, after its sleep)
 * reads CLOCK_MONOTONIC - the expiry's deadline on the grid first + k *
 * period.  The two run in alternating blocks (timer, raw, timer, ...) so
 * that both see the same machine; each block starts on a fresh grid.  The
 * timer is RTX priority 100 (SCHED_FIFO 72 by the library's mapping) and
 * the raw loop a thread at SCHED_FIFO 72.  A timer run later than a whole
 * period is counted as an overrun (timer.c: the expiries it missed collapse
 * into that one run) and the count of the next is taken from the clock.
 *
 * mlockall where permitted.  Without the right to SCHED_FIFO a timer cannot
 * be created (ERROR_ACCESS_DENIED): it says so and exits 0.
 *
 * Usage: iwin32-bench-timer [--quick] [--period-us N] [--blocks N] [--samples N]
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

#define TIMER_RTX 100
#define FIFO 72 /* TIMER_RTX by the library's mapping: man RtSetThreadPriority */

static int64_t period_ns = 1000000;
static unsigned samples = 1000;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* One block's samples (ns) appended to a side's array. */
struct side {
    int64_t *late;
    size_t n;
    unsigned overruns;
};

/* ---- the timer ------------------------------------------------------------------ */

struct timer_block {
    HANDLE timer;
    struct side *side;
    int64_t first, k;
    unsigned left;
    sem_t done;
};

static VOID RTFCNDCL timer_routine(PVOID context)
{
    struct timer_block *b = context;
    int64_t now = now_ns();
    int64_t late = now - (b->first + b->k * period_ns);
    if (late >= period_ns) {
        b->side->overruns++;
        b->k = (now - b->first) / period_ns;
    }
    b->side->late[b->side->n++] = late;
    b->k++;
    if (--b->left == 0) {
        RtCancelTimer(b->timer, NULL);
        sem_post(&b->done);
    }
}

static void timer_block(struct timer_block *b)
{
    b->k = 0;
    b->left = samples;
    b->first = (now_ns() + 2 * period_ns) / 100 * 100; /* on the 100 ns grid of the call */
    LARGE_INTEGER first = {.QuadPart = b->first / 100}, period = {.QuadPart = period_ns / 100};
    if (!RtSetTimer(b->timer, &first, &period)) {
        fprintf(stderr, "RtSetTimer failed: %u\n", (unsigned)GetLastError());
        exit(1);
    }
    while (sem_wait(&b->done) != 0)
        ;
}

/* ---- the raw loop ------------------------------------------------------------- */

static void *raw_loop(void *arg)
{
    struct side *s = arg;
    int64_t first = now_ns() + 2 * period_ns;
    for (unsigned i = 0; i < samples; i++) {
        int64_t deadline = first + (int64_t)i * period_ns;
        struct timespec d = {.tv_sec = (time_t)(deadline / 1000000000), .tv_nsec = (long)(deadline % 1000000000)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL) == EINTR)
            ;
        int64_t late = now_ns() - deadline;
        if (late >= period_ns)
            s->overruns++;
        s->late[s->n++] = late;
    }
    return NULL;
}

static void raw_block(struct side *s)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&a, SCHED_FIFO);
    struct sched_param sp = {.sched_priority = FIFO};
    pthread_attr_setschedparam(&a, &sp);
    pthread_t t;
    int err = pthread_create(&t, &a, raw_loop, s);
    pthread_attr_destroy(&a);
    if (err != 0) {
        fprintf(stderr, "SCHED_FIFO %d thread: %s\n", FIFO, strerror(err));
        exit(1);
    }
    pthread_join(t, NULL);
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
    unsigned blocks = 10;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            blocks = 3, samples = 300;
        else if (strcmp(argv[i], "--period-us") == 0 && i + 1 < argc)
            period_ns = atoll(argv[++i]) * 1000;
        else if (strcmp(argv[i], "--blocks") == 0 && i + 1 < argc)
            blocks = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            samples = (unsigned)atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--quick] [--period-us N] [--blocks N] [--samples N]\n", argv[0]);
            return 2;
        }
    }
    if (period_ns < 10000 || blocks < 1 || samples < 1) {
        fprintf(stderr, "%s: a period of at least 10 us, and at least one block and sample\n", argv[0]);
        return 2;
    }
    char cpu[128];
    cpu_model(cpu, sizeof cpu);
    bool locked = mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
    printf("iwin32-bench-timer: %s; period %lld us, %u blocks of %u expiries each side, alternating; "
           "mlockall: %s\n", cpu, (long long)(period_ns / 1000), blocks, samples, locked ? "yes" : "no");

    struct side timer = {.late = calloc((size_t)blocks * samples, sizeof(int64_t))};
    struct side raw = {.late = calloc((size_t)blocks * samples, sizeof(int64_t))};
    if (timer.late == NULL || raw.late == NULL)
        return 1;
    struct timer_block b = {.side = &timer};
    sem_init(&b.done, 0, 0);
    b.timer = RtCreateTimer(NULL, 0, timer_routine, &b, TIMER_RTX, CLOCK_FASTEST);
    if (b.timer == NULL) {
        printf("RtCreateTimer at priority %d: error %u (%s): no SCHED_FIFO here, nothing measured\n", TIMER_RTX,
               (unsigned)GetLastError(), GetLastError() == ERROR_ACCESS_DENIED ? "not permitted" : "failed");
        return 0;
    }
    for (unsigned i = 0; i < blocks; i++) {
        timer_block(&b);
        raw_block(&raw);
    }
    RtDeleteTimer(b.timer);

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
    return 0;
}
