/*
 * The iwin32 command-line tool (tools/, iwin32(1)), run as a real program
 * (fork + exec) against objects that shm_peer processes create and hold: the
 * commands that look, ls (its filters, --watch, and its JSON, parsed by
 * python3) and show, and what their figures say when a holder is SIGKILLed
 * (a mutex abandoned, a crash leftover).  The commands that change a node
 * (rm, gc, pool), files the library did not make and the command line's
 * usage and exit codes: test_cli_admin.c; the helpers: test_cli_util.h.
 * Each test has its own node, so they are independent.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_cli_util.h"
#include "test_node.h"

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

int main(int argc, char **argv)
{
    tn_setup("cli");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ls_lists_odd_names_until_killed, tn_teardown),
        cmocka_unit_test_teardown(test_show, tn_teardown),
        cmocka_unit_test_teardown(test_show_sync_state, tn_teardown),
        cmocka_unit_test_teardown(test_ls_filters_and_watch, tn_teardown),
        cmocka_unit_test_teardown(test_show_mutex_owner_and_abandoned, tn_teardown),
        cmocka_unit_test_teardown(test_show_reports_a_crash_leftover, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
