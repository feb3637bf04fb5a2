/*
 * Issue 11.5: the system calls a Create or Open cycle makes, counted by
 * ptrace (every syscall entry of the measuring process between two marker
 * calls), so that a change adding one to the paths the guarantees pay for
 * (docs/DESIGN.md lists each call and what it is for) fails here:
 *
 *   create 4 KiB, unmap, close (destroys)                  14
 *   open of an object another process holds, unmap, close  10
 *   open of a name this process holds, unmap, close         3
 *
 * A sanitizer's runtime makes calls of its own: the counts are checked in
 * plain builds only.  Without ptrace (a container's seccomp profile) the
 * test is skipped.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_node.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

#define CYCLES 3
#define MARK() syscall(SYS_getppid) /* a call the library never makes */

enum cycle { CREATE, OPEN_CROSS, OPEN_SELF, NCYCLES };
static const char *const cycle_names[] = {"create", "open (another process holds it)", "open (this process holds it)"};
/* The cross-process open's 13: 10, and issue 9.6's member charge (an
 * fstat) and racing closers (an unlock and a second upgrade): DESIGN.md. */
static const long expected[] = {14, 13, 3};

/* The measured process: each cycle CYCLES times, a marker before each. */
static void measured(int ready)
{
    void *p, *q;
    /* Warm: the node, the member slot, the hazard slots, the first record. */
    HANDLE warm = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "calls.warm", &p);
    int up[2], down[2]; /* the holder says it holds; we say when it may go */
    if (warm == NULL || !RtUnmapSharedMemory(p) || pipe(up) != 0 || pipe(down) != 0)
        _exit(2);
    pid_t holder = fork();
    if (holder == 0) {
        char c;
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "calls.cross", &p);
        if (h == NULL || write(up[1], "x", 1) != 1)
            _exit(2);
        while (read(down[0], &c, 1) < 0 && errno == EINTR) {
        }
        _exit(0);
    }
    char c;
    if (holder < 0 || read(up[0], &c, 1) != 1)
        _exit(2);
    HANDLE self = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "calls.self", &p);
    HANDLE again = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, "calls.self", &q); /* its second mapping */
    if (self == NULL || again == NULL || !RtUnmapSharedMemory(p) || !RtUnmapSharedMemory(q) || !CloseHandle(again))
        _exit(2);
    if (write(ready, "x", 1) != 1)
        _exit(2);
    raise(SIGSTOP); /* the tracer counts from here */
    for (int cycle = CREATE; cycle < NCYCLES; cycle++)
        for (int i = 0; i < CYCLES; i++) {
            MARK();
            HANDLE h = cycle == CREATE ? RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "calls.new", &p)
                                       : RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE,
                                                            cycle == OPEN_SELF ? "calls.self" : "calls.cross", &p);
            if (h == NULL)
                _exit(3);
            ((volatile char *)p)[0] = 1;
            if (!RtUnmapSharedMemory(p) || !CloseHandle(h))
                _exit(3);
        }
    MARK();
    if (write(down[1], "x", 1) != 1 || waitpid(holder, NULL, 0) != holder)
        _exit(2);
    _exit(0);
}

static void test_cycle_calls(void **state)
{
    (void)state;
#ifdef SANITIZED
    skip();
#endif
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
            _exit(77);
        measured(ready[1]);
    }
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) != 1) { /* no ptrace here: the child said so */
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 77);
        skip();
    }
    close(ready[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid); /* its SIGSTOP */
    assert_true(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP);
    assert_int_equal(ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_TRACESYSGOOD), 0);
    long counts[NCYCLES * CYCLES + 1] = {0};
    int marks = -1; /* before the first marker */
    for (;;) {
        assert_int_equal(ptrace(PTRACE_SYSCALL, pid, NULL, NULL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status) || WIFSIGNALED(status))
            break;
        assert_true(WIFSTOPPED(status));
        if (WSTOPSIG(status) != (SIGTRAP | 0x80))
            continue; /* a signal (SIGCHLD): not a call */
        struct __ptrace_syscall_info info;
        assert_true(ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof info, &info) > 0);
        if (info.op != PTRACE_SYSCALL_INFO_ENTRY)
            continue;
        if (info.entry.nr == SYS_getppid)
            marks++;
        else if (marks >= 0 && marks < NCYCLES * CYCLES)
            counts[marks]++;
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int cycle = CREATE; cycle < NCYCLES; cycle++)
        for (int i = 0; i < CYCLES; i++) {
            long n = counts[cycle * CYCLES + i];
            print_message("%s: %ld system calls (at most %ld)\n", cycle_names[cycle], n, expected[cycle]);
            assert_true(n <= expected[cycle]);
        }
}

int main(void)
{
    tn_setup("calls");
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cycle_calls)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
