#include "mapping.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

struct mapping {
    struct mapping *next;
    uintptr_t base;
    size_t len;
    void *owner;
};

static pthread_mutex_t mapping_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct mapping **buckets;
static size_t nbuckets, count;

static size_t bucket_of(uintptr_t base, size_t n)
{
    return (size_t)((base >> 12) * 0x9E3779B97F4A7C15ull >> 20) & (n - 1);
}

static void grow(void)
{
    size_t n = nbuckets ? nbuckets * 2 : 64;
    struct mapping **fresh = calloc(n, sizeof *fresh);
    if (fresh == NULL)
        return; /* keep the old table: only slower */
    for (size_t i = 0; i < nbuckets; i++)
        for (struct mapping *m = buckets[i], *next; m; m = next) {
            next = m->next;
            size_t b = bucket_of(m->base, n);
            m->next = fresh[b];
            fresh[b] = m;
        }
    free(buckets);
    buckets = fresh;
    nbuckets = n;
}

bool iw_mapping_add(void *base, size_t len, void *owner)
{
    struct mapping *m = malloc(sizeof *m);
    if (m == NULL)
        return false;
    m->base = (uintptr_t)base;
    m->len = len;
    m->owner = owner;
    pthread_mutex_lock(&mapping_mutex);
    if (count >= nbuckets)
        grow();
    if (nbuckets == 0) {
        pthread_mutex_unlock(&mapping_mutex);
        free(m);
        return false;
    }
    size_t b = bucket_of(m->base, nbuckets);
    m->next = buckets[b];
    buckets[b] = m;
    count++;
    pthread_mutex_unlock(&mapping_mutex);
    return true;
}

static struct mapping **find_link(uintptr_t addr)
{
    if (nbuckets == 0)
        return NULL;
    for (struct mapping **link = &buckets[bucket_of(addr, nbuckets)]; *link; link = &(*link)->next)
        if ((*link)->base == addr)
            return link;
    for (size_t i = 0; i < nbuckets; i++)
        for (struct mapping **link = &buckets[i]; *link; link = &(*link)->next)
            if (addr - (*link)->base < (*link)->len)
                return link;
    return NULL;
}

bool iw_mapping_remove(const void *addr, void **base, size_t *len, void **owner)
{
    pthread_mutex_lock(&mapping_mutex);
    struct mapping **link = find_link((uintptr_t)addr);
    struct mapping *m = link ? *link : NULL;
    if (m) {
        *link = m->next;
        count--;
    }
    pthread_mutex_unlock(&mapping_mutex);
    if (m == NULL)
        return false;
    *base = (void *)m->base;
    *len = m->len;
    *owner = m->owner;
    free(m);
    return true;
}

void iw_mapping_fork_prepare(void) { pthread_mutex_lock(&mapping_mutex); }
void iw_mapping_fork_parent(void) { pthread_mutex_unlock(&mapping_mutex); }
