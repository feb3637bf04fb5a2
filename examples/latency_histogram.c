/* Log-linear latency buckets: see latency_histogram.h. */
#include "latency_histogram.h"

/* Values below LATENCY_SUB_BUCKETS have a bucket each; above, the bucket is
 * the power of two (exponent e) and the next 4 bits below the top bit. */
static unsigned bucket_of(uint64_t ns)
{
    if (ns < LATENCY_SUB_BUCKETS)
        return (unsigned)ns;
    if (ns >> LATENCY_MAX_EXPONENT)
        ns = (UINT64_C(1) << LATENCY_MAX_EXPONENT) - 1;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns);          /* >= 4 */
    unsigned sub = (unsigned)(ns >> (e - 4)) & (LATENCY_SUB_BUCKETS - 1);
    return LATENCY_SUB_BUCKETS * (e - 3) + sub;
}

/* The smallest value of a bucket (bucket_of's inverse). */
static uint64_t bucket_floor(unsigned bucket)
{
    if (bucket < LATENCY_SUB_BUCKETS)
        return bucket;
    unsigned e = bucket / LATENCY_SUB_BUCKETS + 3, sub = bucket % LATENCY_SUB_BUCKETS;
    return (uint64_t)(LATENCY_SUB_BUCKETS + sub) << (e - 4);
}

void latency_record(struct latency_histogram *h, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    h->count[bucket_of((uint64_t)ns)]++;
    h->total++;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

void latency_merge(struct latency_histogram *dst, const struct latency_histogram *src)
{
    for (unsigned i = 0; i < LATENCY_BUCKETS; i++)
        dst->count[i] += src->count[i];
    dst->total += src->total;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
}

int64_t latency_percentile(const struct latency_histogram *h, double fraction)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(fraction * (double)h->total + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LATENCY_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            int64_t upper = (int64_t)bucket_floor(i + 1) - 1;
            return upper < h->max_ns ? upper : h->max_ns;
        }
    }
    return h->max_ns;
}
