/*
 * shm_peer: a second process for the tests, driven by its command words.
 * It works on the node its environment names ($IWIN32_ROOT) and answers on
 * stdout, one line per call, so that the test sees exactly what happened:
 *
 *   create NAME SIZE   "create <ok> <last error>"   NAME "-" = NULL, "@" = ""
 *   open NAME          "open <ok> <last error>"     (the last error is set to
 *                                                     12345 before each call)
 *   close              "close <ok> <last error>"    closes the current handle
 *   closeh HEX         "close <ok> <last error>"    closes that handle value
 *   unmap              "unmap <ok> <last error>"    unmaps the current mapping
 *   put OFF VALUE      (silent) stores a uint32 at byte OFF of the mapping
 *   get OFF            "get <value>"
 *   zero               "zero <1 if the whole current mapping is 0, else 0>"
 *   pool               "pool 1 <size> <used>" or "pool 0 <last error>"
 *   sync K NAME        "sync <ok> <last error>": creates an event (K = e),
 *                      mutex (m; M: owned by this process's main thread) or
 *                      semaphore (s) of that name, and keeps it
 *   osync K NAME       "osync <ok> <last error>": opens one
 *   ready              "ready"
 *   wait               blocks until a byte (or EOF) arrives on stdin
 *   sleep              blocks until killed
 *   exit CODE          exit(CODE) at once, holding whatever it holds
 *   fork               "forked <pid>": a child goes on with the words after
 *                      it, inheriting what is held, once the parent (which
 *                      exits at once) is gone
 * and exits 0 after the last word.  A bad word exits 64.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iwin32.h>

#define SENTINEL 12345u

static HANDLE handle;
static unsigned char *mem;
static size_t mem_size;

static const char *name_arg(const char *s)
{
    if (strcmp(s, "-") == 0)
        return NULL;
    if (strcmp(s, "@") == 0)
        return "";
    return s;
}

static void usage(const char *word)
{
    fprintf(stderr, "shm_peer: bad command word \"%s\"\n", word);
    exit(64);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        bool has1 = i + 1 < argc, has2 = i + 2 < argc;
        if (strcmp(w, "create") == 0 && has2) {
            VOID *p = NULL;
            SetLastError(SENTINEL);
            unsigned long size = strtoul(argv[i + 2], NULL, 0);
            HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, (DWORD)size, name_arg(argv[i + 1]), &p);
            printf("create %d %u\n", h != NULL, GetLastError());
            if (h) {
                handle = h;
                mem = p;
                mem_size = size;
            }
            i += 2;
        } else if (strcmp(w, "open") == 0 && has1) {
            VOID *p = NULL;
            SetLastError(SENTINEL);
            HANDLE h = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, name_arg(argv[i + 1]), &p);
            printf("open %d %u\n", h != NULL, GetLastError());
            if (h) {
                handle = h;
                mem = p;
                mem_size = 0;
            }
            i += 1;
        } else if (strcmp(w, "close") == 0) {
            SetLastError(SENTINEL);
            BOOLEAN ok = CloseHandle(handle);
            printf("close %d %u\n", ok, GetLastError());
        } else if (strcmp(w, "closeh") == 0 && has1) {
            SetLastError(SENTINEL);
            BOOLEAN ok = CloseHandle((HANDLE)(uintptr_t)strtoull(argv[i + 1], NULL, 16));
            printf("close %d %u\n", ok, GetLastError());
            i += 1;
        } else if (strcmp(w, "unmap") == 0) {
            SetLastError(SENTINEL);
            BOOLEAN ok = RtUnmapSharedMemory(mem);
            printf("unmap %d %u\n", ok, GetLastError());
        } else if (strcmp(w, "put") == 0 && has2) {
            uint32_t v = (uint32_t)strtoul(argv[i + 2], NULL, 0);
            memcpy(mem + strtoul(argv[i + 1], NULL, 0), &v, sizeof v);
            i += 2;
        } else if (strcmp(w, "get") == 0 && has1) {
            uint32_t v;
            memcpy(&v, mem + strtoul(argv[i + 1], NULL, 0), sizeof v);
            printf("get %u\n", v);
            i += 1;
        } else if (strcmp(w, "zero") == 0) {
            int zero = 1;
            for (size_t k = 0; k < mem_size; k++)
                zero &= mem[k] == 0;
            printf("zero %d\n", zero);
        } else if ((strcmp(w, "sync") == 0 || strcmp(w, "osync") == 0) && has2) {
            char kind = argv[i + 1][0];
            const char *name = name_arg(argv[i + 2]);
            bool open = w[0] == 'o';
            SetLastError(SENTINEL);
            HANDLE h = NULL;
            if (kind == 'e')
                h = open ? RtOpenEvent(0, FALSE, name) : RtCreateEvent(NULL, TRUE, FALSE, name);
            else if (kind == 'm' || kind == 'M')
                h = open ? RtOpenMutex(0, FALSE, name) : RtCreateMutex(NULL, kind == 'M', name);
            else if (kind == 's')
                h = open ? RtOpenSemaphore(0, FALSE, name) : RtCreateSemaphore(NULL, 0, 1, name);
            else
                usage(argv[i + 1]);
            printf("%s %d %u\n", w, h != NULL, GetLastError());
            i += 2;
        } else if (strcmp(w, "pool") == 0) {
            uint64_t size = 0, used = 0;
            SetLastError(SENTINEL);
            if (iwin32PoolInfo(&size, &used))
                printf("pool 1 %" PRIu64 " %" PRIu64 "\n", size, used);
            else
                printf("pool 0 %u\n", GetLastError());
        } else if (strcmp(w, "fork") == 0) {
            /* The child goes on with the words after this one, once its
             * parent (which exits at once) is gone: "forked <pid>". */
            pid_t parent = getpid(), child = fork();
            if (child < 0)
                perror("shm_peer: fork");
            if (child != 0)
                _exit(child < 0);
            while (getppid() == parent)
                usleep(1000);
            printf("forked %d\n", (int)getpid());
        } else if (strcmp(w, "ready") == 0) {
            printf("ready\n");
        } else if (strcmp(w, "wait") == 0) {
            char c;
            if (read(0, &c, 1) < 0)
                perror("shm_peer: read");
        } else if (strcmp(w, "sleep") == 0) {
            for (;;)
                pause();
        } else if (strcmp(w, "exit") == 0 && has1) {
            exit(atoi(argv[i + 1]));
        } else {
            usage(w);
        }
    }
    return 0;
}
