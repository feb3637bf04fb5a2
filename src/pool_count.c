/*
 * The pool's exact count (pool_count.h).
 */
#include "pool_count.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "name.h"
#include "node_file.h"
#include "pool.h"
#include "records.h"

struct seen {
    ino_t ino;
    uint64_t pages;
    bool in_flight;             /* a "t-" file: an object being made */
    bool second;                /* seen by the second pass */
};

static int by_ino(const void *a, const void *b)
{
    ino_t x = ((const struct seen *)a)->ino, y = ((const struct seen *)b)->ino;
    return x < y ? -1 : x > y;
}

/* The list of what a scan saw: what the first pass saw, sorted by inode,
 * then what the second pass saw. */
struct scan {
    struct seen *list;
    size_t n, cap;
    size_t first;               /* entries of the first pass (sorted), once it is over */
};

static int append(struct scan *sc, struct seen entry)
{
    if (sc->n == sc->cap) {
        size_t ncap = sc->cap ? sc->cap * 2 : 256;
        struct seen *grown = realloc(sc->list, ncap * sizeof *sc->list);
        if (grown == NULL)
            return ENOMEM;
        sc->list = grown;
        sc->cap = ncap;
    }
    sc->list[sc->n++] = entry;
    return 0;
}

/* One file of a pass: appended if someone holds it (a stale one is
 * removed).  0, or the errno that makes the count fail. */
static int scan_file(struct iw_node *node, struct scan *sc, const struct dirent *d, bool second)
{
    /* The second pass takes what the first saw held, by inode number (the
     * name still there: not destroyed), without looking again: that halves
     * a recount's system calls. */
    struct seen key = {.ino = d->d_ino};
    const struct seen *known =
        second && sc->first > 0 ? bsearch(&key, sc->list, sc->first, sizeof key, by_ino) : NULL;
    if (known != NULL)
        return append(sc, (struct seen){known->ino, known->pages, d->d_name[0] == 't', true});
    struct stat st;
    enum iw_reflock_state state;
    int ofd = iw_node_file_look(node, d->d_name, &st, &state);
    if (ofd < 0)
        /* Out of descriptors or memory: the file may be a live object, and
         * a count without it would lower the word below what is really
         * used.  Otherwise removed meanwhile, or not the library's (mark.h):
         * neither counted nor removed. */
        return (errno == EMFILE || errno == ENFILE || errno == ENOMEM) ? errno : 0;
    int err = 0;
    if (state == IW_REFLOCK_HELD)
        err = append(sc, (struct seen){st.st_ino, iw_pool_pages_of(node, d->d_name, &st), d->d_name[0] == 't',
                                       second});
    close(ofd);
    return err;
}

/* One pass over the directory, appending what is held.  An object renamed
 * from its "t-" name to its final name during a pass can be missed by that
 * pass; it cannot be missed by both of two passes, since it is renamed once.
 *
 * A pass may take a while (thousands of files), and fork does not wait for
 * it: each file's descriptor - which may carry a write lock on a stale file
 * being removed - is open only inside a transit of its own, and the
 * directory's is parked (records.h).  The caller is not in transit. */
static int scan_pass(struct iw_node *node, struct scan *sc, bool second)
{
    /* A description of our own: a dup of dirfd would share its read
     * position with every thread, and with every process forked since the
     * node was opened, and two recounts at once would each see part of the
     * directory (and count too little). */
    iw_transit_begin();
    int fd = openat(node->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    int err = dir == NULL ? errno : 0;
    if (dir == NULL) {
        if (fd >= 0)
            close(fd);
        iw_transit_end();
        return err;
    }
    struct iw_parked parked;
    iw_transit_park(&parked, fd);
    rewinddir(dir);
    struct dirent *d;
    while (!err && (d = readdir(dir)) != NULL) {
        if (!iw_name_is_object_file(d->d_name))
            continue;
        iw_transit_begin();
        err = scan_file(node, sc, d, second);
        iw_transit_end();
    }
    iw_transit_unpark(&parked);
    closedir(dir);
    iw_transit_end();
    return err;
}

/* Counts every held object file (see struct iw_pool_count).  An inode both passes
 * saw was alive at the instant between them (a name is never given back to
 * an inode once unlinked, and the rename from "t-" keeps it named); one with
 * its final name in the first pass existed then.  Those make "stable": a
 * lower bound of what existed at that instant, however much churn there was
 * during the scan - whereas "live" can count an object destroyed during the
 * scan and the one made in its place. */
int iw_pool_count_live(struct iw_node *node, ino_t own, struct iw_pool_count *c)
{
    struct scan sc = {0};
    int err = scan_pass(node, &sc, false);
    if (!err) {
        sc.first = sc.n;
        if (sc.n > 1)
            qsort(sc.list, sc.n, sizeof *sc.list, by_ino);
        err = scan_pass(node, &sc, true);
    }
    struct seen *list = sc.list;
    size_t n = sc.n;
    if (!err) {
        if (n > 1)
            qsort(list, n, sizeof *list, by_ino);
        *c = (struct iw_pool_count){0};
        for (size_t i = 0, j; i < n; i = j) {
            bool in_flight = true, second = false, existed = false;
            for (j = i; j < n && list[j].ino == list[i].ino; j++) {
                in_flight = in_flight && list[j].in_flight; /* a final name seen: published */
                second = second || list[j].second;
                existed = existed || (!list[j].second && !list[j].in_flight);
            }
            uint64_t pages = list[i].pages;
            c->live += pages;
            c->in_flight += in_flight ? pages : 0;
            c->ahead += in_flight && list[i].ino < own ? pages : 0;
            c->stable += existed && second ? pages : 0;
        }
    }
    free(list);
    return err;
}
