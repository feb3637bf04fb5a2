#include "node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crash_point.h"
#include "last_error.h"
#include "mark.h"
#include "node_header.h"
#include "reflock.h"

#define DEFAULT_POOL_MB 256u

/* The node once opened (never freed), and an invalid IWIN32_ROOT or
 * IWIN32_POOL_MB, reported once on stderr and then the answer of every call.
 * Any other failure to open the node is tried again by the next call. */
static struct iw_node *_Atomic the_node;
static _Atomic DWORD settings_error;

/* IWIN32_POOL_MB: a positive multiple of 4 (INtime's 4 MiB SegSize), never rounded. */
static DWORD pool_pages_from_env(size_t page_size, uint64_t *pages)
{
    const char *text = getenv("IWIN32_POOL_MB");
    uint64_t mb = DEFAULT_POOL_MB;
    if (text != NULL) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        /* Digits only: strtoull would also take leading blanks and a sign. */
        if (errno || end == text || *end != '\0' || text[0] < '0' || text[0] > '9' || v == 0 || v % 4 != 0 || v > IW_POOL_MB_MAX) {
            fprintf(stderr, "iwin32: IWIN32_POOL_MB=\"%s\" is not a positive multiple of 4 (MiB)\n", text);
            return ERROR_INVALID_PARAMETER;
        }
        mb = v;
    }
    *pages = mb * 1024 * 1024 / page_size;
    return ERROR_SUCCESS;
}

/* O_NOFOLLOW guards only the last component of the node path (open_root),
 * and the kernel reads a trailing "/" or "/." as a last component "." that
 * follows a symlink before it: "link/" would be used through the link.  So
 * they go: "dir/" and "dir/." are "dir".  (A symlink before "/.." is an
 * inner component, followed like any other: the node is what it leads to.) */
static void trim_node_path(char *path)
{
    size_t n = strlen(path);
    for (;;) {
        while (n > 1 && path[n - 1] == '/')
            n--;
        if (n >= 2 && path[n - 1] == '.' && path[n - 2] == '/')
            n--; /* "x/." -> "x/", whose slash goes next */
        else
            break;
    }
    path[n] = '\0';
}

DWORD iw_node_path(char path[IW_NODE_PATH_SIZE])
{
    const char *root = getenv("IWIN32_ROOT");
    if (root != NULL && root[0] != '\0') {
        if (root[0] != '/' || strlen(root) >= IW_NODE_PATH_SIZE) {
            fprintf(stderr, "iwin32: IWIN32_ROOT=\"%.200s\" is not an absolute path of fewer than %d bytes\n", root,
                    IW_NODE_PATH_SIZE);
            return ERROR_INVALID_PARAMETER;
        }
        strcpy(path, root);
        trim_node_path(path);
    } else {
        snprintf(path, IW_NODE_PATH_SIZE, "/dev/shm/iwin32-%u", (unsigned)geteuid());
    }
    return ERROR_SUCCESS;
}

/* Why a node path is refused, said on stderr once per process (every call
 * is refused the same way, and a log should not fill with it). */
static void say_refused(const char *path, const char *why)
{
    static atomic_flag said = ATOMIC_FLAG_INIT;
    if (!atomic_flag_test_and_set(&said))
        fprintf(stderr, "iwin32: %s is not a node: %s; refused (ERROR_ACCESS_DENIED)\n", path, why);
}

/*
 * Which directories are nodes, and who may use them.  The node path is never
 * followed through a symlink and a directory that does not fit is refused
 * with ERROR_ACCESS_DENIED, never repaired.  A node directory is either
 *
 *  - private: owned by the caller, no write access for its group, no access
 *    at all for others.  A fresh node is made so (0700).  Files are 0600.
 *
 *  - group-shared: mode exactly 2770 (setgid; owner and group rwx; nothing
 *    for others; no sticky bit, since a member must be able to remove what
 *    another member made), owned by the caller, or by root with the caller
 *    in the directory's group (as its effective or a supplementary group).
 *    Files are 0660 and, by the setgid bit, of the directory's group.  This
 *    is how a real-time process and a GUI running as different users share
 *    one node: an administrator makes the directory
 *        install -d -o root -g GROUP -m 2770 /dev/shm/NODE
 *    and both users, members of GROUP, set IWIN32_ROOT=/dev/shm/NODE.
 *
 * Group members are trusted with the node: any of them can read, change and
 * remove every object, fill the pool, or plant files in the directory (the
 * library opens only regular files, never through a symlink, but it trusts
 * their contents).  The owner must be root or the caller because the owner
 * can change the directory's mode at will: a member who made a directory at
 * a path another user meant as a private node, and shaped it like a shared
 * one, would otherwise be handed everything put in it.  Others - users
 * outside the group - cannot even open the directory.
 */
static bool in_group(gid_t gid)
{
    if (gid == getegid())
        return true;
    int n = getgroups(0, NULL);
    gid_t *groups = n > 0 ? malloc((size_t)n * sizeof *groups) : NULL;
    if (groups == NULL)
        return false;
    n = getgroups(n, groups);
    bool found = false;
    for (int i = 0; i < n && !found; i++)
        found = groups[i] == gid;
    free(groups);
    return found;
}

/* The mode of the node's files, or 0 if the directory is no node for us. */
static mode_t file_mode_for(const struct stat *dir)
{
    uid_t me = geteuid();
    if (!S_ISDIR(dir->st_mode))
        return 0;
    if ((dir->st_mode & 07777) == 02770 &&
        (dir->st_uid == me || (dir->st_uid == 0 && in_group(dir->st_gid))))
        return 0660;
    if (dir->st_uid == me && (dir->st_mode & (S_IWGRP | S_IRWXO)) == 0)
        return 0600;
    return 0;
}

/* Before the node's mark is looked at: may this user use this directory? */
static DWORD open_root(const char *path, int *dirfd, struct stat *st, mode_t *file_mode)
{
    bool made = mkdir(path, 0700) == 0;
    if (!made && errno != EEXIST)
        return errno == ENOENT ? ERROR_PATH_NOT_FOUND : iw_error_from_errno(errno);
    if (made)
        IW_CRASH_POINT("node.dir_made");
    /* O_NOFOLLOW: a symlink planted at the node path is refused, never followed. */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
        say_refused(path, "a symlink, or not a directory");
        return ERROR_ACCESS_DENIED;
    }
    if (fd < 0)
        return iw_error_from_errno(errno);
    if (fstat(fd, st) != 0) {
        close(fd);
        return iw_error_from_errno(errno);
    }
    /* The umask may have taken bits off a directory we just made (0500
     * would keep even us from making files in it). */
    if (made && st->st_uid == geteuid() && (st->st_mode & 07777) != 0700 && fchmod(fd, 0700) == 0)
        st->st_mode = (st->st_mode & ~(mode_t)07777) | 0700;
    *file_mode = file_mode_for(st);
    if (*file_mode == 0) {
        close(fd);
        say_refused(path, "another user's directory, or open to others (see node.c for the modes a node may have)");
        return ERROR_ACCESS_DENIED;
    }
    *dirfd = fd;
    return ERROR_SUCCESS;
}

/* ".node" must carry the library's mark (mark.h): a regular file made by
 * the caller or, in a group-shared node, by a member (the directory's
 * setgid bit gave it the group), with the mark's mode, which the library
 * sets before the file gets its name.  Only then are its contents checked,
 * and rebuilt if damaged, by node_header.c: a user's own file that happens
 * to be called ".node" (IWIN32_ROOT pointed at one of their directories)
 * is refused, never rebuilt over (SPEC 8). */
static DWORD map_header(struct iw_node *node, int fd, uint64_t pool_pages)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return iw_error_from_errno(errno);
    if (iw_mark_of(node, ".node", &st) != IW_MARK_SHM)
        return ERROR_ACCESS_DENIED;
    return iw_node_header_map(node, fd, pool_pages);
}

/*
 * SPEC 8: a directory without ".node" (the library's mark) becomes a node
 * only if it is empty - as a directory the library just made, or an
 * administrator made for it, is.  Anything else is someone's directory
 * (IWIN32_ROOT pointed at a home directory by mistake): refused with
 * ERROR_ACCESS_DENIED and never written to.  Two exceptions keep a process
 * killed while making the node from leaving a directory refused forever:
 * the "t-" file of a .node being made (proven the library's: mark.h) does
 * not count, so the next process makes the node; and ".node" seen here means
 * another process made the node since our look (ERROR_ALREADY_EXISTS: use
 * it).  An object file seen implies ".node" seen: objects are only made
 * after .node, which is never removed, and a directory scan returns every
 * entry that stays for the whole scan.
 */
static DWORD may_become_node(const struct iw_node *node, const char *path)
{
    int fd = openat(node->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    if (dir == NULL) {
        DWORD err = iw_error_from_errno(errno);
        if (fd >= 0)
            close(fd);
        return err;
    }
    char foreign[NAME_MAX + 1] = "";
    bool marked = false;
    struct dirent *d;
    while ((d = readdir(dir)) != NULL) {
        const char *name = d->d_name;
        struct stat st;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (strcmp(name, ".node") == 0)
            marked = true;
        else if (strncmp(name, "t-", 2) == 0 && fstatat(node->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* gone: renamed to .node, or removed */
        else if (strncmp(name, "t-", 2) != 0 || iw_mark_of(node, name, &st) == IW_MARK_NONE)
            snprintf(foreign, sizeof foreign, "%s", name);
    }
    closedir(dir);
    if (marked)
        return ERROR_ALREADY_EXISTS;
    if (foreign[0] != '\0') {
        char why[NAME_MAX + 80];
        snprintf(why, sizeof why, "it has no .node (the library's mark) and is not empty (it holds \"%s\")", foreign);
        say_refused(path, why);
        return ERROR_ACCESS_DENIED;
    }
    return ERROR_SUCCESS;
}

/* ".node" appears complete or not at all: it is written under a temporary
 * "t-" name and renamed into place without replacing.  Of two processes
 * making a node at once, the second's rename fails and it uses the first's.
 * A process killed before the rename leaves a "t-" file that the pool's
 * recount reclaims, since the read lock that marked it in use died with it.
 * Only a directory that may become a node gets one (may_become_node). */
static DWORD open_header(struct iw_node *node, uint64_t pool_pages, const char *path)
{
    int dirfd = node->dirfd;
    mode_t mode = iw_mark_mode(node, false);
    for (;;) {
        int fd = openat(dirfd, ".node", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            DWORD err = map_header(node, fd, pool_pages);
            close(fd);
            if (err == ERROR_ACCESS_DENIED)
                say_refused(path, "its .node is not one this version of the library made (another version's, "
                                  "another user's, or not the library's): if no program of another version uses it, remove the "
                                  "directory and it is made afresh");
            return err;
        }
        if (errno != ENOENT)
            return (errno == ELOOP || errno == EISDIR) ? ERROR_ACCESS_DENIED : iw_error_from_errno(errno);
        DWORD err = may_become_node(node, path);
        if (err == ERROR_ALREADY_EXISTS)
            continue; /* another process made it meanwhile */
        if (err != ERROR_SUCCESS)
            return err;

        char temp[IW_UNIQUE_NAME_SIZE];
        iw_node_unique_name(temp, "t-");
        fd = openat(dirfd, temp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
            return iw_error_from_errno(errno);
        IW_CRASH_POINT("node.temp_opened");
        iw_reflock_take_new(fd);
        struct iw_node_header h = {.magic = IW_NODE_MAGIC, .version = IW_NODE_VERSION,
                                   .pool_max_pages = pool_pages};
        /* fchmod: the umask may have taken bits off (a member's g+rw). */
        if (fchmod(fd, mode) != 0 || pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
            err = iw_error_from_errno(errno);
        } else {
            IW_CRASH_POINT("node.temp_written");
            if (renameat2(dirfd, temp, dirfd, ".node", RENAME_NOREPLACE) == 0)
                err = map_header(node, fd, pool_pages);
            else if (errno != EEXIST && errno != ENOENT)
                err = iw_error_from_errno(errno);
        }
        if (err != ERROR_SUCCESS || node->header == NULL)
            unlinkat(dirfd, temp, 0); /* failed, or lost the race: use the other process's node */
        close(fd);
        if (err != ERROR_SUCCESS || node->header != NULL)
            return err;
    }
}

/* Opens the node afresh; of threads doing so at once, one publishes its
 * node and the others let theirs go.  (A lock here could be held across a
 * fork by another thread, and the child would never get past it.) */
static DWORD node_open(struct iw_node **out)
{
    DWORD err = atomic_load(&settings_error);
    if (err != ERROR_SUCCESS)
        return err;
    struct iw_node *node = calloc(1, sizeof *node);
    if (node == NULL)
        return ERROR_NOT_ENOUGH_MEMORY;
    node->page_size = (size_t)sysconf(_SC_PAGESIZE);
    iw_node_reseed();
    uint64_t pool_pages = 0;
    char path[IW_NODE_PATH_SIZE];
    err = pool_pages_from_env(node->page_size, &pool_pages);
    if (err == ERROR_SUCCESS)
        err = iw_node_path(path);
    if (err != ERROR_SUCCESS) {
        atomic_store(&settings_error, err);
        free(node);
        return err;
    }
    struct stat dir;
    err = open_root(path, &node->dirfd, &dir, &node->file_mode);
    if (err == ERROR_SUCCESS) {
        node->uid = geteuid();
        node->gid = dir.st_gid;
        err = open_header(node, pool_pages, path);
        if (err != ERROR_SUCCESS)
            close(node->dirfd);
    }
    if (err != ERROR_SUCCESS) {
        free(node);
        return err;
    }
    struct iw_node *first = NULL;
    if (!atomic_compare_exchange_strong(&the_node, &first, node)) {
        iw_node_header_unmap(node);
        close(node->dirfd);
        free(node);
        node = first;
    }
    *out = node;
    return ERROR_SUCCESS;
}

DWORD iw_node_get(struct iw_node **out)
{
    /* Every call passes here: once the node is open, one load. */
    *out = atomic_load_explicit(&the_node, memory_order_acquire);
    if (*out != NULL)
        return ERROR_SUCCESS;
    return node_open(out);
}

/* A node removed under a running process (rm -rf, systemd-logind's
 * RemoveIPC=yes at logout) is noticed by the next call that opens, makes or
 * counts objects: the directory we hold has no link left.  The process then
 * fails every such call with ERROR_PATH_NOT_FOUND, said once on stderr,
 * rather than move to a fresh node at the same path: it still holds objects
 * of the old one (its records answer an Open of their names without a look
 * at the directory), and a second process on the fresh node would get
 * another object under the same name.  Its handles keep working until
 * closed.  A node renamed rather than removed still has its links, and its
 * processes keep using it. */
static _Atomic bool node_removed;

DWORD iw_node_present(struct iw_node *node)
{
    struct stat st;
    if (!atomic_load_explicit(&node_removed, memory_order_relaxed)) {
        if (fstat(node->dirfd, &st) != 0 || st.st_nlink > 0)
            return ERROR_SUCCESS;
        if (!atomic_exchange(&node_removed, true)) {
            char path[IW_NODE_PATH_SIZE];
            if (iw_node_path(path) == ERROR_SUCCESS)
                fprintf(stderr, "iwin32: the node %s was removed while in use; this process can no longer open "
                        "or create objects (ERROR_PATH_NOT_FOUND): restart it\n", path);
        }
    }
    return ERROR_PATH_NOT_FOUND;
}

/* Unique names come from a random per-process key and a counter: no system
 * call on the hot path.  A forked child draws a new key (iw_node_reseed);
 * callers create these files with O_EXCL and retry on the rare EEXIST. */
static _Atomic uint64_t unique_key;     /* atomic: threads opening the node at once each draw one */
static _Atomic uint64_t unique_counter;

void iw_node_reseed(void)
{
    uint64_t key;
    if (getrandom(&key, sizeof key, GRND_NONBLOCK) != (ssize_t)sizeof key)
        key = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&key;
    atomic_store_explicit(&unique_key, key, memory_order_relaxed);
}

void iw_node_unique_name(char *buf, const char *prefix)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t n = atomic_fetch_add_explicit(&unique_counter, 1, memory_order_relaxed);
    uint64_t key = atomic_load_explicit(&unique_key, memory_order_relaxed);
    size_t len = strlen(prefix);
    memcpy(buf, prefix, len);
    for (int i = 0; i < 16; i++) {
        buf[len + i] = hex[key >> (60 - 4 * i) & 15];
        buf[len + 16 + i] = hex[n >> (60 - 4 * i) & 15];
    }
    buf[len + 32] = '\0';
}
