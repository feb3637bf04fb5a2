/*
 * A member's list of what it holds: the data objects it charged (members.h),
 * by file name and inode, in its slot of ".node".
 *
 * A dead member's bound (members.c, "Charges") is every page it held: it
 * may have been the last holder of any of them, and only a count of the
 * node could tell.  Its list tells for each object it names, with a few
 * system calls: an object another process still holds (a read lock on its
 * byte 0) was not left stale by this death, so its pages are not slack.
 * So a refusal after the death of a process that held a few objects that
 * others hold too answers without a count (pool.c).
 *
 * The list is bounded (IW_MEMBER_LIST entries, file names shorter than
 * IW_MEMBER_FILE); a charge that finds no room is just not listed, and its
 * pages stay in the bound as before.  It only ever proves pages held, so a
 * list that lacks an object, or names one that is gone, costs a count,
 * never a wrong refusal.
 *
 * Order, for a member killed at any instant: a charge raises held before
 * its entry is complete, and a discharge frees the entry before it lowers
 * held.  So held always covers every complete entry, and "held less what
 * the entries prove" is never below what the member may have left.
 *
 * Where the lists live: a table of their own after the member slots, 8 MiB
 * for 4,096 members, mapped but never populated - a list's page is made
 * (fallocate) when its slot is claimed, and a claim that can't make it (a
 * full tmpfs, where writing a missing page is SIGBUS) just lists nothing.
 * A list counts only if it carries its claim's generation; others read a
 * dead member's list with pread, which never makes a page.
 */
#ifndef IW_MEMBER_LIST_H
#define IW_MEMBER_LIST_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct iw_node;

#define IW_MEMBER_LIST 15u
#define IW_MEMBER_FILE 104u     /* "h-" names (66 characters) fit, and names up to about 100 */

struct iw_member_entry {
    _Atomic uint32_t state;     /* member_list.c */
    uint32_t unused;
    uint64_t ino;
    uint64_t pages;
    char file[IW_MEMBER_FILE];
};

struct iw_member_list {
    _Atomic uint64_t generation; /* of the claim whose list this is (members.c) */
    uint64_t unused[15];
    struct iw_member_entry entry[IW_MEMBER_LIST];
};
_Static_assert(sizeof(struct iw_member_entry) == 128 && sizeof(struct iw_member_list) == 2048,
               "the member list's layout is the node's (IW_NODE_VERSION), two to a page");

/* A claim of that generation starts with an empty list (before the
 * claim's word is stored). */
void iw_member_list_start(struct iw_member_list *list, uint64_t generation);

/* Lists a charge (after held was raised): the entry, or -1 if not listed. */
int iw_member_list_add(struct iw_member_list *list, const char *file, ino_t ino, uint64_t pages);

/* Unlists a charge (before held is lowered); -1 does nothing. */
void iw_member_list_remove(struct iw_member_list *list, int entry);

/* fork: the child's list names what it inherited, as inherited (after its
 * inherited bound was stored). */
void iw_member_list_inherit(struct iw_member_list *child, const struct iw_member_list *parent);

/* Of a dead member's list (a copy read with pread), the pages of the
 * objects that somebody holds now, its own charges and what it inherited
 * apart: false if the list is not that claim's (it proves nothing). */
bool iw_member_list_proven(const struct iw_node *node, const struct iw_member_list *list, uint64_t generation,
                           uint64_t *own, uint64_t *inherited);
#endif
