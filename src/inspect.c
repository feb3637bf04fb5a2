/*
 * The inspection interface (iwin32_inspect.h): a node's objects as a tool
 * sees them - iwin32(1), or anyone's.
 *
 * A tool reads a node the way the library does (node_file.h) and never
 * becomes a holder: it takes no reference read lock, so nothing it does can
 * destroy a live object.  It opens each object file without a lock (proven
 * the library's first: mark.h; a file that is not is passed over, never
 * listed, shown or removed) and judges it by iw_reflock_probe, exactly as
 * the pool's recount does: held (someone has a read lock, or is destroying it: left
 * alone) or stale (nobody holds it: removed under the write lock, which a
 * live object never lets us take) - the lazy removal SPEC 4 allows "on the
 * next access or listing".  Headers, state and data are read with pread or
 * a read-only mapping; holders are counted afterwards (inspect_holders.c),
 * and an object held when the scan looked but with no holder by then was
 * destroyed meanwhile: it is not reported.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "inspect.h"
#include "last_error.h"
#include "node_file.h"
#include "pool.h"
#include "type.h"

_Static_assert(IWIN32_INSPECT_NAME_MAX == IW_NAME_MAX, "the public name limit");
_Static_assert(IWIN32_INSPECT_POOL_MB_MAX == IW_POOL_MB_MAX, "the public pool limit");
_Static_assert(sizeof ((IWIN32_OBJECT_INFO *)0)->file == IW_FILE_NAME_SIZE, "a file name");
_Static_assert((int)IWIN32_OBJECT_SHM == IW_TYPE_SHM && (int)IWIN32_OBJECT_EVENT == IW_TYPE_EVENT &&
                   (int)IWIN32_OBJECT_MUTEX == IW_TYPE_MUTEX && (int)IWIN32_OBJECT_SEMAPHORE == IW_TYPE_SEMAPHORE,
               "the public types are the library's");

/* The process's node, never made here: a node directory without its
 * ".node" is none (the library would make one in an empty directory). */
static DWORD existing_node(struct iw_node **node, char path[IW_NODE_PATH_SIZE])
{
    DWORD err = iw_node_path(path);
    if (err != ERROR_SUCCESS)
        return err;
    struct stat st;
    char settings[IW_NODE_PATH_SIZE + 8];
    snprintf(settings, sizeof settings, "%s/.node", path);
    if (stat(path, &st) != 0 || stat(settings, &st) != 0)
        return errno == ENOENT || errno == ENOTDIR ? ERROR_PATH_NOT_FOUND : iw_error_from_errno(errno);
    return iw_node_get(node);
}

static bool fail(DWORD err)
{
    iw_set_error(err);
    return false;
}

IW_API BOOLEAN iwin32InspectNode(char *path, size_t pathSize)
{
    char own[IW_NODE_PATH_SIZE] = ""; /* stays "" when $IWIN32_ROOT gives no path */
    struct iw_node *node;
    if (path == NULL && pathSize > 0)
        return fail(ERROR_INVALID_PARAMETER);
    DWORD err = existing_node(&node, own);
    size_t len = strnlen(own, sizeof own);
    if (pathSize > len)
        memcpy(path, own, len + 1);
    else if (err == ERROR_SUCCESS)
        err = ERROR_INVALID_PARAMETER; /* too small for the path */
    return err == ERROR_SUCCESS ? TRUE : fail(err);
}

/* ---- one object file ----------------------------------------------------- */

/* The library records no creation time or creator; the file's birth time is
 * the object's creation (its file is made with it, never replaced), where
 * the filesystem keeps one - tmpfs does since Linux 5.16 or so. */
static void birth_time(int fd, IWIN32_OBJECT_INFO *info)
{
    struct statx stx;
    info->createdSeconds = -1;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) == 0 && (stx.stx_mask & STATX_BTIME)) {
        info->createdSeconds = stx.stx_btime.tv_sec;
        info->createdNanoseconds = (long)stx.stx_btime.tv_nsec;
    }
}

/* The state of a type that has one, described by its table, from a
 * read-only mapping of its page (a mapping takes no lock; it only pins the
 * description of a file we hold none on). */
static void read_state(const struct iw_node *node, int fd, const struct iw_object_ops *ops, IWIN32_OBJECT_INFO *info)
{
    const char *page = mmap(NULL, node->page_size, PROT_READ, MAP_SHARED, fd, 0);
    if (page == MAP_FAILED)
        return; /* stateKnown stays FALSE */
    ops->describe(page + IW_STATE_OFFSET, &info->state);
    munmap((void *)page, node->page_size);
    if (info->state.ownerTid)
        info->state.ownerPid = iw_inspect_thread_group(info->state.ownerTid);
    info->stateKnown = TRUE;
}

/* Fills info from its open file, proven the library's: name, type, size
 * and, for a held object of a type with a state, its state.  A file still being
 * made may have no header yet: its type stays 0 and its name unknown.
 * Returns where shared memory's data starts in the file. */
static off_t describe(const struct iw_node *node, int fd, const char *file, const struct stat *st, bool held,
                      IWIN32_OBJECT_INFO *info)
{
    memset(info, 0, sizeof *info);
    strcpy(info->file, file); /* a file name: shorter than IW_FILE_NAME_SIZE */
    info->device = st->st_dev;
    info->inode = st->st_ino;
    birth_time(fd, info);
    struct iw_node_file f;
    if (iw_node_file_identify(node, fd, file, st, &f) != ERROR_SUCCESS)
        return 0;
    info->type = (IWIN32_OBJECT_TYPE)f.ops->type;
    memcpy(info->name, f.name, f.name_len + 1);
    info->nameLength = f.name_len;
    info->size = f.size;
    info->poolPages = iw_pool_pages_of(node, file, st);
    if (held && f.ops->describe != NULL && file[0] != 't')
        read_state(node, fd, f.ops, info);
    return f.data_offset;
}

/* ---- the listing ----------------------------------------------------------- */

struct list {
    IWIN32_OBJECT_INFO *objs;
    size_t n, cap;
};

static int append(struct list *l, const IWIN32_OBJECT_INFO *info)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        IWIN32_OBJECT_INFO *grown = realloc(l->objs, cap * sizeof *grown);
        if (grown == NULL)
            return ENOMEM;
        l->objs = grown;
        l->cap = cap;
    }
    l->objs[l->n++] = *info;
    return 0;
}

/* The objects that someone holds, in directory order, holders not yet
 * counted; every object file nobody holds is removed on the way (told to
 * on_leftover); files still being made ("t-") are probed too when
 * in_flight_too, and never listed.  0 or an errno. */
static int scan(struct iw_node *node, bool in_flight_too, IWIN32_LEFTOVER_CALLBACK on_leftover, void *ctx,
                struct list *out)
{
    /* A description of our own, read from its start (a dup of dirfd would
     * share its position with every thread of the process). */
    int dfd = openat(node->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = dfd < 0 ? NULL : fdopendir(dfd);
    if (dir == NULL) {
        int err = errno;
        if (dfd >= 0)
            close(dfd);
        return err;
    }
    int err = 0;
    struct dirent *d;
    while (err == 0 && (d = readdir(dir)) != NULL) {
        bool in_flight = d->d_name[0] == 't';
        if (!iw_name_is_object_file(d->d_name) || (in_flight && !in_flight_too))
            continue;
        struct stat st;
        enum iw_reflock_state state;
        int fd = iw_node_file_look(node, d->d_name, &st, &state);
        if (fd < 0) {
            if (errno != ENOENT)
                err = errno; /* a listing without a live object would be a lie */
            continue;        /* removed meanwhile, or not the library's */
        }
        IWIN32_OBJECT_INFO info;
        describe(node, fd, d->d_name, &st, state == IW_REFLOCK_HELD, &info);
        info.leftover = state == IW_REFLOCK_FREE;
        if (info.leftover && on_leftover)
            on_leftover(&info, ctx);
        if (state == IW_REFLOCK_HELD && !in_flight && info.type != 0)
            err = append(out, &info);
        close(fd); /* we took no lock on a held file; a stale one's write lock goes now */
    }
    closedir(dir);
    return err;
}

static int by_name(const void *a, const void *b)
{
    const IWIN32_OBJECT_INFO *x = a, *y = b;
    if ((x->nameLength == 0) != (y->nameLength == 0))
        return x->nameLength == 0 ? 1 : -1;
    if (x->nameLength == 0)
        return strcmp(x->file, y->file);
    size_t n = x->nameLength < y->nameLength ? x->nameLength : y->nameLength;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->nameLength > y->nameLength) - (x->nameLength < y->nameLength);
}

/* An object seen held, counted no holder since: if it is still held, its
 * count was disturbed (inspect_holders.c), not its holders gone, and it
 * has at least one.  Held means a read lock (iw_node_file_held): a write
 * lock is its destroyer's, or a recount's removing it stale - nobody holds
 * it, and an Open of its name would find none. */
static void settle_holders(struct iw_node *node, IWIN32_OBJECT_INFO *info)
{
    if (info->holders == 0 && iw_node_file_held(node, info->file, (ino_t)info->inode))
        info->holders = 1;
}

IW_API BOOLEAN iwin32InspectList(DWORD flags, IWIN32_LEFTOVER_CALLBACK onLeftover, void *context,
                                 IWIN32_OBJECT_INFO **objects, size_t *count)
{
    if (objects == NULL || count == NULL || (flags & ~IWIN32_INSPECT_IN_FLIGHT))
        return fail(ERROR_INVALID_PARAMETER);
    *objects = NULL;
    *count = 0;
    struct iw_node *node;
    char path[IW_NODE_PATH_SIZE];
    DWORD err = existing_node(&node, path);
    if (err != ERROR_SUCCESS)
        return fail(err);
    struct list l = {0};
    int e = scan(node, flags & IWIN32_INSPECT_IN_FLIGHT, onLeftover, context, &l);
    if (e == 0)
        e = iw_inspect_count_holders(l.objs, l.n);
    if (e != 0) {
        iwin32InspectFree(l.objs, l.n);
        return fail(iw_error_from_errno(e));
    }
    size_t live = 0;
    for (size_t i = 0; i < l.n; i++) {
        settle_holders(node, &l.objs[i]);
        if (l.objs[i].holders > 0)
            l.objs[live++] = l.objs[i];
        else
            free(l.objs[i].pids); /* held when the scan looked, no holder since: destroyed */
    }
    if (live > 1)
        qsort(l.objs, live, sizeof *l.objs, by_name);
    *objects = l.objs;
    *count = live;
    return TRUE;
}

IW_API void iwin32InspectFree(IWIN32_OBJECT_INFO *objects, size_t count)
{
    for (size_t i = 0; objects && i < count; i++) {
        free(objects[i].pids);
        free(objects[i].data);
    }
    free(objects);
}

/* ---- one object -------------------------------------------------------------- */

/* The first bytes of shared memory.  0 or an errno. */
static int read_data(int fd, off_t offset, IWIN32_OBJECT_INFO *info, uint64_t want)
{
    size_t len = (size_t)(want < info->size ? want : info->size);
    if (len == 0)
        return 0;
    if ((info->data = malloc(len)) == NULL)
        return ENOMEM;
    while (info->dataLength < len) {
        ssize_t got = pread(fd, info->data + info->dataLength, len - info->dataLength,
                            offset + (off_t)info->dataLength);
        if (got <= 0)
            return got < 0 ? errno : 0; /* truncated meanwhile: what there was */
        info->dataLength += (size_t)got;
    }
    return 0;
}

/* How often a lookup looks again at an object that is held but has no
 * holder: its destroyer is unlinking it, or its holders all just died. */
#define LOOKUP_TRIES 200

/* 0 with *info filled (holders counted: none for a leftover it removed),
 * ENOENT when there is no such object, or another errno. */
static int lookup(struct iw_node *node, const struct iw_name *name, uint64_t data_bytes, IWIN32_OBJECT_INFO *info)
{
    for (int tries = 0; tries < LOOKUP_TRIES; tries++) {
        struct stat st;
        enum iw_reflock_state state;
        int fd = iw_node_file_look(node, name->file, &st, &state);
        if (fd < 0)
            return errno; /* ENOENT too for a file not the library's: no object */
        off_t data_offset = describe(node, fd, name->file, &st, state == IW_REFLOCK_HELD, info);
        /* An "h-" file holds another name with the same SHA-256: not ours. */
        bool ours = info->type != 0 && info->nameLength == name->len &&
                    memcmp(info->name, name->bytes, name->len) == 0;
        int err = 0;
        if (!ours) {
            err = ENOENT;
        } else if (state == IW_REFLOCK_FREE) {
            info->leftover = TRUE;
        } else if ((err = iw_inspect_count_holders(info, 1)) == 0) {
            settle_holders(node, info); /* as a listing would: they agree */
            if (info->holders > 0)
                err = info->type == IWIN32_OBJECT_SHM ? read_data(fd, data_offset, info, data_bytes) : 0;
            else
                err = EAGAIN; /* being destroyed, or its holders just died: look again */
        }
        close(fd);
        if (err != EAGAIN)
            return err;
        /* The next look may find no file and return before describe()
         * clears info: the caller frees what info then holds. */
        free(info->pids);
        info->pids = NULL;
        info->pidCount = 0;
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    return ENOENT; /* it never settled: destroyed over and over, and made again */
}

IW_API BOOLEAN iwin32InspectObject(LPCTSTR lpName, uint64_t dataBytes, IWIN32_OBJECT_INFO **object)
{
    if (object == NULL || lpName == NULL || lpName[0] == '\0')
        return fail(ERROR_INVALID_PARAMETER);
    *object = NULL;
    struct iw_name name;
    DWORD err = iw_name_parse(lpName, &name);
    if (err != ERROR_SUCCESS)
        return fail(err);
    struct iw_node *node;
    char path[IW_NODE_PATH_SIZE];
    if ((err = existing_node(&node, path)) != ERROR_SUCCESS)
        return fail(err);
    IWIN32_OBJECT_INFO *info = calloc(1, sizeof *info);
    if (info == NULL)
        return fail(ERROR_NOT_ENOUGH_MEMORY);
    int e = lookup(node, &name, dataBytes, info);
    if (e != 0) {
        iwin32InspectFree(info, 1);
        return fail(e == ENOENT ? ERROR_FILE_NOT_FOUND : iw_error_from_errno(e));
    }
    *object = info;
    return TRUE;
}

/* ---- the pool ---------------------------------------------------------------- */

IW_API BOOLEAN iwin32InspectPoolCounted(uint64_t *countedBytes)
{
    struct iw_node *node;
    char path[IW_NODE_PATH_SIZE];
    if (countedBytes == NULL)
        return fail(ERROR_INVALID_PARAMETER);
    DWORD err = existing_node(&node, path);
    if (err != ERROR_SUCCESS)
        return fail(err);
    *countedBytes = iw_pool_counted(node) * node->page_size;
    return TRUE;
}

IW_API BOOLEAN iwin32InspectSetPoolSize(uint64_t sizeBytes, uint64_t *usedBytes)
{
    struct iw_node *node;
    char path[IW_NODE_PATH_SIZE];
    DWORD err = existing_node(&node, path);
    if (err != ERROR_SUCCESS)
        return fail(err);
    if (sizeBytes == 0 || sizeBytes % node->page_size != 0 || sizeBytes > IW_POOL_MB_MAX << 20)
        return fail(ERROR_INVALID_PARAMETER);
    uint64_t used_pages = 0;
    err = iw_pool_set_size(node, sizeBytes / node->page_size, &used_pages);
    if (usedBytes)
        *usedBytes = used_pages * node->page_size;
    return err == ERROR_SUCCESS ? TRUE : fail(err);
}
