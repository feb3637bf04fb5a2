/* SPEC 3: shared memory. */
#include <errno.h>
#include <linux/capability.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crash_point.h"
#include "export.h"
#include "last_error.h"
#include "mapping.h"
#include "object.h"
#include "records.h"
#include "type.h"

/* ---- the spare mapping -------------------------------------------------
 * A mapping costs an mmap that populates (and locks) every page and a
 * munmap that flushes them: 5 us for 4 KiB, 90-200 us for 1 MiB, most of
 * a repeated Open of an object the process holds.  So RtUnmapSharedMemory
 * keeps one mapping per object while the process still holds the object:
 * made inaccessible (PROT_NONE: the user's address faults at once, as
 * after a munmap), it is the next Open's mapping, made accessible again -
 * two mprotect calls, which keep the pages and their page-table entries
 * (no fault after: test_shm_spare.c).  What is left of "unmapped": the address
 * range stays reserved until the process lets go of the object (its last
 * handle: shm_last_handle_closed), when the spare is unmapped for real,
 * before the file is let go, so a destroyed object's memory is never kept.
 *
 * A locked spare counts against RLIMIT_MEMLOCK, and could make a later
 * mapping (or the application's own mlock) be refused where it was not
 * before; so spares are kept only where locking is unlimited (CAP_IPC_LOCK
 * in the initial user namespace, or RLIMIT_MEMLOCK infinite: a real-time
 * setup), as the library finds the process the first time it could keep
 * one (a process that changes its limit or capabilities later keeps that
 * answer). */

static size_t mapping_len(const struct iw_object *obj)
{
    struct iw_node *node;
    iw_node_get(&node); /* cannot fail: obj exists */
    return (size_t)iw_pages(node, obj->size) * node->page_size;
}

/* CAP_IPC_LOCK lifts RLIMIT_MEMLOCK only when held in the initial user
 * namespace (the kernel asks capable()): the first process of any other
 * namespace - a rootless container - has every capability of its own, and
 * its locked memory still counts (test_limits_memory.c).  The initial namespace's
 * inode is fixed (PROC_USER_INIT_INO); without /proc: not known, so no. */
static bool in_initial_user_namespace(void)
{
    struct stat st;
    return stat("/proc/self/ns/user", &st) == 0 && st.st_ino == 0xEFFFFFFDu;
}

static bool locking_unlimited(void)
{
    static _Atomic int answer; /* 0: not asked yet, 1: no, 2: yes */
    int a = atomic_load_explicit(&answer, memory_order_relaxed);
    if (a == 0) {
        struct rlimit rl;
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3] = {0};
        bool yes = (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY) ||
                   (syscall(SYS_capget, &hdr, caps) == 0 && (caps[0].effective & (1u << CAP_IPC_LOCK)) &&
                    in_initial_user_namespace());
        a = yes ? 2 : 1;
        atomic_store_explicit(&answer, a, memory_order_relaxed);
    }
    return a == 2;
}

/* The spare, accessible again, or NULL.  Our caller's reference is a
 * handle to be, so the process holds the object and nobody else can
 * unmap the spare meanwhile; two Opens racing get it once (exchange). */
static void *take_spare(struct iw_object *obj, size_t len)
{
    void *p = atomic_exchange(&obj->spare, NULL);
    if (p != NULL && mprotect(p, len, PROT_READ | PROT_WRITE) != 0) {
        munmap(p, len);
        p = NULL;
    }
    return p;
}

/* A mapping the user has unmapped: kept as obj's spare if the process
 * still holds obj and has none, otherwise unmapped.  Only an object mapped
 * more than once (it has a mapping description: object.h) keeps one: an
 * object mapped once is most often closed next, and its spare would cost
 * that close a call. */
static void keep_or_unmap(struct iw_object *obj, void *base, size_t len)
{
    bool kept = false;
    if (atomic_load(&obj->map_fd) >= 0 && locking_unlimited() && mprotect(base, len, PROT_NONE) == 0) {
        /* Under the process lock, where the last handle is counted: a
         * spare is kept only while handles are left, and the last
         * handle's close takes it after its own count (below), so none
         * is left behind by a close racing this unmap. */
        iw_records_lock();
        void *none = NULL;
        kept = obj->handles > 0 && atomic_compare_exchange_strong(&obj->spare, &none, base);
        iw_records_unlock();
    }
    if (!kept)
        munmap(base, len);
}

/* ops: the process has let go of obj (its records lock made handles 0):
 * no spare can be kept from now on, so the one kept goes. */
static void shm_last_handle_closed(struct iw_object *obj)
{
    void *p = atomic_exchange(&obj->spare, NULL);
    if (p != NULL)
        munmap(p, mapping_len(obj));
}

/* ops: in a forked child.  fork passes on a mapping but not its locks,
 * nor (a shared file mapping) its page-table entries: a spare inherited
 * would fault in page by page once an Open reused it (SPEC 3's real-time
 * line: test_shm_spare.c).  It goes; the child's next Open maps anew,
 * populated and locked.  The child's only thread is the forking one, so
 * nothing takes the spare meanwhile. */
static void shm_forked(struct iw_object *obj)
{
    void *p = atomic_exchange(&obj->spare, NULL);
    if (p != NULL)
        munmap(p, mapping_len(obj));
}

/* ---- mapping ------------------------------------------------------------ */

/* Maps the whole object: its spare, or anew (populated, locked where
 * permitted; through the description its record keeps, if it has one:
 * object.h).  The mapping holds a reference to the record, for its
 * RtUnmapSharedMemory to find the spare's place by. */
static DWORD map_object(struct iw_object *obj, void **out)
{
    size_t len = mapping_len(obj);
    /* A spare taken is in neither the record nor the mapping table until
     * it is added: fork waits (transit), or the child would keep a mapping
     * nobody knows of - the object's memory, after its last handle. */
    iw_transit_begin();
    void *p = take_spare(obj, len);
    bool spare = p != NULL;
    if (!spare) {
        iw_transit_end(); /* iw_object_map takes it where it needs it */
        p = iw_object_map(obj, len, obj->data_offset);
        if (p == MAP_FAILED)
            return iw_error_from_errno(errno == EACCES ? ENOMEM : errno);
    }
    atomic_fetch_add(&obj->refs, 1); /* ours is not the last: no lock needed (object.c) */
    bool added = iw_mapping_add(p, len, obj);
    if (spare)
        iw_transit_end();
    if (!added) {
        munmap(p, len);
        iw_object_put(obj);
        return ERROR_NOT_ENOUGH_MEMORY;
    }
    *out = p;
    return ERROR_SUCCESS;
}

/* Maps obj and gives it a handle; on failure lets go of obj's reference. */
static HANDLE hand_out(struct iw_object *obj, VOID **location)
{
    void *p = NULL;
    DWORD err = map_object(obj, &p);
    if (err != ERROR_SUCCESS) {
        iw_object_close(obj); /* its reference was to become a handle */
        return iw_fail(err);
    }
    IW_CRASH_POINT("shm.mapped");
    HANDLE h = iw_object_handle(obj);
    if (h == NULL) {
        RtUnmapSharedMemory(p);
        return iw_fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    *location = p;
    return h;
}

IW_API HANDLE RtCreateSharedMemory(DWORD flProtect, DWORD MaximumSizeHigh, DWORD MaximumSizeLow,
                                   LPCTSTR lpName, VOID **location)
{
    (void)flProtect; /* memory is always readable and writable */
    if (location == NULL || MaximumSizeHigh != 0)
        return iw_fail(ERROR_INVALID_PARAMETER);
    struct iw_name name;
    DWORD err = iw_name_parse(lpName, &name);
    if (err != ERROR_SUCCESS)
        return iw_fail(err);
    struct iw_object *obj;
    bool existed = true;
    iw_transit_begin(); /* up to the handle: fork waits (records.h) */
    if (MaximumSizeLow == 0) {
        /* Size 0 is valid only as an Open of an existing object. */
        err = iw_object_open(&iw_shm_ops, lpName, &obj);
        if (err == ERROR_FILE_NOT_FOUND)
            err = ERROR_INVALID_PARAMETER;
    } else {
        err = iw_object_create(&iw_shm_ops, &name, MaximumSizeLow, NULL, &obj, &existed);
    }
    HANDLE h = err == ERROR_SUCCESS ? hand_out(obj, location) : iw_fail(err);
    iw_transit_end();
    if (h != NULL) /* set explicitly: callers test it before the handle */
        iw_set_error(existed ? ERROR_ALREADY_EXISTS : ERROR_SUCCESS);
    return h;
}

IW_API HANDLE RtOpenSharedMemory(DWORD dwDesiredAccess, BOOLEAN bInheritHandle, LPCTSTR lpName,
                                 VOID **location)
{
    (void)dwDesiredAccess;
    (void)bInheritHandle;
    if (location == NULL)
        return iw_fail(ERROR_INVALID_PARAMETER);
    struct iw_object *obj;
    iw_transit_begin(); /* up to the handle: fork waits (records.h) */
    DWORD err = iw_object_open(&iw_shm_ops, lpName, &obj);
    /* success leaves the last error alone */
    HANDLE h = err == ERROR_SUCCESS ? hand_out(obj, location) : iw_fail(err);
    iw_transit_end();
    return h;
}

IW_API BOOLEAN RtUnmapSharedMemory(PVOID location)
{
    void *base, *owner;
    size_t len;
    /* From the mapping table to the spare or munmap: fork waits, as in
     * map_object. */
    iw_transit_begin();
    bool mapped = iw_mapping_remove(location, &base, &len, &owner);
    if (mapped)
        keep_or_unmap(owner, base, len);
    iw_transit_end();
    if (!mapped) {
        iw_set_error(ERROR_INVALID_ADDRESS);
        return FALSE;
    }
    iw_object_put(owner); /* the mapping's reference (a last one takes the gate itself) */
    return TRUE;
}

/* The size is fixed at creation (SPEC 3) and the record keeps it, so the
 * reference taken here only keeps the record alive while it is read: a
 * concurrent CloseHandle of hShm then makes this fail or succeed, never read
 * freed memory. */
IW_API BOOLEAN iwin32SharedMemorySize(HANDLE hShm, uint64_t *sizeBytes)
{
    if (sizeBytes == NULL) {
        iw_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    struct iw_object *obj = iw_object_from_handle(hShm, &iw_shm_ops);
    if (obj == NULL)
        return FALSE; /* ERROR_INVALID_HANDLE: not open, or not shared memory */
    *sizeBytes = obj->size;
    iw_object_put(obj);
    return TRUE;
}

/* A data object: no state page, its file is its data (object.h); not
 * waitable.  Its size is per object, charged to the pool (pool.h). */
const struct iw_object_ops iw_shm_ops = {
    .type = IW_TYPE_SHM,
    .layout = 1,
    .name = "shm",
    .last_handle_closed = shm_last_handle_closed,
    .forked = shm_forked,
};
