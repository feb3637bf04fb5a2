/*
 * Helpers shared by the thread tests (test_thread.c, test_thread_signal.c,
 * test_thread_terminate.c, test_thread_fork.c): whether a sanitizer is built in, a manual-reset
 * event, a flag awaited, a thread that waits for an event and returns a
 * code, a thread that returns at once, a thread's exit code, and the
 * kernel's view of a thread's scheduling.  Header-only (static inline), so
 * that each test executable stays one source file plus test_node.c.
 */
#ifndef IWIN32_THREAD_UTIL_H
#define IWIN32_THREAD_UTIL_H
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

/* ThreadSanitizer delivers a signal to a thread only inside one of its
 * interceptors: a thread asleep in the library's futex system call (a wait)
 * never gets SuspendThread's or TerminateThread's signal under it.  Those
 * cases run in every other build. */
#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif
#ifndef TSAN
#define TSAN 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif

static inline HANDLE new_event(void)
{
    HANDLE e = CreateEvent(NULL, TRUE, FALSE, NULL);
    assert_non_null(e);
    return e;
}

/* Waits until *flag is nonzero (10 s at most). */
static inline bool eventually(atomic_int *flag)
{
    for (int i = 0; i < 10000 && !atomic_load(flag); i++)
        usleep(1000);
    return atomic_load(flag) != 0;
}

/* A thread that reports its id, waits for an event, and returns a code. */
struct waiter_arg {
    HANDLE go;
    DWORD id;
    DWORD code;
    atomic_int started;
};

static inline DWORD WINAPI wait_then_return(LPVOID p)
{
    struct waiter_arg *a = p;
    a->id = GetCurrentThreadId();
    atomic_store(&a->started, 1);
    if (WaitForSingleObject(a->go, INFINITE) != WAIT_OBJECT_0)
        return 1000;
    return a->code;
}

static inline DWORD exit_code(HANDLE h)
{
    DWORD code = 12345;
    assert_true(GetExitCodeThread(h, &code));
    return code;
}

static inline DWORD WINAPI returns_at_once(LPVOID p)
{
    (void)p;
    return 1;
}

static inline bool fifo_permitted(void)
{
    struct sched_param sp = {.sched_priority = 1};
    int policy;
    struct sched_param old;
    pthread_getschedparam(pthread_self(), &policy, &old);
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0)
        return false;
    pthread_setschedparam(pthread_self(), policy, &old);
    return true;
}

static inline void kernel_sched(DWORD tid, int *policy, int *prio)
{
    struct sched_param sp;
    *policy = sched_getscheduler((pid_t)tid);
    *prio = sched_getparam((pid_t)tid, &sp) == 0 ? sp.sched_priority : -1;
}

/* A thread that counts until told to stop. */
struct counter_arg {
    atomic_int count;
    atomic_int stop;
};

static inline DWORD WINAPI count_until_stopped(LPVOID p)
{
    struct counter_arg *a = p;
    while (!atomic_load(&a->stop)) {
        atomic_fetch_add(&a->count, 1);
        usleep(100);
    }
    return 7;
}

/* Whether the count stays still for 50 ms. */
static inline bool frozen(struct counter_arg *a)
{
    int before = atomic_load(&a->count);
    usleep(50000);
    return atomic_load(&a->count) == before;
}

static inline bool advancing(struct counter_arg *a)
{
    int before = atomic_load(&a->count);
    for (int i = 0; i < 1000; i++) {
        usleep(1000);
        if (atomic_load(&a->count) > before + 2)
            return true;
    }
    return false;
}

#endif
