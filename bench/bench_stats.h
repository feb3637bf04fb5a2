/*
 * What every benchmark measures with: the clock and the median.
 */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* qsort's order for doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

/* The median of v[0..n) (v is left as it is); 0 for no samples, NaN if a
 * copy to sort could not be made. */
double bench_median(const double *v, size_t n);
#endif
