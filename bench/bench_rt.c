/*
 * iwin32-bench-rt: real-time behaviour of libiwin32 against the raw
 * primitives (issue 11, item 6).  It reports; it never fails on a figure.
 *
 *   wake        cyclictest-style wake latency: a SCHED_FIFO waker wakes at a
 *               fixed period (clock_nanosleep TIMER_ABSTIME), writes its
 *               timestamp into shared memory and signals; a SCHED_FIFO waiter
 *               in another process records wake time - timestamp.  Library
 *               event and semaphore vs a raw futex and a process-shared
 *               sem_t, interleaved sample by sample; same CPU and cross CPU;
 *               idle and (--load) under stress-ng; caches evicted before
 *               every sample (cold, --evict-kib 0 for warm).  bench_rt_wake.c
 *   multi       the same for RtWaitForMultipleObjects over 16 events, the
 *               last one signalled, vs RtWaitForSingleObject on one event
 *               vs a raw futex_waitv over 16 words, each on its own page.
 *                                                         bench_rt_wake.c
 *   inversion   low-priority owner with 5 ms of work, mid-priority 20 ms
 *               hog, high-priority waiter, all on one CPU: the high thread's
 *               wait in RtWaitForSingleObject(mutex), RtWaitForMultipleObjects
 *               ([mutex, event]), a PI pthread mutex, a plain one.
 *   churn       a FIFO thread's 16-object waits (one object signalled) with
 *               and without a SCHED_OTHER thread of the same process
 *               re-creating a name it already holds in a loop.
 *                                                         bench_rt_cases.c
 *   audit       page faults, system calls and heap allocations per million
 *               Set / signalled wait / mutex wait+release / semaphore
 *               release+wait (the goal is 0).             bench_rt_audit.c
 *
 * mlockall, /dev/cpu_dma_latency held at 0 where permitted.  Without the
 * right to SCHED_FIFO it says so and runs everything SCHED_OTHER.
 * Private node IWIN32_ROOT=/dev/shm/iwin32-brt-<pid>, removed at exit (also
 * on error and on SIGINT/SIGTERM/SIGHUP), like any stress-ng it started.
 */
#define _GNU_SOURCE
#include "bench_node.h"
#include "bench_rt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool rt_quick, rt_fifo;
int rt_ncpu, rt_cpu[2];
pid_t rt_parent, rt_child = -1;
static pid_t load_pid = -1;

/* ---- cleanup ---------------------------------------------------------------- */

static void kill_wait(pid_t *pid, int sig)
{
    if (*pid > 0) {
        kill(sig == SIGKILL ? *pid : -*pid, sig);
        waitpid(*pid, NULL, 0);
        *pid = -1;
    }
}

/* Also called from signal handlers: kill, waitpid and a directory walk. */
static void cleanup(void)
{
    if (getpid() != rt_parent)
        return;
    kill_wait(&rt_child, SIGKILL);
    kill_wait(&load_pid, SIGTERM); /* stress-ng's process group: its workers too */
    bench_node_remove();
}

void rt_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "iwin32-bench-rt%s: ", getpid() == rt_parent ? "" : " (child)");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (getpid() != rt_parent)
        _exit(1);
    cleanup();
    exit(1);
}

static void on_signal(int sig)
{
    cleanup();
    _exit(128 + sig);
}

/* ---- helpers ------------------------------------------------------------------ */

uint64_t rt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void rt_spin_until(uint64_t t)
{
    while (rt_now() < t) {
    }
}

bool rt_set_fifo(int prio)
{
    struct sched_param sp = {.sched_priority = prio};
    if (prio == 0 || !rt_fifo)
        return pthread_setschedparam(pthread_self(), SCHED_OTHER, &(struct sched_param){0}) == 0 && prio == 0;
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
}

void rt_pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu < 0) {
        for (int i = 0; i < rt_ncpu; i++)
            CPU_SET(rt_cpu[i], &set);
    } else {
        CPU_SET(cpu, &set);
    }
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0)
        rt_die("pthread_setaffinity_np: %s", strerror(rc));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct rt_stats rt_stats_of(uint64_t *v, size_t n)
{
    struct rt_stats s = {0};
    if (n == 0)
        return s;
    qsort(v, n, sizeof *v, cmp_u64);
    /* nearest rank */
#define PCT(p) (double)v[(size_t)((double)(n - 1) * (p) + 0.5)]
    s.p50 = PCT(0.50);
    s.p99 = PCT(0.99);
    s.p999 = PCT(0.999);
#undef PCT
    s.max = (double)v[n - 1];
    s.n = n;
    return s;
}

/* ---- stress-ng -------------------------------------------------------------------- */

bool rt_load_start(unsigned seconds)
{
    if (system("command -v stress-ng >/dev/null 2>&1") != 0)
        return false;
    char t[32];
    snprintf(t, sizeof t, "%us", seconds);
    load_pid = fork();
    if (load_pid < 0)
        rt_die("fork: %s", strerror(errno));
    if (load_pid == 0) {
        /* Its own process group (cleanup kills the group), SCHED_OTHER. */
        setpgid(0, 0);
        sched_setscheduler(0, SCHED_OTHER, &(struct sched_param){0});
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        /* A CPU hog per online CPU (--cpu 0) plus a memory streamer
         * (caches and the memory bus), bounded by --timeout even if we die
         * without cleaning up. */
        execlp("stress-ng", "stress-ng", "--cpu", "0", "--vm", "1", "--vm-bytes", "64M", "--timeout", t,
               "--quiet", (char *)NULL);
        _exit(127);
    }
    setpgid(load_pid, load_pid);
    usleep(300000); /* let the workers start */
    return true;
}

void rt_load_stop(void)
{
    kill_wait(&load_pid, SIGTERM);
}

/* ---- main -------------------------------------------------------------------------- */

static void usage(void)
{
    printf("usage: iwin32-bench-rt [--quick] [--load] [--period US] [--samples N] [--evict-kib K]\n"
           "                       [--only wake|multi|inversion|churn|audit]\n"
           "  --quick        smoke run (a few seconds)\n"
           "  --load         also run the wake and churn cases under stress-ng (started here,\n"
           "                 bounded by its own --timeout)\n"
           "  --period US    wake period in microseconds (default 1000: 1 kHz)\n"
           "  --samples N    wake samples per primitive and placement (default 2000)\n"
           "  --evict-kib K  memory walked before every wake sample to make caches cold\n"
           "                 (default 2x the L2 cache, at most 8 MiB; 0: warm)\n"
           "  --only CASE    run one case\n");
}

int main(int argc, char **argv)
{
    unsigned period_us = 1000, samples = 2000;
    long evict_kib = -1;
    bool load = false;
    const char *only = NULL;
    if (argc == 4 && strcmp(argv[1], "--audit-loop") == 0)
        return rt_audit_child(argv[2], strtoul(argv[3], NULL, 10));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            rt_quick = true;
        else if (strcmp(argv[i], "--load") == 0)
            load = true;
        else if (strcmp(argv[i], "--period") == 0 && i + 1 < argc)
            period_us = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            samples = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--evict-kib") == 0 && i + 1 < argc)
            evict_kib = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            usage();
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (period_us < 50 || samples == 0) {
        fprintf(stderr, "iwin32-bench-rt: --period must be >= 50 us, --samples >= 1\n");
        return 2;
    }
    if (rt_quick && samples == 2000)
        samples = 100;

    rt_parent = getpid();
    bench_node_use("brt");
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        rt_die("sched_getaffinity: %s", strerror(errno));
    for (int c = 0; c < CPU_SETSIZE && rt_ncpu < 2; c++)
        if (CPU_ISSET(c, &set))
            rt_cpu[rt_ncpu++] = c;

    /* Can we have SCHED_FIFO?  Try it on this thread and step back. */
    rt_fifo = true;
    rt_fifo = rt_set_fifo(1);
    rt_set_fifo(0);
#ifdef IWIN32_BENCH_SANITIZED
    /* A sanitizer's shadow memory is terabytes of reserved address space:
     * locking it all would take the machine's memory. */
    bool locked = false;
#else
    bool locked = mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
#endif
    int dma = open("/dev/cpu_dma_latency", O_WRONLY);
    int32_t zero = 0;
    bool dma_held = dma >= 0 && write(dma, &zero, sizeof zero) == (ssize_t)sizeof zero;

    char model[128] = "?";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                snprintf(model, sizeof model, "%.120s", c ? c + 2 : line);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        fclose(f);
    }
    printf("iwin32-bench-rt%s: %s, %ld CPUs online (using %d)\n", rt_quick ? " --quick" : "", model,
           sysconf(_SC_NPROCESSORS_ONLN), rt_ncpu);
    printf("SCHED_FIFO: %s; mlockall: %s; /dev/cpu_dma_latency held at 0: %s\n",
           rt_fifo ? "yes" : "REFUSED - every thread runs SCHED_OTHER; the figures are not real-time ones",
           locked ? "yes" : "refused or not tried (sanitizer build)", dma_held ? "yes" : "no (not permitted or absent)");

    size_t evict = evict_kib >= 0 ? (size_t)evict_kib * 1024 : 0;
    if (evict_kib < 0) {
        /* Twice the per-core L2, at most 8 MiB: the walk must fit well
         * inside a 1 ms period (a server's shared L3 of 100 MiB would not). */
        long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
        evict = 2 * (size_t)(l2 > 0 ? l2 : 1 << 20);
        if (evict > (8u << 20))
            evict = 8u << 20;
    }

    if (only == NULL || strcmp(only, "wake") == 0) {
        rt_wake_case(period_us, samples, evict, false, false);
        if (load)
            rt_wake_case(period_us, samples, evict, true, false);
    }
    if (only == NULL || strcmp(only, "multi") == 0) {
        rt_wake_case(period_us, samples, evict, false, true);
        if (load)
            rt_wake_case(period_us, samples, evict, true, true);
    }
    if (only == NULL || strcmp(only, "inversion") == 0)
        rt_inversion_case();
    if (only == NULL || strcmp(only, "churn") == 0) {
        rt_churn_case(false);
        if (load)
            rt_churn_case(true);
    }
    if (only == NULL || strcmp(only, "audit") == 0)
        rt_audit_case();
    if (dma >= 0)
        close(dma);
    cleanup();
    return 0;
}
