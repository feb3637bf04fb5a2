#include "handle.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>


struct iw_handle_slot iw_handle_first_chunk[IW_HANDLE_CHUNK_SLOTS] __attribute__((aligned(64)));
struct iw_handle_slot *_Atomic iw_handle_chunks[IW_HANDLE_MAX_SLOTS / IW_HANDLE_CHUNK_SLOTS] = {
    iw_handle_first_chunk};
static uint32_t nslots;
static uint32_t free_head = UINT32_MAX;

static struct iw_handle_slot *slot_at(uint32_t i)
{
    struct iw_handle_slot *chunk =
        atomic_load_explicit(&iw_handle_chunks[i / IW_HANDLE_CHUNK_SLOTS], memory_order_acquire);
    return chunk ? &chunk[i % IW_HANDLE_CHUNK_SLOTS] : NULL;
}

HANDLE iw_handle_new(struct iw_object *obj, const struct iw_object_ops *ops, void *state)
{
    uint32_t i;
    struct iw_handle_slot *s;
    if (free_head != UINT32_MAX) {
        i = free_head;
        s = slot_at(i);
        free_head = s->next_free;
    } else {
        if (nslots == IW_HANDLE_MAX_SLOTS)
            return NULL;
        i = nslots;
        s = slot_at(i);
        if (s == NULL) {
            /* Line-aligned, so that a slot lies in one line; chunks are
             * never freed, so the pointer calloc gave needs no keeping
             * (calloc, not aligned_alloc: the benchmark's allocation
             * count sees it). */
            char *mem = calloc(1, IW_HANDLE_CHUNK_SLOTS * sizeof(struct iw_handle_slot) + 64);
            if (mem == NULL)
                return NULL;
            struct iw_handle_slot *chunk = (struct iw_handle_slot *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
            atomic_store_explicit(&iw_handle_chunks[i / IW_HANDLE_CHUNK_SLOTS], chunk, memory_order_release);
            s = chunk;
        }
        nslots++;
    }
    uint32_t gen = atomic_load_explicit(&s->generation, memory_order_relaxed) % (IW_HANDLE_GEN_LIMIT - 1) + 1;
    atomic_store_explicit(&s->generation, gen, memory_order_relaxed);
    atomic_store_explicit(&s->ops, ops, memory_order_relaxed);
    atomic_store_explicit(&s->state, state, memory_order_relaxed);
    atomic_store_explicit(&s->obj, obj, memory_order_release);
    return (HANDLE)((uintptr_t)gen << IW_HANDLE_GEN_SHIFT | (uintptr_t)i << IW_HANDLE_TAG_BITS);
}

struct iw_object *iw_handle_remove(HANDLE h)
{
    struct iw_object *obj;
    struct iw_handle_slot *s = iw_handle_find(h, &obj);
    if (s == NULL)
        return NULL;
    atomic_store_explicit(&s->obj, NULL, memory_order_relaxed);
    s->next_free = free_head;
    free_head = iw_handle_slot_of(h);
    return obj;
}

