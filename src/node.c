#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "last_error.h"
#include "reflock.h"

#define DEFAULT_POOL_MB 256u

static pthread_once_t node_once = PTHREAD_ONCE_INIT;
static DWORD node_error;
static struct iw_node the_node = {.dirfd = -1};

/* IWIN32_POOL_MB: a positive multiple of 4 (INtime's 4 MiB SegSize), never rounded. */
static DWORD pool_pages_from_env(size_t page_size, uint64_t *pages)
{
    const char *text = getenv("IWIN32_POOL_MB");
    uint64_t mb = DEFAULT_POOL_MB;
    if (text != NULL) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (errno || end == text || *end != '\0' || text[0] == '-' || text[0] == '+' ||
            v == 0 || v % 4 != 0 || v > (1ull << 30)) {
            fprintf(stderr, "iwin32: IWIN32_POOL_MB=\"%s\" is not a positive multiple of 4 (MiB)\n", text);
            return ERROR_INVALID_PARAMETER;
        }
        mb = v;
    }
    *pages = mb * 1024 * 1024 / page_size;
    return ERROR_SUCCESS;
}

static DWORD open_root(int *dirfd)
{
    char path[4096];
    const char *root = getenv("IWIN32_ROOT");
    if (root != NULL && root[0] != '\0') {
        if (root[0] != '/' || strlen(root) >= sizeof path) {
            fprintf(stderr, "iwin32: IWIN32_ROOT=\"%s\" is not an absolute path\n", root);
            return ERROR_INVALID_PARAMETER;
        }
        strcpy(path, root);
    } else {
        snprintf(path, sizeof path, "/dev/shm/iwin32-%u", (unsigned)geteuid());
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return errno == ENOENT ? ERROR_PATH_NOT_FOUND : iw_error_from_errno(errno);
    /* O_NOFOLLOW: a symlink planted at the node path is refused, never followed. */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return (errno == ELOOP || errno == ENOTDIR) ? ERROR_ACCESS_DENIED : iw_error_from_errno(errno);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & S_IRWXO) != 0) {
        close(fd);
        return ERROR_ACCESS_DENIED;
    }
    *dirfd = fd;
    return ERROR_SUCCESS;
}

static DWORD map_header(int fd, struct iw_node_header **out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return iw_error_from_errno(errno);
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
        return ERROR_ACCESS_DENIED;
    if ((size_t)st.st_size < sizeof(struct iw_node_header))
        return ERROR_ACCESS_DENIED;
    void *p = mmap(NULL, sizeof(struct iw_node_header), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return iw_error_from_errno(errno);
    struct iw_node_header *h = p;
    if (h->magic != IW_NODE_MAGIC || h->version != IW_NODE_VERSION) {
        munmap(p, sizeof *h);
        return ERROR_ACCESS_DENIED;
    }
    *out = h;
    return ERROR_SUCCESS;
}

/* ".node" appears complete or not at all: it is written under a temporary
 * "t-" name and renamed into place without replacing.  Of two processes
 * making a node at once, the second's rename fails and it uses the first's.
 * A process killed before the rename leaves a "t-" file that the pool's
 * recount reclaims, since the read lock that marked it in use died with it. */
static DWORD open_header(int dirfd, uint64_t pool_pages, struct iw_node_header **out)
{
    for (;;) {
        int fd = openat(dirfd, ".node", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            DWORD err = map_header(fd, out);
            close(fd);
            return err;
        }
        if (errno != ENOENT)
            return errno == ELOOP ? ERROR_ACCESS_DENIED : iw_error_from_errno(errno);

        char temp[IW_UNIQUE_NAME_SIZE];
        iw_node_unique_name(temp, "t-");
        fd = openat(dirfd, temp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return iw_error_from_errno(errno);
        iw_reflock_take_new(fd);
        struct iw_node_header h = {.magic = IW_NODE_MAGIC, .version = IW_NODE_VERSION,
                                   .pool_max_pages = pool_pages};
        DWORD err = ERROR_SUCCESS;
        if (pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
            err = iw_error_from_errno(errno);
        else if (renameat2(dirfd, temp, dirfd, ".node", RENAME_NOREPLACE) == 0)
            err = map_header(fd, out);
        else if (errno != EEXIST && errno != ENOENT)
            err = iw_error_from_errno(errno);
        else
            unlinkat(dirfd, temp, 0); /* lost the race: use the other process's node */
        close(fd);
        if (err != ERROR_SUCCESS || *out != NULL)
            return err;
    }
}

static void node_open(void)
{
    the_node.page_size = (size_t)sysconf(_SC_PAGESIZE);
    iw_node_reseed();
    uint64_t pool_pages = 0;
    struct iw_node_header *header = NULL;
    node_error = pool_pages_from_env(the_node.page_size, &pool_pages);
    if (node_error == ERROR_SUCCESS)
        node_error = open_root(&the_node.dirfd);
    if (node_error == ERROR_SUCCESS) {
        node_error = open_header(the_node.dirfd, pool_pages, &header);
        if (node_error != ERROR_SUCCESS)
            close(the_node.dirfd);
    }
    the_node.header = header;
}

DWORD iw_node_get(struct iw_node **out)
{
    /* pthread_once: every call passes here, and once done it is one load. */
    pthread_once(&node_once, node_open);
    *out = &the_node;
    return node_error;
}

/* Unique names come from a random per-process key and a counter: no system
 * call on the hot path.  A forked child draws a new key (iw_node_reseed);
 * callers create these files with O_EXCL and retry on the rare EEXIST. */
static uint64_t unique_key;
static _Atomic uint64_t unique_counter;

void iw_node_reseed(void)
{
    uint64_t key;
    if (getrandom(&key, sizeof key, GRND_NONBLOCK) != (ssize_t)sizeof key)
        key = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&key;
    unique_key = key;
}

void iw_node_unique_name(char *buf, const char *prefix)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t n = atomic_fetch_add_explicit(&unique_counter, 1, memory_order_relaxed);
    size_t len = strlen(prefix);
    memcpy(buf, prefix, len);
    for (int i = 0; i < 16; i++) {
        buf[len + i] = hex[unique_key >> (60 - 4 * i) & 15];
        buf[len + 16 + i] = hex[n >> (60 - 4 * i) & 15];
    }
    buf[len + 32] = '\0';
}
