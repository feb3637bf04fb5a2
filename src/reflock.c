#include "reflock.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "crash_point.h"
#include "mark.h"
#include "pool.h"

static int lock_byte0(int fd, int cmd, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    for (;;) {
        if (fcntl(fd, cmd, &fl) == 0)
            return 0;
        if (errno != EINTR)
            return errno == EACCES ? EAGAIN : errno;
    }
}

static short lock_seen(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
        return -1;
    return fl.l_type;
}

bool iw_reflock_seen_held(int fd) { return lock_seen(fd) == F_RDLCK; }

int iw_reflock_take_new(int fd) { return lock_byte0(fd, F_OFD_SETLK, F_RDLCK); }

/* With the write lock: finish a destruction whoever began it.  If the inode
 * still has its name, its last holder died before removing it (or died
 * holding it), so the name is removed now - if the file is proven the
 * library's (mark.h): a user's file named like an object is nobody's to
 * remove, and EACCES says so. */
static int remove_if_linked(const struct iw_node *node, const char *file, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_nlink == 0)
        return 0;
    if (!iw_mark_proven(node, file, fd, &st))
        return EACCES;
    /* Its pages stay counted in the pool word (nobody releases a stale
     * object's: a recount that did not see it may have reset the word).
     * A dead member's bound covers them when a death left it stale, but it
     * may also have been left by a closer racing ours (between its failed
     * upgrade and its second try: iw_reflock_release_is_last), with nobody
     * dead: a doubt, raised before the unlink, so that no refusal trusts
     * the word until a count has seen the object gone (pool.c). */
    if (iw_pool_pages_of(node, file, &st) > 0)
        iw_pool_doubt(node);
    if (unlinkat(node->dirfd, file, 0) == 0)
        IW_CRASH_POINT("reflock.stale_unlinked");
    return 0;
}

int iw_reflock_hold(const struct iw_node *node, const char *file, int fd, struct stat *st)
{
    for (;;) {
        int err;
        switch (lock_seen(fd)) {
        case F_UNLCK:
            /* Nobody holds it: stale, unless someone locks it before we do,
             * in which case we look again. */
            err = lock_byte0(fd, F_OFD_SETLK, F_WRLCK);
            if (err == EAGAIN)
                continue;
            if (err)
                return err;
            IW_CRASH_POINT("reflock.stale_locked");
            err = remove_if_linked(node, file, fd);
            return err ? err : ENOENT;
        case F_RDLCK:
            /* A holder existed when we looked, so the object was alive then,
             * and our open is ordered at that instant.  Should that holder
             * die before our lock - even mid-destroy, holding the write lock
             * but before its unlink - we hold the object from then on: it is
             * still named and still counted in the pool (a destroyer returns
             * pages only after unlinking).  If a live destroyer got in since,
             * we look again. */
            err = lock_byte0(fd, F_OFD_SETLK, F_RDLCK);
            if (err == EAGAIN)
                continue;
            if (err)
                return err;
            if (fstat(fd, st) != 0)
                return errno;
            /* Destroyed between our openat and our lock: the name is gone. */
            return st->st_nlink > 0 ? 0 : ENOENT;
        case F_WRLCK:
            /* Being destroyed.  Wait for the destroyer: it unlinks and lets go
             * in a few system calls, or dies, and then we finish its work.
             * Waiting for a *read* lock here would be wrong: a destroyer that
             * died would hand us a dead object that we would then revive. */
            err = lock_byte0(fd, F_OFD_SETLKW, F_WRLCK);
            if (err)
                return err;
            IW_CRASH_POINT("reflock.waited_locked");
            err = remove_if_linked(node, file, fd);
            return err ? err : ENOENT;
        default:
            return errno;
        }
    }
}

bool iw_reflock_release_is_last(int fd)
{
    /* Upgrading our read lock succeeds only if no other process holds one.
     * Two last holders closing at once can both fail, and the object would
     * be left unheld but named - stale, with its pages counted and nobody
     * dead, so a refusal answering from the pool word (pool.c) would be
     * wrong until a count.  So a failed upgrade lets go of the read lock
     * and tries the write lock once more: of two closers, the one that
     * tries after the other let go succeeds and destroys (whichever order
     * their steps take, the second try of the later one finds the earlier
     * one's lock gone).  A failure now means another holder (alive, and
     * responsible from now on) or a write-lock holder: a destroyer, or an
     * opener or recount that found the object unheld in our gap and removes
     * it as stale - raising a doubt (remove_if_linked). */
    if (lock_byte0(fd, F_OFD_SETLK, F_WRLCK) == 0)
        return true;
    if (lock_byte0(fd, F_OFD_SETLK, F_UNLCK) != 0)
        return false;
    IW_CRASH_POINT("reflock.unlocked");
    return lock_byte0(fd, F_OFD_SETLK, F_WRLCK) == 0;
}

enum iw_reflock_state iw_reflock_probe(const struct iw_node *node, const char *file, int fd)
{
    if (lock_seen(fd) != F_UNLCK)
        return IW_REFLOCK_HELD;
    if (lock_byte0(fd, F_OFD_SETLK, F_WRLCK) != 0)
        return IW_REFLOCK_HELD; /* someone got there first */
    IW_CRASH_POINT("reflock.probe_locked");
    return remove_if_linked(node, file, fd) ? IW_REFLOCK_HELD : IW_REFLOCK_FREE;
}
