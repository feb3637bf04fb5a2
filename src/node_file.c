/*
 * The node-file protocol (node_file.h): identifying a file, opening it for
 * a look or under its reference lock.
 */
#include "node_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "crash_point.h"

DWORD iw_node_file_identify(const struct iw_node *node, int fd, const char *file, const struct stat *st,
                            struct iw_node_file *out)
{
    bool hashed = file[0] == 'h';
    enum iw_mark mark = iw_mark_of(node, file, st);
    memset(out, 0, sizeof *out);
    if (mark == IW_MARK_NONE)
        return ERROR_ACCESS_DENIED;
    out->type = IW_TYPE_SHM;
    if (mark == IW_MARK_SYNC || hashed) {
        struct iw_file_header h;
        if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || !iw_mark_header_ok(mark, &h)) {
            out->type = 0;
            return ERROR_ACCESS_DENIED;
        }
        out->type = (enum iw_type)h.type;
        if (hashed) {
            memcpy(out->name, h.name, h.name_len); /* iw_mark_header_ok: at most IW_NAME_MAX */
            out->name_len = h.name_len;
        }
    }
    if (!hashed && !iw_name_decode(file, out->name, &out->name_len))
        out->name_len = 0; /* "u-", "t-": unnamed */
    out->name[out->name_len] = '\0';
    if (out->type == IW_TYPE_SHM) {
        out->data_offset = hashed ? (off_t)node->page_size : 0;
        out->size = st->st_size > out->data_offset ? (uint64_t)(st->st_size - out->data_offset) : 0;
    }
    return ERROR_SUCCESS;
}

int iw_node_file_look(const struct iw_node *node, const char *file, struct stat *st, enum iw_reflock_state *state)
{
    int fd = iw_mark_open(node, file, st);
    if (fd < 0)
        return -1;
    *state = iw_reflock_probe(node, file, fd);
    /* Looked at again after the probe: a file being made is sized after its lock. */
    if (fstat(fd, st) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int iw_node_file_hold(const struct iw_node *node, const char *file, int *fd, struct stat *st)
{
    *fd = openat(node->dirfd, file, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0)
        /* Not a file we made: a symlink (never followed) or a directory. */
        return (errno == ELOOP || errno == EISDIR) ? EACCES : errno;
    IW_CRASH_POINT("open.opened");
    int rc = iw_reflock_hold(node, file, *fd, st);
    if (rc != 0)
        close(*fd);
    return rc == ENOENT ? EAGAIN : rc;
}
