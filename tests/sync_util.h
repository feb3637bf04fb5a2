/*
 * Shared helpers of the sync_* tests (events, mutexes, semaphores, waits).
 * Header-only (static functions) so that each test executable stays one
 * source file plus test_node.c.
 *
 * "Blocked" means what the kernel says: the thread's current system call
 * (/proc/<pid>/task/<tid>/syscall) is futex or futex_waitv, by the
 * architecture's numbers from <sys/syscall.h>.
 * That is how a test knows a waiter is really asleep in the library before
 * it signals, without sleeping and hoping.
 */
#ifndef IWIN32_SYNC_UTIL_H
#define IWIN32_SYNC_UTIL_H
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include <iwin32.h>

#include "test_node.h"

/* The architecture's numbers.  futex_waitv is new (Linux 5.16): older C
 * libraries lack its name, and it has the same number, 449, on every
 * architecture (new calls are numbered alike since 5.1). */
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#define SYNC_SYS_FUTEX SYS_futex
#define SYNC_SYS_FUTEX_WAITV SYS_futex_waitv

static inline pid_t sync_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/* How soon after a Set or Release a waiter asleep on it has returned, at
 * most, in us.  It tells a waiter woken by the signal from one that finds
 * it only on a later recheck (the tests also check that a sleeping waiter
 * is not switched in and out), not the speed of the machine: the woken
 * thread still has to get a CPU, and a loaded or stolen vCPU withholds one
 * for tens of ms (CI lost ~20 ms at a time, as long as the 20 ms bound
 * these checks had). */
#define SYNC_WAKE_US 100000

static inline int64_t sync_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void sync_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The current system call number of a task, -1 if running (or unknown). */
static inline long sync_task_syscall(pid_t pid, pid_t tid)
{
    char path[96], buf[256];
    snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    if (strncmp(buf, "running", 7) == 0)
        return -1;
    return strtol(buf, NULL, 10);
}

/* Waits until the task sleeps in futex/futex_waitv; false after timeout_ms. */
static inline bool sync_task_blocked(pid_t pid, pid_t tid, int timeout_ms)
{
    int64_t end = sync_now_us() + (int64_t)timeout_ms * 1000;
    while (sync_now_us() < end) {
        long sc = sync_task_syscall(pid, tid);
        if (sc == SYNC_SYS_FUTEX || sc == SYNC_SYS_FUTEX_WAITV)
            return true;
        usleep(500);
    }
    fprintf(stderr, "task %d/%d not blocked in a futex after %d ms (syscall %ld)\n", (int)pid, (int)tid,
            timeout_ms, sync_task_syscall(pid, tid));
    return false;
}

/* Waits until the task sleeps in futex_waitv itself: a multi-object waiter
 * may first block briefly on a library lock (a mutex watcher's: see
 * src/mutex_watch.c).  False after timeout_ms. */
static inline bool sync_task_in_waitv(pid_t pid, pid_t tid, int timeout_ms)
{
    int64_t end = sync_now_us() + (int64_t)timeout_ms * 1000;
    while (sync_task_syscall(pid, tid) != SYNC_SYS_FUTEX_WAITV) {
        if (sync_now_us() >= end)
            return false;
        usleep(500);
    }
    return true;
}

/* Field n (1-based, as proc(5) numbers them) of /proc/<pid>/task/<tid>/stat. */
static inline long sync_task_stat_field(pid_t pid, pid_t tid, int n)
{
    char path[96], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return LONG_MIN;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
        return LONG_MIN;
    buf[len] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return LONG_MIN;
    p += 2; /* field 3: state */
    for (int f = 3; f < n; f++) {
        p = strchr(p, ' ');
        if (p == NULL)
            return LONG_MIN;
        p++;
    }
    return strtol(p, NULL, 10);
}

/* The kernel's effective priority of a task (stat field 18): 20 for nice 0,
 * -1 - rtprio for a real-time task, including one lifted by inheritance. */
static inline long sync_task_prio(pid_t pid, pid_t tid) { return sync_task_stat_field(pid, tid, 18); }

/* How often a task was switched out (voluntary and involuntary context
 * switches, from /proc/<pid>/task/<tid>/status): a thread asleep in a wait
 * is never switched out, one that polls or wakes is, each time.  (Its CPU
 * time says less: the kernel may show time a thread spent before it slept
 * only later.) */
static inline long sync_task_switches(pid_t pid, pid_t tid)
{
    char path[96], line[256];
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
    FILE *f = fopen(path, "re");
    long total = 0, n;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1 ||
            sscanf(line, "nonvoluntary_ctxt_switches: %ld", &n) == 1)
            total += n;
    if (f != NULL)
        fclose(f);
    return f != NULL ? total : LONG_MIN;
}

/* A thread, started now. */
static inline pthread_t sync_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int rc = pthread_create(&t, NULL, fn, arg);
    if (rc != 0) {
        fprintf(stderr, "pthread_create: %s\n", strerror(rc));
        abort();
    }
    return t;
}

/* A thread blocked in a wait: tells its tid, the outcome, and when. */
struct sync_waiter {
    HANDLE h[MAXIMUM_WAIT_OBJECTS];
    DWORD n;                    /* 1: RtWaitForSingleObject */
    DWORD ms;
    _Atomic pid_t tid;
    _Atomic int done;
    DWORD result;
    DWORD error;                /* GetLastError() after the wait */
    int64_t woke_us;
    bool release_mutex;         /* after a mutex wait succeeded: release it at once */
    pthread_t thread;
};

static void *sync_waiter_main(void *arg)
{
    struct sync_waiter *w = arg;
    SetLastError(0x5eed);
    atomic_store(&w->tid, sync_gettid());
    DWORD r = w->n == 1 ? RtWaitForSingleObject(w->h[0], w->ms)
                        : RtWaitForMultipleObjects(w->n, w->h, FALSE, w->ms);
    w->woke_us = sync_now_us();
    w->result = r;
    w->error = GetLastError();
    if (w->release_mutex && r != WAIT_FAILED && r != WAIT_TIMEOUT) {
        DWORD i = r & ~WAIT_ABANDONED_0;
        if (!RtReleaseMutex(w->h[i]))
            fprintf(stderr, "waiter: release of mutex %u failed: %u\n", i, GetLastError());
    }
    atomic_store(&w->done, 1);
    return NULL;
}

/* Starts a waiter on n handles (1: RtWaitForSingleObject); returns once it
 * runs (sync_waiter_blocked then says when it sleeps in the kernel).
 * release_mutex: a mutex it gets is released at once by that thread. */
static inline void sync_waiter_start_ex(struct sync_waiter *w, const HANDLE *h, DWORD n, DWORD ms,
                                        bool release_mutex)
{
    memset(w, 0, sizeof *w);
    memcpy(w->h, h, n * sizeof *h);
    w->n = n;
    w->ms = ms;
    w->release_mutex = release_mutex;
    w->thread = sync_thread(sync_waiter_main, w);
    while (atomic_load(&w->tid) == 0)
        usleep(100);
}

static inline void sync_waiter_start(struct sync_waiter *w, HANDLE h, DWORD ms)
{
    sync_waiter_start_ex(w, &h, 1, ms, false);
}

static inline void sync_waiter_start_multi(struct sync_waiter *w, const HANDLE *h, DWORD n, DWORD ms)
{
    sync_waiter_start_ex(w, h, n, ms, false);
}

static inline bool sync_waiter_blocked(struct sync_waiter *w)
{
    /* A multi-object waiter sleeps in futex_waitv; a plain futex before it
     * is a library lock it passes on the way (a mutex watcher's start). */
    if (w->n > 1)
        return sync_task_in_waitv(getpid(), atomic_load(&w->tid), 5000);
    return sync_task_blocked(getpid(), atomic_load(&w->tid), 5000);
}

/* True once the waiter returned, waiting up to ms. */
static inline bool sync_waiter_done_within(struct sync_waiter *w, int ms)
{
    int64_t end = sync_now_us() + (int64_t)ms * 1000;
    while (!atomic_load(&w->done)) {
        if (sync_now_us() >= end)
            return false;
        usleep(200);
    }
    return true;
}

static inline void sync_waiter_join(struct sync_waiter *w) { pthread_join(w->thread, NULL); }

/* Runs the group: argv "--only PATTERN" or "--skip PATTERN" select tests. */
static inline int sync_run(int argc, char **argv, const char *name, const struct CMUnitTest *tests, size_t n)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--only") == 0)
            cmocka_set_test_filter(argv[i + 1]);
        else if (strcmp(argv[i], "--skip") == 0)
            cmocka_set_skip_filter(argv[i + 1]);
    }
    tn_setup(name);
    return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}
#define SYNC_RUN(name, tests) sync_run(argc, argv, name, tests, sizeof(tests) / sizeof((tests)[0]))

/* ---- the sync_peer program (through test_node's tn_peer_*) ------------------ */

/* Reads the peer's next line and checks its first word; the rest into rest. */
static inline bool sync_peer_word(struct tn_peer *p, const char *word, char *rest, size_t size)
{
    char line[512];
    if (!tn_peer_line(p, line, sizeof line)) {
        fprintf(stderr, "peer %d: expected \"%s ...\", got nothing\n", (int)p->pid, word);
        return false;
    }
    size_t n = strlen(word);
    if (strncmp(line, word, n) != 0 || (line[n] != ' ' && line[n] != '\0')) {
        fprintf(stderr, "peer %d: expected \"%s ...\", got \"%s\"\n", (int)p->pid, word, line);
        return false;
    }
    if (rest && size > 0) {
        const char *from = line[n] ? line + n + 1 : "";
        size_t len = strlen(from);
        if (len >= size)
            len = size - 1;
        memcpy(rest, from, len);
        rest[len] = '\0';
    }
    return true;
}

/* "w RESULT TIME_US" from the peer: its wait's outcome and when it returned. */
static inline bool sync_peer_waited(struct tn_peer *p, DWORD *result, int64_t *when_us)
{
    char rest[128];
    if (!sync_peer_word(p, "w", rest, sizeof rest))
        return false;
    unsigned long r;
    long long t;
    if (sscanf(rest, "%lu %lld", &r, &t) != 2)
        return false;
    *result = (DWORD)r;
    if (when_us)
        *when_us = t;
    return true;
}

/* A peer's "ok ..." line; *value gets its number (last error, previous count). */
static inline bool sync_peer_ok(struct tn_peer *p, long *value)
{
    char rest[128];
    if (!sync_peer_word(p, "ok", rest, sizeof rest))
        return false;
    if (value)
        *value = strtol(rest, NULL, 10);
    return true;
}

/* Reads "waiting ..." and returns once the peer sleeps in the kernel. */
static inline bool sync_peer_blocked(struct tn_peer *p)
{
    return sync_peer_word(p, "waiting", NULL, 0) && sync_task_blocked(p->pid, p->pid, 5000);
}

/* Finishes a peer and checks that it exited 0, printing its stderr if not. */
static inline bool sync_peer_done(struct tn_peer *p)
{
    int st = tn_peer_finish(p);
    if (!tn_exited_ok(st)) {
        fprintf(stderr, "peer %d: status %d, stderr: %s\n", (int)p->pid, st, p->errbuf);
        return false;
    }
    return true;
}

/* A unique object name for this test run. */
static inline const char *sync_name(char *buf, size_t size, const char *what)
{
    static _Atomic int seq;
    snprintf(buf, size, "sync-%s-%d-%d", what, (int)getpid(), atomic_fetch_add(&seq, 1));
    return buf;
}
#define SYNC_NAME(buf, what) sync_name(buf, sizeof buf, what)

#endif
