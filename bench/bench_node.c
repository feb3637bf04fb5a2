/*
 * A benchmark's private node (bench_node.h).
 */
#include "bench_node.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char node_dir[128];

void bench_node_use(const char *tag)
{
    snprintf(node_dir, sizeof node_dir, "/dev/shm/iwin32-%s-%d", tag, (int)getpid());
    setenv("IWIN32_ROOT", node_dir, 1);
}

void bench_remove_matching(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    size_t n = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && strncmp(e->d_name, prefix, n) == 0)
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

void bench_node_remove(void)
{
    if (node_dir[0] == '\0')
        return;
    bench_remove_matching(node_dir, "");
    rmdir(node_dir);
    node_dir[0] = '\0';
}
