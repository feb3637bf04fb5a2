/*
 * Objects as this process sees them.  Every object of the node is a file
 * (see name.h for its name, reflock.h for its lifetime, pool.h for its
 * pages).  A process keeps one record per object it holds - one descriptor,
 * one reference lock - however many handles point at it, so a repeated Open
 * of a name this process already holds takes no lock call: only its mapping
 * (see iw_object_map).
 *
 * File layouts, and how a file is identified and opened: node_file.h; each
 * type's table (object_ops.h) says everything else about it.
 */
#ifndef IW_OBJECT_H
#define IW_OBJECT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hazard.h"
#include "last_error.h"
#include "name.h"
#include "node.h"
#include "node_file.h"
#include "object_ops.h"

struct iw_object {
    struct iw_object *next;     /* this process's objects, by file name */
    _Atomic unsigned refs;      /* handles, calls in flight, mappings; changed
                                   under the process lock, except a change
                                   between two nonzero values (object.c) */
    unsigned handles;           /* the references that are (or are about to
                                   become) handles; under the process lock */
    bool unnamed;               /* its last handle is closed: out of the
                                   records, its file let go (object.c) */
    uint64_t serial;            /* unique among this process's records, ever */
    int fd;                     /* holds the reference lock; never mapped:
                                   see iw_object_map */
    _Atomic int map_fd;         /* shared memory mapped more than once: a
                                   description without a lock kept for
                                   mapping (iw_object_map); -1 before */
    _Atomic bool mapped;        /* shared memory: mapped at least once */
    void *_Atomic spare;        /* shared memory: a mapping kept, inaccessible,
                                   for the next Open (shm.c); NULL: none */
    int fork_fd;                /* a child's own description, made at fork */
    bool shared;                /* fd's description is shared with a parent or
                                   child (fork could not make one): never used
                                   to destroy (records.c) */
    const struct iw_object_ops *ops;    /* its type */
    ino_t ino;                  /* of the file, while it is being made */
    uint64_t size;              /* shared memory: the exact size in bytes */
    off_t data_offset;          /* shared memory: where the data starts in the file */
    void *page;                 /* a type with a state: its page, mapped */
    uint64_t pages;             /* shared memory: its pool pages, charged to */
    struct iw_charge charge;    /* its pages charged to a member slot (members.h) */
    char file[IW_FILE_NAME_SIZE];
};

/* Creates the named (or unnamed) object of type ops, or finds the existing
 * one of the same name.  A data object: size > 0, params NULL; a type with
 * a state: size 0, params for its init.  On success *existed tells which;
 * the object carries one reference. */
DWORD iw_object_create(const struct iw_object_ops *ops, const struct iw_name *name, uint64_t size,
                       const void *params, struct iw_object **out, bool *existed);

/* Opens the existing object of that name and type (a NULL or empty name is
 * ERROR_INVALID_PARAMETER, as for every Open call). */
DWORD iw_object_open(const struct iw_object_ops *ops, LPCTSTR lpName, struct iw_object **out);

/* Drops one reference; the last one in this process lets go of the object,
 * and destroys it if no other process holds it. */
void iw_object_put(struct iw_object *obj);

/* Drops a reference that stands for a handle (closed, or never made): the
 * last one in this process lets go of the object's name and file at once,
 * even while calls in flight (waits) keep the object itself (SPEC 4). */
void iw_object_close(struct iw_object *obj);

/* A reference on an object the caller has pinned (hazard.h) through a
 * handle, so that it may sleep on it; false (ERROR_INVALID_HANDLE set) if
 * its last reference went meanwhile: the handle was closed. */
bool iw_object_get_pinned(struct iw_object *obj);
/* The same with no error set: false if its last reference went (the caller
 * has another way to know the object is still in memory). */
bool iw_object_get_live(struct iw_object *obj);

/* The shared state of a type that has one, in its page. */
static inline void *iw_object_state(const struct iw_object *obj)
{
    return (char *)obj->page + IW_STATE_OFFSET;
}

/* The object behind handle h if it is of type ops (or, ops NULL,
 * waitable: iw_ops_are), with a reference the caller drops with
 * iw_object_put; NULL (and ERROR_INVALID_HANDLE set) otherwise. */
struct iw_object *iw_object_from_handle(HANDLE h, const struct iw_object_ops *ops);

/* Maps len bytes of obj's file from offset, populated (and locked where
 * permitted: no page faults after).  Never through obj->fd: a
 * mapping pins the open file description it was made from, and with it any
 * lock on it, so every mapping would become a reference (SPEC 3: it is not;
 * an unlock at CloseHandle would not help: a forked child's copy of the
 * mapping would keep a killed parent's lock alive).
 * The mapping is made through a second description of the file, opened by
 * name (stable while we hold the object: only a write-lock holder unlinks),
 * which carries no lock, so mappings may pin it.  The first mapping closes
 * it again (a process mapping each object once keeps one descriptor per
 * object); from the second on, the record keeps it in map_fd until the
 * process lets go, so a repeated Open in this process is one mmap. */
void *iw_object_map(struct iw_object *obj, size_t len, off_t offset);
/* The same for the state page of an object held under
 * that file name, between guard pages (guard.h): the library's own state,
 * out of reach of a user's overrun.  iw_guard_unmap undoes it. */
void *iw_object_map_page(const char *file, size_t page_size);

/* A new handle standing for obj's reference; on failure (table full, no
 * memory) drops the reference and returns NULL with the last error set. */
HANDLE iw_object_handle(struct iw_object *obj);

/* Creates or opens an object with a state and returns a handle to it: the
 * Create/Open calls of events, mutexes and semaphores share all but their
 * state (params: the type's, for its init). */
HANDLE iw_object_create_handle(const struct iw_object_ops *ops, LPCTSTR lpName, const void *params);
HANDLE iw_object_open_handle(const struct iw_object_ops *ops, LPCTSTR lpName);

#endif
