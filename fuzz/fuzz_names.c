/*
 * Fuzz harness 1: names (SPEC 3, "Names are ...").  The input, up to its
 * first NUL, is an object name.  It goes to the name layer (src/name.h),
 * whose file name must stay inside the node - one path component, no '/',
 * portable bytes, bounded length - and must decode back to the name, or be
 * a SHA-256 only when the escaped form would not fit; and then through the
 * public API on a private node, where the object must be that one file,
 * distinct from a neighbouring name, of one type only, and gone once its
 * handles are closed.  Errors as SPEC 3 says: a '\' is ERROR_PATH_NOT_FOUND,
 * 260 bytes or more ERROR_FILENAME_EXCED_RANGE.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_node.h"
#include "name.h"

/* Longer inputs behave as 260 bytes do. */
#define INPUT_MAX 600

static bool is_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("_.+,=@~-", c) != NULL);
}

static bool is_upper_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

/* The length of the "%XX" escaped form, computed apart from name.c. */
static size_t escaped_length(const char *name, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += is_plain((unsigned char)name[i]) ? 1 : 3;
    return n;
}

/* Recently seen file names and their names: two names must never share a
 * file name (for "n-" names the round trip proves it; this catches a hash
 * collision or a broken escape across inputs). */
#define SEEN_SLOTS 1024
static struct {
    char file[IW_FILE_NAME_SIZE];
    char name[IW_NAME_MAX + 1];
} seen[SEEN_SLOTS];

static void check_distinct(const char *file, const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = file; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    unsigned i = h % SEEN_SLOTS;
    if (strcmp(seen[i].file, file) == 0)
        FZ_CHECK(strcmp(seen[i].name, name) == 0, "two names, one file %s", file);
    snprintf(seen[i].file, sizeof seen[i].file, "%s", file);
    snprintf(seen[i].name, sizeof seen[i].name, "%s", name);
}

/* The expected error for a name of len bytes (ERROR_SUCCESS: a valid name). */
static DWORD name_error(const char *name, size_t len)
{
    if (len > IW_NAME_MAX)
        return ERROR_FILENAME_EXCED_RANGE;
    if (memchr(name, '\\', len) != NULL)
        return ERROR_PATH_NOT_FOUND;
    return ERROR_SUCCESS;
}

static void check_parse(const char *name, size_t len)
{
    struct iw_name parsed;
    DWORD err = iw_name_parse(name, &parsed);
    if (len == 0) {
        FZ_CHECK(err == ERROR_SUCCESS && parsed.bytes == NULL && parsed.file[0] == '\0',
                 "empty name: error %u", err);
        return;
    }
    FZ_CHECK(err == name_error(name, len), "error %u, expected %u", err, name_error(name, len));
    if (err != ERROR_SUCCESS)
        return;
    FZ_CHECK(parsed.bytes == name && parsed.len == len, "parsed %zu bytes of %zu", parsed.len, len);

    const char *file = parsed.file;
    size_t flen = strnlen(file, sizeof parsed.file);
    FZ_CHECK(flen < sizeof parsed.file, "file name not terminated");
    FZ_CHECK(flen > 2 && iw_name_is_object_file(file), "file name %s is not an object's", file);
    for (size_t i = 0; i < flen; i++) /* so no '/', and never "." or ".." */
        FZ_CHECK(is_plain((unsigned char)file[i]) || file[i] == '%', "byte %#x in file name %s",
                 (unsigned char)file[i], file);

    size_t escaped = escaped_length(name, len);
    if (parsed.hashed) {
        FZ_CHECK(strncmp(file, "h-", 2) == 0 && flen == 2 + 64, "hashed file name %s", file);
        for (size_t i = 2; i < flen; i++)
            FZ_CHECK(is_upper_hex(file[i]), "hashed file name %s", file);
        /* Hashing is for names whose escaped form would not fit. */
        FZ_CHECK(2 + escaped > 253, "a %zu-byte escaped name was hashed", escaped);
    } else {
        FZ_CHECK(strncmp(file, "n-", 2) == 0 && flen == 2 + escaped, "file name %s", file);
        char decoded[IW_FILE_NAME_SIZE];
        size_t dlen = 0;
        FZ_CHECK(iw_name_decode(file, decoded, &dlen), "%s does not decode", file);
        FZ_CHECK(dlen == len && memcmp(decoded, name, len) == 0, "%s decodes to another name", file);
    }

    struct iw_name again;
    iw_name_parse(name, &again);
    FZ_CHECK(strcmp(again.file, file) == 0, "one name, two file names");
    check_distinct(file, name);
}

/* The decoder on an arbitrary file name: bounded output, no crash.  The
 * buffer is as long as the decoder may need, so ASan sees any overrun. */
static void check_decode(const char *file, size_t len)
{
    if (len < 2)
        return;
    char *out = malloc(len - 1);
    size_t dlen = 0;
    if (iw_name_decode(file, out, &dlen))
        FZ_CHECK(strncmp(file, "n-", 2) == 0 && dlen <= len - 2 && out[dlen] == '\0',
                 "decoded %zu bytes from %zu", dlen, len);
    else
        FZ_CHECK(strncmp(file, "n-", 2) != 0 || strchr(file, '%') != NULL, "plain %s refused", file);
    free(out);
}

#define EXPECT_NULL(call, err)                                                                \
    do {                                                                                      \
        SetLastError(FZ_SENTINEL);                                                            \
        HANDLE h_ = (call);                                                                   \
        DWORD got_ = GetLastError();                                                          \
        FZ_CHECK(h_ == NULL && got_ == (err), "%s: %p, error %u, expected NULL and %u", #call, \
                 h_, got_, (DWORD)(err));                                                     \
    } while (0)

/* The node holds exactly the file the name layer chose. */
static void check_only_file(const char *name)
{
    struct iw_name parsed;
    iw_name_parse(name, &parsed);
    char only[IW_FILE_NAME_SIZE];
    int n = fz_node_objects(only);
    FZ_CHECK(n == 1 && strcmp(only, parsed.file) == 0, "%d object files, expected just %s", n, parsed.file);
}

/* A different valid name next to this one: the last byte changed (letters
 * change case), never to NUL or '\'. */
static void neighbour(const char *name, size_t len, char *out)
{
    memcpy(out, name, len + 1);
    char flipped = (char)(name[len - 1] ^ 0x20);
    out[len - 1] = flipped != '\0' && flipped != '\\' ? flipped : (char)(name[len - 1] ^ 0x01);
}

static void check_event(const char *name, size_t len)
{
    SetLastError(FZ_SENTINEL);
    HANDLE ev = RtCreateEvent(NULL, TRUE, FALSE, name);
    FZ_CHECK(ev != NULL && GetLastError() == ERROR_SUCCESS, "Create: %p, error %u", ev, GetLastError());
    check_only_file(name);

    SetLastError(FZ_SENTINEL);
    HANDLE same = RtOpenEvent(0, FALSE, name);
    FZ_CHECK(same != NULL && GetLastError() == FZ_SENTINEL, "Open: %p, error %u", same, GetLastError());
    FZ_CHECK(RtSetEvent(ev), "Set: error %u", GetLastError());
    FZ_CHECK(RtWaitForSingleObject(same, 0) == WAIT_OBJECT_0, "the opened event is another one");

    void *p = NULL;
    EXPECT_NULL(RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, name, &p), ERROR_INVALID_HANDLE);
    EXPECT_NULL(RtCreateSharedMemory(PAGE_READWRITE, 0, 1, name, &p), ERROR_INVALID_HANDLE);
    EXPECT_NULL(RtCreateMutex(NULL, FALSE, name), ERROR_INVALID_HANDLE);
    EXPECT_NULL(RtOpenSemaphore(0, FALSE, name), ERROR_INVALID_HANDLE);

    char other[IW_NAME_MAX + 2];
    neighbour(name, len, other);
    EXPECT_NULL(RtOpenEvent(0, FALSE, other), ERROR_FILE_NOT_FOUND);
    if (len < IW_NAME_MAX) {
        memcpy(other, name, len);
        memcpy(other + len, ".", 2);
        EXPECT_NULL(RtOpenEvent(0, FALSE, other), ERROR_FILE_NOT_FOUND);
    }

    FZ_CHECK(CloseHandle(ev) && CloseHandle(same), "Close: error %u", GetLastError());
    fz_check_node_empty();
    EXPECT_NULL(RtOpenEvent(0, FALSE, name), ERROR_FILE_NOT_FOUND);
}

static void check_shared_memory(const char *name)
{
    enum { SIZE = 100 };
    unsigned char *p = NULL, *q = NULL;
    SetLastError(FZ_SENTINEL);
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, SIZE, name, (void **)&p);
    FZ_CHECK(h != NULL && GetLastError() == ERROR_SUCCESS, "Create: %p, error %u", h, GetLastError());
    check_only_file(name);
    for (int i = 0; i < SIZE; i++)
        FZ_CHECK(p[i] == 0, "new memory is not zero-filled");
    p[0] = 0x5A;
    p[SIZE - 1] = 0xA5;

    HANDLE same = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, name, (void **)&q);
    FZ_CHECK(same != NULL && q != NULL && q != p, "Open: %p at %p, error %u", same, (void *)q, GetLastError());
    FZ_CHECK(q[0] == 0x5A && q[SIZE - 1] == 0xA5, "the second mapping shows other memory");

    FZ_CHECK(RtUnmapSharedMemory(p) && RtUnmapSharedMemory(q), "Unmap: error %u", GetLastError());
    FZ_CHECK(CloseHandle(h) && CloseHandle(same), "Close: error %u", GetLastError());
    fz_check_node_empty();
}

static void check_api(const char *name, size_t len)
{
    DWORD err = name_error(name, len);
    void *p = NULL;
    if (err != ERROR_SUCCESS) {
        EXPECT_NULL(RtCreateEvent(NULL, TRUE, FALSE, name), err);
        EXPECT_NULL(RtCreateSharedMemory(PAGE_READWRITE, 0, 1, name, &p), err);
        EXPECT_NULL(RtOpenMutex(0, FALSE, name), err);
        fz_check_node_empty();
        return;
    }
    if (len == 0) { /* an unnamed object: a file of its own, never found by name */
        HANDLE ev = RtCreateEvent(NULL, TRUE, FALSE, name);
        FZ_CHECK(ev != NULL, "unnamed Create: error %u", GetLastError());
        char only[IW_FILE_NAME_SIZE];
        FZ_CHECK(fz_node_objects(only) == 1 && strncmp(only, "u-", 2) == 0, "unnamed object file %s", only);
        EXPECT_NULL(RtOpenEvent(0, FALSE, name), ERROR_INVALID_PARAMETER);
        FZ_CHECK(CloseHandle(ev), "Close: error %u", GetLastError());
        fz_check_node_empty();
        return;
    }
    check_event(name, len);
    check_shared_memory(name);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_node_setup("names", 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[INPUT_MAX + 1];
    if (size > INPUT_MAX)
        size = INPUT_MAX;
    memcpy(name, data, size);
    name[size] = '\0';
    size_t len = strlen(name);
    check_parse(name, len);
    check_decode(name, len);
    check_api(name, len);
    return 0;
}
