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
 *   event, mutex, semaphore: mode has S_IXUSR; one page, the header at
 *       offset 0 and the object's shared state at IW_STATE_OFFSET.
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
#include "name.h"
#include "node.h"
#include "reflock.h"

enum iw_type { IW_TYPE_SHM = 1, IW_TYPE_EVENT, IW_TYPE_MUTEX, IW_TYPE_SEMAPHORE };

#define IW_FILE_MAGIC 0x4f573249u /* "I2WO" */
#define IW_STATE_OFFSET 512

struct iw_file_header {
    uint32_t magic;
    uint32_t type;
    uint32_t name_len;          /* the full name, for "h-" files */
    char name[MAX_PATH];
};

/* What a node file holds. */
struct iw_node_file {
    enum iw_type type;
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
 * an unheld planted file); another errno on failure. */
int iw_node_file_hold(const struct iw_node *node, const char *file, int *fd, struct stat *st);
#endif
