/*
 * SPEC 4 "every call is thread-safe" and "CloseHandle on a closed handle
 * ... never a crash", for the short calls that use an object without taking
 * a reference (src/hazard.c: Set, Reset, Pulse, Release, a wait's first
 * try, and a single wait that takes its reference while pinned to sleep):
 * other threads call them on a handle while its last CloseHandle runs.
 * Each call must return what it returns on a valid handle (check's table)
 * or fail with ERROR_INVALID_HANDLE, and never touch freed memory (the ASan build in CI turns that into a crash);
 * every object must be gone at the end.  The same calls on a shared memory
 * handle, whose last close waits for no pin, must fail without reading it.
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
    long ok, refused, invalid, wrong;
    char first_wrong[160];
};

/* The outcomes a call may have here, besides meeting a closed handle
 * (ERROR_INVALID_HANDLE; racing into the next round, a handle of another
 * type: the same code).  Anything else - a Set that fails otherwise, a
 * release of a mutex this thread does not own that succeeds - is wrong. */
enum allowed {
    WORKS,              /* TRUE: Set, Reset, Pulse on a valid event handle */
    WORKS_OR_FULL,      /* a semaphore's release: TRUE, or ERROR_TOO_MANY_POSTS (it holds 4) */
    NOT_OWNER,          /* a mutex this thread does not own: ERROR_NOT_OWNER, never TRUE */
    OWNER,              /* a mutex its wait just took: TRUE (a mutex of the next round
                           under the reused handle value: ERROR_NOT_OWNER) */
};

static void wrong(struct tally *t, const char *call, const char *what, DWORD e)
{
    if (t->wrong++ == 0)
        snprintf(t->first_wrong, sizeof t->first_wrong, "%s: %s (last error %u)", call, what, (unsigned)e);
}

static void check(struct tally *t, const char *call, bool ok, enum allowed allowed)
{
    DWORD e = GetLastError();
    if (ok && allowed != NOT_OWNER) {
        t->ok++;
        atomic_fetch_add(&worked, 1);
    } else if (ok) {
        wrong(t, call, "succeeded on a mutex this thread does not own", e);
    } else if (e == ERROR_INVALID_HANDLE) {
        t->invalid++;
    } else if ((allowed == WORKS_OR_FULL && e == ERROR_TOO_MANY_POSTS) ||
               ((allowed == NOT_OWNER || allowed == OWNER) && e == ERROR_NOT_OWNER)) {
        t->refused++;
        atomic_fetch_add(&worked, 1);
    } else {
        wrong(t, call, "failed", e);
    }
}

/* A wait with timeout 0 or 1 ms: signalled, timed out, or a closed handle.
 * Never abandoned: no owner dies here. */
static bool check_wait(struct tally *t, DWORD r)
{
    DWORD e = GetLastError();
    if (r == WAIT_OBJECT_0 || r == WAIT_TIMEOUT) {
        t->ok++;
        atomic_fetch_add(&worked, 1);
    } else if (r == WAIT_FAILED && e == ERROR_INVALID_HANDLE) {
        t->invalid++;
    } else {
        char what[48];
        snprintf(what, sizeof what, "returned %#x", (unsigned)r);
        wrong(t, "RtWaitForSingleObject", what, e);
    }
    return r == WAIT_OBJECT_0;
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
             * while pinned, which the last close may have just dropped.  A
             * wait that took a mutex (whatever kind was read: the handle may
             * be the next round's) releases it at once, so that this thread
             * never owns a mutex a later call could meet. */
            if (check_wait(t, RtWaitForSingleObject(h, i % 16 == 1 ? 1 : 0)))
                check(t, "RtReleaseMutex after its wait", RtReleaseMutex(h), OWNER);
            continue;
        }
        switch (kind) {
        case 0:
            if (i % 3 == 0)
                check(t, "RtSetEvent", RtSetEvent(h), WORKS);
            else if (i % 3 == 1)
                check(t, "RtPulseEvent", RtPulseEvent(h), WORKS);
            else
                check(t, "RtResetEvent", RtResetEvent(h), WORKS);
            break;
        case 1: check(t, "RtReleaseSemaphore", RtReleaseSemaphore(h, 1, NULL), WORKS_OR_FULL); break;
        default: check(t, "RtReleaseMutex", RtReleaseMutex(h), NOT_OWNER); break;
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
    long ok = 0, refused = 0, invalid = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        ok += tally[i].ok;
        refused += tally[i].refused;
        invalid += tally[i].invalid;
        if (tally[i].wrong)
            fail_msg("worker %d: %ld calls returned what they must not; the first: %s", i, tally[i].wrong,
                     tally[i].first_wrong);
    }
    print_message("%d rounds: %ld calls worked, %ld were refused as they must be (not the owner, count full), "
                  "%ld met a closed handle\n", ROUNDS, ok, refused, invalid);
    assert_true(ok + refused > 0);
    assert_int_equal(tn_count_objects(tn_root()), 0);
}

/* The short calls on a handle of another type - shared memory, which has
 * no state page - while its last CloseHandle frees the object: each must
 * fail with ERROR_INVALID_HANDLE without reading the object (hazard.c: the
 * last close of shared memory does not wait for pins, so the type is told
 * by the handle slot).  Creating and closing one object after another
 * reuses the same handle slot, and so the same slot a call is looking at. */
static void *shm_worker(void *arg)
{
    struct tally *t = arg;
    unsigned i = 0;
    while (!atomic_load(&stop)) {
        HANDLE h = atomic_load(&current);
        if (h == NULL)
            continue;
        SetLastError(0);
        const char *call;
        bool ok;
        switch (i++ % 4) {
        case 0: call = "RtSetEvent"; ok = RtSetEvent(h); break;
        case 1: call = "RtReleaseMutex"; ok = RtReleaseMutex(h); break;
        case 2: call = "RtReleaseSemaphore"; ok = RtReleaseSemaphore(h, 1, NULL); break;
        default: call = "RtWaitForSingleObject"; ok = RtWaitForSingleObject(h, 0) != WAIT_FAILED; break;
        }
        DWORD e = GetLastError();
        if (ok || e != ERROR_INVALID_HANDLE)
            wrong(t, call, "on shared memory did not fail with ERROR_INVALID_HANDLE", e);
        else
            t->invalid++;
    }
    return NULL;
}

#define SHM_ROUNDS 20000

static void test_calls_on_shm_race_its_close(void **state)
{
    (void)state;
    struct tally tally[WORKERS] = {0};
    pthread_t t[WORKERS];
    atomic_store(&stop, 0);
    for (int i = 0; i < WORKERS; i++)
        t[i] = sync_thread(shm_worker, &tally[i]);
    for (unsigned round = 0; round < SHM_ROUNDS; round++) {
        void *p;
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 64, NULL, &p);
        assert_non_null(h);
        atomic_store(&current, h);
        for (volatile int spin = 0; spin < (int)(round % 64) * 20; spin++)
            ;
        tn_shm_release(h, p); /* the last handle: the object goes */
        atomic_store(&current, NULL);
    }
    atomic_store(&stop, 1);
    long invalid = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        invalid += tally[i].invalid;
        if (tally[i].wrong)
            fail_msg("worker %d: %ld calls returned what they must not; the first: %s", i, tally[i].wrong,
                     tally[i].first_wrong);
    }
    print_message("%d rounds: %ld calls on shared memory refused\n", SHM_ROUNDS, invalid);
    assert_true(invalid > 0);
    assert_int_equal(tn_count_objects(tn_root()), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_race_last_close),
        cmocka_unit_test(test_calls_on_shm_race_its_close),
    };
    return SYNC_RUN("sync_close_race", tests);
}
