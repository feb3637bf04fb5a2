/*
 * SPEC 3: shared-memory names, as one process sees them - backslashes
 * refused, lengths up to MAX_PATH, any other bytes each a distinct object
 * inside the node, case sensitivity, and names held by objects of another
 * type (in this process or another one); nothing left behind on every
 * error.  The rest of SPEC 3 in one process: test_shm.c; the snapshot and
 * ASSERT_FAILS they share: test_shm_util.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"
#include "test_shm_util.h"

static void test_backslash(void **state)
{
    (void)state;
    void *p = NULL;
    const char *names[] = {"a\\b", "\\", "x\\", "\\x", "\\\\server\\share", "Global\\cx_ipc"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        ASSERT_FAILS(tn_shm_create(names[i], 4096, &p), ERROR_PATH_NOT_FOUND);
        ASSERT_FAILS(tn_shm_open(names[i], &p), ERROR_PATH_NOT_FOUND);
    }
}

static void test_name_lengths(void **state)
{
    (void)state;
    char n259[300], n259b[300], n260[300], n253[300], n254[300], n255[300], pct259[300], pct259b[300];
    char big[2000];
    memset(n259, 'a', 259), n259[259] = 0;
    memcpy(n259b, n259, 260), n259b[258] = 'b';
    memset(n260, 'a', 260), n260[260] = 0;
    memset(n253, 'a', 253), n253[253] = 0;
    memset(n254, 'a', 254), n254[254] = 0;
    memset(n255, 'a', 255), n255[255] = 0;
    memset(pct259, '%', 259), pct259[259] = 0;
    memcpy(pct259b, pct259, 260), pct259b[0] = '!';
    memset(big, 'z', sizeof big - 1), big[sizeof big - 1] = 0;

    /* 260 bytes or more (MAX_PATH counts the NUL) */
    void *p = NULL;
    ASSERT_FAILS(tn_shm_create(n260, 4096, &p), ERROR_FILENAME_EXCED_RANGE);
    ASSERT_FAILS(tn_shm_open(n260, &p), ERROR_FILENAME_EXCED_RANGE);
    ASSERT_FAILS(tn_shm_create(big, 4096, &p), ERROR_FILENAME_EXCED_RANGE);
    ASSERT_FAILS(tn_shm_open(big, &p), ERROR_FILENAME_EXCED_RANGE);

    /* Up to 259 bytes work, and names around the length where they stop
     * fitting a file name plainly are all distinct objects. */
    const char *names[] = {n253, n254, n255, n259, n259b, pct259, pct259b};
    enum { N = sizeof names / sizeof *names };
    HANDLE h[N];
    void *m[N];
    int objects0 = tn_count_objects(NULL);
    for (int i = 0; i < N; i++) {
        h[i] = tn_shm_create(names[i], 4096, &m[i]);
        assert_non_null(h[i]);
        assert_int_equal(GetLastError(), 0); /* new: none of the others is the same object */
        *(int *)m[i] = 1000 + i;
    }
    assert_int_equal(tn_count_objects(NULL), objects0 + N);
    for (int i = 0; i < N; i++) {
        void *q = NULL;
        SetLastError(SENTINEL);
        HANDLE o = tn_shm_open(names[i], &q);
        assert_non_null(o);
        assert_int_equal(GetLastError(), SENTINEL);
        assert_int_equal(*(int *)q, 1000 + i);
        tn_shm_release(o, q);
        /* and Create finds it too */
        HANDLE c = tn_shm_create(names[i], 1, &q);
        assert_non_null(c);
        assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
        assert_int_equal(*(int *)q, 1000 + i);
        tn_shm_release(c, q);
    }
    /* A 260-byte name whose first 259 bytes are an existing name is still refused. */
    ASSERT_FAILS(tn_shm_open(n260, &p), ERROR_FILENAME_EXCED_RANGE);
    for (int i = 0; i < N; i++)
        tn_shm_release(h[i], m[i]);
    assert_int_equal(tn_count_objects(NULL), objects0);
    for (int i = 0; i < N; i++)
        ASSERT_FAILS(tn_shm_open(names[i], &p), ERROR_FILE_NOT_FOUND);
}

static void test_name_bytes(void **state)
{
    (void)state;
    char escape1[128], escape2[128], escape3[128];
    snprintf(escape1, sizeof escape1, "../iwin32-escape-%d", (int)getpid());
    snprintf(escape2, sizeof escape2, "../../iwin32-escape-%d", (int)getpid());
    snprintf(escape3, sizeof escape3, "/dev/shm/iwin32-escape-%d", (int)getpid());
    const char *names[] = {
        "a/b", "a%2Fb", "a%2fb", "a_2Fb", "/", "//", "/a", "a/", ".", "..", "...", "./x", "../x", "x/../y",
        "y", escape1, escape2, escape3, "a b", " ", "  ", "%", "%%", "%25", "%41", "A", "a",
        "\xc3\xa9", "e\xcc\x81", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80", "\x01", "\x1f", "\n",
        "\t", "\r\n", "\x7f", "\x80", "\xff", "n-x", "x", "h-x", ".node", "t-0", "u-0", "-", "*", "?",
        ":", "\"", "<>|", "+,=@~", "name.with.dots", "%00"};
    enum { N = sizeof names / sizeof *names };
    HANDLE h[N];
    void *m[N];
    int objects0 = tn_count_objects(NULL);
    for (int i = 0; i < N; i++) {
        h[i] = tn_shm_create(names[i], 4096, &m[i]);
        assert_non_null(h[i]);
        /* New, every one: no two of these names share an object. */
        if (GetLastError() != 0)
            fail_msg("name #%d (\"%s\"): last error %u", i, names[i], GetLastError());
        *(int *)m[i] = 7000 + i;
    }
    assert_int_equal(tn_count_objects(NULL), objects0 + N);
    for (int i = 0; i < N; i++) {
        void *q = NULL;
        HANDLE o = tn_shm_open(names[i], &q);
        assert_non_null(o);
        if (*(int *)q != 7000 + i)
            fail_msg("name #%d (\"%s\") opened object #%d", i, names[i], *(int *)q - 7000);
        tn_shm_release(o, q);
    }
    /* Nothing was made outside the node directory. */
    char list[1024], path[1024];
    tn_list_dir(tn_base(), list, sizeof list);
    assert_string_equal(list, "node");
    snprintf(path, sizeof path, "/dev/shm/iwin32-escape-%d", (int)getpid());
    assert_int_equal(access(path, F_OK), -1);
    /* And only object files inside it (no subdirectories, nothing else). */
    struct stat st;
    assert_int_equal(stat(tn_root(), &st), 0);
    assert_int_equal(st.st_nlink, 2);
    for (int i = 0; i < N; i++)
        tn_shm_release(h[i], m[i]);
    assert_int_equal(tn_count_objects(NULL), objects0);
}

static void test_case_sensitive(void **state)
{
    (void)state;
    const char *names[] = {"CaseName", "casename", "CASENAME", "\xc3\x89t\xc3\xa9", "\xc3\xa9t\xc3\xa9"};
    HANDLE h[5];
    void *m[5];
    for (int i = 0; i < 5; i++) {
        h[i] = tn_shm_create(names[i], 64, &m[i]);
        assert_non_null(h[i]);
        assert_int_equal(GetLastError(), 0);
        *(int *)m[i] = i + 1;
    }
    for (int i = 0; i < 5; i++) {
        void *q;
        HANDLE o = tn_shm_open(names[i], &q);
        assert_non_null(o);
        assert_int_equal(*(int *)q, i + 1);
        tn_shm_release(o, q);
        tn_shm_release(h[i], m[i]);
    }
}

/* One namespace for all four types (SPEC 3): a name held by an event, mutex
 * or semaphore is refused by Create and Open of shared memory with
 * ERROR_INVALID_HANDLE, and the other way round; nothing is left behind. */
static void test_name_of_other_type(void **state)
{
    (void)state;
    HANDLE sync[3] = {RtCreateEvent(NULL, TRUE, FALSE, "shm-is-event"), RtCreateMutex(NULL, FALSE, "shm-is-mutex"),
                      RtCreateSemaphore(NULL, 0, 1, "shm-is-semaphore")};
    const char *names[3] = {"shm-is-event", "shm-is-mutex", "shm-is-semaphore"};
    void *p = NULL;
    for (int i = 0; i < 3; i++) {
        assert_non_null(sync[i]);
        ASSERT_FAILS(tn_shm_create(names[i], 4096, &p), ERROR_INVALID_HANDLE);
        ASSERT_FAILS(tn_shm_create(names[i], 0, &p), ERROR_INVALID_HANDLE);
        ASSERT_FAILS(tn_shm_open(names[i], &p), ERROR_INVALID_HANDLE);
    }
    /* The other way round. */
    void *m = NULL;
    HANDLE h = tn_shm_create("shm-is-shm", 4096, &m);
    assert_non_null(h);
    ASSERT_FAILS(RtCreateEvent(NULL, TRUE, FALSE, "shm-is-shm"), ERROR_INVALID_HANDLE);
    ASSERT_FAILS(RtOpenEvent(0, FALSE, "shm-is-shm"), ERROR_INVALID_HANDLE);
    ASSERT_FAILS(RtCreateMutex(NULL, FALSE, "shm-is-shm"), ERROR_INVALID_HANDLE);
    ASSERT_FAILS(RtOpenMutex(0, FALSE, "shm-is-shm"), ERROR_INVALID_HANDLE);
    ASSERT_FAILS(RtCreateSemaphore(NULL, 0, 1, "shm-is-shm"), ERROR_INVALID_HANDLE);
    ASSERT_FAILS(RtOpenSemaphore(0, FALSE, "shm-is-shm"), ERROR_INVALID_HANDLE);
    tn_shm_release(h, m);
    for (int i = 0; i < 3; i++)
        assert_true(CloseHandle(sync[i]));
    /* All gone, and the names are free for shared memory now. */
    for (int i = 0; i < 3; i++) {
        h = tn_shm_create(names[i], 4096, &m);
        assert_non_null(h);
        assert_int_equal(GetLastError(), 0);
        tn_shm_release(h, m);
    }
}

/* The same when the other object belongs to another process only (this
 * process has no record of it), both ways round. */
static void test_name_of_other_type_elsewhere(void **state)
{
    (void)state;
    struct tn_peer peer;
    tn_peer_start(&peer, NULL, "sync", "e", "x-event", "sync", "m", "x-mutex", "sync", "s", "x-sem", "create",
                  "x-shm", "4096", "ready", "wait", "osync", "e", "x-shm", "osync", "m", "x-shm", "osync", "s",
                  "x-shm", "sync", "e", "x-shm", NULL);
    assert_true(tn_peer_expect(&peer, "sync 1 0"));
    assert_true(tn_peer_expect(&peer, "sync 1 0"));
    assert_true(tn_peer_expect(&peer, "sync 1 0"));
    assert_true(tn_peer_expect(&peer, "create 1 0"));
    assert_true(tn_peer_expect(&peer, "ready"));
    const char *names[] = {"x-event", "x-mutex", "x-sem"};
    void *p = NULL;
    for (int i = 0; i < 3; i++) {
        ASSERT_FAILS(tn_shm_create(names[i], 4096, &p), ERROR_INVALID_HANDLE);
        ASSERT_FAILS(tn_shm_create(names[i], 0, &p), ERROR_INVALID_HANDLE);
        ASSERT_FAILS(tn_shm_open(names[i], &p), ERROR_INVALID_HANDLE);
    }
    tn_peer_send(&peer);
    assert_true(tn_peer_expect(&peer, "osync 0 6"));
    assert_true(tn_peer_expect(&peer, "osync 0 6"));
    assert_true(tn_peer_expect(&peer, "osync 0 6"));
    assert_true(tn_peer_expect(&peer, "sync 0 6"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));
    /* Everything it held is gone with it. */
    for (int i = 0; i < 3; i++) {
        HANDLE h = tn_shm_create(names[i], 4096, &p);
        assert_non_null(h);
        assert_int_equal(GetLastError(), 0);
        tn_shm_release(h, p);
    }
    SetLastError(SENTINEL); /* (what the peer left may be removed only now: no snapshot) */
    assert_null(tn_shm_open("x-shm", &p));
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
}

int main(int argc, char **argv)
{
    tn_select_tests(argc, argv);
    tn_setup("shm-names");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_backslash, tn_teardown),
        cmocka_unit_test_teardown(test_name_lengths, tn_teardown),
        cmocka_unit_test_teardown(test_name_bytes, tn_teardown),
        cmocka_unit_test_teardown(test_case_sensitive, tn_teardown),
        cmocka_unit_test_teardown(test_name_of_other_type, tn_teardown),
        cmocka_unit_test_teardown(test_name_of_other_type_elsewhere, tn_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return failed + tn_objects_left();
}
