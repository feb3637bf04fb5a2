/*
 * Test code run in forked children, as this user or as another one.
 *
 * test_security and test_limits never call the library in the test process
 * itself: the library opens its node once per process, and a child forked
 * after that would inherit the node, its descriptor and its limits.  Every
 * case instead runs its library calls in children (tc_start), each of which
 * opens the node its environment names at its first call - after it has
 * become another user (tc_become), lowered a limit, or entered a mount
 * namespace of its own.
 *
 * A child reports by its exit status: 0 passed, TC_SKIP the case cannot run
 * here (said why on stderr), anything else failed (TN_CHILD_CHECK says where).
 */
#ifndef IWIN32_TEST_CHILD_H
#define IWIN32_TEST_CHILD_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "test_node.h"

#define TC_SKIP 77

/* Accounts of the "other user" cases.  nobody/nogroup exist everywhere;
 * 65533 is a uid with no account and no groups.  TC_GROUP is the shared
 * group of a group-shared node ("users" on Debian; only its number matters). */
#define TC_NOBODY ((uid_t)65534)
#define TC_NOGROUP ((gid_t)65534)
#define TC_STRANGER ((uid_t)65533)
#define TC_GROUP ((gid_t)100)

/* Forks a child that runs body(arg) and exits with what it returns. */
pid_t tc_start(int (*body)(void *), void *arg);
/* Waits for a child of tc_start (TN_TIMEOUT_MS) and checks its status with
 * cmocka: exit 0 passes, TC_SKIP skips the case, anything else fails it. */
void tc_finish(pid_t pid);
/* tc_start + tc_finish. */
void tc_run(int (*body)(void *), void *arg);

/* In a child: become uid with primary group gid and exactly these
 * supplementary groups (the credentials setpriv --reuid --regid --groups
 * gives); _exit(2) if that fails. */
void tc_become(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups);

/* In a child: gives up the right to real-time priorities (RLIMIT_RTPRIO 0,
 * and nobody where the test runs as root, which has CAP_SYS_NICE).  Returns
 * 0 when SCHED_FIFO is now refused, or what the child should exit with:
 * TC_SKIP if it still is not (said why), 10 if the limit cannot be set. */
int tc_drop_rt_priority(void);

/* A name long enough to be stored under its hash (name.h). */
const char *tc_hashed_name(void);

/* In a child: points IWIN32_ROOT at dir (before the child's first library call). */
void tc_use_node(const char *dir);

/* The cases that need root (other users, mounts) call this first: it skips
 * the case, saying so, when the test does not run as root. */
void tc_require_root(const char *why);

/* Makes the test's private base directory (tn_base) traversable by other
 * users (0711), so that what keeps them out of a node is the node's own
 * protection, not the base's. */
void tc_open_base(void);

/* In a child: the file names in dir, '|'-joined and sorted ("" if none or
 * unreadable); for checks that nothing was left behind. */
const char *tc_listing(const char *dir);
#endif
