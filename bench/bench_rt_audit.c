/*
 * iwin32-bench-rt, fast-path audit (see bench_rt.c): page faults, system
 * calls and heap allocations per million operations on the paths the
 * real-time rule says make none of them.
 *
 *   Set            RtSetEvent on an auto-reset event nobody waits on
 *   signalled wait RtWaitForSingleObject(INFINITE) on a set manual-reset event
 *   mutex          RtWaitForSingleObject + RtReleaseMutex, uncontended
 *   semaphore      RtReleaseSemaphore(1) + RtWaitForSingleObject
 *   open (ref.)    RtCreateEvent of a name this process holds + CloseHandle:
 *                  not a fast path; shows that the counters see the library
 *
 * Faults: getrusage(RUSAGE_SELF) minflt/majflt around the loop.  Heap:
 * malloc, calloc and realloc are defined here and counted before they go
 * to glibc's (__libc_malloc ...); the executable exports them, so they
 * interpose on the library's calls too (not under sanitizers, whose own
 * allocator must not be bypassed).  System calls: the loop runs again in a
 * child, `iwin32-bench-rt --audit-loop OP N`, under `strace -f -c` (or else
 * `perf stat -e raw_syscalls:sys_enter`), once with N and once with 0; the
 * difference is the loop's.
 */
#define _GNU_SOURCE
#include "bench_rt.h"

#include <iwin32.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifdef IWIN32_BENCH_SANITIZED
/* Neither count means anything there: LeakSanitizer refuses to run under
 * strace's ptrace, and its exit-time scan adds calls of its own. */
static const bool malloc_counted = false, syscalls_counted = false;
static unsigned long allocs(void) { return 0; }
#else
static const bool malloc_counted = true, syscalls_counted = true;
static _Atomic unsigned long n_alloc;
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
void *malloc(size_t n)
{
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t m)
{
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}
static unsigned long allocs(void) { return atomic_load(&n_alloc); }
#endif

enum { OP_SET, OP_WAIT, OP_MUTEX, OP_SEM, OP_OPEN, NOP };
static const char *const op_key[NOP] = {"set", "wait", "mutex", "sem", "open"};
static const char *const op_label[NOP] = {"Set (no waiter)", "signalled wait", "mutex wait+release",
                                          "semaphore release+wait", "open of a held name (ref.)"};
static HANDLE h_ev, h_man, h_mx, h_sem;

static void setup(void)
{
    h_ev = RtCreateEvent(NULL, FALSE, FALSE, "brt.audit.ev");
    h_man = RtCreateEvent(NULL, TRUE, TRUE, "brt.audit.man");
    h_mx = RtCreateMutex(NULL, FALSE, "brt.audit.mx");
    h_sem = RtCreateSemaphore(NULL, 0, 1000, "brt.audit.sem");
    if (!h_ev || !h_man || !h_mx || !h_sem)
        rt_die("audit: create: error %u", GetLastError());
}

static void teardown(void)
{
    CloseHandle(h_ev);
    CloseHandle(h_man);
    CloseHandle(h_mx);
    CloseHandle(h_sem);
}

static void loop(int op, unsigned long n)
{
    for (unsigned long i = 0; i < n; i++) {
        bool ok = true;
        switch (op) {
        case OP_SET: ok = RtSetEvent(h_ev); break;
        case OP_WAIT: ok = RtWaitForSingleObject(h_man, INFINITE) == WAIT_OBJECT_0; break;
        case OP_MUTEX: ok = RtWaitForSingleObject(h_mx, INFINITE) == WAIT_OBJECT_0 && RtReleaseMutex(h_mx); break;
        case OP_SEM:
            ok = RtReleaseSemaphore(h_sem, 1, NULL) && RtWaitForSingleObject(h_sem, INFINITE) == WAIT_OBJECT_0;
            break;
        default: {
            HANDLE h = RtCreateEvent(NULL, FALSE, FALSE, "brt.audit.ev");
            ok = h != NULL && CloseHandle(h);
        }
        }
        if (!ok)
            rt_die("audit %s: error %u", op_key[op], GetLastError());
    }
}

static int op_of(const char *key)
{
    for (int i = 0; i < NOP; i++)
        if (strcmp(key, op_key[i]) == 0)
            return i;
    return -1;
}

int rt_audit_child(const char *key, unsigned long n)
{
    int op = op_of(key);
    if (op < 0)
        return 2;
    setup();
    loop(op, 1000); /* the same warm-up as the measured run */
    loop(op, n);
    teardown();
    return 0;
}

/* System calls of `self --audit-loop key n`, or -1 if neither tool works. */
static long count_syscalls(const char *self, const char *key, unsigned long n, const char **how)
{
    char out[64], cmd[512], line[256];
    snprintf(out, sizeof out, "/tmp/iwin32-brt-%d.sc", (int)getpid());
    long calls = -1;
    snprintf(cmd, sizeof cmd, "strace -f -c -o %s -- %s --audit-loop %s %lu >/dev/null 2>&1", out, self, key, n);
    if (system("command -v strace >/dev/null 2>&1") == 0 && system(cmd) == 0) {
        *how = "strace -f -c";
        FILE *f = fopen(out, "r");
        while (f != NULL && fgets(line, sizeof line, f)) {
            /* "100.00 0.000123 1 123 4 total": calls is the 4th column */
            double pct, secs;
            long usecs, c;
            if (strstr(line, " total") && sscanf(line, "%lf %lf %ld %ld", &pct, &secs, &usecs, &c) == 4)
                calls = c;
        }
        if (f != NULL)
            fclose(f);
    } else {
        snprintf(cmd, sizeof cmd,
                 "perf stat -x, -e raw_syscalls:sys_enter -o %s -- %s --audit-loop %s %lu >/dev/null 2>&1", out,
                 self, key, n);
        if (system("command -v perf >/dev/null 2>&1") == 0 && system(cmd) == 0) {
            *how = "perf stat -e raw_syscalls:sys_enter";
            FILE *f = fopen(out, "r");
            while (f != NULL && fgets(line, sizeof line, f))
                if (strstr(line, "raw_syscalls:sys_enter") && line[0] >= '0' && line[0] <= '9')
                    calls = strtol(line, NULL, 10);
            if (f != NULL)
                fclose(f);
        }
    }
    unlink(out);
    return calls;
}

void rt_audit_case(void)
{
    unsigned long n = rt_quick ? 100000 : 1000000, n_sc = rt_quick ? 10000 : 100000;
    char self[512];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        rt_die("readlink /proc/self/exe failed");
    self[len] = '\0';
    printf("\n== fast-path audit, per million operations (faults and allocations over %lu, system calls over "
           "%lu; the goal is 0 on the first four)\n",
           n, n_sc);
    printf("  %-28s %10s %10s %12s %12s\n", "operation", "minflt", "majflt", "syscalls", "allocations");
    unsigned long a_setup = allocs();
    setup();
    a_setup = allocs() - a_setup;
    const char *how = NULL;
    for (int op = 0; op < NOP; op++) {
        unsigned long m = op == OP_OPEN ? n / 10 : n;
        loop(op, 1000);
        struct rusage r0, r1;
        getrusage(RUSAGE_SELF, &r0);
        unsigned long a0 = allocs();
        loop(op, m);
        unsigned long a1 = allocs();
        getrusage(RUSAGE_SELF, &r1);
        double scale = 1e6 / (double)m;
        unsigned long m_sc = op == OP_OPEN ? n_sc / 10 : n_sc;
        long s1 = syscalls_counted ? count_syscalls(self, op_key[op], m_sc, &how) : -1;
        long s0 = s1 < 0 ? -1 : count_syscalls(self, op_key[op], 0, &how);
        char sc[32], al[32];
        if (s1 < 0 || s0 < 0 || s1 < s0)
            snprintf(sc, sizeof sc, "n/a");
        else
            snprintf(sc, sizeof sc, "%.0f", (double)(s1 - s0) * 1e6 / (double)m_sc);
        if (malloc_counted)
            snprintf(al, sizeof al, "%.0f", (double)(a1 - a0) * scale);
        else
            snprintf(al, sizeof al, "n/a");
        printf("  %-28s %10.0f %10.0f %12s %12s\n", op_label[op], (double)(r1.ru_minflt - r0.ru_minflt) * scale,
               (double)(r1.ru_majflt - r0.ru_majflt) * scale, sc, al);
    }
    teardown();
    printf("  system calls counted with: %s; allocations: %s\n",
           how                ? how
           : !syscalls_counted ? "nothing (sanitizer build)"
                               : "nothing (neither strace nor a permitted perf found)",
           malloc_counted ? "malloc/calloc/realloc interposed in this binary" : "not counted (sanitizer build)");
    if (malloc_counted)
        printf("  (the counter sees the library: its 4 creates in the audit's setup made %lu allocations)\n",
               a_setup);
}
