/*
 * Shared helpers of the test executables.
 *
 * tn_setup() gives the calling executable a fresh private node before its
 * first library call: a directory /dev/shm/iwin32-test-<name>-<pid> (the
 * "base") whose subdirectory "node" becomes $IWIN32_ROOT; the library
 * creates that subdirectory itself.  The base is removed when the process
 * that called tn_setup() exits (never by its forked children).
 *
 * Peers: the helper program shm_peer (shm_peer.c), fork+exec'd with pipes on
 * its stdin, stdout and stderr, so a test can drive a real second process.
 */
#ifndef IWIN32_TEST_NODE_H
#define IWIN32_TEST_NODE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include <iwin32.h>

/* ---- the private node ---------------------------------------------------- */
void tn_setup(const char *test_name);
const char *tn_base(void);      /* the private directory holding the node */
const char *tn_root(void);      /* the node directory ($IWIN32_ROOT) */
/* base/leaf, in buf; returns buf. */
char *tn_path(char *buf, size_t size, const char *leaf);

/* Object files ("n-", "h-", "u-", "t-") in dir (NULL: the node); 0 when the
 * directory does not exist. */
int tn_count_objects(const char *dir);
/* Lists dir's entries on stderr (diagnostics). */
void tn_dump_dir(const char *dir);
/* After a run: 1, with the node's entries on stderr, if object files are
 * left in the node (a failure more); 0 if none. */
int tn_objects_left(void);
/* Names of the entries of dir other than "." and "..", joined by '|' and
 * sorted, into buf. */
void tn_list_dir(const char *dir, char *buf, size_t size);
/* iwin32PoolInfo's used bytes; aborts the process if the call fails. */
uint64_t tn_pool_used(void);
uint64_t tn_pool_size(void);

/* ---- memory (test_proc.c, as the thread and lock readers below) ---------- */
size_t tn_page(void);
/* Every page of [p, p+len) is mapped / no page of it is. */
bool tn_is_mapped(const void *p, size_t len);
bool tn_is_unmapped(const void *p, size_t len);
/* No page of [p, p+len) can be read: unmapped, or reserved without access
 * (an unmapped shared-memory mapping the library keeps: shm.c). */
bool tn_is_inaccessible(const void *p, size_t len);
/* The size of the region of /proc/self/maps that starts exactly at p, 0 if none. */
size_t tn_region_size(const void *p);
/* Minor page faults of this process so far (a raw system call). */
long tn_minor_faults(void);
/* VmLck of this process in KiB, -1 if unknown. */
long tn_locked_kb(void);

/* ---- processes ----------------------------------------------------------- */
/* fork() after flushing stdio.  The child dies with its parent (SIGKILL), and
 * the parent remembers it until tn_wait() reaps it, so that a failed test
 * leaves no process behind (tn_teardown). */
pid_t tn_fork(void);
/* Has tn_teardown kill and reap a child made otherwise (posix_spawn). */
void tn_track_child(pid_t pid);
/* waitpid with a timeout; on timeout the child is SIGKILLed, reaped, and -1
 * returned.  Otherwise the wait status. */
int tn_wait(pid_t pid, int timeout_ms);
/* Waits (TN_TIMEOUT_MS) for child pid to stop (SIGSTOP, a crash point that
 * stops); false if it ended or hung on. */
bool tn_wait_stopped(pid_t pid);
/* The scheduler state letter of a thread of this process ('S': asleep), from
 * /proc; '?' if it can't be read. */
char tn_thread_state(pid_t tid);
/* The OFD locks of kind ("READ": a reference, "WRITE": a member slot's on
 * .node) this process holds through its descriptors on node files whose
 * name starts with prefix ("n-", ".node"), from /proc; -1 without /proc. */
int tn_ofd_locks(const char *prefix, const char *kind);
/* A pipe the test closes with tn_close(); tn_teardown closes what is left. */
void tn_pipe(int fds[2]);
void tn_close(int fd);
/* One byte through a pipe; tn_recv_byte gives up after TN_TIMEOUT_MS (or at
 * EOF) and returns false. */
void tn_send_byte(int fd);
bool tn_recv_byte(int fd);
/* Applies "--only NAME" / "--skip NAME" from the command line to cmocka's
 * test selection (one test case can then be a ctest entry of its own). */
void tn_select_tests(int argc, char **argv);
/* For cmocka_unit_test_teardown: SIGKILLs and reaps the children a test left
 * (one that failed half-way), and closes its tn_pipe()s.  Returns 0. */
int tn_teardown(void **state);
/* The status says: exited normally with code 0. */
bool tn_exited_ok(int status);
bool tn_killed_by(int status, int sig);
/* Milliseconds on the monotonic clock. */
int64_t tn_now_ms(void);
/* The default timeout for a peer's answer or a child's end (ms). */
#define TN_TIMEOUT_MS 30000

/* In a forked child (never cmocka there): report and _exit(2) on failure. */
#define TN_CHILD_CHECK(cond)                                                                  \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__, #cond);     \
            _exit(2);                                                                         \
        }                                                                                     \
    } while (0)

/* ---- peers: the shm_peer program as a second process ---------------------- */
struct tn_peer {
    pid_t pid;
    int in, out, err;           /* our ends of its stdin, stdout, stderr */
    char buf[4096];             /* what it said and we have not read yet */
    size_t len;
    char errbuf[8192];          /* its stderr, once finished */
    size_t errlen;
};

/* Starts shm_peer with the given command words (NULL-terminated).  env, if
 * not NULL, is a NULL-terminated list of "NAME=value" (set) or "NAME"
 * (removed) applied to this process's environment for the peer. */
void tn_peer_start(struct tn_peer *p, const char *const *env, ...) __attribute__((sentinel));
/* Reads the peer's next line (without '\n'); false on EOF or timeout. */
bool tn_peer_line(struct tn_peer *p, char *line, size_t size);
/* Reads the next line and compares; prints both on mismatch. */
bool tn_peer_expect(struct tn_peer *p, const char *want);
/* Lets a peer blocked in "wait" go on. */
void tn_peer_send(struct tn_peer *p);
/* Closes its stdin, reads the rest of its output (stderr into errbuf), and
 * reaps it; returns the wait status (-1 if it had to be killed). */
int tn_peer_finish(struct tn_peer *p);
/* SIGKILLs and reaps the peer; returns the wait status. */
int tn_peer_kill(struct tn_peer *p);

/* The last error a test sets before a call whose success must leave it alone. */
#define SENTINEL ((DWORD)0xC0FFEEu)

/* Shared memory the way most tests make it: the last error set to SENTINEL
 * first, so a successful Create must overwrite it. */
HANDLE tn_shm_create(const char *name, DWORD size, void **p);
HANDLE tn_shm_open(const char *name, void **p);
/* Unmaps and closes, failing the cmocka test if either fails. */
void tn_shm_release(HANDLE h, void *p);
/* No object of that name: Open fails with ERROR_FILE_NOT_FOUND (cmocka). */
void tn_assert_gone(const char *name);

#endif
