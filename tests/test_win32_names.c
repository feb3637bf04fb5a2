/*
 * SPEC 9: every call under both of INtime's names.  The Win32 names
 * (CreateEvent, WaitForSingleObject, ...) and the Rt names of the Win32
 * calls (RtCloseHandle, RtGetLastError, RtSetLastError) reach the same
 * objects with the same results and errors as their partners, and are real
 * exported symbols: dlsym finds each one.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"

static void test_events(void **state)
{
    (void)state;
    HANDLE e = CreateEvent(NULL, TRUE, FALSE, "names-event");
    assert_non_null(e);
    assert_int_equal(GetLastError(), ERROR_SUCCESS);
    HANDLE r = RtCreateEvent(NULL, TRUE, FALSE, "names-event"); /* the same object */
    assert_non_null(r);
    assert_int_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    HANDLE o = OpenEvent(0, FALSE, "names-event");
    assert_non_null(o);
    assert_true(SetEvent(e));
    assert_int_equal(RtWaitForSingleObject(r, 0), WAIT_OBJECT_0);
    assert_int_equal(WaitForSingleObject(o, 0), WAIT_OBJECT_0); /* manual: still set */
    assert_true(ResetEvent(o));
    assert_int_equal(WaitForSingleObject(e, 0), WAIT_TIMEOUT);
    assert_true(PulseEvent(r));
    assert_int_equal(WaitForSingleObject(e, 0), WAIT_TIMEOUT); /* Pulse leaves it reset */
    SetLastError(0);
    assert_null(OpenEvent(0, FALSE, "names-missing"));
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    SetLastError(0);
    assert_false(SetEvent(NULL));
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    assert_true(CloseHandle(e));
    assert_true(RtCloseHandle(r));
    assert_true(RtCloseHandle(o));
    SetLastError(0);
    assert_false(RtCloseHandle(o)); /* closed */
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
}

static void test_mutexes(void **state)
{
    (void)state;
    HANDLE m = CreateMutex(NULL, TRUE, "names-mutex");
    assert_non_null(m);
    HANDLE o = OpenMutex(0, FALSE, "names-mutex");
    assert_non_null(o);
    assert_int_equal(WaitForSingleObject(o, 0), WAIT_OBJECT_0); /* recursive */
    assert_true(ReleaseMutex(m));
    assert_true(RtReleaseMutex(o));
    SetLastError(0);
    assert_false(ReleaseMutex(m)); /* once more than acquired */
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    SetLastError(0);
    assert_null(CreateEvent(NULL, FALSE, FALSE, "names-mutex")); /* another type's name */
    assert_int_equal(GetLastError(), ERROR_INVALID_HANDLE);
    assert_true(CloseHandle(m));
    assert_true(CloseHandle(o));
}

static void test_semaphores_and_multiple_waits(void **state)
{
    (void)state;
    HANDLE s = CreateSemaphore(NULL, 1, 2, "names-sem");
    assert_non_null(s);
    HANDLE o = OpenSemaphore(0, FALSE, "names-sem");
    assert_non_null(o);
    LONG prev = -1;
    assert_true(ReleaseSemaphore(o, 1, &prev));
    assert_int_equal(prev, 1);
    SetLastError(0);
    assert_false(ReleaseSemaphore(s, 1, &prev));
    assert_int_equal(GetLastError(), ERROR_TOO_MANY_POSTS);
    SetLastError(0);
    assert_null(CreateSemaphore(NULL, 3, 2, NULL));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    HANDLE e = CreateEvent(NULL, FALSE, FALSE, NULL);
    HANDLE both[2] = {e, s};
    assert_int_equal(WaitForMultipleObjects(2, both, FALSE, 0), WAIT_OBJECT_0 + 1);
    assert_int_equal(WaitForMultipleObjects(2, both, FALSE, 0), WAIT_OBJECT_0 + 1);
    assert_int_equal(WaitForMultipleObjects(2, both, FALSE, 0), WAIT_TIMEOUT); /* 2 units taken */
    SetLastError(0);
    assert_int_equal(WaitForMultipleObjects(0, both, FALSE, 0), WAIT_FAILED);
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    assert_int_equal(WaitForMultipleObjects(2, both, TRUE, 0), WAIT_FAILED); /* INtime refuses wait-all */
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(s));
    assert_true(CloseHandle(o));
    assert_int_equal(tn_count_objects(NULL), 0);
}

static void test_last_error_names(void **state)
{
    (void)state;
    RtSetLastError(ERROR_NOT_OWNER);
    assert_int_equal(GetLastError(), ERROR_NOT_OWNER);
    assert_int_equal(RtGetLastError(), ERROR_NOT_OWNER);
    SetLastError(12345);
    assert_int_equal(RtGetLastError(), 12345);
}

/* Every call of iwin32.h, as other languages find it: by dlsym.  The pairs
 * are every call INtime's iwin32 pages give two names ("CloseHandle,
 * RtCloseHandle (iwin32)", ...), RtCreateThread besides (named by INtime's
 * iwin32 design page); the singles are the calls INtime names once. */
static const char *const pairs[][2] = {
    {"CloseHandle", "RtCloseHandle"},
    {"GetLastError", "RtGetLastError"},
    {"SetLastError", "RtSetLastError"},
    {"CreateEvent", "RtCreateEvent"},
    {"OpenEvent", "RtOpenEvent"},
    {"SetEvent", "RtSetEvent"},
    {"ResetEvent", "RtResetEvent"},
    {"PulseEvent", "RtPulseEvent"},
    {"CreateMutex", "RtCreateMutex"},
    {"OpenMutex", "RtOpenMutex"},
    {"ReleaseMutex", "RtReleaseMutex"},
    {"CreateSemaphore", "RtCreateSemaphore"},
    {"OpenSemaphore", "RtOpenSemaphore"},
    {"ReleaseSemaphore", "RtReleaseSemaphore"},
    {"WaitForSingleObject", "RtWaitForSingleObject"},
    {"WaitForMultipleObjects", "RtWaitForMultipleObjects"},
    {"GetCurrentThread", "RtGetCurrentThread"},
    {"SetThreadPriority", "RtSetThreadPriority"},
    {"GetThreadPriority", "RtGetThreadPriority"},
    {"Sleep", "RtSleep"},
    {"CreateThread", "RtCreateThread"},
    {"ExitThread", "RtExitThread"},
    {"SuspendThread", "RtSuspendThread"},
    {"ResumeThread", "RtResumeThread"},
    {"TerminateThread", "RtTerminateThread"},
    {"OpenProcess", "RtOpenProcess"},
    {"GetExitCodeProcess", "RtGetExitCodeProcess"},
    {"TerminateProcess", "RtTerminateProcess"},
    {"ExitProcess", "RtExitProcess"},
};
static const char *const singles[] = {
    "RtCreateSharedMemory", "RtOpenSharedMemory", "RtUnmapSharedMemory", "RtSleepFt",
    "RtGetClockTime", "RtGetClockResolution", "RtGetClockTimerPeriod", "RtCreateTimer",
    "RtSetTimer", "RtSetTimerRelative", "RtGetTimer", "RtCancelTimer", "RtDeleteTimer",
    "InitializeCriticalSection", "EnterCriticalSection", "TryEnterCriticalSection",
    "LeaveCriticalSection", "DeleteCriticalSection", "GetCurrentThreadId", "OpenThread",
    "GetExitCodeThread", "GetCurrentProcess", "GetCurrentProcessId", "RtCreateProcess"};

static void test_every_name_is_a_symbol(void **state)
{
    (void)state;
    void *self = dlopen(NULL, RTLD_NOW);
    assert_non_null(self);
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        for (size_t j = 0; j < 2; j++)
            if (dlsym(self, pairs[i][j]) == NULL)
                fail_msg("dlsym(%s): %s", pairs[i][j], dlerror());
    for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++)
        if (dlsym(self, singles[i]) == NULL)
            fail_msg("dlsym(%s): %s", singles[i], dlerror());
    /* Where one function has two names, both are that function. */
    assert_ptr_equal(dlsym(self, "Sleep"), dlsym(self, "RtSleep"));
    assert_ptr_equal(dlsym(self, "GetCurrentThread"), dlsym(self, "RtGetCurrentThread"));
    dlclose(self);
}

/* Win32's access-right names compile, with Win32's values, and every Open
 * takes them (ignored: every handle may do everything).  Ported code
 * passes them: OpenEvent(EVENT_ALL_ACCESS, ...), OpenProcess(SYNCHRONIZE |
 * PROCESS_QUERY_INFORMATION, ...). */
static void test_access_rights(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        DWORD value, win32;
    } rights[] = {
        {"SYNCHRONIZE", SYNCHRONIZE, 0x00100000u},
        {"EVENT_MODIFY_STATE", EVENT_MODIFY_STATE, 0x0002u},
        {"EVENT_ALL_ACCESS", EVENT_ALL_ACCESS, 0x001F0003u},
        {"MUTEX_MODIFY_STATE", MUTEX_MODIFY_STATE, 0x0001u},
        {"MUTEX_ALL_ACCESS", MUTEX_ALL_ACCESS, 0x001F0001u},
        {"SEMAPHORE_MODIFY_STATE", SEMAPHORE_MODIFY_STATE, 0x0002u},
        {"SEMAPHORE_ALL_ACCESS", SEMAPHORE_ALL_ACCESS, 0x001F0003u},
        {"PROCESS_TERMINATE", PROCESS_TERMINATE, 0x0001u},
        {"PROCESS_QUERY_INFORMATION", PROCESS_QUERY_INFORMATION, 0x0400u},
        {"PROCESS_QUERY_LIMITED_INFORMATION", PROCESS_QUERY_LIMITED_INFORMATION, 0x1000u},
        {"PROCESS_ALL_ACCESS", PROCESS_ALL_ACCESS, 0x001FFFFFu},
    };
    for (size_t i = 0; i < sizeof rights / sizeof *rights; i++)
        if (rights[i].value != rights[i].win32)
            fail_msg("%s is %#x, Win32's is %#x", rights[i].name, rights[i].value, rights[i].win32);
    HANDLE e = CreateEvent(NULL, FALSE, FALSE, "names-rights-ev");
    HANDLE m = CreateMutex(NULL, FALSE, "names-rights-mx");
    HANDLE s = CreateSemaphore(NULL, 0, 1, "names-rights-sem");
    assert_non_null(e);
    assert_non_null(m);
    assert_non_null(s);
    HANDLE opened[] = {
        OpenEvent(EVENT_ALL_ACCESS, FALSE, "names-rights-ev"),
        OpenEvent(SYNCHRONIZE | EVENT_MODIFY_STATE, FALSE, "names-rights-ev"),
        OpenMutex(MUTEX_ALL_ACCESS, FALSE, "names-rights-mx"),
        OpenMutex(SYNCHRONIZE | MUTEX_MODIFY_STATE, FALSE, "names-rights-mx"),
        OpenSemaphore(SEMAPHORE_ALL_ACCESS, FALSE, "names-rights-sem"),
        OpenSemaphore(SYNCHRONIZE | SEMAPHORE_MODIFY_STATE, FALSE, "names-rights-sem"),
    };
    for (size_t i = 0; i < sizeof opened / sizeof *opened; i++) {
        if (opened[i] == NULL)
            fail_msg("open %zu with Win32 rights: error %u", i, GetLastError());
        assert_true(CloseHandle(opened[i]));
    }
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(m));
    assert_true(CloseHandle(s));
}

/* The same for OpenProcess (a case of its own: under valgrind 3.19, which
 * does not know pidfd_open, .ci/valgrind skips it). */
static void test_process_access_rights(void **state)
{
    (void)state;
    HANDLE opened[] = {
        OpenProcess(PROCESS_ALL_ACCESS, FALSE, GetCurrentProcessId()),
        OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, GetCurrentProcessId()),
        OpenProcess(SYNCHRONIZE | PROCESS_QUERY_INFORMATION | PROCESS_TERMINATE, FALSE, GetCurrentProcessId()),
    };
    for (size_t i = 0; i < sizeof opened / sizeof *opened; i++) {
        if (opened[i] == NULL)
            fail_msg("OpenProcess %zu with Win32 rights: error %u", i, GetLastError());
        assert_true(CloseHandle(opened[i]));
    }
}

int main(int argc, char **argv)
{
    tn_select_tests(argc, argv); /* .ci/valgrind skips test_process_access_rights */
    tn_setup("win32_names");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_events, tn_teardown),
        cmocka_unit_test_teardown(test_mutexes, tn_teardown),
        cmocka_unit_test_teardown(test_semaphores_and_multiple_waits, tn_teardown),
        cmocka_unit_test(test_last_error_names),
        cmocka_unit_test(test_every_name_is_a_symbol),
        cmocka_unit_test_teardown(test_access_rights, tn_teardown),
        cmocka_unit_test(test_process_access_rights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
