/*
 * Who holds an object, for the inspection interface (inspect.c): counted
 * from /proc (inspect_holders.c).
 */
#ifndef IW_INSPECT_H
#define IW_INSPECT_H
#include <stddef.h>
#include <sys/types.h>

#include "iwin32_inspect.h"

/* Counts each object's holders and lists the processes with a descriptor
 * on it that this user may see (this process left out), replacing what
 * holders, pids and pidCount held.  0, or an errno when /proc/locks cannot
 * be read. */
int iw_inspect_count_holders(IWIN32_OBJECT_INFO *objs, size_t n);

/* The process of thread tid, from /proc/TID/status; 0 when it is not
 * visible here. */
pid_t iw_inspect_thread_group(pid_t tid);
#endif
