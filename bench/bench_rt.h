/*
 * iwin32-bench-rt: what the parts of the real-time benchmark share (see
 * bench_rt.c for the whole and README.md for the cases).
 */
#ifndef IWIN32_BENCH_RT_H
#define IWIN32_BENCH_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

extern bool rt_quick;          /* --quick: short smoke run */
extern bool rt_fifo;           /* SCHED_FIFO was granted (else everything runs SCHED_OTHER) */
extern int rt_ncpu;            /* allowed CPUs used: 1 or 2 (the first two) */
extern int rt_cpu[2];          /* their numbers */
extern pid_t rt_parent;
extern pid_t rt_child;         /* a helper process to kill at exit, or -1 */

void rt_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
uint64_t rt_now(void);                    /* CLOCK_MONOTONIC, ns */
bool rt_set_fifo(int prio);               /* this thread: SCHED_FIFO prio, or SCHED_OTHER if prio == 0 */
void rt_pin(int cpu);                     /* this thread onto one CPU (-1: every allowed CPU) */
void rt_spin_until(uint64_t t);           /* busy until rt_now() >= t */

/* Latency statistics over n samples (ns); sorts v. */
struct rt_stats { double p50, p99, p999, max; size_t n; };
struct rt_stats rt_stats_of(uint64_t *v, size_t n);

/* stress-ng load on every CPU, for at most `seconds` (its own --timeout);
 * rt_load_start returns false when stress-ng is not installed. */
bool rt_load_start(unsigned seconds);
void rt_load_stop(void);

/* The cases (bench_rt_wake.c, bench_rt_cases.c, bench_rt_audit.c). */
/* multi: the 16-object wait vs one object vs a raw futex_waitv (bench_rt_wake.c) */
void rt_wake_case(unsigned period_us, unsigned samples, size_t evict_bytes, bool load, bool multi);
void rt_inversion_case(void);
void rt_churn_case(bool load);
void rt_audit_case(void);
int rt_audit_child(const char *op, unsigned long n); /* --audit-loop OP N (under strace) */

#endif
