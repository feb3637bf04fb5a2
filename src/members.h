/*
 * The node's members: which processes may hold its objects, alive or dead,
 * so that a refused Create can tell in O(processes) - not by reading every
 * object file - whether a process died since the pool was last counted
 * (pool.c says what it does with that).
 *
 * A table of slots in ".node", after the header page.  Every process that
 * opens or makes an object first claims a slot and holds an OFD write lock
 * on the slot's byte of ".node" for as long as it lives: the kernel drops
 * the lock when the process exits, is killed or execs, as it drops the
 * objects' reference locks.  A slot whose word says claimed but whose lock
 * is free is a dead member.  members.c explains the slot's word, fork, and
 * when a dead member is surely gone (its descriptors all closed).
 */
#ifndef IW_MEMBERS_H
#define IW_MEMBERS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "iwin32.h"

struct iw_node;

/* Makes this process a member before it holds anything: called by every
 * call that opens or makes an object (object.c).  One atomic load once
 * joined.  A process that can't claim a slot (the table full, out of
 * descriptors) marks the node "blind" instead, and the pool then counts
 * before every refusal (pool.c) until it joins; only when even that is
 * impossible (.node can't be opened or mapped) is the error returned, and
 * the call fails with it. */
DWORD iw_members_join(struct iw_node *node);

/* A dead member whose process is gone, as the look saw it. */
struct iw_members_gone {
    uint32_t slot;
    uint64_t word;
    uint64_t bound;             /* its part of the slack */
};

/* What a look saw. */
struct iw_members_view {
    bool blind;                 /* a process without a slot may hold objects */
    uint64_t slack;             /* dead members may have left the pool's word too high by at most
                                   so many pages, all of them together (members.c, "Charges") */
    size_t ngone;               /* of those dead members, the ones whose processes are gone: a count from now on sees */
    struct iw_members_gone *gone; /* everything they held released (malloc'd) */
};

/* Looks at every slot: one load each, and one fcntl for each claimed one;
 * for each dead one its bound, and the slot freed if that is 0 and its
 * process gone.  Returns 0, or an errno (the view then says nothing is
 * settled). */
int iw_members_look(struct iw_node *node, struct iw_members_view *view);

/* Frees the slots of the gone members of view, unless a later look freed
 * them already: an exact count that started after the look has accounted
 * for what they left (pool.c). */
void iw_members_settle(const struct iw_members_view *view);

void iw_members_view_free(struct iw_members_view *view);

/* The view's slack less what the gone members' lists prove still held by
 * somebody (member_list.h): a few system calls per listed object. */
uint64_t iw_members_refined_slack(const struct iw_node *node, const struct iw_members_view *view);

/* Charges (members.c): pages this process may leave in the pool word if
 * it dies.  charge before taking a data object's reference lock, or before
 * reserving a new one's pages (it returns the slot charged, -1 if none,
 * and the entry that lists the object under its file name and inode:
 * member_list.h), discharge after closing it.
 * letting_go before trying to destroy one (a reference let go of while
 * others hold the object, which a forked child's death may then leave
 * stale), was_last when that try found no other holder. */
struct iw_charge {
    int slot;
    int entry;
};
#define IW_NO_CHARGE ((struct iw_charge){-1, -1})
struct iw_charge iw_members_charge(uint64_t pages, const char *file, ino_t ino);
void iw_members_discharge(struct iw_charge charge, uint64_t pages);
void iw_members_letting_go(uint64_t pages);
void iw_members_was_last(uint64_t pages);

/* fork.c: prepare claims the child's slot (so it is a member from its first
 * instant), the child takes it, the parent lets go of its copy. */
void iw_members_fork_prepare(void);
void iw_members_fork_parent(void);
void iw_members_fork_child(void);
#endif
