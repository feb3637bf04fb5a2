/*
 * fork: one set of handlers for the whole library (fork.c).
 */
#ifndef IW_FORK_H
#define IW_FORK_H
/* Installs them, once: called by every Create and Open before it holds
 * anything, and by InitializeCriticalSection (a section's owner is an
 * identity); a process that did neither has nothing a child could
 * inherit: no records, handles, pins, identities or watchers. */
void iw_fork_watch(void);
#endif
