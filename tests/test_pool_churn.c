/*
 * SPEC 5: the pool under churn, in a node made with IWIN32_POOL_MB=4:
 * iwin32PoolInfo while other processes fill the pool exactly, over and
 * over, never reports more used than it holds; and a Create refused at a
 * full pool of 16,384 objects is refused within a bound, quiet, under
 * churn and right after holders die (issue 9.6).  Each case has its own
 * ctest entry (test_pool_info_churn, test_pool_refusal_time).  The
 * accounting and the IWIN32_POOL_MB setting: test_pool.c; the node they
 * share: test_pool_util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"
#include "test_pool_util.h"

/* Scheduling noise on a loaded 2-core VM, ctest -j2 (test_refusal_under_churn). */
#define REFUSAL_SLACK_MS 1000

/* ---- iwin32PoolInfo under churn ----------------------------------------------- */

/* iwin32PoolInfo while other processes create and close objects that fill
 * the pool exactly: it never reports more used than the pool holds (nor
 * than ever existed at once), and no Create is refused (the objects always
 * fit).  Its own ctest entry. */
static void test_pool_info_under_churn(void **state)
{
    (void)state;
    enum { CHURNERS = 4, MS = 3000 };
    pid_t pid[CHURNERS];
    for (int c = 0; c < CHURNERS; c++) {
        pid[c] = tn_fork();
        if (pid[c] == 0) {
            char name[32];
            snprintf(name, sizeof name, "p-churn-%d", c);
            int64_t end = tn_now_ms() + MS;
            for (int i = 0; tn_now_ms() < end; i++) {
                void *p = NULL;
                HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, POOL / CHURNERS, i % 2 ? NULL : name, &p);
                if (h == NULL) {
                    fprintf(stderr, "churner %d: create %d refused: %u\n", c, i, GetLastError());
                    _exit(1);
                }
                TN_CHILD_CHECK(RtUnmapSharedMemory(p) && CloseHandle(h));
            }
            _exit(0);
        }
    }
    long polls = 0, over = 0;
    uint64_t worst = 0;
    int64_t end = tn_now_ms() + MS;
    while (tn_now_ms() < end) {
        uint64_t size = 0, used = 0;
        assert_true(iwin32PoolInfo(&size, &used));
        assert_int_equal(size, POOL);
        assert_int_equal(used % tn_page(), 0);
        polls++;
        if (used > size)
            over++;
        if (used > worst)
            worst = used;
    }
    for (int c = 0; c < CHURNERS; c++)
        assert_true(tn_exited_ok(tn_wait(pid[c], TN_TIMEOUT_MS)));
    printf("%ld iwin32PoolInfo calls under churn: %ld reported more than the pool (%llu bytes) holds, worst %llu\n",
           polls, over, (unsigned long long)POOL, (unsigned long long)worst);
    assert_int_equal(over, 0);
    assert_int_equal(tn_pool_used(), 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

/* ---- a refusal at a full pool of many objects, under churn (issue 9.6) ---------- */

enum { REFUSAL_LIVE = 16384, REFUSAL_PAGES = POOL / 4096, REFUSAL_ROUNDS = 7 };

/* The bound a refused Create keeps when no process died since the last
 * exact count (pool.c): a look at the node's member table, microseconds.
 * What the test allows is that plus scheduling on a loaded 2-core VM under
 * ctest -j2 (the median of REFUSAL_ROUNDS is what must keep it). */
#define REFUSAL_BOUND_MS 20

static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

struct refusal {
    int64_t us;                 /* how long the refused Create took */
    DWORD err;
};

static void *refused_create(void *arg)
{
    struct refusal *r = arg;
    int64_t t0 = now_us();
    void *p = NULL;
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 2 * 4096, "p-refused", &p);
    r->err = h == NULL ? GetLastError() : ERROR_SUCCESS;
    r->us = now_us() - t0;
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

enum deaths { NONE, FORK_DURING, KILLED_BEFORE };

/* rounds (at most REFUSAL_ROUNDS) refused Creates, one at a time.
 * FORK_DURING: a fork during each (its child, which inherits the objects,
 * dies at once).  KILLED_BEFORE: before each, a forked child holding every
 * object (records.c gives it references of its own) is SIGKILLed and
 * reaped, so each refusal comes right after a death.  *median and *worst:
 * their times (us), *worst_fork: the slowest fork (ms). */
static void refusals(enum deaths deaths, int rounds, int64_t *median, int64_t *worst, int64_t *worst_fork)
{
    int64_t us[REFUSAL_ROUNDS];
    bool with_fork = deaths == FORK_DURING;
    *worst_fork = 0;
    for (int round = 0; round < rounds; round++) {
        if (deaths == KILLED_BEFORE) {
            int ready[2];
            tn_pipe(ready);
            pid_t holder = fork();
            if (holder == 0) {
                TN_CHILD_CHECK(write(ready[1], "r", 1) == 1);
                pause();
                _exit(0);
            }
            assert_true(holder > 0);
            tn_close(ready[1]);
            char b;
            assert_int_equal(read(ready[0], &b, 1), 1);
            tn_close(ready[0]);
            assert_int_equal(kill(holder, SIGKILL), 0);
            assert_true(tn_killed_by(tn_wait(holder, TN_TIMEOUT_MS), SIGKILL));
        }
        struct refusal r;
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, refused_create, &r), 0);
        if (with_fork) {
            usleep(2000); /* into the refusal's count */
            int64_t t0 = tn_now_ms();
            pid_t child = fork();
            if (child == 0)
                _exit(0);
            int64_t fork_ms = tn_now_ms() - t0;
            assert_true(child > 0);
            assert_true(tn_exited_ok(tn_wait(child, TN_TIMEOUT_MS)));
            *worst_fork = fork_ms > *worst_fork ? fork_ms : *worst_fork;
        }
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(r.err, ERROR_NOT_ENOUGH_MEMORY);
        us[round] = r.us;
    }
    qsort(us, (size_t)rounds, sizeof *us, by_value);
    *median = us[rounds / 2];
    *worst = us[rounds - 1];
}

/* A program that opened "p-page-0" (which the test holds too) is
 * SIGKILLed - with orphan, after it forked a child that inherited the page
 * and exited, so that the child answers for all it inherited, and the child
 * is SIGKILLed.  What the dead may have left (that page), with the one page
 * free, would make room for two; but their member lists name the page,
 * which the test still holds: nothing was left, and the refused Create of
 * two pages needs no count.  Returns how long it took (us). */
static int64_t refusal_after_peer_death(bool orphan)
{
    struct tn_peer peer;
    if (!orphan) {
        tn_peer_start(&peer, NULL, "open", "p-page-0", "ready", "sleep", NULL);
        assert_true(tn_peer_expect(&peer, "open 1 12345")); /* last error untouched */
        assert_true(tn_peer_expect(&peer, "ready"));
        assert_true(tn_killed_by(tn_peer_kill(&peer), SIGKILL));
    } else {
        tn_peer_start(&peer, NULL, "open", "p-page-0", "fork", "ready", "sleep", NULL);
        assert_true(tn_peer_expect(&peer, "open 1 12345"));
        char line[64];
        int child = 0;
        assert_true(tn_peer_line(&peer, line, sizeof line) && sscanf(line, "forked %d", &child) == 1);
        assert_true(tn_peer_expect(&peer, "ready"));
        int child_fd = (int)syscall(SYS_pidfd_open, child, 0);
        assert_true(child_fd >= 0);
        assert_int_equal(kill(child, SIGKILL), 0);
        struct pollfd exited = {.fd = child_fd, .events = POLLIN};
        assert_int_equal(poll(&exited, 1, TN_TIMEOUT_MS), 1);
        tn_close(child_fd);
        assert_true(tn_exited_ok(tn_peer_finish(&peer)));
    }
    int64_t t0 = now_us();
    void *two = NULL;
    assert_null(RtCreateSharedMemory(PAGE_READWRITE, 0, 2 * 4096, "p-refused", &two));
    assert_int_equal(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    return now_us() - t0;
}

/* 16,384 live objects fill the pool (one-page objects fill its pages, the
 * rest are events, which count nothing but are files a recount meets).
 * A Create that can't fit is refused within REFUSAL_BOUND_MS, quiet or
 * while another process creates and closes an object in a loop: it used
 * to recount the node, reading every file (median 203 ms quiet, 234 ms
 * under churn, here).  Then processes that inherited the objects die (a
 * fork during each refusal): each refusal after one needs a recount again
 * (what it left can only be found by one), and under churn they may go on
 * recounting until one lands; they stay within a few recounts, and a fork
 * meanwhile does not wait for them.  Its own ctest entry. */
static void test_refusal_under_churn(void **state)
{
    (void)state;
    struct rlimit nofile;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    if (getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur < REFUSAL_LIVE + 512) {
        printf("skipped: RLIMIT_NOFILE %llu is too low for %d objects\n", (unsigned long long)nofile.rlim_cur,
               REFUSAL_LIVE);
        skip();
    }
    static HANDLE h[REFUSAL_LIVE];
    int n = 0;
    for (; n < REFUSAL_PAGES - 1; n++) { /* the churner's object takes the last page */
        char name[32];
        void *p = NULL;
        snprintf(name, sizeof name, "p-page-%d", n);
        h[n] = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, name, &p);
        assert_non_null(h[n]);
        assert_true(RtUnmapSharedMemory(p));
    }
    for (; n < REFUSAL_LIVE - 1; n++) {
        char name[32];
        snprintf(name, sizeof name, "p-event-%d", n);
        h[n] = RtCreateEvent(NULL, TRUE, FALSE, name);
        assert_non_null(h[n]);
    }
    /* What one recount and one fork cost here, now. */
    int64_t t0 = tn_now_ms();
    uint64_t size, used;
    assert_true(iwin32PoolInfo(&size, &used));
    int64_t recount_ms = tn_now_ms() - t0;
    t0 = tn_now_ms();
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    int64_t fork_base_ms = tn_now_ms() - t0;
    assert_true(tn_exited_ok(tn_wait(child, TN_TIMEOUT_MS)));
    assert_true(iwin32PoolInfo(&size, &used)); /* what that child left: counted again */

    int64_t quiet_median, quiet_worst, no_fork;
    refusals(NONE, REFUSAL_ROUNDS, &quiet_median, &quiet_worst, &no_fork);
    int64_t killed_median, killed_worst;
    refusals(KILLED_BEFORE, REFUSAL_ROUNDS, &killed_median, &killed_worst, &no_fork);
    /* Another program (no fork) that opened a page the test holds too is
     * SIGKILLed; and such a program and the child it forked, which
     * inherited the page, die (refusal_after_peer_death).  Each time the
     * best of three tries must take under half a recount: a count is what
     * it cost before the member lists (60-71 ms, a recount 68 ms, here). */
    int64_t peer_us = INT64_MAX, orphan_us = INT64_MAX;
    for (int try = 0; try < 3 && peer_us >= recount_ms * 500; try++) {
        int64_t us = refusal_after_peer_death(false);
        peer_us = us < peer_us ? us : peer_us;
    }
    for (int try = 0; try < 3 && orphan_us >= recount_ms * 500; try++) {
        int64_t us = refusal_after_peer_death(true);
        orphan_us = us < orphan_us ? us : orphan_us;
    }
    struct tn_peer peer;
    void *two = NULL;
    /* One that made the last page's object itself dies its last holder:
     * that page is not proven held, so a Create it makes room for is
     * granted (after a count), never refused from the list. */
    tn_peer_start(&peer, NULL, "create", "p-peer-own", "4096", "ready", "sleep", NULL);
    assert_true(tn_peer_expect(&peer, "create 1 0"));
    assert_true(tn_peer_expect(&peer, "ready"));
    assert_true(tn_killed_by(tn_peer_kill(&peer), SIGKILL));
    assert_null(RtCreateSharedMemory(PAGE_READWRITE, 0, 2 * 4096, "p-refused", &two));
    assert_int_equal(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    void *one = NULL;
    HANDLE last_page = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "p-after-peer", &one);
    assert_non_null(last_page);
    assert_true(RtUnmapSharedMemory(one) && CloseHandle(last_page));

    int go[2];
    tn_pipe(go);
    pid_t churner = tn_fork();
    if (churner == 0) {
        tn_close(go[1]);
        char b;
        TN_CHILD_CHECK(read(go[0], &b, 1) == 1);
        TN_CHILD_CHECK(fcntl(go[0], F_SETFL, O_NONBLOCK) == 0);
        long cycles = 0;
        while (read(go[0], &b, 1) < 0 && errno == EAGAIN) {
            void *p = NULL;
            HANDLE o = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, NULL, &p);
            TN_CHILD_CHECK(o != NULL && RtUnmapSharedMemory(p) && CloseHandle(o));
            cycles++;
        }
        printf("churner: %ld create/close cycles\n", cycles);
        _exit(0);
    }
    tn_close(go[0]);
    assert_true(iwin32PoolInfo(&size, &used)); /* the fork's child slot, settled */
    assert_int_equal(write(go[1], "g", 1), 1);
    usleep(100000); /* the churner under way */
    int64_t churn_median, churn_worst;
    refusals(NONE, REFUSAL_ROUNDS, &churn_median, &churn_worst, &no_fork);
    int64_t killed_churn_median, killed_churn_worst;
    refusals(KILLED_BEFORE, REFUSAL_ROUNDS, &killed_churn_median, &killed_churn_worst, &no_fork);
    /* Processes that held the objects die during the refusals. */
    int64_t dead_median, dead_worst, dead_fork;
    refusals(FORK_DURING, 3, &dead_median, &dead_worst, &dead_fork);

    assert_int_equal(write(go[1], "s", 1), 1);
    assert_true(tn_exited_ok(tn_wait(churner, TN_TIMEOUT_MS)));
    tn_close(go[1]);
    printf("%d live objects, full pool (one recount %lld ms, a fork %lld ms): refused Create median/worst "
           "%lld/%lld us quiet, %lld/%lld us with one process churning, %lld/%lld us after a death under churn "
           "(a fork during those: worst %lld ms); right after a holder's SIGKILL %lld/%lld us quiet, "
           "%lld/%lld us under churn; after a peer's SIGKILL %lld us, after its orphan's %lld us\n",
           REFUSAL_LIVE, (long long)recount_ms, (long long)fork_base_ms, (long long)quiet_median,
           (long long)quiet_worst, (long long)churn_median, (long long)churn_worst, (long long)dead_median,
           (long long)dead_worst, (long long)dead_fork, (long long)killed_median, (long long)killed_worst,
           (long long)killed_churn_median, (long long)killed_churn_worst, (long long)peer_us, (long long)orphan_us);
    for (int i = 0; i < n; i++)
        assert_true(CloseHandle(h[i]));
    assert_int_equal(tn_pool_used(), 0);
    if (quiet_median > REFUSAL_BOUND_MS * 1000 || churn_median > REFUSAL_BOUND_MS * 1000)
        fail_msg("a refused Create took %lld us quiet, %lld us under churn (median): the bound is %d ms",
                 (long long)quiet_median, (long long)churn_median, REFUSAL_BOUND_MS);
    /* Right after a holder's death (issue 9.6: it used to cost one recount,
     * 0.6-1 s here): what a death can have left in the pool is in its
     * member slot (members.c), no count needed. */
    if (killed_median > REFUSAL_BOUND_MS * 1000 || killed_churn_median > REFUSAL_BOUND_MS * 1000 ||
        peer_us >= recount_ms * 500 || orphan_us >= recount_ms * 500)
        fail_msg("a refused Create right after a holder's SIGKILL took %lld us quiet, %lld us under churn "
                 "(median; the bound is %d ms), %lld us after a peer's, %lld us after its orphan's (best of "
                 "three; half a recount is %lld us)",
                 (long long)killed_median, (long long)killed_churn_median, REFUSAL_BOUND_MS, (long long)peer_us,
                 (long long)orphan_us, (long long)recount_ms * 500);
    /* After a death: a recount or a few, whatever the churn (it retried
     * recount after recount while the churn lasted: 13 s), and fork does
     * not wait for it (it did, as long as the refusal took).  Generous
     * factors: what is measured alone here may run busier below. */
    if (dead_worst > (10 * recount_ms + REFUSAL_SLACK_MS) * 1000 || dead_fork > 4 * fork_base_ms + REFUSAL_SLACK_MS)
        fail_msg("a refusal after a death took %lld ms (a recount %lld ms), a fork during one %lld ms (alone %lld ms)",
                 (long long)(dead_worst / 1000), (long long)recount_ms, (long long)dead_fork,
                 (long long)fork_base_ms);
}

int main(int argc, char **argv)
{
    tn_select_tests(argc, argv); /* ctest runs each case on its own */
    pool_setup("pool_churn");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_pool_info_under_churn, tn_teardown),
        cmocka_unit_test_teardown(test_refusal_under_churn, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
