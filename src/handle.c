#include "handle.h"

#include <stdint.h>
#include <stdlib.h>

#include "export.h"
#include "last_error.h"
#include "records.h"

#define SLOT_BITS 20
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define MAX_SLOTS (1u << SLOT_BITS)
#define GEN_LIMIT (1u << 11)

struct slot {
    uint32_t generation;        /* of the handle in it, or of the last one */
    uint32_t next_free;         /* free list, when obj is NULL */
    struct iw_object *obj;
};

static struct slot *slots;
static uint32_t nslots, capacity;
static uint32_t free_head = UINT32_MAX;

HANDLE iw_handle_new(struct iw_object *obj)
{
    uint32_t i;
    if (free_head != UINT32_MAX) {
        i = free_head;
        free_head = slots[i].next_free;
    } else {
        if (nslots == capacity) {
            uint32_t ncap = capacity ? capacity * 2 : 64;
            if (ncap > MAX_SLOTS)
                ncap = MAX_SLOTS;
            if (ncap == capacity)
                return NULL;
            struct slot *grown = realloc(slots, ncap * sizeof *slots);
            if (grown == NULL)
                return NULL;
            slots = grown;
            capacity = ncap;
        }
        i = nslots++;
        slots[i].generation = 0;
    }
    uint32_t gen = slots[i].generation % (GEN_LIMIT - 1) + 1;
    slots[i].generation = gen;
    slots[i].obj = obj;
    return (HANDLE)(uintptr_t)((uintptr_t)gen << SLOT_BITS | i);
}

static struct slot *find(HANDLE h)
{
    uintptr_t v = (uintptr_t)h;
    uint32_t i = (uint32_t)(v & SLOT_MASK);
    uintptr_t gen = v >> SLOT_BITS;
    if (gen == 0 || gen >= GEN_LIMIT || i >= nslots)
        return NULL;
    struct slot *s = &slots[i];
    return (s->obj != NULL && s->generation == gen) ? s : NULL;
}

struct iw_object *iw_handle_lookup(HANDLE h)
{
    struct slot *s = find(h);
    return s ? s->obj : NULL;
}

struct iw_object *iw_handle_remove(HANDLE h)
{
    struct slot *s = find(h);
    if (s == NULL)
        return NULL;
    struct iw_object *obj = s->obj;
    s->obj = NULL;
    s->next_free = free_head;
    free_head = (uint32_t)(s - slots);
    return obj;
}

IW_API BOOLEAN CloseHandle(HANDLE hObject)
{
    iw_process_lock();
    struct iw_object *obj = iw_handle_remove(hObject);
    iw_process_unlock();
    if (obj == NULL) {
        iw_set_error(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    iw_object_put(obj);
    return TRUE;
}
