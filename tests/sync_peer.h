/*
 * The sync_peer program: a second process for the sync_* tests, started by
 * fork+exec through test_node's tn_peer_start() (it inherits IWIN32_ROOT,
 * so it uses the test's private node).  Its argv is a list of commands run
 * in order; each answers one line on stdout (flushed at once):
 *
 *   ce NAME MANUAL INITIAL   RtCreateEvent          "ok LASTERR" | "fail ERR"
 *   oe NAME                  RtOpenEvent            "ok LASTERR" | "fail ERR"
 *   cm NAME OWNER            RtCreateMutex          "ok LASTERR" | "fail ERR"
 *   om NAME                  RtOpenMutex            "ok LASTERR" | "fail ERR"
 *   cs NAME INITIAL MAX      RtCreateSemaphore      "ok LASTERR" | "fail ERR"
 *   os NAME                  RtOpenSemaphore        "ok LASTERR" | "fail ERR"
 *   mix PREFIX N             opens PREFIX<i>, i < N: event if i%4 < 2, a
 *                            semaphore if 2, a mutex if 3     "ok N" | "fail I ERR"
 *       (each create/open appends its handle to the peer's list)
 *   w MS                     waits on the last handle: "waiting T", then "w RESULT T"
 *   wall MS                  waits on every handle in the list (index order), same lines
 *   set | reset | pulse | rm  on the last handle   "ok 0" | "fail ERR"
 *   rs N                     RtReleaseSemaphore     "ok PREVIOUS" | "fail ERR"
 *   close                    CloseHandle of the last handle, dropped from the list  "ok 0"
 *   g                        blocks until a byte (tn_peer_send) or EOF on stdin; no answer
 *   sleep MS                 no answer
 *   kill                     SIGKILLs itself
 *   hammer SHM MUTEX N       N increments of the shm's first uint64 under the mutex  "done N"
 *   produce PREFIX FIRST N   puts FIRST..FIRST+N-1 into the ring PREFIX   "done N" | "fail ..."
 *   consume PREFIX N         takes N values from the ring, counting each in seen[]  "done N"
 *
 * T is CLOCK_MONOTONIC in microseconds (system-wide, so comparable with the
 * test's clock).  The ring PREFIX is four objects: PREFIX.shm (struct
 * sync_ring), PREFIX.empty and PREFIX.full (semaphores), PREFIX.mutex.
 */
#ifndef IWIN32_SYNC_PEER_H
#define IWIN32_SYNC_PEER_H
#include <stdatomic.h>
#include <stdint.h>

#define SYNC_RING_SLOTS 64
#define SYNC_RING_TOTAL 100000u   /* distinct values 0..TOTAL-1 */
#define SYNC_RING_WAIT_MS 10000   /* a unit lost shows as a timeout, not a hang */

struct sync_ring {
    uint32_t head, tail;                /* guarded by PREFIX.mutex */
    uint32_t slot[SYNC_RING_SLOTS];
    _Atomic uint32_t seen[SYNC_RING_TOTAL]; /* times each value was consumed */
};
#endif
