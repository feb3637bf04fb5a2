/*
 * What the waits need from each kind of synchronization object.  Every
 * event, mutex and semaphore has, in its shared state, a 32-bit "wake"
 * counter that its signallers bump and wake, and that waiters sleep on:
 *   try    - take the object now if it is signalled (no registration);
 *   enter  - register as a waiter; returns a cookie for poll/leave;
 *   poll   - as a registered waiter, take the object if it is ours now;
 *   leave  - stop waiting without taking it.
 * try/poll return 1 if taken (setting *abandoned for a mutex whose owner
 * died), 0 if not.
 */
#ifndef IW_SYNC_H
#define IW_SYNC_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "object.h"

_Atomic uint32_t *iw_sync_wake_word(struct iw_object *obj);
int iw_sync_try(struct iw_object *obj, bool *abandoned);
uint32_t iw_sync_enter(struct iw_object *obj);
int iw_sync_poll(struct iw_object *obj, uint32_t cookie, bool *abandoned);
void iw_sync_leave(struct iw_object *obj, uint32_t cookie);

/* Per kind (event.c, mutex.c, semaphore.c). */
_Atomic uint32_t *iw_event_wake_word(void *state);
int iw_event_try(void *state);
uint32_t iw_event_enter(void *state);
int iw_event_poll(void *state, uint32_t cookie);
void iw_event_leave(void *state, uint32_t cookie);

_Atomic uint32_t *iw_semaphore_wake_word(void *state);
int iw_semaphore_try(void *state);
void iw_semaphore_enter(void *state);
int iw_semaphore_poll(void *state);
void iw_semaphore_leave(void *state);

_Atomic uint32_t *iw_mutex_wake_word(void *state);
int iw_mutex_try(struct iw_object *obj, bool *abandoned);
void iw_mutex_enter(void *state);
/* A thread of this process owns it (its page must stay mapped: object.c). */
bool iw_mutex_owned_here(struct iw_object *obj);
void iw_mutex_leave(void *state);
/* A single-object wait on a mutex blocks in the kernel's PI lock itself:
 * priority inheritance and prompt owner-death hand-over. */
DWORD iw_mutex_wait(struct iw_object *obj, const struct timespec *deadline);
#endif
