/*
 * The iwin32 command-line tool: what its parts share.
 *
 * The tool reads a node the way the library does and never becomes a holder
 * of an object: it takes no reference read lock, so nothing it does can
 * destroy a live object.  It looks at each object file's lock without taking
 * it, reads headers, state and data with pread or a read-only mapping, and
 * leaves stale files (nobody holds them) to the library's own removal,
 * iw_reflock_probe - the lazy removal SPEC 4 allows "on the next access or
 * listing".
 */
#ifndef IWIN32_CLI_H
#define IWIN32_CLI_H
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "name.h"
#include "node.h"
#include "object.h"
#include "type.h"

/* Exit status: what a script can rely on (iwin32(1), --help). */
enum cli_exit {
    CLI_OK = 0,
    CLI_FAILED = 1,     /* not found, node missing or unusable, refused */
    CLI_USAGE = 2,      /* bad command line */
    CLI_IN_USE = 3,     /* rm: the object is held by a process */
};

/* ---- commands (iwin32.c) ---------------------------------------------------- */

struct cli_command {
    const char *name;
    const char *synopsis;       /* "ls [--json]" */
    const char *help;           /* what --help prints after the synopsis */
    int (*run)(const struct cli_command *cmd, int argc, char **argv);
};

/* The options every command takes, last in its table: --node DIR, --help. */
#define CLI_COMMON_OPTIONS {"node", required_argument, NULL, 'N'}, {"help", no_argument, NULL, 'h'}

/* getopt_long over a command's argv (argv[0] is the command's name), with
 * the common options handled here: --help prints the command's help and
 * exits 0, a bad option exits 2.  Returns the command's own option
 * characters, then -1; optind is then the first operand. */
int cli_next_option(const struct cli_command *cmd, int argc, char **argv, const struct option *options);

/* Prints "iwin32: CMD: message" and the hint to --help, exits 2. */
void cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
/* "iwin32: message" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Opens the node the command works on ($IWIN32_ROOT, --node), never making
 * one: a missing node is reported.  CLI_OK, or CLI_FAILED with the reason
 * on stderr. */
int cli_open_node(struct iw_node **node, char path[IW_NODE_PATH_SIZE]);

/* The pool's size and use in bytes, after a recount (admin.c).  0 or an errno. */
int cli_pool_usage(struct iw_node *node, uint64_t *size, uint64_t *used);

int cli_ls(const struct cli_command *cmd, int argc, char **argv);
int cli_show(const struct cli_command *cmd, int argc, char **argv);
int cli_rm(const struct cli_command *cmd, int argc, char **argv);
int cli_gc(const struct cli_command *cmd, int argc, char **argv);
int cli_pool(const struct cli_command *cmd, int argc, char **argv);

/* ---- names (names.c) ------------------------------------------------------- */

/* A name for a terminal or a shell: printable ASCII and well-formed UTF-8
 * characters as they are; every other byte - space, control bytes, DEL, C1
 * and bidirectional-format characters, bytes of malformed UTF-8 - as \xNN,
 * and a leading '(' as \x28, so that no name reads as "(unnamed)".  Names
 * never hold '\', so the form is unambiguous, and NAME operands take it. */
void cli_print_name(FILE *f, const char *name, size_t len);
/* A JSON string, quotes included: it decodes to the name itself when the
 * name is UTF-8; a byte of malformed UTF-8 is written as the four characters
 * \xNN (the JSON text "\\xNN"). */
void cli_print_json_string(FILE *f, const char *s, size_t len);
/* A NAME operand: its \xNN escapes decoded into out (IW_NAME_MAX + 1
 * bytes).  false for a '\' not starting \xNN, or a name too long. */
bool cli_parse_name(const char *arg, char *out, size_t *len);
/* How a name appears in messages: cli_print_name's form, or "(unnamed)". */
void cli_print_object_name(FILE *f, const char *name, size_t len);

/* ---- objects (objects.c) ------------------------------------------------------- */

/* One object of the node as the tool sees it. */
struct cli_object {
    char file[IW_FILE_NAME_SIZE];
    char name[IW_NAME_MAX + 1]; /* name_len 0: unnamed (or not known) */
    size_t name_len;
    enum iw_type type;          /* 0 when the file is not a complete object */
    uint64_t size;              /* shared memory: the exact size; others 0 */
    off_t data_offset;          /* shared memory: where the data starts */
    dev_t dev;
    ino_t ino;
    struct timespec created;    /* the file's birth time (statx); tv_sec -1: not known */
    unsigned holders;           /* processes holding it (reference locks) */
    pid_t *pids;                /* processes with a descriptor on it (those /proc shows us) */
    size_t npids;
};

const char *cli_type_name(enum iw_type type);
/* The type of that name ("shm", "event", ...), 0 if none is. */
enum iw_type cli_type_of(const char *name);
/* The creation time, local, "2026-12-02 19:40:01"; "unknown (...)" when the
 * filesystem keeps none.  JSON: a quoted UTC ISO 8601 time, or null. */
void cli_print_created(FILE *f, const struct cli_object *obj, bool json);

/* Called for each stale file a scan removed. */
typedef void cli_removed_fn(const struct cli_object *obj, void *ctx);

/* The objects of the node that someone holds, in directory order (*objs,
 * freed with cli_free_objects), holders not yet counted.  Every object file
 * nobody holds is removed on the way (on_removed, if not NULL, is told);
 * files still being made ("t-") are probed too when in_flight_too, and are
 * never listed.  0 or an errno. */
int cli_scan(struct iw_node *node, bool in_flight_too, cli_removed_fn *on_removed, void *ctx,
             struct cli_object **objs, size_t *n);
void cli_free_objects(struct cli_object *objs, size_t n);

enum cli_lookup { CLI_HELD, CLI_REMOVED_STALE, CLI_MISSING };
/* The object of that name: CLI_HELD with *obj filled (holders counted) and
 * *fd open on its file (no lock taken; the caller closes it);
 * CLI_REMOVED_STALE when nobody held it and this call removed it;
 * CLI_MISSING when there is none.  A negative errno on failure. */
int cli_lookup(struct iw_node *node, const char *name, size_t len, struct cli_object *obj, int *fd);

/* The NAME operand of rm and show - the one operand left after the options
 * (a usage error otherwise) - looked up in the node it opens. */
struct cli_named {
    struct iw_node *node;
    char path[IW_NODE_PATH_SIZE];
    char name[IW_NAME_MAX + 1];
    size_t len;
    struct cli_object obj;
    int fd;
};
/* A cli_lookup result for it; or -CLI_FAILED with the reason told (no node,
 * node unreadable).  For CLI_MISSING it has said "no object named ...". */
int cli_lookup_operand(const struct cli_command *cmd, int argc, char **argv, struct cli_named *out);
void cli_report_missing(const struct cli_named *named);

/* ---- a mutex's owner (mutex_owner.c) ------------------------------------------- */

struct cli_mutex_owner {
    pid_t tid;          /* the owning thread (0: not owned), as the kernel knows it */
    pid_t pid;          /* its process; 0 when /proc does not show that thread */
    uint32_t depth;     /* its acquisitions (recursive) */
    bool abandoned;     /* its owner died holding it; the next acquirer is told */
    uint32_t waiters;   /* threads in multi-object waits on it */
};
/* From the mutex's open file (fd): 0, or -1 with errno when it cannot be mapped. */
int cli_mutex_owner(const struct iw_node *node, int fd, struct cli_mutex_owner *out);

/* ---- holders (holders.c) --------------------------------------------------------- */

/* Counts each object's holders - the OFD read locks on byte 0 of its file
 * in /proc/locks, one per holding process - and lists the processes with a
 * descriptor on it, from /proc/<pid>/fd where permitted (this process left
 * out).  0, or an errno when /proc/locks cannot be read. */
int cli_count_holders(struct cli_object *objs, size_t n);
#endif
