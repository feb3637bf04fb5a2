/*
 * Objects and their handles: a handle stands for one reference to its
 * object (object.h); these are the calls that turn one into the other, and
 * CloseHandle, which is every type's.  The handle table itself: handle.c.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "export.h"
#include "handle.h"
#include "hazard.h"
#include "last_error.h"
#include "local_object.h"
#include "object.h"
#include "records.h"
#include "thread.h"

struct iw_object *iw_object_from_handle(HANDLE h, const struct iw_object_ops *ops)
{
    iw_records_lock();
    struct iw_object *obj = iw_handle_lookup(h);
    if (obj != NULL && iw_ops_are(obj->ops, ops))
        atomic_fetch_add(&obj->refs, 1);
    else
        obj = NULL;
    iw_records_unlock();
    if (obj == NULL)
        iw_set_error(ERROR_INVALID_HANDLE);
    return obj;
}

HANDLE iw_object_handle(struct iw_object *obj)
{
    iw_hazard_setup(); /* here, not in a first (real-time) wait */
    iw_records_lock();
    HANDLE h = iw_handle_new(obj, obj->ops, obj->page ? iw_object_state(obj) : NULL);
    iw_records_unlock();
    if (h == NULL) {
        iw_object_close(obj);
        return iw_fail(ERROR_NOT_ENOUGH_MEMORY);
    }
    return h;
}

IW_API BOOLEAN CloseHandle(HANDLE hObject)
{
    if (hObject == IW_CURRENT_THREAD || hObject == (HANDLE)(intptr_t)-1)
        return TRUE; /* GetCurrentThread's or GetCurrentProcess's pseudo-handle: closing it does nothing (Win32) */
    /* From the handle table to the record's handle count: fork waits
     * (records.h). */
    iw_transit_begin();
    iw_records_lock();
    struct iw_object *obj = iw_handle_remove(hObject);
    iw_records_unlock();
    if (obj == NULL || iw_object_is_local(obj)) {
        /* No record: nothing for fork to wait for - and a local type's
         * handle_closed may wait for a thread (a timer's routine) that is
         * itself waiting for fork to let it into transit. */
        iw_transit_end();
        if (obj == NULL) {
            iw_set_error(ERROR_INVALID_HANDLE);
            return FALSE;
        }
        if (obj->ops->handle_closed != NULL)
            obj->ops->handle_closed(iw_object_state(obj));
        iw_object_close(obj);
        return TRUE;
    }
    iw_object_close(obj);
    iw_transit_end();
    return TRUE;
}

HANDLE iw_object_create_handle(const struct iw_object_ops *ops, LPCTSTR lpName, const void *params)
{
    struct iw_name name;
    DWORD err = iw_name_parse(lpName, &name);
    struct iw_object *obj;
    bool existed = false;
    iw_transit_begin(); /* up to the handle: fork waits (records.h) */
    if (err == ERROR_SUCCESS)
        err = iw_object_create(ops, &name, 0, params, &obj, &existed);
    HANDLE h = err == ERROR_SUCCESS ? iw_object_handle(obj) : iw_fail(err);
    iw_transit_end();
    if (h != NULL)
        iw_set_error(existed ? ERROR_ALREADY_EXISTS : ERROR_SUCCESS);
    return h;
}

HANDLE iw_object_open_handle(const struct iw_object_ops *ops, LPCTSTR lpName)
{
    struct iw_object *obj;
    iw_transit_begin(); /* up to the handle: fork waits (records.h) */
    DWORD err = iw_object_open(ops, lpName, &obj);
    /* success leaves the last error alone */
    HANDLE h = err == ERROR_SUCCESS ? iw_object_handle(obj) : iw_fail(err);
    iw_transit_end();
    return h;
}
