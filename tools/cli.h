/*
 * The iwin32 command-line tool: what its parts share.
 *
 * It is built on the installed headers alone - iwin32.h and the inspection
 * interface, iwin32_inspect.h, which reads a node without ever holding or
 * destroying a live object - and links the shared library: a tool anyone
 * could write the same way.
 */
#ifndef IWIN32_CLI_H
#define IWIN32_CLI_H
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <iwin32_inspect.h>

/* A node's path: the library's limit (PATH_MAX) and its NUL. */
#define CLI_PATH_SIZE 4096

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

/* Checks that there is a node where the command works ($IWIN32_ROOT,
 * --node), never making one: a missing node is reported.  CLI_OK, or
 * CLI_FAILED with the reason on stderr; path gets the node's path. */
int cli_open_node(char path[CLI_PATH_SIZE]);

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
/* A NAME operand: its \xNN escapes decoded into out (IWIN32_INSPECT_NAME_MAX + 1
 * bytes).  false for a '\' not starting \xNN, or a name too long. */
bool cli_parse_name(const char *arg, char *out, size_t *len);
/* How a name appears in messages: cli_print_name's form, or "(unnamed)". */
void cli_print_object_name(FILE *f, const char *name, size_t len);

/* ---- objects (objects.c) ------------------------------------------------------- */

const char *cli_type_name(IWIN32_OBJECT_TYPE type);
/* The type of that name ("shm", "event", ...), 0 if none is. */
IWIN32_OBJECT_TYPE cli_type_of(const char *name);
/* The creation time, local, "2026-12-02 19:40:01"; "unknown (...)" when the
 * filesystem keeps none.  JSON: a quoted UTC ISO 8601 time, or null. */
void cli_print_created(FILE *f, const IWIN32_OBJECT_INFO *obj, bool json);

/* The NAME operand of rm and show - the one operand left after the options
 * (a usage error otherwise) - looked up (iwin32InspectObject) with the
 * first data_bytes of shared memory. */
struct cli_named {
    char path[CLI_PATH_SIZE];
    char name[IWIN32_INSPECT_NAME_MAX + 1];
    size_t len;
    IWIN32_OBJECT_INFO *obj;    /* freed with iwin32InspectFree(obj, 1) */
};
/* CLI_OK with out->obj filled (a leftover this call removed: obj->leftover);
 * CLI_FAILED with the reason told: no such object ("no object named ..."),
 * no node, node unreadable. */
int cli_lookup_operand(const struct cli_command *cmd, int argc, char **argv, uint64_t data_bytes,
                       struct cli_named *out);
#endif
