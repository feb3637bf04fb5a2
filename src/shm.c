/* SPEC 3: shared memory. */
#include <errno.h>
#include <sys/mman.h>

#include "crash_point.h"
#include "export.h"
#include "last_error.h"
#include "mapping.h"
#include "object.h"
#include "type.h"

/* Maps the whole object anew (populated, locked where permitted); through
 * the description its record keeps, if it has one: object.h. */
static DWORD map_object(struct iw_object *obj, void **out)
{
    struct iw_node *node;
    iw_node_get(&node);
    size_t len = (size_t)iw_pages(node, obj->size) * node->page_size;
    void *p = iw_object_map(obj, len, obj->data_offset);
    if (p == MAP_FAILED)
        return iw_error_from_errno(errno == EACCES ? ENOMEM : errno);
    if (!iw_mapping_add(p, len)) {
        munmap(p, len);
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
    if (MaximumSizeLow == 0) {
        /* Size 0 is valid only as an Open of an existing object. */
        err = iw_object_open(&iw_shm_ops, lpName, &obj);
        if (err == ERROR_FILE_NOT_FOUND)
            err = ERROR_INVALID_PARAMETER;
    } else {
        err = iw_object_create(&iw_shm_ops, &name, MaximumSizeLow, NULL, &obj, &existed);
    }
    if (err != ERROR_SUCCESS)
        return iw_fail(err);
    HANDLE h = hand_out(obj, location);
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
    DWORD err = iw_object_open(&iw_shm_ops, lpName, &obj);
    if (err != ERROR_SUCCESS)
        return iw_fail(err);
    return hand_out(obj, location); /* success leaves the last error alone */
}

IW_API BOOLEAN RtUnmapSharedMemory(PVOID location)
{
    void *base;
    size_t len;
    if (!iw_mapping_remove(location, &base, &len)) {
        iw_set_error(ERROR_INVALID_ADDRESS);
        return FALSE;
    }
    munmap(base, len);
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
};
