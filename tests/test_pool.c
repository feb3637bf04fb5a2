/*
 * SPEC 5: the pool.  This executable's node is made with IWIN32_POOL_MB=4:
 * objects count whole pages, Creates fill it exactly and the next one fails
 * with ERROR_NOT_ENOUGH_MEMORY leaving nothing behind, the accounting is
 * node-wide (other processes see it) and survives kills and racing closers;
 * invalid IWIN32_POOL_MB values are refused loudly; the default is 256 MiB.
 * iwin32PoolInfo and refused Creates under churn: test_pool_churn.c; the
 * node they share: test_pool_util.h.
 */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>
#include <iwin32_inspect.h>

#include "test_node.h"
#include "test_pool_util.h"

/* A Create the pool cannot hold: NULL, ERROR_NOT_ENOUGH_MEMORY, and the
 * node's files and pool exactly as before. */
static void expect_no_room(const char *name, DWORD size)
{
    char before[4096], after[4096];
    tn_list_dir(tn_root(), before, sizeof before);
    uint64_t used = tn_pool_used();
    void *p = NULL;
    HANDLE h = tn_shm_create(name, size, &p);
    DWORD err = GetLastError();
    tn_list_dir(tn_root(), after, sizeof after);
    if (h != NULL || err != ERROR_NOT_ENOUGH_MEMORY)
        fail_msg("create \"%s\" %u: handle %p, error %u (pool %llu used)", name ? name : "(null)", size, h, err,
                 (unsigned long long)used);
    assert_string_equal(after, before);
    assert_int_equal(tn_pool_used(), used);
}

static void test_pool_size(void **state)
{
    (void)state;
    assert_int_equal(tn_pool_size(), POOL);
    assert_int_equal(tn_pool_used(), 0);
}

static void test_exhaustion(void **state)
{
    (void)state;
    void *full = NULL;
    HANDLE hf = tn_shm_create("p-full", POOL, &full);
    assert_non_null(hf);
    assert_int_equal(GetLastError(), 0);
    assert_int_equal(tn_pool_used(), POOL);
    memset(full, 0xF0, POOL);

    expect_no_room("p-extra", 1);
    expect_no_room(NULL, 1);
    expect_no_room("", 4096);
    void *p = NULL;
    SetLastError(SENTINEL);
    assert_null(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "p-extra", &p));
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);

    /* A full pool does not stop a Create of an existing name: that is an Open. */
    void *again = NULL;
    HANDLE ha = tn_shm_create("p-full", POOL, &again);
    assert_non_null(ha);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    assert_int_equal(((unsigned char *)again)[POOL - 1], 0xF0);
    tn_shm_release(ha, again);

    /* Another process sees the same pool, full. */
    struct tn_peer peer;
    tn_peer_start(&peer, NULL, "create", "p-peer", "1", "create", "-", "1", "open", "p-full", "pool", NULL);
    assert_true(tn_peer_expect(&peer, "create 0 8"));
    assert_true(tn_peer_expect(&peer, "create 0 8"));
    assert_true(tn_peer_expect(&peer, "open 1 12345"));
    assert_true(tn_peer_expect(&peer, "pool 1 4194304 4194304"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));
    assert_int_equal(tn_count_objects(NULL), 1);

    /* Space returned after close. */
    tn_shm_release(hf, full);
    assert_int_equal(tn_pool_used(), 0);
    tn_peer_start(&peer, NULL, "pool", "create", "p-peer", "4194304", "pool", NULL);
    assert_true(tn_peer_expect(&peer, "pool 1 4194304 0"));
    assert_true(tn_peer_expect(&peer, "create 1 0"));
    assert_true(tn_peer_expect(&peer, "pool 1 4194304 4194304"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));
    void *e = NULL;
    HANDLE he = tn_shm_create("p-extra", POOL, &e);
    assert_non_null(he);
    assert_int_equal(GetLastError(), 0);
    tn_shm_release(he, e);
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

static void test_page_rounding(void **state)
{
    (void)state;
    const size_t page = tn_page();
    const DWORD odd = MIB + 1; /* counts MIB/page + 1 pages */
    const uint64_t odd_pages = MIB / page + 1;
    void *m[4];
    HANDLE h[4];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "p-odd-%d", i);
        h[i] = tn_shm_create(name, odd, &m[i]);
        assert_non_null(h[i]);
    }
    assert_int_equal(tn_pool_used(), 3 * odd_pages * page);
    /* Exactly what is left fits (unnamed objects count too)... */
    DWORD rest = (DWORD)(POOL - 3 * odd_pages * page);
    h[3] = tn_shm_create(NULL, rest, &m[3]);
    assert_non_null(h[3]);
    assert_int_equal(tn_pool_used(), POOL);
    /* ...and then not one byte more. */
    expect_no_room("p-one", 1);
    /* Closing one returns exactly its pages. */
    tn_shm_release(h[1], m[1]);
    assert_int_equal(tn_pool_used(), POOL - odd_pages * page);
    expect_no_room("p-one", (DWORD)(odd_pages * page + 1));
    h[1] = tn_shm_create("p-one", (DWORD)(odd_pages * page), &m[1]);
    assert_non_null(h[1]);
    assert_int_equal(tn_pool_used(), POOL);
    for (int i = 0; i < 4; i++)
        tn_shm_release(h[i], m[i]);
    assert_int_equal(tn_pool_used(), 0);
    /* A one-byte object counts one page. */
    h[0] = tn_shm_create("p-byte", 1, &m[0]);
    assert_non_null(h[0]);
    assert_int_equal(tn_pool_used(), page);
    tn_shm_release(h[0], m[0]);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* The library's own bookkeeping does not count: a 259-byte name keeps its
 * name in a header page of the object's file (name.h), and a pool-sized
 * object of such a name still fits. */
static void test_bookkeeping_not_counted(void **state)
{
    (void)state;
    char name[260];
    memset(name, 'H', 259);
    name[259] = '\0';
    void *p = NULL;
    HANDLE h = tn_shm_create(name, POOL, &p);
    assert_non_null(h);
    assert_int_equal(GetLastError(), 0);
    assert_int_equal(tn_pool_used(), POOL);
    memset(p, 1, POOL);
    expect_no_room("p-one", 1);
    tn_shm_release(h, p);
    h = tn_shm_create(name, (DWORD)tn_page(), &p);
    assert_non_null(h);
    assert_int_equal(tn_pool_used(), tn_page());
    tn_shm_release(h, p);
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

static void test_larger_than_pool(void **state)
{
    (void)state;
    expect_no_room("p-big", POOL + 1);
    expect_no_room("p-big", 0x80000000u);
    expect_no_room("p-big", 0xFFFFFFFFu);
    expect_no_room(NULL, 0xFFFFFFFFu);
    assert_int_equal(tn_count_objects(NULL), 0);
}

static void test_space_returned_after_kill(void **state)
{
    (void)state;
    struct tn_peer holder, other;
    tn_peer_start(&holder, NULL, "create", "p-kill", "4194304", "ready", "sleep", NULL);
    assert_true(tn_peer_expect(&holder, "create 1 0"));
    assert_true(tn_peer_expect(&holder, "ready"));
    /* Full, as seen from here and from a third process. */
    expect_no_room("p-x", 1);
    tn_peer_start(&other, NULL, "create", "p-y", "1", NULL);
    assert_true(tn_peer_expect(&other, "create 0 8"));
    assert_true(tn_exited_ok(tn_peer_finish(&other)));

    assert_true(tn_killed_by(tn_peer_kill(&holder), SIGKILL));
    /* No recount asked for: the Create itself must find the space. */
    void *p = NULL;
    HANDLE h = tn_shm_create("p-x", POOL, &p);
    assert_non_null(h);
    assert_int_equal(GetLastError(), 0);
    tn_shm_release(h, p);

    /* And after a holder that exits normally. */
    tn_peer_start(&holder, NULL, "create", "p-exit", "4194304", NULL);
    assert_true(tn_peer_expect(&holder, "create 1 0"));
    assert_true(tn_exited_ok(tn_peer_finish(&holder)));
    h = tn_shm_create("p-x", POOL, &p);
    assert_non_null(h);
    assert_int_equal(GetLastError(), 0);
    tn_shm_release(h, p);
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* The holder of a pool-sized object is killed, and the same name is created
 * again at once, pool-sized: a fresh object (what the dead one left is
 * neither alive nor counted). */
static void test_same_name_after_kill(void **state)
{
    (void)state;
    struct tn_peer holder;
    tn_peer_start(&holder, NULL, "create", "p-same", "4194304", "put", "0", "77", "ready", "sleep", NULL);
    assert_true(tn_peer_expect(&holder, "create 1 0"));
    assert_true(tn_peer_expect(&holder, "ready"));
    assert_true(tn_killed_by(tn_peer_kill(&holder), SIGKILL));
    unsigned char *p = NULL;
    HANDLE h = tn_shm_create("p-same", POOL, (void **)&p);
    assert_non_null(h);
    assert_int_equal(GetLastError(), 0);
    for (size_t i = 0; i < POOL; i += 512)
        assert_int_equal(p[i], 0);
    assert_int_equal(tn_pool_used(), POOL);
    tn_shm_release(h, p);
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* A name too long for a file name is kept in a header page before the data
 * (an "h-" file), which the object does not count.  Its file while being
 * made has the header too: a Create that recounts (the word full of what a
 * killed holder left) must leave the word at the object's own pages, not a
 * page more - the word read straight (what gc shows as "counted before"),
 * before any recount repairs it. */
static void test_hashed_name_counted_exactly(void **state)
{
    (void)state;
    struct tn_peer holder;
    tn_peer_start(&holder, NULL, "create", "p-stale", "4194304", "ready", "sleep", NULL);
    assert_true(tn_peer_expect(&holder, "create 1 0"));
    assert_true(tn_peer_expect(&holder, "ready"));
    assert_true(tn_killed_by(tn_peer_kill(&holder), SIGKILL));
    char name[256];
    memset(name, 'q', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    void *p = NULL;
    HANDLE h = tn_shm_create(name, 4096, &p);
    assert_non_null(h);
    assert_int_equal(GetLastError(), 0);
    uint64_t counted = 0;
    assert_true(iwin32InspectPoolCounted(&counted));
    assert_int_equal(counted, 4096);
    assert_int_equal(tn_pool_used(), 4096);
    tn_shm_release(h, p);
    assert_true(iwin32InspectPoolCounted(&counted));
    assert_int_equal(counted, 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* Processes racing to fill the pool: exactly as many 1 MiB objects as fit
 * are made, node-wide. */
static void test_concurrent_fill(void **state)
{
    (void)state;
    enum { CHILDREN = 4, EACH = 3 };
    int start[2], done[2], hold[2];
    tn_pipe(start);
    tn_pipe(done);
    tn_pipe(hold);
    pid_t pid[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
        pid[c] = tn_fork();
        if (pid[c] == 0) {
            tn_close(start[1]);
            tn_close(done[0]);
            tn_close(hold[1]);
            char b;
            TN_CHILD_CHECK(read(start[0], &b, 1) == 0); /* EOF: everyone starts now */
            int made = 0;
            for (int i = 0; i < EACH; i++) {
                void *p;
                char name[32];
                snprintf(name, sizeof name, "p-fill-%d-%d", c, i);
                HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, MIB, i == 1 ? NULL : name, &p);
                if (h != NULL)
                    made++;
                else
                    TN_CHILD_CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
            }
            char m = (char)('0' + made);
            TN_CHILD_CHECK(write(done[1], &m, 1) == 1);
            TN_CHILD_CHECK(read(hold[0], &b, 1) == 0); /* hold everything until told */
            _exit(0);
        }
    }
    tn_close(start[0]);
    tn_close(done[1]);
    tn_close(hold[0]);
    tn_close(start[1]);
    int total = 0;
    for (int c = 0; c < CHILDREN; c++) {
        char m;
        struct pollfd pfd = {.fd = done[0], .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, TN_TIMEOUT_MS), 1);
        assert_int_equal(read(done[0], &m, 1), 1);
        total += m - '0';
    }
    assert_int_equal(total, POOL / MIB);
    assert_int_equal(tn_pool_used(), POOL);
    assert_int_equal(tn_count_objects(NULL), POOL / MIB);
    tn_close(hold[1]);
    for (int c = 0; c < CHILDREN; c++)
        assert_true(tn_exited_ok(tn_wait(pid[c], TN_TIMEOUT_MS)));
    tn_close(done[0]);
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* Recounts running at once in processes forked after the node was opened
 * (and so sharing its directory descriptor's description): each must see
 * every object.  A recount that read the directory through a dup of that
 * descriptor shared its read position with the others and saw a part. */
static void test_concurrent_recounts(void **state)
{
    (void)state;
    enum { OBJECTS = 4, CHILDREN = 2, RECOUNTS = 50000 };
    HANDLE h[OBJECTS];
    void *p[OBJECTS];
    for (int i = 0; i < OBJECTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "p-recount-%d", i);
        h[i] = tn_shm_create(name, 4096, &p[i]);
        assert_non_null(h[i]);
    }
    uint64_t expected = OBJECTS * tn_page();
    pid_t pid[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
        pid[c] = tn_fork();
        if (pid[c] == 0) {
            int wrong = 0;
            for (int i = 0; i < RECOUNTS; i++) {
                uint64_t size, used;
                if (!iwin32PoolInfo(&size, &used) || used != expected)
                    wrong++;
            }
            if (wrong)
                fprintf(stderr, "child %d: %d of %d recounts wrong\n", c, wrong, RECOUNTS);
            _exit(wrong ? 1 : 0);
        }
    }
    for (int c = 0; c < CHILDREN; c++)
        assert_true(tn_exited_ok(tn_wait(pid[c], 4 * TN_TIMEOUT_MS)));
    assert_int_equal(tn_pool_used(), expected);
    for (int i = 0; i < OBJECTS; i++)
        tn_shm_release(h[i], p[i]);
}

/* Two processes, the last holders of a pool-sized object, close it at the
 * same instant and live on.  Each one's upgrade to the write lock could
 * fail on the other's read lock, leaving the object stale with its pages
 * counted and nobody dead: a Create of the whole pool was then refused
 * from the pool's word, wrongly (it fits once the object is gone).  Now
 * the one that tries after the other let go destroys it (reflock.c). */
static void test_racing_closers(void **state)
{
    (void)state;
    int wrong = -1, rounds = 300;
    for (int round = 0; round < rounds && wrong < 0; round++) {
        void *p = NULL;
        HANDLE x = RtCreateSharedMemory(PAGE_READWRITE, 0, POOL, "p-racing", &p);
        assert_non_null(x);
        int go[2], done[2];
        tn_pipe(go);
        tn_pipe(done);
        pid_t closer[2];
        for (int i = 0; i < 2; i++) {
            closer[i] = tn_fork(); /* holds the object from the fork on */
            if (closer[i] == 0) {
                char b;
                TN_CHILD_CHECK(read(go[0], &b, 1) == 1);
                TN_CHILD_CHECK(RtUnmapSharedMemory(p) && CloseHandle(x));
                TN_CHILD_CHECK(write(done[1], "d", 1) == 1);
                pause(); /* alive: nobody dies holding it */
                _exit(0);
            }
        }
        tn_shm_release(x, p);
        assert_int_equal(write(go[1], "gg", 2), 2);
        char b[2];
        assert_int_equal(read(done[0], &b[0], 1), 1);
        assert_int_equal(read(done[0], &b[1], 1), 1);
        HANDLE all = RtCreateSharedMemory(PAGE_READWRITE, 0, POOL, NULL, &p);
        if (all == NULL)
            wrong = round;
        else
            tn_shm_release(all, p);
        for (int i = 0; i < 2; i++) {
            kill(closer[i], SIGKILL);
            assert_true(tn_killed_by(tn_wait(closer[i], TN_TIMEOUT_MS), SIGKILL));
        }
        tn_close(go[0]);
        tn_close(go[1]);
        tn_close(done[0]);
        tn_close(done[1]);
        uint64_t size, used;
        assert_true(iwin32PoolInfo(&size, &used)); /* the dead closers settled */
    }
    if (wrong >= 0)
        fail_msg("after two closers raced, a Create of the whole pool was refused (round %d of %d)", wrong + 1, rounds);
}

/* ---- the IWIN32_POOL_MB setting, in fresh nodes of their own -------------------- */

static void test_invalid_pool_setting(void **state)
{
    (void)state;
    const char *bad[] = {"5",   "0",    "-4",   "abc", "3",  "4abc",
                         "1.5", "4 ",   " 8",   "\t4", "+8", "0x10", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char root[700], env_root[800], env_pool[64];
        snprintf(root, sizeof root, "%s/bad-%zu", tn_base(), i);
        snprintf(env_root, sizeof env_root, "IWIN32_ROOT=%s", root);
        snprintf(env_pool, sizeof env_pool, "IWIN32_POOL_MB=%s", bad[i]);
        const char *env[] = {env_root, env_pool, NULL};
        struct tn_peer peer;
        tn_peer_start(&peer, env, "create", "pb", "4096", "open", "pb", "create", "-", "4096", "pool", NULL);
        bool ok = tn_peer_expect(&peer, "create 0 87") && tn_peer_expect(&peer, "open 0 87") &&
                  tn_peer_expect(&peer, "create 0 87") && tn_peer_expect(&peer, "pool 0 87");
        int status = tn_peer_finish(&peer);
        if (!ok)
            fail_msg("IWIN32_POOL_MB=\"%s\" was accepted", bad[i]);
        assert_true(tn_exited_ok(status));
        /* the user sees why: a message naming the variable */
        if (strstr(peer.errbuf, "IWIN32_POOL_MB") == NULL)
            fail_msg("IWIN32_POOL_MB=\"%s\": stderr was \"%s\"", bad[i], peer.errbuf);
        assert_int_equal(tn_count_objects(root), 0);
    }
}

static void test_pool_setting_and_default(void **state)
{
    (void)state;
    char root[700], env_root[800];
    struct tn_peer peer;

    /* 8 MiB, set when the node is made... */
    snprintf(root, sizeof root, "%s/eight", tn_base());
    snprintf(env_root, sizeof env_root, "IWIN32_ROOT=%s", root);
    const char *env8[] = {env_root, "IWIN32_POOL_MB=8", NULL};
    tn_peer_start(&peer, env8, "pool", "create", "x", "8388608", "pool", "create", "y", "1", NULL);
    assert_true(tn_peer_expect(&peer, "pool 1 8388608 0"));
    assert_true(tn_peer_expect(&peer, "create 1 0"));
    assert_true(tn_peer_expect(&peer, "pool 1 8388608 8388608"));
    assert_true(tn_peer_expect(&peer, "create 0 8"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));
    assert_string_equal(peer.errbuf, "");
    /* ...and kept: a later process's IWIN32_POOL_MB does not change it. */
    const char *env12[] = {env_root, "IWIN32_POOL_MB=12", NULL};
    tn_peer_start(&peer, env12, "pool", NULL);
    assert_true(tn_peer_expect(&peer, "pool 1 8388608 0"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));
    const char *env_none[] = {env_root, "IWIN32_POOL_MB", NULL};
    tn_peer_start(&peer, env_none, "pool", NULL);
    assert_true(tn_peer_expect(&peer, "pool 1 8388608 0"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));

    /* Without IWIN32_POOL_MB a new node's pool is 256 MiB. */
    snprintf(root, sizeof root, "%s/default", tn_base());
    snprintf(env_root, sizeof env_root, "IWIN32_ROOT=%s", root);
    const char *envd[] = {env_root, "IWIN32_POOL_MB", NULL};
    tn_peer_start(&peer, envd, "pool", "create", "-", "268435456", "pool", "create", "-", "1", NULL);
    assert_true(tn_peer_expect(&peer, "pool 1 268435456 0"));
    assert_true(tn_peer_expect(&peer, "create 1 0"));
    assert_true(tn_peer_expect(&peer, "pool 1 268435456 268435456"));
    assert_true(tn_peer_expect(&peer, "create 0 8"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));
}

int main(int argc, char **argv)
{
    tn_select_tests(argc, argv);
    pool_setup("pool");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_pool_size, tn_teardown),
        cmocka_unit_test_teardown(test_exhaustion, tn_teardown),
        cmocka_unit_test_teardown(test_page_rounding, tn_teardown),
        cmocka_unit_test_teardown(test_bookkeeping_not_counted, tn_teardown),
        cmocka_unit_test_teardown(test_larger_than_pool, tn_teardown),
        cmocka_unit_test_teardown(test_space_returned_after_kill, tn_teardown),
        cmocka_unit_test_teardown(test_same_name_after_kill, tn_teardown),
        cmocka_unit_test_teardown(test_hashed_name_counted_exactly, tn_teardown),
        cmocka_unit_test_teardown(test_concurrent_fill, tn_teardown),
        cmocka_unit_test_teardown(test_concurrent_recounts, tn_teardown),
        cmocka_unit_test_teardown(test_racing_closers, tn_teardown),
        cmocka_unit_test_teardown(test_invalid_pool_setting, tn_teardown),
        cmocka_unit_test_teardown(test_pool_setting_and_default, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
