/*
 * Who holds an object.  A holding process has a reference read lock on byte
 * 0 of the object's file (reflock.h): an OFD lock, which the kernel shows in
 * two places, and the count takes each where it is exact.
 *
 *   - /proc/PID/fdinfo/FD lists the locks of that open file description:
 *     one small file, read at once, so exact.  It shows only the processes
 *     this one may inspect (its user's; as root, all but the non-dumpable
 *     ones it may not trace, such as pid 1 on some machines), in its pid
 *     namespace, and as they were when each was read.  A process counts
 *     once per object, however many descriptors it has on the file.
 *   - /proc/locks lists every OFD lock on the machine, whoever took it (as
 *     "OFDLCK ADVISORY READ -1 MAJ:MIN:INODE 0 0": the pid is -1, an OFD
 *     lock belongs to a description), but it is no snapshot (count_locks).
 *
 * So when the machine is quiet (/proc/locks read twice the same at once) an
 * object's count is what /proc/locks says, and never fewer than the holders
 * seen; under lock churn elsewhere it is the holders seen, or what the
 * readings of /proc/locks say most often if none is seen - an object only
 * processes out of sight hold (another user's, a non-dumpable one, another
 * pid namespace's) is still counted.  What stays possible: under churn, an
 * object held by processes in sight and out of it counts those in sight.  A
 * process shows twice for the instant a fork gives its child descriptions
 * of its own.  The pids listed are those with a descriptor open on the
 * file.  A mutex owner's process, likewise, is what /proc/TID/status says
 * of its thread.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "inspect.h"

static int by_file_id(const void *a, const void *b)
{
    const IWIN32_OBJECT_INFO *x = *(IWIN32_OBJECT_INFO *const *)a, *y = *(IWIN32_OBJECT_INFO *const *)b;
    if (x->device != y->device)
        return x->device < y->device ? -1 : 1;
    return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* The index in sorted of the object with that file, or -1. */
static ptrdiff_t find(IWIN32_OBJECT_INFO **sorted, size_t n, dev_t dev, ino_t ino)
{
    IWIN32_OBJECT_INFO key = {.device = dev, .inode = ino}, *k = &key;
    IWIN32_OBJECT_INFO **hit = bsearch(&k, sorted, n, sizeof *sorted, by_file_id);
    return hit ? hit - sorted : -1;
}

/* One reading of /proc/locks: each object's read locks on byte 0, in
 * counts[i] for sorted[i], and in *digest an FNV-1a hash of all of it. */
static int read_locks(IWIN32_OBJECT_INFO **sorted, size_t n, uint32_t *counts, uint64_t *digest)
{
    FILE *f = fopen("/proc/locks", "re");
    if (f == NULL)
        return errno;
    memset(counts, 0, n * sizeof *counts);
    *digest = 14695981039346656037u;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        for (const char *c = line; *c; c++)
            *digest = (*digest ^ (unsigned char)*c) * 1099511628211u;
        char kind[16], mode[16], access[16];
        unsigned maj, min;
        unsigned long long ino, start;
        /* "ID: -> ..." lines are waiters, not locks: their kind is "->". */
        if (sscanf(line, "%*d: %15s %15s %15s %*d %x:%x:%llu %llu", kind, mode, access, &maj, &min, &ino,
                   &start) != 7)
            continue;
        if (strcmp(kind, "OFDLCK") != 0 || strcmp(access, "READ") != 0 || start != 0)
            continue;
        ptrdiff_t i = find(sorted, n, makedev(maj, min), (ino_t)ino);
        if (i >= 0)
            counts[i]++;
    }
    fclose(f);
    return 0;
}

/* /proc/locks is no snapshot: the kernel makes it a page per read(), each
 * page from the entry number the last one ended at, so locks taken or
 * dropped anywhere on the machine meanwhile shift it, and a reader skips
 * entries or reads some twice (a listing under lock churn elsewhere counted
 * 0 holders for held objects: test_inspect).  So it is read until two
 * readings agree on every object - at once when the machine is quiet -
 * and, failing that after READINGS, each object takes the count most
 * readings gave it.  iwin32InspectList makes sure a held object never
 * counts 0 (inspect.c).  Quiet means the first two readings are the same
 * text, not only the same counts: a lock taken elsewhere goes in ahead of
 * older ones, so while locks are being taken each page starts a little
 * back and ours, old, can be read twice in reading after reading - two
 * readings agreed on 2 for each of 9 objects held once
 * (test_counts_under_lock_churn). */
#define READINGS 15

static int count_locks(IWIN32_OBJECT_INFO **sorted, size_t n, bool *quiet)
{
    uint32_t *seen = malloc((n ? n : 1) * READINGS * sizeof *seen);
    if (seen == NULL)
        return ENOMEM;
    int err = 0, r;
    uint64_t digest[2] = {0, 0};
    for (r = 0; r < READINGS; r++) {
        if ((err = read_locks(sorted, n, seen + (size_t)r * n, &digest[r > 0])) != 0)
            break;
        if (r > 0 && memcmp(seen + (size_t)r * n, seen + (size_t)(r - 1) * n, n * sizeof *seen) == 0)
            break;
    }
    *quiet = r == 1 && digest[0] == digest[1];
    for (size_t i = 0; err == 0 && i < n; i++) {
        uint32_t best = 0, best_votes = 0;
        for (int a = 0; a < (r < READINGS ? r + 1 : READINGS); a++) {
            uint32_t votes = 0;
            for (int b = 0; b < (r < READINGS ? r + 1 : READINGS); b++)
                votes += seen[(size_t)b * n + i] == seen[(size_t)a * n + i];
            if (votes > best_votes) {
                best = seen[(size_t)a * n + i];
                best_votes = votes;
            }
        }
        sorted[i]->holders = best;
    }
    free(seen);
    return err;
}

static void add_pid(IWIN32_OBJECT_INFO *obj, pid_t pid)
{
    if (obj->pidCount > 0 && obj->pids[obj->pidCount - 1] == pid)
        return; /* another descriptor of the same process */
    int32_t *grown = realloc(obj->pids, (obj->pidCount + 1) * sizeof *grown);
    if (grown == NULL)
        return; /* the list is best effort; the holder count is what counts */
    grown[obj->pidCount++] = pid;
    obj->pids = grown;
}

/* The scan of the processes' descriptors: for each object (by its index
 * in sorted) its visible holders, and the last process counted. */
struct fd_scan {
    IWIN32_OBJECT_INFO **sorted;
    size_t n;
    uint32_t *holders;
    pid_t *last_holder;
};

/* The description behind /proc/PID/fd/FD has its reference read lock on
 * byte 0: a line "lock:\t1: OFDLCK ADVISORY  READ -1 MAJ:MIN:INODE 0 0". */
static bool holds_read_lock(int fdinfo_dir, const char *fd)
{
    FILE *f = NULL;
    int info = openat(fdinfo_dir, fd, O_RDONLY | O_CLOEXEC);
    if (info >= 0 && (f = fdopen(info, "re")) == NULL)
        close(info);
    bool held = false;
    char line[256];
    while (f && !held && fgets(line, sizeof line, f)) {
        char kind[16], access[16];
        unsigned long long start;
        held = sscanf(line, "lock: %*d: %15s %*s %15s %*d %*s %llu", kind, access, &start) == 3 &&
               strcmp(kind, "OFDLCK") == 0 && strcmp(access, "READ") == 0 && start == 0;
    }
    if (f)
        fclose(f);
    return held;
}

/* One process's descriptors; those we may not see are skipped. */
static void scan_fds(struct fd_scan *s, pid_t pid, bool self)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/fdinfo", (int)pid);
    int infodir = dfd < 0 ? -1 : open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = infodir < 0 ? NULL : fdopendir(dfd);
    if (dir == NULL) {
        if (dfd >= 0)
            close(dfd);
        if (infodir >= 0)
            close(infodir);
        return;
    }
    struct dirent *d;
    while ((d = readdir(dir)) != NULL) {
        struct stat st;
        if (d->d_name[0] == '.' || fstatat(dfd, d->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
            continue;
        ptrdiff_t i = find(s->sorted, s->n, st.st_dev, st.st_ino);
        if (i < 0)
            continue;
        /* This process's own unlocked descriptors (the scan's) make it no
         * holder to list. */
        if (!self)
            add_pid(s->sorted[i], pid);
        if (s->last_holder[i] != pid && holds_read_lock(infodir, d->d_name)) {
            s->holders[i]++;
            s->last_holder[i] = pid;
        }
    }
    closedir(dir);
    close(infodir);
}

static void find_holders(struct fd_scan *s)
{
    DIR *proc = opendir("/proc");
    if (proc == NULL)
        return;
    pid_t self = getpid();
    struct dirent *d;
    while ((d = readdir(proc)) != NULL) {
        if (!isdigit((unsigned char)d->d_name[0]))
            continue;
        pid_t pid = (pid_t)strtol(d->d_name, NULL, 10);
        scan_fds(s, pid, pid == self);
    }
    closedir(proc);
}

int iw_inspect_count_holders(IWIN32_OBJECT_INFO *objs, size_t n)
{
    size_t slots = n ? n : 1;
    IWIN32_OBJECT_INFO **sorted = malloc(slots * sizeof *sorted);
    struct fd_scan scan = {.sorted = sorted, .n = n, .holders = calloc(slots, sizeof *scan.holders),
                           .last_holder = calloc(slots, sizeof *scan.last_holder)};
    int err = sorted && scan.holders && scan.last_holder ? 0 : ENOMEM;
    for (size_t i = 0; err == 0 && i < n; i++) {
        objs[i].holders = 0;
        free(objs[i].pids);
        objs[i].pids = NULL;
        objs[i].pidCount = 0;
        sorted[i] = &objs[i];
    }
    bool quiet = false;
    if (err == 0) {
        qsort(sorted, n, sizeof *sorted, by_file_id);
        err = count_locks(sorted, n, &quiet);
    }
    if (err == 0) {
        find_holders(&scan);
        for (size_t i = 0; i < n; i++) {
            uint32_t seen = scan.holders[i];
            if (seen > sorted[i]->holders || (!quiet && seen > 0))
                sorted[i]->holders = seen;
        }
    }
    free(scan.holders);
    free(scan.last_holder);
    free(sorted);
    return err;
}

pid_t iw_inspect_thread_group(pid_t tid)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
    FILE *f = fopen(path, "re");
    pid_t pid = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Tgid: %d", &pid) == 1)
            break;
    if (f)
        fclose(f);
    return pid;
}
