/*
 * Who is calling: identities for this process and this thread that are
 * unique across every process using a node (PIDs and TIDs are not: they are
 * reused, and differ between PID namespaces sharing one /dev/shm).  Random
 * per process, drawn again in a forked child.
 *
 * Both are read on every mutex acquisition and release: the reads are
 * inline (a TLS load and a global load), the first draw out of line.
 */
#ifndef IW_SELF_H
#define IW_SELF_H
#include <stdatomic.h>
#include <stdint.h>

extern _Atomic uint64_t iw_self_process_id;
extern __thread uint64_t iw_self_thread_id __attribute__((tls_model("initial-exec")));
/* Out of line and cold: inlined, their register saves would land on every
 * caller's fast path. */
__attribute__((noinline, cold)) uint64_t iw_self_process_draw(void);
__attribute__((noinline, cold)) uint64_t iw_self_thread_draw(void);

static inline uint64_t iw_self_process(void)
{
    uint64_t id = atomic_load_explicit(&iw_self_process_id, memory_order_relaxed);
    return id ? id : iw_self_process_draw();
}

/* Never 0. */
static inline uint64_t iw_self_thread(void)
{
    uint64_t id = iw_self_thread_id;
    return id ? id : iw_self_thread_draw();
}

/* fork.c: in the child. */
void iw_self_fork_child(void);
#endif
