#include "type.h"

#include <stddef.h>

static const struct iw_object_ops *const types[] = {
    [IW_TYPE_SHM] = &iw_shm_ops,
    [IW_TYPE_EVENT] = &iw_event_ops,
    [IW_TYPE_MUTEX] = &iw_mutex_ops,
    [IW_TYPE_SEMAPHORE] = &iw_semaphore_ops,
};

const struct iw_object_ops *iw_type_ops(uint32_t type)
{
    return type < sizeof types / sizeof types[0] ? types[type] : NULL;
}

const struct iw_object_ops *iw_type_plain(void) { return &iw_shm_ops; }
