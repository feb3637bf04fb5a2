/*
 * SPEC 1 and 3: the node directory.  $IWIN32_ROOT is made 0700 by the first
 * process that uses it, objects 0600; a node path that is a symlink, a
 * regular file, or a directory owned by another user is refused with
 * ERROR_ACCESS_DENIED by every call, and nothing is created through it.
 * Each case runs a peer on a node path of its own.
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

/* Runs a peer on node `root` that tries Create, Open, an unnamed Create and
 * the pool, and checks that each fails with ERROR_ACCESS_DENIED. */
static void expect_denied(const char *root)
{
    char env_root[800];
    snprintf(env_root, sizeof env_root, "IWIN32_ROOT=%s", root);
    const char *env[] = {env_root, NULL};
    struct tn_peer peer;
    tn_peer_start(&peer, env, "create", "nd", "4096", "open", "nd", "create", "-", "4096", "pool", NULL);
    assert_true(tn_peer_expect(&peer, "create 0 5"));
    assert_true(tn_peer_expect(&peer, "open 0 5"));
    assert_true(tn_peer_expect(&peer, "create 0 5"));
    assert_true(tn_peer_expect(&peer, "pool 0 5"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));
}

static void test_fresh_node_is_private(void **state)
{
    (void)state;
    char root[700], env_root[800], file[800];
    snprintf(root, sizeof root, "%s/fresh", tn_base());
    snprintf(env_root, sizeof env_root, "IWIN32_ROOT=%s", root);
    const char *env[] = {env_root, NULL};
    struct tn_peer peer;
    tn_peer_start(&peer, env, "create", "nd-file", "4096", "ready", "wait", NULL);
    assert_true(tn_peer_expect(&peer, "create 1 0"));
    assert_true(tn_peer_expect(&peer, "ready"));
    struct stat st;
    assert_int_equal(lstat(root, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(st.st_uid, geteuid());
    snprintf(file, sizeof file, "%s/n-nd-file", root);
    assert_int_equal(lstat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(tn_count_objects(root), 1);
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));
}

static void test_symlink_refused(void **state)
{
    (void)state;
    char real[700], link[700];
    snprintf(real, sizeof real, "%s/real", tn_base());
    snprintf(link, sizeof link, "%s/link", tn_base());
    assert_int_equal(mkdir(real, 0700), 0);
    assert_int_equal(symlink(real, link), 0);
    expect_denied(link);
    char list[256];
    tn_list_dir(real, list, sizeof list);
    assert_string_equal(list, ""); /* nothing made through the link */

    /* A dangling symlink is refused too, and not followed to create. */
    char dangling[700], target[700];
    snprintf(target, sizeof target, "%s/not-there", tn_base());
    snprintf(dangling, sizeof dangling, "%s/dangling", tn_base());
    assert_int_equal(symlink(target, dangling), 0);
    expect_denied(dangling);
    assert_int_equal(access(target, F_OK), -1);
}

static void test_regular_file_refused(void **state)
{
    (void)state;
    char path[700];
    snprintf(path, sizeof path, "%s/plain-file", tn_base());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a node\n", f);
    fclose(f);
    chmod(path, 0600);
    expect_denied(path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 11); /* untouched */
}

static void test_other_owner_refused(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        printf("not root: cannot make a directory owned by another user; skipped\n");
        skip();
    }
    char path[700];
    snprintf(path, sizeof path, "%s/others", tn_base());
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(chown(path, 65534, 65534), 0);
    expect_denied(path);
    assert_int_equal(tn_count_objects(path), 0);
}

/* Without IWIN32_ROOT the node is /dev/shm/iwin32-<uid> (shared with
 * whatever else runs on this machine: the test uses a name of its own and
 * leaves nothing there). */
static void test_default_node(void **state)
{
    (void)state;
    char name[64], file[256];
    snprintf(name, sizeof name, "iwin32-test-default-%d", (int)getpid());
    snprintf(file, sizeof file, "/dev/shm/iwin32-%u/n-%s", (unsigned)geteuid(), name);
    const char *env[] = {"IWIN32_ROOT", "IWIN32_POOL_MB", NULL};
    struct tn_peer peer;
    tn_peer_start(&peer, env, "create", name, "4096", "ready", "wait", "close", NULL);
    assert_true(tn_peer_expect(&peer, "create 1 0"));
    assert_true(tn_peer_expect(&peer, "ready"));
    assert_int_equal(access(file, F_OK), 0);
    tn_peer_send(&peer);
    assert_true(tn_peer_expect(&peer, "close 1 12345"));
    assert_true(tn_exited_ok(tn_peer_finish(&peer)));
    assert_int_equal(access(file, F_OK), -1);
}

int main(void)
{
    tn_setup("nodedir");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fresh_node_is_private, tn_teardown),
        cmocka_unit_test_teardown(test_symlink_refused, tn_teardown),
        cmocka_unit_test_teardown(test_regular_file_refused, tn_teardown),
        cmocka_unit_test_teardown(test_other_owner_refused, tn_teardown),
        cmocka_unit_test_teardown(test_default_node, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
