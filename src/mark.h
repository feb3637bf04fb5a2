/*
 * The library's mark: how a file in a node is proven to be one the library
 * made, before anything removes it, counts it, lists it or opens it as an
 * object (SPEC 8).  A user's file that merely has one of the library's
 * prefixes ("n-otes.txt" in a directory IWIN32_ROOT was pointed at by
 * mistake, or planted in a real node) is never touched.
 *
 * Every file the library makes in a node is created with a mode nobody makes
 * by accident: the node's file mode (0600; 0660 in a group-shared node) plus
 * the sticky bit, which means nothing on a regular file and which no editor,
 * touch, or cp without -p/-a ever sets.  An event's, mutex's or semaphore's
 * file also has owner-execute: what tells it from shared memory, whose
 * plain ("n-", "u-") files are all data.  So:
 *
 *   shared memory ("n-", "u-", "h-")   mode 01600 (01660)
 *   event, mutex, semaphore           mode 01700 (01760)
 *
 * A file is proven the library's when it is a regular file (never followed
 * through a symlink), made by the caller (its owner) or, in a group-shared
 * node, by a member (the directory's setgid bit gave it the group), with
 * exactly one of those modes - and, where the file has a header (events,
 * mutexes, semaphores, "h-" shared memory), with the header's magic and a
 * type that agrees with the mode.  The header and the mode are set before
 * the file gets its name, so only a "t-" file (an object being made, or a
 * node's .node being made) may lack them: for a "t-" file the sticky bit,
 * the owner and no mode bits beyond ours are the proof (a umask may have
 * taken bits off before its maker, killed, could restore them).
 *
 * Why a mode: it costs nothing (openat takes it), and it survives whatever
 * the objects' users do with them (writes and truncation clear set-user-ID
 * and set-group-ID, never the sticky bit; only the owner can chmod).  A
 * user.* extended attribute would need Linux 6.6 on tmpfs (Debian 12 ships
 * 6.1); a header page on every object would cost a write (about 2 us) and a
 * page per shared memory Create.  No per-file data is stored, so neither
 * the creator's pid nor a creation time is kept (statx's birth time, where
 * the kernel's tmpfs reports one, is the file's creation).
 */
#ifndef IW_MARK_H
#define IW_MARK_H
#include <stdbool.h>
#include <sys/stat.h>

#include "node.h"

struct iw_file_header;
struct iw_object_ops;

/* What a file's mode and owner say it is. */
enum iw_mark { IW_MARK_NONE, IW_MARK_SHM, IW_MARK_SYNC };

/* The mode the library creates a file with: sync for an event, mutex or
 * semaphore; shared memory and a node's .node otherwise. */
static inline mode_t iw_mark_mode(const struct iw_node *node, bool sync)
{
    return node->file_mode | S_ISVTX | (sync ? S_IXUSR : 0);
}

/* By mode and owner alone (a "t-" file by the looser rule above). */
enum iw_mark iw_mark_of(const struct iw_node *node, const char *file, const struct stat *st);

/* The type of a file of that mark with header h (NULL: a file without
 * one), or NULL if the header is not the library's or disagrees with the
 * mark - another type, or another layout of its state (object_ops.h). */
const struct iw_object_ops *iw_mark_type(enum iw_mark mark, const struct iw_file_header *h);

/* A header read from a file of that mark is the library's. */
static inline bool iw_mark_header_ok(enum iw_mark mark, const struct iw_file_header *h)
{
    return iw_mark_type(mark, h) != NULL;
}

/* The full proof of a file open as fd with *st: mode, owner and, where the
 * file has one, its header (read here). */
bool iw_mark_proven(const struct iw_node *node, const char *file, int fd, const struct stat *st);

/* Opens the node file of that name for a look (recount, the CLI) -
 * O_NONBLOCK, never through a symlink - if it is proven the library's.
 * Returns the descriptor with *st filled, or -1 with errno: ENOENT (gone, or
 * not the library's: to be passed over), or what openat said. */
int iw_mark_open(const struct iw_node *node, const char *file, struct stat *st);
#endif
