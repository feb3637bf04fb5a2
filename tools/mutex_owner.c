/*
 * A mutex's owner as the kernel knows it, for show and ls --json.
 *
 * The library's own owner record (src/mutex.c: owner_thread) holds random
 * identities, not pids.  The lock is a robust, priority-inheriting pthread
 * mutex, and for those the futex word itself is the kernel's: the owner's
 * TID in its low 30 bits, FUTEX_OWNER_DIED set by the kernel when the owner
 * died holding it (the next locker then gets EOWNERDEAD - WAIT_ABANDONED_0).
 * The word is read with one atomic load from a read-only mapping, never
 * written; its place is glibc's public __data.__lock.  A multi-object
 * waiter's watcher that took the mutex from a dead owner marks it
 * "abandoned" in the library's state until the next acquirer reports it.
 *
 * The TID is the owner's in the pid namespace of the process that locked
 * it; its pid (thread group) comes from /proc/TID/status when that thread
 * is visible here.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "cli.h"
#include "mutex_state.h"

static pid_t thread_group(pid_t tid)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
    FILE *f = fopen(path, "re");
    pid_t pid = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Tgid: %d", &pid) == 1)
            break;
    if (f)
        fclose(f);
    return pid;
}

int cli_mutex_owner(const struct iw_node *node, int fd, struct cli_mutex_owner *out)
{
    memset(out, 0, sizeof *out);
    const char *page = mmap(NULL, node->page_size, PROT_READ, MAP_SHARED, fd, 0);
    if (page == MAP_FAILED)
        return -1;
    const struct mutex_state *m = (const void *)(page + IW_STATE_OFFSET);
    uint32_t word = atomic_load((_Atomic uint32_t *)&m->lock.__data.__lock);
    out->tid = (pid_t)(word & FUTEX_TID_MASK);
    out->pid = out->tid ? thread_group(out->tid) : 0;
    out->depth = out->tid ? atomic_load(&m->depth) : 0;
    out->abandoned = (word & FUTEX_OWNER_DIED) || atomic_load(&m->abandoned);
    out->waiters = atomic_load(&m->waiters);
    munmap((void *)page, node->page_size);
    return 0;
}
