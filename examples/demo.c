/*
 * iwin32-demo: two processes share a struct by name, the way INtime code
 * does it.  The first creates "iwin32-demo.status" and starts a second
 * program (itself, exec'd) that opens the same name, reads what the first
 * wrote and answers in place.  When both have closed their handles, the
 * name is gone.  Runs on the default node (/dev/shm/iwin32-<uid>).
 */
#include <iwin32.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct status {
    unsigned sequence;
    char from_creator[64];
    char from_opener[64];
};

static const char NAME[] = "iwin32-demo.status";

static int opener(void)
{
    struct status *s;
    HANDLE h = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, NAME, (VOID **)&s);
    if (h == NULL) {
        fprintf(stderr, "opener: RtOpenSharedMemory failed, error %u\n", GetLastError());
        return 1;
    }
    printf("[opener  pid %d] read  #%u \"%s\"\n", (int)getpid(), s->sequence, s->from_creator);
    snprintf(s->from_opener, sizeof s->from_opener, "hello back from pid %d", (int)getpid());
    s->sequence++;
    RtUnmapSharedMemory(s);
    CloseHandle(h);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--opener") == 0)
        return opener();

    struct status *s;
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, sizeof *s, NAME, (VOID **)&s);
    if (h == NULL) {
        fprintf(stderr, "creator: RtCreateSharedMemory failed, error %u\n", GetLastError());
        return 1;
    }
    if (GetLastError() == ERROR_ALREADY_EXISTS)
        printf("[creator pid %d] %s already existed: using it\n", (int)getpid(), NAME);
    s->sequence = 1;
    snprintf(s->from_creator, sizeof s->from_creator, "hello from pid %d", (int)getpid());
    printf("[creator pid %d] wrote #%u \"%s\" into %s\n", (int)getpid(), s->sequence, s->from_creator, NAME);
    fflush(stdout);

    pid_t pid = fork();
    if (pid == 0) {
        execl("/proc/self/exe", argv[0], "--opener", (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 1;
    printf("[creator pid %d] read  #%u \"%s\"\n", (int)getpid(), s->sequence, s->from_opener);

    RtUnmapSharedMemory(s);
    CloseHandle(h);
    VOID *again;
    if (RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, NAME, &again) == NULL &&
        GetLastError() == ERROR_FILE_NOT_FOUND)
        printf("[creator pid %d] last handle closed: %s is gone\n", (int)getpid(), NAME);
    else
        return 1;
    return 0;
}
