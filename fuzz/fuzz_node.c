#include "fuzz_node.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <unistd.h>

#include "name.h"

static char base_dir[128];
static char root_dir[160];
static pid_t owner_pid;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_base(void)
{
    if (getpid() == owner_pid)
        nftw(base_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void fz_node_setup(const char *harness, unsigned pool_mb)
{
    snprintf(base_dir, sizeof base_dir, "/dev/shm/iwin32-fuzz-%s-XXXXXX", harness);
    if (mkdtemp(base_dir) == NULL) {
        fprintf(stderr, "fuzz: mkdtemp %s: %s\n", base_dir, strerror(errno));
        abort();
    }
    snprintf(root_dir, sizeof root_dir, "%s/node", base_dir);
    owner_pid = getpid();
    atexit(remove_base);
    setenv("IWIN32_ROOT", root_dir, 1);
    if (pool_mb != 0) {
        char mb[16];
        snprintf(mb, sizeof mb, "%u", pool_mb);
        setenv("IWIN32_POOL_MB", mb, 1);
    } else {
        unsetenv("IWIN32_POOL_MB");
    }
}

int fz_node_objects(char *only)
{
    /* The base holds the node and nothing else: a name that escaped the
     * node directory ("../x") would show up here. */
    DIR *base = opendir(base_dir);
    FZ_CHECK(base != NULL, "%s: %s", base_dir, strerror(errno));
    for (struct dirent *e; (e = readdir(base)) != NULL;)
        FZ_CHECK(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
                     strcmp(e->d_name, "node") == 0,
                 "%s/%s is outside the node", base_dir, e->d_name);
    closedir(base);

    DIR *node = opendir(root_dir);
    if (node == NULL) /* no call has made the node yet */
        return 0;
    int count = 0;
    only[0] = '\0';
    /* Everything but the settings file is an object (or one being made). */
    for (struct dirent *e; (e = readdir(node)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, ".node") == 0)
            continue;
        if (count++ == 0)
            snprintf(only, IW_FILE_NAME_SIZE, "%s", e->d_name);
    }
    closedir(node);
    if (count != 1)
        only[0] = '\0';
    return count;
}

void fz_check_node_empty(void)
{
    char file[IW_FILE_NAME_SIZE];
    int left = fz_node_objects(file);
    FZ_CHECK(left == 0, "%d object file(s) left in %s after closing everything", left, root_dir);
    uint64_t size = 0, used = 1;
    FZ_CHECK(iwin32PoolInfo(&size, &used), "iwin32PoolInfo failed: %u", GetLastError());
    FZ_CHECK(used == 0, "the pool counts %llu bytes with no object alive", (unsigned long long)used);
}
