/*
 * SPEC 9: thread priorities.  SetThreadPriority (Win32 levels) and
 * RtSetThreadPriority (RTX 0-127) on the current thread's pseudo-handle,
 * checked against what the kernel says (pthread_getschedparam, and
 * sched_getscheduler/sched_getparam on the thread's TID); the mapping both
 * ways for every value; bad arguments; and the refusal of a process that
 * may not use real-time priorities (RLIMIT_RTPRIO 0, and not root: as
 * nobody where the test runs as root).  Each case runs in a thread of its
 * own, so the test's main thread keeps its normal priority.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_child.h"
#include "test_node.h"

/* The kernel's view of the calling thread: its policy and priority (-1 if
 * unreadable).  No cmocka assertion: children call it too. */
static void kernel_sched(int *policy, int *prio)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    struct sched_param sp;
    *policy = sched_getscheduler(tid);
    *prio = sched_getparam(tid, &sp) == 0 ? sp.sched_priority : -1;
}

/* Checks in a thread of the test: cmocka's assertions may only fail in the
 * main thread, so a thread returns what failed and in_thread fails with it. */
static char failure[256];
#define T_EQ(a, b)                                                                                \
    do {                                                                                          \
        long long a_ = (a), b_ = (b);                                                             \
        if (a_ != b_) {                                                                           \
            snprintf(failure, sizeof failure, "line %d: %s is %lld, not %lld", __LINE__, #a, a_, b_); \
            return failure;                                                                       \
        }                                                                                         \
    } while (0)
#define T_TRUE(c) T_EQ(!!(c), 1)

/* Runs body in a new thread (default attributes: SCHED_OTHER) and joins it. */
static void in_thread(void *(*body)(void *))
{
    pthread_t t;
    void *result;
    assert_int_equal(pthread_create(&t, NULL, body, NULL), 0);
    assert_int_equal(pthread_join(t, &result), 0);
    if (result != NULL)
        fail_msg("%s", (const char *)result);
}

/* Whether this process may use SCHED_FIFO (the cases that set priorities skip otherwise). */
static bool fifo_permitted(void)
{
    struct sched_param sp = {.sched_priority = 1};
    pthread_t t = pthread_self();
    int policy;
    struct sched_param old;
    pthread_getschedparam(t, &policy, &old);
    if (pthread_setschedparam(t, SCHED_FIFO, &sp) != 0)
        return false;
    pthread_setschedparam(t, policy, &old);
    return true;
}

static void *pseudo_handle_body(void *arg)
{
    (void)arg;
    T_TRUE(GetCurrentThread() == (HANDLE)(intptr_t)-2);
    T_TRUE(RtGetCurrentThread() == GetCurrentThread());
    /* A new thread is not real-time: Win32 NORMAL, RTX 0. */
    SetLastError(1234);
    T_EQ(GetThreadPriority(GetCurrentThread()), THREAD_PRIORITY_NORMAL);
    T_EQ(RtGetThreadPriority(GetCurrentThread()), 0);
    T_EQ(GetLastError(), 1234); /* success leaves it alone */
    return NULL;
}

static void test_pseudo_handle_and_defaults(void **state)
{
    (void)state;
    in_thread(pseudo_handle_body);
}

static void *rtx_body(void *arg)
{
    (void)arg;
    for (int p = 0; p <= 127; p++) {
        T_TRUE(RtSetThreadPriority(GetCurrentThread(), p));
        int policy, prio;
        kernel_sched(&policy, &prio);
        T_EQ(policy, SCHED_FIFO);
        T_EQ(prio, p <= 29 ? 1 : p - 28);      /* the documented mapping */
        T_EQ(RtGetThreadPriority(GetCurrentThread()), p); /* back, exactly */
    }
    /* Set from outside the library (chrt): read by the inverse mapping. */
    struct sched_param sp = {.sched_priority = 50};
    T_EQ(pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp), 0);
    T_EQ(RtGetThreadPriority(GetCurrentThread()), 78);
    T_EQ(GetThreadPriority(GetCurrentThread()), 7); /* level 7 is FIFO 49, 8 is 51 */
    /* chrt -R: the same priority with SCHED_RESET_ON_FORK, which the kernel
     * reports ORed into the policy; still real-time. */
    T_EQ(sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp), 0);
    T_EQ(RtGetThreadPriority(GetCurrentThread()), 78);
    T_EQ(GetThreadPriority(GetCurrentThread()), 7);
    T_EQ(sched_setscheduler(0, SCHED_FIFO, &sp), 0);
    sp.sched_priority = 1;
    T_EQ(pthread_setschedparam(pthread_self(), SCHED_RR, &sp), 0);
    T_EQ(RtGetThreadPriority(GetCurrentThread()), 0);
    T_EQ(GetThreadPriority(GetCurrentThread()), THREAD_PRIORITY_IDLE);
    return NULL;
}

static void test_rtx_priorities_read_back_from_kernel(void **state)
{
    (void)state;
    if (!fifo_permitted())
        skip();
    in_thread(rtx_body);
}

static void *win32_body(void *arg)
{
    (void)arg;
    int last_fifo = 0;
    for (int w = -15; w <= 15; w++) {
        T_TRUE(SetThreadPriority(GetCurrentThread(), w));
        int policy, prio;
        kernel_sched(&policy, &prio);
        T_EQ(policy, SCHED_FIFO);
        int rtx = w == -15 ? 0 : w == 15 ? 127 : 63 + 2 * w;
        T_EQ(prio, rtx <= 29 ? 1 : rtx - 28);
        T_TRUE(prio > last_fifo); /* every level a FIFO priority of its own */
        last_fifo = prio;
        T_EQ(GetThreadPriority(GetCurrentThread()), w);
        T_EQ(RtGetThreadPriority(GetCurrentThread()), rtx);
    }
    /* The named levels, as documented. */
    int fifo[][2] = {{THREAD_PRIORITY_IDLE, 1}, {THREAD_PRIORITY_LOWEST, 31},
                     {THREAD_PRIORITY_BELOW_NORMAL, 33}, {THREAD_PRIORITY_NORMAL, 35},
                     {THREAD_PRIORITY_ABOVE_NORMAL, 37}, {THREAD_PRIORITY_HIGHEST, 39},
                     {THREAD_PRIORITY_TIME_CRITICAL, 99}};
    for (size_t i = 0; i < sizeof fifo / sizeof fifo[0]; i++) {
        T_TRUE(SetThreadPriority(GetCurrentThread(), fifo[i][0]));
        int policy, prio;
        kernel_sched(&policy, &prio);
        T_EQ(prio, fifo[i][1]);
    }
    /* An RTX value read as a Win32 level: the highest level at or below it. */
    T_TRUE(RtSetThreadPriority(GetCurrentThread(), 66)); /* FIFO 38: NORMAL+1 is 37 */
    T_EQ(GetThreadPriority(GetCurrentThread()), THREAD_PRIORITY_ABOVE_NORMAL);
    return NULL;
}

static void test_win32_levels_read_back_from_kernel(void **state)
{
    (void)state;
    if (!fifo_permitted())
        skip();
    in_thread(win32_body);
}

static void *bad_arguments_body(void *arg)
{
    (void)arg;
    int bad_rtx[] = {-1, 128, 1000, -2147483647 - 1};
    for (size_t i = 0; i < sizeof bad_rtx / sizeof bad_rtx[0]; i++) {
        SetLastError(0);
        T_TRUE(!(RtSetThreadPriority(GetCurrentThread(), bad_rtx[i])));
        T_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    }
    int bad_win32[] = {-16, 16, 31, -31};
    for (size_t i = 0; i < sizeof bad_win32 / sizeof bad_win32[0]; i++) {
        SetLastError(0);
        T_TRUE(!(SetThreadPriority(GetCurrentThread(), bad_win32[i])));
        T_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    }
    /* Handles other than the current thread's pseudo-handle. */
    HANDLE ev = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    T_TRUE((ev) != NULL);
    HANDLE bad[] = {NULL, (HANDLE)(intptr_t)-1, (HANDLE)(intptr_t)-3, (HANDLE)0x12345678, ev};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SetLastError(0);
        T_TRUE(!(RtSetThreadPriority(bad[i], 10)));
        T_EQ(GetLastError(), ERROR_INVALID_HANDLE);
        SetLastError(0);
        T_TRUE(!(SetThreadPriority(bad[i], 0)));
        T_EQ(GetLastError(), ERROR_INVALID_HANDLE);
        SetLastError(0);
        T_EQ(GetThreadPriority(bad[i]), THREAD_PRIORITY_ERROR_RETURN);
        T_EQ(GetLastError(), ERROR_INVALID_HANDLE);
        SetLastError(0);
        T_EQ(RtGetThreadPriority(bad[i]), THREAD_PRIORITY_ERROR_RETURN);
        T_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    }
    T_TRUE(CloseHandle(ev));
    /* Nothing changed. */
    int policy, prio;
    kernel_sched(&policy, &prio);
    T_EQ(policy, SCHED_OTHER);
    return NULL;
}

static void test_bad_arguments(void **state)
{
    (void)state;
    in_thread(bad_arguments_body);
}

/* In a child: no right to real-time priorities.  RLIMIT_RTPRIO 0, and where
 * the test runs as root (CAP_SYS_NICE), the child becomes nobody. */
static int refusal_child(void *arg)
{
    (void)arg;
    int dropped = tc_drop_rt_priority();
    if (dropped != 0)
        return dropped;
    int policy0, prio0;
    kernel_sched(&policy0, &prio0);
    SetLastError(0);
    TN_CHILD_CHECK(!RtSetThreadPriority(GetCurrentThread(), 0));
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    SetLastError(0);
    TN_CHILD_CHECK(!SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_IDLE));
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    SetLastError(0);
    TN_CHILD_CHECK(!RtSetThreadPriority(GetCurrentThread(), 127));
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    int policy, prio;
    kernel_sched(&policy, &prio);
    TN_CHILD_CHECK(policy == policy0 && prio == prio0 && policy == SCHED_OTHER);
    TN_CHILD_CHECK(RtGetThreadPriority(GetCurrentThread()) == 0);
    TN_CHILD_CHECK(GetThreadPriority(GetCurrentThread()) == THREAD_PRIORITY_NORMAL);
    return 0;
}

static void test_refused_without_rtprio(void **state)
{
    (void)state;
    tc_run(refusal_child, NULL);
}

/* A limit of 10 allows FIFO 10 (RTX 38) and refuses FIFO 11 (RTX 39). */
static int limit_child(void *arg)
{
    (void)arg;
    struct rlimit ten = {10, 10};
    if (setrlimit(RLIMIT_RTPRIO, &ten) != 0) {
        fprintf(stderr, "cannot raise RLIMIT_RTPRIO to 10 here: %s\n", strerror(errno));
        return TC_SKIP;
    }
    if (geteuid() == 0)
        tc_become(TC_NOBODY, TC_NOGROUP, NULL, 0);
    TN_CHILD_CHECK(RtSetThreadPriority(GetCurrentThread(), 38));
    TN_CHILD_CHECK(RtGetThreadPriority(GetCurrentThread()) == 38);
    SetLastError(0);
    TN_CHILD_CHECK(!RtSetThreadPriority(GetCurrentThread(), 39));
    TN_CHILD_CHECK(GetLastError() == ERROR_ACCESS_DENIED);
    TN_CHILD_CHECK(RtGetThreadPriority(GetCurrentThread()) == 38); /* unchanged */
    return 0;
}

static void test_rtprio_limit_is_the_ceiling(void **state)
{
    (void)state;
    tc_run(limit_child, NULL);
}

int main(void)
{
    tn_setup("priority");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pseudo_handle_and_defaults),
        cmocka_unit_test(test_rtx_priorities_read_back_from_kernel),
        cmocka_unit_test(test_win32_levels_read_back_from_kernel),
        cmocka_unit_test_teardown(test_bad_arguments, tn_teardown),
        cmocka_unit_test(test_refused_without_rtprio),
        cmocka_unit_test(test_rtprio_limit_is_the_ceiling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
