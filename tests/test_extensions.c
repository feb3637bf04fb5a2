/*
 * SPEC 7: the extensions for users - iwin32SharedMemorySize (the size an
 * opener must check before writing a struct into an object an older,
 * smaller struct made) and iwin32ErrorText (the text of every code).
 * (iwin32PoolInfo is tested with the pool, test_pool.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"

/* ---- iwin32ErrorText ------------------------------------------------------ */

/* Every code iwin32.h defines (man GetLastError: the codes the library sets). */
static const struct {
    DWORD code;
    const char *name;
} codes[] = {
#define CODE(c) {c, #c}
    CODE(ERROR_SUCCESS), CODE(ERROR_FILE_NOT_FOUND), CODE(ERROR_PATH_NOT_FOUND),
    CODE(ERROR_TOO_MANY_OPEN_FILES), CODE(ERROR_ACCESS_DENIED), CODE(ERROR_INVALID_HANDLE),
    CODE(ERROR_NOT_ENOUGH_MEMORY), CODE(ERROR_NOT_SUPPORTED), CODE(ERROR_INVALID_PARAMETER), CODE(ERROR_BUSY),
    CODE(ERROR_INVALID_NAME), CODE(ERROR_ALREADY_EXISTS), CODE(ERROR_BAD_EXE_FORMAT), CODE(ERROR_FILENAME_EXCED_RANGE),
    CODE(ERROR_NOT_OWNER), CODE(ERROR_TOO_MANY_POSTS), CODE(ERROR_INVALID_ADDRESS),
    CODE(ERROR_SIGNAL_REFUSED),
#undef CODE
};

/* "NAME (number): " and then a sentence, for each code; the last error stays. */
static void test_error_text_of_every_code(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s (%u): ", codes[i].name, (unsigned)codes[i].code);
        SetLastError(SENTINEL);
        const char *text = iwin32ErrorText(codes[i].code);
        assert_int_equal(GetLastError(), SENTINEL);
        assert_non_null(text);
        if (strncmp(text, prefix, strlen(prefix)) != 0)
            fail_msg("code %u: \"%s\" does not start with \"%s\"", (unsigned)codes[i].code, text, prefix);
        assert_true(strlen(text) > strlen(prefix) + 10);
    }
}

/* Codes the library never sets: a non-empty text that gives the number. */
static void test_error_text_of_other_codes(void **state)
{
    (void)state;
    const DWORD others[] = {1, 7, 1234, WAIT_TIMEOUT, 0x7FFFFFFFu, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        const char *text = iwin32ErrorText(others[i]);
        assert_non_null(text);
        char number[16];
        snprintf(number, sizeof number, "%u", (unsigned)others[i]);
        assert_non_null(strstr(text, number));
        assert_null(strstr(text, "ERROR_"));
    }
}

/* ---- iwin32SharedMemorySize ----------------------------------------------- */

static uint64_t size_of(HANDLE h)
{
    uint64_t size = 0;
    SetLastError(SENTINEL);
    assert_true(iwin32SharedMemorySize(h, &size));
    assert_int_equal(GetLastError(), SENTINEL); /* success leaves it alone */
    return size;
}

/* The size as created, not as rounded to pages, through every kind of
 * handle: the creator's, an opener's, a Create that found the object, an
 * unnamed object, and an over-long name (a file with a header page). */
static void test_size_as_created(void **state)
{
    (void)state;
    void *p, *q, *r;
    HANDLE h = tn_shm_create("sized", 10, &p);
    assert_non_null(h);
    assert_int_equal(size_of(h), 10);
    HANDLE o = tn_shm_open("sized", &q);
    assert_non_null(o);
    assert_int_equal(size_of(o), 10);
    HANDLE c = RtCreateSharedMemory(PAGE_READWRITE, 0, 3 * 4096, "sized", &r);
    assert_non_null(c);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    assert_int_equal(size_of(c), 10); /* the existing object's size, not the one asked for */
    tn_shm_release(c, r);
    tn_shm_release(o, q);
    tn_shm_release(h, p);

    HANDLE u = tn_shm_create(NULL, 4097, &p);
    assert_non_null(u);
    assert_int_equal(size_of(u), 4097);
    tn_shm_release(u, p);

    char name[MAX_PATH];
    memset(name, 'L', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    HANDLE l = tn_shm_create(name, 123457, &p);
    assert_non_null(l);
    assert_int_equal(size_of(l), 123457);
    tn_shm_release(l, p);
}

/* The case the call exists for: an older process made the object with a
 * smaller struct; a newer one opens it (or "creates" it, getting the old
 * object) and learns that its struct does not fit, instead of writing past
 * the end. */
struct ipc_v1 {
    uint32_t seq;
    double setpoint;
};
struct ipc_v2 {
    uint32_t seq;
    double setpoint;
    double limits[4];
};

static void test_size_from_another_process(void **state)
{
    (void)state;
    char size[32];
    snprintf(size, sizeof size, "%zu", sizeof(struct ipc_v1));
    struct tn_peer peer;
    tn_peer_start(&peer, NULL, "create", "cx_ipc", size, "ready", "wait", NULL);
    assert_true(tn_peer_expect(&peer, "create 1 0"));
    assert_true(tn_peer_expect(&peer, "ready"));

    struct ipc_v2 *p;
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, sizeof *p, "cx_ipc", (VOID **)&p);
    assert_non_null(h);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    uint64_t have = 0;
    assert_true(iwin32SharedMemorySize(h, &have));
    assert_int_equal(have, sizeof(struct ipc_v1));
    assert_true(have < sizeof *p); /* the writer must not use *p whole */
    tn_shm_release(h, p);

    tn_peer_send(&peer);
    assert_true(tn_peer_finish(&peer) == 0);
}

/* Anything but an open shared memory handle: FALSE, ERROR_INVALID_HANDLE;
 * a NULL result pointer: ERROR_INVALID_PARAMETER. */
static void test_size_errors(void **state)
{
    (void)state;
    uint64_t size = 77;
    const HANDLE bad[] = {NULL, (HANDLE)1, (HANDLE)(uintptr_t)0x7FFFFFFF, (HANDLE)(uintptr_t)-1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SetLastError(SENTINEL);
        assert_false(iwin32SharedMemorySize(bad[i], &size));
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    }
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, "not-memory");
    assert_non_null(e);
    assert_false(iwin32SharedMemorySize(e, &size));
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    assert_true(CloseHandle(e));

    void *p;
    HANDLE h = tn_shm_create("closed", 100, &p);
    assert_non_null(h);
    SetLastError(SENTINEL);
    assert_false(iwin32SharedMemorySize(h, NULL));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    tn_shm_release(h, p);
    assert_false(iwin32SharedMemorySize(h, &size)); /* closed */
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    assert_int_equal(size, 77); /* no failure wrote it */
}

int main(void)
{
    tn_setup("extensions");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_error_text_of_every_code, tn_teardown),
        cmocka_unit_test_teardown(test_error_text_of_other_codes, tn_teardown),
        cmocka_unit_test_teardown(test_size_as_created, tn_teardown),
        cmocka_unit_test_teardown(test_size_from_another_process, tn_teardown),
        cmocka_unit_test_teardown(test_size_errors, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
