#include "self.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

_Atomic uint64_t iw_self_process_id;
__thread uint64_t iw_self_thread_id __attribute__((tls_model("initial-exec")));
static _Atomic uint64_t threads_seen;

static uint64_t draw(void)
{
    uint64_t v;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
        struct timespec ts; /* no entropy yet (early boot): time and pid */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec << 32 ^ (uint64_t)getpid();
    }
    return v | 1; /* never 0: 0 means "nobody" */
}

/* The child's only thread is the forking one: it gets new identities. */
void iw_self_fork_child(void)
{
    atomic_store(&iw_self_process_id, 0);
    iw_self_thread_id = 0;
}

/* The first call in this process (or since fork). */
uint64_t iw_self_process_draw(void)
{
    uint64_t fresh = draw();
    return atomic_compare_exchange_strong(&iw_self_process_id, &(uint64_t){0}, fresh)
               ? fresh
               : atomic_load(&iw_self_process_id);
}

/* The first call in this thread: the process's identity and a serial,
 * unique, never 0. */
uint64_t iw_self_thread_draw(void)
{
    iw_self_thread_id = iw_self_process() + 2 * (atomic_fetch_add(&threads_seen, 1) + 1);
    return iw_self_thread_id;
}
