/*
 * The handle table: per process, O(1).
 * A handle's value is (generation << 21) | (slot << 2), slot below 2^19,
 * generation 1..1023: as in Win32 a multiple of 4 (at least 0x200000, below
 * 2^31, so it survives a round trip through a 32-bit integer), and the low
 * two bits are ignored on use, so h|1, h|2 and h|3 name h's object in every
 * call.  A closed handle's value comes back only after its slot has been
 * reused 1023 times: a stale handle fails instead of reaching a new object.
 * Changes are made with the process lock held (object.h); lookups may be
 * made without it (see hazard.c).
 */
#ifndef IW_HANDLE_H
#define IW_HANDLE_H
#include <stdatomic.h>
#include <stdint.h>

#include <stdbool.h>
#include <stddef.h>

#include <iwin32.h>

struct iw_object;
struct iw_object_ops;

#define IW_HANDLE_TAG_BITS 2     /* ignored on use */
#define IW_HANDLE_SLOT_BITS 19
#define IW_HANDLE_GEN_SHIFT (IW_HANDLE_TAG_BITS + IW_HANDLE_SLOT_BITS)
#define IW_HANDLE_MAX_SLOTS (1u << IW_HANDLE_SLOT_BITS)
#define IW_HANDLE_GEN_LIMIT (1u << (31 - IW_HANDLE_GEN_SHIFT))
#define IW_HANDLE_CHUNK_SLOTS 1024u

/* Slots live in chunks that are never moved or freed, so a lock-free reader
 * (hazard.c) never reads freed memory.  Writers hold the process lock; a
 * slot's generation, ops and state are stored before its obj (release), so
 * a reader that sees obj sees the generation, type and state that came with
 * it (or later ones, and fails).  The type is kept here, next to obj, so
 * that a lock-free reader tells it without reading the object, which may be
 * freed under it (hazard.c says when); the state, so that a short call
 * (Set, Release, a wait's first try) touches the slot's line and the
 * state's, not the object's as well: with cold caches every line costs.
 * 32 bytes, in 64-byte aligned chunks: a slot never straddles two lines. */
struct iw_handle_slot {
    _Atomic uint32_t generation;    /* of the handle in it, or of the last one */
    uint32_t next_free;             /* free list, when obj is NULL */
    struct iw_object *_Atomic obj;
    const struct iw_object_ops *_Atomic ops;    /* obj->ops */
    void *_Atomic state;            /* iw_object_state(obj); NULL: no state */
};
_Static_assert(sizeof(struct iw_handle_slot) == 32, "a slot is half a cache line");
extern struct iw_handle_slot *_Atomic iw_handle_chunks[IW_HANDLE_MAX_SLOTS / IW_HANDLE_CHUNK_SLOTS];
/* The first chunk (iw_handle_chunks[0]) is static: a lookup among the
 * first 1024 handles - every handle, in most programs - reads no chunk
 * pointer, one cold line less on a short call. */
extern struct iw_handle_slot iw_handle_first_chunk[IW_HANDLE_CHUNK_SLOTS];

/* A new handle for obj, of type ops (obj->ops) with its state (NULL: none),
 * which already counts the reference it stands for; NULL when the table is
 * full or memory is short. */
HANDLE iw_handle_new(struct iw_object *obj, const struct iw_object_ops *ops, void *state);

/* Closes h and returns its object (whose reference the caller drops), or NULL. */
struct iw_object *iw_handle_remove(HANDLE h);

/* The parts of a handle's value: its slot and its generation (any higher
 * bits make it too large, and invalid). */
static inline uint32_t iw_handle_slot_of(HANDLE h)
{
    return (uint32_t)((uintptr_t)h >> IW_HANDLE_TAG_BITS & (IW_HANDLE_MAX_SLOTS - 1));
}
static inline uintptr_t iw_handle_gen_of(HANDLE h) { return (uintptr_t)h >> IW_HANDLE_GEN_SHIFT; }

/* Whether slot s holds handle h's object obj (h's generation, that object). */
static inline bool iw_handle_holds(struct iw_handle_slot *s, HANDLE h, const struct iw_object *obj)
{
    return atomic_load_explicit(&s->obj, memory_order_acquire) == obj &&
           atomic_load_explicit(&s->generation, memory_order_relaxed) == iw_handle_gen_of(h);
}

/* The slot of open handle h and, in *obj, its object; NULL for a value that
 * is not an open handle.  Inline: the short sync calls start here.  Without
 * the process lock, the object may be closed and freed at any moment: only
 * hazard.c does that, and validates what it found. */
static inline struct iw_handle_slot *iw_handle_find(HANDLE h, struct iw_object **obj)
{
    uint32_t i = iw_handle_slot_of(h);
    uintptr_t gen = iw_handle_gen_of(h);
    if (gen == 0 || gen >= IW_HANDLE_GEN_LIMIT)
        return NULL;
    struct iw_handle_slot *chunk =
        i < IW_HANDLE_CHUNK_SLOTS
            ? iw_handle_first_chunk
            : atomic_load_explicit(&iw_handle_chunks[i / IW_HANDLE_CHUNK_SLOTS], memory_order_acquire);
    if (chunk == NULL)
        return NULL;
    struct iw_handle_slot *s = &chunk[i % IW_HANDLE_CHUNK_SLOTS];
    *obj = atomic_load_explicit(&s->obj, memory_order_acquire);
    if (*obj == NULL || atomic_load_explicit(&s->generation, memory_order_relaxed) != gen)
        return NULL;
    return s;
}

/* The type of the object slot s held when iw_handle_find read it (or of a
 * later one: then iw_handle_holds fails). */
static inline const struct iw_object_ops *iw_handle_ops(struct iw_handle_slot *s)
{
    return atomic_load_explicit(&s->ops, memory_order_relaxed);
}

/* The same for its state. */
static inline void *iw_handle_state(struct iw_handle_slot *s)
{
    return atomic_load_explicit(&s->state, memory_order_relaxed);
}

/* The object behind h, or NULL (see iw_handle_find). */
static inline struct iw_object *iw_handle_lookup(HANDLE h)
{
    struct iw_object *obj;
    return iw_handle_find(h, &obj) ? obj : NULL;
}
#endif
