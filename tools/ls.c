/*
 * iwin32 ls: the node's live objects and its pool, as a table or as one
 * JSON document.  Objects in name order (bytes), unnamed ones last.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pool.h"

static int by_name(const void *a, const void *b)
{
    const struct cli_object *x = a, *y = b;
    if ((x->name_len == 0) != (y->name_len == 0))
        return x->name_len == 0 ? 1 : -1;
    if (x->name_len == 0)
        return strcmp(x->file, y->file);
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Characters print_pids writes for obj. */
static int pids_width(const struct cli_object *obj)
{
    if (obj->npids == 0)
        return 1;
    int width = 0;
    for (size_t i = 0; i < obj->npids; i++)
        width += snprintf(NULL, 0, "%s%d", i ? "," : "", (int)obj->pids[i]);
    return width;
}

static void print_pids(const struct cli_object *obj, const char *separator, const char *none)
{
    if (obj->npids == 0)
        fputs(none, stdout);
    for (size_t i = 0; i < obj->npids; i++)
        printf("%s%d", i ? separator : "", (int)obj->pids[i]);
}

static void print_table(const struct cli_object *objs, size_t n, uint64_t size, uint64_t used)
{
    int width = 4;
    for (size_t i = 0; i < n; i++)
        if (pids_width(&objs[i]) > width)
            width = pids_width(&objs[i]);
    printf("%-9s %12s %7s  %-*s  %s\n", "TYPE", "SIZE", "HOLDERS", width, "PIDS", "NAME");
    for (size_t i = 0; i < n; i++) {
        const struct cli_object *o = &objs[i];
        printf("%-9s %12" PRIu64 " %7u  ", cli_type_name(o->type), o->size, o->holders);
        print_pids(o, ",", "-");
        printf("%*s  ", width - pids_width(o), "");
        cli_print_object_name(stdout, o->name, o->name_len);
        putchar('\n');
    }
    printf("pool: %" PRIu64 " of %" PRIu64 " bytes used (%" PRIu64 " MiB)\n", used, size, size >> 20);
}

static void print_json(const struct cli_object *objs, size_t n, uint64_t size, uint64_t used)
{
    printf("{\n  \"objects\": [");
    for (size_t i = 0; i < n; i++) {
        const struct cli_object *o = &objs[i];
        printf("%s\n    {\"name\": ", i ? "," : "");
        if (o->name_len)
            cli_print_json_string(stdout, o->name, o->name_len);
        else
            fputs("null", stdout);
        printf(", \"type\": \"%s\", \"size\": %" PRIu64 ", \"holders\": %u, \"pids\": [", cli_type_name(o->type),
               o->size, o->holders);
        print_pids(o, ", ", "");
        printf("]}");
    }
    printf("%s],\n  \"pool\": {\"size\": %" PRIu64 ", \"used\": %" PRIu64 "}\n}\n", n ? "\n  " : "", size, used);
}

int cli_ls(const struct cli_command *cmd, int argc, char **argv)
{
    static const struct option options[] = {{"json", no_argument, NULL, 'j'}, CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    bool json = false;
    while (cli_next_option(cmd, argc, argv, options) == 'j')
        json = true;
    if (optind < argc)
        cli_usage_error(cmd, "unexpected operand '%s'", argv[optind]);

    struct iw_node *node;
    char path[IW_NODE_PATH_SIZE];
    int rc = cli_open_node(&node, path);
    if (rc != CLI_OK)
        return rc;
    struct cli_object *objs;
    size_t n;
    int err = cli_scan(node, false, NULL, NULL, &objs, &n);
    if (err == 0)
        err = cli_count_holders(objs, n);
    uint64_t size, used;
    if (err == 0)
        err = cli_pool_usage(node, &size, &used);
    if (err != 0) {
        cli_error("cannot list the node at %s: %s", path, strerror(err));
        cli_free_objects(objs, n);
        return CLI_FAILED;
    }
    /* Held when the scan looked, but no holder since: destroyed meanwhile. */
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (objs[i].holders > 0)
            objs[live++] = objs[i];
        else
            free(objs[i].pids);
    }
    if (live > 1) /* objs is NULL when the node is empty */
        qsort(objs, live, sizeof *objs, by_name);
    if (json)
        print_json(objs, live, size, used);
    else
        print_table(objs, live, size, used);
    cli_free_objects(objs, live);
    return CLI_OK;
}
