/*
 * SPEC 4 "every call is thread-safe" and "CloseHandle on a closed handle
 * ... never a crash", for the short calls that use an object without taking
 * a reference (src/hazard.c: Set, Reset, Pulse, Release, a wait's first
 * try, and a single wait that takes its reference while pinned to sleep):
 * other threads call them on a handle while its last CloseHandle runs.  Each call must either work or fail with ERROR_INVALID_HANDLE, and
 * never touch freed memory (the ASan build in CI turns that into a crash);
 * every object must be gone at the end.
 */
#include <sched.h>

#include "sync_util.h"

#define ROUNDS 3000

#ifdef __SANITIZE_THREAD__
/* A worker may end up owning mutexes whose handles were closed under it (a
 * release that meets the closed handle fails): TSan's deadlock detector
 * aborts once a thread holds 64 locks.  Not what this test is about. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "detect_deadlocks=0"; }
#endif
#define WORKERS 2

static _Atomic(HANDLE) current;
static _Atomic int current_kind;   /* 0 event, 1 semaphore, 2 mutex; stored before current */
static _Atomic int stop;
static _Atomic long worked;        /* calls that found their object */

struct tally {
    long ok, invalid, other;
    DWORD other_code;
};

/* A call's outcome: worked, met a closed handle (or, racing into the next
 * round, a handle of another kind: the same code), or anything else. */
static void count(struct tally *t, bool ok)
{
    DWORD e = GetLastError();
    if (ok || e == ERROR_TOO_MANY_POSTS || e == ERROR_NOT_OWNER) {
        t->ok++;
        atomic_fetch_add(&worked, 1);
    } else if (e == ERROR_INVALID_HANDLE) {
        t->invalid++;
    } else {
        t->other++;
        t->other_code = e;
    }
}

static void *worker(void *arg)
{
    struct tally *t = arg;
    unsigned i = 0;
    while (!atomic_load(&stop)) {
        int kind = atomic_load(&current_kind);
        HANDLE h = atomic_load(&current);
        if (h == NULL)
            continue;
        SetLastError(0);
        if (i++ % 2) {
            /* Now and then a wait that sleeps (1 ms): it takes a reference
             * while pinned, which the last close may have just dropped. */
            DWORD r = RtWaitForSingleObject(h, i % 16 == 1 ? 1 : 0);
            count(t, r != WAIT_FAILED);
            if (kind == 2 && (r == WAIT_OBJECT_0 || r == WAIT_ABANDONED_0))
                count(t, RtReleaseMutex(h));
            continue;
        }
        switch (kind) {
        case 0: count(t, i % 3 == 0 ? RtSetEvent(h) : i % 3 == 1 ? RtPulseEvent(h) : RtResetEvent(h)); break;
        case 1: count(t, RtReleaseSemaphore(h, 1, NULL)); break;
        default: count(t, RtReleaseMutex(h)); break; /* not the owner: ERROR_NOT_OWNER */
        }
    }
    return NULL;
}

static HANDLE make(unsigned round)
{
    switch (round % 3) {
    case 0: return RtCreateEvent(NULL, round & 1, FALSE, NULL);
    case 1: return RtCreateSemaphore(NULL, 0, 4, NULL);
    default: return RtCreateMutex(NULL, FALSE, NULL);
    }
}

static void test_calls_race_last_close(void **state)
{
    (void)state;
    struct tally tally[WORKERS] = {0};
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        t[i] = sync_thread(worker, &tally[i]);
    for (unsigned round = 0; round < ROUNDS; round++) {
        HANDLE h = make(round);
        assert_non_null(h);
        atomic_store(&current_kind, (int)(round % 3));
        atomic_store(&current, h);
        if (round % 16 == 0) { /* now and then, let a call find it (on a busy CPU they may not) */
            long before = atomic_load(&worked);
            int64_t until = sync_now_us() + 1000000;
            while (atomic_load(&worked) == before && sync_now_us() < until)
                sched_yield();
        }
        for (volatile int spin = 0; spin < (int)(round % 64) * 50; spin++)
            ;
        assert_true(CloseHandle(h)); /* the last handle: the object goes */
        atomic_store(&current, NULL);
    }
    atomic_store(&stop, 1);
    long ok = 0, invalid = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        ok += tally[i].ok;
        invalid += tally[i].invalid;
        if (tally[i].other)
            fail_msg("worker %d: %ld calls failed with error %u", i, tally[i].other, tally[i].other_code);
    }
    print_message("%d rounds: %ld calls worked, %ld met a closed handle\n", ROUNDS, ok, invalid);
    assert_true(ok > 0);
    assert_int_equal(tn_count_objects(tn_root()), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_race_last_close),
    };
    return SYNC_RUN("sync_close_race", tests);
}
