/*
 * Who is calling: identities for this process and this thread that are
 * unique across every process using a node (PIDs and TIDs are not: they are
 * reused, and differ between PID namespaces sharing one /dev/shm).  Random
 * per process, drawn again in a forked child.
 */
#ifndef IW_SELF_H
#define IW_SELF_H
#include <stdint.h>

uint64_t iw_self_process(void);
/* Never 0. */
uint64_t iw_self_thread(void);
/* fork.c: in the child. */
void iw_self_fork_child(void);
#endif
