/*
 * iwin32-bench-rt, wake case: cyclictest-style wake latency across two
 * processes (see bench_rt.c).
 *
 * The waker (this process, SCHED_FIFO 80) sleeps to an absolute deadline
 * every period, stores rt_now() in the shared page and signals; the waiter
 * (a forked child, SCHED_FIFO 90, so on the same CPU the wake preempts the
 * waker at once) records rt_now() - stamp.  Sample i uses primitive i % 5:
 * a library auto-reset event, a library semaphore, a raw futex word
 * (FUTEX_WAKE / FUTEX_WAIT, not private: the word is shared between the
 * processes) beside the stamp, the same on a page of its own (fw_page) and a
 * process-shared sem_t, so drift and noise fall on all five alike.  Before each sample both sides walk `evict` bytes (one write per
 * cache line) so the wake runs with cold caches, as a 1 kHz control loop
 * that does real work between wakes sees it.
 *
 * The waiter publishes "armed = i + 1" just before it blocks for sample i;
 * the waker takes its timestamp only once it sees that, so a slow waiter
 * (still evicting on the other CPU) is never charged the waker's wait.  The
 * short window between "armed" and the waiter actually sleeping can make a
 * sample that does not block; at a 1 ms period it is rare, and it would
 * favour every primitive alike.
 */
#define _GNU_SOURCE
#include "bench_rt.h"

#include <errno.h>
#include <iwin32.h>
#include <linux/futex.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { K_EVENT, K_SEM, K_FUTEX, K_FUTEX_PAGE, K_SEMT, NKIND };
static const char *const kind_name[NKIND] = {"lib event", "lib semaphore", "raw futex", "raw futex page",
                                             "sem_t"};

struct wake_shm {
    _Atomic uint64_t stamp;
    _Atomic uint32_t armed;
    _Atomic uint32_t ready; /* the waiter is locked, pinned and at its priority */
    _Atomic uint32_t fw; /* the raw futex word, in the stamp's cache line */
    sem_t sem;
    uint64_t lat[]; /* per sample, ns */
};

static struct wake_shm *w;
/* The "raw futex page" word: alone on a page of its own, as each library
 * object's state is.  The plain raw futex word shares the stamp's line, so
 * the waker's store of the stamp has already brought its line and its page
 * translation in: with cold caches that is a cache miss and a page walk
 * the library cannot save, since its state is on its own page.  The two
 * raw columns show that floor. */
static _Atomic uint32_t *fw_page;
static HANDLE ev, sem;
static unsigned char *evict_buf;
static size_t evict_len;

static void evict(void)
{
    for (size_t i = 0; i < evict_len; i += 64)
        evict_buf[i]++;
}

static void futex_wait_word(_Atomic uint32_t *word)
{
    while (atomic_exchange(word, 0) == 0)
        syscall(SYS_futex, word, FUTEX_WAIT, 0, NULL, NULL, 0);
}

static void waiter(int cpu, unsigned total)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != rt_parent)
        _exit(1);
    signal(SIGINT, SIG_IGN);
#ifndef IWIN32_BENCH_SANITIZED
    mlockall(MCL_CURRENT | MCL_FUTURE); /* not inherited across fork (see main on sanitizers) */
#endif
    rt_pin(cpu);
    rt_set_fifo(90);
    atomic_store(&w->ready, 1);
    for (unsigned i = 0; i < total; i++) {
        int k = (int)(i % NKIND);
        atomic_store(&w->armed, i + 1);
        DWORD r = WAIT_OBJECT_0;
        switch (k) {
        case K_EVENT: r = RtWaitForSingleObject(ev, INFINITE); break;
        case K_SEM: r = RtWaitForSingleObject(sem, INFINITE); break;
        case K_FUTEX: futex_wait_word(&w->fw); break;
        case K_FUTEX_PAGE: futex_wait_word(fw_page); break;
        default:
            while (sem_wait(&w->sem) != 0 && errno == EINTR) {
            }
        }
        uint64_t t = rt_now();
        if (r != WAIT_OBJECT_0)
            rt_die("wait: %#x, error %u", r, GetLastError());
        w->lat[i] = t - atomic_load(&w->stamp);
        evict();
    }
    _exit(0);
}

static void run(const char *label, int waker_cpu, int waiter_cpu, unsigned period_us, unsigned samples)
{
    unsigned total = samples * NKIND;
    atomic_store(&w->armed, 0);
    atomic_store(&w->ready, 0);
    fflush(stdout);
    rt_child = fork();
    if (rt_child < 0)
        rt_die("fork: %s", strerror(errno));
    if (rt_child == 0)
        waiter(waiter_cpu, total);
    /* Until the waiter runs at its priority this process stays an ordinary
     * sleeper: a FIFO waker spinning on its CPU would starve a waiter that
     * is still SCHED_OTHER (under stress-ng, for seconds). */
    for (int tries = 0; !atomic_load(&w->ready); tries++) {
        if (tries == 10000)
            rt_die("the waiter did not start within 10 s");
        usleep(1000);
    }
    rt_pin(waker_cpu);
    rt_set_fifo(80);

    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    uint64_t late = 0;
    for (unsigned i = 0; i < total; i++) {
        evict();
        next.tv_nsec += (long)period_us * 1000;
        while (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
        }
        /* Wait (bounded) until the waiter is about to block for sample i. */
        uint64_t give_up = rt_now() + 1000000000u;
        if (atomic_load(&w->armed) != i + 1)
            late++;
        while (atomic_load(&w->armed) != i + 1)
            if (rt_now() > give_up)
                rt_die("the waiter did not arm sample %u within 1 s", i);
        atomic_store(&w->stamp, rt_now());
        switch (i % NKIND) {
        case K_EVENT: RtSetEvent(ev); break;
        case K_SEM: RtReleaseSemaphore(sem, 1, NULL); break;
        case K_FUTEX:
            atomic_store(&w->fw, 1);
            syscall(SYS_futex, &w->fw, FUTEX_WAKE, 1, NULL, NULL, 0);
            break;
        case K_FUTEX_PAGE:
            atomic_store(fw_page, 1);
            syscall(SYS_futex, fw_page, FUTEX_WAKE, 1, NULL, NULL, 0);
            break;
        default: sem_post(&w->sem);
        }
    }
    int status;
    waitpid(rt_child, &status, 0);
    rt_child = -1;
    rt_set_fifo(0);
    rt_pin(-1);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        rt_die("the waiter failed");

    static uint64_t *v;
    v = realloc(v, samples * sizeof *v);
    if (v == NULL)
        rt_die("out of memory");
    struct rt_stats st[NKIND];
    printf("\n  %s\n  %-14s %9s %9s %9s %9s\n", label, "primitive", "p50 us", "p99 us", "p99.9 us", "max us");
    for (int k = 0; k < NKIND; k++) {
        for (unsigned s = 0; s < samples; s++)
            v[s] = w->lat[s * NKIND + (unsigned)k];
        st[k] = rt_stats_of(v, samples);
        printf("  %-14s %9.2f %9.2f %9.2f %9.2f\n", kind_name[k], st[k].p50 / 1e3, st[k].p99 / 1e3,
               st[k].p999 / 1e3, st[k].max / 1e3);
    }
    for (int lib = K_EVENT; lib <= K_SEM; lib++)
        for (int raw = K_FUTEX; raw < NKIND; raw++) {
            char pair[48];
            snprintf(pair, sizeof pair, "%s / %s", kind_name[lib], kind_name[raw]);
            printf("  %-28s p50 %5.2fx  p99 %5.2fx  p99.9 %5.2fx  max %5.2fx\n", pair,
                   st[lib].p50 / st[raw].p50, st[lib].p99 / st[raw].p99, st[lib].p999 / st[raw].p999,
                   st[lib].max / st[raw].max);
        }
    if (late > 0)
        printf("  (the waker found the waiter not yet armed %llu times and waited for it)\n",
               (unsigned long long)late);
}

void rt_wake_case(unsigned period_us, unsigned samples, size_t evict_bytes, bool load)
{
    size_t len = sizeof *w + (size_t)samples * NKIND * sizeof w->lat[0];
    w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED)
        rt_die("mmap: %s", strerror(errno));
    fw_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (fw_page == MAP_FAILED)
        rt_die("mmap: %s", strerror(errno));
    if (sem_init(&w->sem, 1, 0) != 0)
        rt_die("sem_init: %s", strerror(errno));
    evict_len = evict_bytes;
    if (evict_len > 0) {
        evict_buf = mmap(NULL, evict_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                         -1, 0);
        if (evict_buf == MAP_FAILED)
            rt_die("mmap: %s", strerror(errno));
    }
    ev = RtCreateEvent(NULL, FALSE, FALSE, "brt.wake.ev");
    sem = RtCreateSemaphore(NULL, 0, 1000000, "brt.wake.sem");
    if (ev == NULL || sem == NULL)
        rt_die("create: error %u", GetLastError());

    unsigned seconds = (unsigned)((uint64_t)samples * NKIND * period_us * 2 / 1000000) + 10;
    bool loaded = load && rt_load_start(seconds);
    printf("\n== wake latency, %s: period %u us, %u samples per primitive, interleaved; "
           "caches %s (%zu KiB walked per side per sample)\n",
           !load ? "idle" : loaded ? "under stress-ng --cpu 0 --vm 1" : "LOAD REQUESTED BUT stress-ng NOT FOUND: idle",
           period_us, samples, evict_len ? "cold" : "warm", evict_len / 1024);
    run("same CPU (waker and waiter on one CPU)", rt_cpu[0], rt_cpu[0], period_us, samples);
    if (rt_ncpu > 1)
        run("cross CPU (waker and waiter on two CPUs)", rt_cpu[0], rt_cpu[1], period_us, samples);
    else
        printf("  cross CPU: skipped (one CPU allowed)\n");
    if (loaded)
        rt_load_stop();

    CloseHandle(ev);
    CloseHandle(sem);
    sem_destroy(&w->sem);
    munmap(w, len);
    munmap((void *)fw_page, 4096);
    if (evict_len > 0)
        munmap(evict_buf, evict_len);
}
