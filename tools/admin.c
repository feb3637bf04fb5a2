/*
 * iwin32 rm, gc and pool: changing a node as an administrator would,
 * through the inspection interface (iwin32_inspect.h) and iwin32PoolInfo.
 *
 * rm removes only names nobody holds.  A holder's last close destroys its
 * object by unlinking the object's *name* (object.c, release_file): were a
 * held name unlinked or renamed by hand, that close would later unlink
 * whatever newer object then had the name - destroying an object others
 * hold - and return pages that object never took from the pool.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* ---- rm ------------------------------------------------------------------- */

int cli_rm(const struct cli_command *cmd, int argc, char **argv)
{
    static const struct option options[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    cli_next_option(cmd, argc, argv, options);
    struct cli_named n;
    if (cli_lookup_operand(cmd, argc, argv, 0, &n) != CLI_OK)
        return CLI_FAILED;
    const IWIN32_OBJECT_INFO *obj = n.obj;
    int rc = CLI_OK;
    if (obj->leftover) {
        /* The lookup removed it; its pages leave the pool's count at the
         * next recount (ls, gc, pool). */
        fputs("removed ", stdout);
        cli_print_name(stdout, n.name, n.len);
        puts(" (no process held it)");
    } else {
        fputs("iwin32: ", stderr);
        cli_print_name(stderr, n.name, n.len);
        fprintf(stderr, " is in use: %" PRIu32 " process%s hold%s it (pids:", obj->holders,
                obj->holders == 1 ? "" : "es", obj->holders == 1 ? "s" : "");
        for (size_t i = 0; i < obj->pidCount; i++)
            fprintf(stderr, " %d", (int)obj->pids[i]);
        fprintf(stderr, "%s); not removed: it goes when its last holder closes it\n",
                obj->pidCount ? "" : " not visible");
        rc = CLI_IN_USE;
    }
    iwin32InspectFree(n.obj, 1);
    return rc;
}

/* ---- gc ------------------------------------------------------------------- */

static void report_removed(const IWIN32_OBJECT_INFO *obj, void *ctx)
{
    ++*(unsigned *)ctx;
    fputs("removed ", stdout);
    if (obj->file[0] == 't') {
        printf("%s: an object being made, whose maker died\n", obj->file);
        return;
    }
    printf("%s ", obj->type ? cli_type_name(obj->type) : "object");
    cli_print_object_name(stdout, obj->name, obj->nameLength);
    puts(": no process held it");
}

int cli_gc(const struct cli_command *cmd, int argc, char **argv)
{
    static const struct option options[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    cli_next_option(cmd, argc, argv, options);
    if (optind < argc)
        cli_usage_error(cmd, "unexpected operand '%s'", argv[optind]);
    char path[CLI_PATH_SIZE];
    int rc = cli_open_node(path);
    if (rc != CLI_OK)
        return rc;
    uint64_t before = 0, size, used;
    unsigned removed = 0;
    IWIN32_OBJECT_INFO *objs = NULL;
    size_t n = 0;
    bool ok = iwin32InspectPoolCounted(&before) &&
              iwin32InspectList(IWIN32_INSPECT_IN_FLIGHT, report_removed, &removed, &objs, &n) &&
              iwin32PoolInfo(&size, &used);
    iwin32InspectFree(objs, n);
    if (!ok) {
        cli_error("cannot clean the node at %s: %s", path, iwin32ErrorText(GetLastError()));
        return CLI_FAILED;
    }
    if (removed == 0)
        puts("nothing to remove");
    printf("pool use: %" PRIu64 " bytes counted before, %" PRIu64 " bytes after (of %" PRIu64 ")\n", before, used,
           size);
    return CLI_OK;
}

/* ---- pool ----------------------------------------------------------------- */

/* SIZE for --set: MiB, or a number with M, MiB, G or GiB (any case).  0
 * when it is not a positive multiple of 4 MiB up to IWIN32_INSPECT_POOL_MB_MAX. */
static uint64_t parse_pool_mib(const char *text)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || text[0] < '0' || text[0] > '9') /* no blank or sign before */
        return 0;
    uint64_t scale = 1;
    if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gib") == 0)
        scale = 1024;
    else if (*end != '\0' && strcasecmp(end, "m") != 0 && strcasecmp(end, "mib") != 0)
        return 0;
    if (v == 0 || v > IWIN32_INSPECT_POOL_MB_MAX / scale || v * scale % 4 != 0)
        return 0;
    return v * scale;
}

int cli_pool(const struct cli_command *cmd, int argc, char **argv)
{
    static const struct option options[] = {
        {"set", required_argument, NULL, 's'}, CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    uint64_t set_mib = 0;
    while (cli_next_option(cmd, argc, argv, options) == 's')
        if ((set_mib = parse_pool_mib(optarg)) == 0)
            cli_usage_error(cmd, "--set %s: the size must be a positive multiple of 4 MiB, at most %llu GiB "
                            "(64, 64M, 64MiB, 1G)", optarg, IWIN32_INSPECT_POOL_MB_MAX >> 10);
    if (optind < argc)
        cli_usage_error(cmd, "unexpected operand '%s'", argv[optind]);
    char path[CLI_PATH_SIZE];
    int rc = cli_open_node(path);
    if (rc != CLI_OK)
        return rc;
    uint64_t used = 0; /* stays 0 if the recount itself failed */
    if (set_mib && !iwin32InspectSetPoolSize(set_mib << 20, &used)) {
        if (GetLastError() == ERROR_NOT_ENOUGH_MEMORY && used > 0)
            cli_error("pool not set to %" PRIu64 " MiB: live objects use %" PRIu64 " bytes", set_mib, used);
        else
            cli_error("cannot recount the pool of %s: %s", path, iwin32ErrorText(GetLastError()));
        return CLI_FAILED;
    }
    uint64_t size;
    if (!iwin32PoolInfo(&size, &used)) {
        cli_error("cannot recount the pool of %s: %s", path, iwin32ErrorText(GetLastError()));
        return CLI_FAILED;
    }
    printf("size: %" PRIu64 " bytes (%" PRIu64 " MiB)\nused: %" PRIu64 " bytes\n", size, size >> 20, used);
    return CLI_OK;
}
