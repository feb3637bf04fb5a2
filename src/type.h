/*
 * The registry of object types: the number each one's files carry in their
 * header (object.h), never reused, and its table (object_ops.h).  Adding a
 * type: a number here, a line in type.c, and the type's own file.
 */
#ifndef IW_TYPES_H
#define IW_TYPES_H
#include <stdint.h>

#include "object_ops.h"

enum iw_type { IW_TYPE_SHM = 1, IW_TYPE_EVENT, IW_TYPE_MUTEX, IW_TYPE_SEMAPHORE, IW_TYPE_END };

extern const struct iw_object_ops iw_shm_ops, iw_event_ops, iw_mutex_ops, iw_semaphore_ops;

/* The type of a file without a header: shared memory with a short name. */
const struct iw_object_ops *iw_type_plain(void);

/* The table of type number type, or NULL for a number no type has. */
const struct iw_object_ops *iw_type_ops(uint32_t type);
#endif
