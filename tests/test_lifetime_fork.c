/*
 * SPEC 4: "Handles are inherited across fork (the child holds a reference
 * too)" - and only handles: a child holds a reference exactly for each
 * handle it inherited.  A fork while another thread is between a handle
 * and its reference (a Create or Open that has its object but not yet its
 * handle, a CloseHandle that has removed the handle but not yet let go)
 * must not leave the child a reference without a handle: it would keep the
 * object (its name, its state) alive for as long as the child lives, with
 * no handle to close it by.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"

static atomic_bool stop_churn;

static void *churn_events(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_churn)) {
        HANDLE h = CreateEvent(NULL, FALSE, FALSE, "lf-churn");
        HANDLE o = h ? OpenEvent(0, FALSE, "lf-churn") : NULL;
        if (h == NULL || o == NULL || !CloseHandle(o) || !CloseHandle(h))
            return (void *)1;
    }
    return NULL;
}

/* Shared memory: its mappings are no references (SPEC 3), only handles. */
static void *churn_shm(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_churn)) {
        void *p, *q;
        HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 4096, "lf-shm", &p);
        HANDLE o = h ? RtOpenSharedMemory(0, FALSE, "lf-shm", &q) : NULL;
        if (h == NULL || o == NULL || !RtUnmapSharedMemory(q) || !CloseHandle(o) || !CloseHandle(h) ||
            !RtUnmapSharedMemory(p))
            return (void *)1;
    }
    return NULL;
}

/* Closes every handle this process may have: each value (handle.h: the
 * generation above bit 21, the slot above bit 2) of the first slots. */
static void close_every_handle(void)
{
    for (uintptr_t slot = 0; slot < 16; slot++)
        for (uintptr_t gen = 1; gen < 1024; gen++)
            CloseHandle((HANDLE)(gen << 21 | slot << 2));
}

static void test_fork_holds_only_what_handles_hold(void **state)
{
    (void)state;
    enum { CHILDREN = 60 };
    atomic_store(&stop_churn, false);
    pthread_t t[2];
    assert_int_equal(pthread_create(&t[0], NULL, churn_events, NULL), 0);
    assert_int_equal(pthread_create(&t[1], NULL, churn_shm, NULL), 0);
    int leaked = 0;
    for (int c = 0; c < CHILDREN; c++) {
        pid_t pid = tn_fork();
        if (pid == 0) {
            close_every_handle();
            _exit(tn_ofd_locks("n-", "READ") == 0 /* references: reflock.h */ ? 0 : 1);
        }
        int st = tn_wait(pid, 10000);
        if (st == -1)
            fail_msg("child %d hung", c);
        leaked += !tn_exited_ok(st);
    }
    atomic_store(&stop_churn, true);
    for (int i = 0; i < 2; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        assert_null(bad);
    }
    printf("children left holding a reference without a handle: %d of %d\n", leaked, CHILDREN);
    assert_int_equal(leaked, 0);
    assert_int_equal(tn_count_objects(NULL), 0);
}

int main(int argc, char **argv)
{
    tn_select_tests(argc, argv);
    tn_setup("lifetime-fork");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fork_holds_only_what_handles_hold, tn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
