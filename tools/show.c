/*
 * iwin32 show NAME: one object in detail - what ls shows, its creation
 * time, the state of an event or a semaphore, a mutex's owner, and a hex
 * dump of the start of shared memory.  A leftover of a crashed process (no
 * process holds it) is reported as such as it is reclaimed.
 *
 * The state is read from the object's state page through a read-only
 * mapping, with atomic loads, never changed, and described by its type
 * (src/object_ops.h); a mutex's owner as the kernel knows it: mutex_owner.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"

/* The owner of a mutex, as the kernel knows it. */
static void print_mutex_owner(const struct iw_node *node, int fd)
{
    struct cli_mutex_owner o;
    if (cli_mutex_owner(node, fd, &o) != 0) {
        printf("owner:    (cannot be read: %s)\n", strerror(errno));
        return;
    }
    if (o.tid == 0)
        fputs("owner:    none\n", stdout);
    else if (o.pid == 0)
        printf("owner:    thread %d (its process is not visible here)\n", (int)o.tid);
    else
        printf("owner:    pid %d, thread %d, %" PRIu32 " acquisition%s\n", (int)o.pid, (int)o.tid, o.depth,
               o.depth == 1 ? "" : "s");
}

/* The state, as its type describes it (src/object_ops.h). */
static void print_state(const struct iw_node *node, int fd, enum iw_type type)
{
    if (type == IW_TYPE_MUTEX)
        print_mutex_owner(node, fd);
    const char *page = mmap(NULL, node->page_size, PROT_READ, MAP_SHARED, fd, 0);
    if (page == MAP_FAILED) {
        printf("state:    (cannot be read: %s)\n", strerror(errno));
        return;
    }
    char line[256];
    iw_type_ops(type)->describe(page + IW_STATE_OFFSET, line, sizeof line);
    printf("state:    %s\n", line);
    munmap((void *)page, node->page_size);
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

static int hex_dump(int fd, off_t data_offset, uint64_t len)
{
    unsigned char chunk[4096], previous[16];
    bool squeezing = false;
    uint64_t done = 0;
    while (done < len) {
        size_t want = len - done < sizeof chunk ? (size_t)(len - done) : sizeof chunk;
        ssize_t got = pread(fd, chunk, want, data_offset + (off_t)done);
        if (got <= 0)
            return got < 0 ? errno : EIO;
        for (size_t i = 0; i < (size_t)got; i += 16) {
            size_t n = (size_t)got - i < 16 ? (size_t)got - i : 16;
            bool same = done + i > 0 && n == 16 && memcmp(previous, chunk + i, 16) == 0;
            if (same && !squeezing)
                puts("*");
            if (!same)
                hex_line(done + i, chunk + i, n);
            squeezing = same;
            memcpy(previous, chunk + i, n);
        }
        done += (uint64_t)got;
    }
    printf("%08" PRIx64 "\n", done);
    return 0;
}

static uint64_t parse_count(const struct cli_command *cmd, const char *text)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end != '\0' || text[0] == '-' || text[0] == '+')
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
    int found = cli_lookup_operand(cmd, argc, argv, &n);
    if (found < 0)
        return -found;
    if (found == CLI_REMOVED_STALE) {
        /* Its file was there but nobody held it: what a crashed (killed)
         * process left.  The lookup's probe has just reclaimed it, as the
         * library would on its next access. */
        fprintf(stderr, "iwin32: %s ", cli_type_name(n.obj.type));
        cli_print_name(stderr, n.name, n.len);
        fputs(": a leftover of a crashed process (no process held it): reclaimed, no such object now\n",
              stderr);
    }
    if (found != CLI_HELD)
        return CLI_FAILED;
    struct iw_node *node = n.node;
    struct cli_object obj = n.obj;
    int fd = n.fd;
    fputs("name:     ", stdout);
    cli_print_name(stdout, obj.name, obj.name_len);
    printf("\ntype:     %s\ncreated:  ", cli_type_name(obj.type));
    cli_print_created(stdout, &obj, false);
    putchar('\n');
    if (obj.type == IW_TYPE_SHM)
        printf("size:     %" PRIu64 " bytes (%" PRIu64 " pages in the pool)\n", obj.size, iw_pages(node, obj.size));
    else
        printf("size:     0 (takes nothing from the pool)\n");
    printf("holders:  %u\npids:     ", obj.holders);
    if (obj.npids == 0)
        fputs("- (none this user may see)", stdout);
    for (size_t i = 0; i < obj.npids; i++)
        printf("%s%d", i ? " " : "", (int)obj.pids[i]);
    putchar('\n');
    int err = 0;
    if (obj.type != IW_TYPE_SHM) {
        print_state(node, fd, obj.type);
    } else if (bytes > 0 && obj.size > 0) {
        uint64_t shown = bytes < obj.size ? bytes : obj.size;
        printf("data (first %" PRIu64 " of %" PRIu64 " bytes):\n", shown, obj.size);
        err = hex_dump(fd, obj.data_offset, shown);
        if (err)
            cli_error("cannot read the data: %s", strerror(err));
    }
    free(obj.pids);
    close(fd);
    return err ? CLI_FAILED : CLI_OK;
}
