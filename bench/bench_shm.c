/*
 * iwin32-bench-shm: the shared-memory core of libiwin32 against raw POSIX
 * doing the same work, interleaved in one run (issue 2, "Benchmark").
 *
 *   create  lib: RtCreateSharedMemory -> RtUnmapSharedMemory -> CloseHandle
 *           raw: shm_open(O_CREAT|O_EXCL) + ftruncate + mmap(POPULATE)
 *                + munmap + close + shm_unlink
 *   open    lib: RtOpenSharedMemory -> RtUnmapSharedMemory -> CloseHandle
 *           raw: shm_open(O_RDWR) + fstat + mmap(POPULATE) + munmap + close
 *     self:  the object is also held by this process (the per-process cache)
 *     cross: the object is held only by another process (the honest figure)
 *   boost   (a peer column, where the Boost headers were found at build time)
 *           Boost.Interprocess shared_memory_object create_only + truncate +
 *           mapped_region + a write per page + remove; open_only + mapped_region
 *           + a read per page.  Boost keeps no per-process state, so its
 *           open-self and open-cross are the same cycle on one object.
 *
 * Each round runs, for every case, one batch of library cycles and one batch
 * of raw cycles (their order alternating between rounds) and records the
 * per-cycle time of each batch.  Reported: the median over rounds.  The
 * number of other live objects in the node (10 or 10,000, made by a holder
 * process for the library and as raw shm objects for the raw side)
 * alternates between segments of rounds.
 *
 * Private node: IWIN32_ROOT=/dev/shm/iwin32-bench-<pid>; raw objects are
 * /dev/shm/iwb-<pid>-*.  Both are removed at the end, also on failure and on
 * SIGINT/SIGTERM/SIGHUP.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <iwin32.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef IWIN32_BENCH_BOOST
#include "bench_boost.h"
#endif

#include "bench_node.h"
#include "bench_stats.h"

#define KIB 4096u
#define MIB (1024u * 1024u)
#define FEW_LIVE 10u
#define MANY_LIVE 10000u
#define MAGIC 0x1b2c3d4eu

/* ---- cleanup ------------------------------------------------------------ */

static pid_t parent_pid, holder_pid = -1;
static char raw_prefix[64];     /* iwb-<pid>- (file name under /dev/shm) */
static volatile sig_atomic_t stop_requested;
static unsigned raw_live;       /* raw filler objects currently present */

static void cleanup(void)
{
    if (getpid() != parent_pid)
        return;
    if (holder_pid > 0) {
        kill(holder_pid, SIGKILL);
        waitpid(holder_pid, NULL, 0);
        holder_pid = -1;
    }
    bench_node_remove();
    if (raw_prefix[0]) {
        bench_remove_matching("/dev/shm", raw_prefix);
        raw_prefix[0] = '\0';
    }
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "iwin32-bench-shm: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (getpid() != parent_pid)
        _exit(1);
    cleanup();
    exit(1);
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void check_stop(void)
{
    if (stop_requested) {
        cleanup();
        fprintf(stderr, "iwin32-bench-shm: interrupted, cleaned up\n");
        exit(130);
    }
}

/* ---- the holder process: owns the "cross" objects and the fillers --------- */

enum { CMD_CREATE = 1, CMD_LIVE, CMD_QUIT };
struct cmd {
    int op;
    uint32_t arg;               /* CREATE: size; LIVE: number of fillers */
    char name[48];
};

static int cmd_w = -1, reply_r = -1;

static void read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            check_stop();
            continue;
        }
        if (n <= 0)
            die("holder pipe closed (%s)", n < 0 ? strerror(errno) : "EOF");
        p += n;
        len -= (size_t)n;
    }
}

static void write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("holder pipe write failed (%s)", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

static HANDLE holder_create(const char *name, uint32_t size, DWORD *err)
{
    void *p;
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, size, name, &p);
    if (h == NULL || GetLastError() != ERROR_SUCCESS) {
        *err = h ? ERROR_ALREADY_EXISTS : GetLastError();
        return NULL;
    }
    *(uint32_t *)p = MAGIC;
    RtUnmapSharedMemory(p); /* the handle keeps the object alive */
    return h;
}

static void holder_main(int in, int out)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent_pid)
        _exit(1);
    signal(SIGINT, SIG_IGN); /* the parent handles ^C and kills us */
    HANDLE *live = calloc(MANY_LIVE, sizeof *live);
    unsigned nlive = 0;
    for (;;) {
        struct cmd c;
        char *p = (char *)&c;
        size_t left = sizeof c;
        while (left) {
            ssize_t n = read(in, p, left);
            if (n <= 0)
                _exit(0);
            p += n;
            left -= (size_t)n;
        }
        DWORD err = ERROR_SUCCESS;
        switch (c.op) {
        case CMD_CREATE:
            holder_create(c.name, c.arg, &err); /* handle kept until exit */
            break;
        case CMD_LIVE:
            if (live == NULL || c.arg > MANY_LIVE) {
                err = ERROR_NOT_ENOUGH_MEMORY;
                break;
            }
            while (nlive < c.arg && err == ERROR_SUCCESS) {
                char name[32];
                snprintf(name, sizeof name, "live-%u", nlive);
                if ((live[nlive] = holder_create(name, KIB, &err)) != NULL)
                    nlive++;
            }
            while (nlive > c.arg)
                if (!CloseHandle(live[--nlive]))
                    err = GetLastError();
            break;
        case CMD_QUIT:
            _exit(0);
        }
        if (write(out, &err, sizeof err) != (ssize_t)sizeof err)
            _exit(1);
    }
}

static void holder_start(void)
{
    int a[2], b[2];
    if (pipe2(a, O_CLOEXEC) || pipe2(b, O_CLOEXEC))
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(a[1]);
        close(b[0]);
        holder_main(a[0], b[1]);
        _exit(0);
    }
    holder_pid = pid;
    close(a[0]);
    close(b[1]);
    cmd_w = a[1];
    reply_r = b[0];
}

static void holder_do(int op, uint32_t arg, const char *name)
{
    struct cmd c = {.op = op, .arg = arg};
    if (name)
        snprintf(c.name, sizeof c.name, "%s", name);
    write_full(cmd_w, &c, sizeof c);
    DWORD err;
    read_full(reply_r, &err, sizeof err);
    if (err != ERROR_SUCCESS)
        die("holder: command %d (%u, %s) failed, error %u", op, arg, name ? name : "-", err);
}

/* ---- raw fillers ---------------------------------------------------------- */

static void raw_name(char *buf, size_t size, const char *what)
{
    snprintf(buf, size, "/%s%s", raw_prefix, what);
}

static void raw_set_live(unsigned n)
{
    char name[96], what[32];
    while (raw_live < n) {
        snprintf(what, sizeof what, "live-%u", raw_live);
        raw_name(name, sizeof name, what);
        int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd < 0 || ftruncate(fd, KIB) != 0)
            die("raw filler %s: %s", name, strerror(errno));
        close(fd);
        raw_live++;
    }
    while (raw_live > n) {
        snprintf(what, sizeof what, "live-%u", raw_live - 1);
        raw_name(name, sizeof name, what);
        if (shm_unlink(name) != 0)
            die("shm_unlink %s: %s", name, strerror(errno));
        raw_live--;
    }
}

static void set_live(unsigned n)
{
    holder_do(CMD_LIVE, n, NULL);
    raw_set_live(n);
}

/* ---- the cycles ----------------------------------------------------------- */

static void lib_create(const char *name, uint32_t size, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        void *p;
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, size, name, &p);
        if (h == NULL || GetLastError() != ERROR_SUCCESS)
            die("RtCreateSharedMemory(%s): handle %p, error %u", name, h, GetLastError());
        if (!RtUnmapSharedMemory(p) || !CloseHandle(h))
            die("unmap/close %s: error %u", name, GetLastError());
    }
}

static void raw_create(const char *name, uint32_t size, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd < 0 || ftruncate(fd, size) != 0)
            die("raw create %s: %s", name, strerror(errno));
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED)
            die("raw mmap %s: %s", name, strerror(errno));
        munmap(p, size);
        close(fd);
        if (shm_unlink(name) != 0)
            die("shm_unlink %s: %s", name, strerror(errno));
    }
}

static void lib_open(const char *name, uint32_t size, unsigned n)
{
    (void)size;
    for (unsigned i = 0; i < n; i++) {
        void *p;
        HANDLE h = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, name, &p);
        if (h == NULL)
            die("RtOpenSharedMemory(%s): error %u", name, GetLastError());
        if (!RtUnmapSharedMemory(p) || !CloseHandle(h))
            die("unmap/close %s: error %u", name, GetLastError());
    }
}

static void raw_open(const char *name, uint32_t size, unsigned n)
{
    (void)size;
    for (unsigned i = 0; i < n; i++) {
        int fd = shm_open(name, O_RDWR, 0);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0)
            die("raw open %s: %s", name, strerror(errno));
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED)
            die("raw mmap %s: %s", name, strerror(errno));
        munmap(p, (size_t)st.st_size);
        close(fd);
    }
}

typedef void (*cycle_fn)(const char *name, uint32_t size, unsigned n);

enum { C_CREATE_4K, C_CREATE_1M, C_OPEN_SELF_4K, C_OPEN_CROSS_4K, C_OPEN_SELF_1M, C_OPEN_CROSS_1M, NCASES };

struct bench_case {
    const char *label;
    cycle_fn lib, raw;
    uint32_t size;
    unsigned batch;             /* cycles per batch (per side, per round) */
    bool is_4k;
    char lib_name[48], raw_name[96];
    cycle_fn peer;              /* Boost.Interprocess, or NULL */
    char peer_name[96];
};

static struct bench_case cases[NCASES] = {
    [C_CREATE_4K] = {"create 4K", lib_create, raw_create, KIB, 16, true, "", "", NULL, ""},
    [C_CREATE_1M] = {"create 1M", lib_create, raw_create, MIB, 2, false, "", "", NULL, ""},
    [C_OPEN_SELF_4K] = {"open-self 4K", lib_open, raw_open, KIB, 32, true, "", "", NULL, ""},
    [C_OPEN_CROSS_4K] = {"open-cross 4K", lib_open, raw_open, KIB, 16, true, "", "", NULL, ""},
    [C_OPEN_SELF_1M] = {"open-self 1M", lib_open, raw_open, MIB, 8, false, "", "", NULL, ""},
    [C_OPEN_CROSS_1M] = {"open-cross 1M", lib_open, raw_open, MIB, 8, false, "", "", NULL, ""},
};

/* Samples: per live-count phase (0: few, 1: many), per case, per side. */
struct samples {
    double *v;
    size_t n, cap;
};
static struct samples samp[2][NCASES][3]; /* [phase][case][0 raw, 1 lib, 2 peer] */

static void push(struct samples *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (s->v == NULL)
            die("out of memory");
    }
    s->v[s->n++] = x;
}

static double median(const struct samples *s) { return bench_median(s->v, s->n); }

/* The median of samples [from, s->n). */
static double median_from(const struct samples *s, size_t from) { return bench_median(s->v + from, s->n - from); }

static double time_batch(cycle_fn f, const struct bench_case *c, const char *name)
{
    uint64_t t0 = bench_now_ns();
    f(name, c->size, c->batch);
    return (double)(bench_now_ns() - t0) / c->batch / 1000.0; /* us per cycle */
}

static void run_rounds(int phase, unsigned rounds, bool record)
{
    for (unsigned r = 0; r < rounds; r++) {
        for (int i = 0; i < NCASES; i++) {
            struct bench_case *c = &cases[i];
            /* The sides' order rotates between rounds. */
            unsigned sides = c->peer ? 3 : 2;
            double t[3];
            for (unsigned k = 0; k < sides; k++) {
                unsigned side = (r + (unsigned)i + k) % sides;
                t[side] = side == 0   ? time_batch(c->raw, c, c->raw_name)
                          : side == 1 ? time_batch(c->lib, c, c->lib_name)
                                      : time_batch(c->peer, c, c->peer_name);
            }
            if (record)
                for (unsigned k = 0; k < sides; k++)
                    push(&samp[phase][i][k], t[k]);
            check_stop();
        }
    }
}

/* ---- setup ------------------------------------------------------------------ */

static HANDLE self_handles[2];

static void setup_objects(void)
{
    /* The "cross" objects: made and held by the holder only. */
    holder_do(CMD_CREATE, KIB, "bench-cross-4k");
    holder_do(CMD_CREATE, MIB, "bench-cross-1m");
    /* The "self" objects: held by this process for the whole run. */
    const char *self[2] = {"bench-self-4k", "bench-self-1m"};
    uint32_t sizes[2] = {KIB, MIB};
    for (int i = 0; i < 2; i++) {
        void *p;
        self_handles[i] = RtCreateSharedMemory(PAGE_READWRITE, 0, sizes[i], self[i], &p);
        if (self_handles[i] == NULL || GetLastError() != ERROR_SUCCESS)
            die("RtCreateSharedMemory(%s): error %u", self[i], GetLastError());
        RtUnmapSharedMemory(p);
    }
    /* Check that the holder's objects are seen across processes. */
    const char *cross[2] = {"bench-cross-4k", "bench-cross-1m"};
    for (int i = 0; i < 2; i++) {
        void *p;
        HANDLE h = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, cross[i], &p);
        if (h == NULL || *(uint32_t *)p != MAGIC)
            die("cross-process open of %s failed (error %u)", cross[i], GetLastError());
        RtUnmapSharedMemory(p);
        CloseHandle(h);
    }
    /* Raw objects for the open cycles. */
    const char *what[2] = {"open-4k", "open-1m"};
    char rn[2][96];
    for (int i = 0; i < 2; i++) {
        raw_name(rn[i], sizeof rn[i], what[i]);
        int fd = shm_open(rn[i], O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd < 0 || ftruncate(fd, sizes[i]) != 0 || posix_fallocate(fd, 0, sizes[i]) != 0)
            die("raw %s: %s", rn[i], strerror(errno));
        close(fd);
    }
    char cn[96];
    raw_name(cn, sizeof cn, "cycle");
#ifdef IWIN32_BENCH_BOOST
    /* Boost's names: ours without the '/', also removed with raw_prefix. */
    char bn[2][96], bcycle[96];
    for (int i = 0; i < 2; i++) {
        snprintf(bn[i], sizeof bn[i], "%sbip-%s", raw_prefix, what[i]);
        bip_shm_make(bn[i], sizes[i]);
    }
    snprintf(bcycle, sizeof bcycle, "%sbip-cycle", raw_prefix);
    for (int i = 0; i < NCASES; i++) {
        bool create = i == C_CREATE_4K || i == C_CREATE_1M;
        cases[i].peer = create ? bip_shm_create : bip_shm_open;
        snprintf(cases[i].peer_name, sizeof cases[i].peer_name, "%s", create ? bcycle : bn[!cases[i].is_4k]);
    }
#endif
    for (int i = 0; i < NCASES; i++) {
        struct bench_case *c = &cases[i];
        switch (i) {
        case C_CREATE_4K:
        case C_CREATE_1M:
            snprintf(c->lib_name, sizeof c->lib_name, "bench-cycle");
            snprintf(c->raw_name, sizeof c->raw_name, "%s", cn);
            break;
        case C_OPEN_SELF_4K:
        case C_OPEN_SELF_1M:
            snprintf(c->lib_name, sizeof c->lib_name, "%s", self[i == C_OPEN_SELF_1M]);
            snprintf(c->raw_name, sizeof c->raw_name, "%s", rn[i == C_OPEN_SELF_1M]);
            break;
        default:
            snprintf(c->lib_name, sizeof c->lib_name, "%s", cross[i == C_OPEN_CROSS_1M]);
            snprintf(c->raw_name, sizeof c->raw_name, "%s", rn[i == C_OPEN_CROSS_1M]);
            break;
        }
    }
}

static void usage(void)
{
    printf("usage: iwin32-bench-shm [--quick] [--rounds N] [--verbose]\n"
           "  --quick     short run (smoke test): few rounds, one segment per live count\n"
           "  --rounds N  rounds per segment (default 2000, 6 segments; --quick: 40, 2 segments)\n"
           "  --verbose   also print each segment's medians\n");
}

int main(int argc, char **argv)
{
    unsigned rounds = 2000, segments = 6, warmup = 30;
    bool quick = false, verbose = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = (unsigned)strtoul(argv[++i], NULL, 10);
            if (rounds == 0)
                rounds = 1;
        } else {
            usage();
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (quick) {
        segments = 2;
        warmup = 5;
        bool explicit_rounds = false;
        for (int i = 1; i < argc; i++)
            explicit_rounds |= strcmp(argv[i], "--rounds") == 0;
        if (!explicit_rounds)
            rounds = 40;
    }

    parent_pid = getpid();
    snprintf(raw_prefix, sizeof raw_prefix, "iwb-%d-", (int)parent_pid);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    bench_node_use("bench");
    setenv("IWIN32_POOL_MB", "512", 1);

    /* 10,000 live objects are 10,000 descriptors in the holder (one per
     * object) and in this process (the raw side): lift the soft limit. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < MANY_LIVE + 256) {
        fprintf(stderr, "iwin32-bench-shm: RLIMIT_NOFILE is %llu; %u live objects need at least %u\n",
                (unsigned long long)nofile.rlim_cur, MANY_LIVE, MANY_LIVE + 256);
        return 1;
    }

    uint64_t t_start = bench_now_ns();
    holder_start(); /* before this process touches the library */
    setup_objects();
    set_live(FEW_LIVE);
    run_rounds(0, warmup, false);

    /* Segments alternate 10 and 10,000 live objects. */
    for (unsigned s = 0; s < segments; s++) {
        int phase = s % 2;
        if (phase == 1)
            set_live(MANY_LIVE);
        else if (s > 0)
            set_live(FEW_LIVE);
        run_rounds(phase, warmup / 3, false); /* settle after the change */
        size_t from[NCASES][2];
        for (int i = 0; i < NCASES; i++)
            for (int k = 0; k < 2; k++)
                from[i][k] = samp[phase][i][k].n;
        run_rounds(phase, rounds, true);
        if (verbose) {
            printf("segment %u (%u live):", s, phase ? MANY_LIVE : FEW_LIVE);
            for (int i = 0; i < NCASES; i++)
                printf("  %s %.2f/%.2f", cases[i].label, median_from(&samp[phase][i][0], from[i][0]),
                       median_from(&samp[phase][i][1], from[i][1]));
            printf("  (raw/lib us)\n");
        }
    }
    double wall = (double)(bench_now_ns() - t_start) / 1e9;

    /* ---- report ---- */
    printf("iwin32-bench-shm: %u segments alternating %u/%u other live objects, %u rounds each;\n"
           "per-cycle medians over rounds of interleaved lib/raw batches; %.1f s\n\n",
           segments, FEW_LIVE, MANY_LIVE, rounds, wall);
    bool peer = cases[0].peer != NULL;
    printf("%-28s %10s %10s %7s", "case", "raw us", "lib us", "ratio");
    if (peer)
        printf(" %10s %9s", "boost us", "lib/boost");
    printf("\n");
    double worst4k = 0;
    const char *worst4k_label = "";
    unsigned worst4k_live = 0;
    for (int phase = 0; phase < 2; phase++)
        for (int i = 0; i < NCASES; i++) {
            if (samp[phase][i][0].n == 0)
                continue;
            double raw = median(&samp[phase][i][0]), lib = median(&samp[phase][i][1]);
            char label[64];
            unsigned live = phase ? MANY_LIVE : FEW_LIVE;
            snprintf(label, sizeof label, "%s (%u live)", cases[i].label, live);
            printf("%-28s %10.2f %10.2f %6.2fx", label, raw, lib, lib / raw);
            if (peer) {
                double b = median(&samp[phase][i][2]);
                printf(" %10.2f %8.2fx", b, lib / b);
            }
            printf("\n");
            if (cases[i].is_4k && i != C_OPEN_SELF_4K && lib / raw > worst4k) {
                worst4k = lib / raw;
                worst4k_label = cases[i].label;
                worst4k_live = live;
            }
        }
    printf("\ngrowth 10 -> 10000 live objects (time at 10000 / time at 10):\n");
    double worst_growth = 0;
    const char *worst_growth_label = "";
    for (int i = 0; i < NCASES; i++) {
        if (!cases[i].is_4k)
            continue;
        double g_raw = median(&samp[1][i][0]) / median(&samp[0][i][0]);
        double g_lib = median(&samp[1][i][1]) / median(&samp[0][i][1]);
        printf("  %-16s raw %5.2fx   lib %5.2fx\n", cases[i].label, g_raw, g_lib);
        if (g_lib > worst_growth) {
            worst_growth = g_lib;
            worst_growth_label = cases[i].label;
        }
    }
    printf("\ngoal 1 (4 KiB create and cross-process open <= 1.25x raw): %s (worst %.2fx, %s at %u live)\n",
           worst4k <= 1.25 ? "MET" : "MISSED", worst4k, worst4k_label, worst4k_live);
    printf("goal 2 (library growth 10 -> 10000 live <= 1.2x): %s (worst %.2fx, %s)\n",
           worst_growth <= 1.2 ? "MET" : "MISSED", worst_growth, worst_growth_label);
    if (!peer)
        printf("(no Boost.Interprocess column: built without the Boost headers)\n");

    for (int i = 0; i < 2; i++)
        CloseHandle(self_handles[i]);
    cleanup();
    return 0;
}
