/*
 * Reference locks: how an object's lifetime is shared between processes
 * without a daemon.  Byte 0 of every object file carries an OFD lock:
 *
 *   read lock  - "this process holds the object" (one per process; the
 *                kernel drops it when the last descriptor closes, which
 *                includes exit, exec and SIGKILL);
 *   write lock - "nobody else holds it, and I am destroying it".
 *
 * The rules that make every interleaving (and every crash) safe:
 *   - An object becomes visible (renamed into place) only after its creator
 *     holds its read lock, so a visible object with no lock is stale.
 *   - Whoever takes the write lock unlinks the name before letting go; the
 *     only way to release a write lock without unlinking is to die, and a
 *     waiter then finishes the job.  A write lock is never held while
 *     blocking; only waiting for a write lock to go away blocks.
 *   - Staleness is decided by getting the write lock, never by taking a read
 *     lock and looking for others: two openers passing a dead object would
 *     otherwise vouch for each other and revive it.
 *   - Names are only ever unlinked by a write-lock holder, so "I hold the
 *     write lock and the inode still has a link" means the link is ours to
 *     remove - once the file is proven the library's (mark.h).
 *
 * THE DESTROY ORDER (stated here only; object.c's release_file follows it,
 * DESIGN.md refers to it).  The last holder, once it has the write lock:
 *   1. reads the pool's epoch (pool.h);
 *   2. unlinks the name, if the inode still has it;
 *   3. returns the object's pool pages - skipped if a recount reset the
 *      pool since 1, which may not have counted the object;
 *   4. closes the descriptor, which drops the write lock.
 * The pages go only after the name: an opener that saw the destroyer as a
 * holder and finds it dead before the unlink keeps the object (its open is
 * ordered before the death), and its pages must still be counted then.  A
 * crash anywhere leaves the pool word too high, never too low (a recount
 * repairs it), and the name, if still there, to the next opener, who finds
 * no lock and finishes the job.
 */
#ifndef IW_REFLOCK_H
#define IW_REFLOCK_H
#include <stdbool.h>
#include <sys/stat.h>

struct iw_node;

/* A creator takes its read lock on a fresh, not yet visible file.  Returns 0,
 * or EAGAIN when a recount has found the file before the lock and is
 * removing it (the caller starts again with a new file). */
int iw_reflock_take_new(int fd);

/* Takes a read lock on an existing object file opened as "file".  Returns 0
 * with *st filled when the object is alive and still has its name; ENOENT
 * when it is gone (it was being destroyed, or it was stale and this call
 * removed it); EACCES when it is unheld but not the library's (mark.h): left
 * alone; another errno on failure.  The caller closes fd unless 0, and
 * proves a held file the library's itself (a user's lock on a planted file
 * would make it look held). */
int iw_reflock_hold(const struct iw_node *node, const char *file, int fd, struct stat *st);

/* Called by the last holder in this process before closing fd.  True when no
 * other process holds the object either: the caller then holds the write lock
 * and must destroy the object in the destroy order above. */
bool iw_reflock_release_is_last(int fd);

/* Whether another description holds a reference (read) lock on fd's file
 * now.  A write lock is not one: its holder is destroying the file, or
 * removing it stale. */
bool iw_reflock_seen_held(int fd);

/* States of byte 0 seen by a recount; see pool.c. */
enum iw_reflock_state { IW_REFLOCK_FREE, IW_REFLOCK_HELD };
/* For a recount, on a file proven the library's (iw_mark_open):
 * IW_REFLOCK_HELD if anyone holds or is destroying the file; otherwise the
 * file is stale, and this call takes the write lock and unlinks it before
 * returning IW_REFLOCK_FREE. */
enum iw_reflock_state iw_reflock_probe(const struct iw_node *node, const char *file, int fd);
#endif
