/*
 * SPEC 4 across processes: handles are inherited across fork (an unnamed
 * object's too, and while other threads use the library) and dropped across
 * exec and posix_spawn (a spawner that exits at once included: its own
 * ctest entry, test_lifetime_spawn_exit).  Real processes: forked children,
 * and the shm_peer program fork+exec'd.  The last holder's CloseHandle, exit
 * or SIGKILL destroying the object, mappings not references:
 * test_lifetime_destroy.c.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"

extern char **environ;

/* What comes through fd until EOF (or TN_TIMEOUT_MS of silence). */
static void read_all(int fd, char *buf, size_t size)
{
    size_t n = 0;
    ssize_t r;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (n < size - 1 && poll(&pfd, 1, TN_TIMEOUT_MS) == 1 && (r = read(fd, buf + n, size - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
}

static void format_handle(char *buf, size_t size, HANDLE h)
{
    snprintf(buf, size, "%llx", (unsigned long long)(uintptr_t)h);
}

/* ---- fork ---------------------------------------------------------------------- */

static void test_fork_inherits_handle_and_mapping(void **state)
{
    (void)state;
    volatile int *p = NULL;
    HANDLE h = tn_shm_create("lt-fork", 4096, (void **)&p);
    assert_non_null(h);
    p[0] = 42;
    pid_t pid = tn_fork();
    if (pid == 0) {
        TN_CHILD_CHECK(p[0] == 42); /* the mapping is inherited */
        p[0] = 43;
        volatile int *q = NULL;
        SetLastError(SENTINEL);
        HANDLE o = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "lt-fork", (void **)&q);
        TN_CHILD_CHECK(o != NULL && q[0] == 43 && GetLastError() == SENTINEL);
        TN_CHILD_CHECK(o != h);
        TN_CHILD_CHECK(RtUnmapSharedMemory((void *)q) && CloseHandle(o));
        /* the handle is inherited: it closes once, in the child too */
        TN_CHILD_CHECK(CloseHandle(h));
        TN_CHILD_CHECK(!CloseHandle(h) && GetLastError() == ERROR_INVALID_HANDLE);
        /* the child knows the inherited mapping: it can unmap it */
        TN_CHILD_CHECK(RtUnmapSharedMemory((void *)p));
        _exit(0);
    }
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    assert_int_equal(p[0], 43);
    /* The child's close did not close the parent's handle. */
    volatile int *q = NULL;
    HANDLE o = tn_shm_open("lt-fork", (void **)&q);
    assert_non_null(o);
    assert_int_equal(q[0], 43);
    tn_shm_release(o, (void *)q);
    tn_shm_release(h, (void *)p);
    tn_assert_gone("lt-fork");
    assert_int_equal(tn_pool_used(), 0);
}

/* The parent closes its handle right after fork: the object lives on for the
 * child, which holds its own reference - and for any third process too. */
static void test_parent_closes_after_fork(void **state)
{
    (void)state;
    volatile int *p = NULL;
    HANDLE h = tn_shm_create("lt-pclose", 8192, (void **)&p);
    assert_non_null(h);
    p[0] = 7;
    int go[2], ack[2];
    tn_pipe(go);
    tn_pipe(ack);
    pid_t pid = tn_fork();
    if (pid == 0) {
        tn_close(go[1]);
        tn_close(ack[0]);
        TN_CHILD_CHECK(tn_recv_byte(go[0]));
        volatile int *q = NULL;
        HANDLE o = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "lt-pclose", (void **)&q);
        TN_CHILD_CHECK(o != NULL && q[0] == 7);
        p[0] = 8; /* through the inherited mapping */
        TN_CHILD_CHECK(q[0] == 8);
        TN_CHILD_CHECK(RtUnmapSharedMemory((void *)q) && CloseHandle(o));
        tn_send_byte(ack[1]);
        TN_CHILD_CHECK(tn_recv_byte(go[0])); /* holds the inherited handle until told */
        _exit(0);
    }
    tn_close(go[0]);
    tn_close(ack[1]);
    tn_shm_release(h, (void *)p); /* right after fork */
    tn_send_byte(go[1]);
    assert_true(tn_recv_byte(ack[0]));

    /* A third process finds it, with what the child wrote. */
    struct tn_peer peer;
    tn_peer_start(&peer, NULL, "open", "lt-pclose", "get", "0", "close", NULL);
    assert_true(tn_peer_expect(&peer, "open 1 12345"));
    assert_true(tn_peer_expect(&peer, "get 8"));
    assert_true(tn_peer_expect(&peer, "close 1 12345"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));

    tn_send_byte(go[1]); /* the child exits: the last holder is gone */
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    tn_close(go[1]);
    tn_close(ack[0]);
    tn_peer_start(&peer, NULL, "open", "lt-pclose", NULL);
    assert_true(tn_peer_expect(&peer, "open 0 2"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));
    tn_assert_gone("lt-pclose");
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* ---- exec ---------------------------------------------------------------------- */

static void test_exec_drops_handles(void **state)
{
    (void)state;
    void *p = NULL;
    HANDLE h = tn_shm_create("lt-exec", 4096, &p);
    assert_non_null(h);
    *(int *)p = 99;
    char hex[32];
    format_handle(hex, sizeof hex, h);

    /* While we hold it, the exec'd program opens it by name. */
    struct tn_peer peer;
    tn_peer_start(&peer, NULL, "open", "lt-exec", "get", "0", NULL);
    assert_true(tn_peer_expect(&peer, "open 1 12345"));
    assert_true(tn_peer_expect(&peer, "get 99"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));

    /* The program is forked from us holding h, then exec'd: it has no
     * handle, so once we close ours the object is gone - for it too. */
    tn_peer_start(&peer, NULL, "wait", "closeh", hex, "open", "lt-exec", NULL);
    tn_shm_release(h, p);
    tn_peer_send(&peer);
    assert_true(tn_peer_expect(&peer, "close 0 6"));
    assert_true(tn_peer_expect(&peer, "open 0 2"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));
    tn_assert_gone("lt-exec");
    assert_int_equal(tn_pool_used(), 0);
}

/* A forked child that execs while its parent has already closed: the exec
 * drops the child's inherited reference, the last one. */
static void test_exec_drops_last_reference(void **state)
{
    (void)state;
    void *p = NULL;
    HANDLE h = tn_shm_create("lt-exec-last", 4096, &p);
    assert_non_null(h);
    int go[2], out[2];
    tn_pipe(go);
    tn_pipe(out);
    pid_t pid = tn_fork();
    if (pid == 0) {
        tn_close(go[1]);
        tn_close(out[0]);
        TN_CHILD_CHECK(tn_recv_byte(go[0])); /* the parent has closed: we are the last holder */
        /* now exec: the peer opens the name, and finds it gone */
        dup2(out[1], 1);
        execl(IWIN32_PEER_PATH, IWIN32_PEER_PATH, "open", "lt-exec-last", (char *)NULL);
        _exit(127);
    }
    tn_close(go[0]);
    tn_close(out[1]);
    tn_shm_release(h, p);
    /* Before the exec the child still holds it. */
    void *q = NULL;
    HANDLE o = tn_shm_open("lt-exec-last", &q);
    assert_non_null(o);
    tn_shm_release(o, q);
    tn_send_byte(go[1]);
    tn_close(go[1]);
    char said[64];
    read_all(out[0], said, sizeof said);
    tn_close(out[0]);
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    assert_string_equal(said, "open 0 2\n");
    tn_assert_gone("lt-exec-last");
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* posix_spawn (and so system(), popen()) runs no fork handlers: the new
 * program must still hold nothing of ours once it runs. */
static void test_spawn_drops_handles(void **state)
{
    (void)state;
    void *p = NULL;
    HANDLE h = tn_shm_create("lt-spawn", 4096, &p);
    assert_non_null(h);
    int in[2], out[2];
    tn_pipe(in);
    tn_pipe(out);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char *argv[] = {IWIN32_PEER_PATH, "wait", "open", "lt-spawn", NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, IWIN32_PEER_PATH, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    tn_track_child(pid);
    tn_close(in[0]);
    tn_close(out[1]);
    tn_shm_release(h, p); /* ours was the only handle */
    tn_send_byte(in[1]);
    char said[64];
    read_all(out[0], said, sizeof said);
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    assert_string_equal(said, "open 0 2\n");
    tn_close(in[1]);
    tn_close(out[0]);

    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* A process that spawns a program and exits at once, holding an object: the
 * spawned program holds nothing of it (SPEC 4: dropped across exec), so the
 * object is gone.  posix_spawn returns once the program's exec is under way,
 * but the kernel closes the spawner's inherited descriptors - reference
 * locks included - only as the new program first returns to user space; an
 * Open in between finds the object held and keeps it alive.  The window is
 * short, so this tries many times on a busy machine (its own ctest entry). */
static void test_spawn_then_exit(void **state)
{
    (void)state;
    enum { TRIES = 1000, BURNERS = 2 };
    pid_t burner[BURNERS];
    for (int b = 0; b < BURNERS; b++) {
        burner[b] = tn_fork();
        if (burner[b] == 0)
            for (;;)
                ;
    }
    int revived = 0, first = -1;
    for (int t = 0; t < TRIES && revived < 5; t++) {
        char name[32];
        snprintf(name, sizeof name, "lt-spawn-exit-%d", t);
        int hold[2], report[2], out[2];
        tn_pipe(hold);
        tn_pipe(report);
        tn_pipe(out);
        pid_t pid = tn_fork();
        if (pid == 0) {
            void *m = NULL;
            HANDLE hh = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, name, &m);
            TN_CHILD_CHECK(hh != NULL);
            posix_spawn_file_actions_t fa;
            posix_spawn_file_actions_init(&fa);
            posix_spawn_file_actions_adddup2(&fa, hold[0], 0);
            posix_spawn_file_actions_adddup2(&fa, out[1], 1);
            char *argv[] = {IWIN32_PEER_PATH, "ready", "wait", NULL};
            pid_t spawned;
            TN_CHILD_CHECK(posix_spawn(&spawned, IWIN32_PEER_PATH, &fa, NULL, argv, environ) == 0);
            TN_CHILD_CHECK(write(report[1], &spawned, sizeof spawned) == sizeof spawned);
            _exit(0); /* holding the object */
        }
        tn_close(report[1]);
        assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
        pid_t spawned = 0;
        struct pollfd pfd = {.fd = report[0], .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, TN_TIMEOUT_MS), 1);
        assert_int_equal(read(report[0], &spawned, sizeof spawned), sizeof spawned);
        /* The spawner is gone, and the program runs its own code: its exec
         * has finished, close-on-exec descriptors included.  (posix_spawn
         * returns earlier, when the new image is mapped; until the exec has
         * closed the descriptors it shares with the spawner, the program
         * still holds the object - as any process does until its exec.) */
        char ready[7] = {0};
        pfd.fd = out[0];
        assert_int_equal(poll(&pfd, 1, TN_TIMEOUT_MS), 1);
        assert_int_equal(read(out[0], ready, 6), 6);
        assert_string_equal(ready, "ready\n");
        void *p = NULL;
        SetLastError(SENTINEL);
        HANDLE h = tn_shm_open(name, &p);
        if (h != NULL) {
            revived++;
            if (first < 0)
                first = t;
            tn_shm_release(h, p);
        } else {
            assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
        }
        tn_close(hold[1]); /* EOF: the program exits */
        tn_close(hold[0]);
        tn_close(report[0]);
        tn_close(out[0]);
        tn_close(out[1]);
    }
    for (int b = 0; b < BURNERS; b++) {
        kill(burner[b], SIGKILL);
        tn_wait(burner[b], TN_TIMEOUT_MS);
    }
    if (revived)
        fail_msg("%d object(s) whose only holder had exited right after posix_spawn were still open "
                 "(first at try %d of up to %d)", revived, first, TRIES);
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* ---- unnamed objects across fork ------------------------------------------------- */

static void test_unnamed_shared_with_child(void **state)
{
    (void)state;
    const DWORD mib = 1 << 20;
    volatile unsigned char *a = NULL, *b = NULL;
    HANDLE ha = tn_shm_create(NULL, mib, (void **)&a);
    HANDLE hb = tn_shm_create("", 4096, (void **)&b);
    assert_non_null(ha);
    assert_non_null(hb);
    assert_int_equal(tn_pool_used(), mib + 4096);
    pid_t pid = tn_fork();
    if (pid == 0) {
        a[mib - 1] = 0xA1;
        b[17] = 0xB2;
        TN_CHILD_CHECK(CloseHandle(ha) && CloseHandle(hb));
        TN_CHILD_CHECK(a[0] == 0); /* the mapping outlives the handle */
        _exit(0);
    }
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    assert_int_equal(a[mib - 1], 0xA1);
    assert_int_equal(b[17], 0xB2);
    assert_int_equal(tn_pool_used(), mib + 4096); /* the parent still holds both */
    tn_shm_release(ha, (void *)a);
    tn_shm_release(hb, (void *)b);
    assert_int_equal(tn_pool_used(), 0);

    /* An unnamed object held only by a child that is killed. */
    int ready[2];
    tn_pipe(ready);
    pid = tn_fork();
    if (pid == 0) {
        void *p;
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, mib, NULL, &p);
        TN_CHILD_CHECK(h != NULL);
        tn_send_byte(ready[1]);
        for (;;)
            pause();
    }
    tn_close(ready[1]);
    assert_true(tn_recv_byte(ready[0]));
    tn_close(ready[0]);
    assert_int_equal(tn_pool_used(), mib);
    assert_int_equal(tn_count_objects(NULL), 1);
    kill(pid, SIGKILL);
    assert_true(tn_killed_by(tn_wait(pid, TN_TIMEOUT_MS), SIGKILL));
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* ---- fork while other threads use the library ------------------------------------- */

static _Atomic bool stop_churn;

static void *churn(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    char name[32];
    unsigned seed = (unsigned)id + 1;
    while (!stop_churn) {
        snprintf(name, sizeof name, "lt-churn-%u", rand_r(&seed) % 3);
        void *p = NULL;
        HANDLE h = rand_r(&seed) % 4 ? RtCreateSharedMemory(PAGE_READWRITE, 0, 8192, name, &p)
                                     : RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, name, &p);
        if (h) {
            ((volatile char *)p)[100] = 1;
            if (!RtUnmapSharedMemory(p) || !CloseHandle(h))
                return (void *)1;
        } else if (GetLastError() != ERROR_FILE_NOT_FOUND) {
            return (void *)2;
        }
    }
    return NULL;
}

static void test_fork_while_threads_work(void **state)
{
    (void)state;
    enum { T = 2, CHILDREN = 40 };
    volatile int *p = NULL;
    HANDLE h = tn_shm_create("lt-held", 4096, (void **)&p);
    assert_non_null(h);
    p[0] = 1234;
    stop_churn = false;
    pthread_t t[T];
    for (uintptr_t i = 0; i < T; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)i), 0);
    for (int c = 0; c < CHILDREN; c++) {
        pid_t pid = tn_fork();
        if (pid == 0) {
            /* Only this thread exists here: every lock the others held at
             * fork must be usable. */
            TN_CHILD_CHECK(p[0] == 1234);
            volatile int *q = NULL;
            HANDLE o = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "lt-held", (void **)&q);
            TN_CHILD_CHECK(o != NULL && q[0] == 1234);
            TN_CHILD_CHECK(CloseHandle(h) && CloseHandle(o));
            void *u = NULL;
            HANDLE hu = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, NULL, &u);
            TN_CHILD_CHECK(hu != NULL && RtUnmapSharedMemory(u) && CloseHandle(hu));
            void *n = NULL;
            HANDLE hn = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "lt-churn-0", &n);
            TN_CHILD_CHECK(hn != NULL && CloseHandle(hn));
            _exit(0);
        }
        int st = tn_wait(pid, 10000);
        if (!tn_exited_ok(st))
            fail_msg("child %d of %d: status %#x (a hang shows as -1)", c, CHILDREN, st);
    }
    stop_churn = true;
    for (int i = 0; i < T; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        assert_null(bad);
    }
    assert_int_equal(p[0], 1234);
    tn_shm_release(h, (void *)p);
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

int main(int argc, char **argv)
{
    tn_select_tests(argc, argv); /* ctest runs test_spawn_then_exit on its own */
    tn_setup("lifetime");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fork_inherits_handle_and_mapping, tn_teardown),
        cmocka_unit_test_teardown(test_parent_closes_after_fork, tn_teardown),
        cmocka_unit_test_teardown(test_exec_drops_handles, tn_teardown),
        cmocka_unit_test_teardown(test_exec_drops_last_reference, tn_teardown),
        cmocka_unit_test_teardown(test_spawn_drops_handles, tn_teardown),
        cmocka_unit_test_teardown(test_spawn_then_exit, tn_teardown),
        cmocka_unit_test_teardown(test_unnamed_shared_with_child, tn_teardown),
        cmocka_unit_test_teardown(test_fork_while_threads_work, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}