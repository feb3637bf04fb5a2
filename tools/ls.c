/*
 * iwin32 ls: the node's path, its live objects and its pool, as a table or
 * as one JSON document; objects in name order (bytes), unnamed ones last,
 * optionally only those of a type or held by a pid.  --watch lists again
 * every few seconds, as watch(1) would, for a live view.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Characters print_pids writes for obj. */
static int pids_width(const IWIN32_OBJECT_INFO *obj)
{
    if (obj->pidCount == 0)
        return 1;
    int width = 0;
    for (size_t i = 0; i < obj->pidCount; i++)
        width += snprintf(NULL, 0, "%s%d", i ? "," : "", (int)obj->pids[i]);
    return width;
}

static void print_pids(const IWIN32_OBJECT_INFO *obj, const char *separator, const char *none)
{
    if (obj->pidCount == 0)
        fputs(none, stdout);
    for (size_t i = 0; i < obj->pidCount; i++)
        printf("%s%d", i ? separator : "", (int)obj->pids[i]);
}

static void print_table(const char *path, const IWIN32_OBJECT_INFO *objs, size_t n, uint64_t size,
                        uint64_t used)
{
    printf("node: %s\n", path);
    int width = 4;
    for (size_t i = 0; i < n; i++)
        if (pids_width(&objs[i]) > width)
            width = pids_width(&objs[i]);
    printf("%-9s %12s %7s  %-*s  %s\n", "TYPE", "SIZE", "HOLDERS", width, "PIDS", "NAME");
    for (size_t i = 0; i < n; i++) {
        const IWIN32_OBJECT_INFO *o = &objs[i];
        printf("%-9s %12" PRIu64 " %7" PRIu32 "  ", cli_type_name(o->type), o->size, o->holders);
        print_pids(o, ",", "-");
        printf("%*s  ", width - pids_width(o), "");
        cli_print_object_name(stdout, o->name, o->nameLength);
        putchar('\n');
    }
    printf("pool: %" PRIu64 " of %" PRIu64 " bytes used (%" PRIu64 " MiB)\n", used, size, size >> 20);
}

/* A mutex's owner and abandoned state, as JSON members (", ..."). */
static void print_json_owner(const IWIN32_OBJECT_INFO *o)
{
    const IWIN32_OBJECT_STATE *s = &o->state;
    if (!o->stateKnown) {
        fputs(", \"owner\": null, \"abandoned\": null", stdout); /* its page could not be read */
    } else if (s->ownerTid == 0) {
        printf(", \"owner\": null, \"abandoned\": %s", s->abandoned ? "true" : "false");
    } else {
        printf(", \"owner\": {\"pid\": ");
        printf(s->ownerPid ? "%d" : "null", (int)s->ownerPid);
        printf(", \"tid\": %d, \"depth\": %" PRIu32 "}, \"abandoned\": %s", (int)s->ownerTid, s->depth,
               s->abandoned ? "true" : "false");
    }
}

static void print_json(const char *path, const IWIN32_OBJECT_INFO *objs, size_t n,
                       uint64_t size, uint64_t used)
{
    fputs("{\n  \"node\": ", stdout);
    cli_print_json_string(stdout, path, strlen(path));
    printf(",\n  \"objects\": [");
    for (size_t i = 0; i < n; i++) {
        const IWIN32_OBJECT_INFO *o = &objs[i];
        printf("%s\n    {\"name\": ", i ? "," : "");
        if (o->nameLength)
            cli_print_json_string(stdout, o->name, o->nameLength);
        else
            fputs("null", stdout);
        printf(", \"type\": \"%s\", \"size\": %" PRIu64 ", \"holders\": %" PRIu32 ", \"pids\": [", cli_type_name(o->type),
               o->size, o->holders);
        print_pids(o, ", ", "");
        fputs("], \"created\": ", stdout);
        cli_print_created(stdout, o, true);
        if (o->type == IWIN32_OBJECT_MUTEX)
            print_json_owner(o);
        putchar('}');
    }
    printf("%s],\n  \"pool\": {\"size\": %" PRIu64 ", \"used\": %" PRIu64 "}\n}\n", n ? "\n  " : "", size, used);
}

struct ls_options {
    bool json;
    IWIN32_OBJECT_TYPE type;    /* 0: every type */
    pid_t pid;                  /* 0: any holder */
    double watch;               /* seconds between listings; 0: list once */
    unsigned long count;        /* --watch: listings, 0 for no end */
};

static bool holds(const IWIN32_OBJECT_INFO *o, pid_t pid)
{
    for (size_t i = 0; i < o->pidCount; i++)
        if (o->pids[i] == pid)
            return true;
    return false;
}

/* One listing; CLI_OK or CLI_FAILED with the reason told. */
static int list(const char *path, const struct ls_options *opt)
{
    IWIN32_OBJECT_INFO *objs;
    size_t n;
    uint64_t size, used;
    if (!iwin32InspectList(0, NULL, NULL, &objs, &n) || !iwin32PoolInfo(&size, &used)) {
        cli_error("cannot list the node at %s: %s", path, iwin32ErrorText(GetLastError()));
        iwin32InspectFree(objs, n);
        return CLI_FAILED;
    }
    /* The wanted ones to the front, in their order; all are freed. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if ((opt->type == 0 || objs[i].type == opt->type) && (opt->pid == 0 || holds(&objs[i], opt->pid))) {
            IWIN32_OBJECT_INFO wanted = objs[i];
            objs[i] = objs[kept];
            objs[kept++] = wanted;
        }
    }
    if (opt->json)
        print_json(path, objs, kept, size, used);
    else
        print_table(path, objs, kept, size, used);
    iwin32InspectFree(objs, n);
    return CLI_OK;
}

static unsigned long parse_number(const struct cli_command *cmd, const char *option, const char *text, bool zero_ok)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end != '\0' || text[0] == '-' || text[0] == '+' || (v == 0 && !zero_ok))
        cli_usage_error(cmd, "%s %s: not a %snumber", option, text, zero_ok ? "" : "positive ");
    return v;
}

/* --watch's SECONDS: 0.1 to a day.  1 with *seconds set; 0 for text that
 * is no number; -1 for a number out of that range. */
static int parse_seconds(const char *text, double *seconds)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0')
        return 0;
    if (errno || !(v >= 0.1 && v <= 86400))
        return -1;
    *seconds = v;
    return 1;
}

static void sleep_seconds(double seconds)
{
    struct timespec t = {.tv_sec = (time_t)seconds, .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

int cli_ls(const struct cli_command *cmd, int argc, char **argv)
{
    static const struct option options[] = {{"json", no_argument, NULL, 'j'},
                                            {"watch", optional_argument, NULL, 'w'},
                                            {"count", required_argument, NULL, 'c'},
                                            {"pid", required_argument, NULL, 'p'},
                                            {"type", required_argument, NULL, 't'},
                                            CLI_COMMON_OPTIONS,
                                            {NULL, 0, NULL, 0}};
    struct ls_options opt = {0};
    bool count_given = false;
    int c;
    while ((c = cli_next_option(cmd, argc, argv, options)) != -1) {
        if (c == 'j') {
            opt.json = true;
        } else if (c == 'w') {
            opt.watch = 2.0; /* watch(1)'s default */
            /* "--watch 5" as well as "--watch=5": a number right after it is its operand. */
            const char *text = optarg ? optarg : optind < argc ? argv[optind] : NULL;
            int parsed = text ? parse_seconds(text, &opt.watch) : 0;
            if (parsed > 0)
                optind += optarg == NULL;
            else if (optarg || parsed < 0) /* a number after it is its operand, in range or not */
                cli_usage_error(cmd, "--watch %s: SECONDS from 0.1 to 86400", text);
        } else if (c == 'c') {
            opt.count = parse_number(cmd, "--count", optarg, false);
            count_given = true;
        } else if (c == 'p') {
            unsigned long pid = parse_number(cmd, "--pid", optarg, false);
            if (pid > INT32_MAX)
                cli_usage_error(cmd, "--pid %s: not a pid", optarg);
            opt.pid = (pid_t)pid;
        } else if ((opt.type = cli_type_of(optarg)) == 0) {
            cli_usage_error(cmd, "--type %s: one of shm, event, mutex, semaphore", optarg);
        }
    }
    if (optind < argc)
        cli_usage_error(cmd, "unexpected operand '%s'", argv[optind]);
    if (count_given && opt.watch == 0)
        cli_usage_error(cmd, "--count goes with --watch");

    char path[CLI_PATH_SIZE];
    int rc = cli_open_node(path);
    if (rc != CLI_OK)
        return rc;
    if (opt.watch == 0)
        return list(path, &opt);
    /* The live view: on a terminal each listing replaces the one before,
     * under a header with the time; into a pipe or file they follow one
     * another (JSON: one document per listing). */
    bool tty = isatty(STDOUT_FILENO);
    for (unsigned long shown = 0; opt.count == 0 || shown < opt.count; shown++) {
        if (shown > 0)
            sleep_seconds(opt.watch);
        if (tty)
            fputs("\033[H\033[2J", stdout);
        if (!opt.json) {
            char now[32];
            time_t t = time(NULL);
            struct tm tm;
            strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
            printf("%sEvery %gs: iwin32 ls    %s\n", shown > 0 && !tty ? "\n" : "", opt.watch, now);
        }
        if (list(path, &opt) != CLI_OK)
            return CLI_FAILED;
        fflush(stdout);
    }
    return CLI_OK;
}
