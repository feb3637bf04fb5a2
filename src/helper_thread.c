#include "helper_thread.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <unistd.h>

int iw_helper_thread_start(pthread_t *thread, void *(*main)(void *), void *arg, const char *name)
{
    pthread_attr_t attr;
    struct sched_param normal = {.sched_priority = 0};
    pthread_attr_init(&attr);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
    pthread_attr_setschedparam(&attr, &normal);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The process's CPUs (its main thread's), not its creator's: a waiter
     * pinned to a CPU that a higher-priority thread keeps busy would
     * otherwise start a watcher that never runs there. */
    cpu_set_t cpus;
    bool placed = sched_getaffinity(getpid(), sizeof cpus, &cpus) == 0 &&
                  pthread_attr_setaffinity_np(&attr, sizeof cpus, &cpus) == 0;
    /* The new thread starts with its creator's mask. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(thread, &attr, main, arg);
    if (rc == EINVAL && placed) { /* CPUs this thread's cpuset lacks: its creator's, then */
        cpu_set_t mine;
        if (sched_getaffinity(0, sizeof mine, &mine) == 0 && pthread_attr_setaffinity_np(&attr, sizeof mine, &mine) == 0)
            rc = pthread_create(thread, &attr, main, arg);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc == 0)
        pthread_setname_np(*thread, name);
    return rc;
}
