/*
 * Helpers shared by the tests of the iwin32 command-line tool (test_cli.c:
 * ls and show; test_cli_admin.c: rm, gc, pool, files the library did not
 * make, the command line): running the tool as a real program (fork + exec)
 * with its output caught, checking its exit code and text, a node of its own
 * per test that its shm_peer peers use too, and a peer's answer awaited.
 * Header-only (static inline), so that each test executable stays one source
 * file plus test_node.c.
 */
#ifndef IWIN32_TEST_CLI_UTIL_H
#define IWIN32_TEST_CLI_UTIL_H
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"

#ifndef IWIN32_CLI_PATH
#error "IWIN32_CLI_PATH (the iwin32 program) must be defined by the build"
#endif

#define CLI_TIMEOUT_MS 60000
#define MIB (1u << 20)

/* The exit status iwin32(1) documents. */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_IN_USE = 3 };

/* ---- running programs ---------------------------------------------------------- */

struct run {
    int code;                   /* exit code; -1 if it did not exit normally */
    char out[64 * 1024];
    char err[8 * 1024];
};

static inline void read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t len = 0;
    ssize_t r;
    while (fd >= 0 && len + 1 < size && (r = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    if (fd >= 0)
        close(fd);
}

/* Runs argv[0] with stdout and stderr into files of the test's base. */
static inline void run_argv(struct run *r, char *const *argv)
{
    char out[600], err[600];
    tn_path(out, sizeof out, "run.out");
    tn_path(err, sizeof err, "run.err");
    pid_t pid = tn_fork();
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int status = tn_wait(pid, CLI_TIMEOUT_MS);
    r->code = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    read_file(out, r->out, sizeof r->out);
    read_file(err, r->err, sizeof r->err);
}

/* iwin32 with its words (NULL-terminated); "--node NODE" first when node is
 * not NULL.  Returns the exit code. */
static inline int cli(struct run *r, const char *node, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = IWIN32_CLI_PATH;
    if (node) {
        argv[argc++] = "--node";
        argv[argc++] = (char *)node;
    }
    va_list ap;
    va_start(ap, node);
    char *word;
    while ((word = va_arg(ap, char *)) != NULL && argc < 31)
        argv[argc++] = word;
    va_end(ap);
    argv[argc] = NULL;
    run_argv(r, argv);
    return r->code;
}

static inline void expect_code(const struct run *r, int code)
{
    if (r->code != code)
        fail_msg("exit %d, expected %d\nstdout:\n%s\nstderr:\n%s", r->code, code, r->out, r->err);
}

static inline void expect_text(const char *text, const char *want)
{
    if (strstr(text, want) == NULL)
        fail_msg("\"%s\" not in:\n%s", want, text);
}

/* A node of its own for each test, which its peers use too. */
struct node {
    char dir[600];
    char env[640];
    const char *peer_env[2];
};

static inline void node_init(struct node *n, const char *leaf)
{
    tn_path(n->dir, sizeof n->dir, leaf);
    snprintf(n->env, sizeof n->env, "IWIN32_ROOT=%s", n->dir);
    n->peer_env[0] = n->env;
    n->peer_env[1] = NULL;
}

static inline void expect_line(struct tn_peer *p, const char *want)
{
    if (!tn_peer_expect(p, want))
        fail_msg("peer %d did not answer \"%s\"", (int)p->pid, want);
}

static inline int count_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

#endif
