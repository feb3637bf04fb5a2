#include "test_node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <iwin32.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#ifndef IWIN32_PEER_PATH
#error "IWIN32_PEER_PATH (the shm_peer program) must be defined by the build"
#endif

extern char **environ;

static char base_dir[512];
static char root_dir[600];
static pid_t owner_pid;

static void die(const char *what)
{
    fprintf(stderr, "test_node: %s: %s\n", what, strerror(errno));
    abort();
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "test_node: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

/* ---- what a test left behind -------------------------------------------------- */

#define TRACKED 512
static pid_t children[TRACKED];
static int pipes[TRACKED];
static size_t nchildren, npipes;

static void track_child(pid_t pid)
{
    if (nchildren < TRACKED)
        children[nchildren++] = pid;
}

void tn_track_child(pid_t pid) { track_child(pid); }

static void untrack_child(pid_t pid)
{
    for (size_t i = 0; i < nchildren; i++)
        if (children[i] == pid) {
            children[i] = children[--nchildren];
            return;
        }
}

void tn_select_tests(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--only") == 0)
            cmocka_set_test_filter(argv[i + 1]);
        else if (strcmp(argv[i], "--skip") == 0)
            cmocka_set_skip_filter(argv[i + 1]);
    }
}

int tn_teardown(void **state)
{
    (void)state;
    while (nchildren > 0) {
        pid_t pid = children[--nchildren];
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    while (npipes > 0)
        close(pipes[--npipes]);
    return 0;
}

void tn_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        die("pipe2");
    if (npipes + 2 <= TRACKED) {
        pipes[npipes++] = fds[0];
        pipes[npipes++] = fds[1];
    }
}

void tn_close(int fd)
{
    for (size_t i = 0; i < npipes; i++)
        if (pipes[i] == fd) {
            pipes[i] = pipes[--npipes];
            break;
        }
    close(fd);
}

void tn_send_byte(int fd)
{
    char c = 'x';
    if (write(fd, &c, 1) != 1)
        fprintf(stderr, "test_node: write to pipe: %s\n", strerror(errno));
}

bool tn_recv_byte(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int64_t deadline = tn_now_ms() + TN_TIMEOUT_MS;
    for (;;) {
        int64_t left = deadline - tn_now_ms();
        if (left <= 0) {
            fprintf(stderr, "test_node: nothing came through the pipe in %d ms\n", TN_TIMEOUT_MS);
            return false;
        }
        int r = poll(&pfd, 1, (int)left);
        if (r > 0)
            break;
        if (r < 0 && errno != EINTR)
            return false;
    }
    char c;
    return read(fd, &c, 1) == 1;
}

static void cleanup(void)
{
    if (getpid() != owner_pid || base_dir[0] == '\0')
        return; /* a forked child inherits atexit handlers: only the owner cleans up */
    tn_teardown(NULL);
    nftw(base_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void tn_setup(const char *test_name)
{
    owner_pid = getpid();
    snprintf(base_dir, sizeof base_dir, "/dev/shm/iwin32-test-%s-%d", test_name, (int)owner_pid);
    nftw(base_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); /* a leftover of a reused pid */
    if (mkdir(base_dir, 0700) != 0)
        die(base_dir);
    snprintf(root_dir, sizeof root_dir, "%s/node", base_dir);
    if (setenv("IWIN32_ROOT", root_dir, 1) != 0)
        die("setenv");
    unsetenv("IWIN32_POOL_MB"); /* the default pool, unless the test sets one */
    atexit(cleanup);
}

const char *tn_base(void) { return base_dir; }
const char *tn_root(void) { return root_dir; }

char *tn_path(char *buf, size_t size, const char *leaf)
{
    snprintf(buf, size, "%s/%s", base_dir, leaf);
    return buf;
}

static bool is_object_file(const char *n)
{
    return (n[0] == 'n' || n[0] == 'h' || n[0] == 'u' || n[0] == 't') && n[1] == '-';
}

int tn_count_objects(const char *dir)
{
    DIR *d = opendir(dir ? dir : root_dir);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += is_object_file(e->d_name);
    closedir(d);
    return n;
}

void tn_dump_dir(const char *dir)
{
    char list[8192];
    tn_list_dir(dir ? dir : root_dir, list, sizeof list);
    fprintf(stderr, "  %s: [%s]\n", dir ? dir : root_dir, list);
}

int tn_objects_left(void)
{
    if (tn_count_objects(NULL) == 0)
        return 0;
    fprintf(stderr, "objects left in the node:\n");
    tn_dump_dir(NULL);
    return 1;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void tn_list_dir(const char *dir, char *buf, size_t size)
{
    buf[0] = '\0';
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 1024)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, by_string);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + pos, size - pos, "%s%s", i ? "|" : "", names[i]);
        if (w > 0 && (size_t)w < size - pos)
            pos += (size_t)w;
        free(names[i]);
    }
}

uint64_t tn_pool_used(void)
{
    uint64_t size = 0, used = 0;
    if (!iwin32PoolInfo(&size, &used)) {
        fprintf(stderr, "test_node: iwin32PoolInfo failed, error %u\n", GetLastError());
        abort();
    }
    return used;
}

uint64_t tn_pool_size(void)
{
    uint64_t size = 0, used = 0;
    if (!iwin32PoolInfo(&size, &used)) {
        fprintf(stderr, "test_node: iwin32PoolInfo failed, error %u\n", GetLastError());
        abort();
    }
    return size;
}

pid_t tn_fork(void)
{
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        /* Never outlive the test (a child blocked or sleeping forever). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(99);
        nchildren = npipes = 0; /* the parent's, not ours to clean up */
    } else {
        track_child(pid);
    }
    return pid;
}

int64_t tn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tn_wait(pid_t pid, int timeout_ms)
{
    int64_t deadline = tn_now_ms() + timeout_ms;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            untrack_child(pid);
            return status;
        }
        if (r < 0 && errno != EINTR) {
            untrack_child(pid);
            return -2;
        }
        if (tn_now_ms() > deadline) {
            fprintf(stderr, "test_node: process %d still running after %d ms: killed\n", (int)pid, timeout_ms);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            untrack_child(pid);
            return -1;
        }
        usleep(1000);
    }
}

bool tn_wait_stopped(pid_t pid)
{
    for (int ms = 0; ms < TN_TIMEOUT_MS; ms++) {
        int status;
        pid_t r = waitpid(pid, &status, WUNTRACED | WNOHANG);
        if (r == pid)
            return WIFSTOPPED(status);
        usleep(1000);
    }
    return false;
}

bool tn_exited_ok(int status) { return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
bool tn_killed_by(int status, int sig) { return status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == sig; }

/* ---- peers ------------------------------------------------------------------ */

/* The environment for a peer: ours, with env's changes. */
static char **peer_environment(const char *const *env)
{
    size_t n = 0, extra = 0;
    while (environ[n])
        n++;
    while (env && env[extra])
        extra++;
    char **out = calloc(n + extra + 1, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < extra && !replaced; j++) {
            size_t klen = strcspn(env[j], "=");
            replaced = strncmp(environ[i], env[j], klen) == 0 && environ[i][klen] == '=';
        }
        if (!replaced)
            out[k++] = environ[i];
    }
    for (size_t j = 0; j < extra; j++)
        if (strchr(env[j], '='))
            out[k++] = (char *)env[j];
    out[k] = NULL;
    return out;
}

void tn_peer_start(struct tn_peer *p, const char *const *env, ...)
{
    const char *argv[64];
    int argc = 0;
    argv[argc++] = IWIN32_PEER_PATH;
    va_list ap;
    va_start(ap, env);
    const char *word;
    while ((word = va_arg(ap, const char *)) != NULL && argc < 63)
        argv[argc++] = word;
    va_end(ap);
    argv[argc] = NULL;

    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        die("pipe2");
    char **envp = peer_environment(env);
    memset(p, 0, sizeof *p);
    p->pid = tn_fork();
    if (p->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execve(IWIN32_PEER_PATH, (char *const *)argv, envp);
        _exit(127);
    }
    free(envp);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    p->in = in[1];
    p->out = out[0];
    p->err = err[0];
}

bool tn_peer_line(struct tn_peer *p, char *line, size_t size)
{
    int64_t deadline = tn_now_ms() + TN_TIMEOUT_MS;
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->len);
        if (nl) {
            size_t n = (size_t)(nl - p->buf);
            snprintf(line, size, "%.*s", (int)n, p->buf);
            memmove(p->buf, nl + 1, p->len - n - 1);
            p->len -= n + 1;
            return true;
        }
        int64_t left = deadline - tn_now_ms();
        if (left <= 0 || p->len == sizeof p->buf || p->out < 0)
            return false;
        struct pollfd pfd = {.fd = p->out, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(p->out, p->buf + p->len, sizeof p->buf - p->len);
        if (r <= 0)
            return false;
        p->len += (size_t)r;
    }
}

bool tn_peer_expect(struct tn_peer *p, const char *want)
{
    char line[512];
    if (!tn_peer_line(p, line, sizeof line)) {
        fprintf(stderr, "peer %d: expected \"%s\", got nothing (EOF or timeout)\n", (int)p->pid, want);
        return false;
    }
    if (strcmp(line, want) != 0) {
        fprintf(stderr, "peer %d: expected \"%s\", got \"%s\"\n", (int)p->pid, want, line);
        return false;
    }
    return true;
}

void tn_peer_send(struct tn_peer *p)
{
    if (write(p->in, "g", 1) != 1)
        fprintf(stderr, "test_node: cannot write to peer %d: %s\n", (int)p->pid, strerror(errno));
}

static void close_pipes(struct tn_peer *p)
{
    if (p->in >= 0)
        close(p->in);
    if (p->out >= 0)
        close(p->out);
    if (p->err >= 0)
        close(p->err);
    p->in = p->out = p->err = -1;
}

int tn_peer_finish(struct tn_peer *p)
{
    close(p->in);
    p->in = -1;
    int64_t deadline = tn_now_ms() + TN_TIMEOUT_MS;
    bool out_open = true, err_open = true;
    while ((out_open || err_open) && tn_now_ms() < deadline) {
        struct pollfd pfd[2] = {{.fd = out_open ? p->out : -1, .events = POLLIN},
                                {.fd = err_open ? p->err : -1, .events = POLLIN}};
        if (poll(pfd, 2, 100) <= 0)
            continue;
        if (pfd[0].revents) {
            char sink[512];
            ssize_t r;
            if (p->len < sizeof p->buf)
                r = read(p->out, p->buf + p->len, sizeof p->buf - p->len);
            else
                r = read(p->out, sink, sizeof sink);
            if (r <= 0)
                out_open = false;
            else if (p->len < sizeof p->buf)
                p->len += (size_t)r;
        }
        if (pfd[1].revents) {
            char chunk[512];
            ssize_t r = read(p->err, chunk, sizeof chunk);
            if (r <= 0) {
                err_open = false;
            } else {
                size_t room = sizeof p->errbuf - 1 - p->errlen;
                size_t n = (size_t)r < room ? (size_t)r : room;
                memcpy(p->errbuf + p->errlen, chunk, n);
                p->errlen += n;
            }
        }
    }
    p->errbuf[p->errlen] = '\0';
    close_pipes(p);
    return tn_wait(p->pid, 1000);
}

int tn_peer_kill(struct tn_peer *p)
{
    kill(p->pid, SIGKILL);
    int status = -1;
    while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
        ;
    untrack_child(p->pid);
    close_pipes(p);
    return status;
}

HANDLE tn_shm_create(const char *name, DWORD size, void **p)
{
    SetLastError(SENTINEL);
    return RtCreateSharedMemory(PAGE_READWRITE, 0, size, name, p);
}

HANDLE tn_shm_open(const char *name, void **p)
{
    return RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, name, p);
}

void tn_shm_release(HANDLE h, void *p)
{
    assert_true(RtUnmapSharedMemory(p));
    assert_true(CloseHandle(h));
}

void tn_assert_gone(const char *name)
{
    void *p = NULL;
    SetLastError(SENTINEL);
    assert_null(tn_shm_open(name, &p));
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
}
