/*
 * The iwin32 command-line tool (tools/, iwin32(1)), run as a real program
 * (fork + exec) against objects that shm_peer processes create and hold:
 * ls and its JSON (parsed by python3), show, rm, gc and pool, what happens
 * to their figures when a holder is SIGKILLed, and the exit status of every
 * kind of outcome.  Each test has its own node, so they are independent.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
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

static void read_file(const char *path, char *buf, size_t size)
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
static void run_argv(struct run *r, char *const *argv)
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
static int cli(struct run *r, const char *node, ...)
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

static void expect_code(const struct run *r, int code)
{
    if (r->code != code)
        fail_msg("exit %d, expected %d\nstdout:\n%s\nstderr:\n%s", r->code, code, r->out, r->err);
}

static void expect_text(const char *text, const char *want)
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

static void node_init(struct node *n, const char *leaf)
{
    tn_path(n->dir, sizeof n->dir, leaf);
    snprintf(n->env, sizeof n->env, "IWIN32_ROOT=%s", n->dir);
    n->peer_env[0] = n->env;
    n->peer_env[1] = NULL;
}

static void expect_line(struct tn_peer *p, const char *want)
{
    if (!tn_peer_expect(p, want))
        fail_msg("peer %d did not answer \"%s\"", (int)p->pid, want);
}

static char *hex(char *buf, const char *s)
{
    buf[0] = '\0';
    for (size_t i = 0; s[i]; i++)
        sprintf(buf + 2 * i, "%02x", (unsigned char)s[i]);
    return buf;
}

/* ---- ls --json, read by python3 ------------------------------------------------ */

/* "node PATH", then one line per object, "TYPE SIZE HOLDERS PIDS NAMEHEX"
 * (pids sorted, comma separated; name "-" when null; NAMEHEX the UTF-8 of
 * the decoded string) and for a mutex " owner PID TID abandoned BOOL" (PID
 * and TID "-" when not owned), then "pool SIZE USED". */
static const char json_digest[] =
    "import json, sys\n"
    "d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
    "print('node', d['node'])\n"
    "assert set(d) == {'node', 'objects', 'pool'}, d.keys()\n"
    "for o in d['objects']:\n"
    "    keys = {'name', 'type', 'size', 'holders', 'pids', 'created'}\n"
    "    assert set(o) == keys | ({'owner', 'abandoned'} if o['type'] == 'mutex' else set()), o.keys()\n"
    "    assert o['created'] is None or o['created'].endswith('Z'), o['created']\n"
    "    n = '-' if o['name'] is None else o['name'].encode('utf-8').hex()\n"
    "    pids = ','.join(str(p) for p in sorted(o['pids']))\n"
    "    owner = ''\n"
    "    if o['type'] == 'mutex':\n"
    "        w = o['owner'] or {'pid': '-', 'tid': '-'}\n"
    "        owner = ' owner %s %s abandoned %s' % (w['pid'], w['tid'], o['abandoned'])\n"
    "    print(o['type'], o['size'], o['holders'], pids or '-', n + owner)\n"
    "print('pool', d['pool']['size'], d['pool']['used'])\n";

/* ls --json on node: checks it with python3 -m json.tool and leaves its
 * digest (json_digest) in *digest. */
static void ls_json(const char *node, struct run *digest)
{
#ifndef IWIN32_PYTHON3
    (void)node;
    (void)digest;
    skip(); /* CI installs python3; without it the JSON cannot be checked */
#else
    struct run r;
    expect_code((cli(&r, node, "ls", "--json", NULL), &r), EXIT_OK);
    char file[600];
    tn_path(file, sizeof file, "ls.json");
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(r.out, f);
    fclose(f);
    struct run check;
    run_argv(&check, (char *const[]){IWIN32_PYTHON3, "-m", "json.tool", file, NULL});
    if (check.code != 0)
        fail_msg("not JSON (%s):\n%s", check.err, r.out);
    run_argv(digest, (char *const[]){IWIN32_PYTHON3, "-c", (char *)json_digest, file, NULL});
    if (digest->code != 0)
        fail_msg("JSON not as documented (%s):\n%s", digest->err, r.out);
#endif
}

static int count_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static void test_ls_lists_odd_names_until_killed(void **state)
{
    (void)state;
    struct node n;
    node_init(&n, "node-ls");
    char long_name[260];
    for (int i = 0; i < 259; i++)
        long_name[i] = (char)('A' + i % 26);
    long_name[259] = '\0';
    struct tn_peer a, b;
    tn_peer_start(&a, n.peer_env, "create", "with space", "5000", "create", "\xc3\xa9t\xc3\xa9/\xe2\x82\xac", "100",
                  "create", "ctl\x01\x1f\x7f end", "4096", "create", long_name, "8192", "create", "@", "1",
                  "create", "bad\xff", "1", "sync", "e", "an event", "sync", "m", "mu/../tex", "sync", "s",
                  "(unnamed)", "ready", "sleep", NULL);
    for (int i = 0; i < 6; i++)
        expect_line(&a, "create 1 0");
    for (int i = 0; i < 3; i++)
        expect_line(&a, "sync 1 0");
    expect_line(&a, "ready");
    tn_peer_start(&b, n.peer_env, "open", "with space", "ready", "sleep", NULL);
    expect_line(&b, "open 1 12345");
    expect_line(&b, "ready");

    struct run digest;
    ls_json(n.dir, &digest);
    pid_t first = a.pid < b.pid ? a.pid : b.pid, second = a.pid < b.pid ? b.pid : a.pid;
    size_t page = tn_page();
    char want[1024], h[600];
    struct { const char *type; unsigned size; const char *name; } objects[] = {
        {"shm", 100, "\xc3\xa9t\xc3\xa9/\xe2\x82\xac"}, {"shm", 4096, "ctl\x01\x1f\x7f end"},
        {"shm", 8192, long_name}, {"shm", 1, "bad\\xff"}, /* not UTF-8: the \xNN text form */
        {"event", 0, "an event"}, {"mutex", 0, "mu/../tex"}, {"semaphore", 0, "(unnamed)"},
    };
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++) {
        snprintf(want, sizeof want, "%s %u 1 %d %s%s\n", objects[i].type, objects[i].size, (int)a.pid,
                 hex(h, objects[i].name), strcmp(objects[i].type, "mutex") ? "" : " owner - - abandoned False");
        expect_text(digest.out, want);
    }
    snprintf(want, sizeof want, "shm 5000 2 %d,%d %s\n", (int)first, (int)second, hex(h, "with space"));
    expect_text(digest.out, want);
    snprintf(want, sizeof want, "shm 1 1 %d -\n", (int)a.pid);
    expect_text(digest.out, want);
    /* Pages: 5000 -> 2, 100, 4096, 1, 1 -> 1 each, 8192 -> 2; sync objects none. */
    snprintf(want, sizeof want, "pool %u %zu\n", 256 * MIB, 8 * page);
    expect_text(digest.out, want);
    snprintf(want, sizeof want, "node %s\n", n.dir); /* which node: a wrong $IWIN32_ROOT shows */
    expect_text(digest.out, want);
    assert_int_equal(count_lines(digest.out), 11);

    /* The table: the same objects, names escaped for a terminal. */
    struct run r;
    expect_code((cli(&r, n.dir, "ls", NULL), &r), EXIT_OK);
    expect_text(r.out, " with\\x20space\n");
    expect_text(r.out, " ctl\\x01\\x1f\\x7f\\x20end\n");
    expect_text(r.out, " \\x28unnamed)\n");
    expect_text(r.out, " (unnamed)\n");
    expect_text(r.out, " \xc3\xa9t\xc3\xa9/\xe2\x82\xac\n");
    snprintf(want, sizeof want, "node: %s\n", n.dir);
    assert_true(strncmp(r.out, want, strlen(want)) == 0);
    if (count_lines(r.out) != 1 + 1 + 9 + 1) /* 11 once in CI under load: show it */
        fprintf(stderr, "ls printed:\n%s\n", r.out);
    assert_int_equal(count_lines(r.out), 1 + 1 + 9 + 1);

    /* Killed holders hold nothing: the leftovers are no objects. */
    assert_true(tn_killed_by(tn_peer_kill(&a), SIGKILL));
    assert_true(tn_killed_by(tn_peer_kill(&b), SIGKILL));
    assert_true(tn_count_objects(n.dir) > 0); /* nobody has removed them yet */
    ls_json(n.dir, &digest);
    snprintf(want, sizeof want, "node %s\npool %u 0\n", n.dir, 256 * MIB);
    assert_string_equal(digest.out, want);
    assert_int_equal(tn_count_objects(n.dir), 0); /* removed on the way, as the library would */
}

/* ---- show ----------------------------------------------------------------------- */

static void test_show(void **state)
{
    (void)state;
    struct node n;
    node_init(&n, "node-show");
    char long_name[260];
    memset(long_name, 'L', 259);
    long_name[259] = '\0';
    struct tn_peer a;
    tn_peer_start(&a, n.peer_env, "create", long_name, "4096", "put", "4", "0x44434241", "create", "dump me", "300",
                  "put", "0", "0x64636261", "put", "296", "0x7a797877", "sync", "e", "ev", "sync", "s", "sem", "sync",
                  "m", "mutex", "ready", "sleep", NULL);
    expect_line(&a, "create 1 0");
    expect_line(&a, "create 1 0");
    for (int i = 0; i < 3; i++)
        expect_line(&a, "sync 1 0");
    expect_line(&a, "ready");

    struct run r;
    char pids[64];
    snprintf(pids, sizeof pids, "pids:     %d\n", (int)a.pid);
    expect_code((cli(&r, n.dir, "show", "dump me", NULL), &r), EXIT_OK);
    expect_text(r.out, "type:     shm\n");
    expect_text(r.out, "size:     300 bytes");
    expect_text(r.out, "holders:  1\n");
    expect_text(r.out, pids);
    expect_text(r.out, "data (first 256 of 300 bytes):\n");
    expect_text(r.out, "00000000  61 62 63 64 00 00 00 00  00 00 00 00 00 00 00 00  |abcd............|\n");
    expect_text(r.out, "*\n00000100\n");

    /* --bytes, with the name in its escaped form; the whole object. */
    expect_code((cli(&r, n.dir, "show", "--bytes", "6", "dump\\x20me", NULL), &r), EXIT_OK);
    expect_text(r.out, "00000000  61 62 63 64 00 00  ");
    expect_text(r.out, "|abcd..|\n00000006\n");
    expect_code((cli(&r, n.dir, "show", "--bytes", "100000", "dump me", NULL), &r), EXIT_OK);
    expect_text(r.out, "data (first 300 of 300 bytes):\n");
    expect_text(r.out, "00000120  00 00 00 00 00 00 00 00  77 78 79 7a              |........wxyz|\n0000012c\n");

    /* A name too long for a file name: its data follows a header page. */
    expect_code((cli(&r, n.dir, "show", "--bytes", "8", long_name, NULL), &r), EXIT_OK);
    expect_text(r.out, "size:     4096 bytes");
    expect_text(r.out, "00000000  00 00 00 00 41 42 43 44                           |....ABCD|\n");

    expect_code((cli(&r, n.dir, "show", "ev", NULL), &r), EXIT_OK);
    expect_text(r.out, "type:     event\n");
    expect_text(r.out, "state:    manual-reset, not signalled, 0 waiting\n");
    expect_code((cli(&r, n.dir, "show", "sem", NULL), &r), EXIT_OK);
    expect_text(r.out, "state:    count 0 of 1, 0 waiting\n");
    expect_code((cli(&r, n.dir, "show", "mutex", NULL), &r), EXIT_OK);
    expect_text(r.out, "type:     mutex\n");

    expect_code((cli(&r, n.dir, "show", "nothing here", NULL), &r), EXIT_FAILED);
    expect_text(r.err, "iwin32: no object named nothing\\x20here\n");
    /* The object's holder killed: it is gone for show too, and show says
     * what it was (test_show_reports_a_crash_leftover). */
    assert_true(tn_killed_by(tn_peer_kill(&a), SIGKILL));
    expect_code((cli(&r, n.dir, "show", "dump me", NULL), &r), EXIT_FAILED);
    expect_text(r.err, "iwin32: shm dump\\x20me: a leftover of a crashed process");
}

static void *wait_forever(void *event)
{
    return (void *)(uintptr_t)RtWaitForSingleObject(event, INFINITE);
}

/* State made by this process, read by the tool in its own. */
static void test_show_sync_state(void **state)
{
    (void)state;
    HANDLE ev = RtCreateEvent(NULL, FALSE, TRUE, "auto event");
    HANDLE manual = RtCreateEvent(NULL, TRUE, FALSE, "manual event");
    HANDLE sem = RtCreateSemaphore(NULL, 3, 5, "sem 3/5");
    assert_true(ev && manual && sem);
    struct run r;
    char pids[64];
    snprintf(pids, sizeof pids, "pids:     %d\n", (int)getpid());
    expect_code((cli(&r, tn_root(), "show", "auto event", NULL), &r), EXIT_OK);
    expect_text(r.out, "state:    auto-reset, signalled, 0 waiting\n");
    expect_text(r.out, pids);
    expect_code((cli(&r, tn_root(), "show", "sem 3/5", NULL), &r), EXIT_OK);
    expect_text(r.out, "state:    count 3 of 5, 0 waiting\n");

    /* A thread asleep on the event is a waiter (it registers before it
     * sleeps: the tool may look before that, so it looks again). */
    pthread_t waiter;
    assert_int_equal(pthread_create(&waiter, NULL, wait_forever, manual), 0);
    int64_t deadline = tn_now_ms() + TN_TIMEOUT_MS;
    do
        expect_code((cli(&r, tn_root(), "show", "manual event", NULL), &r), EXIT_OK);
    while (strstr(r.out, "1 waiting") == NULL && tn_now_ms() < deadline);
    expect_text(r.out, "state:    manual-reset, not signalled, 1 waiting\n");
    assert_true(RtSetEvent(manual));
    void *result;
    assert_int_equal(pthread_join(waiter, &result), 0);
    assert_int_equal((uintptr_t)result, WAIT_OBJECT_0);
    expect_code((cli(&r, tn_root(), "show", "manual event", NULL), &r), EXIT_OK);
    expect_text(r.out, "state:    manual-reset, signalled, 0 waiting\n");
    assert_true(CloseHandle(ev) && CloseHandle(manual) && CloseHandle(sem));
    expect_code((cli(&r, tn_root(), "show", "auto event", NULL), &r), EXIT_FAILED);
}

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

/* ---- ls filters and --watch; a mutex's owner; a crash leftover ------------------- */

static void test_ls_filters_and_watch(void **state)
{
    (void)state;
    struct node n;
    node_init(&n, "node-filter");
    struct tn_peer a, b;
    tn_peer_start(&a, n.peer_env, "create", "a.shm", "10", "sync", "e", "a.ev", "ready", "sleep", NULL);
    expect_line(&a, "create 1 0");
    expect_line(&a, "sync 1 0");
    expect_line(&a, "ready");
    tn_peer_start(&b, n.peer_env, "sync", "m", "b.mx", "osync", "e", "a.ev", "ready", "sleep", NULL);
    expect_line(&b, "sync 1 0");
    expect_line(&b, "osync 1 12345"); /* an open leaves the last error alone */
    expect_line(&b, "ready");

    struct run r;
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)b.pid);
    expect_code((cli(&r, n.dir, "ls", "--pid", pid, NULL), &r), EXIT_OK);
    expect_text(r.out, " a.ev\n");
    expect_text(r.out, " b.mx\n");
    assert_null(strstr(r.out, "a.shm"));
    expect_code((cli(&r, n.dir, "ls", "--type", "event", NULL), &r), EXIT_OK);
    expect_text(r.out, " a.ev\n");
    assert_int_equal(count_lines(r.out), 4); /* node, header, a.ev, pool */
    expect_code((cli(&r, n.dir, "ls", "--type", "shm", "--pid", pid, NULL), &r), EXIT_OK);
    assert_int_equal(count_lines(r.out), 3); /* none: b holds no shared memory */
    expect_code((cli(&r, n.dir, "ls", "--json", "--type", "mutex", NULL), &r), EXIT_OK);
    expect_text(r.out, "\"name\": \"b.mx\", \"type\": \"mutex\"");
    expect_text(r.out, "\"owner\": null, \"abandoned\": false}");

    /* --watch: a listing, then one every 0.1 s; the time between them is
     * the interval at least. */
    int64_t start = tn_now_ms();
    expect_code((cli(&r, n.dir, "ls", "--watch", "0.1", "--count", "3", "--type", "shm", NULL), &r), EXIT_OK);
    assert_true(tn_now_ms() - start >= 200);
    int listings = 0;
    for (const char *p = r.out; (p = strstr(p, "Every 0.1s: iwin32 ls")) != NULL; p++)
        listings++;
    assert_int_equal(listings, 3);
    if (count_lines(r.out) != 3 * 5 + 2) /* seen twice under load, not reproduced since: show it */
        fprintf(stderr, "ls --watch printed:\n%s\n", r.out);
    assert_int_equal(count_lines(r.out), 3 * 5 + 2); /* Every, node, header, a.shm, pool; 2 blank lines */
    /* JSON: one document per listing; the objects change between them. */
    expect_code((cli(&r, n.dir, "ls", "--json", "--watch=0.1", "--count", "2", NULL), &r), EXIT_OK);
    assert_non_null(strstr(strstr(r.out, "\"node\"") + 1, "\"node\""));
    assert_true(tn_killed_by(tn_peer_kill(&a), SIGKILL));
    assert_true(tn_killed_by(tn_peer_kill(&b), SIGKILL));
}

static void test_show_mutex_owner_and_abandoned(void **state)
{
    (void)state;
    struct node n; /* this process's own node: it holds the mutex too */
    snprintf(n.dir, sizeof n.dir, "%s", tn_root());
    snprintf(n.env, sizeof n.env, "IWIN32_ROOT=%s", n.dir);
    const char *env[] = {n.env, NULL};
    struct tn_peer a;
    tn_peer_start(&a, env, "sync", "M", "owned", "ready", "sleep", NULL);
    expect_line(&a, "sync 1 0");
    expect_line(&a, "ready");
    HANDLE m = RtOpenMutex(0, FALSE, "owned"); /* a second holder: the mutex outlives its owner */
    assert_non_null(m);

    struct run r;
    char want[128];
    /* The peer is single-threaded: its main thread's tid is its pid. */
    snprintf(want, sizeof want, "owner:    pid %d, thread %d, 1 acquisition\n", (int)a.pid, (int)a.pid);
    expect_code((cli(&r, n.dir, "show", "owned", NULL), &r), EXIT_OK);
    expect_text(r.out, want);
    expect_text(r.out, "state:    not abandoned, 0 waiting in multi-object waits\n");
    expect_text(r.out, "created:  ");
    struct run digest;
    ls_json(n.dir, &digest);
    snprintf(want, sizeof want, " owner %d %d abandoned False\n", (int)a.pid, (int)a.pid);
    expect_text(digest.out, want);

    /* Killed holding it: the kernel marks it (robust mutex), nobody owns it. */
    assert_true(tn_killed_by(tn_peer_kill(&a), SIGKILL));
    expect_code((cli(&r, n.dir, "show", "owned", NULL), &r), EXIT_OK);
    expect_text(r.out, "owner:    none\nstate:    abandoned (its owner died holding it");
    ls_json(n.dir, &digest);
    expect_text(digest.out, " owner - - abandoned True\n");
    /* Acquiring it tells of the abandonment, and clears it. */
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_ABANDONED_0);
    snprintf(want, sizeof want, "owner:    pid %d, thread %d, 1 acquisition\n", (int)getpid(), (int)gettid());
    expect_code((cli(&r, n.dir, "show", "owned", NULL), &r), EXIT_OK);
    expect_text(r.out, want);
    expect_text(r.out, "state:    not abandoned");
    assert_true(RtReleaseMutex(m) && CloseHandle(m));
}

static void test_show_reports_a_crash_leftover(void **state)
{
    (void)state;
    struct node n;
    node_init(&n, "node-leftover");
    struct tn_peer a;
    tn_peer_start(&a, n.peer_env, "create", "crashed", "100", "ready", "sleep", NULL);
    expect_line(&a, "create 1 0");
    expect_line(&a, "ready");
    assert_true(tn_killed_by(tn_peer_kill(&a), SIGKILL));
    struct run r;
    expect_code((cli(&r, n.dir, "show", "crashed", NULL), &r), EXIT_FAILED);
    expect_text(r.err, "iwin32: shm crashed: a leftover of a crashed process (no process held it): reclaimed");
    expect_code((cli(&r, n.dir, "show", "crashed", NULL), &r), EXIT_FAILED);
    expect_text(r.err, "iwin32: no object named crashed\n");
}

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
    tn_setup("cli");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ls_lists_odd_names_until_killed, tn_teardown),
        cmocka_unit_test_teardown(test_show, tn_teardown),
        cmocka_unit_test_teardown(test_show_sync_state, tn_teardown),
        cmocka_unit_test_teardown(test_rm, tn_teardown),
        cmocka_unit_test_teardown(test_gc_after_kill, tn_teardown),
        cmocka_unit_test_teardown(test_gc_on_damaged_header, tn_teardown),
        cmocka_unit_test_teardown(test_foreign_files_untouched, tn_teardown),
        cmocka_unit_test_teardown(test_pool_set, tn_teardown),
        cmocka_unit_test_teardown(test_ls_filters_and_watch, tn_teardown),
        cmocka_unit_test_teardown(test_show_mutex_owner_and_abandoned, tn_teardown),
        cmocka_unit_test_teardown(test_show_reports_a_crash_leftover, tn_teardown),
        cmocka_unit_test_teardown(test_usage_and_exit_codes, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
