/*
 * The iwin32 command-line tool (tools/, iwin32(1)), run as a real program
 * (fork + exec) against objects that shm_peer processes create and hold: the
 * commands that change a node, rm, gc (after a SIGKILL, on a damaged
 * header) and pool --set; files the library did not make (SPEC 8), which no
 * command touches; and the command line: usage errors, help, and the exit
 * status of every kind of outcome.  ls and show: test_cli.c; the helpers:
 * test_cli_util.h.  Each test has its own node, so they are independent.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_cli_util.h"
#include "test_node.h"

/* ---- rm ------------------------------------------------------------------------- */

static void test_rm(void **state)
{
    (void)state;
    struct node n;
    node_init(&n, "node-rm");
    struct tn_peer a, b, dead;
    tn_peer_start(&a, n.peer_env, "create", "keep\x01me", "4096", "put", "0", "77", "ready", "wait", "get", "0",
                  "sleep", NULL);
    expect_line(&a, "create 1 0");
    expect_line(&a, "ready");
    tn_peer_start(&dead, n.peer_env, "create", "stale one", "8192", "sync", "e", "stale event", "ready", "sleep",
                  NULL);
    expect_line(&dead, "create 1 0");
    expect_line(&dead, "sync 1 0");
    expect_line(&dead, "ready");
    assert_true(tn_killed_by(tn_peer_kill(&dead), SIGKILL));

    /* Held: refused, with who holds it, and the object untouched. */
    struct run r;
    char want[128];
    expect_code((cli(&r, n.dir, "rm", "keep\\x01me", NULL), &r), EXIT_IN_USE);
    snprintf(want, sizeof want, "iwin32: keep\\x01me is in use: 1 process holds it (pids: %d)", (int)a.pid);
    expect_text(r.err, want);
    tn_peer_send(&a);
    expect_line(&a, "get 77");
    tn_peer_start(&b, n.peer_env, "open", "keep\x01me", "get", "0", NULL);
    expect_line(&b, "open 1 12345");
    expect_line(&b, "get 77");
    assert_true(tn_exited_ok(tn_peer_finish(&b)));

    /* Nobody holds it (its holder was killed): removed. */
    char stale_file[700];
    snprintf(stale_file, sizeof stale_file, "%s/n-stale%%20one", n.dir);
    assert_int_equal(access(stale_file, F_OK), 0);
    expect_code((cli(&r, n.dir, "rm", "stale one", NULL), &r), EXIT_OK);
    expect_text(r.out, "removed stale\\x20one (no process held it)\n");
    assert_int_equal(access(stale_file, F_OK), -1);
    expect_code((cli(&r, n.dir, "rm", "stale one", NULL), &r), EXIT_FAILED);
    expect_text(r.err, "iwin32: no object named stale\\x20one\n");
    expect_code((cli(&r, n.dir, "rm", "stale\\x20event", NULL), &r), EXIT_OK);
    /* What the removed objects counted is back in the pool. */
    expect_code((cli(&r, n.dir, "pool", NULL), &r), EXIT_OK);
    snprintf(want, sizeof want, "used: %zu bytes\n", tn_page());
    expect_text(r.out, want);
    assert_true(tn_killed_by(tn_peer_kill(&a), SIGKILL));
}

/* ---- gc ------------------------------------------------------------------------- */

/* A process that dies while making an object: its "t-" file, with the
 * library's mark (mark.h), sized and locked the way object.c makes one, left
 * behind by a SIGKILL. */
static void leave_dead_temp(const char *dir, const char *file)
{
    int ready[2];
    tn_pipe(ready);
    pid_t pid = tn_fork();
    if (pid == 0) {
        char path[800];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 01600);
        struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
        TN_CHILD_CHECK(fd >= 0 && ftruncate(fd, 4096) == 0 && fcntl(fd, F_OFD_SETLK, &fl) == 0);
        tn_send_byte(ready[1]);
        for (;;)
            pause();
    }
    assert_true(tn_recv_byte(ready[0]));
    kill(pid, SIGKILL);
    assert_true(tn_killed_by(tn_wait(pid, TN_TIMEOUT_MS), SIGKILL));
    tn_close(ready[0]);
    tn_close(ready[1]);
}

static void test_gc_after_kill(void **state)
{
    (void)state;
    struct node n;
    node_init(&n, "node-gc");
    struct tn_peer live, dead;
    tn_peer_start(&live, n.peer_env, "create", "live", "8192", "ready", "sleep", NULL);
    expect_line(&live, "create 1 0");
    expect_line(&live, "ready");
    tn_peer_start(&dead, n.peer_env, "create", "dead shm", "12288", "sync", "s", "dead sem", "ready", "sleep", NULL);
    expect_line(&dead, "create 1 0");
    expect_line(&dead, "sync 1 0");
    expect_line(&dead, "ready");
    assert_true(tn_killed_by(tn_peer_kill(&dead), SIGKILL));
    leave_dead_temp(n.dir, "t-00000000000000000000000000000dead");

    /* A file being made by a live process (this one): not gc's to take. */
    char busy[800];
    snprintf(busy, sizeof busy, "%s/t-0000000000000000000000000000b0sy", n.dir);
    int fd = open(busy, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 01600);
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    assert_true(fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) == 0);

    struct run r;
    expect_code((cli(&r, n.dir, "gc", NULL), &r), EXIT_OK);
    expect_text(r.out, "removed shm dead\\x20shm: no process held it\n");
    expect_text(r.out, "removed semaphore dead\\x20sem: no process held it\n");
    expect_text(r.out, "removed t-00000000000000000000000000000dead: an object being made, whose maker died\n");
    char want[160];
    /* The killed holder's 3 pages were still counted; after, the live 2. */
    snprintf(want, sizeof want, "pool use: %zu bytes counted before, %zu bytes after (of %u)\n", 5 * tn_page(),
             2 * tn_page(), 256 * MIB);
    expect_text(r.out, want);
    assert_int_equal(count_lines(r.out), 4);
    char names[1024];
    tn_list_dir(n.dir, names, sizeof names);
    assert_string_equal(names, ".node|n-live|t-0000000000000000000000000000b0sy");

    expect_code((cli(&r, n.dir, "gc", NULL), &r), EXIT_OK);
    expect_text(r.out, "nothing to remove\n");
    close(fd);
    unlink(busy);
    assert_true(tn_killed_by(tn_peer_kill(&live), SIGKILL));
}

/* A ".node" overwritten with garbage: gc works on it (the library rebuilt
 * it when the tool opened the node), the pool's figures exact. */
static void test_gc_on_damaged_header(void **state)
{
    (void)state;
    struct node n;
    node_init(&n, "node-damaged");
    struct tn_peer live;
    tn_peer_start(&live, n.peer_env, "create", "live", "8192", "ready", "sleep", NULL);
    expect_line(&live, "create 1 0");
    expect_line(&live, "ready");
    char path[800];
    snprintf(path, sizeof path, "%s/.node", n.dir);
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0 && write(fd, "garbage!garbage!garbage!", 24) == 24);
    close(fd);

    struct run r;
    expect_code((cli(&r, n.dir, "gc", NULL), &r), EXIT_OK);
    char want[160];
    snprintf(want, sizeof want, "nothing to remove\npool use: %zu bytes counted before, %zu bytes after (of %u)\n",
             2 * tn_page(), 2 * tn_page(), 256 * MIB);
    assert_string_equal(r.out, want);
    expect_code((cli(&r, n.dir, "ls", NULL), &r), EXIT_OK);
    expect_text(r.out, "live");
    assert_true(tn_killed_by(tn_peer_kill(&live), SIGKILL));
}

/* ---- files the library did not make (SPEC 8) --------------------------------------- */

/* A user's files named like objects: planted in a real node, or in a
 * directory of the user's that --node names.  No command lists, shows or
 * removes them, and where there is no .node no command reads the directory. */
static const char *const user_files[] = {"n-otes.txt", "t-ax.pdf", "u-boot.img", "h-index.html"};
#define NUSER_FILES (sizeof user_files / sizeof user_files[0])

static void plant_user_files(const char *dir)
{
    for (size_t i = 0; i < NUSER_FILES; i++) {
        char path[800];
        snprintf(path, sizeof path, "%s/%s", dir, user_files[i]);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "mine\n", 5), 5);
        close(fd);
    }
}

static void expect_user_files(const char *dir)
{
    for (size_t i = 0; i < NUSER_FILES; i++) {
        char path[800];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, user_files[i]);
        if (stat(path, &st) != 0 || st.st_size != 5)
            fail_msg("%s: %s", path, strerror(errno));
    }
}

/* Every command that looks at objects, on dir; each must end with code. */
static void every_command(const char *dir, int code)
{
    struct run r;
    expect_code((cli(&r, dir, "ls", NULL), &r), code);
    expect_code((cli(&r, dir, "ls", "--json", NULL), &r), code);
    expect_code((cli(&r, dir, "gc", NULL), &r), code);
    expect_code((cli(&r, dir, "pool", NULL), &r), code);
    for (int i = 0; i < 2; i++) {
        const char *name = i ? "boot.img" : "otes.txt";
        expect_code((cli(&r, dir, "show", name, NULL), &r), EXIT_FAILED);
        expect_code((cli(&r, dir, "rm", name, NULL), &r), EXIT_FAILED);
        if (code == EXIT_OK)
            expect_text(r.err, "iwin32: no object named ");
    }
}

static void test_foreign_files_untouched(void **state)
{
    (void)state;
    /* A directory of the user's: no node, not touched. */
    char home[600];
    tn_path(home, sizeof home, "home");
    assert_int_equal(mkdir(home, 0700), 0);
    plant_user_files(home);
    every_command(home, EXIT_FAILED);
    expect_user_files(home);
    char names[1024];
    tn_list_dir(home, names, sizeof names);
    assert_string_equal(names, "h-index.html|n-otes.txt|t-ax.pdf|u-boot.img");

    /* Planted in a real node: not objects, not counted, not removed. */
    struct node n;
    node_init(&n, "node-planted");
    struct tn_peer p;
    tn_peer_start(&p, n.peer_env, "create", "real", "4096", "ready", "sleep", NULL);
    expect_line(&p, "create 1 0");
    expect_line(&p, "ready");
    plant_user_files(n.dir);
    every_command(n.dir, EXIT_OK);
    struct run r;
    expect_code((cli(&r, n.dir, "gc", NULL), &r), EXIT_OK);
    expect_text(r.out, "nothing to remove\n");
    expect_code((cli(&r, n.dir, "ls", NULL), &r), EXIT_OK);
    assert_null(strstr(r.out, "otes"));
    assert_null(strstr(r.out, "boot"));
    expect_user_files(n.dir);
    tn_list_dir(n.dir, names, sizeof names);
    assert_string_equal(names, ".node|h-index.html|n-otes.txt|n-real|t-ax.pdf|u-boot.img");
    assert_true(tn_killed_by(tn_peer_kill(&p), SIGKILL));
}

/* ---- pool ------------------------------------------------------------------------ */

static void expect_pool_size(const char *node, uint64_t bytes)
{
    struct run r;
    char want[64];
    expect_code((cli(&r, node, "pool", NULL), &r), EXIT_OK);
    snprintf(want, sizeof want, "size: %llu bytes", (unsigned long long)bytes);
    expect_text(r.out, want);
}

static void test_pool_set(void **state)
{
    (void)state;
    struct node n;
    node_init(&n, "node-pool");
    struct tn_peer a, b;
    tn_peer_start(&a, n.peer_env, "create", "twelve", "12582912", "ready", "sleep", NULL);
    expect_line(&a, "create 1 0");
    expect_line(&a, "ready");
    expect_pool_size(n.dir, 256ull * MIB);

    struct run r;
    const struct { const char *arg; uint64_t mib; } valid[] = {
        {"64", 64}, {"32M", 32}, {"20MiB", 20}, {"1G", 1024}, {"2gib", 2048}, {"16m", 16},
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        expect_code((cli(&r, n.dir, "pool", "--set", valid[i].arg, NULL), &r), EXIT_OK);
        expect_pool_size(n.dir, valid[i].mib * MIB);
    }
    const char *invalid[] = {"6", "0", "-4", "+4", "abc", "4K", "4.0", "", "6M", "4MB", "99999999999G", " 8", "\t4M"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        expect_code((cli(&r, n.dir, "pool", "--set", invalid[i], NULL), &r), EXIT_USAGE);
        expect_text(r.err, "iwin32: pool: --set ");
        expect_text(r.err, "multiple of 4 MiB");
    }
    expect_pool_size(n.dir, 16ull * MIB);

    /* Below what is in use: refused, size unchanged. */
    expect_code((cli(&r, n.dir, "pool", "--set", "8", NULL), &r), EXIT_FAILED);
    expect_text(r.err, "iwin32: pool not set to 8 MiB: live objects use 12582912 bytes\n");
    expect_pool_size(n.dir, 16ull * MIB);

    /* Other processes go by the new size at once. */
    tn_peer_start(&b, n.peer_env, "create", "eight", "8388608", "pool", NULL);
    expect_line(&b, "create 0 8"); /* ERROR_NOT_ENOUGH_MEMORY: 12 + 8 > 16 */
    expect_line(&b, "pool 1 16777216 12582912");
    assert_true(tn_exited_ok(tn_peer_finish(&b)));
    expect_code((cli(&r, n.dir, "pool", "--set", "20", NULL), &r), EXIT_OK);
    tn_peer_start(&b, n.peer_env, "create", "eight", "8388608", NULL);
    expect_line(&b, "create 1 0");
    assert_true(tn_exited_ok(tn_peer_finish(&b)));
    assert_true(tn_killed_by(tn_peer_kill(&a), SIGKILL));
}

/* ---- the command line ---------------------------------------------------------------- */

static void test_usage_and_exit_codes(void **state)
{
    (void)state;
    struct node n;
    node_init(&n, "node-usage");
    struct tn_peer a;
    tn_peer_start(&a, n.peer_env, "create", "x", "1", NULL); /* makes the node */
    expect_line(&a, "create 1 0");
    assert_true(tn_exited_ok(tn_peer_finish(&a)));

    static const char *const bad[][4] = {
        {NULL},
        {"bogus", NULL},
        {"--bogus", "ls", NULL},
        {"ls", "extra", NULL},
        {"ls", "--bogus", NULL},
        {"ls", "--json=1", NULL},
        {"show", NULL},
        {"show", "a", "b", NULL},
        {"show", "--bytes", "x", NULL},
        {"show", "--bytes", "-1", "a"},
        {"show", "--bytes", " 8", "a"},
        {"show", "bad\\q", NULL},
        {"show", "\\x00", NULL},
        {"rm", NULL},
        {"rm", "", NULL},
        {"gc", "now", NULL},
        {"pool", "--set", NULL},
        {"pool", "64", NULL},
        {"show", "a\\x5cb", NULL}, /* a '\' no name can hold, escaped */
        {"rm", "a\\x5cb", NULL},
        {"show", "", NULL},
        {"ls", "--type", "bogus", NULL},
        {"ls", "--pid", "x", NULL},
        {"ls", "--pid", "0", NULL},
        {"ls", "--watch=0", NULL},
        {"ls", "--watch", "--count", "0"},
        {"ls", "--count", "2", NULL}, /* without --watch */
    };
    struct run r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[8] = {IWIN32_CLI_PATH, "--node", n.dir};
        int argc = 3;
        for (int k = 0; k < 4 && bad[i][k]; k++)
            argv[argc++] = (char *)bad[i][k];
        argv[argc] = NULL;
        run_argv(&r, argv);
        if (r.code != EXIT_USAGE || strncmp(r.err, "iwin32: ", 8) != 0 || r.out[0] != '\0')
            fail_msg("case %zu (%s %s): exit %d, stdout \"%s\", stderr \"%s\"", i, bad[i][0] ? bad[i][0] : "",
                     bad[i][0] && bad[i][1] ? bad[i][1] : "", r.code, r.out, r.err);
    }

    /* A number after --watch is its SECONDS, in range or not (it was called
     * an unexpected operand). */
    expect_code((cli(&r, n.dir, "ls", "--watch", "0.05", NULL), &r), EXIT_USAGE);
    expect_text(r.err, "--watch 0.05: SECONDS from 0.1 to 86400");

    char too_long[261]; /* 260 bytes: one more than any name may have */
    memset(too_long, 'n', 260);
    too_long[260] = '\0';
    expect_code((cli(&r, n.dir, "show", too_long, NULL), &r), EXIT_USAGE);
    expect_text(r.err, "bad NAME");

    expect_code((cli(&r, NULL, "--help", NULL), &r), EXIT_OK);
    expect_text(r.out, "Usage: iwin32 [--node DIR] COMMAND");
    expect_text(r.out, "Exit status:");
    expect_code((cli(&r, NULL, "ls", "--help", NULL), &r), EXIT_OK);
    expect_text(r.out, "Usage: iwin32 [--node DIR] ls [--json] [--type TYPE] [--pid PID] [--watch [SECONDS] [--count N]]\n");
    expect_code((cli(&r, NULL, "pool", "-h", NULL), &r), EXIT_OK);
    expect_text(r.out, "--set SIZE");
    expect_code((cli(&r, NULL, "--version", NULL), &r), EXIT_OK);
    expect_text(r.out, "iwin32 ");

    /* No node there: reported, never made. */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no-such-node", tn_base());
    const char *commands[] = {"ls", "gc", "pool"};
    for (size_t i = 0; i < 3; i++) {
        expect_code((cli(&r, missing, commands[i], NULL), &r), EXIT_FAILED);
        expect_text(r.err, "iwin32: no node at ");
    }
    expect_code((cli(&r, missing, "show", "x", NULL), &r), EXIT_FAILED);
    assert_int_equal(access(missing, F_OK), -1);

    /* --node after the command, and $IWIN32_ROOT without --node. */
    expect_code((cli(&r, NULL, "ls", "--node", n.dir, NULL), &r), EXIT_OK);
    expect_text(r.out, "pool: 0 of ");
    setenv("IWIN32_ROOT", n.dir, 1);
    expect_code((cli(&r, NULL, "pool", NULL), &r), EXIT_OK);
    setenv("IWIN32_ROOT", tn_root(), 1);
    expect_text(r.out, "used: 0 bytes\n");
}

int main(int argc, char **argv)
{
    tn_setup("cli_admin");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_rm, tn_teardown),
        cmocka_unit_test_teardown(test_gc_after_kill, tn_teardown),
        cmocka_unit_test_teardown(test_gc_on_damaged_header, tn_teardown),
        cmocka_unit_test_teardown(test_foreign_files_untouched, tn_teardown),
        cmocka_unit_test_teardown(test_pool_set, tn_teardown),
        cmocka_unit_test_teardown(test_usage_and_exit_codes, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
