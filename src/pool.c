/*
 * Pool accounting.
 *
 * The node header keeps one 64-bit word: the pages reserved (low 40 bits)
 * and a change count (high 24 bits) bumped by every reservation, release
 * and reset; and beside it a 64-bit count of resets, the epoch.
 * The word is a fast upper bound, never below the pages of live objects:
 *   - a creator reserves only after its file is sized, held and in the
 *     directory (its link count checked after its lock: object.c), and
 *     before the object gets its name;
 *   - a destroyer releases only after it has unlinked the object, holding
 *     the write lock - and not at all if a reset came between its last look
 *     before the unlink and its release: that reset may not have seen the
 *     object, and releasing its pages again would take them twice;
 *   - a process killed between those steps leaves the word too high, never
 *     too low (its pages are still counted; nobody releases them twice,
 *     since whoever removes a stale object does not release).
 * When a reservation would overflow, an exact recount decides: the pages of
 * every file someone holds, stale files removed.  The recount then resets
 * the word, undoing what crashed processes left in it, but only with a
 * compare-and-swap against the word it read before scanning, so a
 * reservation or release made during the scan is never lost.
 *
 * The epoch and a paused destroyer.  A destroyer reads the epoch before its
 * unlink and releases only if it is unchanged; a reset bumps it before its
 * compare-and-swap.  Say both the reset's and the release's swaps succeed.
 * If the release came first, it changed the word, so it came before the
 * reset read the word it swaps against - and before the scan, which then
 * could not see the unlinked object: nothing counted twice.  If the reset
 * came first, the release read the word after the reset's swap (its own
 * swap would fail otherwise), hence after the bump; and a reset that left
 * the object out scanned after the unlink, so it bumped after the
 * destroyer read the epoch: the destroyer sees another value and keeps its
 * pages counted (too high, which the next recount repairs).  "Another
 * value" needs an epoch that cannot come back round while a destroyer is
 * paused - stopped by Ctrl-Z or a debugger between its unlink and its
 * release for as long as anyone likes.  An 8-bit epoch in the word did,
 * after 256 resets; this one is 64 bits wide and each bump follows a full
 * directory scan: even at one bump per 100 ns, far beyond any scan, it
 * takes 58,000 years to wrap.
 */
#include "pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash_point.h"
#include "export.h"
#include "last_error.h"
#include "name.h"
#include "records.h"
#include "reflock.h"

#define PAGES_BITS 40
#define PAGES_MASK ((1ull << PAGES_BITS) - 1)
#define RECOUNT_TRIES 64

/* The word after a reservation, release or reset: pages, one more change
 * (the count wraps in its 24 bits). */
static uint64_t next_state(uint64_t old, uint64_t pages)
{
    return ((old >> PAGES_BITS) + 1) << PAGES_BITS | (pages & PAGES_MASK);
}

/* Resets the word from before (read before the scan) to a recount's figure,
 * unless it changed meanwhile.  The epoch is bumped first (see above). */
static bool reset(struct iw_node *node, uint64_t *before, uint64_t pages)
{
    atomic_fetch_add(&node->header->pool_resets, 1);
    return atomic_compare_exchange_strong(&node->header->pool_state, before, next_state(*before, pages));
}

uint64_t iw_pool_epoch(struct iw_node *node) { return atomic_load(&node->header->pool_resets); }

uint64_t iw_pool_counted(struct iw_node *node) { return atomic_load(&node->header->pool_state) & PAGES_MASK; }

uint64_t iw_pool_pages_of(const struct iw_node *node, const char *file, const struct stat *st)
{
    if (st->st_mode & S_ISVTX)
        return 0; /* event, mutex or semaphore */
    uint64_t size = (uint64_t)st->st_size;
    if (file[0] == 'h') /* hashed name: a header page before the data */
        size = size > node->page_size ? size - node->page_size : 0;
    return iw_pages(node, size);
}

struct seen {
    ino_t ino;
    uint64_t pages;
    bool in_flight;             /* a "t-" file: an object being made */
};

static int by_ino(const void *a, const void *b)
{
    ino_t x = ((const struct seen *)a)->ino, y = ((const struct seen *)b)->ino;
    return x < y ? -1 : x > y;
}

/* One pass over the directory, appending what is held.  An object renamed
 * from its "t-" name to its final name during a pass can be missed by that
 * pass; it cannot be missed by both of two passes, since it is renamed once. */
static int scan_pass(struct iw_node *node, struct seen **list, size_t *n, size_t *cap)
{
    /* A description of our own: a dup of dirfd would share its read
     * position with every thread, and with every process forked since the
     * node was opened, and two recounts at once would each see part of the
     * directory (and count too little). */
    int fd = openat(node->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return errno;
    }
    rewinddir(dir);
    struct dirent *d;
    while ((d = readdir(dir)) != NULL) {
        if (!iw_name_is_object_file(d->d_name))
            continue;
        int ofd = openat(node->dirfd, d->d_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (ofd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOMEM)) {
            /* Out of descriptors or memory: the file may be a live object,
             * and a count without it would lower the word below what is
             * really used. */
            int err = errno;
            closedir(dir);
            return err;
        }
        if (ofd < 0)
            continue; /* removed meanwhile, or not an object (a planted link, directory) */
        struct stat st;
        if (iw_reflock_probe(node->dirfd, d->d_name, ofd) == IW_REFLOCK_HELD && fstat(ofd, &st) == 0) {
            if (*n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 256;
                struct seen *grown = realloc(*list, ncap * sizeof **list);
                if (grown == NULL) {
                    close(ofd);
                    closedir(dir);
                    return ENOMEM;
                }
                *list = grown;
                *cap = ncap;
            }
            (*list)[(*n)++] = (struct seen){st.st_ino, iw_pool_pages_of(node, d->d_name, &st), d->d_name[0] == 't'};
        }
        close(ofd);
    }
    closedir(dir);
    return 0;
}

/* Pages of every held object file; *in_flight_pages of those still being
 * made (their creators may yet give up), *ahead_pages of those among them
 * with an inode number below own (see iw_pool_reserve). */
static int count_live(struct iw_node *node, ino_t own, uint64_t *pages, uint64_t *in_flight_pages,
                      uint64_t *ahead_pages)
{
    struct seen *list = NULL;
    size_t n = 0, cap = 0;
    int err = scan_pass(node, &list, &n, &cap);
    if (!err)
        err = scan_pass(node, &list, &n, &cap);
    if (!err) {
        if (n > 1)
            qsort(list, n, sizeof *list, by_ino);
        uint64_t sum = 0, in_flight = 0, ahead = 0;
        for (size_t i = 0; i < n; i++)
            if (i == 0 || list[i].ino != list[i - 1].ino) {
                sum += list[i].pages;
                in_flight += list[i].in_flight ? list[i].pages : 0;
                ahead += list[i].in_flight && list[i].ino < own ? list[i].pages : 0;
            }
        *pages = sum;
        *in_flight_pages = in_flight;
        *ahead_pages = ahead;
    }
    free(list);
    return err;
}

DWORD iw_pool_recount(struct iw_node *node, uint64_t *used_pages)
{
    _Atomic uint64_t *word = &node->header->pool_state;
    uint64_t before = atomic_load(word);
    uint64_t live, in_flight, ahead;
    int err = count_live(node, 0, &live, &in_flight, &ahead);
    if (err)
        return iw_error_from_errno(err);
    IW_CRASH_POINT("pool.recount_counted");
    /* A reset only ever lowers the word: repairing what crashes left in it
     * is its purpose, and each reset makes destroyers in mid-release keep
     * their pages counted (iw_pool_release). */
    if (live < (before & PAGES_MASK))
        reset(node, &before, live);
    /* What is used: objects that exist.  Objects being made count in the
     * shared word (they may have reserved), not here: their creators may yet
     * be refused, and together they can exceed the pool for a moment.  The
     * two passes of a scan under churn can also count an object destroyed
     * during the scan and the one made in its place; the word, exact at any
     * instant but for what crashes left in it (the reset above undid that),
     * bounds the figure. */
    uint64_t counted = atomic_load(word) & PAGES_MASK;
    uint64_t existing = live - in_flight;
    *used_pages = existing < counted ? existing : counted;
    return ERROR_SUCCESS;
}

DWORD iw_pool_reserve(struct iw_node *node, uint64_t pages, ino_t own)
{
    _Atomic uint64_t *word = &node->header->pool_state;
    uint64_t max = atomic_load(&node->header->pool_max_pages);
    if (pages > max)
        return ERROR_NOT_ENOUGH_MEMORY;
    for (int tries = 0; tries < RECOUNT_TRIES; tries++) {
        uint64_t old = atomic_load(word);
        while ((old & PAGES_MASK) + pages <= max)
            if (atomic_compare_exchange_weak(word, &old, next_state(old, (old & PAGES_MASK) + pages)))
                return ERROR_SUCCESS;
        /* Apparently full: an exact recount decides.  It counts our own
         * file (sized and held), so after the reset the word already
         * carries our reservation. */
        uint64_t live, in_flight, ahead;
        int err = count_live(node, own, &live, &in_flight, &ahead);
        if (err)
            return iw_error_from_errno(err);
        IW_CRASH_POINT("pool.reserve_counted");
        /* Other creators' files are in the count too, but they may yet be
         * refused themselves.  So that two of them never each wait for the
         * other, only those with a lower inode number count against us (our
         * own file is one of the in-flight ones); we wait for them to finish
         * before refusing.  Their files exist for a few system calls (one
         * whose creator died is removed by the next scan), but a creator
         * may be preempted or slowed down (valgrind): the waits grow from
         * 0.1 to 10 ms, about 0.5 s in all. */
        if (live - in_flight + ahead + pages > max) {
            /* A scan under churn can also count one object twice: one
             * destroyed between its two passes and the one made in its place.
             * A destruction during the scan changed the word, so a refusal
             * waits for a scan that nothing changed under. */
            bool churned = atomic_load(word) != old;
            if ((ahead > 0 || churned) && tries + 1 < RECOUNT_TRIES) {
                usleep(tries < 7 ? 100u << tries : 10000u);
                continue;
            }
            return ERROR_NOT_ENOUGH_MEMORY;
        }
        if (reset(node, &old, live))
            return ERROR_SUCCESS;
        /* Someone reserved or released during the scan: decide again. */
    }
    return ERROR_NOT_ENOUGH_MEMORY;
}

void iw_pool_release(struct iw_node *node, uint64_t pages, uint64_t epoch)
{
    _Atomic uint64_t *word = &node->header->pool_state;
    uint64_t old = atomic_load(word);
    uint64_t used;
    do {
        /* The word first, then the epoch: see above. */
        if (iw_pool_epoch(node) != epoch)
            return; /* a reset came between: too high now, which is safe */
        used = old & PAGES_MASK;
        used = used > pages ? used - pages : 0;
    } while (!atomic_compare_exchange_weak(word, &old, next_state(old, used)));
}

/* A Create granted between the recount and the store keeps its object:
 * use may then exceed the new size, and Creates are refused until it drops
 * below - the reservation compares against the size it loads each time. */
DWORD iw_pool_set_size(struct iw_node *node, uint64_t max_pages, uint64_t *used_pages)
{
    DWORD err = iw_pool_recount(node, used_pages);
    if (err != ERROR_SUCCESS)
        return err;
    if (*used_pages > max_pages)
        return ERROR_NOT_ENOUGH_MEMORY;
    atomic_store(&node->header->pool_max_pages, max_pages);
    return ERROR_SUCCESS;
}

IW_API BOOLEAN iwin32PoolInfo(uint64_t *sizeBytes, uint64_t *usedBytes)
{
    struct iw_node *node;
    DWORD err = iw_node_get(&node);
    uint64_t used = 0;
    if (err == ERROR_SUCCESS) {
        iw_transit_begin();
        err = iw_pool_recount(node, &used);
        iw_transit_end();
    }
    if (err != ERROR_SUCCESS) {
        iw_set_error(err);
        return FALSE;
    }
    if (sizeBytes)
        *sizeBytes = atomic_load(&node->header->pool_max_pages) * node->page_size;
    if (usedBytes)
        *usedBytes = used * node->page_size;
    return TRUE;
}
