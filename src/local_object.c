#include "local_object.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "hazard.h"
#include "last_error.h"

/* The record and the state in one block: the record first, then what
 * iw_object_state expects, a "page" whose state starts at IW_STATE_OFFSET
 * (the 512 bytes before it stand for a named object's file header). */
struct local_block {
    struct iw_object obj;
    _Alignas(64) char page[];
};

struct iw_object *iw_local_object_new(const struct iw_object_ops *ops)
{
    struct local_block *b = calloc(1, sizeof *b + IW_STATE_OFFSET + ops->state_size);
    if (b == NULL) {
        iw_set_error(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    b->obj.ops = ops;
    b->obj.fd = -1;
    b->obj.fork_fd = -1;
    b->obj.page = b->page;
    atomic_init(&b->obj.refs, 1);
    return &b->obj;
}

void iw_local_object_get(struct iw_object *obj) { atomic_fetch_add(&obj->refs, 1); }

void iw_local_object_put(struct iw_object *obj)
{
    if (atomic_fetch_sub(&obj->refs, 1) != 1)
        return;
    /* The last reference: no handle is left, but a call that found one
     * before it was closed may still have it pinned (waitable types only:
     * hazard.h). */
    if (iw_ops_waitable(obj->ops))
        iw_hazard_wait_unpinned(obj);
    obj->ops->free_local(iw_object_state(obj));
    free(obj); /* the block starts with the record */
}
