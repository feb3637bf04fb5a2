/*
 * SPEC 2: types and constants of iwin32.h - Win32 ABI widths regardless of
 * platform, Win32's numeric values.  Checked at compile time and again at
 * run time (so that ctest reports them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"

#define SAME_TYPE(expr, T) _Generic((expr), T: 1, default: 0)

_Static_assert(sizeof(DWORD) == 4 && sizeof(UINT) == 4 && sizeof(LONG) == 4, "Win32 widths");
_Static_assert(sizeof(BOOLEAN) == 1, "BOOLEAN is a byte");

static void test_widths(void **state)
{
    (void)state;
    assert_int_equal(sizeof(DWORD), 4);
    assert_int_equal(sizeof(UINT), 4);
    assert_int_equal(sizeof(LONG), 4);           /* not C long, even on LP64 */
    assert_int_equal(sizeof(BOOL), sizeof(int));
    assert_int_equal(sizeof(BOOLEAN), 1);
    assert_int_equal(sizeof(HANDLE), sizeof(void *));
    assert_int_equal(sizeof(PVOID), sizeof(void *));
    assert_int_equal(sizeof(LPLONG), sizeof(void *));
    assert_int_equal(sizeof(LPCTSTR), sizeof(char *));
    assert_int_equal(sizeof(LPSECURITY_ATTRIBUTES), sizeof(void *));
}

static void test_signedness_and_exact_types(void **state)
{
    (void)state;
    /* unsigned 32-bit */
    assert_true((DWORD)-1 == 0xFFFFFFFFu && (DWORD)-1 > 0);
    assert_true((UINT)-1 == 0xFFFFFFFFu && (UINT)-1 > 0);
    /* signed 32-bit */
    assert_true((LONG)-1 < 0);
    assert_true((LONG)0x7FFFFFFF > 0);
    /* BOOLEAN: unsigned char */
    assert_true((BOOLEAN)-1 == 255);
    assert_true(SAME_TYPE((BOOLEAN)0, unsigned char));
    assert_true(SAME_TYPE((BOOL)0, int));
    assert_true(SAME_TYPE((DWORD)0, uint32_t));
    assert_true(SAME_TYPE((UINT)0, uint32_t));
    assert_true(SAME_TYPE((LONG)0, int32_t));
    assert_true(SAME_TYPE((HANDLE)0, void *));
    assert_true(SAME_TYPE((PVOID)0, void *));
    assert_true(SAME_TYPE((LPCTSTR)0, const char *));
    assert_true(SAME_TYPE((LPLONG)0, LONG *));
    VOID *v = NULL; /* VOID is void */
    assert_null(v);
    assert_int_equal(TRUE, 1);
    assert_int_equal(FALSE, 0);
    assert_true(INFINITE == 0xFFFFFFFFu);
    assert_true(SAME_TYPE(GetLastError(), DWORD));
    assert_true(SAME_TYPE(CloseHandle(NULL), BOOLEAN));
    assert_true(SAME_TYPE(RtUnmapSharedMemory(NULL), BOOLEAN));
}

static void test_constants(void **state)
{
    (void)state;
    assert_int_equal(ERROR_SUCCESS, 0);
    assert_int_equal(ERROR_FILE_NOT_FOUND, 2);
    assert_int_equal(ERROR_PATH_NOT_FOUND, 3);
    assert_int_equal(ERROR_ACCESS_DENIED, 5);
    assert_int_equal(ERROR_INVALID_HANDLE, 6);
    assert_int_equal(ERROR_NOT_ENOUGH_MEMORY, 8);
    assert_int_equal(ERROR_INVALID_PARAMETER, 87);
    assert_int_equal(ERROR_INVALID_NAME, 123);
    assert_int_equal(ERROR_ALREADY_EXISTS, 183);
    assert_int_equal(ERROR_FILENAME_EXCED_RANGE, 206);
    assert_int_equal(ERROR_NOT_OWNER, 288);
    assert_int_equal(ERROR_TOO_MANY_POSTS, 298);
    assert_int_equal(ERROR_INVALID_ADDRESS, 487);
    assert_int_equal(WAIT_OBJECT_0, 0);
    assert_int_equal(WAIT_ABANDONED_0, 0x80);
    assert_int_equal(WAIT_TIMEOUT, 0x102);
    assert_true(WAIT_FAILED == 0xFFFFFFFFu);
    assert_int_equal(MAX_PATH, 260);
    assert_int_equal(PAGE_READONLY, 2);
    assert_int_equal(PAGE_READWRITE, 4);
    assert_int_equal(SHM_MAP_READ, 1);
    assert_int_equal(SHM_MAP_WRITE, 2);
    assert_int_equal(SHM_MAP_ALL_ACCESS, 3);
    assert_int_equal(MAXIMUM_WAIT_OBJECTS, 64);
}

/* SPEC 9: the further base types and constants INtime code expects. */
static void test_intime_types(void **state)
{
    (void)state;
    assert_true(SAME_TYPE((WORD)0, uint16_t));
    assert_true(SAME_TYPE((BYTE)0, uint8_t));
    assert_true(SAME_TYPE((INT)0, int));
    assert_true(SAME_TYPE((ULONG)0, uint32_t));
    assert_true(SAME_TYPE((LPVOID)0, void *));
    assert_true(SAME_TYPE((LPDWORD)0, DWORD *));
    assert_true(SAME_TYPE((LONGLONG)0, long long)); /* Win32's, not int64_t's long */
    assert_true(SAME_TYPE((CLOCK)0, DWORD));
    assert_int_equal(sizeof(LARGE_INTEGER), 8);
    assert_true(SAME_TYPE((PLARGE_INTEGER)0, LARGE_INTEGER *));
    /* The halves: LowPart the low 32 bits, HighPart the signed high ones. */
    LARGE_INTEGER li;
    li.QuadPart = -2;
    assert_true(li.LowPart == 0xFFFFFFFEu && li.HighPart == -1);
    assert_true(li.u.LowPart == li.LowPart && li.u.HighPart == li.HighPart);
    li.LowPart = 5;
    li.HighPart = 1;
    assert_true(li.QuadPart == 0x100000005LL);
    assert_true(SAME_TYPE(li.HighPart, LONG) && SAME_TYPE(li.LowPart, DWORD));

    DWORD (WINAPI *start)(LPVOID) = NULL;
    LPTHREAD_START_ROUTINE r = start;
    assert_null(r);
    VOID (RTFCNDCL *routine)(PVOID) = NULL;
    assert_null(routine);
    assert_string_equal(TEXT("name"), "name");
    assert_null(NULL);
    assert_true(INVALID_HANDLE_VALUE == (HANDLE)(intptr_t)-1);
    assert_int_equal(STILL_ACTIVE, 259);
    assert_int_equal(WAIT_ABANDONED, 0x80);
    assert_int_equal(CREATE_SUSPENDED, 4);
    assert_int_equal(THREAD_PRIORITY_IDLE, -15);
    assert_int_equal(THREAD_PRIORITY_LOWEST, -2);
    assert_int_equal(THREAD_PRIORITY_BELOW_NORMAL, -1);
    assert_int_equal(THREAD_PRIORITY_NORMAL, 0);
    assert_int_equal(THREAD_PRIORITY_ABOVE_NORMAL, 1);
    assert_int_equal(THREAD_PRIORITY_HIGHEST, 2);
    assert_int_equal(THREAD_PRIORITY_TIME_CRITICAL, 15);
    assert_int_equal(THREAD_PRIORITY_ERROR_RETURN, 0x7FFFFFFF);
    assert_true(SAME_TYPE(GetThreadPriority(NULL), INT));
    assert_true(SAME_TYPE(TryEnterCriticalSection(NULL), BOOLEAN));
    assert_true(SAME_TYPE(RtGetClockTime(CLOCK_FASTEST, NULL), BOOLEAN));
}

/* flProtect, dwDesiredAccess, bInheritHandle are accepted and ignored: the
 * memory is always readable and writable. */
static void test_protection_arguments_ignored(void **state)
{
    (void)state;
    VOID *p = NULL, *q = NULL;
    HANDLE h = RtCreateSharedMemory(PAGE_READONLY, 0, 4096, "types-ro", &p);
    assert_non_null(h);
    ((volatile char *)p)[0] = 'w'; /* writable despite PAGE_READONLY */
    HANDLE o = RtOpenSharedMemory(SHM_MAP_READ, TRUE, "types-ro", &q);
    assert_non_null(o);
    ((volatile char *)q)[1] = 'x'; /* writable despite SHM_MAP_READ */
    assert_int_equal(((char *)p)[1], 'x');
    VOID *r = NULL;
    HANDLE o2 = RtOpenSharedMemory(0xFFFFFFFFu, 77, "types-ro", &r);
    assert_non_null(o2);
    ((volatile char *)r)[2] = 'y';
    assert_int_equal(((char *)p)[2], 'y');
    assert_true(RtUnmapSharedMemory(p));
    assert_true(RtUnmapSharedMemory(q));
    assert_true(RtUnmapSharedMemory(r));
    assert_true(CloseHandle(h));
    assert_true(CloseHandle(o));
    assert_true(CloseHandle(o2));
    HANDLE h2 = RtCreateSharedMemory(0, 0, 4096, "types-any", &p);
    assert_non_null(h2);
    ((volatile char *)p)[0] = 1;
    assert_true(RtUnmapSharedMemory(p));
    assert_true(CloseHandle(h2));
    assert_int_equal(tn_count_objects(NULL), 0);
}

int main(void)
{
    tn_setup("types");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_widths, tn_teardown),
        cmocka_unit_test_teardown(test_signedness_and_exact_types, tn_teardown),
        cmocka_unit_test_teardown(test_constants, tn_teardown),
        cmocka_unit_test_teardown(test_intime_types, tn_teardown),
        cmocka_unit_test_teardown(test_protection_arguments_ignored, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
