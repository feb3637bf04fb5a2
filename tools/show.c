/*
 * iwin32 show NAME: one object in detail - what ls shows, its creation
 * time, the state of an event or a semaphore, a mutex's owner, and a hex
 * dump of the start of shared memory.  A leftover of a crashed process (no
 * process holds it) is reported as such as it is reclaimed.
 *
 * What it shows comes from iwin32InspectObject, which reads the state and
 * the data without changing them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_mutex(const IWIN32_OBJECT_STATE *o)
{
    if (o->ownerTid == 0)
        fputs("owner:    none", stdout);
    else if (o->ownerPid == 0)
        printf("owner:    thread %d (its process is not visible here)", (int)o->ownerTid);
    else
        printf("owner:    pid %d, thread %d, %" PRIu32 " acquisition%s", (int)o->ownerPid, (int)o->ownerTid,
               o->depth, o->depth == 1 ? "" : "s");
    printf("\nstate:    %s, %" PRIu32 " waiting in multi-object waits\n",
           o->abandoned ? "abandoned (its owner died holding it; the next acquirer gets WAIT_ABANDONED)"
                        : "not abandoned",
           o->waiters);
}

static void print_state(const IWIN32_OBJECT_INFO *obj)
{
    const IWIN32_OBJECT_STATE *s = &obj->state;
    if (!obj->stateKnown)
        puts("state:    (cannot be read)");
    else if (obj->type == IWIN32_OBJECT_MUTEX)
        print_mutex(s);
    else if (obj->type == IWIN32_OBJECT_EVENT)
        printf("state:    %s, %s, %" PRIu32 " waiting\n", s->manualReset ? "manual-reset" : "auto-reset",
               s->signalled ? "signalled" : "not signalled", s->waiters);
    else
        printf("state:    count %ld of %ld, %" PRIu32 " waiting\n", (long)s->count, (long)s->maximum, s->waiters);
}

/* hexdump -C's format: offset, 16 bytes, their ASCII; a run of lines equal
 * to the one before is shown as one "*". */
static void hex_line(uint64_t offset, const unsigned char *b, size_t n)
{
    printf("%08" PRIx64 " ", offset);
    for (size_t i = 0; i < 16; i++) {
        if (i == 8)
            putchar(' ');
        if (i < n)
            printf(" %02x", b[i]);
        else
            fputs("   ", stdout);
    }
    fputs("  |", stdout);
    for (size_t i = 0; i < n; i++)
        putchar(b[i] >= 0x20 && b[i] < 0x7F ? b[i] : '.');
    puts("|");
}

static void hex_dump(const unsigned char *data, size_t len)
{
    unsigned char previous[16];
    bool squeezing = false;
    for (size_t i = 0; i < len; i += 16) {
        size_t n = len - i < 16 ? len - i : 16;
        bool same = i > 0 && n == 16 && memcmp(previous, data + i, 16) == 0;
        if (same && !squeezing)
            puts("*");
        if (!same)
            hex_line(i, data + i, n);
        squeezing = same;
        memcpy(previous, data + i, n);
    }
    printf("%08zx\n", len);
}

static uint64_t parse_count(const struct cli_command *cmd, const char *text)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end != '\0' || text[0] < '0' || text[0] > '9') /* no blank or sign */
        cli_usage_error(cmd, "--bytes %s: not a number of bytes", text);
    return v;
}

int cli_show(const struct cli_command *cmd, int argc, char **argv)
{
    static const struct option options[] = {
        {"bytes", required_argument, NULL, 'b'}, CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    uint64_t bytes = 256;
    while (cli_next_option(cmd, argc, argv, options) == 'b')
        bytes = parse_count(cmd, optarg);
    struct cli_named n;
    if (cli_lookup_operand(cmd, argc, argv, bytes, &n) != CLI_OK)
        return CLI_FAILED;
    const IWIN32_OBJECT_INFO *obj = n.obj;
    if (obj->leftover) {
        /* Its file was there but nobody held it: what a crashed (killed)
         * process left.  The lookup has just reclaimed it, as the library
         * would on its next access. */
        fprintf(stderr, "iwin32: %s ", cli_type_name(obj->type));
        cli_print_name(stderr, n.name, n.len);
        fputs(": a leftover of a crashed process (no process held it): reclaimed, no such object now\n",
              stderr);
        iwin32InspectFree(n.obj, 1);
        return CLI_FAILED;
    }
    fputs("name:     ", stdout);
    cli_print_name(stdout, obj->name, obj->nameLength);
    printf("\ntype:     %s\ncreated:  ", cli_type_name(obj->type));
    cli_print_created(stdout, obj, false);
    putchar('\n');
    if (obj->type == IWIN32_OBJECT_SHM)
        printf("size:     %" PRIu64 " bytes (%" PRIu64 " pages in the pool)\n", obj->size, obj->poolPages);
    else
        printf("size:     0 (takes nothing from the pool)\n");
    printf("holders:  %" PRIu32 "\npids:     ", obj->holders);
    if (obj->pidCount == 0)
        fputs("- (none this user may see)", stdout);
    for (size_t i = 0; i < obj->pidCount; i++)
        printf("%s%d", i ? " " : "", (int)obj->pids[i]);
    putchar('\n');
    bool short_read = false;
    if (obj->type != IWIN32_OBJECT_SHM) {
        print_state(obj);
    } else if (bytes > 0 && obj->size > 0) {
        uint64_t shown = bytes < obj->size ? bytes : obj->size;
        printf("data (first %" PRIu64 " of %" PRIu64 " bytes):\n", shown, obj->size);
        hex_dump(obj->data, obj->dataLength);
        if ((short_read = obj->dataLength < shown))
            cli_error("cannot read the data: it ends at %zu bytes", obj->dataLength);
    }
    iwin32InspectFree(n.obj, 1);
    return short_read ? CLI_FAILED : CLI_OK;
}
