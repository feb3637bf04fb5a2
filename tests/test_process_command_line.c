/*
 * RtCreateProcess's command line (src/command_line.c): split by Microsoft's
 * C runtime rules into the argv this program, run again with "--child argv"
 * or "--child exit N", checks; the program name's own rule; the $PATH
 * search for a command line with no application name; programs that
 * cannot run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "process_util.h"

static char self[4096];

/* ---- the children ------------------------------------------------------------ */

static int child_main(int argc, char **argv)
{
    if (strcmp(argv[2], "exit") == 0 && argc > 3)
        return atoi(argv[3]);
    if (strcmp(argv[2], "argv") == 0) { /* exit 0 if argv[3..] are the words expected */
        const char *want[] = {"a b", "c\"d", "e\\\\\\\\f g", "h\\i", "", "j\"k"};
        int n = (int)(sizeof want / sizeof want[0]);
        if (argc != 3 + n)
            return 10 + argc;
        for (int i = 0; i < n; i++)
            if (strcmp(argv[3 + i], want[i]) != 0) {
                fprintf(stderr, "argv[%d] = [%s], want [%s]\n", 3 + i, argv[3 + i], want[i]);
                return 20 + i;
            }
        return 0;
    }
    return 99;
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_command_line(void **state)
{
    (void)state;
    /* Microsoft's rules: quotes group, \" is a quote, 2n backslashes before
     * a quote are n, other backslashes are literal, "" inside quotes is a quote. */
    char line[5000];
    snprintf(line, sizeof line, "\"%s\" --child argv \"a b\" c\\\"d \"e\\\\\\\\f g\" h\\i \"\" \"j\"\"k\"", self);
    PROCESS_INFORMATION pi;
    assert_true(RtCreateProcess(NULL, line, NULL, NULL, FALSE, 0, NULL, NULL, NULL, &pi));
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 0);
    CloseHandle(pi.hProcess);
    /* The application name is the program, the command line its argv. */
    assert_true(RtCreateProcess(self, "whatever-argv0 --child exit 5", NULL, NULL, FALSE, 0, NULL, NULL, NULL, &pi));
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 5);
    CloseHandle(pi.hProcess);
    /* No application name: the first word is looked up in $PATH. */
    char sh[] = "sh -c \"exit 3\"";
    assert_true(RtCreateProcess(NULL, sh, NULL, NULL, FALSE, 0, NULL, NULL, NULL, &pi));
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 3);
    CloseHandle(pi.hProcess);
    /* The program name (argv[0]) by its own rule: quotes group, a backslash
     * is literal (a path may end in one) - "a b\" is a b\, not a b" and
     * the rest of the line. */
    char named[] = "\"a b\\\" --child argv0";
    /* Told by the environment, not argv[1] (which a wrong split loses:
     * the child would run the tests again). */
    assert_int_equal(setenv("TEST_COMMAND_LINE_ARGV0", "1", 1), 0);
    BOOLEAN started = RtCreateProcess(self, named, NULL, NULL, FALSE, 0, NULL, NULL, NULL, &pi);
    unsetenv("TEST_COMMAND_LINE_ARGV0");
    assert_true(started);
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 0);
    CloseHandle(pi.hProcess);
    /* An empty command line with an application name: Win32 runs it (with
     * an empty command line); here with the name as its only argument, as
     * for a NULL one. */
    char blank[] = "  ";
    const char *truth = access("/bin/true", X_OK) == 0 ? "/bin/true" : "/usr/bin/true";
    SetLastError(SENTINEL);
    assert_true(RtCreateProcess(truth, blank, NULL, NULL, FALSE, 0, NULL, NULL, NULL, &pi));
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 0);
    CloseHandle(pi.hProcess);
    /* No PROCESS_INFORMATION: it runs all the same, and is reaped. */
    char quick[] = "true";
    assert_true(RtCreateProcess(NULL, quick, NULL, NULL, FALSE, 0, NULL, NULL, NULL, NULL));
    assert_no_children();
}

/* The $PATH search takes files only, as execvp: a directory of the
 * program's name earlier in $PATH is passed over, not run (EACCES). */
static void test_path_skips_directories(void **state)
{
    (void)state;
    char dir[4096], shadow[4200];
    tn_path(dir, sizeof dir, "bin");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(shadow, sizeof shadow, "%s/true", dir);
    assert_int_equal(mkdir(shadow, 0755), 0);
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    char path[8192];
    snprintf(path, sizeof path, "%s:/usr/bin:/bin", dir);
    assert_int_equal(setenv("PATH", path, 1), 0);
    char line[] = "true";
    PROCESS_INFORMATION pi;
    SetLastError(SENTINEL);
    BOOLEAN started = RtCreateProcess(NULL, line, NULL, NULL, FALSE, 0, NULL, NULL, NULL, &pi);
    DWORD error = GetLastError();
    if (saved) { /* before any assertion can fail */
        setenv("PATH", saved, 1);
        free(saved);
    } else {
        unsetenv("PATH");
    }
    assert_int_equal(error, SENTINEL);
    assert_true(started);
    assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
    assert_int_equal(exit_code(pi.hProcess), 0);
    CloseHandle(pi.hProcess);
    rmdir(shadow);
    rmdir(dir);
}

/* Programs that cannot run, and arguments that are not a program: Win32's
 * errors, and no process left behind. */
static void test_bad_programs(void **state)
{
    (void)state;
    PROCESS_INFORMATION pi;
    char empty[] = "   ", missing[] = "iwin32-no-such-program-here", line[] = "x";
    /* Files that are not programs: not executable, and executable but no
     * format the kernel knows (no #! line). */
    char plain[4096], garbage[4096];
    tn_path(plain, sizeof plain, "plain");
    tn_path(garbage, sizeof garbage, "garbage");
    FILE *f = fopen(plain, "w");
    assert_non_null(f);
    fputs("not a program\n", f);
    fclose(f);
    assert_int_equal(chmod(plain, 0644), 0);
    f = fopen(garbage, "w");
    assert_non_null(f);
    fputs("not a program either\n", f);
    fclose(f);
    assert_int_equal(chmod(garbage, 0755), 0);
    /* A program still open for writing (being written): the exec's ETXTBSY. */
    char busy[4096];
    tn_path(busy, sizeof busy, "busy");
    int busy_fd = open(busy, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0755);
    assert_true(busy_fd >= 0);
    assert_int_equal(write(busy_fd, "#!/bin/sh\n", 10), 10);
    /* An argument longer than Linux takes (MAX_ARG_STRLEN, 128 KiB): the
     * exec's E2BIG, Win32's error for a command line that is too long. */
    size_t long_len = 200000;
    char *too_long = malloc(long_len + 16);
    assert_non_null(too_long);
    strcpy(too_long, "/bin/true ");
    memset(too_long + 10, 'a', long_len);
    too_long[long_len + 10] = '\0';
    struct {
        LPCTSTR app;
        LPTSTR line;
        DWORD flags;
        DWORD error;
    } cases[] = {
        {NULL, NULL, 0, ERROR_INVALID_PARAMETER},
        {NULL, empty, 0, ERROR_INVALID_PARAMETER},
        {self, line, 0x10, ERROR_INVALID_PARAMETER},
        {NULL, missing, 0, ERROR_FILE_NOT_FOUND},
        {"/nonexistent/program", NULL, 0, ERROR_FILE_NOT_FOUND},
        {plain, NULL, 0, ERROR_ACCESS_DENIED},      /* the exec's EACCES */
        {garbage, NULL, 0, ERROR_BAD_EXE_FORMAT},   /* ENOEXEC */
        {NULL, too_long, 0, ERROR_FILENAME_EXCED_RANGE}, /* E2BIG */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        SetLastError(SENTINEL);
        assert_false(RtCreateProcess(cases[i].app, cases[i].line, NULL, NULL, FALSE, cases[i].flags, NULL, NULL,
                                     NULL, &pi));
        assert_int_equal(GetLastError(), cases[i].error);
    }
    free(too_long);
    /* Linux 6.11 briefly let a file open for writing be run: there it runs. */
    SetLastError(SENTINEL);
    if (RtCreateProcess(busy, NULL, NULL, NULL, FALSE, 0, NULL, NULL, NULL, &pi)) {
        assert_int_equal(WaitForSingleObject(pi.hProcess, TN_TIMEOUT_MS), WAIT_OBJECT_0);
        CloseHandle(pi.hProcess);
    } else {
        assert_int_equal(GetLastError(), ERROR_ACCESS_DENIED);
    }
    close(busy_fd);
    assert_no_children();
}

/* A failed start reaps its child in a blocking wait: a signal of the
 * application's, caught without SA_RESTART, must not cut that wait short
 * and leave a zombie (1021 of 3000 were left before). */
static void on_alarm(int sig) { (void)sig; }

static void test_failed_start_interrupted(void **state)
{
    (void)state;
    struct sigaction alarm = {.sa_handler = on_alarm}, old; /* no SA_RESTART */
    assert_int_equal(sigaction(SIGALRM, &alarm, &old), 0);
    struct itimerval often = {{0, 20}, {0, 20}}, off = {{0, 0}, {0, 0}};
    assert_int_equal(setitimer(ITIMER_REAL, &often, NULL), 0);
    int started = 0;
    DWORD error = ERROR_FILE_NOT_FOUND;
    for (int i = 0; i < 1000; i++) {
        char missing[] = "/nonexistent/program";
        PROCESS_INFORMATION pi;
        if (RtCreateProcess(NULL, missing, NULL, NULL, FALSE, 0, NULL, NULL, NULL, &pi))
            started++;
        else if (GetLastError() != ERROR_FILE_NOT_FOUND)
            error = GetLastError();
    }
    setitimer(ITIMER_REAL, &off, NULL); /* before any assertion can fail */
    sigaction(SIGALRM, &old, NULL);
    assert_int_equal(started, 0);
    assert_int_equal(error, ERROR_FILE_NOT_FOUND);
    assert_no_children();
}

int main(int argc, char **argv)
{
    if (getenv("TEST_COMMAND_LINE_ARGV0")) /* test_command_line's: exit 0 if argv is a b\, --child, argv0 */
        return argc == 3 && strcmp(argv[0], "a b\\") == 0 && strcmp(argv[1], "--child") == 0 ? 0 : 1;
    if (argc >= 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argc, argv);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 1;
    self[n] = '\0';
    tn_setup("process_command_line");
    tn_select_tests(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_command_line, tn_teardown),
        cmocka_unit_test_teardown(test_path_skips_directories, tn_teardown),
        cmocka_unit_test_teardown(test_bad_programs, tn_teardown),
        cmocka_unit_test_teardown(test_failed_start_interrupted, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
