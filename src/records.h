/*
 * This process's records of objects, by file name; the process lock; and
 * fork, after which a child holds references of its own.
 */
#ifndef IW_RECORDS_H
#define IW_RECORDS_H
#include <stdbool.h>

#include "object.h"

/* The process lock, guarding the records and the handle table. */
void iw_process_lock(void);
void iw_process_unlock(void);

/* With the process lock held. */
struct iw_object *iw_records_find(const char *file);
bool iw_records_insert(struct iw_object *obj);
void iw_records_remove(struct iw_object *obj);

/* Brackets a call that holds object descriptors outside the records (being
 * made, opened or destroyed): fork waits for it (see records.c). */
void iw_transit_begin(void);
void iw_transit_end(void);

/* Installs the fork handlers, once. */
void iw_records_watch_fork(void);
#endif
