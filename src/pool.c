/*
 * Pool accounting.
 *
 * The node header keeps one 64-bit word: the pages reserved (low 40 bits)
 * and a change count (high 24 bits) bumped by every reservation, release
 * and reset; and beside it a 64-bit count of resets, the epoch.
 * The word is a fast upper bound, never below the pages of live objects:
 *   - a creator reserves only after its file is sized, held and in the
 *     directory (its link count checked after its lock: object.c), and
 *     before the object gets its name (its pages may be allocated before
 *     or after: object.c, make_file, says when);
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
 *
 * A refusal without a recount (issue 9.6).  A recount reads every object
 * file (5-12 us each: 0.2-0.8 s at 16,384 objects), and a refusal needs
 * one only if the word may be too high: above the pages of live objects
 * and of Creates and Closes in progress.  The word becomes too high in
 * exactly these ways, each of which is recorded before anyone can trust
 * the word too much:
 *   1. A process dies holding objects (SIGKILL, exit or exec: as their
 *      last holder it leaves them stale with their pages counted), or
 *      between a reservation and its object's name, or between a
 *      destroyer's unlink and its release.  Every process that holds
 *      anything is a member first (members.h): a slot in .node it holds a
 *      lock on while alive.  A dead member is a claimed slot whose lock is
 *      free - found by looking at the slots, O(processes) - and its slot
 *      bounds what it can have left (members.c, "Charges"): the pages it
 *      charged, and for a forked child what its parent let go of since.
 *      A member that died with a bound of 0 (it held no data object, or
 *      only ones its live parent still holds) left nothing.
 *   2. A destroyer skips its release because a reset came between its
 *      epoch and its release, though that reset had counted the object:
 *      it raises a doubt (pool_doubt += 1) before it returns.
 *   3. A reset that counted objects in flight (their creators may reserve
 *      after it, counting them twice) raises a doubt before its swap.
 *   4. A stale data object is removed (an Open or a recount met it): it
 *      may have been left by two closers racing (reflock.c), with nobody
 *      dead.  The remover raises a doubt before it unlinks.
 *   5. A process closes a description it shares with a forked child
 *      (records.c: fork could not give the child one of its own): if the
 *      other had let go already, the object is stale and nobody died.  It
 *      raises a doubt before it closes (object.c).
 *   6. A process that could not get a slot marks the node blind (members.c).
 * So a refusal first looks (look()): no blind mark and pool_doubt equal to
 * pool_settled - then the word is exact but for operations in progress and
 * what dead members left, at most the sum of their bounds (the slack).  It
 * refuses from the word when even the word less the slack has no room;
 * with no dead member that is the word itself.  The bound: two loads of
 * the header, a load per slot ever claimed and one fcntl (F_OFD_GETLK) per
 * claimed slot other than ours, per dead one a kill, a pidfd_open and a
 * poll (members.c, gone) and for a forked child one more fcntl, then one
 * more try of the fast path - independent of the number of objects and of
 * churn: 12-41 us median, 120 us worst at 16,384 objects here, 70-100 us
 * right after a holder's SIGKILL (tests/test_pool_churn.c); for some hundred
 * member processes well under a millisecond.  It runs parked
 * (fork does not wait for it).  A refusal that races a death (the member's
 * lock goes before its objects' locks, or after) is ordered before it:
 * the dying process still held them.
 *
 * Otherwise (a doubt, a blind node, or dead members whose bounds could
 * make room) the refusal recounts as before (reserve_by_recount), and an
 * exact count settles the suspects it looked at before scanning: when the
 * word did not change during the scan and no other Create was in flight,
 * the word is set to the count (if lower) and then pool_settled takes the
 * doubt count seen, and the dead members whose processes were gone before
 * the scan (members.c: only then did the scan see everything they left
 * stale) get their slots back.  A doubt raised or a member dead after the
 * look stays for the next refusal.  Such a refusal thus pays one recount,
 * and those after it answer from the word again; under continuous churn a
 * scan rarely finds the word unchanged, so they recount until one does (no
 * worse than before this change: one recount each, the "stable" rule
 * below).  Before counting because of a death, the refusal reads the
 * lists of what the gone dead members held (member_list.h): the pages of
 * objects somebody still holds were not left stale by those deaths.  What
 * still takes a count after a death: pages of objects the dead member
 * really was the last holder of (then the count grants, or refuses if
 * they are too few), or that its list could not name (more than its
 * entries, a name too long), when those pages could make room.
 *
 * What stays counted: a Create in progress that reserved (a creator paused
 * after its reservation), and a Close paused between its unlink and its
 * release - until it resumes, or dies (a dead member: the next refusal
 * counts).  Both are operations in progress; a refusal is ordered before
 * the Close's end.
 */
#include "pool.h"
#include "pool_count.h"

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
#include "mark.h"
#include "members.h"
#include "name.h"
#include "node_file.h"
#include "node_header.h"
#include "records.h"
#include "reflock.h"

#define PAGES_BITS 40
#define PAGES_MASK ((1ull << PAGES_BITS) - 1)
#define RECOUNT_TRIES 64

/* The word after a reservation, release or reset: pages, one more change.
 * The count wraps in its 24 bits: a recount paused between reading the word
 * and its swap while exactly a multiple of 2^24 changes bring the word back
 * to the same pages could still reset it to a stale figure.  (Not a paused
 * destroyer's case, which the epoch covers; a known, narrower limit.) */
static uint64_t next_state(uint64_t old, uint64_t pages)
{
    return ((old >> PAGES_BITS) + 1) << PAGES_BITS | (pages & PAGES_MASK);
}

/* Raises a doubt: the word may be, or become, too high (see above). */
void iw_pool_doubt(const struct iw_node *node) { atomic_fetch_add(&node->header->pool_doubt, 1); }

/* Resets the word from before (read before the scan) to a recount's figure,
 * unless it changed meanwhile.  The epoch is bumped first (see above).
 * in_flight: the figure counts objects whose creators may not have
 * reserved yet - when they do, the word counts them twice: a doubt, raised
 * before the swap so that no refusal trusts the word in between. */
static bool reset(struct iw_node *node, uint64_t *before, uint64_t pages, bool in_flight)
{
    if (in_flight)
        iw_pool_doubt(node);
    atomic_fetch_add(&node->header->pool_resets, 1);
    return atomic_compare_exchange_strong(&node->header->pool_state, before, next_state(*before, pages));
}

/* What may have made the word too high, as seen before a count. */
struct suspects {
    uint64_t doubt;             /* pool_doubt when looked at */
    bool unknown;               /* the member table could not be looked at */
    struct iw_members_view members;
};

/* Looks (before a count: see settle).  True when the word can't be
 * trusted even with the dead members' slack taken off: a doubt not
 * settled, or a blind node. */
static bool look(struct iw_node *node, struct suspects *s)
{
    s->doubt = atomic_load(&node->header->pool_doubt);
    s->unknown = iw_members_look(node, &s->members) != 0;
    return s->unknown || s->members.blind || s->doubt != atomic_load(&node->header->pool_settled);
}

/* After a count that started after look(s) and that nothing changed the
 * word during, and that met no object in flight: the word was set to (or
 * found no higher than) what exists.  Whatever the suspects seen left in
 * it is accounted for: the doubts raised before the look, and the members
 * gone before it (their descriptors were all closed before the scan, so it
 * saw what they left stale: members.c).  pool_settled takes the doubt count
 * seen, never more: a doubt raised since stays.  Two settles storing out of
 * order only leave a doubt that the next count settles again. */
static void settle(struct iw_node *node, struct suspects *s)
{
    if (s->unknown)
        return;
    IW_CRASH_POINT("pool.settling");
    iw_members_settle(&s->members);
    atomic_store(&node->header->pool_settled, s->doubt);
}

/* An exact count (taken while the word held *before, and no object in
 * flight) replaces the word if lower, and settles the suspects when the
 * word indeed held *before throughout. */
static void settle_count(struct iw_node *node, uint64_t *before, uint64_t count, struct suspects *s)
{
    if (count < (*before & PAGES_MASK) ? reset(node, before, count, false)
                                       : atomic_load(&node->header->pool_state) == *before)
        settle(node, s);
}

uint64_t iw_pool_epoch(struct iw_node *node) { return atomic_load(&node->header->pool_resets); }

uint64_t iw_pool_counted(struct iw_node *node) { return atomic_load(&node->header->pool_state) & PAGES_MASK; }

bool iw_pool_has_room(struct iw_node *node, uint64_t pages)
{
    return iw_pool_counted(node) + pages <= atomic_load(&node->header->pool_max_pages);
}

uint64_t iw_pool_pages_of(const struct iw_node *node, const char *file, const struct stat *st)
{
    if (iw_mark_of(node, file, st) == IW_MARK_SYNC)
        return 0; /* event, mutex or semaphore */
    uint64_t size = (uint64_t)st->st_size;
    if (iw_name_has_header_page(file))
        size = size > node->page_size ? size - node->page_size : 0;
    return iw_pages(node, size);
}


/* A damaged header is rebuilt before the pool relies on it. */
static DWORD check_header(struct iw_node *node)
{
    return iw_node_header_whole(node) ? ERROR_SUCCESS : iw_node_header_repair(node);
}

DWORD iw_pool_recount(struct iw_node *node, uint64_t *used_pages)
{
    DWORD check = check_header(node);
    if (check != ERROR_SUCCESS)
        return check;
    _Atomic uint64_t *word = &node->header->pool_state;
    struct suspects s;
    look(node, &s);
    uint64_t before = atomic_load(word);
    struct iw_pool_count c;
    int err = iw_pool_count_live(node, 0, &c);
    if (err) {
        iw_members_view_free(&s.members);
        return iw_error_from_errno(err);
    }
    IW_CRASH_POINT("pool.recount_counted");
    uint64_t live = c.live;
    /* A reset only ever lowers the word: repairing what crashes left in it
     * is its purpose, and each reset makes destroyers in mid-release keep
     * their pages counted (iw_pool_release). */
    if (c.in_flight == 0)
        settle_count(node, &before, live, &s);
    else if (live < (before & PAGES_MASK))
        reset(node, &before, live, true);
    iw_members_view_free(&s.members);
    /* What is used: objects that exist.  Objects being made count in the
     * shared word (they may have reserved), not here: their creators may yet
     * be refused, and together they can exceed the pool for a moment.  The
     * two passes of a scan under churn can also count an object destroyed
     * during the scan and the one made in its place; the word, exact at any
     * instant but for what crashes left in it (the reset above undid that),
     * bounds the figure. */
    uint64_t counted = atomic_load(word) & PAGES_MASK;
    uint64_t existing = live - c.in_flight;
    *used_pages = existing < counted ? existing : counted;
    return ERROR_SUCCESS;
}

/* A rebuild sets the word to the live objects' pages, whatever it held
 * (pool.h).  The header's magic is cleared meanwhile (node_header.c), so
 * no reservation or recount starts: each finds the header damaged and
 * waits for the rebuild.  The compare-and-swap can only lose to the few
 * calls already past that check, each of which changes the word once, and
 * to destroyers' releases (which do not look at the header: a release
 * from a damaged word is harmless, the reset undoes it), no more than
 * there are objects, none made meanwhile: so the loop ends.  Whatever it
 * lost to is in the next scan (a reserver's file is in the directory
 * before it reserves; a destroyer unlinks before it releases). */
DWORD iw_pool_reset(struct iw_node *node)
{
    for (;;) {
        uint64_t before = atomic_load(&node->header->pool_state);
        struct iw_pool_count c;
        int err = iw_pool_count_live(node, 0, &c);
        if (err)
            return iw_error_from_errno(err);
        if (reset(node, &before, c.live, c.in_flight > 0))
            return ERROR_SUCCESS;
    }
}

enum fast { RESERVED, FULL, TOO_BIG };

/* The fast path: reserves if the word has room under the pool's size (read
 * now: the CLI may change it).  *max: that size; *old: the word last read. */
static enum fast reserve_fast(struct iw_node *node, uint64_t pages, uint64_t *max, uint64_t *old)
{
    _Atomic uint64_t *word = &node->header->pool_state;
    *max = atomic_load(&node->header->pool_max_pages);
    if (pages > *max)
        return TOO_BIG;
    *old = atomic_load(word);
    while ((*old & PAGES_MASK) + pages <= *max)
        if (atomic_compare_exchange_weak(word, old, next_state(*old, (*old & PAGES_MASK) + pages)))
            return RESERVED;
    return FULL;
}

/* Apparently full with the word in doubt (s, looked at before), or the
 * header damaged: exact recounts decide (and a rebuild, which recounts
 * too).  Outside transit. */
static DWORD reserve_by_recount(struct iw_node *node, uint64_t pages, ino_t own, struct suspects *s)
{
    _Atomic uint64_t *word = &node->header->pool_state;
    for (int tries = 0; tries < RECOUNT_TRIES; tries++) {
        DWORD check = check_header(node);
        if (check != ERROR_SUCCESS)
            return check;
        uint64_t max, old;
        enum fast fast = reserve_fast(node, pages, &max, &old);
        if (fast != FULL)
            return fast == RESERVED ? ERROR_SUCCESS : ERROR_NOT_ENOUGH_MEMORY;
        /* The recount counts our own file (sized and held), so after the
         * reset the word already carries our reservation. */
        struct iw_pool_count c;
        int err = iw_pool_count_live(node, own, &c);
        if (err)
            return iw_error_from_errno(err);
        IW_CRASH_POINT("pool.reserve_counted");
        /* Our own file is one of those in flight (sized and held). */
        uint64_t foreign = c.in_flight > pages ? c.in_flight - pages : 0;
        /* Other creators' files are in the count too, but they may yet be
         * refused themselves.  So that two of them never each wait for the
         * other, only those with a lower inode number count against us (our
         * own file is one of the in-flight ones); we wait for them to finish
         * before refusing.  Their files exist for a few system calls (one
         * whose creator died is removed by the next scan), but a creator
         * may be preempted or slowed down (valgrind): the waits grow from
         * 0.1 to 10 ms, about 0.5 s in all. */
        if (c.live - c.in_flight + c.ahead + pages > max) {
            if (c.ahead > 0 && tries + 1 < RECOUNT_TRIES) {
                usleep(tries < 7 ? 100u << tries : 10000u);
                continue;
            }
            /* Refused if nothing changed the word during the scan: the
             * count is then exact.  Under churn it may count an object
             * destroyed during the scan and the one made in its place, so
             * then only what surely existed at one instant refuses: the
             * objects both passes saw.  Churn can't keep a full pool's
             * Create waiting (it did, for seconds, scan after scan). */
            bool quiet = atomic_load(word) == old;
            /* An exact count with nothing in flight but us: the word takes
             * it (without our pages) and the suspects are settled, so the
             * refusals after this one answer from the word. */
            if (quiet && foreign == 0)
                settle_count(node, &old, c.live > pages ? c.live - pages : 0, s);
            if (quiet || c.stable + c.ahead + pages > max)
                return ERROR_NOT_ENOUGH_MEMORY;
            if (tries + 1 < RECOUNT_TRIES) {
                usleep(tries < 7 ? 100u << tries : 10000u);
                continue;
            }
            return ERROR_NOT_ENOUGH_MEMORY;
        }
        if (reset(node, &old, c.live, foreign > 0)) {
            if (foreign == 0)
                settle(node, s);
            return ERROR_SUCCESS;
        }
        /* Someone reserved or released during the scan: decide again. */
    }
    return ERROR_NOT_ENOUGH_MEMORY;
}

/* Whether pages fit once the slack is taken off the word's used pages. */
static bool might_fit(uint64_t used, uint64_t slack, uint64_t pages, uint64_t max)
{
    return slack > 0 && (used > slack ? used - slack : 0) + pages <= max;
}

/* The word is full (or the header damaged: whole is false).  Unless the
 * look finds it in doubt, the word is exact but for Creates and Closes in
 * progress, and answers: the refusal's bound (see above). */
static DWORD decide(struct iw_node *node, uint64_t pages, ino_t own, bool whole)
{
    struct suspects s;
    DWORD err = ERROR_NOT_ENOUGH_MEMORY;
    bool count = look(node, &s) || !whole;
    if (!count) {
        /* Once more: a Close may have made room while we looked.  Still
         * full, and full even if the dead members left all they may have
         * in the word: refused without a count. */
        uint64_t max, old;
        enum fast fast = reserve_fast(node, pages, &max, &old);
        uint64_t used = old & PAGES_MASK;
        if (fast == RESERVED)
            err = ERROR_SUCCESS;
        else if (fast == FULL && might_fit(used, s.members.slack, pages, max))
            /* What the dead left may make room - unless their lists prove
             * enough of it still held by others (member_list.h): a count
             * finds out. */
            count = might_fit(used, iw_members_refined_slack(node, &s.members), pages, max);
    }
    if (count)
        err = reserve_by_recount(node, pages, own, &s);
    iw_members_view_free(&s.members);
    return err;
}

DWORD iw_pool_reserve(struct iw_node *node, uint64_t pages, ino_t own, int own_fd)
{
    /* A damaged header goes the slow way: its rebuild recounts, and a
     * recount must not run in transit (pool_count.c: scan_pass). */
    bool whole = iw_node_header_whole(node);
    if (whole) {
        uint64_t max, old;
        enum fast fast = reserve_fast(node, pages, &max, &old);
        if (fast != FULL)
            return fast == RESERVED ? ERROR_SUCCESS : ERROR_NOT_ENOUGH_MEMORY;
    }
    /* A look makes system calls, a recount takes a while: fork waits for
     * neither (records.h). */
    struct iw_parked parked;
    iw_transit_park(&parked, own_fd);
    IW_CRASH_POINT("pool.reserve_parked");
    DWORD err = decide(node, pages, own, whole);
    iw_transit_unpark(&parked);
    return err;
}

void iw_pool_release(struct iw_node *node, uint64_t pages, uint64_t epoch)
{
    _Atomic uint64_t *word = &node->header->pool_state;
    uint64_t old = atomic_load(word);
    uint64_t used;
    do {
        /* The word first, then the epoch: see above. */
        if (iw_pool_epoch(node) != epoch) {
            /* A reset came between: too high now, which is safe - and in
             * doubt, so that no refusal trusts it. */
            iw_pool_doubt(node);
            return;
        }
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
    if (err == ERROR_SUCCESS)
        err = iw_node_present(node);
    if (err == ERROR_SUCCESS)
        err = iw_pool_recount(node, &used); /* outside transit: see pool_count.c, scan_pass */
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
