/*
 * The library's own helper threads (a mutex's watchers: mutex_watch.c; the
 * exit watcher: process_watch.c): detached, every signal blocked (the
 * application's handlers must not run on them, and a signal meant for the
 * process must reach one of its own threads), SCHED_OTHER whatever their
 * creator runs at (a watcher lifts itself where it must), on the CPUs of
 * the process's main thread whatever its creator is pinned to, a small
 * stack, and a name (ps -L, top -H show it; a user may place it).
 */
#ifndef IW_HELPER_THREAD_H
#define IW_HELPER_THREAD_H
#include <pthread.h>

/* pthread_create's result; name: at most 15 bytes. */
int iw_helper_thread_start(pthread_t *thread, void *(*main)(void *), void *arg, const char *name);
#endif
