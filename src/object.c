#include "object.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crash_point.h"
#include "fork.h"
#include "last_error.h"
#include "guard.h"
#include "hazard.h"
#include "hot.h"
#include "local_object.h"
#include "members.h"
#include "pool.h"
#include "records.h"
#include "type.h"

/* ---- letting go -------------------------------------------------------- */

/* Lets go of a reference (fd) to file, charged with pages to slot
 * (members.h): a let-go first, taken back if we were its last holder. */
static void release_ref(struct iw_node *node, int fd, const char *file, uint64_t pages, struct iw_charge charge)
{
    iw_members_letting_go(pages);
    if (iw_node_file_release(node, fd, file))
        iw_members_was_last(pages);
    iw_members_discharge(charge, pages);
}

/* Lets go of the file: its name may go now (the state page stays). */
static void let_go_file(struct iw_node *node, struct iw_object *obj)
{
    int map_fd = atomic_load(&obj->map_fd);
    if (map_fd >= 0)
        close(map_fd); /* no lock on it: mappings made through it may outlive it */
    /* A description another process may still use: its lock is that
     * process's reference too, and our upgrade would succeed (same owner)
     * and destroy the object under it.  Closing just drops our descriptor;
     * the last process to close leaves the object stale, removed lazily. */
    if (obj->shared) {
        /* The other process may have let go already: stale then, with
         * its pages counted, and nobody died (pool.c). */
        if (obj->ops->state_size == 0)
            iw_pool_doubt(node);
        iw_members_letting_go(obj->pages);
        close(obj->fd);
        iw_members_discharge(obj->charge, obj->pages);
    } else
        release_ref(node, obj->fd, obj->file, obj->pages, obj->charge);
}

static void let_go(struct iw_node *node, struct iw_object *obj)
{
    /* A page its type keeps (a mutex a thread of ours owns: mutex.c)
     * stays mapped for the life of the process, on purpose. */
    if (obj->page && !(obj->ops->keep_mapped && obj->ops->keep_mapped(iw_object_state(obj))))
        iw_guard_unmap(obj->page, node->page_size, node->page_size);
    if (!obj->unnamed)
        let_go_file(node, obj);
    free(obj);
}

/* References change without the process lock while they stay above zero
 * (a handle or a call in flight is another reference, so nobody can drop
 * the last one meanwhile).  The drop to zero is made under the lock, with
 * the record leaving the records at the same moment: from then on nothing
 * can find the object by name, and iw_object_get_pinned refuses to take
 * it back from zero, so the one who dropped it is the only one left. */
IW_HOT_WAIT void iw_object_put(struct iw_object *obj)
{
    if (iw_object_is_local(obj)) {
        iw_local_object_put(obj);
        return;
    }
    unsigned refs = atomic_load(&obj->refs);
    while (refs > 1)
        if (atomic_compare_exchange_weak(&obj->refs, &refs, refs - 1))
            return; /* the common case: not the last reference */
    struct iw_node *node;
    iw_node_get(&node); /* cannot fail: obj exists, so the node was opened */
    iw_transit_begin(); /* before the descriptor leaves the records */
    iw_records_lock();
    bool last = atomic_fetch_sub(&obj->refs, 1) == 1;
    if (last)
        iw_records_remove(obj);
    iw_records_unlock();
    if (last) {
        if (iw_ops_waitable(obj->ops)) /* Set, Release, waits: calls that pin it */
            iw_hazard_wait_unpinned(obj);
        let_go(node, obj);
    }
    iw_transit_end();
}

/* References may outlive the last handle: calls in flight hold them - a
 * wait, which may sleep for ever.  The name must not wait for those: SPEC 4
 * frees it with the last handle (as Win32 does, whatever references its
 * waits hold), so with the last handle the record leaves the records and
 * the file is let go, under the transit gate and the process lock as in
 * iw_object_put; the last reference then frees the record and unmaps the
 * page.  Done whether or not other references are left: one taken by a
 * wait racing this close (a pin turned into a reference) may come after
 * any look at the count.  A wait left on such an object sleeps until its
 * timeout (nobody can signal it any more), as in Win32. */
void iw_object_close(struct iw_object *obj)
{
    if (!iw_object_is_local(obj)) {
        struct iw_node *node;
        iw_node_get(&node); /* cannot fail: obj exists, so the node was opened */
        iw_transit_begin();
        iw_records_lock();
        bool last_handle = --obj->handles == 0;
        if (last_handle) {
            iw_records_remove(obj);
            obj->unnamed = true;
        }
        iw_records_unlock();
        if (last_handle) {
            if (obj->ops->last_handle_closed)
                obj->ops->last_handle_closed(obj);
            let_go_file(node, obj);
        }
        iw_transit_end();
    }
    iw_object_put(obj);
}

bool iw_object_get_live(struct iw_object *obj)
{
    unsigned refs = atomic_load(&obj->refs);
    while (refs > 0)
        if (atomic_compare_exchange_weak(&obj->refs, &refs, refs + 1))
            return true;
    return false;
}

bool iw_object_get_pinned(struct iw_object *obj)
{
    if (iw_object_get_live(obj))
        return true;
    iw_set_error(ERROR_INVALID_HANDLE);
    return false;
}

/* Takes a reference on the record of that file name if this process has one.
 * A node removed under us (node.h) is noticed here for the names we hold:
 * answering them with our old objects while a new process makes new ones
 * under the same names would give one name two objects.  Names we don't
 * hold need no look at the directory: their lookups and creations in a
 * removed directory fail with ENOENT, and the callers look then. */
static DWORD find_held(struct iw_node *node, const struct iw_object_ops *ops, const char *file,
                       struct iw_object **out)
{
    iw_records_lock();
    bool held = iw_records_find(file) != NULL;
    iw_records_unlock();
    *out = NULL;
    if (!held)
        return ERROR_SUCCESS;
    DWORD err = iw_node_present(node);
    if (err != ERROR_SUCCESS)
        return err;
    iw_records_lock();
    struct iw_object *obj = iw_records_find(file);
    if (obj != NULL && obj->ops == ops) {
        atomic_fetch_add(&obj->refs, 1);
        obj->handles++;
    }
    iw_records_unlock();
    *out = obj;
    return obj == NULL || obj->ops == ops ? ERROR_SUCCESS : ERROR_INVALID_HANDLE;
}

/* Makes a fresh record this process's own - unless another thread got a
 * record for the same name in first, which then serves both.  NULL (the
 * fresh one let go) when memory for the records runs out. */
static struct iw_object *adopt(struct iw_node *node, struct iw_object *fresh)
{
    iw_records_lock();
    struct iw_object *held = iw_records_find(fresh->file);
    if (held == NULL && iw_records_insert(fresh)) {
        iw_records_unlock();
        return fresh;
    }
    if (held != NULL) {
        atomic_fetch_add(&held->refs, 1);
        held->handles++;
        /* A page its type keeps (a mutex created owned by this thread:
         * this thread's robust list points into it) stays mapped. */
        if (fresh->page && fresh->ops->keep_mapped && fresh->ops->keep_mapped(iw_object_state(fresh)))
            fresh->page = NULL;
    }
    iw_records_unlock();
    let_go(node, fresh);
    return held;
}

static struct iw_object *new_record(int fd, const char *file, const struct iw_object_ops *ops)
{
    struct iw_object *obj = calloc(1, sizeof *obj);
    if (obj == NULL)
        return NULL;
    static _Atomic uint64_t serials;
    obj->serial = atomic_fetch_add(&serials, 1) + 1;
    atomic_init(&obj->refs, 1);
    obj->handles = 1;
    obj->fd = fd;
    atomic_init(&obj->map_fd, -1);
    obj->fork_fd = -1;
    obj->charge = IW_NO_CHARGE;
    obj->ops = ops;
    strcpy(obj->file, file); /* a file name: shorter than IW_FILE_NAME_SIZE */
    return obj;
}

void *iw_object_map(struct iw_object *obj, size_t len, off_t offset)
{
    int fd = atomic_load(&obj->map_fd);
    if (fd >= 0)
        return iw_guard_map_shared(fd, len, offset);
    /* A descriptor outside the records for a moment: fork waits, so a
     * child never inherits it (it would pin the file's memory). */
    iw_transit_begin();
    void *p = MAP_FAILED;
    fd = iw_node_file_open_map(obj->file);
    if (fd >= 0) {
        p = iw_guard_map_shared(fd, len, offset);
        int err = errno;
        /* Kept from the second mapping on; a thread that lost the race
         * to keep its own closes it. */
        int none = -1;
        if (!atomic_exchange(&obj->mapped, true) || !atomic_compare_exchange_strong(&obj->map_fd, &none, fd))
            close(fd);
        errno = err;
    }
    iw_transit_end();
    return p;
}

void *iw_object_map_page(const char *file, size_t page_size) { return iw_node_file_map_page(file, page_size); }

/* Maps the state page of a type that has one; file is its name now (a "t-"
 * name while it is being made). */
static DWORD map_page(struct iw_node *node, struct iw_object *obj, const char *file)
{
    if (obj->ops->state_size == 0)
        return ERROR_SUCCESS;
    void *p = iw_object_map_page(file, node->page_size);
    if (p == MAP_FAILED)
        return iw_error_from_errno(errno);
    obj->page = p;
    return ERROR_SUCCESS;
}

/* ---- opening an existing object ---------------------------------------- */

/* What kind of object a held file is, and for shared memory where its data
 * lies.  A file the library did not make (mark.h: a FIFO, or a user's file
 * planted under the name) is refused and left alone.  A "h-" file whose
 * stored name differs is another name with the same SHA-256 (never seen in
 * practice): refused rather than shared. */
static DWORD identify(struct iw_node *node, const struct iw_name *name, struct iw_object *obj,
                      const struct stat *st)
{
    struct iw_node_file f;
    DWORD err = iw_node_file_identify(node, obj->fd, obj->file, st, &f);
    if (err != ERROR_SUCCESS)
        return err;
    if (name->hashed && (f.name_len != name->len || memcmp(f.name, name->bytes, name->len) != 0))
        return ERROR_INVALID_NAME;
    obj->ops = f.ops;
    obj->size = f.size;
    obj->data_offset = f.data_offset;
    return ERROR_SUCCESS;
}

static DWORD open_existing(struct iw_node *node, const struct iw_object_ops *ops, const struct iw_name *name,
                           struct iw_object **out)
{
    for (;;) {
        DWORD err = find_held(node, ops, name->file, out);
        if (err != ERROR_SUCCESS || *out != NULL)
            return err;
        int fd;
        struct stat st;
        uint64_t pages;
        struct iw_charge charge;
        int rc = iw_node_file_hold(node, name->file, &fd, &st, &pages, &charge);
        if (rc == EAGAIN)
            continue; /* gone: look the name up again (it may be new now) */
        if (rc != 0)
            return iw_error_from_errno(rc);
        IW_CRASH_POINT("open.held");
        struct iw_object *obj = new_record(fd, name->file, ops);
        if (obj == NULL) {
            release_ref(node, fd, name->file, pages, charge);
            return ERROR_NOT_ENOUGH_MEMORY;
        }
        obj->pages = pages;
        obj->charge = charge;
        err = identify(node, name, obj, &st);
        if (err == ERROR_SUCCESS && obj->ops != ops)
            err = ERROR_INVALID_HANDLE;
        if (err == ERROR_SUCCESS)
            err = map_page(node, obj, obj->file);
        if (err != ERROR_SUCCESS) {
            let_go(node, obj);
            return err;
        }
        IW_CRASH_POINT("open.mapped");
        *out = adopt(node, obj);
        return *out ? ERROR_SUCCESS : ERROR_NOT_ENOUGH_MEMORY;
    }
}

/* ERROR_FILE_NOT_FOUND from a node that was removed meanwhile (find_held
 * says why it is looked at only now) is ERROR_PATH_NOT_FOUND. */
static DWORD gone_if_removed(struct iw_node *node, DWORD err)
{
    return err == ERROR_FILE_NOT_FOUND && iw_node_present(node) != ERROR_SUCCESS ? ERROR_PATH_NOT_FOUND : err;
}

/* Every call that opens or makes an object starts here. */
static DWORD enter(struct iw_node **node)
{
    DWORD err = iw_node_get(node);
    if (err == ERROR_SUCCESS)
        err = iw_members_join(*node); /* before holding anything (members.h) */
    if (err == ERROR_SUCCESS) {
        iw_fork_watch();
        iw_transit_begin();
    }
    return err;
}

DWORD iw_object_open(const struct iw_object_ops *ops, LPCTSTR lpName, struct iw_object **out)
{
    if (lpName == NULL || lpName[0] == '\0')
        return ERROR_INVALID_PARAMETER; /* every Open call needs a name */
    struct iw_name name;
    struct iw_node *node;
    DWORD err = iw_name_parse(lpName, &name);
    if (err == ERROR_SUCCESS)
        err = enter(&node);
    if (err != ERROR_SUCCESS)
        return err;
    err = open_existing(node, ops, &name, out);
    iw_transit_end();
    return gone_if_removed(node, err);
}

/* ---- making a new object ------------------------------------------------- */

/* Allocates a data object's pages (so that a full tmpfs is an error now,
 * not a SIGBUS later), which sets the file's size too. */
static DWORD allocate(struct iw_object *obj)
{
    int rc = posix_fallocate(obj->fd, obj->data_offset, (off_t)obj->size);
    if (rc == 0)
        return ERROR_SUCCESS;
    return (rc == ENOSPC || rc == EFBIG) ? ERROR_NOT_ENOUGH_MEMORY : iw_error_from_errno(rc);
}

/* Writes a new object's file under a temporary "t-" name, holding its
 * reference lock from the start, so that the object is complete before
 * anyone can see it by name: its header, its size, and for a type with a
 * state its state, set up in place in its mapped page.  Sets obj->fd (and
 * obj->page); on failure returns the error with nothing left.
 *
 * Not made in place under its final name (which would save the look-up
 * and the rename): a name visible before it is complete makes a second
 * Create of it wait for the maker - through its reservation and
 * allocation, or for ever if the maker is stopped, on a file lock without
 * priority inheritance - where with the rename the loser of two creators
 * just opens the winner's object (docs/DESIGN.md, "Changes studied").
 *
 * The size is set now, before the pool reservation: a recount that sees
 * this file must count its pages (pool.c).  A data object whose pages the
 * word has room for gets them allocated now, which sets the size too (one
 * system call fewer than ftruncate now and fallocate after the
 * reservation); *allocated says so.  Allocating before reserving is safe:
 * a creator killed in between leaves a stale "t-" file whose pages the word
 * never counted, removed by the next recount, and one refused after all (a
 * race for the last pages) returns them with the file.  A word without
 * room allocates only after the reservation: a refusal must not zero-fill
 * pages first (a refused 1 GiB Create would cost a 1 GiB fill). */
static DWORD make_file(struct iw_node *node, struct iw_object *obj, const struct iw_name *name,
                       const void *params, char *temp, uint64_t pages, bool *allocated)
{
    bool stateful = obj->ops->state_size > 0;
    bool header = stateful || name->hashed;
    int fd;
    struct stat st;
    int rc = iw_node_file_make(node, stateful, name->hashed, temp, &fd, &st);
    if (rc != 0)
        return iw_error_from_errno(rc);
    IW_CRASH_POINT("create.temp_locked");
    /* Charged, under the name it will have, before the reservation: a death
     * from now on leaves at most that in the pool word; one before it left
     * nothing there (members.c, "Charges"). */
    obj->charge = iw_members_charge(obj->pages, obj->file, st.st_ino);
    obj->fd = fd;
    obj->ino = st.st_ino;
    *allocated = pages > 0 && iw_pool_has_room(node, pages);
    off_t file_size = stateful ? (off_t)node->page_size : obj->data_offset + (off_t)obj->size;
    DWORD err = ERROR_SUCCESS;
    if (header && !iw_node_file_write_header(fd, obj->ops, name))
        err = iw_error_from_errno(errno);
    else if (*allocated)
        err = allocate(obj);
    else if (ftruncate(fd, file_size) != 0)
        err = iw_error_from_errno(errno);
    if (err == ERROR_SUCCESS)
        err = map_page(node, obj, temp);
    if (err != ERROR_SUCCESS) {
        unlinkat(node->dirfd, temp, 0);
        close(fd);
        iw_members_discharge(obj->charge, obj->pages);
        return err;
    }
    IW_CRASH_POINT("create.temp_sized");
    if (stateful)
        obj->ops->init(iw_object_state(obj), params);
    return ERROR_SUCCESS;
}

enum publish_result { PUBLISHED, NAME_TAKEN, TEMP_LOST, FAILED };

/* Reserves the pages, allocates them unless make_file did (allocated) and
 * gives the object its name.  On anything but PUBLISHED the temporary file
 * is gone and the pages are returned. */
static enum publish_result publish(struct iw_node *node, struct iw_object *obj, const char *temp,
                                   uint64_t pages, bool allocated, DWORD *err)
{
    enum publish_result result = FAILED;
    bool reserved = false;
    *err = ERROR_SUCCESS;
    if (pages) {
        *err = iw_pool_reserve(node, pages, obj->ino, obj->fd);
        reserved = *err == ERROR_SUCCESS;
        if (reserved)
            IW_CRASH_POINT("create.reserved");
        if (reserved && !allocated)
            *err = allocate(obj);
    }
    if (*err == ERROR_SUCCESS) {
        IW_CRASH_POINT("create.ready");
        int rc = iw_node_file_publish(node, temp, obj->file);
        if (rc == 0)
            return PUBLISHED;
        if (rc == EEXIST)
            result = NAME_TAKEN;
        else if (rc == ENOENT)
            result = TEMP_LOST; /* removed by hand: a recount never removes a held file (iw_node_file_make) */
        else
            *err = iw_error_from_errno(rc);
    }
    /* Returned while the file still stands: a recount meanwhile counts it,
     * so the word can only end up too high, never too low. */
    if (reserved)
        iw_pool_release(node, pages, iw_pool_epoch(node));
    unlinkat(node->dirfd, temp, 0);
    return result;
}

static DWORD create_object(struct iw_node *node, const struct iw_object_ops *ops, const struct iw_name *name,
                           uint64_t size, const void *params, struct iw_object **out, bool *existed)
{
    DWORD err;
    bool named = name->file[0] != '\0';
    for (;;) {
        if (named) {
            /* An existing name is an Open: making a full-size file first
             * would reserve and zero-fill pages for nothing, and could make
             * another process's recount refuse a Create that fits. */
            err = open_existing(node, ops, name, out);
            if (err != ERROR_FILE_NOT_FOUND) {
                *existed = true;
                return err;
            }
        }
        struct iw_object *obj = new_record(-1, name->file, ops);
        if (obj == NULL)
            return ERROR_NOT_ENOUGH_MEMORY;
        if (!named)
            iw_node_unique_name(obj->file, "u-");
        if (ops->state_size == 0) { /* a data object: charged to the pool */
            obj->size = size;
            obj->data_offset = name->hashed ? (off_t)node->page_size : 0;
            obj->pages = iw_pages(node, size);
        }
        char temp[IW_UNIQUE_NAME_SIZE];
        bool allocated = false;
        err = make_file(node, obj, name, params, temp, obj->pages, &allocated);
        enum publish_result result = FAILED;
        if (err == ERROR_SUCCESS) {
            result = publish(node, obj, temp, obj->pages, allocated, &err);
            if (result == PUBLISHED) {
                IW_CRASH_POINT("create.published");
                *out = adopt(node, obj);
                *existed = false;
                return *out ? ERROR_SUCCESS : ERROR_NOT_ENOUGH_MEMORY;
            }
            if (obj->page && ops->undo)
                ops->undo(iw_object_state(obj));
            if (obj->page)
                iw_guard_unmap(obj->page, node->page_size, node->page_size);
            close(obj->fd);
            iw_members_discharge(obj->charge, obj->pages);
        }
        free(obj);
        /* Another creator got the name first: open theirs (top of loop). */
        if (result == TEMP_LOST || result == NAME_TAKEN)
            continue;
        /* A full pool (or tmpfs) only matters if the name is still free. */
        if (named && err == ERROR_NOT_ENOUGH_MEMORY) {
            DWORD open_err = open_existing(node, ops, name, out);
            if (open_err != ERROR_FILE_NOT_FOUND) {
                *existed = true;
                return open_err;
            }
        }
        return err;
    }
}

DWORD iw_object_create(const struct iw_object_ops *ops, const struct iw_name *name, uint64_t size,
                       const void *params, struct iw_object **out, bool *existed)
{
    struct iw_node *node;
    DWORD err = enter(&node);
    if (err != ERROR_SUCCESS)
        return err;
    err = create_object(node, ops, name, size, params, out, existed);
    iw_transit_end();
    return gone_if_removed(node, err);
}
