#include "mark.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "node_file.h"
#include "type.h"

enum iw_mark iw_mark_of(const struct iw_node *node, const char *file, const struct stat *st)
{
    if (!S_ISREG(st->st_mode))
        return IW_MARK_NONE;
    /* A member's file in a group-shared node has the directory's group. */
    if (st->st_uid != node->uid && !(node->file_mode == 0660 && st->st_gid == node->gid))
        return IW_MARK_NONE;
    mode_t mode = st->st_mode & 07777;
    if (file[0] == 't') {
        mode_t ours = iw_mark_mode(node, true);
        if (!(mode & S_ISVTX) || (mode & ~ours) != 0)
            return IW_MARK_NONE;
        return mode & S_IXUSR ? IW_MARK_SYNC : IW_MARK_SHM;
    }
    if (mode == iw_mark_mode(node, false))
        return IW_MARK_SHM;
    if (mode == iw_mark_mode(node, true))
        return IW_MARK_SYNC;
    return IW_MARK_NONE;
}

const struct iw_object_ops *iw_mark_type(enum iw_mark mark, const struct iw_file_header *h)
{
    if (h == NULL) /* a data file short-named enough to need no header */
        return mark == IW_MARK_SHM ? iw_type_plain() : NULL;
    if (h->magic != IW_FILE_MAGIC || h->name_len > IW_NAME_MAX)
        return NULL;
    const struct iw_object_ops *ops = iw_type_ops(h->type);
    if (ops == NULL || ops->layout != h->layout || (ops->state_size > 0) != (mark == IW_MARK_SYNC))
        return NULL;
    return ops;
}

bool iw_mark_proven(const struct iw_node *node, const char *file, int fd, const struct stat *st)
{
    enum iw_mark mark = iw_mark_of(node, file, st);
    if (mark == IW_MARK_NONE)
        return false;
    if (file[0] == 't' || (mark == IW_MARK_SHM && file[0] != 'h'))
        return true; /* no header yet, or none ever */
    struct iw_file_header h;
    return pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && iw_mark_header_ok(mark, &h);
}

int iw_mark_open(const struct iw_node *node, const char *file, struct stat *st)
{
    int fd = openat(node->dirfd, file, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    /* Not a file we made: a symlink, a directory, a FIFO or socket, or one
     * this process may not write (EACCES: a user's read-only file; EPERM:
     * immutable; ETXTBSY: a program running) - the library's files are
     * read-write for every process that may use the node. */
    if (fd < 0)
        return (errno == ELOOP || errno == EISDIR || errno == ENXIO || errno == EACCES || errno == EPERM ||
                errno == ETXTBSY)
                   ? (errno = ENOENT, -1)
                   : -1;
    if (fstat(fd, st) != 0 || !iw_mark_proven(node, file, fd, st)) {
        close(fd);
        errno = ENOENT;
        return -1;
    }
    return fd;
}
