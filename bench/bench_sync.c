/*
 * iwin32-bench-sync: events, mutexes and waits of libiwin32 against the raw
 * POSIX primitives doing the same work, interleaved in one run (issue 3,
 * "Benchmark").
 *
 *   pingpong pinned   lib: two auto-reset events, Set + WaitForSingleObject
 *                     raw: two process-shared sem_t in a MAP_SHARED mapping
 *                     between two processes (fork) both on one CPU; per
 *                     round trip.  The headline figure.
 *   pingpong unpinned the same, both processes free on every allowed CPU.
 *   mutex             lib: RtWaitForSingleObject(h, INFINITE) + RtReleaseMutex
 *                     raw: pthread_mutex_lock + unlock of a recursive, robust,
 *                     PRIO_INHERIT, PROCESS_SHARED mutex in a shared mapping;
 *                     uncontended, per pair.
 *   semaphore         lib: RtReleaseSemaphore(1) + RtWaitForSingleObject
 *                     raw: sem_post + sem_wait of a process-shared sem_t;
 *                     uncontended, per pair (issue 11).
 *   wait 16 vs 1      a child blocked in RtWaitForMultipleObjects on 16
 *                     auto-reset events (the last one is set) vs in
 *                     RtWaitForSingleObject on that one event; the parent
 *                     sets it and waits for the child's answer event; both
 *                     on one CPU; per round trip.  Baseline: the 1-wait.
 *
 * Each round runs, for every case, one batch of each side (their order
 * alternating between rounds) and records the per-operation time of the
 * batch; reported are the medians over rounds, their ratio, and the median
 * of the per-round (paired) ratios.
 *
 * Where the Boost headers were found at build time, Boost.Interprocess is a
 * third, interleaved column (issue 11): named_mutex lock + unlock in the
 * mutex case, named_semaphore post + wait in the semaphore case; and the
 * robustness fact beside the times: a holder SIGKILLed while it holds the
 * mutex, then a 200 ms timed wait, ours and Boost's.
 *
 * Also shown, without a goal: the ping-pong with the two processes forced
 * onto two different CPUs (the cross-CPU wake-up; skipped on one CPU).
 *
 * Private node: IWIN32_ROOT=/dev/shm/iwin32-bsync-<pid>, removed at the end,
 * also on failure and on SIGINT/SIGTERM/SIGHUP.
 *
 * Usage: iwin32-bench-sync [--quick] [--rounds N]
 *        iwin32-bench-sync --only CASE lib|base [--rounds N]
 *            runs one side of one case alone (CASE: pp-pinned, pp-unpinned,
 *            pp-split, mutex, wait), for strace -c -f / perf stat.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <iwin32.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_node.h"
#include "bench_robust.h"
#include "bench_stats.h"

#ifdef IWIN32_BENCH_BOOST
#include "bench_boost.h"
#endif

#define NWAIT 16
#define WARM 64 /* untimed round trips at the start of every batch */

/* ---- cleanup ------------------------------------------------------------ */

static pid_t parent_pid, child_pid = -1;
static char boost_prefix[48];   /* sem.iwbs-<pid>-: Boost's named objects in /dev/shm */

/* Also called from signal handlers: only a plain directory walk. */
static void cleanup(void)
{
    if (getpid() != parent_pid)
        return;
    if (child_pid > 0) {
        signal(SIGCHLD, SIG_DFL);
        kill(child_pid, SIGKILL);
        waitpid(child_pid, NULL, 0);
        child_pid = -1;
    }
    bench_node_remove();
    if (boost_prefix[0])
        bench_remove_matching("/dev/shm", boost_prefix);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "iwin32-bench-sync%s: ", getpid() == parent_pid ? "" : " (child)");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (getpid() != parent_pid)
        _exit(1);
    cleanup();
    exit(1);
}

/* The parent may be asleep in a library wait (which retries on EINTR), so a
 * signal - or the child's death - ends the run from the handler itself. */
static void on_signal(int sig)
{
    if (sig == SIGCHLD) {
        int status;
        if (child_pid <= 0 || waitpid(child_pid, &status, WNOHANG) != child_pid)
            return;
        child_pid = -1;
        static const char msg[] = "iwin32-bench-sync: the child process died\n";
        if (write(2, msg, sizeof msg - 1) < 0) {
        }
    }
    cleanup();
    _exit(sig == SIGCHLD ? 1 : 128 + sig);
}

/* ---- shared control page and objects --------------------------------------- */

enum op { OP_QUIT = 1, OP_PP_RAW, OP_PP_LIB, OP_WAIT1, OP_WAIT16 };

struct ctl {
    sem_t cmd, ready;           /* parent -> child: run ctl->op; child -> parent: running */
    sem_t ab, ba;               /* raw ping-pong */
    pthread_mutex_t pm;         /* raw mutex */
    sem_t sm;                   /* raw semaphore */
    volatile int op;
    volatile unsigned n;
};

static struct ctl *ctl;
static HANDLE ev_ab, ev_ba;     /* library ping-pong: parent -> child, child -> parent */
static HANDLE ev_w[NWAIT];      /* the child's 16 (ev_w[NWAIT - 1] alone for the 1-wait) */
static HANDLE mx, sm;

static void sem_wait_ok(sem_t *s)
{
    while (sem_wait(s) != 0)
        if (errno != EINTR)
            die("sem_wait: %s", strerror(errno));
}

static void setup_objects(void)
{
    ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ctl == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    if (sem_init(&ctl->cmd, 1, 0) || sem_init(&ctl->ready, 1, 0) || sem_init(&ctl->ab, 1, 0) ||
        sem_init(&ctl->ba, 1, 0) || sem_init(&ctl->sm, 1, 0))
        die("sem_init: %s", strerror(errno));
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    int rc = pthread_mutex_init(&ctl->pm, &a);
    pthread_mutexattr_destroy(&a);
    if (rc)
        die("pthread_mutex_init: %s", strerror(rc));

    ev_ab = RtCreateEvent(NULL, FALSE, FALSE, "bsync.ab");
    ev_ba = RtCreateEvent(NULL, FALSE, FALSE, "bsync.ba");
    for (int i = 0; i < NWAIT; i++) {
        char name[32];
        snprintf(name, sizeof name, "bsync.w%d", i);
        ev_w[i] = RtCreateEvent(NULL, FALSE, FALSE, name);
    }
    mx = RtCreateMutex(NULL, FALSE, "bsync.mutex");
    sm = RtCreateSemaphore(NULL, 0, 1000, "bsync.sem");
    if (!ev_ab || !ev_ba || !mx || !sm)
        die("create: error %u", GetLastError());
    for (int i = 0; i < NWAIT; i++)
        if (!ev_w[i])
            die("create: error %u", GetLastError());
}

/* ---- the child: the other end of every ping-pong ----------------------------- */

static void child_main(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent_pid)
        _exit(1);
    signal(SIGINT, SIG_IGN); /* the parent handles ^C and kills us */
    for (;;) {
        sem_wait_ok(&ctl->cmd);
        int op = ctl->op;
        unsigned n = ctl->n + WARM;
        if (op == OP_QUIT)
            break;
        sem_post(&ctl->ready);
        DWORD r;
        switch (op) {
        case OP_PP_RAW:
            for (unsigned i = 0; i < n; i++) {
                sem_wait_ok(&ctl->ab);
                sem_post(&ctl->ba);
            }
            break;
        case OP_PP_LIB:
            for (unsigned i = 0; i < n; i++) {
                if ((r = RtWaitForSingleObject(ev_ab, INFINITE)) != WAIT_OBJECT_0)
                    die("wait ab: %#x, error %u", r, GetLastError());
                RtSetEvent(ev_ba);
            }
            break;
        case OP_WAIT1:
            for (unsigned i = 0; i < n; i++) {
                if ((r = RtWaitForSingleObject(ev_w[NWAIT - 1], INFINITE)) != WAIT_OBJECT_0)
                    die("wait 1: %#x, error %u", r, GetLastError());
                RtSetEvent(ev_ba);
            }
            break;
        case OP_WAIT16:
            for (unsigned i = 0; i < n; i++) {
                if ((r = RtWaitForMultipleObjects(NWAIT, ev_w, FALSE, INFINITE)) != WAIT_OBJECT_0 + NWAIT - 1)
                    die("wait 16: %#x, error %u", r, GetLastError());
                RtSetEvent(ev_ba);
            }
            break;
        default:
            die("bad op %d", op);
        }
    }
    CloseHandle(mx);
    for (int i = 0; i < NWAIT; i++)
        CloseHandle(ev_w[i]);
    CloseHandle(ev_ab);
    CloseHandle(ev_ba);
    _exit(0);
}

/* ---- the parent's side of each batch: ns per operation ------------------------- */

static void start_child(int op, unsigned n)
{
    ctl->op = op;
    ctl->n = n;
    sem_post(&ctl->cmd);
    sem_wait_ok(&ctl->ready);
}

static double pp_raw(unsigned n)
{
    start_child(OP_PP_RAW, n);
    uint64_t t0 = 0;
    for (unsigned i = 0; i < n + WARM; i++) {
        if (i == WARM)
            t0 = bench_now_ns();
        sem_post(&ctl->ab);
        sem_wait_ok(&ctl->ba);
    }
    return (double)(bench_now_ns() - t0) / n;
}

/* Set `to`, wait for the child's answer on ev_ba. */
static double pp_lib_with(int op, HANDLE to, unsigned n)
{
    start_child(op, n);
    uint64_t t0 = 0;
    DWORD r;
    for (unsigned i = 0; i < n + WARM; i++) {
        if (i == WARM)
            t0 = bench_now_ns();
        RtSetEvent(to);
        if ((r = RtWaitForSingleObject(ev_ba, INFINITE)) != WAIT_OBJECT_0)
            die("wait ba: %#x, error %u", r, GetLastError());
    }
    return (double)(bench_now_ns() - t0) / n;
}

static double pp_lib(unsigned n) { return pp_lib_with(OP_PP_LIB, ev_ab, n); }
static double wait1(unsigned n) { return pp_lib_with(OP_WAIT1, ev_w[NWAIT - 1], n); }
static double wait16(unsigned n) { return pp_lib_with(OP_WAIT16, ev_w[NWAIT - 1], n); }

static double mutex_raw(unsigned n)
{
    int rc;
    for (unsigned i = 0; i < WARM; i++)
        if ((rc = pthread_mutex_lock(&ctl->pm)) != 0 || (rc = pthread_mutex_unlock(&ctl->pm)) != 0)
            die("pthread mutex: %s", strerror(rc));
    uint64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < n; i++) {
        if ((rc = pthread_mutex_lock(&ctl->pm)) != 0)
            die("pthread_mutex_lock: %s", strerror(rc));
        if ((rc = pthread_mutex_unlock(&ctl->pm)) != 0)
            die("pthread_mutex_unlock: %s", strerror(rc));
    }
    return (double)(bench_now_ns() - t0) / n;
}

static double mutex_lib(unsigned n)
{
    DWORD r;
    for (unsigned i = 0; i < WARM; i++)
        if ((r = RtWaitForSingleObject(mx, INFINITE)) != WAIT_OBJECT_0 || !RtReleaseMutex(mx))
            die("mutex: %#x, error %u", r, GetLastError());
    uint64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < n; i++) {
        if ((r = RtWaitForSingleObject(mx, INFINITE)) != WAIT_OBJECT_0)
            die("RtWaitForSingleObject(mutex): %#x, error %u", r, GetLastError());
        if (!RtReleaseMutex(mx))
            die("RtReleaseMutex: error %u", GetLastError());
    }
    return (double)(bench_now_ns() - t0) / n;
}

static double sem_raw(unsigned n)
{
    for (unsigned i = 0; i < WARM; i++) {
        sem_post(&ctl->sm);
        sem_wait_ok(&ctl->sm);
    }
    uint64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < n; i++) {
        if (sem_post(&ctl->sm) != 0)
            die("sem_post: %s", strerror(errno));
        sem_wait_ok(&ctl->sm);
    }
    return (double)(bench_now_ns() - t0) / n;
}

static double sem_lib(unsigned n)
{
    DWORD r = WAIT_OBJECT_0;
    for (unsigned i = 0; i < WARM; i++) {
        if (!RtReleaseSemaphore(sm, 1, NULL) || (r = RtWaitForSingleObject(sm, INFINITE)) != WAIT_OBJECT_0)
            die("semaphore: %#x, error %u", r, GetLastError());
    }
    uint64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < n; i++) {
        if (!RtReleaseSemaphore(sm, 1, NULL))
            die("RtReleaseSemaphore: error %u", GetLastError());
        if ((r = RtWaitForSingleObject(sm, INFINITE)) != WAIT_OBJECT_0)
            die("RtWaitForSingleObject(semaphore): %#x, error %u", r, GetLastError());
    }
    return (double)(bench_now_ns() - t0) / n;
}

/* ---- cases, rounds, statistics ------------------------------------------------- */

enum placement { PINNED, UNPINNED, SPLIT };
static cpu_set_t all_cpus, one_cpu;
static int pin_cpu;

static cpu_set_t other_cpu;     /* another allowed CPU, if any */

static void set_cpus(pid_t pid, cpu_set_t *set)
{
    if (sched_setaffinity(pid, sizeof *set, set) != 0)
        die("sched_setaffinity: %s", strerror(errno));
}

/* Pinned: both processes on one CPU.  Unpinned: both free on every allowed
 * CPU - but first put on two different CPUs, or they would stay together
 * where the last pinned batch left them, and "unpinned" would only measure
 * that (the scheduler may still bring them together). */
static int place(enum placement where)
{
    if (where == PINNED || CPU_COUNT(&other_cpu) == 0) {
        set_cpus(0, &one_cpu);
        set_cpus(child_pid, &one_cpu);
        return where != SPLIT;
    }
    set_cpus(0, &one_cpu);
    set_cpus(child_pid, &other_cpu);
    if (where == UNPINNED) {
        set_cpus(0, &all_cpus);
        set_cpus(child_pid, &all_cpus);
    }
    return 1;
}

struct bcase {
    const char *key, *name, *base_name, *goal_name;
    double (*base)(unsigned), (*lib)(unsigned);
    enum placement where;
    unsigned n, n_quick;
    double goal;                /* 0: none */
    double *tb, *tl;            /* per round */
    double (*peer)(unsigned);   /* Boost.Interprocess, or NULL */
    double *tp;
};

static struct bcase cases[] = {
    {"pp-pinned", "pingpong pinned (RT)", "sem_t", "ping-pong <= 1.05x", pp_raw, pp_lib, PINNED, 10000, 2000,
     1.05, 0, 0, 0, 0},
    {"pp-unpinned", "pingpong unpinned (RT)", "sem_t", 0, pp_raw, pp_lib, UNPINNED, 1000, 200, 0, 0, 0, 0, 0},
    {"pp-split", "pingpong 2 CPUs forced", "sem_t", 0, pp_raw, pp_lib, SPLIT, 500, 100, 0, 0, 0, 0, 0},
    {"mutex", "mutex wait+release", "pthread PI", "mutex <= 1.25x", mutex_raw, mutex_lib, PINNED, 200000,
     40000, 1.25, 0, 0, 0, 0},
    {"sem", "semaphore release+wait", "sem_t", 0, sem_raw, sem_lib, PINNED, 200000, 40000, 0, 0, 0, 0, 0},
    {"wait", "wait 16 vs 1 pinned (RT)", "1 object", "16 vs 1 <= 1.2x", wait1, wait16, PINNED, 10000, 2000, 1.2,
     0, 0, 0, 0},
};
#define NCASES (sizeof cases / sizeof cases[0])

static void fmt_time(char *buf, size_t size, double ns)
{
    if (ns >= 10000)
        snprintf(buf, size, "%.1f us", ns / 1000);
    else if (ns >= 1000)
        snprintf(buf, size, "%.2f us", ns / 1000);
    else
        snprintf(buf, size, "%.1f ns", ns);
}

int main(int argc, char **argv)
{
    int quick = 0;
    unsigned rounds = 0;
    struct bcase *only = NULL;
    int only_lib = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--only") == 0 && i + 2 < argc) {
            for (unsigned c = 0; c < NCASES; c++)
                if (strcmp(argv[i + 1], cases[c].key) == 0)
                    only = &cases[c];
            only_lib = strcmp(argv[i + 2], "lib") == 0;
            if (only == NULL || (!only_lib && strcmp(argv[i + 2], "base") != 0))
                goto usage;
            i += 2;
        } else {
        usage:
            fprintf(stderr, "usage: %s [--quick] [--rounds N] | --only CASE lib|base [--rounds N]\n"
                            "CASE: pp-pinned pp-unpinned pp-split mutex sem wait\n", argv[0]);
            return 2;
        }
    }
    if (rounds == 0)
        rounds = only ? 50 : quick ? 15 : 151;

    parent_pid = getpid();
    bench_node_use("bsync");
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);

    if (sched_getaffinity(0, sizeof all_cpus, &all_cpus) != 0)
        die("sched_getaffinity: %s", strerror(errno));
    pin_cpu = CPU_ISSET(0, &all_cpus) ? 0 : -1;
    for (int c = 0; pin_cpu < 0 && c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all_cpus))
            pin_cpu = c;
    CPU_ZERO(&one_cpu);
    CPU_SET(pin_cpu, &one_cpu);
    CPU_ZERO(&other_cpu);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (c != pin_cpu && CPU_ISSET(c, &all_cpus)) {
            CPU_SET(c, &other_cpu);
            break;
        }

    setup_objects();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0)
        child_main();
    child_pid = pid;

    if (only != NULL) {
        unsigned n = quick ? only->n_quick : only->n;
        double *t = calloc(rounds, sizeof *t);
        if (t == NULL)
            die("out of memory");
        for (unsigned r = 0; r < rounds; r++) {
            place(only->where);
            t[r] = (only_lib ? only->lib : only->base)(n);
        }
        char st[32];
        fmt_time(st, sizeof st, bench_median(t, rounds));
        printf("%s %s (%s): median %s per op over %u batches of %u\n", only->key, only_lib ? "lib" : "base",
               only_lib ? "library" : only->base_name, st, rounds, n);
        free(t);
        goto out;
    }

#ifdef IWIN32_BENCH_BOOST
    snprintf(boost_prefix, sizeof boost_prefix, "sem.iwbs-%d-", (int)parent_pid);
    bip_sync_setup(boost_prefix + 4);
    for (unsigned c = 0; c < NCASES; c++)
        if (strcmp(cases[c].key, "mutex") == 0 || strcmp(cases[c].key, "sem") == 0)
            cases[c].peer = strcmp(cases[c].key, "mutex") == 0 ? bip_mutex : bip_sem;
#endif
    for (unsigned c = 0; c < NCASES; c++) {
        cases[c].tb = calloc(rounds, sizeof(double));
        cases[c].tl = calloc(rounds, sizeof(double));
        cases[c].tp = calloc(rounds, sizeof(double));
        if (!cases[c].tb || !cases[c].tl || !cases[c].tp)
            die("out of memory");
    }

    struct utsname u;
    uname(&u);
    printf("iwin32-bench-sync: %u rounds%s, %d CPUs allowed, pinned runs on CPU %d, kernel %s\n", rounds,
           quick ? " (--quick)" : "", CPU_COUNT(&all_cpus), pin_cpu, u.release);
    fflush(stdout);

    uint64_t t_start = bench_now_ns();
    /* Round 0 warms everything up and is not counted. */
    for (unsigned r = 0; r <= rounds; r++)
        for (unsigned c = 0; c < NCASES; c++) {
            struct bcase *k = &cases[c];
            unsigned n = quick ? k->n_quick : k->n;
            if (!place(k->where))
                continue;
            /* The sides' order rotates between rounds. */
            unsigned sides = k->peer ? 3 : 2;
            double t[3];
            for (unsigned s = 0; s < sides; s++) {
                unsigned side = (r + s) % sides;
                t[side] = side == 0 ? k->base(n) : side == 1 ? k->lib(n) : k->peer(n);
            }
            if (r > 0) {
                k->tb[r - 1] = t[0];
                k->tl[r - 1] = t[1];
                if (k->peer)
                    k->tp[r - 1] = t[2];
            }
        }
    double secs = (double)(bench_now_ns() - t_start) / 1e9;

    printf("\n%-26s %-11s %12s %12s %7s %7s %12s %9s\n", "case (per op)", "baseline", "base median",
           "lib median", "ratio", "paired", "boost median", "lib/boost");
    double ratio[NCASES];
    for (unsigned c = 0; c < NCASES; c++) {
        struct bcase *k = &cases[c];
        ratio[c] = 0;
        if (k->where == SPLIT && CPU_COUNT(&other_cpu) == 0) {
            printf("%-26s (skipped: one CPU)\n", k->name);
            continue;
        }
        double mb = bench_median(k->tb, rounds), ml = bench_median(k->tl, rounds);
        double *pr = malloc(rounds * sizeof *pr);
        if (pr == NULL)
            die("out of memory");
        for (unsigned r = 0; r < rounds; r++)
            pr[r] = k->tl[r] / k->tb[r];
        double paired = bench_median(pr, rounds);
        free(pr);
        ratio[c] = ml / mb;
        char sb[32], sl[32];
        fmt_time(sb, sizeof sb, mb);
        fmt_time(sl, sizeof sl, ml);
        printf("%-26s %-11s %12s %12s %6.3fx %6.3fx", k->name, k->base_name, sb, sl, ratio[c], paired);
        if (k->peer) {
            double mp = bench_median(k->tp, rounds);
            fmt_time(sb, sizeof sb, mp);
            printf(" %12s %8.3fx", sb, ml / mp);
        }
        printf("\n");
    }
    printf("(ratio = library median / baseline median; paired = median of per-round ratios; boost =\n"
           " Boost.Interprocess named_mutex lock+unlock / named_semaphore post+wait%s; %.1f s)\n\n",
#ifdef IWIN32_BENCH_BOOST
           "",
#else
           ": NOT BUILT (no Boost headers)",
#endif
           secs);
    bench_robustness();
    printf("\n");
    for (unsigned c = 0; c < NCASES; c++)
        if (cases[c].goal > 0)
            printf("goal %-20s %6.3fx  %s\n", cases[c].goal_name, ratio[c],
                   ratio[c] <= cases[c].goal ? "MET" : "MISSED");

    for (unsigned c = 0; c < NCASES; c++) {
        free(cases[c].tb);
        free(cases[c].tl);
        free(cases[c].tp);
    }
#ifdef IWIN32_BENCH_BOOST
    bip_sync_teardown();
#endif
out:
    /* Stop the child, then the node goes. */
    signal(SIGCHLD, SIG_DFL);
    ctl->op = OP_QUIT;
    sem_post(&ctl->cmd);
    waitpid(child_pid, NULL, 0);
    child_pid = -1;
    CloseHandle(mx);
    CloseHandle(sm);
    for (int i = 0; i < NWAIT; i++)
        CloseHandle(ev_w[i]);
    CloseHandle(ev_ab);
    CloseHandle(ev_ba);
    cleanup();
    return 0;
}
