/*
 * SPEC 6 (with 2 and 4): names and lifetimes of events, mutexes and
 * semaphores - Create fresh/existing and its last error, Open and its
 * errors, one namespace shared with shared memory (type collisions both
 * ways, in-process and across processes), names dying with the last handle
 * (CloseHandle, exit, SIGKILL), references inherited by fork, no pool use.
 */
#include "sync_util.h"

#include <sys/mman.h>

enum kind { K_SHM, K_EVENT, K_MUTEX, K_SEM, K_COUNT };
static const char *const kind_names[K_COUNT] = {"shm", "event", "mutex", "semaphore"};

static HANDLE create_kind(enum kind k, const char *name)
{
    void *loc = NULL;
    HANDLE h = NULL;
    switch (k) {
    case K_SHM:
        h = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, name, &loc);
        if (h != NULL) {
            DWORD err = GetLastError();
            RtUnmapSharedMemory(loc);
            SetLastError(err);
        }
        return h;
    case K_EVENT: return RtCreateEvent(NULL, TRUE, FALSE, name);
    case K_MUTEX: return RtCreateMutex(NULL, FALSE, name);
    default: return RtCreateSemaphore(NULL, 0, 1, name);
    }
}

static HANDLE open_kind(enum kind k, const char *name)
{
    void *loc = NULL;
    HANDLE h = NULL;
    switch (k) {
    case K_SHM:
        h = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, name, &loc);
        if (h != NULL) {
            DWORD err = GetLastError();
            RtUnmapSharedMemory(loc);
            SetLastError(err);
        }
        return h;
    case K_EVENT: return RtOpenEvent(0, FALSE, name);
    case K_MUTEX: return RtOpenMutex(0, FALSE, name);
    default: return RtOpenSemaphore(0, FALSE, name);
    }
}

/* ---- Create: fresh and existing --------------------------------------------- */

static void test_create_fresh_clears_last_error(void **state)
{
    (void)state;
    for (enum kind k = K_EVENT; k < K_COUNT; k++) {
        char name[64];
        SYNC_NAME(name, "fresh");
        SetLastError(ERROR_ALREADY_EXISTS); /* nonzero before: Create must set 0 */
        HANDLE h = create_kind(k, name);
        assert_non_null(h);
        assert_true((uintptr_t)h >= 0x10000);
        assert_int_equal(GetLastError(), ERROR_SUCCESS);
        /* Unnamed, NULL and "": a new object every time, last error 0. */
        for (int unnamed = 0; unnamed < 2; unnamed++) {
            SetLastError(1234);
            HANDLE u = create_kind(k, unnamed ? "" : NULL);
            assert_non_null(u);
            assert_int_equal(GetLastError(), ERROR_SUCCESS);
            assert_true(CloseHandle(u));
        }
        assert_true(CloseHandle(h));
    }
}

static void test_unnamed_objects_are_distinct(void **state)
{
    (void)state;
    HANDLE a = RtCreateEvent(NULL, TRUE, FALSE, NULL), b = RtCreateEvent(NULL, TRUE, FALSE, NULL);
    HANDLE c = RtCreateEvent(NULL, TRUE, FALSE, ""), d = RtCreateEvent(NULL, TRUE, FALSE, "");
    assert_non_null(a), assert_non_null(b), assert_non_null(c), assert_non_null(d);
    assert_true(RtSetEvent(a));
    assert_int_equal(RtWaitForSingleObject(b, 0), WAIT_TIMEOUT);
    assert_int_equal(RtWaitForSingleObject(c, 0), WAIT_TIMEOUT);
    assert_true(RtSetEvent(c));
    assert_int_equal(RtWaitForSingleObject(d, 0), WAIT_TIMEOUT);
    assert_int_equal(RtWaitForSingleObject(a, 0), WAIT_OBJECT_0);
    HANDLE s1 = RtCreateSemaphore(NULL, 1, 1, NULL), s2 = RtCreateSemaphore(NULL, 0, 1, NULL);
    assert_int_equal(RtWaitForSingleObject(s2, 0), WAIT_TIMEOUT);
    assert_int_equal(RtWaitForSingleObject(s1, 0), WAIT_OBJECT_0);
    HANDLE all[] = {a, b, c, d, s1, s2};
    for (size_t i = 0; i < 6; i++)
        assert_true(CloseHandle(all[i]));
}

static void test_create_existing_event_ignores_arguments(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "ev-exist");
    HANDLE h1 = RtCreateEvent(NULL, TRUE, TRUE, name); /* manual, set */
    assert_non_null(h1);
    SetLastError(0);
    HANDLE h2 = RtCreateEvent(NULL, FALSE, FALSE, name); /* auto, reset: ignored */
    assert_non_null(h2);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    assert_ptr_not_equal(h1, h2);
    /* Still manual-reset and still set: two waits both succeed. */
    assert_int_equal(RtWaitForSingleObject(h2, 0), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(h2, 0), WAIT_OBJECT_0);
    assert_true(RtResetEvent(h2)); /* same object through either handle */
    assert_int_equal(RtWaitForSingleObject(h1, 0), WAIT_TIMEOUT);
    assert_true(CloseHandle(h1));
    assert_true(CloseHandle(h2));
}

static void test_create_existing_mutex_ignores_initial_owner(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "mx-exist");
    HANDLE h1 = RtCreateMutex(NULL, FALSE, name);
    assert_non_null(h1);
    SetLastError(0);
    HANDLE h2 = RtCreateMutex(NULL, TRUE, name);
    assert_non_null(h2);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    /* Not granted: releasing it is a non-owner's release. */
    assert_false(RtReleaseMutex(h2));
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    assert_true(CloseHandle(h1));
    assert_true(CloseHandle(h2));
}

static void test_create_existing_semaphore_ignores_counts(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "sem-exist");
    HANDLE h1 = RtCreateSemaphore(NULL, 1, 1, name);
    assert_non_null(h1);
    SetLastError(0);
    HANDLE h2 = RtCreateSemaphore(NULL, 5, 10, name);
    assert_non_null(h2);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    LONG prev = -7;
    assert_false(RtReleaseSemaphore(h2, 1, &prev)); /* maximum still 1, count 1 */
    assert_int_equal(GetLastError(), ERROR_TOO_MANY_POSTS);
    assert_int_equal(prev, -7);
    assert_int_equal(RtWaitForSingleObject(h2, 0), WAIT_OBJECT_0);
    assert_int_equal(RtWaitForSingleObject(h2, 0), WAIT_TIMEOUT); /* count was 1, not 5 */
    assert_true(CloseHandle(h1));
    assert_true(CloseHandle(h2));
}

/* Another process made it: Create here is an Open with ERROR_ALREADY_EXISTS. */
static void test_create_existing_across_processes(void **state)
{
    (void)state;
    char ev[64], mx[64], sem[64];
    SYNC_NAME(ev, "xp-ev");
    SYNC_NAME(mx, "xp-mx");
    SYNC_NAME(sem, "xp-sem");
    struct tn_peer p;
    tn_peer_start(&p, NULL, "ce", ev, "1", "1", "cm", mx, "1", "cs", sem, "2", "3", "g", NULL);
    long err;
    for (int i = 0; i < 3; i++) {
        assert_true(sync_peer_ok(&p, &err));
        assert_int_equal(err, 0);
    }
    SetLastError(0);
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, ev);
    assert_non_null(e);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0); /* manual, set: as the peer made it */
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_OBJECT_0);
    SetLastError(0);
    HANDLE m = RtCreateMutex(NULL, TRUE, mx); /* owned by the peer: must not block nor own */
    assert_non_null(m);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_TIMEOUT);
    assert_false(RtReleaseMutex(m));
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    SetLastError(0);
    HANDLE s = RtCreateSemaphore(NULL, 0, 1, sem);
    assert_non_null(s);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    LONG prev = -1;
    assert_true(RtReleaseSemaphore(s, 1, &prev)); /* maximum 3, count 2 */
    assert_int_equal(prev, 2);
    assert_true(sync_peer_done(&p));
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(m));
    assert_true(CloseHandle(s));
}

/* ---- Open ---------------------------------------------------------------------- */

static void test_open_errors(void **state)
{
    (void)state;
    for (enum kind k = K_EVENT; k < K_COUNT; k++) {
        char name[64];
        SYNC_NAME(name, "missing");
        SetLastError(0);
        assert_null(open_kind(k, name));
        assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
        SetLastError(0);
        assert_null(open_kind(k, NULL));
        assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
        SetLastError(0);
        assert_null(open_kind(k, ""));
        assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
        /* A failed open left nothing behind. */
        SetLastError(0);
        assert_null(open_kind(k, name));
        assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    }
}

static void test_open_success_leaves_last_error(void **state)
{
    (void)state;
    for (enum kind k = K_EVENT; k < K_COUNT; k++) {
        char name[64];
        SYNC_NAME(name, "open-ok");
        HANDLE h = create_kind(k, name);
        assert_non_null(h);
        for (DWORD before = 0; before < 3; before++) {
            DWORD v = before == 0 ? 0 : before == 1 ? 4321 : ERROR_FILE_NOT_FOUND;
            SetLastError(v);
            HANDLE o = open_kind(k, name);
            assert_non_null(o);
            assert_int_equal(GetLastError(), v);
            assert_true(CloseHandle(o));
        }
        assert_true(CloseHandle(h));
    }
}

/* Names with '/', "..", spaces are ordinary names, distinct from each other. */
static void test_odd_names(void **state)
{
    (void)state;
    const char *names[] = {"a/b", "../escape", "..", ".", "with space", "x/../y", "\xc3\xa9v\xc3\xa9nement"};
    HANDLE h[7];
    for (int i = 0; i < 7; i++) {
        SetLastError(99);
        h[i] = RtCreateEvent(NULL, TRUE, FALSE, names[i]);
        assert_non_null(h[i]);
        assert_int_equal(GetLastError(), 0);
    }
    assert_true(RtSetEvent(h[1]));
    for (int i = 0; i < 7; i++) {
        HANDLE o = RtOpenEvent(0, FALSE, names[i]);
        assert_non_null(o);
        assert_int_equal(RtWaitForSingleObject(o, 0), i == 1 ? WAIT_OBJECT_0 : WAIT_TIMEOUT);
        assert_true(CloseHandle(o));
        assert_true(CloseHandle(h[i]));
    }
    SetLastError(0);
    assert_null(RtCreateMutex(NULL, FALSE, "back\\slash"));
    assert_int_equal(GetLastError(), ERROR_PATH_NOT_FOUND);
}

/* ---- one namespace: type collisions ------------------------------------------- */

static void check_collisions(enum kind made, const char *name)
{
    for (enum kind k = K_SHM; k < K_COUNT; k++) {
        if (k == made)
            continue;
        SetLastError(0);
        HANDLE h = create_kind(k, name);
        if (h != NULL || GetLastError() != ERROR_INVALID_HANDLE)
            fail_msg("create %s on a %s name: %p, error %u", kind_names[k], kind_names[made], h, GetLastError());
        SetLastError(0);
        h = open_kind(k, name);
        if (h != NULL || GetLastError() != ERROR_INVALID_HANDLE)
            fail_msg("open %s on a %s name: %p, error %u", kind_names[k], kind_names[made], h, GetLastError());
    }
}

static void test_type_collisions_in_process(void **state)
{
    (void)state;
    for (enum kind made = K_SHM; made < K_COUNT; made++) {
        char name[64];
        SYNC_NAME(name, "collide");
        HANDLE h = create_kind(made, name);
        assert_non_null(h);
        check_collisions(made, name);
        /* The original is intact and still the only one of that name. */
        SetLastError(0);
        HANDLE again = create_kind(made, name);
        assert_non_null(again);
        assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
        assert_true(CloseHandle(again));
        assert_true(CloseHandle(h));
        SetLastError(0);
        assert_null(open_kind(made, name));
        assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    }
}

/* The same, with the object held only by another process (the file path,
 * not this process's records). */
static void test_type_collisions_across_processes(void **state)
{
    (void)state;
    char ev[64], mx[64], sem[64];
    SYNC_NAME(ev, "xcol-ev");
    SYNC_NAME(mx, "xcol-mx");
    SYNC_NAME(sem, "xcol-sem");
    struct tn_peer p;
    tn_peer_start(&p, NULL, "ce", ev, "0", "0", "cm", mx, "0", "cs", sem, "0", "1", "g", NULL);
    for (int i = 0; i < 3; i++)
        assert_true(sync_peer_ok(&p, NULL));
    check_collisions(K_EVENT, ev);
    check_collisions(K_MUTEX, mx);
    check_collisions(K_SEM, sem);
    assert_true(sync_peer_done(&p));
    /* And the other way: shared memory made here, sync objects asked there. */
    char shm[64];
    SYNC_NAME(shm, "xcol-shm");
    HANDLE h = create_kind(K_SHM, shm);
    assert_non_null(h);
    tn_peer_start(&p, NULL, "ce", shm, "0", "0", "oe", shm, "cm", shm, "0", "om", shm, "cs", shm, "0", "1", "os",
                  shm, NULL);
    for (int i = 0; i < 6; i++) {
        char rest[64];
        assert_true(sync_peer_word(&p, "fail", rest, sizeof rest));
        assert_int_equal(atoi(rest), ERROR_INVALID_HANDLE);
    }
    assert_true(sync_peer_done(&p));
    assert_true(CloseHandle(h));
}

/* ---- lifetime ---------------------------------------------------------------- */

static void test_name_dies_with_last_handle(void **state)
{
    (void)state;
    for (enum kind k = K_EVENT; k < K_COUNT; k++) {
        char name[64];
        SYNC_NAME(name, "dies");
        HANDLE a = create_kind(k, name);
        HANDLE b = open_kind(k, name);
        assert_non_null(a);
        assert_non_null(b);
        assert_true(CloseHandle(a));
        HANDLE c = open_kind(k, name); /* b still holds it */
        assert_non_null(c);
        assert_true(CloseHandle(c));
        assert_true(CloseHandle(b));
        SetLastError(0);
        assert_null(open_kind(k, name));
        assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
        /* A closed handle is dead for every call. */
        SetLastError(0);
        assert_false(CloseHandle(b));
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
        SetLastError(0);
        assert_int_equal(RtWaitForSingleObject(b, 0), WAIT_FAILED);
        assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    }
    /* Fresh state after re-creation. */
    char name[64];
    SYNC_NAME(name, "dies-ev");
    HANDLE e = RtCreateEvent(NULL, TRUE, TRUE, name);
    assert_true(CloseHandle(e));
    SetLastError(77);
    e = RtCreateEvent(NULL, TRUE, FALSE, name);
    assert_int_equal(GetLastError(), 0);
    assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
    assert_true(CloseHandle(e));
}

/* The last holder is another process: it ends by exit, or by SIGKILL while
 * holding an owned mutex, a set event and a semaphore. */
static void test_name_dies_with_killed_holder(void **state)
{
    (void)state;
    for (int killed = 0; killed < 2; killed++) {
        char ev[64], mx[64], sem[64];
        SYNC_NAME(ev, "kill-ev");
        SYNC_NAME(mx, "kill-mx");
        SYNC_NAME(sem, "kill-sem");
        struct tn_peer p;
        tn_peer_start(&p, NULL, "ce", ev, "1", "1", "cm", mx, "1", "cs", sem, "3", "5", "g", NULL);
        for (int i = 0; i < 3; i++)
            assert_true(sync_peer_ok(&p, NULL));
        HANDLE o = RtOpenEvent(0, FALSE, ev); /* alive while the peer holds it */
        assert_non_null(o);
        assert_true(CloseHandle(o));
        if (killed)
            assert_true(tn_killed_by(tn_peer_kill(&p), SIGKILL));
        else
            assert_true(sync_peer_done(&p));
        const char *names[] = {ev, mx, sem};
        for (enum kind k = K_EVENT; k < K_COUNT; k++) {
            SetLastError(0);
            assert_null(open_kind(k, names[k - K_EVENT]));
            assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
        }
        /* Re-created fresh: last error 0 and the new arguments' state. */
        SetLastError(5);
        HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, ev);
        assert_int_equal(GetLastError(), 0);
        assert_int_equal(RtWaitForSingleObject(e, 0), WAIT_TIMEOUT);
        SetLastError(5);
        HANDLE m = RtCreateMutex(NULL, FALSE, mx);
        assert_int_equal(GetLastError(), 0);
        assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_OBJECT_0); /* free, not abandoned */
        assert_true(RtReleaseMutex(m));
        SetLastError(5);
        HANDLE s = RtCreateSemaphore(NULL, 0, 1, sem);
        assert_int_equal(GetLastError(), 0);
        assert_int_equal(RtWaitForSingleObject(s, 0), WAIT_TIMEOUT);
        assert_true(CloseHandle(e));
        assert_true(CloseHandle(m));
        assert_true(CloseHandle(s));
    }
}

/* fork: the child holds its own reference; the name outlives the parent's close. */
static void test_fork_child_holds_reference(void **state)
{
    (void)state;
    char name[64];
    SYNC_NAME(name, "fork-ref");
    HANDLE h = RtCreateSemaphore(NULL, 0, 10, name);
    assert_non_null(h);
    int go[2], back[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(back), 0);
    pid_t pid = tn_fork();
    if (pid == 0) {
        char c;
        TN_CHILD_CHECK(read(go[0], &c, 1) == 1); /* the parent has closed its handle */
        HANDLE o = RtOpenSemaphore(0, FALSE, name);
        TN_CHILD_CHECK(o != NULL);
        TN_CHILD_CHECK(RtReleaseSemaphore(h, 2, NULL)); /* the inherited handle works */
        TN_CHILD_CHECK(RtWaitForSingleObject(o, 0) == WAIT_OBJECT_0);
        TN_CHILD_CHECK(CloseHandle(o));
        TN_CHILD_CHECK(write(back[1], "k", 1) == 1);
        TN_CHILD_CHECK(read(go[0], &c, 1) == 1);
        _exit(0);
    }
    assert_true(CloseHandle(h));
    assert_int_equal(write(go[1], "g", 1), 1);
    char c;
    assert_int_equal(read(back[0], &c, 1), 1);
    HANDLE o = RtOpenSemaphore(0, FALSE, name); /* the child still holds it */
    assert_non_null(o);
    assert_int_equal(RtWaitForSingleObject(o, 0), WAIT_OBJECT_0); /* 2 released, 1 taken there */
    assert_int_equal(RtWaitForSingleObject(o, 0), WAIT_TIMEOUT);
    assert_true(CloseHandle(o));
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    SetLastError(0);
    assert_null(RtOpenSemaphore(0, FALSE, name)); /* the child's exit dropped the last reference */
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    close(go[0]), close(go[1]), close(back[0]), close(back[1]);
}

static void test_no_pool_use(void **state)
{
    (void)state;
    uint64_t before = tn_pool_used();
    HANDLE h[60];
    for (int i = 0; i < 60; i++) {
        char name[64];
        SYNC_NAME(name, "pool");
        h[i] = create_kind((enum kind)(K_EVENT + i % 3), i % 2 ? name : NULL);
        assert_non_null(h[i]);
    }
    assert_int_equal(tn_pool_used(), before);
    for (int i = 0; i < 60; i++)
        assert_true(CloseHandle(h[i]));
    assert_int_equal(tn_pool_used(), before);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_fresh_clears_last_error),
        cmocka_unit_test(test_unnamed_objects_are_distinct),
        cmocka_unit_test(test_create_existing_event_ignores_arguments),
        cmocka_unit_test(test_create_existing_mutex_ignores_initial_owner),
        cmocka_unit_test(test_create_existing_semaphore_ignores_counts),
        cmocka_unit_test(test_create_existing_across_processes),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_open_success_leaves_last_error),
        cmocka_unit_test(test_odd_names),
        cmocka_unit_test(test_type_collisions_in_process),
        cmocka_unit_test(test_type_collisions_across_processes),
        cmocka_unit_test(test_name_dies_with_last_handle),
        cmocka_unit_test(test_name_dies_with_killed_holder),
        cmocka_unit_test(test_fork_child_holds_reference),
        cmocka_unit_test(test_no_pool_use),
    };
    return SYNC_RUN("sync_names", tests);
}
