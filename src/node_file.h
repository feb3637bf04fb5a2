/*
 * The node-file protocol: what a file in a node is, and how it is opened
 * and read - one place for every reader: the library opening an object
 * (object.c), and the inspection interface (inspect.c), which only looks.
 *
 *   names       an object's file name (name.h): "n-", "h-", "u-", "t-";
 *   the mark    the proof that the library made a file (mark.h);
 *   lifetime    the reference lock on byte 0 of every object file (reflock.h);
 *   layouts     below.
 *
 * File layouts (every file carries the library's mark):
 *   shared memory, "n-"/"u-" name: the data; the file size is the exact size.
 *   shared memory, "h-" name: a header page (struct iw_file_header), then the
 *       data; the file size is a page plus the exact size.
 *   a type with a state (event, mutex, semaphore: object_ops.h): mode has
 *       S_IXUSR; one page, the header at offset 0 and the state at
 *       IW_STATE_OFFSET.
 * Each type's table (object_ops.h) says which, and everything else about it.
 * The header and the size are written before the file gets its final name
 * (object.c: make_file, publish), so only a "t-" file may lack them.
 */
#ifndef IW_NODE_FILE_H
#define IW_NODE_FILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "mark.h"
#include "members.h"
#include "name.h"
#include "node.h"
#include "object_ops.h"
#include "reflock.h"

#define IW_FILE_MAGIC 0x4f573249u /* "I2WO" */

/* The layout is pinned: every process and library version sharing a node
 * reads it (a change bumps IW_NODE_VERSION, node.h). */
struct iw_file_header {
    uint32_t magic;
    uint32_t type;              /* type.h */
    uint32_t name_len;          /* the full name, for "h-" files */
    uint32_t layout;            /* the type's state layout (object_ops.h) */
    char name[MAX_PATH];
};
_Static_assert(offsetof(struct iw_file_header, type) == 4 && offsetof(struct iw_file_header, name_len) == 8 &&
                   offsetof(struct iw_file_header, layout) == 12 && offsetof(struct iw_file_header, name) == 16,
               "file header layout");
_Static_assert(sizeof(struct iw_file_header) <= IW_STATE_OFFSET, "the header ends before the state");

/* What a node file holds. */
struct iw_node_file {
    const struct iw_object_ops *ops; /* its type's table (type.h) */
    char name[IW_NAME_MAX + 1]; /* NUL-terminated; name_len 0: unnamed ("u-", "t-") */
    size_t name_len;
    uint64_t size;              /* shared memory: the exact size in bytes; others 0 */
    off_t data_offset;          /* shared memory: where the data starts in the file */
};

/* Identifies the file open as fd (*st its status) by its mark and header:
 * ERROR_SUCCESS, or ERROR_ACCESS_DENIED when the library did not make it or
 * it has no header yet (a "t-" file being made). */
DWORD iw_node_file_identify(const struct iw_node *node, int fd, const char *file, const struct stat *st,
                            struct iw_node_file *out);

/* Opens the object file of that name for a look, taking no lock, and
 * judges it (iw_reflock_probe): *state IW_REFLOCK_HELD when someone holds
 * it, IW_REFLOCK_FREE when nobody did and this call removed it.  Returns
 * the descriptor (the caller closes it) with *st as it is after the probe,
 * or -1 with errno: ENOENT (gone, or not the library's: passed over), or
 * what openat or fstat said (EMFILE...). */
int iw_node_file_look(const struct iw_node *node, const char *file, struct stat *st, enum iw_reflock_state *state);

/* Opens the object file of that name read-write and takes its reference
 * read lock: 0 with *fd and *st; EAGAIN when it went meanwhile (it was
 * being destroyed, or it was stale and this call removed it: the caller
 * looks the name up again); ENOENT when there is no such file; EACCES for
 * a file the library did not make (a symlink, never followed, a directory,
 * an unheld planted file); another errno on failure.  The file's pool pages
 * (*pages) are charged to this process's member slot (*charge) before
 * the lock, and discharged if it fails (members.h). */
int iw_node_file_hold(const struct iw_node *node, const char *file, int *fd, struct stat *st, uint64_t *pages,
                      struct iw_charge *charge);

/* Whether somebody holds the object with inode ino under that name now
 * (iw_reflock_seen_held): false if the name is gone, names another inode,
 * or nobody holds it.  Takes no lock (member_list.c). */
bool iw_node_file_held(const struct iw_node *node, const char *file, ino_t ino);

/* ---- making a file (object.c: make_file, publish) ---- */

/* Makes a fresh file for a new object under a unique "t-" name (into temp,
 * IW_UNIQUE_NAME_SIZE bytes) with the library's mark for its kind
 * (stateful: a type with a state page, object_ops.h), holding its reference read lock from the
 * start, so that the object is complete before anyone can see it by name.
 * hashed: an "h-" object, made as "t-h..." - a recount must know its data
 * starts after a header page before it has its final name (name.h).
 * 0 with *fd and *st, or an errno with nothing left. */
int iw_node_file_make(struct iw_node *node, bool stateful, bool hashed, char *temp, int *fd, struct stat *st);

/* Writes the header of a new file (of a type with a state, or an "h-"
 * shared memory's: it holds the full name).  false on failure. */
bool iw_node_file_write_header(int fd, const struct iw_object_ops *ops, const struct iw_name *name);

/* Gives a made file its final name, never replacing one: 0; EEXIST when
 * the name is taken; ENOENT when a recount removed the file before its
 * lock was taken (iw_node_file_make); another errno on failure. */
int iw_node_file_publish(struct iw_node *node, const char *temp, const char *file);

/* ---- letting go, mapping ---- */

/* Closes this process's descriptor of a held object file (its last), and
 * destroys the object if no other process holds it either: its name, then
 * its pool pages.  True when it found no other holder. */
bool iw_node_file_release(struct iw_node *node, int fd, const char *file);

/* Opens the held object file of that name again, read-write, for mapping:
 * a description of its own that carries no lock (object.h: iw_object_map
 * says why).  The descriptor, or -1 with errno set. */
int iw_node_file_open_map(const char *file);

/* Maps the first page of the held object file of that name between guard
 * pages (guard.h) through a description opened for that one mmap;
 * MAP_FAILED with errno set on failure. */
void *iw_node_file_map_page(const char *file, size_t page_size);
#endif
