/*
 * SPEC 8: a ".node" cut shorter than its header (damage) gets its length
 * back from the next process that opens the node - and is never cut back
 * under a process that opened the node meanwhile and extended the file for
 * the member table (members.c), whose slots would be wiped and whose next
 * touch of them would be SIGBUS.  The first opener stops itself right after
 * it saw the file short (iw_crash_point_stop_at "node.header_short"); a
 * second opens the node, joins it and holds an object; the first goes on.
 *
 * Linked with the tests' copy of the library (crash points compiled in).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "crash_point.h"
#include "test_node.h"

/* Whether .node's member table has a claimed slot of pid: the slot word is
 * a used bit (63) and a generation above the pid (members.c). */
static bool member_listed(pid_t pid, off_t *size)
{
    char path[800];
    snprintf(path, sizeof path, "%s/.node", tn_root());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    *size = st.st_size;
    bool found = false;
    static uint64_t words[4096];
    for (off_t at = (off_t)tn_page(); !found && at < st.st_size; at += (off_t)sizeof words) {
        ssize_t got = pread(fd, words, sizeof words, at);
        assert_true(got >= 0);
        for (size_t i = 0; i < (size_t)got / sizeof *words && !found; i++)
            found = (words[i] >> 63) != 0 && (uint32_t)words[i] == (uint32_t)pid;
    }
    close(fd);
    return found;
}

static void test_short_header_not_cut_back(void **state)
{
    (void)state;
    /* A node whose .node (the library's mark: mode 01600) was cut to 0. */
    assert_int_equal(mkdir(tn_root(), 0700), 0);
    char path[800];
    snprintf(path, sizeof path, "%s/.node", tn_root());
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 01600), 0);
    close(fd);

    pid_t first = tn_fork(); /* tn_teardown kills it if the test fails */
    if (first == 0) {
        iw_crash_point_stop_at("node.header_short");
        void *p;
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 1, "first", &p);
        _exit(h != NULL && CloseHandle(h) ? 0 : 1);
    }
    if (!tn_wait_stopped(first))
        fail_msg("the first opener did not stop at node.header_short");

    int ready[2], go[2];
    tn_pipe(ready);
    tn_pipe(go);
    pid_t second = tn_fork();
    if (second == 0) {
        void *p, *q;
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 1, "second", &p);
        if (h == NULL)
            _exit(1);
        tn_send_byte(ready[1]);
        if (!tn_recv_byte(go[0]))
            _exit(2);
        HANDLE more = RtCreateSharedMemory(PAGE_READWRITE, 0, 1, "more", &q);
        _exit(more != NULL && CloseHandle(more) && CloseHandle(h) ? 0 : 3);
    }
    assert_true(tn_recv_byte(ready[0]));
    off_t size_before, size_after;
    assert_true(member_listed(second, &size_before));

    kill(first, SIGCONT);
    assert_true(tn_exited_ok(tn_wait(first, TN_TIMEOUT_MS)));
    bool listed = member_listed(second, &size_after);
    if (!listed || size_after < size_before)
        fail_msg("the member table lost the second process (listed %d; .node %lld bytes, %lld before)", listed,
                 (long long)size_after, (long long)size_before);

    tn_send_byte(go[1]);
    assert_true(tn_exited_ok(tn_wait(second, TN_TIMEOUT_MS)));
}

int main(int argc, char **argv)
{
    tn_select_tests(argc, argv);
    tn_setup("header-short");
    unsetenv("IWIN32_CRASH_AT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_short_header_not_cut_back, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
