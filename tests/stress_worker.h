/*
 * The kill storm (stress_kill.c): its workers and checker (stress_worker.c),
 * and what they report to the killer through memory they share.
 */
#ifndef IWIN32_STRESS_WORKER_H
#define IWIN32_STRESS_WORKER_H
#include <stdatomic.h>
#include <stdint.h>

#include <iwin32.h>

#define POOL_MB 8
#define WORKERS 4
#define NAMED 5                 /* shared-memory names, the last one 259 bytes long */
#define HANG_MS 20000           /* one call of a live worker, at most */
/* How late a wait may return past its timeout before it counts as late: a
 * woken worker on a loaded 2-core VM (shared with other jobs, 4 workers
 * and a checker running) can wait hundreds of milliseconds for a CPU; 2 s
 * is far above that, and a wait that overruns its deadline because of the
 * library (blocked on a lock, a lost deadline) overruns without bound. */
#define SLACK_MS 2000

#define EVENT_NAME "stress/event"
#define SEMAPHORE_NAME "stress/semaphore"
#define MUTEX_NAME "stress/mutex"
#define GUARDED_NAME "stress/guarded"   /* shared memory the mutex guards */

struct stress_results {
    _Atomic long late_waits, checksum_failures, waits, abandoned, repaired, sealed_checked;
    _Atomic int64_t call_started_ms[WORKERS]; /* 0: not in a call */
};
/* Mapped shared by the killer before it forks anyone. */
extern struct stress_results *stress_results;

extern char stress_names[NAMED][300];
void stress_make_names(void);
DWORD stress_random_size(unsigned *seed);

/* A worker's life in slot: ops random calls, every answer checked; exits 0
 * when done, 3 on a wrong answer. */
void stress_worker(int slot, unsigned seed, int ops) __attribute__((noreturn));
/* Touches every name, promptly, while a worker is stopped; exits 0. */
void stress_checker(void) __attribute__((noreturn));
#endif
