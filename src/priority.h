/*
 * The one mapping of priorities onto SCHED_FIFO (priority.c), for the other
 * calls that take an RTX priority (RtCreateTimer: timer.c).
 */
#ifndef IW_PRIORITY_H
#define IW_PRIORITY_H

/* The SCHED_FIFO priority of RTX priority rtx (0 .. 127). */
int iw_fifo_of_rtx(int rtx);

/* Records that the calling thread now runs at RTX priority rtx (set by
 * RtSetThreadPriority, or given at its creation by pthread attributes), so
 * that RtGetThreadPriority returns rtx exactly. */
void iw_priority_record(int rtx);
#endif
