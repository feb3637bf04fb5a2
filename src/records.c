/*
 * This process's records of objects (struct iw_object), by file name, with
 * the process lock that guards them and the handle table, and how they
 * survive fork (the order of fork's steps and the lock order: fork.c).
 */
#include "records.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "node.h"
#include "reflock.h"

static pthread_mutex_t process_mutex = PTHREAD_MUTEX_INITIALIZER;

void iw_records_lock(void) { pthread_mutex_lock(&process_mutex); }
void iw_records_unlock(void) { pthread_mutex_unlock(&process_mutex); }

/* ---- the records of this process, by file name ------------------------ */

static struct iw_object **buckets;
static size_t nbuckets, nobjects;

static size_t bucket_of(const char *file, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)file; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return (size_t)h & (n - 1);
}

struct iw_object *iw_records_find(const char *file)
{
    if (nbuckets == 0)
        return NULL;
    for (struct iw_object *o = buckets[bucket_of(file, nbuckets)]; o; o = o->next)
        if (strcmp(o->file, file) == 0)
            return o;
    return NULL;
}

bool iw_records_insert(struct iw_object *obj)
{
    if (nobjects >= nbuckets) {
        size_t n = nbuckets ? nbuckets * 2 : 64;
        struct iw_object **fresh = calloc(n, sizeof *fresh);
        if (fresh != NULL) {
            for (size_t i = 0; i < nbuckets; i++)
                for (struct iw_object *o = buckets[i], *next; o; o = next) {
                    next = o->next;
                    size_t b = bucket_of(o->file, n);
                    o->next = fresh[b];
                    fresh[b] = o;
                }
            free(buckets);
            buckets = fresh;
            nbuckets = n;
        } else if (nbuckets == 0) {
            return false;
        }
    }
    size_t b = bucket_of(obj->file, nbuckets);
    obj->next = buckets[b];
    buckets[b] = obj;
    nobjects++;
    return true;
}

void iw_records_remove(struct iw_object *obj)
{
    for (struct iw_object **link = &buckets[bucket_of(obj->file, nbuckets)]; *link; link = &(*link)->next)
        if (*link == obj) {
            *link = obj->next;
            nobjects--;
            return;
        }
}

static int node_dirfd(void)
{
    struct iw_node *node;
    iw_node_get(&node);
    return node->dirfd;
}

/* ---- fork: the child holds references of its own ----------------------- */

/* OFD locks belong to open file descriptions, which fork shares: a child
 * using the parent's descriptions would hold nothing of its own, and the
 * parent's last close would destroy objects the child still uses.  So before
 * fork every record gets a second description (through /proc/self/fd, which
 * works even for an object whose name is gone) with its own read lock; the
 * child keeps those, the parent closes them.  The parent holds its own lock
 * throughout, so no object is unheld at any instant.
 *
 * That takes one descriptor per object for the moment of the fork, and a
 * process near its soft RLIMIT_NOFILE may not have them: the soft limit is
 * raised toward the hard one for the prepare handler and restored in parent
 * and child (which may then hold more descriptors than its soft limit; its
 * next opens fail until it closes some).  An object that still gets no
 * description of its own - the hard limit reached, or ENFILE - stays on the
 * one description both processes now share, and both mark their record
 * shared: neither ever destroys through it (let_go only closes it), so
 * nothing either one still holds is destroyed by the other's close.  When
 * both have let go, the object is unheld and stale, and the next Open,
 * Create or recount that meets it removes it (SPEC 4's laziness). */
static struct rlimit nofile_before;
static bool nofile_raised;

static void raise_nofile(void)
{
    nofile_raised = false;
    if (nobjects == 0 || getrlimit(RLIMIT_NOFILE, &nofile_before) != 0)
        return;
    /* Enough for every object's second description and the child's
     * member slot, beyond the descriptors in use now (at most the soft
     * limit). */
    rlim_t want = nofile_before.rlim_cur + (rlim_t)nobjects + 16;
    struct rlimit raised = nofile_before;
    raised.rlim_cur = want < nofile_before.rlim_max ? want : nofile_before.rlim_max;
    if (raised.rlim_cur > nofile_before.rlim_cur)
        nofile_raised = setrlimit(RLIMIT_NOFILE, &raised) == 0;
}

static void restore_nofile(void)
{
    if (nofile_raised)
        setrlimit(RLIMIT_NOFILE, &nofile_before);
    nofile_raised = false;
}

void iw_records_fork_prepare(void)
{
    iw_records_lock();
    /* Before the child's member slot is claimed (fork.c), which needs a
     * descriptor too: a process at its soft limit would fork a child
     * without a slot, blind (members.c) - for good, if it dies so. */
    raise_nofile();
}

void iw_records_fork_own(void)
{
    for (size_t i = 0; i < nbuckets; i++)
        for (struct iw_object *o = buckets[i]; o; o = o->next) {
            char path[64];
            snprintf(path, sizeof path, "/proc/self/fd/%d", o->fd);
            o->fork_fd = open(path, O_RDWR | O_CLOEXEC);
            if (o->fork_fd < 0) /* no /proc: by name, which is stable while we hold it */
                o->fork_fd = openat(node_dirfd(), o->file, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
            if (o->fork_fd >= 0 && iw_reflock_take_new(o->fork_fd) != 0) {
                close(o->fork_fd);
                o->fork_fd = -1;
            }
            if (o->fork_fd < 0)
                o->shared = true; /* in parent and child alike */
        }
}

void iw_records_fork_parent(void)
{
    for (size_t i = 0; i < nbuckets; i++)
        for (struct iw_object *o = buckets[i]; o; o = o->next)
            if (o->fork_fd >= 0) {
                close(o->fork_fd);
                o->fork_fd = -1;
            }
    restore_nofile();
    iw_records_unlock();
}

void iw_records_fork_child(void)
{
    for (size_t i = 0; i < nbuckets; i++)
        for (struct iw_object *o = buckets[i]; o; o = o->next) {
            if (o->fork_fd >= 0) {
                close(o->fd);
                o->fd = o->fork_fd;
                o->fork_fd = -1;
                o->shared = false; /* its own now, whatever the parent's was */
            }
            if (o->ops->forked)
                o->ops->forked(o);
        }
    restore_nofile();
    /* The forking thread took it in prepare and is the child's only
     * thread: it lets go of it as the parent does. */
    iw_records_unlock();
}
