/*
 * fork.  One pthread_atfork registration calls each module in the order
 * stated here, whichever call a program made first.
 *
 * THE LOCK ORDER (stated here only; elsewhere referred to as "fork.c's
 * lock order").  A thread holding a lock of the library takes only locks
 * further down this list, never one above:
 *   1. the transit gate (transit.c) - held for an increment by every call
 *      that opens, makes or destroys an object or makes or closes a handle
 *      of one, and by fork throughout;
 *   2. the process lock (records.c) - the records and the handle table;
 *   3. leaves, under which nothing else is taken and which are never held
 *      together: the mapping table's lock (mapping.c), each type's own
 *      (a mutex's watcher lock, mutex_watch.c; the exit watcher's lock,
 *      process_watch.c) and the registry of running threads (thread.c).
 * Not in the order, because no thread waits for them while holding one
 * above: the objects' own locks (a mutex's PI lock is the application's)
 * and the OFD locks on files (reflock.h, node_header.c).  The short calls
 * (Set, Release, a wait's first try) take none of these (hazard.c).
 *
 * prepare takes 1, 2 and the leaves in that order - after waiting for the
 * calls in transit, so that the child inherits no descriptor the records
 * don't know of (transit.c) - raises the soft descriptor limit for the
 * fork (records.c), claims the child's member slot (members.c: before the
 * records take what descriptors are left, since a child without a slot
 * leaves the pool in doubt for good) and gives every record a description
 * of its own (records.c).  parent and child let go in reverse
 * order; the child,
 * whose only thread is the forking one, first starts afresh what belonged
 * to the parent's other threads: identities (self.c), hazard slots
 * (hazard.c), the registry of running threads (thread.c), each type's process-wide state (a mutex's watchers), the
 * unique-name key (node.c); then the records keep the child's own
 * descriptions, the child takes its member slot, and the transits close
 * the parked ones.
 */
#include "fork.h"

#include <pthread.h>

#include "hazard.h"
#include "mapping.h"
#include "members.h"
#include "node.h"
#include "process.h"
#include "records.h"
#include "self.h"
#include "thread.h"
#include "type.h"

/* Each type's hook, in type order (prepare) or reverse (parent, child). */
enum hook { PREPARE, PARENT, CHILD };

static void each_type(enum hook hook)
{
    for (uint32_t n = 0; n < IW_TYPE_END; n++) {
        uint32_t t = hook == PREPARE ? n : IW_TYPE_END - 1 - n;
        const struct iw_object_ops *ops = iw_type_ops(t);
        void (*f)(void) = ops == NULL          ? NULL
                          : hook == PREPARE ? ops->fork_prepare
                          : hook == PARENT  ? ops->fork_parent
                                            : ops->fork_child;
        if (f)
            f();
    }
}

static void prepare(void)
{
    iw_thread_fork_shield();   /* no thread stopped holding what follows */
    iw_transit_fork_prepare(); /* 1 */
    iw_records_fork_prepare(); /* 2, and the soft descriptor limit raised */
    iw_members_fork_prepare(); /* the child's member slot (members.c): first, while descriptors are left */
    iw_records_fork_own();     /* the records' descriptors */
    iw_mapping_fork_prepare(); /* 3 */
    each_type(PREPARE);        /* 3 */
    iw_thread_fork_prepare();  /* 3: the registry of running threads */
    iw_process_watch_fork_prepare(); /* 3: local types are in no registry */
}

static void parent(void)
{
    iw_thread_fork_parent();
    iw_process_watch_fork_parent();
    each_type(PARENT);
    iw_mapping_fork_parent();
    iw_records_fork_parent();
    iw_members_fork_parent();
    iw_transit_fork_parent();
    iw_thread_fork_unshield();
}

static void child(void)
{
    iw_self_fork_child();
    iw_hazard_fork_child();
    iw_thread_fork_child();
    iw_process_watch_fork_child();
    each_type(CHILD);
    iw_mapping_fork_parent(); /* as the parent: the forking thread took it */
    iw_node_reseed();
    iw_records_fork_child();
    iw_members_fork_child();
    iw_transit_fork_child();
    iw_thread_fork_unshield();
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void install(void) { pthread_atfork(prepare, parent, child); }
void iw_fork_watch(void) { pthread_once(&once, install); }
