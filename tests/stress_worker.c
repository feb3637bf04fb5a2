/*
 * The kill storm's workers (see stress_kill.c): random calls on a few
 * names, every answer checked, data checksummed.
 */
#include "stress_worker.h"

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_node.h"

#define HELD 8
#define WAIT_MS_MAX 30          /* event and semaphore waits: 0..30 ms */
#define MUTEX_WAIT_MS 3000
#define SEMAPHORE_MAX 4

struct stress_results *stress_results;
char stress_names[NAMED][300];

void stress_make_names(void)
{
    for (int k = 0; k < NAMED - 1; k++)
        snprintf(stress_names[k], sizeof stress_names[k], "stress/%d", k);
    /* a 259-byte name: stored hashed, with its name in a header page */
    memset(stress_names[NAMED - 1], 'L', 259);
    stress_names[NAMED - 1][259] = '\0';
}

static int op;                  /* the worker's current operation, for messages */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "stress child %d, op %d: check failed at line %d: %s (last error %u)\n", \
                    (int)getpid(), op, __LINE__, #cond, GetLastError());                           \
            _exit(3);                                                                              \
        }                                                                                          \
    } while (0)

static void checksum_failed(const char *what)
{
    atomic_fetch_add(&stress_results->checksum_failures, 1);
    fprintf(stderr, "stress child %d, op %d: checksum failed: %s\n", (int)getpid(), op, what);
}

/* ---- named shared memory: tagged, and sealed with a checksum -------------- */

/* At the start of a named object: tag = name index + 1.  Objects of
 * SEALED_MIN bytes or more also carry a checksummed payload, sealed last. */
struct named_header {
    uint32_t tag;
    _Atomic uint32_t seal;
    uint32_t len;               /* payload bytes after the header */
    uint32_t sum;
};
#define SEAL 0x5EA1ED00u
#define SEALED_MIN 64

static uint32_t payload_sum(const unsigned char *payload, uint32_t len)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < len; i++)
        h = (h ^ payload[i]) * 16777619u;
    return h;
}

/* A new object of ours: zero, then tagged (and filled and sealed). */
static void tag_new(unsigned char *p, DWORD size, int k, unsigned *seed)
{
    struct named_header *h = (struct named_header *)p;
    if (size < SEALED_MIN) {
        h->tag = (uint32_t)k + 1;
        return;
    }
    uint32_t len = (size < 4096 ? size : 4096) - sizeof *h;
    for (uint32_t i = 0; i < len; i++)
        p[sizeof *h + i] = (unsigned char)rand_r(seed);
    h->len = len;
    h->sum = payload_sum(p + sizeof *h, len);
    h->tag = (uint32_t)k + 1;
    atomic_store_explicit(&h->seal, SEAL, memory_order_release);
}

/* Any mapping of name k: its tag is 0 (its creator was killed first) or
 * k + 1, and a sealed payload matches its checksum. */
static void check_named(const unsigned char *p, int k)
{
    const struct named_header *h = (const struct named_header *)p;
    CHECK(h->tag == 0 || h->tag == (uint32_t)k + 1);
    if (atomic_load_explicit(&((struct named_header *)p)->seal, memory_order_acquire) != SEAL)
        return;
    atomic_fetch_add(&stress_results->sealed_checked, 1);
    if (h->len > 4096 - sizeof *h || payload_sum(p + sizeof *h, h->len) != h->sum)
        checksum_failed(stress_names[k]);
}

/* ---- waits ----------------------------------------------------------------- */

/* A wait with a timeout: never later than timeout + SLACK_MS, never a
 * timeout before the time is up. */
static DWORD timed_wait(DWORD n, const HANDLE *objs, DWORD ms)
{
    int64_t t0 = tn_now_ms();
    DWORD r = RtWaitForMultipleObjects(n, objs, FALSE, ms);
    int64_t took = tn_now_ms() - t0;
    atomic_fetch_add(&stress_results->waits, 1);
    if (took > (int64_t)ms + SLACK_MS) {
        atomic_fetch_add(&stress_results->late_waits, 1);
        fprintf(stderr, "stress child %d, op %d: a %u ms wait returned after %lld ms\n", (int)getpid(), op, ms,
                (long long)took);
    }
    CHECK(r != WAIT_TIMEOUT || took + 1 >= (int64_t)ms);
    CHECK(r == WAIT_TIMEOUT || r < n || (r >= WAIT_ABANDONED_0 && r < WAIT_ABANDONED_0 + n));
    return r;
}

/* ---- the mutex and the data it guards ------------------------------------- */

#define GUARDED_WORDS 64
struct guarded {
    uint32_t word[GUARDED_WORDS];
    uint32_t sum;               /* of the words; all zero is consistent */
};

static uint32_t guarded_sum(const struct guarded *g)
{
    uint32_t s = 0;
    for (int i = 0; i < GUARDED_WORDS; i++)
        s += g->word[i] * (uint32_t)(2 * i + 1);
    return s;
}

/* Holding the mutex (wait result r): check the data - after an abandoned
 * owner it may be half-updated, and is repaired - then update it in steps
 * that a kill can interrupt. */
static void update_guarded(struct guarded *g, DWORD r, unsigned *seed)
{
    bool abandoned = r >= WAIT_ABANDONED_0;
    if (abandoned)
        atomic_fetch_add(&stress_results->abandoned, 1);
    if (guarded_sum(g) != g->sum) {
        if (abandoned)
            atomic_fetch_add(&stress_results->repaired, 1);
        else
            checksum_failed("the data the mutex guards");
        g->sum = guarded_sum(g);
    }
    int from = (int)(rand_r(seed) % GUARDED_WORDS), count = 1 + (int)(rand_r(seed) % 8);
    for (int i = 0; i < count; i++) {
        int w = (from + i) % GUARDED_WORDS;
        g->word[w] = (uint32_t)rand_r(seed); /* the sum is stale now: a kill here leaves it so */
        if (rand_r(seed) % 4 == 0)
            usleep(100); /* owning it a while: some kills land here */
    }
    g->sum = guarded_sum(g);
}

/* The mutex and the page it guards: opened in that order and closed in the
 * reverse, so whoever holds the page holds the mutex too - the page never
 * outlives the mutex's history (a fresh page is all zero: consistent). */
struct guard {
    HANDLE mutex, page;
    struct guarded *g;
};

static void guard_open(struct guard *gd)
{
    gd->mutex = RtCreateMutex(NULL, FALSE, MUTEX_NAME);
    CHECK(gd->mutex != NULL);
    void *p = NULL;
    gd->page = RtCreateSharedMemory(PAGE_READWRITE, 0, sizeof(struct guarded), GUARDED_NAME, &p);
    if (gd->page == NULL) {
        CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
        CHECK(CloseHandle(gd->mutex));
        gd->mutex = NULL;
        return;
    }
    gd->g = p;
}

static void guard_close(struct guard *gd)
{
    CHECK(RtUnmapSharedMemory(gd->g) && CloseHandle(gd->page) && CloseHandle(gd->mutex));
    *gd = (struct guard){0};
}

/* ---- a worker ------------------------------------------------------------- */

struct held {
    HANDLE h;
    unsigned char *p;
    int k;          /* name index, -1 unnamed */
    DWORD size;     /* as asked for; the object may be smaller if it existed */
};

DWORD stress_random_size(unsigned *seed)
{
    switch (rand_r(seed) % 4) {
    case 0: return 1 + rand_r(seed) % 4096;
    case 1: return 1 + rand_r(seed) % (64 << 10);
    case 2: return 1 + rand_r(seed) % (512 << 10);
    default: return 1 + rand_r(seed) % (2 << 20);
    }
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static bool retire; /* this worker's fork at the limit was its last op */

static rlim_t open_descriptors(void)
{
    DIR *dir = opendir("/proc/self/fd");
    CHECK(dir != NULL);
    rlim_t n = 0;
    while (readdir(dir) != NULL)
        n++;
    closedir(dir);
    return n - 3; /* less ".", ".." and the directory's own */
}

static void *recount(void *arg)
{
    uint64_t size = 0, used = 0;
    CHECK(iwin32PoolInfo(&size, &used));
    CHECK(size == (uint64_t)POOL_MB << 20); /* (used <= size under churn: test_pool_info_churn) */
    return arg;
}

/* One shared-memory operation on slot s (the calls of the original storm). */
static void shm_op(struct held *s, HANDLE *closed, unsigned *seed)
{
    int what = (int)(rand_r(seed) % 12);
    if (s->h != NULL && what < 7)
        what = 7 + (int)(rand_r(seed) % 3); /* slot busy: close or unmap it */
    if (what <= 3) {                        /* Create by name */
        int k = (int)(rand_r(seed) % NAMED);
        DWORD size = stress_random_size(seed);
        void *p = NULL;
        SetLastError(SENTINEL);
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, size, stress_names[k], &p);
        DWORD err = GetLastError();
        if (h == NULL) {
            CHECK(err == ERROR_NOT_ENOUGH_MEMORY);
            return;
        }
        CHECK(err == ERROR_SUCCESS || err == ERROR_ALREADY_EXISTS);
        if (err == ERROR_SUCCESS) { /* new: zero, and ours to tag */
            CHECK(all_zero(p, size < 4096 ? size : 4096));
            CHECK(((unsigned char *)p)[size - 1] == 0);
            tag_new(p, size, k, seed);
        } else {
            check_named(p, k);
            size = 4;
        }
        *s = (struct held){h, p, k, size};
    } else if (what <= 5) {                 /* Open by name */
        int k = (int)(rand_r(seed) % NAMED);
        void *p = NULL;
        SetLastError(SENTINEL);
        HANDLE h = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, stress_names[k], &p);
        if (h == NULL) {
            CHECK(GetLastError() == ERROR_FILE_NOT_FOUND);
            return;
        }
        CHECK(GetLastError() == SENTINEL);
        check_named(p, k);
        *s = (struct held){h, p, k, 4};
    } else if (what == 6) {                 /* Create unnamed */
        DWORD size = stress_random_size(seed);
        void *p = NULL;
        SetLastError(SENTINEL);
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, size, rand_r(seed) % 2 ? NULL : "", &p);
        if (h == NULL) {
            CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
            return;
        }
        CHECK(GetLastError() == ERROR_SUCCESS);
        CHECK(all_zero(p, size < 4096 ? size : 4096));
        memset(p, 0xA5, size < 8192 ? size : 8192);
        *s = (struct held){h, p, -1, size};
    } else if (what <= 8) {                 /* unmap (if mapped) and close */
        if (s->h == NULL)
            return;
        if (s->k >= 0 && s->p != NULL)
            check_named(s->p, s->k);
        if (s->p != NULL)
            CHECK(RtUnmapSharedMemory(s->p));
        CHECK(CloseHandle(s->h));
        *closed = s->h;
        *s = (struct held){0};
    } else if (what == 9) {                 /* unmap only; the handle stays */
        if (s->p == NULL)
            return;
        CHECK(RtUnmapSharedMemory(s->p + (s->size > 1 ? s->size / 2 : 0)));
        SetLastError(SENTINEL);
        CHECK(!RtUnmapSharedMemory(s->p) && GetLastError() == ERROR_INVALID_ADDRESS);
        s->p = NULL;
    } else if (what == 10) {                /* a stale handle fails */
        if (*closed == NULL)
            return;
        SetLastError(SENTINEL);
        CHECK(!CloseHandle(*closed) && GetLastError() == ERROR_INVALID_HANDLE);
    } else if (rand_r(seed) % 2) {          /* a recount, in the middle of it all */
        recount(NULL);
    } else {                                /* a fork during a recount in another thread */
        /* Now and then at the hard descriptor limit: the child then shares
         * descriptions with us (records.c), and this worker's last op. */
        retire = rand_r(seed) % 8 == 0;
        if (retire) {
            /* A recount first opens what the library keeps open for good
             * (the node's directory, our member description: members.c);
             * a worker's first op may be this one, and those two are not
             * what the limit is about. */
            recount(NULL);
            rlim_t spare = open_descriptors() + 2; /* the recount's directory and a file */
            struct rlimit none_spare = {spare, spare};
            CHECK(setrlimit(RLIMIT_NOFILE, &none_spare) == 0);
        }
        pthread_t t;
        CHECK(pthread_create(&t, NULL, recount, NULL) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) { /* holds what it inherited; its close destroys nothing the parent holds */
            if (s->h != NULL)
                CHECK(CloseHandle(s->h));
            _exit(0);
        }
        CHECK(pthread_join(t, NULL) == 0);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (s->k >= 0 && s->p != NULL)
            check_named(s->p, s->k);
    }
}

/* One event, semaphore or mutex operation; the objects are opened (or
 * created) and closed at random too. */
static void sync_op(HANDLE *event, HANDLE *semaphore, struct guard *gd, unsigned *seed)
{
    switch (rand_r(seed) % 8) {
    case 0:                                 /* open or close the event and semaphore */
        if (*event != NULL) {
            CHECK(CloseHandle(*event) && CloseHandle(*semaphore));
            *event = *semaphore = NULL;
        } else {
            *event = RtCreateEvent(NULL, FALSE, FALSE, EVENT_NAME);
            *semaphore = RtCreateSemaphore(NULL, 0, SEMAPHORE_MAX, SEMAPHORE_NAME);
            CHECK(*event != NULL && *semaphore != NULL);
        }
        break;
    case 1:                                 /* open or close the mutex and its page */
        if (gd->mutex != NULL)
            guard_close(gd);
        else
            guard_open(gd);
        break;
    case 2:                                 /* signal */
        if (*event == NULL)
            break;
        if (rand_r(seed) % 2) {
            CHECK(RtSetEvent(*event));
        } else {
            SetLastError(SENTINEL);
            CHECK(RtReleaseSemaphore(*semaphore, 1, NULL) || GetLastError() == ERROR_TOO_MANY_POSTS);
        }
        break;
    case 3:
    case 4: {                               /* wait on one, or on all three */
        if (*event == NULL)
            break;
        HANDLE objs[3] = {*event, *semaphore, gd->mutex};
        DWORD n = gd->mutex != NULL && rand_r(seed) % 2 ? 3 : 1 + rand_r(seed) % 2;
        DWORD r = timed_wait(n, objs, (DWORD)(rand_r(seed) % (WAIT_MS_MAX + 1)));
        if (r == WAIT_OBJECT_0 + 2 || r == WAIT_ABANDONED_0 + 2) {
            update_guarded(gd->g, r, seed);
            CHECK(RtReleaseMutex(gd->mutex));
        }
        break;
    }
    default:                                /* the mutex and the data it guards */
        if (gd->mutex == NULL)
            break;
        DWORD r = timed_wait(1, &gd->mutex, MUTEX_WAIT_MS);
        if (r != WAIT_TIMEOUT) {
            update_guarded(gd->g, r, seed);
            CHECK(RtReleaseMutex(gd->mutex));
        }
    }
}

/* A worker's life: random calls, every answer checked; exits 0 when done. */
void stress_worker(int slot, unsigned seed, int ops)
{
    struct held held[HELD] = {{0}};
    HANDLE closed = NULL, event = NULL, semaphore = NULL;
    struct guard gd = {0};
    for (op = 0; op < ops && !retire; op++) {
        atomic_store(&stress_results->call_started_ms[slot], tn_now_ms());
        if (rand_r(&seed) % 3 == 0)
            sync_op(&event, &semaphore, &gd, &seed);
        else
            shm_op(&held[rand_r(&seed) % HELD], &closed, &seed);
    }
    atomic_store(&stress_results->call_started_ms[slot], 0);
    _exit(0);
}

/* While a worker is stopped at a random point of its calls (a stopped
 * destroyer holds its write lock, a stopped owner its mutex), touch every
 * name; the stopped one is killed meanwhile, and this must finish promptly. */
void stress_checker(void)
{
    op = 0;
    for (int k = 0; k < NAMED; k++, op++) {
        void *p = NULL;
        SetLastError(SENTINEL);
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, stress_names[k], &p);
        if (h == NULL) {
            CHECK(GetLastError() == ERROR_NOT_ENOUGH_MEMORY);
        } else {
            CHECK(GetLastError() == ERROR_SUCCESS || GetLastError() == ERROR_ALREADY_EXISTS);
            check_named(p, k);
            CHECK(RtUnmapSharedMemory(p) && CloseHandle(h));
        }
        SetLastError(SENTINEL);
        h = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, stress_names[k], &p);
        if (h == NULL)
            CHECK(GetLastError() == ERROR_FILE_NOT_FOUND);
        else
            CHECK(RtUnmapSharedMemory(p) && CloseHandle(h));
    }
    struct guard gd = {0};
    guard_open(&gd);
    if (gd.mutex != NULL) {
        unsigned seed = (unsigned)getpid();
        DWORD r = timed_wait(1, &gd.mutex, MUTEX_WAIT_MS);
        if (r != WAIT_TIMEOUT) {
            update_guarded(gd.g, r, &seed);
            CHECK(RtReleaseMutex(gd.mutex));
        }
        guard_close(&gd);
    }
    uint64_t size, used;
    CHECK(iwin32PoolInfo(&size, &used));
    _exit(0);
}
