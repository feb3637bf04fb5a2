/*
 * Fuzz harness 2: sequences of API calls (SPEC 3, 4, 6).  The input is a
 * program: each operation is an opcode byte and its operand bytes (a missing
 * byte reads as 0).  Operations create, open, close, map, unmap, write, set,
 * reset, pulse, release and wait, on names from a small set (unnamed, case,
 * path-like, hashed, invalid) and on handle values that are live, stale
 * (closed earlier in this input) or garbage (NULL, -1, a live slot with
 * another generation, random bits), with random sizes, counts and flags.
 *
 * One thread and one process, so a model predicts every result exactly: the
 * return value, the last error (left alone where the SPEC says so), the
 * state of every object, which objects the pool counts, and what memory
 * each mapping shows.  Any difference is an abort().  Nothing blocks: waits
 * time out after 0 ms, or 1 ms now and then.  After the program everything
 * is released, closed and unmapped, and the node must be empty.
 *
 * The pool is 4 MiB and shared memory objects up to 256 KiB, so programs
 * can fill it; handles and mappings are capped (an operation that would
 * pass a cap is skipped) so memory stays small.  A program is at most
 * MAX_OPS operations, far fewer than the 2047 reuses of a slot that could
 * bring a stale handle value back.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_node.h"

#define MAX_OPS 512
#define MAX_HANDLES 48
#define MAX_MAPPINGS 48
#define MAX_STALE 32
#define POOL_MB 4
#define SHM_SIZE_MAX (256u * 1024u)
#define NAME_MAX_BYTES (MAX_PATH - 1) /* the longest valid name */

/* ---- the input ------------------------------------------------------------ */

static const uint8_t *input;
static size_t input_left;

static uint8_t take8(void)
{
    if (input_left == 0)
        return 0;
    input_left--;
    return *input++;
}

static uint32_t take32(void)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | take8();
    return v;
}

/* ---- names ---------------------------------------------------------------- */

enum { NAME_NULL, NAME_EMPTY, NAME_A, NAME_UPPER_A, NAME_PATH, NAME_LONG_1, NAME_LONG_2,
       NAME_PERCENT, NAME_BACKSLASH, NAME_TOO_LONG, NNAMES };
static char long_1[NAME_MAX_BYTES + 1], long_2[NAME_MAX_BYTES + 1], too_long[MAX_PATH + 1];
static const char *const names[NNAMES] = {
    [NAME_NULL] = NULL, [NAME_EMPTY] = "", [NAME_A] = "a", [NAME_UPPER_A] = "A",
    [NAME_PATH] = "../a/./", [NAME_LONG_1] = long_1, [NAME_LONG_2] = long_2, /* hashed */
    [NAME_PERCENT] = "%61", /* not "a" escaped */
    [NAME_BACKSLASH] = "x\\a", [NAME_TOO_LONG] = too_long};

static bool unnamed(int name) { return name == NAME_NULL || name == NAME_EMPTY; }

static DWORD name_error(int name)
{
    return name == NAME_BACKSLASH ? ERROR_PATH_NOT_FOUND
         : name == NAME_TOO_LONG  ? ERROR_FILENAME_EXCED_RANGE
                                  : ERROR_SUCCESS;
}

/* ---- the model ------------------------------------------------------------- */

enum kind { SHM = 1, EVENT, MUTEX, SEMAPHORE };

struct object {
    enum kind kind;
    int name;               /* unnamed: NAME_NULL */
    unsigned instance;      /* tells successive objects of one name apart */
    unsigned handles;       /* 0: the slot is free */
    uint32_t size;          /* SHM */
    bool manual, signalled; /* EVENT */
    unsigned owned;         /* MUTEX: acquisitions by this (the only) thread */
    int64_t count, maximum; /* SEMAPHORE */
};

struct mapping {
    unsigned char *base;
    size_t len;
    unsigned instance;
};

static struct object objects[MAX_HANDLES];
static struct { HANDLE value; struct object *obj; } handles[MAX_HANDLES];
static struct mapping mappings[MAX_MAPPINGS];
static HANDLE stale[MAX_STALE];
static unsigned char *unmapped[MAX_STALE];
static size_t nhandles, nmappings, nstale, nunmapped;
static unsigned next_instance;
static uint64_t pool_pages_used;

static uint32_t page;

static uint32_t pages_of(uint32_t size) { return (size + page - 1) / page; }

static struct object *named_object(int name)
{
    if (unnamed(name))
        return NULL;
    for (size_t i = 0; i < MAX_HANDLES; i++)
        if (objects[i].handles > 0 && objects[i].name == name)
            return &objects[i];
    return NULL;
}

/* A new object with init's state, not yet with a handle. */
static struct object *new_object(const struct object *init, enum kind kind, int name)
{
    for (size_t i = 0; i < MAX_HANDLES; i++)
        if (objects[i].handles == 0) {
            objects[i] = *init;
            objects[i].kind = kind;
            objects[i].name = unnamed(name) ? NAME_NULL : name;
            objects[i].instance = ++next_instance;
            return &objects[i];
        }
    abort(); /* never: there are as many slots as handles */
}

static void add_handle(HANDLE h, struct object *obj)
{
    for (size_t i = 0; i < nhandles; i++)
        FZ_CHECK(handles[i].value != h, "handle %p handed out twice", h);
    FZ_CHECK((uintptr_t)h >= 0x10000, "handle %p below 0x10000", h);
    handles[nhandles].value = h;
    handles[nhandles].obj = obj;
    nhandles++;
    obj->handles++;
}

/* The live object behind a value, or NULL: what the library must answer. */
static struct object *object_of(HANDLE h, size_t *index)
{
    for (size_t i = 0; i < nhandles; i++)
        if (handles[i].value == h) {
            if (index)
                *index = i;
            return handles[i].obj;
        }
    return NULL;
}

/* A handle value chosen by the input: live, stale or garbage. */
static HANDLE pick_handle(void)
{
    uint8_t sel = take8();
    if (sel < 128 && nhandles > 0)
        return handles[sel % nhandles].value;
    if (sel < 160 && nstale > 0)
        return stale[sel % nstale];
    switch (sel % 8) {
    case 0: return NULL;
    case 1: return (HANDLE)(intptr_t)-1;
    case 2: return (HANDLE)(uintptr_t)0x10000;
    case 3: return (HANDLE)(uintptr_t)0x100000; /* generation 1, slot 0: may be live */
    case 4: return (HANDLE)(uintptr_t)take32();
    case 5: return (HANDLE)&handles;
    case 6: /* a live slot with another generation */
        return nhandles ? (HANDLE)((uintptr_t)handles[0].value ^ (uintptr_t)take8() << 20) : NULL;
    default: return (HANDLE)((uintptr_t)take32() << 32 | take32());
    }
}

/* ---- checking a call --------------------------------------------------------- */

/* A Create/Open that must fail with err and leave nothing behind. */
static void expect_null(const char *call, HANDLE h, DWORD err)
{
    FZ_CHECK(h == NULL && GetLastError() == err, "%s: %p, error %u, expected NULL and %u", call, h,
             GetLastError(), err);
}

static void expect_false(const char *call, BOOLEAN ok, DWORD err)
{
    FZ_CHECK(!ok && GetLastError() == err, "%s: %d, error %u, expected FALSE and %u", call, ok,
             GetLastError(), err);
}

static void expect_true(const char *call, BOOLEAN ok)
{
    FZ_CHECK(ok, "%s: FALSE, error %u", call, GetLastError());
}

static struct mapping *mapping_at(const void *addr)
{
    for (size_t i = 0; i < nmappings; i++)
        if ((const unsigned char *)addr >= mappings[i].base &&
            (const unsigned char *)addr < mappings[i].base + mappings[i].len)
            return &mappings[i];
    return NULL;
}

/* A new mapping of obj at p: page-aligned, apart from every other mapping,
 * zero-filled if the object is new, else the same memory as the object's
 * other mappings. */
static void add_mapping(unsigned char *p, const struct object *obj, bool fresh)
{
    size_t len = (size_t)pages_of(obj->size) * page;
    FZ_CHECK(p != NULL && (uintptr_t)p % page == 0, "mapping at %p", (void *)p);
    for (size_t i = 0; i < nmappings; i++)
        FZ_CHECK(mappings[i].base + mappings[i].len <= p || p + len <= mappings[i].base,
                 "mapping %p overlaps another", (void *)p);
    if (fresh) {
        for (size_t i = 0; i < len; i++)
            FZ_CHECK(p[i] == 0, "new object's byte %zu is %#x", i, p[i]);
    } else {
        for (size_t i = 0; i < nmappings; i++)
            if (mappings[i].instance == obj->instance)
                FZ_CHECK(memcmp(mappings[i].base, p, len) == 0, "two mappings of one object differ");
    }
    mappings[nmappings++] = (struct mapping){.base = p, .len = len, .instance = obj->instance};
}

/* ---- create and open ----------------------------------------------------------- */

/* What a Create of kind on name gives: the result and the model's change. */
static void created(const char *call, enum kind kind, int name, HANDLE h, DWORD param_error,
                    uint32_t shm_size, const struct object *init, unsigned char *location)
{
    DWORD err = GetLastError();
    if (param_error != ERROR_SUCCESS || name_error(name) != ERROR_SUCCESS) {
        expect_null(call, h, param_error != ERROR_SUCCESS ? param_error : name_error(name));
        return;
    }
    struct object *obj = named_object(name);
    if (obj != NULL && obj->kind != kind) {
        expect_null(call, h, ERROR_INVALID_HANDLE);
        return;
    }
    if (obj != NULL) { /* an existing object: its own state, the new arguments ignored */
        FZ_CHECK(h != NULL && err == ERROR_ALREADY_EXISTS, "%s on an existing name: %p, error %u", call, h, err);
        add_handle(h, obj);
        if (kind == SHM)
            add_mapping(location, obj, false);
        return;
    }
    if (kind == SHM && shm_size == 0) {
        expect_null(call, h, ERROR_INVALID_PARAMETER);
        return;
    }
    if (kind == SHM && pool_pages_used + pages_of(shm_size) > POOL_MB * 1024u * 1024u / page) {
        expect_null(call, h, ERROR_NOT_ENOUGH_MEMORY);
        return;
    }
    FZ_CHECK(h != NULL && err == ERROR_SUCCESS, "%s of a new object: %p, error %u", call, h, err);
    obj = new_object(init, kind, name);
    add_handle(h, obj);
    if (kind == SHM) {
        obj->size = shm_size;
        pool_pages_used += pages_of(shm_size);
        add_mapping(location, obj, true);
    }
}

static void op_create(enum kind kind)
{
    int name = take8() % NNAMES;
    uint8_t flags = take8();
    struct object init = {0};
    DWORD param_error = ERROR_SUCCESS;
    unsigned char *location = NULL;
    HANDLE h = NULL;
    if (nhandles == MAX_HANDLES || (kind == SHM && nmappings == MAX_MAPPINGS))
        return;
    SetLastError(FZ_SENTINEL);
    switch (kind) {
    case SHM: {
        uint32_t size = (take32() >> 8) % (SHM_SIZE_MAX + 1);
        DWORD high = (flags & 0x0f) == 1 ? 1u << (flags >> 4) : 0;
        bool no_location = (flags & 0x0f) == 2;
        if (high != 0 || no_location)
            param_error = ERROR_INVALID_PARAMETER;
        h = RtCreateSharedMemory(PAGE_READWRITE, high, size, names[name],
                                 no_location ? NULL : (void **)&location);
        created("RtCreateSharedMemory", kind, name, h, param_error, size, &init, location);
        return;
    }
    case EVENT:
        init.manual = flags & 1;
        init.signalled = flags & 2;
        h = RtCreateEvent(NULL, init.manual, init.signalled, names[name]);
        break;
    case MUTEX:
        init.owned = flags & 1;
        h = RtCreateMutex(NULL, (BOOLEAN)(flags & 1), names[name]);
        break;
    case SEMAPHORE: {
        static const int32_t edges[] = {-1, 0, 1, 2, INT32_MAX, INT32_MAX - 1, INT32_MIN, 64};
        int32_t initial = flags < 0xf8 ? flags % 5 : edges[flags & 7];
        uint8_t m = take8();
        int32_t maximum = m < 0xf8 ? m % 5 : edges[m & 7];
        /* Counts no new semaphore may have: refused unless the name is an
         * existing object's, whose Create ignores them (SPEC 6) - a
         * semaphore's (a handle) or another type's (ERROR_INVALID_HANDLE) -
         * or a bad name (its error). */
        if ((maximum < 1 || initial < 0 || initial > maximum) &&
            (unnamed(name) || (name_error(name) == ERROR_SUCCESS && named_object(name) == NULL)))
            param_error = ERROR_INVALID_PARAMETER;
        init.count = initial;
        init.maximum = maximum;
        h = RtCreateSemaphore(NULL, initial, maximum, names[name]);
        break;
    }
    }
    created("RtCreate(sync)", kind, name, h, param_error, 0, &init, NULL);
}

static void op_open(enum kind kind)
{
    int name = take8() % NNAMES;
    bool no_location = kind == SHM && take8() == 0xff;
    unsigned char *location = NULL;
    HANDLE h;
    if (nhandles == MAX_HANDLES || (kind == SHM && nmappings == MAX_MAPPINGS))
        return;
    SetLastError(FZ_SENTINEL);
    switch (kind) {
    case SHM:
        h = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, names[name], no_location ? NULL : (void **)&location);
        break;
    case EVENT: h = RtOpenEvent(0, FALSE, names[name]); break;
    case MUTEX: h = RtOpenMutex(0, FALSE, names[name]); break;
    default: h = RtOpenSemaphore(0, FALSE, names[name]); break;
    }
    struct object *obj = named_object(name);
    if (no_location || unnamed(name))
        expect_null("Open", h, ERROR_INVALID_PARAMETER);
    else if (name_error(name) != ERROR_SUCCESS)
        expect_null("Open", h, name_error(name));
    else if (obj == NULL)
        expect_null("Open", h, ERROR_FILE_NOT_FOUND);
    else if (obj->kind != kind)
        expect_null("Open", h, ERROR_INVALID_HANDLE);
    else {
        FZ_CHECK(h != NULL && GetLastError() == FZ_SENTINEL, "Open: %p, error %u (must be left alone)", h,
                 GetLastError());
        add_handle(h, obj);
        if (kind == SHM)
            add_mapping(location, obj, false);
    }
}

/* ---- close, unmap, write -------------------------------------------------------- */

static void forget_handle(size_t i)
{
    struct object *obj = handles[i].obj;
    if (nstale < MAX_STALE)
        stale[nstale++] = handles[i].value;
    handles[i] = handles[--nhandles];
    if (--obj->handles == 0 && obj->kind == SHM)
        pool_pages_used -= pages_of(obj->size);
}

/* The last handle of a mutex this thread owns: released first, so that no
 * page stays mapped for the life of the process (README: a mutex owned
 * when its last handle closes keeps its page), which would add up over
 * millions of inputs.  Checks the count: once per acquisition, then no more. */
static void release_before_last_close(HANDLE h, struct object *obj)
{
    if (obj->kind != MUTEX || obj->handles != 1)
        return;
    for (; obj->owned > 0; obj->owned--)
        expect_true("RtReleaseMutex (owned)", RtReleaseMutex(h));
    expect_false("RtReleaseMutex (not owned)", RtReleaseMutex(h), ERROR_NOT_OWNER);
}

static void op_close(void)
{
    HANDLE h = pick_handle();
    size_t i;
    struct object *obj = object_of(h, &i);
    if (obj != NULL)
        release_before_last_close(h, obj);
    SetLastError(FZ_SENTINEL);
    BOOLEAN ok = CloseHandle(h);
    if (h == GetCurrentProcess() || h == GetCurrentThread()) {
        expect_true("CloseHandle (a pseudo-handle: nothing to close, as Win32)", ok);
        return;
    }
    if (obj == NULL) {
        expect_false("CloseHandle", ok, ERROR_INVALID_HANDLE);
        return;
    }
    expect_true("CloseHandle", ok);
    forget_handle(i);
}

static void op_unmap(void)
{
    uint8_t sel = take8();
    uint32_t offset = take32();
    unsigned char local;
    unsigned char *addr;
    if (sel < 160 && nmappings > 0) { /* a mapping, at its base or inside it */
        struct mapping *m = &mappings[sel % nmappings];
        addr = m->base + (sel & 1 ? offset % m->len : 0);
    } else if (sel < 192 && nunmapped > 0) {
        addr = unmapped[sel % nunmapped];
    } else {
        switch (sel % 4) {
        case 0: addr = NULL; break;
        case 1: addr = &local; break;
        case 2: addr = nmappings ? mappings[0].base + mappings[0].len : NULL; break; /* just past */
        default: addr = (unsigned char *)(uintptr_t)offset; break;
        }
    }
    struct mapping *m = mapping_at(addr);
    SetLastError(FZ_SENTINEL);
    BOOLEAN ok = RtUnmapSharedMemory(addr);
    if (m == NULL) {
        expect_false("RtUnmapSharedMemory", ok, ERROR_INVALID_ADDRESS);
        return;
    }
    expect_true("RtUnmapSharedMemory", ok);
    if (nunmapped < MAX_STALE)
        unmapped[nunmapped++] = m->base;
    *m = mappings[--nmappings];
}

/* A byte written through one mapping shows through every mapping of that
 * object, and through no mapping of another. */
static void op_write(void)
{
    uint8_t sel = take8();
    uint32_t offset = take32();
    uint8_t value = take8();
    if (nmappings == 0)
        return;
    struct mapping *target = &mappings[sel % nmappings];
    offset %= target->len;
    unsigned char before[MAX_MAPPINGS];
    for (size_t i = 0; i < nmappings; i++)
        before[i] = offset < mappings[i].len ? mappings[i].base[offset] : 0;
    target->base[offset] = value;
    for (size_t i = 0; i < nmappings; i++) {
        if (offset >= mappings[i].len)
            continue;
        unsigned char want = mappings[i].instance == target->instance ? value : before[i];
        FZ_CHECK(mappings[i].base[offset] == want, "mapping %zu shows %#x at %u, expected %#x", i,
                 mappings[i].base[offset], offset, want);
    }
}

/* ---- events, mutexes, semaphores, waits ---------------------------------------- */

enum event_op { SET, RESET, PULSE };

static void op_event(enum event_op what)
{
    HANDLE h = pick_handle();
    struct object *obj = object_of(h, NULL);
    SetLastError(FZ_SENTINEL);
    BOOLEAN ok = what == SET ? RtSetEvent(h) : what == RESET ? RtResetEvent(h) : RtPulseEvent(h);
    if (obj == NULL || obj->kind != EVENT) {
        expect_false("RtSet/Reset/PulseEvent", ok, ERROR_INVALID_HANDLE);
        return;
    }
    expect_true("RtSet/Reset/PulseEvent", ok);
    obj->signalled = what == SET; /* a Pulse with no waiter leaves it reset */
}

static void op_release_mutex(void)
{
    HANDLE h = pick_handle();
    struct object *obj = object_of(h, NULL);
    SetLastError(FZ_SENTINEL);
    BOOLEAN ok = RtReleaseMutex(h);
    if (obj == NULL || obj->kind != MUTEX)
        expect_false("RtReleaseMutex", ok, ERROR_INVALID_HANDLE);
    else if (obj->owned == 0)
        expect_false("RtReleaseMutex", ok, ERROR_NOT_OWNER);
    else {
        expect_true("RtReleaseMutex", ok);
        obj->owned--;
    }
}

static void op_release_semaphore(void)
{
    static const int32_t edges[] = {0, -1, INT32_MIN, INT32_MAX, INT32_MAX - 1, 3, 64, 1000};
    HANDLE h = pick_handle();
    uint8_t c = take8();
    int32_t count = c < 0xf0 ? c % 4 + 1 : edges[c & 7];
    bool want_previous = take8() & 1;
    struct object *obj = object_of(h, NULL);
    const LONG untouched = -12345;
    LONG previous = untouched;
    SetLastError(FZ_SENTINEL);
    BOOLEAN ok = RtReleaseSemaphore(h, count, want_previous ? &previous : NULL);
    if (obj == NULL || obj->kind != SEMAPHORE)
        expect_false("RtReleaseSemaphore", ok, ERROR_INVALID_HANDLE);
    else if (count < 1)
        expect_false("RtReleaseSemaphore", ok, ERROR_INVALID_PARAMETER);
    else if (obj->count + count > obj->maximum)
        expect_false("RtReleaseSemaphore", ok, ERROR_TOO_MANY_POSTS);
    else {
        expect_true("RtReleaseSemaphore", ok);
        FZ_CHECK(!want_previous || previous == obj->count, "previous count %d, expected %lld", previous,
                 (long long)obj->count);
        obj->count += count;
        return;
    }
    FZ_CHECK(previous == untouched, "a failed release wrote the previous count");
}

/* Takes obj if it is signalled, as a wait does; false if it is not. */
static bool take(struct object *obj)
{
    switch (obj->kind) {
    case EVENT:
        if (!obj->signalled)
            return false;
        obj->signalled = obj->manual;
        return true;
    case SEMAPHORE:
        if (obj->count == 0)
            return false;
        obj->count--;
        return true;
    default: /* a mutex is never another thread's: ours for the taking */
        obj->owned++;
        return true;
    }
}

static void op_wait(bool multiple)
{
    HANDLE hs[MAXIMUM_WAIT_OBJECTS + 2];
    uint8_t shape = take8();
    DWORD n = multiple ? take8() % (MAXIMUM_WAIT_OBJECTS + 3) : 1; /* 0 and 65, 66 too */
    for (DWORD i = 0; i < n && i < MAXIMUM_WAIT_OBJECTS + 2; i++)
        hs[i] = pick_handle();
    BOOLEAN wait_all = multiple && (shape & 0x0f) == 1;
    bool null_array = multiple && (shape & 0x0f) == 2;
    DWORD timeout = (shape >> 4) == 0xf ? 1 : 0;
    SetLastError(FZ_SENTINEL);
    DWORD r = multiple ? RtWaitForMultipleObjects(n, null_array ? NULL : hs, wait_all, timeout)
                       : RtWaitForSingleObject(hs[0], timeout);
    if (n == 0 || n > MAXIMUM_WAIT_OBJECTS || null_array || wait_all) {
        FZ_CHECK(r == WAIT_FAILED && GetLastError() == ERROR_INVALID_PARAMETER,
                 "wait on %u handles (all %d): %#x, error %u", n, wait_all, r, GetLastError());
        return;
    }
    struct object *objs[MAXIMUM_WAIT_OBJECTS];
    for (DWORD i = 0; i < n; i++) {
        objs[i] = object_of(hs[i], NULL);
        if (objs[i] == NULL || objs[i]->kind == SHM) {
            FZ_CHECK(r == WAIT_FAILED && GetLastError() == ERROR_INVALID_HANDLE,
                     "wait with bad handle %u (%p): %#x, error %u", i, hs[i], r, GetLastError());
            return;
        }
    }
    DWORD want = WAIT_TIMEOUT;
    for (DWORD i = 0; i < n && want == WAIT_TIMEOUT; i++)
        if (take(objs[i]))
            want = WAIT_OBJECT_0 + i;
    FZ_CHECK(r == want && GetLastError() == FZ_SENTINEL, "wait on %u handles: %#x, expected %#x; error %u", n, r,
             want, GetLastError());
}

static void op_pool_info(void)
{
    uint64_t size = 0, used = 0;
    FZ_CHECK(iwin32PoolInfo(&size, &used), "iwin32PoolInfo: error %u", GetLastError());
    FZ_CHECK(size == POOL_MB * 1024ull * 1024 && used == pool_pages_used * page,
             "pool %llu/%llu bytes, expected %llu/%llu", (unsigned long long)used, (unsigned long long)size,
             (unsigned long long)(pool_pages_used * page), POOL_MB * 1024ull * 1024);
}

/* ---- the program ---------------------------------------------------------------- */

/* Releases what this thread owns, closes every handle, unmaps every mapping:
 * then no object may be left. */
static void finish(void)
{
    while (nhandles > 0) {
        struct object *obj = handles[nhandles - 1].obj;
        release_before_last_close(handles[nhandles - 1].value, obj);
        expect_true("CloseHandle (at the end)", CloseHandle(handles[nhandles - 1].value));
        forget_handle(nhandles - 1);
    }
    while (nmappings > 0)
        expect_true("RtUnmapSharedMemory (at the end)", RtUnmapSharedMemory(mappings[--nmappings].base));
    FZ_CHECK(pool_pages_used == 0, "model: %llu pages with no object", (unsigned long long)pool_pages_used);
    fz_check_node_empty();
    nstale = nunmapped = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    memset(long_1, 'L', NAME_MAX_BYTES);
    memcpy(long_2, long_1, NAME_MAX_BYTES);
    long_2[NAME_MAX_BYTES - 1] = 'M';
    memset(too_long, 'L', MAX_PATH);
    page = (uint32_t)sysconf(_SC_PAGESIZE);
    fz_node_setup("calls", POOL_MB);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input = data;
    input_left = size;
    for (int ops = 0; input_left > 0 && ops < MAX_OPS; ops++) {
        switch (take8() % 18) {
        case 0: op_create(SHM); break;
        case 1: op_open(SHM); break;
        case 2: op_create(EVENT); break;
        case 3: op_open(EVENT); break;
        case 4: op_create(MUTEX); break;
        case 5: op_open(MUTEX); break;
        case 6: op_create(SEMAPHORE); break;
        case 7: op_open(SEMAPHORE); break;
        case 8: op_close(); break;
        case 9: op_unmap(); break;
        case 10: op_write(); break;
        case 11: op_event(SET); break;
        case 12: op_event(RESET); break;
        case 13: op_event(PULSE); break;
        case 14: op_release_mutex(); break;
        case 15: op_release_semaphore(); break;
        case 16: op_wait(take8() & 1); break;
        default: op_pool_info(); break;
        }
    }
    finish();
    return 0;
}
