#include "handle.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "export.h"
#include "last_error.h"
#include "records.h"

#define SLOT_BITS 20
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define MAX_SLOTS (1u << SLOT_BITS)
#define GEN_LIMIT (1u << 11)
#define CHUNK_SLOTS 1024u

/* Slots live in chunks that are never moved or freed, so a lock-free reader
 * (iw_handle_peek) never reads freed memory.  Writers hold the process
 * lock; a slot's generation is stored before its obj (release), so a
 * reader that sees obj sees the generation that came with it (or a later
 * one, and fails). */
struct slot {
    _Atomic uint32_t generation;    /* of the handle in it, or of the last one */
    uint32_t next_free;             /* free list, when obj is NULL */
    struct iw_object *_Atomic obj;
};

static struct slot *_Atomic chunks[MAX_SLOTS / CHUNK_SLOTS];
static uint32_t nslots;
static uint32_t free_head = UINT32_MAX;

static struct slot *slot_at(uint32_t i)
{
    struct slot *chunk = atomic_load_explicit(&chunks[i / CHUNK_SLOTS], memory_order_acquire);
    return chunk ? &chunk[i % CHUNK_SLOTS] : NULL;
}

HANDLE iw_handle_new(struct iw_object *obj)
{
    uint32_t i;
    struct slot *s;
    if (free_head != UINT32_MAX) {
        i = free_head;
        s = slot_at(i);
        free_head = s->next_free;
    } else {
        if (nslots == MAX_SLOTS)
            return NULL;
        i = nslots;
        s = slot_at(i);
        if (s == NULL) {
            struct slot *chunk = calloc(CHUNK_SLOTS, sizeof *chunk);
            if (chunk == NULL)
                return NULL;
            atomic_store_explicit(&chunks[i / CHUNK_SLOTS], chunk, memory_order_release);
            s = chunk;
        }
        nslots++;
    }
    uint32_t gen = atomic_load_explicit(&s->generation, memory_order_relaxed) % (GEN_LIMIT - 1) + 1;
    atomic_store_explicit(&s->generation, gen, memory_order_relaxed);
    atomic_store_explicit(&s->obj, obj, memory_order_release);
    return (HANDLE)(uintptr_t)((uintptr_t)gen << SLOT_BITS | i);
}

/* The slot of an open handle h and its object, or NULL. */
static struct slot *find(HANDLE h, struct iw_object **obj)
{
    uintptr_t v = (uintptr_t)h;
    uint32_t i = (uint32_t)(v & SLOT_MASK);
    uintptr_t gen = v >> SLOT_BITS;
    if (gen == 0 || gen >= GEN_LIMIT)
        return NULL;
    struct slot *s = slot_at(i);
    if (s == NULL)
        return NULL;
    *obj = atomic_load_explicit(&s->obj, memory_order_acquire);
    if (*obj == NULL || atomic_load_explicit(&s->generation, memory_order_relaxed) != gen)
        return NULL;
    return s;
}

struct iw_object *iw_handle_lookup(HANDLE h)
{
    struct iw_object *obj;
    return find(h, &obj) ? obj : NULL;
}

struct iw_object *iw_handle_remove(HANDLE h)
{
    struct iw_object *obj;
    struct slot *s = find(h, &obj);
    if (s == NULL)
        return NULL;
    atomic_store_explicit(&s->obj, NULL, memory_order_relaxed);
    s->next_free = free_head;
    free_head = (uint32_t)((uintptr_t)h & SLOT_MASK);
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
