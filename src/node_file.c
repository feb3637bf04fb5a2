/*
 * The node-file protocol (node_file.h): identifying a file, opening it for
 * a look or under its reference lock, making and publishing one, letting
 * go of it, mapping it.
 */
#include "node_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crash_point.h"
#include "guard.h"
#include "last_error.h"
#include "members.h"
#include "pool.h"

DWORD iw_node_file_identify(const struct iw_node *node, int fd, const char *file, const struct stat *st,
                            struct iw_node_file *out)
{
    bool hashed = file[0] == 'h';
    enum iw_mark mark = iw_mark_of(node, file, st);
    memset(out, 0, sizeof *out);
    if (mark == IW_MARK_NONE)
        return ERROR_ACCESS_DENIED;
    out->ops = iw_mark_type(mark, NULL);
    if (mark == IW_MARK_SYNC || hashed) {
        struct iw_file_header h;
        if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || (out->ops = iw_mark_type(mark, &h)) == NULL)
            return ERROR_ACCESS_DENIED;
        if (hashed) {
            memcpy(out->name, h.name, h.name_len); /* iw_mark_type: at most IW_NAME_MAX */
            out->name_len = h.name_len;
        }
    }
    if (!hashed && !iw_name_decode(file, out->name, &out->name_len))
        out->name_len = 0; /* "u-", "t-": unnamed */
    out->name[out->name_len] = '\0';
    if (out->ops->state_size == 0) {
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

int iw_node_file_hold(const struct iw_node *node, const char *file, int *fd, struct stat *st, uint64_t *pages,
                      struct iw_charge *charge)
{
    *fd = openat(node->dirfd, file, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0)
        /* Not a file we made: a symlink (never followed) or a directory. */
        return (errno == ELOOP || errno == EISDIR) ? EACCES : errno;
    IW_CRASH_POINT("open.opened");
    /* Charged before our reference lock (members.h): should we die holding
     * it, as its last holder, its pages are in our bound.  A published
     * file's size never changes, so the size now is the size held. */
    bool known = fstat(*fd, st) == 0;
    *pages = known ? iw_pool_pages_of(node, file, st) : 0;
    *charge = iw_members_charge(*pages, file, known ? st->st_ino : 0);
    int rc = iw_reflock_hold(node, file, *fd, st);
    if (rc != 0) {
        close(*fd);
        iw_members_discharge(*charge, *pages);
    }
    return rc == ENOENT ? EAGAIN : rc;
}

/* No lock is taken, so a forked child that inherits the descriptor for a
 * moment (the probe runs outside transit: pool.c) holds nothing through it. */
bool iw_node_file_held(const struct iw_node *node, const char *file, ino_t ino)
{
    int fd = openat(node->dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    struct stat st;
    bool held = fstat(fd, &st) == 0 && st.st_ino == ino && iw_reflock_seen_held(fd);
    close(fd);
    return held;
}

int iw_node_file_make(struct iw_node *node, bool stateful, bool hashed, char *temp, int *fd, struct stat *st)
{
    mode_t mode = iw_mark_mode(node, stateful);
    for (;;) {
        iw_node_unique_name(temp, hashed ? "t-h" : "t-");
        *fd = openat(node->dirfd, temp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (*fd < 0) {
            if (errno == EEXIST)
                continue;
            return errno;
        }
        IW_CRASH_POINT("create.temp_opened");
        /* A recount that met the file before our lock removes it: start
         * again with another.  It may have removed it already, and our lock
         * then holds a nameless inode that no recount can see: the link
         * count tells (without this, our reservation could go uncounted). */
        int rc = iw_reflock_take_new(*fd);
        if (rc == 0 && fstat(*fd, st) != 0)
            rc = errno;
        if (rc == EAGAIN || (rc == 0 && st->st_nlink == 0)) {
            close(*fd); /* the recount removes it, or has */
            continue;
        }
        /* The umask may have taken bits off the mode (a group-shared node's
         * members need g+rw; 0400 would keep even us from mapping it). */
        if (rc == 0 && (st->st_mode & 07777) != mode && fchmod(*fd, mode) != 0)
            rc = errno;
        if (rc != 0) {
            unlinkat(node->dirfd, temp, 0);
            close(*fd);
        }
        return rc;
    }
}

bool iw_node_file_write_header(int fd, const struct iw_object_ops *ops, const struct iw_name *name)
{
    struct iw_file_header h = {
        .magic = IW_FILE_MAGIC, .type = ops->type, .name_len = (uint32_t)name->len, .layout = ops->layout};
    memcpy(h.name, name->bytes ? name->bytes : "", name->len);
    return pwrite(fd, &h, sizeof h, 0) == (ssize_t)sizeof h;
}

int iw_node_file_publish(struct iw_node *node, const char *temp, const char *file)
{
    return renameat2(node->dirfd, temp, node->dirfd, file, RENAME_NOREPLACE) == 0 ? 0 : errno;
}

/* The last reference of this process: if no other process holds the object
 * either, destroy it, in the destroy order (reflock.h). */
bool iw_node_file_release(struct iw_node *node, int fd, const char *file)
{
    bool last = iw_reflock_release_is_last(fd);
    if (last) {
        IW_CRASH_POINT("destroy.write_locked");
        struct stat st;
        uint64_t epoch = iw_pool_epoch(node);
        if (fstat(fd, &st) == 0 && st.st_nlink > 0 && unlinkat(node->dirfd, file, 0) == 0) {
            IW_CRASH_POINT("destroy.unlinked");
            iw_pool_release(node, iw_pool_pages_of(node, file, &st), epoch);
            IW_CRASH_POINT("destroy.released");
        }
    }
    close(fd);
    return last;
}

int iw_node_file_open_map(const char *file)
{
    struct iw_node *node;
    iw_node_get(&node);
    return openat(node->dirfd, file, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
}

void *iw_node_file_map_page(const char *file, size_t page_size)
{
    int fd = iw_node_file_open_map(file);
    if (fd < 0)
        return MAP_FAILED;
    void *p = iw_guard_map(fd, page_size, 0, page_size);
    int err = errno;
    close(fd);
    errno = err;
    return p;
}
