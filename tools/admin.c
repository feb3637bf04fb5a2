/*
 * iwin32 rm, gc and pool: changing a node as an administrator would.
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
#include <unistd.h>

#include "cli.h"
#include "pool.h"

int cli_pool_usage(struct iw_node *node, uint64_t *size, uint64_t *used)
{
    uint64_t pages;
    DWORD err = iw_pool_recount(node, &pages);
    if (err != ERROR_SUCCESS)
        return err == ERROR_NOT_ENOUGH_MEMORY ? ENOMEM : EACCES;
    *size = atomic_load(&node->header->pool_max_pages) * node->page_size;
    *used = pages * node->page_size;
    return 0;
}

/* ---- rm ------------------------------------------------------------------- */

int cli_rm(const struct cli_command *cmd, int argc, char **argv)
{
    static const struct option options[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    cli_next_option(cmd, argc, argv, options);
    struct cli_named n;
    int found = cli_lookup_operand(cmd, argc, argv, &n);
    if (found < 0)
        return -found;
    if (found == CLI_MISSING)
        return CLI_FAILED;
    if (found == CLI_REMOVED_STALE) {
        fputs("removed ", stdout);
        cli_print_name(stdout, n.name, n.len);
        puts(" (no process held it)");
        return CLI_OK; /* its pages leave the pool's count at the next recount (ls, gc, pool) */
    }
    fputs("iwin32: ", stderr);
    cli_print_name(stderr, n.name, n.len);
    fprintf(stderr, " is in use: %u process%s hold%s it (pids:", n.obj.holders, n.obj.holders == 1 ? "" : "es",
            n.obj.holders == 1 ? "s" : "");
    for (size_t i = 0; i < n.obj.npids; i++)
        fprintf(stderr, " %d", (int)n.obj.pids[i]);
    fprintf(stderr, "%s); not removed: it goes when its last holder closes it\n", n.obj.npids ? "" : " not visible");
    free(n.obj.pids);
    close(n.fd);
    return CLI_IN_USE;
}

/* ---- gc ------------------------------------------------------------------- */

static void report_removed(const struct cli_object *obj, void *ctx)
{
    ++*(unsigned *)ctx;
    fputs("removed ", stdout);
    if (obj->file[0] == 't') {
        printf("%s: an object being made, whose maker died\n", obj->file);
        return;
    }
    printf("%s ", obj->type ? cli_type_name(obj->type) : "object");
    cli_print_object_name(stdout, obj->name, obj->name_len);
    puts(": no process held it");
}

int cli_gc(const struct cli_command *cmd, int argc, char **argv)
{
    static const struct option options[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    cli_next_option(cmd, argc, argv, options);
    if (optind < argc)
        cli_usage_error(cmd, "unexpected operand '%s'", argv[optind]);
    struct iw_node *node;
    char path[IW_NODE_PATH_SIZE];
    int rc = cli_open_node(&node, path);
    if (rc != CLI_OK)
        return rc;
    uint64_t before = iw_pool_counted(node) * node->page_size;
    unsigned removed = 0;
    struct cli_object *objs;
    size_t n;
    int err = cli_scan(node, true, report_removed, &removed, &objs, &n);
    cli_free_objects(objs, n);
    uint64_t size, used;
    if (err == 0)
        err = cli_pool_usage(node, &size, &used);
    if (err != 0) {
        cli_error("cannot clean the node at %s: %s", path, strerror(err));
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
 * when it is not a positive multiple of 4 MiB up to IW_POOL_MB_MAX. */
static uint64_t parse_pool_mib(const char *text)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || text[0] == '-' || text[0] == '+')
        return 0;
    uint64_t scale = 1;
    if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gib") == 0)
        scale = 1024;
    else if (*end != '\0' && strcasecmp(end, "m") != 0 && strcasecmp(end, "mib") != 0)
        return 0;
    if (v == 0 || v > IW_POOL_MB_MAX / scale || v * scale % 4 != 0)
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
                            "(64, 64M, 64MiB, 1G)", optarg, IW_POOL_MB_MAX >> 10);
    if (optind < argc)
        cli_usage_error(cmd, "unexpected operand '%s'", argv[optind]);
    struct iw_node *node;
    char path[IW_NODE_PATH_SIZE];
    int rc = cli_open_node(&node, path);
    if (rc != CLI_OK)
        return rc;
    if (set_mib) {
        uint64_t used_pages = 0; /* stays 0 if the recount itself failed */
        DWORD err = iw_pool_set_size(node, (set_mib << 20) / node->page_size, &used_pages);
        if (err == ERROR_NOT_ENOUGH_MEMORY && used_pages > 0) {
            cli_error("pool not set to %" PRIu64 " MiB: live objects use %" PRIu64 " bytes", set_mib,
                      used_pages * node->page_size);
            return CLI_FAILED;
        }
        if (err != ERROR_SUCCESS) {
            cli_error("cannot recount the pool of %s: error %u", path, (unsigned)err);
            return CLI_FAILED;
        }
    }
    uint64_t size, used;
    int err = cli_pool_usage(node, &size, &used);
    if (err != 0) {
        cli_error("cannot recount the pool of %s: %s", path, strerror(err));
        return CLI_FAILED;
    }
    printf("size: %" PRIu64 " bytes (%" PRIu64 " MiB)\nused: %" PRIu64 " bytes\n", size, size >> 20, used);
    return CLI_OK;
}
