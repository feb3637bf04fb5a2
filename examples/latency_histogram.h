/*
 * A latency histogram for the demo: fixed size and free of pointers, so it
 * lives in shared memory and a copy of it is a snapshot.  Buckets are
 * log-linear (16 per power of two, about 6 % wide), so percentiles from
 * nanoseconds to minutes cost 5 KiB and no allocation on the real-time path.
 */
#ifndef IWIN32_LATENCY_HISTOGRAM_H
#define IWIN32_LATENCY_HISTOGRAM_H

#include <stdint.h>

#define LATENCY_SUB_BUCKETS 16          /* per power of two */
#define LATENCY_MAX_EXPONENT 40         /* 2^40 ns, 18 minutes: larger values are clamped */
#define LATENCY_BUCKETS (LATENCY_SUB_BUCKETS * (LATENCY_MAX_EXPONENT - 3))

struct latency_histogram {
    uint64_t count[LATENCY_BUCKETS];
    uint64_t total;
    int64_t max_ns;
};

void latency_record(struct latency_histogram *h, int64_t ns);
/* Adds every value of src to dst. */
void latency_merge(struct latency_histogram *dst, const struct latency_histogram *src);
/* The value below which the given fraction (0..1] of the values lie, as the
 * upper end of its bucket (never above the maximum); 0 when empty. */
int64_t latency_percentile(const struct latency_histogram *h, double fraction);

#endif
