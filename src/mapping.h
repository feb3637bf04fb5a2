/*
 * The shared-memory mappings this process made, for RtUnmapSharedMemory:
 * found by base address in O(1); an address inside a mapping (Win32 unmaps
 * the whole mapping then) is found by a scan, which only that rare case pays.
 */
#ifndef IW_MAPPING_H
#define IW_MAPPING_H
#include <stdbool.h>
#include <stddef.h>

/* owner: what the mapping is of (shm.c: its object's record). */
bool iw_mapping_add(void *base, size_t len, void *owner);
/* Forgets the mapping at or around addr; returns its base, length and
 * owner, or false. */
bool iw_mapping_remove(const void *addr, void **base, size_t *len, void **owner);

/* Held across fork, released in the parent and the child alike. */
void iw_mapping_fork_prepare(void);
void iw_mapping_fork_parent(void);
#endif
