/*
 * The node's objects as the tool sees them: one file each (see object.h for
 * the layouts, name.h for the file names).  A file the library did not make
 * (mark.h) is passed over: never listed, shown or removed.  Every other file
 * is opened without a lock and judged by iw_reflock_probe, exactly as the
 * pool's recount does:
 * held (someone has a read lock, or is destroying it: left alone) or stale
 * (nobody holds it: removed under the write lock, which a live object never
 * lets us take).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mark.h"
#include "reflock.h"

const char *cli_type_name(enum iw_type type)
{
    const struct iw_object_ops *ops = iw_type_ops(type);
    return ops ? ops->name : "unknown";
}

enum iw_type cli_type_of(const char *name)
{
    for (enum iw_type t = IW_TYPE_SHM; t < IW_TYPE_END; t++)
        if (strcmp(name, cli_type_name(t)) == 0)
            return t;
    return 0;
}

/* The library records no creation time or creator; the file's birth time is
 * the object's creation (its file is made with it, never replaced), where
 * the filesystem keeps one - tmpfs does since Linux 5.16 or so. */
static void birth_time(int fd, struct timespec *created)
{
    struct statx stx;
    created->tv_sec = -1;
    created->tv_nsec = 0;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) == 0 && (stx.stx_mask & STATX_BTIME)) {
        created->tv_sec = stx.stx_btime.tv_sec;
        created->tv_nsec = (long)stx.stx_btime.tv_nsec;
    }
}

void cli_print_created(FILE *f, const struct cli_object *obj, bool json)
{
    char text[64];
    struct tm tm;
    time_t t = obj->created.tv_sec;
    if (t == -1) {
        fputs(json ? "null" : "unknown (the filesystem keeps no creation time)", f);
    } else if (json) {
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", gmtime_r(&t, &tm));
        fprintf(f, "\"%s.%03ldZ\"", text, obj->created.tv_nsec / 1000000);
    } else {
        strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %Z", localtime_r(&t, &tm));
        fputs(text, f);
    }
}

/* Fills obj from its open file, proven the library's: name, type and size.
 * A file still being made may have no header yet: its type stays 0 and its
 * name unknown. */
static void describe(const struct iw_node *node, int fd, const char *file, const struct stat *st,
                     struct cli_object *obj)
{
    memset(obj, 0, sizeof *obj);
    strcpy(obj->file, file); /* a file name: shorter than IW_FILE_NAME_SIZE */
    obj->dev = st->st_dev;
    obj->ino = st->st_ino;
    birth_time(fd, &obj->created);
    bool hashed = file[0] == 'h';
    struct iw_file_header h;
    enum iw_mark mark = iw_mark_of(node, file, st);
    bool header = pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && iw_mark_header_ok(mark, &h);
    if (mark == IW_MARK_SYNC) {
        if (!header)
            return;
        obj->type = (enum iw_type)h.type;
    } else {
        if (hashed && !header)
            return;
        obj->type = IW_TYPE_SHM;
        obj->data_offset = hashed ? (off_t)node->page_size : 0;
        obj->size = st->st_size > obj->data_offset ? (uint64_t)(st->st_size - obj->data_offset) : 0;
    }
    if (hashed) {
        memcpy(obj->name, h.name, h.name_len);
        obj->name_len = h.name_len;
    } else if (!iw_name_decode(file, obj->name, &obj->name_len)) {
        obj->name_len = 0; /* "u-", "t-": unnamed */
    }
}

int cli_scan(struct iw_node *node, bool in_flight_too, cli_removed_fn *on_removed, void *ctx,
             struct cli_object **objs, size_t *n)
{
    *objs = NULL;
    *n = 0;
    int dfd = dup(node->dirfd);
    DIR *dir = dfd < 0 ? NULL : fdopendir(dfd);
    if (dir == NULL) {
        int err = errno;
        if (dfd >= 0)
            close(dfd);
        return err;
    }
    rewinddir(dir);
    size_t cap = 0;
    int err = 0;
    struct dirent *d;
    while (err == 0 && (d = readdir(dir)) != NULL) {
        bool in_flight = d->d_name[0] == 't';
        if (!iw_name_is_object_file(d->d_name) || (in_flight && !in_flight_too))
            continue;
        struct stat st;
        int fd = iw_mark_open(node, d->d_name, &st);
        if (fd < 0)
            continue; /* removed meanwhile, or not the library's */
        enum iw_reflock_state state = iw_reflock_probe(node, d->d_name, fd);
        struct cli_object obj;
        if (fstat(fd, &st) == 0) {
            describe(node, fd, d->d_name, &st, &obj);
            if (state == IW_REFLOCK_FREE && on_removed)
                on_removed(&obj, ctx);
            if (state == IW_REFLOCK_HELD && !in_flight && obj.type != 0) {
                if (*n == cap) {
                    cap = cap ? cap * 2 : 64;
                    struct cli_object *grown = realloc(*objs, cap * sizeof **objs);
                    if (grown == NULL)
                        err = ENOMEM;
                    else
                        *objs = grown;
                }
                if (err == 0)
                    (*objs)[(*n)++] = obj;
            }
        }
        close(fd); /* we took no lock on a held file; a stale one's write lock goes now */
    }
    closedir(dir);
    if (err) {
        cli_free_objects(*objs, *n);
        *objs = NULL;
        *n = 0;
    }
    return err;
}

void cli_free_objects(struct cli_object *objs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(objs[i].pids);
    free(objs);
}

/* How often a lookup looks again at an object that is held but has no
 * holder: its destroyer is unlinking it, or its holders all just died. */
#define LOOKUP_TRIES 200

int cli_lookup(struct iw_node *node, const char *name, size_t len, struct cli_object *obj, int *fd)
{
    struct iw_name parsed;
    if (len == 0 || iw_name_parse(name, &parsed) != ERROR_SUCCESS)
        return CLI_MISSING; /* no object can have that name ('\', too long) */
    for (int tries = 0; tries < LOOKUP_TRIES; tries++) {
        struct stat st;
        *fd = iw_mark_open(node, parsed.file, &st);
        if (*fd < 0)
            return errno == ENOENT ? CLI_MISSING : -errno; /* a file not the library's is no object */
        enum iw_reflock_state state = iw_reflock_probe(node, parsed.file, *fd);
        if (fstat(*fd, &st) != 0) {
            int err = errno;
            close(*fd);
            return -err;
        }
        describe(node, *fd, parsed.file, &st, obj);
        /* An "h-" file holds another name with the same SHA-256: not ours. */
        bool ours = obj->type != 0 && obj->name_len == len && memcmp(obj->name, name, len) == 0;
        if (state == IW_REFLOCK_FREE || !ours) {
            close(*fd);
            return state == IW_REFLOCK_FREE && ours ? CLI_REMOVED_STALE : CLI_MISSING;
        }
        int err = cli_count_holders(obj, 1);
        if (err == 0 && obj->holders > 0)
            return CLI_HELD;
        free(obj->pids);
        close(*fd);
        if (err)
            return -err;
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    return CLI_MISSING; /* it never settled: destroyed over and over, and made again */
}

int cli_lookup_operand(const struct cli_command *cmd, int argc, char **argv, struct cli_named *out)
{
    if (optind != argc - 1)
        cli_usage_error(cmd, optind == argc ? "NAME missing" : "one NAME only");
    struct iw_name parsed;
    if (!cli_parse_name(argv[optind], out->name, &out->len) || out->len == 0 ||
        iw_name_parse(out->name, &parsed) != ERROR_SUCCESS) /* e.g. \x5c: a '\' no name can hold */
        cli_usage_error(cmd, "bad NAME '%s': no object can have it (1 to 259 bytes, no '\\'; \\xNN for any "
                        "byte but NUL)", argv[optind]);
    if (cli_open_node(&out->node, out->path) != CLI_OK)
        return -CLI_FAILED;
    int found = cli_lookup(out->node, out->name, out->len, &out->obj, &out->fd);
    if (found < 0) {
        cli_error("cannot read the node at %s: %s", out->path, strerror(-found));
        return -CLI_FAILED;
    }
    if (found == CLI_MISSING)
        cli_report_missing(out);
    return found;
}

void cli_report_missing(const struct cli_named *named)
{
    fputs("iwin32: no object named ", stderr);
    cli_print_name(stderr, named->name, named->len);
    fputc('\n', stderr);
}
