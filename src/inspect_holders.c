/*
 * Who holds an object.  A holding process has a reference read lock on byte
 * 0 of the object's file (reflock.h): an OFD lock, which /proc/locks lists
 * as "OFDLCK ADVISORY READ -1 MAJ:MIN:INODE 0 0" whoever took it (the pid
 * is -1: an OFD lock belongs to an open file description, not a process).
 * So the count is exact (count_locks says how it is read exactly); a
 * process shows twice only for the instant a fork gives its child
 * descriptions of its own.  Which processes those are, /proc
 * does not say: the pids are those with a descriptor open on the file, from
 * /proc/<pid>/fd of every process this user may inspect.  A mutex owner's
 * process, likewise, is what /proc/TID/status says of its thread.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

static IWIN32_OBJECT_INFO *find(IWIN32_OBJECT_INFO **sorted, size_t n, dev_t dev, ino_t ino)
{
    IWIN32_OBJECT_INFO key = {.device = dev, .inode = ino}, *k = &key;
    IWIN32_OBJECT_INFO **hit = bsearch(&k, sorted, n, sizeof *sorted, by_file_id);
    return hit ? *hit : NULL;
}

/* One reading of /proc/locks: each object's read locks on byte 0, in
 * counts[i] for sorted[i]. */
static int read_locks(IWIN32_OBJECT_INFO **sorted, size_t n, uint32_t *counts)
{
    FILE *f = fopen("/proc/locks", "re");
    if (f == NULL)
        return errno;
    memset(counts, 0, n * sizeof *counts);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char kind[16], mode[16], access[16];
        unsigned maj, min;
        unsigned long long ino, start;
        /* "ID: -> ..." lines are waiters, not locks: their kind is "->". */
        if (sscanf(line, "%*d: %15s %15s %15s %*d %x:%x:%llu %llu", kind, mode, access, &maj, &min, &ino,
                   &start) != 7)
            continue;
        if (strcmp(kind, "OFDLCK") != 0 || strcmp(access, "READ") != 0 || start != 0)
            continue;
        IWIN32_OBJECT_INFO key = {.device = makedev(maj, min), .inode = (ino_t)ino}, *k = &key;
        IWIN32_OBJECT_INFO **hit = bsearch(&k, sorted, n, sizeof *sorted, by_file_id);
        if (hit)
            counts[hit - sorted]++;
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
 * counts 0 (inspect.c). */
#define READINGS 15

static int count_locks(IWIN32_OBJECT_INFO **sorted, size_t n)
{
    uint32_t *seen = malloc((n ? n : 1) * READINGS * sizeof *seen);
    if (seen == NULL)
        return ENOMEM;
    int err = 0, r;
    for (r = 0; r < READINGS; r++) {
        if ((err = read_locks(sorted, n, seen + (size_t)r * n)) != 0)
            break;
        if (r > 0 && memcmp(seen + (size_t)r * n, seen + (size_t)(r - 1) * n, n * sizeof *seen) == 0)
            break;
    }
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

/* One process's descriptors; those we may not see are skipped. */
static void scan_fds(IWIN32_OBJECT_INFO **sorted, size_t n, pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = dfd < 0 ? NULL : fdopendir(dfd);
    if (dir == NULL) {
        if (dfd >= 0)
            close(dfd);
        return;
    }
    struct dirent *d;
    while ((d = readdir(dir)) != NULL) {
        struct stat st;
        if (d->d_name[0] == '.' || fstatat(dfd, d->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
            continue;
        IWIN32_OBJECT_INFO *obj = find(sorted, n, st.st_dev, st.st_ino);
        if (obj)
            add_pid(obj, pid);
    }
    closedir(dir);
}

static void find_pids(IWIN32_OBJECT_INFO **sorted, size_t n)
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
        if (pid != self)
            scan_fds(sorted, n, pid);
    }
    closedir(proc);
}

int iw_inspect_count_holders(IWIN32_OBJECT_INFO *objs, size_t n)
{
    IWIN32_OBJECT_INFO **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (sorted == NULL)
        return ENOMEM;
    for (size_t i = 0; i < n; i++) {
        objs[i].holders = 0;
        free(objs[i].pids);
        objs[i].pids = NULL;
        objs[i].pidCount = 0;
        sorted[i] = &objs[i];
    }
    qsort(sorted, n, sizeof *sorted, by_file_id);
    int err = count_locks(sorted, n);
    if (err == 0)
        find_pids(sorted, n);
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
