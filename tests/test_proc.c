/*
 * What the kernel says about this process, for the tests (test_node.h):
 * its mappings (mapped, unmapped, inaccessible, a region's size), its page
 * faults and locked memory, its threads' states and the OFD locks its
 * descriptors hold.
 */
#include "test_node.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

size_t tn_page(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* mincore() fails with ENOMEM for a range that is not (entirely) mapped. */
static bool page_mapped(const void *page)
{
    unsigned char vec;
    return mincore((void *)page, 1, &vec) == 0;
}

bool tn_is_mapped(const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(tn_page() - 1);
    for (; a < (uintptr_t)p + len; a += tn_page())
        if (!page_mapped((const void *)a))
            return false;
    return true;
}

bool tn_is_unmapped(const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(tn_page() - 1);
    for (; a < (uintptr_t)p + len; a += tn_page())
        if (page_mapped((const void *)a))
            return false;
    return true;
}

/* By /proc/self/maps (valgrind follows mprotect, and would report a read
 * of the range, even one write() makes): every region overlapping
 * [p, p+len) has no access. */
bool tn_is_inaccessible(const void *p, size_t len)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return false;
    char line[1024], perms[8];
    bool none = true;
    while (none && fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3 && lo < (uintptr_t)p + len && hi > (uintptr_t)p)
            none = strncmp(perms, "---", 3) == 0;
    }
    fclose(f);
    return none;
}

size_t tn_region_size(const void *p)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return 0;
    char line[1024];
    size_t size = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && lo == (uintptr_t)p) {
            size = (size_t)(hi - lo);
            break;
        }
    }
    fclose(f);
    return size;
}

long tn_minor_faults(void)
{
    /* A raw system call into a static buffer: no interceptor (sanitizers)
     * and no fresh stack page between two measurements. */
    static struct rusage ru;
    syscall(SYS_getrusage, RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

long tn_locked_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

char tn_thread_state(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close_paren = strrchr(buf, ')'); /* the name may hold anything */
    return close_paren && close_paren[1] == ' ' ? close_paren[2] : '?';
}

int tn_ofd_locks(const char *prefix, const char *kind)
{
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL)
        return -1;
    int n = 0;
    for (struct dirent *d; (d = readdir(dir)) != NULL;) {
        char path[300], target[512], line[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", d->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        const char *base = strrchr(target, '/');
        if (base == NULL || strncmp(base + 1, prefix, strlen(prefix)) != 0)
            continue;
        snprintf(path, sizeof path, "/proc/self/fdinfo/%s", d->d_name);
        FILE *f = fopen(path, "re");
        if (f == NULL)
            continue;
        while (fgets(line, sizeof line, f))
            n += strstr(line, "OFDLCK") != NULL && strstr(line, kind) != NULL;
        fclose(f);
    }
    closedir(dir);
    return n;
}
