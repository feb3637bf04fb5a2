/*
 * SPEC 9: timer calls racing a CloseHandle of another thread (review of
 * timer.c).  A call holds a reference on the timer from its lookup to its
 * drop; when a CloseHandle of another thread comes in between, the call's
 * drop is the last reference and frees the timer in the call's own thread,
 * so nothing of the timer may be read after it.
 *
 * The interleaving is forced, not hoped for: the caller loops at a low
 * SCHED_FIFO priority and the closer, at a higher one on the same CPU,
 * wakes from a sleep and preempts it - nearly always inside the call, with
 * the reference held.  A read after the drop is a use after free that the
 * ASan build reports (CI runs it); the plain build checks the results.
 *
 * Timers are SCHED_FIFO: where this process may not use it, the cases
 * skip, saying so.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"
#include "timer_util.h"

#define PRIO 60 /* RTX: FIFO 32 */
#define TRIES 20

static VOID RTFCNDCL never_run(PVOID context)
{
    (void)context;
    abort();
}

struct race {
    HANDLE h;
    atomic_int busy;       /* Sets refused with ERROR_BUSY (the timer is active) */
    atomic_int unexpected; /* a Set that succeeded, or another error */
    BOOLEAN closed;
};

/* Sets the active timer until its handle is gone: each try is refused,
 * ERROR_BUSY while it is open, ERROR_INVALID_HANDLE once closed. */
static void *setter(void *arg)
{
    struct race *r = arg;
    LARGE_INTEGER far = {.QuadPart = -3600 * 1000 * MS};
    for (;;) {
        if (RtSetTimer(r->h, &far, NULL)) {
            atomic_fetch_add(&r->unexpected, 1);
            break;
        }
        DWORD e = GetLastError();
        if (e == ERROR_INVALID_HANDLE)
            break;
        if (e != ERROR_BUSY) {
            atomic_fetch_add(&r->unexpected, 1);
            break;
        }
        atomic_fetch_add(&r->busy, 1);
    }
    return NULL;
}

static void *closer(void *arg)
{
    struct race *r = arg;
    do /* until the setter is in its loop, then a little more */
        sleep_ms(1);
    while (atomic_load(&r->busy) == 0);
    r->closed = CloseHandle(r->h);
    return NULL;
}

/* A SCHED_FIFO thread at fifo on cpu, or the case skipped where this
 * process may not make one. */
static pthread_t start_fifo(void *(*fn)(void *), void *arg, int fifo, int cpu)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&a, SCHED_FIFO);
    struct sched_param sp = {.sched_priority = fifo};
    pthread_attr_setschedparam(&a, &sp);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_attr_setaffinity_np(&a, sizeof set, &set);
    pthread_t t;
    int err = pthread_create(&t, &a, fn, arg);
    pthread_attr_destroy(&a);
    if (err != 0) {
        fprintf(stderr, "no SCHED_FIFO thread here (%d): skipped\n", err);
        skip();
    }
    return t;
}

/* The first CPU this process may run on. */
static int first_cpu(void)
{
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            return c;
    fail();
    return -1;
}

/* RtSetTimer refused (ERROR_BUSY) on an active timer while another thread
 * closes it: the refusal must not read the timer after its reference is
 * dropped (it was the last one: the drop freed it). */
static void test_set_refused_while_closed(void **state)
{
    (void)state;
    int cpu = first_cpu();
    for (int i = 0; i < TRIES; i++) {
        struct race r = {.h = make_timer(never_run, NULL, PRIO)};
        LARGE_INTEGER far = {.QuadPart = 3600 * 1000 * MS};
        assert_true(RtSetTimerRelative(r.h, &far, NULL));
        pthread_t s = start_fifo(setter, &r, 10, cpu);
        pthread_t c = start_fifo(closer, &r, 20, cpu);
        pthread_join(c, NULL);
        pthread_join(s, NULL);
        assert_true(r.closed);
        assert_int_equal(atomic_load(&r.unexpected), 0);
    }
}

int main(void)
{
    tn_setup("timer_races");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_refused_while_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
