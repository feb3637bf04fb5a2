/*
 * iwin32: inspects and administers a node of libiwin32 (see iwin32(1)).
 * This file: the command line - global options, commands, help, the exit
 * status - and opening the node.  The commands live in ls.c, show.c and
 * admin.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char exit_status_help[] =
    "Exit status: 0 success; 1 failure (no such object, no node, node unusable,\n"
    "refused); 2 usage error; 3 rm refused: the object is held by a process.\n";

static const struct cli_command commands[] = {
    {"ls", "ls [--json] [--type TYPE] [--pid PID] [--watch [SECONDS] [--count N]]",
     "Lists the node's path, its live objects - type, size in bytes (shared memory:\n"
     "its exact size; events, mutexes, semaphores: 0, they take nothing from the\n"
     "pool), holders (processes holding it), pids (those with a descriptor on it\n"
     "that this user may see), name - and the pool's size and use.  Leftovers of\n"
     "killed processes are removed on the way, as the library does on the next access.\n"
     "  --json        one JSON document:\n"
     "                {\"node\",\"objects\":[{\"name\",\"type\",\"size\",\"holders\",\"pids\",\n"
     "                \"created\", mutexes: \"owner\":{\"pid\",\"tid\",\"depth\"},\"abandoned\"}],\n"
     "                \"pool\":{\"size\",\"used\"}}  (name, created, owner null when none)\n"
     "  --type TYPE   only objects of that type: shm, event, mutex, semaphore\n"
     "  --pid PID     only objects that process has a descriptor on\n"
     "  --watch [SECONDS]  list again every SECONDS (default 2, from 0.1), a live\n"
     "                view; on a terminal each listing replaces the last\n"
     "  --count N     with --watch: stop after N listings\n",
     cli_ls},
    {"show", "show [--bytes N] NAME",
     "Shows one object: type, creation time, size, holders, pids, the state of an\n"
     "event or a semaphore, a mutex's owner (pid, thread) and whether it was\n"
     "abandoned, and a hex dump of the start of shared memory.  A leftover of a\n"
     "crashed process is reported as such, and reclaimed (exit 1).\n"
     "  --bytes N   dump the first N bytes (default 256; 0: none)\n",
     cli_show},
    {"rm", "rm NAME",
     "Removes a name that no process holds (what a killed process left).  A held\n"
     "name is refused (exit 3): its holders would later destroy whatever object\n"
     "then has the name, and the pool's count would go wrong.\n",
     cli_rm},
    {"gc", "gc",
     "Removes every leftover no process holds - objects, and objects being made\n"
     "whose maker died - says what it removed, and recounts the pool.\n",
     cli_gc},
    {"pool", "pool [--set SIZE]",
     "Shows the pool's size and use.\n"
     "  --set SIZE   sets its size: MiB, or with a suffix M, MiB, G, GiB (64, 64M,\n"
     "               1G); a positive multiple of 4 MiB, not below what is in use.\n",
     cli_pool},
};

static void print_usage(FILE *f)
{
    fputs("Usage: iwin32 [--node DIR] COMMAND [OPTIONS] [ARGS]\n"
          "       iwin32 --help | --version\n"
          "Inspects and administers a libiwin32 node: its named shared memory, events,\n"
          "mutexes and semaphores, and its pool.\n\nCommands:\n",
          f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  iwin32 %s\n", commands[i].synopsis);
    fputs("\nOptions (also after a command):\n"
          "  --node DIR   the node directory (default $IWIN32_ROOT, else /dev/shm/iwin32-UID)\n"
          "  -h, --help   this help; 'iwin32 COMMAND --help' for a command's\n"
          "  -V, --version\n\n"
          "NAME operands take the \\xNN escapes that ls prints (names never hold '\\').\n",
          f);
    fputs(exit_status_help, f);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("iwin32: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "iwin32: %s%s", cmd ? cmd->name : "", cmd ? ": " : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'iwin32 %s%s--help'.\n", cmd ? cmd->name : "", cmd ? " " : "");
    va_end(ap);
    exit(CLI_USAGE);
}

/* --node DIR: the library takes the node from $IWIN32_ROOT, an absolute path. */
static void set_node(const struct cli_command *cmd, const char *dir)
{
    char path[CLI_PATH_SIZE];
    char cwd[PATH_MAX];
    if (dir[0] == '\0')
        cli_usage_error(cmd, "--node needs a directory");
    if (dir[0] != '/' && getcwd(cwd, sizeof cwd) == NULL)
        cli_usage_error(cmd, "--node %s: cannot tell the current directory: %s", dir, strerror(errno));
    int len = dir[0] == '/' ? snprintf(path, sizeof path, "%s", dir) : snprintf(path, sizeof path, "%s/%s", cwd, dir);
    if (len < 0 || (size_t)len >= sizeof path)
        cli_usage_error(cmd, "--node: path too long");
    setenv("IWIN32_ROOT", path, 1);
}

/* getopt said '?' (unknown option, or an argument to one that takes none)
 * or ':' (missing argument); optopt is 0 for an unknown long option. */
__attribute__((noreturn)) static void print_option_error(const struct cli_command *cmd, char **argv, int c)
{
    const char *arg = argv[optind - 1];
    const char *what = c == ':' ? "needs an argument" : "unknown option";
    if (strncmp(arg, "--", 2) == 0) {
        size_t len = strcspn(arg, "=");
        if (c == '?' && optopt != 0 && arg[len] == '=')
            what = "takes no argument";
        cli_usage_error(cmd, "%.*s: %s", (int)len, arg, what);
    }
    cli_usage_error(cmd, "-%c: %s", optopt, what);
}

int cli_next_option(const struct cli_command *cmd, int argc, char **argv, const struct option *options)
{
    for (;;) {
        /* Commands' own options are long ones; -h is the only short one. */
        int c = getopt_long(argc, argv, ":h", options, NULL);
        switch (c) {
        case 'N':
            set_node(cmd, optarg);
            continue;
        case 'h':
            printf("Usage: iwin32 [--node DIR] %s\n%s", cmd->synopsis, cmd->help);
            fputs(exit_status_help, stdout);
            exit(CLI_OK);
        case '?':
        case ':':
            print_option_error(cmd, argv, c);
        default:
            return c;
        }
    }
}

int cli_open_node(char path[CLI_PATH_SIZE])
{
    /* The tool never makes a node, so the size for a new one has no say here
     * (and an invalid value would make the library refuse the node). */
    unsetenv("IWIN32_POOL_MB");
    if (iwin32InspectNode(path, CLI_PATH_SIZE))
        return CLI_OK;
    DWORD err = GetLastError();
    if (err == ERROR_PATH_NOT_FOUND)
        cli_error("no node at %s", path);
    else if (err == ERROR_ACCESS_DENIED)
        cli_error("cannot use the node at %s: access denied (not a node this user may use: a symlink, "
                  "not a directory, another user's, open to others, or a .node of another version)", path);
    else if (err != ERROR_INVALID_PARAMETER) /* a bad $IWIN32_ROOT: the library said why */
        cli_error("cannot use the node at %s: %s", path, iwin32ErrorText(err));
    return CLI_FAILED;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"version", no_argument, NULL, 'V'}, CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:hV", options, NULL)) != -1) {
        switch (c) {
        case 'N':
            set_node(NULL, optarg);
            break;
        case 'h':
            print_usage(stdout);
            return CLI_OK;
        case 'V':
            printf("iwin32 %s\n", IWIN32_VERSION);
            return CLI_OK;
        default:
            print_option_error(NULL, argv, c);
        }
    }
    if (optind == argc)
        cli_usage_error(NULL, "no command given (ls, show, rm, gc, pool)");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[optind], commands[i].name) == 0) {
            char **args = argv + optind;
            int nargs = argc - optind;
            optind = 0; /* getopt starts afresh on the command's words */
            return commands[i].run(&commands[i], nargs, args);
        }
    cli_usage_error(NULL, "unknown command '%s' (ls, show, rm, gc, pool)", argv[optind]);
}
