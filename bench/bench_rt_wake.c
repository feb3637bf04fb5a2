/*
 * iwin32-bench-rt, wake case: cyclictest-style wake latency across two
 * processes (see bench_rt.c).
 *
 * The waker (this process, SCHED_FIFO 80) sleeps to an absolute deadline
 * every period, stores rt_now() in the shared page and signals; the waiter
 * (a forked child, SCHED_FIFO 90, so on the same CPU the wake preempts the
 * waker at once) records rt_now() - stamp.  Sample i uses primitive i % 5
 * of the wake mix (the multi mix: see multi_mix below):
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

enum { K_EVENT, K_SEM, K_FUTEX, K_FUTEX_PAGE, K_SEMT, K_MULTI, K_WAITV, NKIND_ALL };
static const char *const kind_name[NKIND_ALL] = {"lib event", "lib semaphore", "raw futex", "raw futex page",
                                                 "sem_t",     "lib 16-object", "raw waitv 16"};

/* The primitives one run interleaves, and the ratios it prints (each pair:
 * the first over the second).  The multi case (issue 11 item 3: a 16-object
 * wait within 1.2x of a 1-object wait at p99, cold): RtWaitForMultipleObjects
 * over 16 auto-reset events of which the last is signalled (the most
 * polling: every lower index is tried first), RtWaitForSingleObject on one
 * event, and a raw futex_waitv over 16 words, each on its own page as each
 * library object's state is, where the waiter then scans the 16 words for
 * the lowest one set. */
#define NKIND_MAX 5
struct wake_mix {
    const char *what;
    int n;
    int kind[NKIND_MAX];
    int npair;
    int pair[8][2];
};
static const struct wake_mix wake_mix = {
    "wake latency", 5, {K_EVENT, K_SEM, K_FUTEX, K_FUTEX_PAGE, K_SEMT}, 6,
    {{0, 2}, {0, 3}, {0, 4}, {1, 2}, {1, 3}, {1, 4}}};
static const struct wake_mix multi_mix = {
    "16-object wait latency (the last object signalled)", 3, {K_MULTI, K_EVENT, K_WAITV}, 3,
    {{0, 1}, {0, 2}, {1, 2}}};
static const struct wake_mix *mix;
#define MULTI_N 16

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
static HANDLE ev, sem, evs[MULTI_N];
static _Atomic uint32_t *wv_page; /* MULTI_N words, one per page */
#define WV_WORD(i) ((_Atomic uint32_t *)((char *)wv_page + (size_t)(i) * 4096))
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

/* futex_waitv over the MULTI_N words, then take the lowest one set. */
static void waitv_words(void)
{
    for (;;) {
        for (int i = 0; i < MULTI_N; i++)
            if (atomic_load_explicit(WV_WORD(i), memory_order_relaxed) != 0 && atomic_exchange(WV_WORD(i), 0) != 0)
                return;
        struct futex_waitv v[MULTI_N];
        for (int i = 0; i < MULTI_N; i++)
            v[i] = (struct futex_waitv){.uaddr = (uintptr_t)WV_WORD(i), .flags = 2 /* FUTEX2_SIZE_U32 */};
        syscall(449 /* SYS_futex_waitv */, v, MULTI_N, 0, NULL, CLOCK_MONOTONIC);
    }
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
        int k = mix->kind[i % (unsigned)mix->n];
        atomic_store(&w->armed, i + 1);
        DWORD r = WAIT_OBJECT_0;
        switch (k) {
        case K_EVENT: r = RtWaitForSingleObject(ev, INFINITE); break;
        case K_SEM: r = RtWaitForSingleObject(sem, INFINITE); break;
        case K_FUTEX: futex_wait_word(&w->fw); break;
        case K_FUTEX_PAGE: futex_wait_word(fw_page); break;
        case K_MULTI: r = RtWaitForMultipleObjects(MULTI_N, evs, FALSE, INFINITE) - (MULTI_N - 1); break;
        case K_WAITV: waitv_words(); break;
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
    unsigned total = samples * (unsigned)mix->n;
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
        switch (mix->kind[i % (unsigned)mix->n]) {
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
        case K_MULTI: RtSetEvent(evs[MULTI_N - 1]); break;
        case K_WAITV:
            atomic_store(WV_WORD(MULTI_N - 1), 1);
            syscall(SYS_futex, WV_WORD(MULTI_N - 1), FUTEX_WAKE, 1, NULL, NULL, 0);
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
    struct rt_stats st[NKIND_MAX];
    printf("\n  %s\n  %-14s %9s %9s %9s %9s\n", label, "primitive", "p50 us", "p99 us", "p99.9 us", "max us");
    for (int k = 0; k < mix->n; k++) {
        for (unsigned s = 0; s < samples; s++)
            v[s] = w->lat[s * (unsigned)mix->n + (unsigned)k];
        st[k] = rt_stats_of(v, samples);
        printf("  %-14s %9.2f %9.2f %9.2f %9.2f\n", kind_name[mix->kind[k]], st[k].p50 / 1e3, st[k].p99 / 1e3,
               st[k].p999 / 1e3, st[k].max / 1e3);
    }
    for (int p = 0; p < mix->npair; p++) {
        int a = mix->pair[p][0], b = mix->pair[p][1];
        char pair[48];
        snprintf(pair, sizeof pair, "%s / %s", kind_name[mix->kind[a]], kind_name[mix->kind[b]]);
        printf("  %-30s p50 %5.2fx  p99 %5.2fx  p99.9 %5.2fx  max %5.2fx\n", pair, st[a].p50 / st[b].p50,
               st[a].p99 / st[b].p99, st[a].p999 / st[b].p999, st[a].max / st[b].max);
    }
    if (late > 0)
        printf("  (the waker found the waiter not yet armed %llu times and waited for it)\n",
               (unsigned long long)late);
}

void rt_wake_case(unsigned period_us, unsigned samples, size_t evict_bytes, bool load, bool multi)
{
    mix = multi ? &multi_mix : &wake_mix;
    size_t len = sizeof *w + (size_t)samples * (unsigned)mix->n * sizeof w->lat[0];
    w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED)
        rt_die("mmap: %s", strerror(errno));
    fw_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    wv_page = mmap(NULL, (size_t)MULTI_N * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
    if (fw_page == MAP_FAILED || wv_page == MAP_FAILED)
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
    for (int i = 0; i < MULTI_N; i++) {
        char name[32];
        snprintf(name, sizeof name, "brt.wake.ev%d", i);
        evs[i] = RtCreateEvent(NULL, FALSE, FALSE, name);
        if (evs[i] == NULL)
            rt_die("create: error %u", GetLastError());
    }

    unsigned seconds = (unsigned)((uint64_t)samples * (unsigned)mix->n * period_us * 2 / 1000000) + 10;
    bool loaded = load && rt_load_start(seconds);
    printf("\n== %s, %s: period %u us, %u samples per primitive, interleaved; "
           "caches %s (%zu KiB walked per side per sample)\n",
           mix->what, !load ? "idle" : loaded ? "under stress-ng --cpu 0 --vm 1" : "LOAD REQUESTED BUT stress-ng NOT FOUND: idle",
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
    for (int i = 0; i < MULTI_N; i++)
        CloseHandle(evs[i]);
    sem_destroy(&w->sem);
    munmap(w, len);
    munmap((void *)fw_page, 4096);
    munmap((void *)wv_page, (size_t)MULTI_N * 4096);
    if (evict_len > 0)
        munmap(evict_buf, evict_len);
}
