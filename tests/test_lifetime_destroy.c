/*
 * SPEC 4 across processes: an object lives while any process holds a
 * handle, and the last holder's CloseHandle, exit or SIGKILL destroys it
 * (name free, pool space returned), also when two close at the same
 * instant; a mapping, kept or inherited, is not a reference (SPEC 3).  Real
 * processes: forked children, and the shm_peer program fork+exec'd.
 * Handles across fork and exec: test_lifetime.c.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"

/* SPEC 3: a mapping stays valid after CloseHandle, but it is not a
 * reference.  We close our handle and keep our mapping; the other holder
 * then closes its last handle, and the object must be gone - a mapping made
 * through the descriptor that holds the reference lock would keep it. */
static void test_mapping_is_not_a_reference(void **state)
{
    (void)state;
    const char *name = "lt-map-not-ref";
    void *p = NULL;
    HANDLE h = tn_shm_create(name, 4096, &p);
    assert_non_null(h);
    int ready[2], go[2];
    tn_pipe(ready);
    tn_pipe(go);
    pid_t pid = tn_fork();
    if (pid == 0) {
        void *q = NULL;
        HANDLE own = tn_shm_open(name, &q);
        TN_CHILD_CHECK(own != NULL);
        TN_CHILD_CHECK(CloseHandle(h)); /* the inherited one */
        TN_CHILD_CHECK(write(ready[1], "r", 1) == 1);
        char c;
        TN_CHILD_CHECK(read(go[0], &c, 1) == 1);
        TN_CHILD_CHECK(RtUnmapSharedMemory(q) && CloseHandle(own)); /* the last handle anywhere */
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_true(CloseHandle(h));
    ((volatile char *)p)[0] = 'x'; /* our mapping is still valid */
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    void *again = NULL;
    SetLastError(SENTINEL);
    assert_null(tn_shm_open(name, &again));
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    assert_true(RtUnmapSharedMemory(p));
    tn_close(ready[0]);
    tn_close(ready[1]);
    tn_close(go[0]);
    tn_close(go[1]);
}

/* Issue 11.5: shared memory mapped twice keeps the description its later
 * mappings are made through (object.h: iw_object_map); a child inherits it
 * with the record and maps through it too.  It carries no lock: once every
 * handle in both processes is closed the object is destroyed, while the
 * mappings made through it stay valid. */
static void test_kept_mapping_description_is_not_a_reference(void **state)
{
    (void)state;
    const char *name = "lt-map-fd";
    volatile char *p = NULL, *p2 = NULL;
    HANDLE h = tn_shm_create(name, 4096, (void **)&p);
    assert_non_null(h);
    HANDLE h2 = tn_shm_open(name, (void **)&p2); /* the second mapping: the description is kept */
    assert_non_null(h2);
    int ready[2], go[2];
    tn_pipe(ready);
    tn_pipe(go);
    pid_t pid = tn_fork();
    if (pid == 0) {
        volatile char *q = NULL;
        HANDLE own = tn_shm_open(name, (void **)&q);
        TN_CHILD_CHECK(own != NULL);
        q[1] = 'c';
        TN_CHILD_CHECK(CloseHandle(own) && CloseHandle(h) && CloseHandle(h2));
        TN_CHILD_CHECK(write(ready[1], "r", 1) == 1);
        char c;
        TN_CHILD_CHECK(read(go[0], &c, 1) == 1);
        TN_CHILD_CHECK(q[0] == 'p'); /* written after the destruction */
        TN_CHILD_CHECK(RtUnmapSharedMemory((void *)q));
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(p2[1], 'c');
    assert_true(CloseHandle(h2) && CloseHandle(h)); /* the last handles anywhere */
    tn_assert_gone(name);
    assert_int_equal(tn_pool_used(), 0);
    p[0] = 'p'; /* the mappings outlive the object's name */
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    assert_int_equal(p2[0], 'p');
    assert_true(RtUnmapSharedMemory((void *)p) && RtUnmapSharedMemory((void *)p2));
    assert_int_equal(tn_count_objects(NULL), 0);
    tn_close(ready[0]);
    tn_close(ready[1]);
    tn_close(go[0]);
    tn_close(go[1]);
}

/* ---- exit and SIGKILL ------------------------------------------------------------ */

static void test_exit_destroys(void **state)
{
    (void)state;
    /* exec'd program: creates, writes, returns from main holding it */
    struct tn_peer peer;
    tn_peer_start(&peer, NULL, "create", "lt-exit", "65536", "put", "0", "5", NULL);
    assert_true(tn_peer_expect(&peer, "create 1 0"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));
    tn_assert_gone("lt-exit");
    /* exit(3) right after Create */
    tn_peer_start(&peer, NULL, "create", "lt-exit", "65536", "put", "0", "5", "exit", "3", NULL);
    assert_true(tn_peer_expect(&peer, "create 1 0")); /* new: the last one is gone */
    int st = tn_peer_finish(&peer);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 3);
    /* a forked child, _exit */
    pid_t pid = tn_fork();
    if (pid == 0) {
        void *p;
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 65536, "lt-exit", &p);
        TN_CHILD_CHECK(h != NULL && GetLastError() == 0);
        memset(p, 1, 65536);
        _exit(0);
    }
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    tn_assert_gone("lt-exit");
    /* The name is free: a fresh, zero-filled object with last error 0. */
    unsigned char *p = NULL;
    HANDLE h = tn_shm_create("lt-exit", 65536, (void **)&p);
    assert_non_null(h);
    assert_int_equal(GetLastError(), 0);
    for (int i = 0; i < 65536; i++)
        assert_int_equal(p[i], 0);
    tn_shm_release(h, p);
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

static void test_sigkill_destroys(void **state)
{
    (void)state;
    struct tn_peer peer;
    tn_peer_start(&peer, NULL, "create", "lt-kill", "65536", "put", "0", "9", "ready", "sleep", NULL);
    assert_true(tn_peer_expect(&peer, "create 1 0"));
    assert_true(tn_peer_expect(&peer, "ready"));
    volatile int *q = NULL;
    HANDLE o = tn_shm_open("lt-kill", (void **)&q);
    assert_non_null(o);
    assert_int_equal(q[0], 9);
    tn_shm_release(o, (void *)q);
    assert_int_equal(tn_pool_used(), 65536);
    assert_true(tn_killed_by(tn_peer_kill(&peer), SIGKILL));
    tn_assert_gone("lt-kill");
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);

    /* Killed while we still hold it: it lives on, intact, until we close. */
    tn_peer_start(&peer, NULL, "create", "lt-kill", "65536", "put", "0", "10", "ready", "sleep", NULL);
    assert_true(tn_peer_expect(&peer, "create 1 0"));
    assert_true(tn_peer_expect(&peer, "ready"));
    o = tn_shm_open("lt-kill", (void **)&q);
    assert_non_null(o);
    assert_true(tn_killed_by(tn_peer_kill(&peer), SIGKILL));
    void *r = NULL;
    HANDLE o2 = tn_shm_open("lt-kill", &r);
    assert_non_null(o2);
    assert_int_equal(*(int *)r, 10);
    tn_shm_release(o2, r);
    assert_int_equal(tn_pool_used(), 65536);
    tn_shm_release(o, (void *)q);
    tn_assert_gone("lt-kill");
    assert_int_equal(tn_pool_used(), 0);
}

static void test_holders_killed_one_by_one(void **state)
{
    (void)state;
    enum { N = 3 };
    struct tn_peer peer[N];
    tn_peer_start(&peer[0], NULL, "create", "lt-multi", "4096", "put", "0", "77", "ready", "sleep", NULL);
    assert_true(tn_peer_expect(&peer[0], "create 1 0"));
    assert_true(tn_peer_expect(&peer[0], "ready"));
    for (int i = 1; i < N; i++) {
        tn_peer_start(&peer[i], NULL, "open", "lt-multi", "ready", "sleep", NULL);
        assert_true(tn_peer_expect(&peer[i], "open 1 12345"));
        assert_true(tn_peer_expect(&peer[i], "ready"));
    }
    for (int i = 0; i < N; i++) {
        assert_true(tn_killed_by(tn_peer_kill(&peer[i]), SIGKILL));
        if (i < N - 1) {
            void *q = NULL;
            HANDLE o = tn_shm_open("lt-multi", &q);
            assert_non_null(o);
            assert_int_equal(*(int *)q, 77);
            tn_shm_release(o, q);
            assert_int_equal(tn_pool_used(), 4096);
        }
    }
    tn_assert_gone("lt-multi");
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* Two processes close their last handles at the same instant, many times:
 * the object is destroyed every time (SPEC 4 lets its removal be lazy, as
 * long as no call can tell): Open fails, Create makes a fresh zero-filled
 * object with last error 0, and the pool comes back to 0. */
static void test_simultaneous_last_close(void **state)
{
    (void)state;
    enum { ROUNDS = 300 };
    for (int r = 0; r < ROUNDS; r++) {
        volatile uint32_t *p = NULL;
        HANDLE h = tn_shm_create("lt-simul", 65536, (void **)&p);
        assert_non_null(h);
        if (GetLastError() != 0 || p[100] != 0)
            fail_msg("round %d: Create found the object of the round before (error %u, data %u)", r,
                     GetLastError(), p[100]);
        p[100] = 0xFEEDu;
        int go[2];
        tn_pipe(go);
        pid_t pid = tn_fork();
        if (pid == 0) {
            tn_close(go[1]);
            char b;
            TN_CHILD_CHECK(read(go[0], &b, 1) == 0); /* EOF: close now */
            TN_CHILD_CHECK(CloseHandle(h));
            _exit(0);
        }
        tn_close(go[0]);
        tn_close(go[1]); /* both go */
        assert_true(CloseHandle(h));
        assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
        assert_true(RtUnmapSharedMemory((void *)p));
        void *q = NULL;
        SetLastError(SENTINEL);
        if (tn_shm_open("lt-simul", &q) != NULL || GetLastError() != ERROR_FILE_NOT_FOUND)
            fail_msg("round %d: the object outlived both holders (error %u)", r, GetLastError());
    }
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* A child creates by name, the parent opens it; it lives while either holds it. */
static void test_child_creates_parent_opens(void **state)
{
    (void)state;
    int ready[2], go[2];
    tn_pipe(ready);
    tn_pipe(go);
    pid_t pid = tn_fork();
    if (pid == 0) {
        tn_close(ready[0]);
        tn_close(go[1]);
        char *p;
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 1000, "lt-byname", (void **)&p);
        TN_CHILD_CHECK(h != NULL && GetLastError() == 0);
        strcpy(p, "from the child");
        tn_send_byte(ready[1]);
        TN_CHILD_CHECK(tn_recv_byte(go[0]));
        TN_CHILD_CHECK(strcmp(p, "from the parent") == 0);
        _exit(0);
    }
    tn_close(ready[1]);
    tn_close(go[0]);
    assert_true(tn_recv_byte(ready[0]));
    char *q = NULL;
    HANDLE o = tn_shm_open("lt-byname", (void **)&q);
    assert_non_null(o);
    assert_string_equal(q, "from the child");
    strcpy(q, "from the parent");
    tn_send_byte(go[1]);
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    tn_close(ready[0]);
    tn_close(go[1]);
    /* We still hold it. */
    void *r = NULL;
    HANDLE o2 = tn_shm_open("lt-byname", &r);
    assert_non_null(o2);
    tn_shm_release(o2, r);
    tn_shm_release(o, q);
    tn_assert_gone("lt-byname");
}


int main(int argc, char **argv)
{
    tn_select_tests(argc, argv);
    tn_setup("lifetime_destroy");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_mapping_is_not_a_reference, tn_teardown),
        cmocka_unit_test_teardown(test_kept_mapping_description_is_not_a_reference, tn_teardown),
        cmocka_unit_test_teardown(test_exit_destroys, tn_teardown),
        cmocka_unit_test_teardown(test_sigkill_destroys, tn_teardown),
        cmocka_unit_test_teardown(test_holders_killed_one_by_one, tn_teardown),
        cmocka_unit_test_teardown(test_simultaneous_last_close, tn_teardown),
        cmocka_unit_test_teardown(test_child_creates_parent_opens, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
