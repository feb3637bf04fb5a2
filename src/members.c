/*
 * The member table (members.h).
 *
 * A slot's word: 0 or a bare generation while free; USED | generation |
 * pid while claimed.  Its lock: an OFD write lock on byte LOCK_BASE + slot
 * of ".node", held by the member's own description for its whole life.
 *
 * Claiming.  A process looks for a free word, takes the slot's lock
 * (F_OFD_SETLK: never waits), looks again - only a lock holder claims, so
 * the word is still free unless a claimer that held the lock before us
 * took it - raises the table's "used" mark over the slot, and only then
 * stores its word: a look goes up to "used", so a member that dies right
 * after its store is seen.  Its pid namespace is stored before the word.
 * The generation grows with every claim, so a word value names one claim:
 * a settle that frees a slot by compare-and-swap against the word it saw
 * can never free a later claim's.
 *
 * Charges: what a death can leave in the pool word.  A process dying
 * leaves the word too high by the pages of the data objects it was the
 * last holder of (stale now, still counted), of a Create between its
 * reservation and its name, and of a Close between its unlink and its
 * release.  Each slot bounds that, with no system call:
 *   - held: the pages of every data object the member took a reference
 *     lock on itself - charged before an Open's lock (node_file.c hold)
 *     or a Create's reservation (object.c make_file: pages enter the word
 *     only there), discharged after the descriptor is closed, and listed
 *     by name meanwhile (member_list.h).  The windows: killed after the
 *     charge and before the lock, or after the lock and before the
 *     reservation, the bound counts pages the word does not (looser,
 *     never short); after the reservation and before
 *     the name, or after the name (the published object still charged:
 *     nothing is cleared at publish), or a destroyer after its unlink and
 *     before its release, the pages are both in the word and in held.
 *   - a forked child holds everything its parent held (records.c gives it
 *     references of its own) without charging it: it can leave one of
 *     those stale only if the parent let go of it while the child still
 *     held it.  let_go counts the pages of every reference a member lets
 *     go of - raised before its upgrade to the write lock, lowered again
 *     when the upgrade found no other holder (it destroys then) - so a
 *     child's bound is held + what its parent let go of since the fork,
 *     while the parent lives as the same claim (its word unchanged, its
 *     lock held, looked at in that order before let_go is read: a parent
 *     that dies after the look is a dead member whose own bound covers
 *     what it held); otherwise held + inherited, the parent's whole bound
 *     at the fork.  A parent's close that races the child's death: its
 *     let_go rises before its upgrade, and the upgrade fails only if the
 *     child's lock was still there, so a look that saw the child dead
 *     sees the rise.  A descriptor the child shares with its parent (a
 *     creator parked in a reservation: records.h) keeps its lock while
 *     either lives: the survivor's charge covers it.
 * The record never changes the word: a dead member's bound is only slack
 * that a refusal takes off the word for a lower bound (pool.c), so a
 * record too high costs a count, never a wrong answer, and no reclaim can
 * race a recount's reset or a paused destroyer's release (the epoch
 * stays the word's only guard).  A member that died with a bound of 0
 * left nothing: its slot is freed at once, once its process is surely
 * gone (below) - before that, its bound is looked at again by every look
 * (a parent letting go meanwhile, while the child's last descriptors are
 * still closing, shows in it).  A process that never held data objects
 * (a fork+exec'd child, a user of events only) costs nothing when it dies.
 *
 * A dead member with a bound.  Its lock is free and its word still
 * claimed.  Only a settle frees the word (never a claimer: claimers skip
 * claimed words), so what the member left stays in the slack until a count
 * has accounted for it.
 * A count accounts for it only if it scanned after the member's last
 * descriptor was closed: at exit or exec the kernel closes a process's
 * descriptors one by one, in no order it promises, so the slot's lock can
 * be gone while an object's reference lock is still there, and a count
 * made in between would see that object held and count it, though it is
 * about to become stale.  A member is therefore settled (or, with a bound
 * of 0, freed) only once it is surely gone:
 *   - its pid, in our pid namespace, names no process (kill: ESRCH) or a
 *     process that has exited (a zombie: its pidfd polls readable) - the
 *     kernel closes all descriptors before either; a pid reused since only
 *     makes it look alive, which delays, never hastens, the settle;
 *   - or, when that can't tell (it exec'd and runs on; another pid
 *     namespace; the pid already reused), LINGER_MS after a look first saw
 *     the slot dead: closing the descriptors of an exiting or exec'ing
 *     process takes microseconds, and this is the one timing assumption of
 *     the design (see docs/DESIGN.md, "The pool").  It only delays the
 *     slot's reuse and a count's settling: no refusal waits for it (a
 *     dead member counts by its bound meanwhile, 0 for most).
 *
 * fork.  The child holds every object the parent held from its first
 * instant (records.c gives it references of its own), so it must be a
 * member from then too: prepare claims a slot for it on a new description,
 * with the parent's pid for now; the parent closes its copy afterwards (the
 * lock stays with the child's), and the child closes its copy of the
 * parent's description (whose lock stays the parent's) and writes its own
 * pid.  A child that dies before that leaves a slot with its parent's pid:
 * the parent is alive, so it waits LINGER_MS to be settled.  If prepare
 * can't claim, the child marks the node blind until it joins itself.
 */
#include "members.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "crash_point.h"
#include "guard.h"
#include "last_error.h"
#include "member_list.h"
#include "node.h"

#define IW_MEMBERS 4096u
#define LOCK_BASE (1 << 24)     /* beyond the header (bytes 0 and 1: node.c, node_header.c) and the table */
#define LINGER_MS 1000u
#define USED (1ull << 63)
#define GEN_ONE (1ull << 32)
#define GEN_MASK (~USED & ~0xffffffffull)

struct iw_member {
    _Atomic uint64_t word;
    _Atomic uint64_t pidns;     /* the member's pid namespace (its inode), 0 if unknown */
    _Atomic uint64_t seen_word; /* the word a look first saw dead, and when (ms) */
    _Atomic uint64_t seen_ms;
    /* What its death can leave in the pool word ("Charges" above). */
    _Atomic uint64_t held;      /* pages charged by the member itself */
    _Atomic uint64_t let_go;    /* pages of references it let go of without destroying */
    _Atomic uint64_t parent;    /* fork: the parent's slot + 1, 0 if none */
    _Atomic uint64_t parent_word;       /* the parent's word, and its let_go, at the fork */
    _Atomic uint64_t parent_let_go;
    _Atomic uint64_t inherited; /* the parent's bound at the fork (held + inherited) */
};

struct iw_members_table {
    _Atomic uint32_t used;      /* slots ever claimed: how far a look goes */
    uint32_t unused;
    _Atomic uint64_t blind;     /* processes that hold objects without a slot */
    uint64_t reserved[6];
    struct iw_member slot[IW_MEMBERS];
};

/* After the table, page-aligned: the slots' lists (member_list.h). */
#define LISTS_LEN ((size_t)IW_MEMBERS * sizeof(struct iw_member_list))
_Static_assert(sizeof(struct iw_members_table) + LISTS_LEN + 65536 < LOCK_BASE,
               "the slots' lock bytes lie beyond the table and the lists");

static pthread_mutex_t join_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iw_node *node_;
static struct iw_members_table *table;
static struct iw_member_list *lists; /* mapped, never populated (member_list.h) */
static int my_fd = -1;          /* our own description of .node: our slot's lock, and looks */
static _Atomic int my_slot = -1;
static _Atomic bool my_blind;   /* this process counted in table->blind (read at fork) */
static uint64_t my_pidns;
static int child_fd = -1, child_slot = -1; /* fork: the child's, claimed by prepare */
static bool my_listed, child_listed; /* our slot's list, the child's, usable (claim) */

static size_t table_len(const struct iw_node *node)
{
    return (sizeof(struct iw_members_table) + node->page_size - 1) / node->page_size * node->page_size;
}

static off_t list_offset(const struct iw_node *node, uint32_t slot)
{
    return (off_t)(node->page_size + table_len(node) + slot * sizeof(struct iw_member_list));
}

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Opens a description of .node of our own. */
static int open_node_file(const struct iw_node *node)
{
    return openat(node->dirfd, ".node", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
}

/* Under join_lock: the table mapped and a description to look with.
 * Every process extends .node to the same length, never beyond. */
static int ensure_table(struct iw_node *node)
{
    if (my_fd < 0) {
        my_fd = open_node_file(node);
        if (my_fd < 0)
            return errno;
    }
    if (table != NULL)
        return 0;
    size_t len = table_len(node);
    off_t end = list_offset(node, IW_MEMBERS);
    struct stat st;
    if (fstat(my_fd, &st) != 0)
        return errno;
    if (st.st_size < end && ftruncate(my_fd, end) != 0)
        return errno;
    void *l = iw_guard_map_sparse(my_fd, LISTS_LEN, list_offset(node, 0), node->page_size);
    if (l == MAP_FAILED)
        return errno;
    void *p = iw_guard_map(my_fd, len, (off_t)node->page_size, node->page_size);
    if (p == MAP_FAILED) {
        int err = errno;
        iw_guard_unmap(l, LISTS_LEN, node->page_size);
        return err;
    }
    lists = l;
    if (stat("/proc/self/ns/pid", &st) == 0)
        my_pidns = (uint64_t)st.st_ino;
    node_ = node;
    table = p; /* read under join_lock, or after my_slot (release) */
    return 0;
}

static int lock_slot(int fd, int slot, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = LOCK_BASE + slot, .l_len = 1};
    return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

/* Claims a free slot for pid on description fd (see above): the slot, or
 * -1 with errno (ENOSPC: the table is full); *listed: whether its list can
 * be written (its page made: member_list.h). */
static int claim(int fd, pid_t pid, bool *listed)
{
    for (uint32_t k = 0; k < IW_MEMBERS; k++) {
        struct iw_member *m = &table->slot[k];
        if (atomic_load(&m->word) & USED)
            continue; /* a member, alive or not yet settled */
        int err = lock_slot(fd, (int)k, F_WRLCK);
        if (err == EAGAIN || err == EACCES)
            continue; /* another claimer's */
        if (err != 0)
            return errno = err, -1;
        uint64_t w = atomic_load(&m->word);
        if (w & USED) { /* taken by a claimer that held the lock before us */
            lock_slot(fd, (int)k, F_UNLCK);
            continue;
        }
        atomic_store(&m->pidns, my_pidns);
        /* A fresh record before the word (a death right after the store
         * must not be judged by a former member's charges). */
        atomic_store(&m->held, 0);
        atomic_store(&m->let_go, 0);
        atomic_store(&m->parent, 0);
        atomic_store(&m->inherited, 0);
        uint64_t generation = (w & GEN_MASK) + GEN_ONE;
        *listed = fallocate(fd, 0, list_offset(node_, k), sizeof(struct iw_member_list)) == 0;
        if (*listed)
            iw_member_list_start(&lists[k], generation);
        uint32_t used = atomic_load(&table->used);
        while (used < k + 1 && !atomic_compare_exchange_weak(&table->used, &used, k + 1))
            ;
        atomic_store(&m->word, USED | generation | (uint32_t)pid);
        return (int)k;
    }
    return errno = ENOSPC, -1;
}

DWORD iw_members_join(struct iw_node *node)
{
    if (atomic_load_explicit(&my_slot, memory_order_acquire) >= 0)
        return ERROR_SUCCESS;
    pthread_mutex_lock(&join_lock);
    int err = 0;
    if (atomic_load(&my_slot) < 0) {
        err = ensure_table(node);
        bool listed = false;
        int slot = err == 0 ? claim(my_fd, getpid(), &listed) : -1;
        if (err == 0) {
            IW_CRASH_POINT("members.joined");
            if (slot >= 0 && my_blind)
                atomic_fetch_sub(&table->blind, 1);
            else if (slot < 0 && !my_blind)
                atomic_fetch_add(&table->blind, 1);
            my_blind = slot < 0;
            my_listed = listed;
            atomic_store_explicit(&my_slot, slot, memory_order_release);
        }
    }
    pthread_mutex_unlock(&join_lock);
    /* Neither a slot nor the blind mark: the caller must not hold anything. */
    return err == 0 ? ERROR_SUCCESS : iw_error_from_errno(err);
}

/* A dead member's process is gone: all its descriptors closed (above). */
static bool gone(struct iw_member *m, uint64_t w)
{
    pid_t pid = (pid_t)(uint32_t)w;
    uint64_t ns = atomic_load(&m->pidns);
    if (ns != 0 && ns == my_pidns && pid > 0) {
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return true;
#ifdef SYS_pidfd_open
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0 && errno == ESRCH)
            return true;
        if (pidfd >= 0) {
            struct pollfd p = {.fd = pidfd, .events = POLLIN};
            bool exited = poll(&p, 1, 0) == 1;
            close(pidfd);
            if (exited)
                return true;
        }
#endif
    }
    /* Two looks racing here each store a time at or after the death: the
     * wait is never shorter than LINGER_MS from it. */
    uint64_t now = now_ms();
    if (atomic_load(&m->seen_word) == w) {
        uint64_t seen = atomic_load(&m->seen_ms);
        return now >= seen && now - seen >= LINGER_MS;
    }
    atomic_store(&m->seen_ms, now);
    atomic_store(&m->seen_word, w);
    return false;
}

/* Whether the slot's member is alive: its lock held (ours is). */
static int alive(uint32_t k, int mine, bool *yes)
{
    if ((int)k == mine) {
        *yes = true;
        return 0;
    }
    /* Our own description sees every other description's lock - the
     * child's slot claimed by a fork in progress included. */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = LOCK_BASE + k, .l_len = 1};
    *yes = true; /* unless the look says otherwise: a failed look reclaims nothing */
    if (fcntl(my_fd, F_OFD_GETLK, &fl) != 0)
        return errno;
    *yes = fl.l_type != F_UNLCK;
    return 0;
}

/* The most a dead member can have left in the pool word ("Charges"
 * above): its own charges, and for a forked child what its parent let go
 * of since the fork while the parent lives on as the same member - or,
 * failing that, everything it inherited. */
static uint64_t bound_of(struct iw_member *m, int mine)
{
    uint64_t bound = atomic_load(&m->held);
    uint64_t parent = atomic_load(&m->parent);
    if (parent == 0)
        return bound;
    uint64_t inherited = atomic_load(&m->inherited);
    if (parent > IW_MEMBERS)
        return bound + inherited; /* a stray write */
    struct iw_member *pm = &table->slot[parent - 1];
    bool parent_alive = false;
    /* The parent's claim first, then its lock, then its let_go: a parent
     * that dies after the look at its lock is a dead member of its own,
     * whose bound covers everything the child inherited from it. */
    if (atomic_load(&pm->word) != atomic_load(&m->parent_word) ||
        alive((uint32_t)(parent - 1), mine, &parent_alive) != 0 || !parent_alive)
        return bound + inherited;
    uint64_t now = atomic_load(&pm->let_go), then = atomic_load(&m->parent_let_go);
    return bound + (now >= then ? now - then : inherited);
}

int iw_members_look(struct iw_node *node, struct iw_members_view *view)
{
    *view = (struct iw_members_view){0};
    pthread_mutex_lock(&join_lock);
    int err = ensure_table(node);
    pthread_mutex_unlock(&join_lock);
    if (err != 0)
        return err;
    view->blind = atomic_load(&table->blind) > 0;
    uint32_t used = atomic_load(&table->used);
    used = used < IW_MEMBERS ? used : IW_MEMBERS; /* a table a stray write changed */
    int mine = atomic_load(&my_slot);
    for (uint32_t k = 0; k < used; k++) {
        struct iw_member *m = &table->slot[k];
        uint64_t w = atomic_load(&m->word);
        if (!(w & USED) || (int)k == mine)
            continue;
        bool is_alive;
        err = alive(k, mine, &is_alive);
        if (err != 0)
            return err;
        if (is_alive)
            continue;
        /* Gone first, then the bound: once every descriptor of the member
         * is closed, nothing it held can go stale later through a parent's
         * let-go that we would not see (bound_of). */
        bool is_gone = gone(m, w);
        uint64_t bound = bound_of(m, mine);
        if (bound == 0) {
            /* Left nothing in the word (yet, if not gone: what a closing
             * parent lets go of from now on counts at the next look). */
            if (is_gone)
                atomic_compare_exchange_strong(&m->word, &w, w & GEN_MASK);
            continue;
        }
        view->slack += bound;
        if (!is_gone)
            continue;
        if (view->ngone % 64 == 0) {
            struct iw_members_gone *grown = realloc(view->gone, (view->ngone + 64) * sizeof *grown);
            if (grown == NULL)
                return ENOMEM;
            view->gone = grown;
        }
        view->gone[view->ngone++] = (struct iw_members_gone){k, w, bound};
    }
    return 0;
}

void iw_members_settle(const struct iw_members_view *view)
{
    for (size_t i = 0; i < view->ngone; i++) {
        uint64_t w = view->gone[i].word;
        atomic_compare_exchange_strong(&table->slot[view->gone[i].slot].word, &w, w & GEN_MASK);
    }
}

/* A gone member is frozen: its process and every descriptor it had are
 * gone, and only a settle (which frees its word) lets anyone write its
 * slot or list again - so a list read while the word stays the one the
 * look saw is the member's own, complete.  Its bound is its own charges
 * (held) plus, for a forked child, a part for what it inherited; the
 * proven pages come off each part, never more than the part. */
static uint64_t refined_bound(const struct iw_node *node, const struct iw_members_gone *g)
{
    struct iw_member *m = &table->slot[g->slot];
    uint64_t held = atomic_load(&m->held), inherited = atomic_load(&m->inherited);
    uint64_t own_proven, inherited_proven;
    struct iw_member_list list;
    if (pread(my_fd, &list, sizeof list, list_offset(node, g->slot)) != (ssize_t)sizeof list ||
        !iw_member_list_proven(node, &list, g->word & GEN_MASK, &own_proven, &inherited_proven))
        return g->bound;
    if (atomic_load(&m->word) != g->word || held > g->bound)
        return g->bound; /* settled and claimed again meanwhile: its list is another's */
    uint64_t own_part = held - (own_proven < held ? own_proven : held);
    uint64_t inherited_part = g->bound - held;
    uint64_t inherited_left = inherited - (inherited_proven < inherited ? inherited_proven : inherited);
    return own_part + (inherited_left < inherited_part ? inherited_left : inherited_part);
}

uint64_t iw_members_refined_slack(const struct iw_node *node, const struct iw_members_view *view)
{
    uint64_t slack = view->slack;
    for (size_t i = 0; i < view->ngone; i++) {
        uint64_t refined = refined_bound(node, &view->gone[i]);
        slack -= view->gone[i].bound - refined;
    }
    return slack;
}

void iw_members_view_free(struct iw_members_view *view)
{
    free(view->gone);
    view->gone = NULL;
}

/* ---- charges ------------------------------------------------------------- */

/* held first, then the entry; the entry first, then held (member_list.h). */
struct iw_charge iw_members_charge(uint64_t pages, const char *file, ino_t ino)
{
    struct iw_charge charge = {atomic_load(&my_slot), -1};
    if (charge.slot >= 0 && pages > 0) {
        atomic_fetch_add(&table->slot[charge.slot].held, pages);
        IW_CRASH_POINT("members.charged");
        if (ino != 0 && my_listed)
            charge.entry = iw_member_list_add(&lists[charge.slot], file, ino, pages);
    }
    return charge;
}

void iw_members_discharge(struct iw_charge charge, uint64_t pages)
{
    /* In a forked child, what the parent charged stays in the child's
     * inherited bound (and list): only our own charges come off. */
    if (charge.slot >= 0 && charge.slot == atomic_load(&my_slot) && pages > 0) {
        iw_member_list_remove(&lists[charge.slot], charge.entry);
        IW_CRASH_POINT("members.unlisted");
        atomic_fetch_sub(&table->slot[charge.slot].held, pages);
    }
}

void iw_members_letting_go(uint64_t pages)
{
    int slot = atomic_load(&my_slot);
    if (slot >= 0 && pages > 0) {
        atomic_fetch_add(&table->slot[slot].let_go, pages);
        IW_CRASH_POINT("members.letting_go");
    }
}

void iw_members_was_last(uint64_t pages)
{
    int slot = atomic_load(&my_slot);
    if (slot >= 0 && pages > 0)
        atomic_fetch_sub(&table->slot[slot].let_go, pages);
}

/* ---- fork ------------------------------------------------------------------ */

void iw_members_fork_prepare(void)
{
    child_slot = -1;
    int mine = atomic_load(&my_slot);
    if (mine < 0)
        return; /* we hold no object, or blind: so is the child (fork_child) */
    child_fd = open_node_file(node_);
    child_slot = child_fd < 0 ? -1 : claim(child_fd, getpid(), &child_listed);
    if (child_slot < 0) {
        if (child_fd >= 0)
            close(child_fd);
        child_fd = -1;
        return;
    }
    /* The child's inheritance ("Charges" above).  No call of ours is in
     * transit now (fork.c), so no charge or let-go is half made. */
    struct iw_member *me = &table->slot[mine], *child = &table->slot[child_slot];
    atomic_store(&child->parent_word, atomic_load(&me->word));
    atomic_store(&child->parent_let_go, atomic_load(&me->let_go));
    atomic_store(&child->inherited, atomic_load(&me->held) + atomic_load(&me->inherited));
    if (child_listed && my_listed)
        iw_member_list_inherit(&lists[child_slot], &lists[mine]);
    atomic_store(&child->parent, (uint64_t)mine + 1);
}

void iw_members_fork_parent(void)
{
    if (child_fd >= 0)
        close(child_fd); /* the child's copy keeps the lock */
    child_fd = -1;
}

void iw_members_fork_child(void)
{
    pthread_mutex_init(&join_lock, NULL); /* another thread of the parent may have held it */
    bool holder = atomic_load(&my_slot) >= 0 || my_blind;
    if (my_fd >= 0)
        close(my_fd); /* the parent's description: its lock stays the parent's */
    my_fd = child_fd;
    child_fd = -1;
    atomic_store(&my_slot, child_slot);
    my_listed = child_slot >= 0 && child_listed;
    my_blind = false; /* the parent's mark is the parent's */
    if (child_slot >= 0) {
        /* Our pid namespace may not be the parent's (unshare(CLONE_NEWPID)
         * before the fork): our pid means something only in ours. */
        struct stat st;
        my_pidns = stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
        struct iw_member *m = &table->slot[child_slot];
        atomic_store(&m->pidns, my_pidns);
        uint64_t w = atomic_load(&m->word);
        atomic_store(&m->word, (w & ~0xffffffffull) | (uint32_t)getpid());
    } else if (holder) {
        atomic_fetch_add(&table->blind, 1);
        my_blind = true;
    }
}
