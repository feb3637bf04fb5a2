/*
 * Issue 9.7: the pool's accounting stays exact whatever a paused destroyer
 * does.  A destroyer stopped (SIGSTOP: Ctrl-Z, a debugger) at each point of
 * its destruction while 256 pool resets run - each recount that finds what
 * a dead process left resets the pool's word - and then resumed must not
 * return its pages a second time: with an 8-bit reset epoch, 256 resets
 * brought the epoch back to the value the destroyer read, its release went
 * through after a reset had already left its pages out, and a 4 MiB pool
 * then accepted 5 MiB.
 *
 * Linked with the tests' copy of the library (crash points compiled in):
 * the destroyer stops itself at a named point (iw_crash_point_stop_at).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "crash_point.h"
#include "test_node.h"

#define MIB (1u << 20)
#define POOL (4u * MIB)
#define RESETS 256              /* what an 8-bit epoch wraps at */

/* Waits (TN_TIMEOUT_MS) for pid to stop; false if it ended or hung on. */
static bool wait_stopped(pid_t pid)
{
    for (int ms = 0; ms < TN_TIMEOUT_MS; ms++) {
        int status;
        pid_t r = waitpid(pid, &status, WUNTRACED | WNOHANG);
        if (r == pid)
            return WIFSTOPPED(status);
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    return false;
}

/* One pool reset: a process dies holding a one-page object, and the
 * recount that then removes it lowers the pool's word. */
static void one_reset(int i)
{
    pid_t pid = tn_fork();
    if (pid == 0) {
        char name[32];
        void *p;
        snprintf(name, sizeof name, "stale-%d", i);
        _exit(RtCreateSharedMemory(PAGE_READWRITE, 0, 1, name, &p) != NULL ? 0 : 1);
    }
    assert_true(tn_exited_ok(tn_wait(pid, TN_TIMEOUT_MS)));
    uint64_t size, used;
    assert_true(iwin32PoolInfo(&size, &used));
}

static void paused_at(const char *point)
{
    void *keep_p;
    HANDLE keep = RtCreateSharedMemory(PAGE_READWRITE, 0, MIB, "keep", &keep_p);
    assert_non_null(keep);
    pid_t destroyer = tn_fork(); /* tn_teardown kills it if the test fails */
    if (destroyer == 0) {
        void *p;
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, MIB, "victim", &p);
        if (h == NULL || !RtUnmapSharedMemory(p))
            _exit(1);
        iw_crash_point_stop_at(point);
        _exit(CloseHandle(h) ? 0 : 2); /* the last holder: destroys */
    }
    if (!wait_stopped(destroyer))
        fail_msg("the destroyer did not stop at %s", point);
    for (int i = 0; i < RESETS; i++)
        one_reset(i);
    kill(destroyer, SIGCONT);
    assert_true(tn_exited_ok(tn_wait(destroyer, TN_TIMEOUT_MS)));

    /* "keep" holds 1 MiB: 3 MiB more fit, and then nothing. */
    uint64_t accepted = MIB;
    HANDLE more[8];
    void *more_p[8];
    int n = 0;
    for (DWORD size = 3 * MIB; n < 8; size = MIB, n++) {
        more[n] = RtCreateSharedMemory(PAGE_READWRITE, 0, size, NULL, &more_p[n]);
        if (more[n] == NULL)
            break;
        accepted += size;
    }
    printf("destroyer paused at %s during %d resets: the %u MiB pool accepted %llu MiB\n", point, RESETS,
           POOL / MIB, (unsigned long long)(accepted / MIB));
    for (int i = 0; i < n; i++)
        assert_true(RtUnmapSharedMemory(more_p[i]) && CloseHandle(more[i]));
    assert_true(RtUnmapSharedMemory(keep_p) && CloseHandle(keep));
    assert_int_equal(accepted, POOL);
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

static void test_paused_destroyer(void **state)
{
    (void)state;
    struct iw_crash_point *points;
    size_t n = iw_crash_points_all(&points);
    int tried = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(points[i].name, "destroy.", 8) == 0) {
            paused_at(points[i].name);
            tried++;
        }
    assert_true(tried >= 2);
}

int main(int argc, char **argv)
{
    tn_select_tests(argc, argv);
    tn_setup("pool-pause");
    setenv("IWIN32_POOL_MB", "4", 1);
    unsetenv("IWIN32_CRASH_AT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_paused_destroyer, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
