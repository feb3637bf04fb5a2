/*
 * Each synchronization type's state described for the tools
 * (iwin32_inspect.h): read from a read-only mapping of another process's
 * object, with atomic loads, never changed.  One function beside each
 * type's code, which alone knows its state's layout.
 */
#ifndef IW_DESCRIBE_H
#define IW_DESCRIBE_H
#include "iwin32_inspect.h"

/* state: the object's shared state (IW_STATE_OFFSET into its page). */
void iw_event_describe(const void *state, IWIN32_OBJECT_STATE *out);
void iw_semaphore_describe(const void *state, IWIN32_OBJECT_STATE *out);
/* The owner's thread as the kernel knows it; ownerPid is left 0. */
void iw_mutex_describe(const void *state, IWIN32_OBJECT_STATE *out);
#endif
