/*
 * The inspection interface (iwin32_inspect.h): what a tool sees of a node -
 * objects with their type, size, holders and pids, an event's, semaphore's
 * and mutex's state, leftovers of killed processes removed and reported,
 * the pool's counter and size - and that it never makes a node.
 *
 * One node for the whole run (the process's node is opened once), so the
 * first test is the one that finds none.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <iwin32_inspect.h>

#include "test_node.h"

/* No node yet: every call says so, and none is made. */
static void test_no_node_is_made(void **state)
{
    (void)state;
    char path[4096];
    struct stat st;
    assert_false(iwin32InspectNode(path, sizeof path));
    assert_int_equal(GetLastError(), ERROR_PATH_NOT_FOUND);
    assert_string_equal(path, tn_root());
    IWIN32_OBJECT_INFO *objs = NULL;
    size_t n = 99;
    assert_false(iwin32InspectList(0, NULL, NULL, &objs, &n));
    assert_int_equal(GetLastError(), ERROR_PATH_NOT_FOUND);
    assert_null(objs);
    assert_int_equal(n, 0);
    assert_false(iwin32InspectObject("x", 0, &objs));
    assert_int_equal(GetLastError(), ERROR_PATH_NOT_FOUND);
    uint64_t counted;
    assert_false(iwin32InspectPoolCounted(&counted));
    assert_int_equal(GetLastError(), ERROR_PATH_NOT_FOUND);
    assert_int_not_equal(stat(tn_root(), &st), 0);
    /* Made by a call of the API, it is found. */
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    assert_non_null(e);
    assert_true(iwin32InspectNode(path, sizeof path));
    assert_false(iwin32InspectNode(path, 4)); /* too small for the path */
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    assert_true(CloseHandle(e));
}

/* Leaves its frame's bytes non-zero for the next call at this depth. */
__attribute__((noinline)) static void dirty_stack(void)
{
    volatile char junk[3 * 4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 'A';
}

/* A bad $IWIN32_ROOT: no node path, so none is given (""), never bytes the
 * call did not write (it used to copy its uninitialized buffer: 4097
 * bytes of the stack, one past its end, after a deep call). */
static void test_node_path_of_bad_root(void **state)
{
    (void)state;
    char path[8192];
    memset(path, 'Q', sizeof path);
    char *root = strdup(tn_root());
    assert_int_equal(setenv("IWIN32_ROOT", "relative/path", 1), 0);
    dirty_stack();
    BOOLEAN ok = iwin32InspectNode(path, sizeof path);
    DWORD err = GetLastError();
    assert_int_equal(setenv("IWIN32_ROOT", root, 1), 0);
    free(root);
    assert_false(ok);
    assert_int_equal(err, ERROR_INVALID_PARAMETER);
    assert_string_equal(path, "");
}

static void test_bad_arguments(void **state)
{
    (void)state;
    IWIN32_OBJECT_INFO *objs;
    size_t n;
    assert_false(iwin32InspectList(2, NULL, NULL, &objs, &n));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    assert_false(iwin32InspectList(0, NULL, NULL, NULL, &n));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    assert_false(iwin32InspectObject(NULL, 0, &objs));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    assert_false(iwin32InspectObject("", 0, &objs));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    assert_false(iwin32InspectObject("a\\b", 0, &objs));
    assert_int_equal(GetLastError(), ERROR_PATH_NOT_FOUND);
    assert_false(iwin32InspectObject("nothing here", 0, &objs));
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    assert_false(iwin32InspectSetPoolSize(1000, NULL));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    assert_false(iwin32InspectPoolCounted(NULL));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    iwin32InspectFree(NULL, 0);
}

/* Every type, in name order with the unnamed last, and its state. */
static void test_list_and_state(void **state)
{
    (void)state;
    void *p, *q;
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, 5000, "a.shm", &p);
    HANDLE unnamed = RtCreateSharedMemory(PAGE_READWRITE, 0, 100, NULL, &q);
    HANDLE ev = RtCreateEvent(NULL, TRUE, TRUE, "b.event");
    HANDLE sem = RtCreateSemaphore(NULL, 2, 5, "c.sem");
    HANDLE mx = RtCreateMutex(NULL, TRUE, "d.mutex");
    assert_true(shm && unnamed && ev && sem && mx);
    assert_int_equal(RtWaitForSingleObject(mx, 0), WAIT_OBJECT_0); /* depth 2 */
    ((char *)p)[4999] = 'z';

    IWIN32_OBJECT_INFO *o;
    size_t n;
    assert_true(iwin32InspectList(0, NULL, NULL, &o, &n));
    assert_int_equal(n, 5);
    const char *names[] = {"a.shm", "b.event", "c.sem", "d.mutex", ""};
    IWIN32_OBJECT_TYPE types[] = {IWIN32_OBJECT_SHM, IWIN32_OBJECT_EVENT, IWIN32_OBJECT_SEMAPHORE,
                                  IWIN32_OBJECT_MUTEX, IWIN32_OBJECT_SHM};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(o[i].name, names[i]);
        assert_int_equal(o[i].nameLength, strlen(names[i]));
        assert_int_equal(o[i].type, types[i]);
        assert_int_equal(o[i].holders, 1);
        assert_int_equal(o[i].pidCount, 0); /* this process is left out */
        assert_false(o[i].leftover);
        assert_int_equal(o[i].stateKnown, types[i] != IWIN32_OBJECT_SHM);
        assert_null(o[i].data);
    }
    assert_int_equal(o[0].size, 5000);
    assert_int_equal(o[0].poolPages, (5000 + tn_page() - 1) / tn_page());
    assert_int_equal(o[4].size, 100);
    assert_int_equal(o[1].size, 0);
    assert_int_equal(o[1].poolPages, 0);
    assert_true(o[1].state.manualReset && o[1].state.signalled);
    assert_int_equal(o[2].state.count, 2);
    assert_int_equal(o[2].state.maximum, 5);
    assert_int_equal(o[3].state.ownerTid, (int32_t)syscall(SYS_gettid));
    assert_int_equal(o[3].state.ownerPid, getpid());
    assert_int_equal(o[3].state.depth, 2);
    assert_false(o[3].state.abandoned);
    iwin32InspectFree(o, n);

    /* One object, with its data; the state follows changes. */
    assert_true(RtResetEvent(ev));
    assert_true(iwin32InspectObject("b.event", 0, &o));
    assert_true(o->stateKnown && o->state.manualReset && !o->state.signalled);
    iwin32InspectFree(o, 1);
    assert_true(iwin32InspectObject("a.shm", 1 << 20, &o));
    assert_int_equal(o->dataLength, 5000);
    assert_int_equal(o->data[4999], 'z');
    iwin32InspectFree(o, 1);
    assert_true(iwin32InspectObject("a.shm", 10, &o));
    assert_int_equal(o->dataLength, 10);
    iwin32InspectFree(o, 1);

    assert_true(RtReleaseMutex(mx) && RtReleaseMutex(mx));
    tn_shm_release(shm, p);
    tn_shm_release(unnamed, q);
    assert_true(CloseHandle(ev) && CloseHandle(sem) && CloseHandle(mx));
    assert_true(iwin32InspectList(0, NULL, NULL, &o, &n));
    assert_int_equal(n, 0);
    iwin32InspectFree(o, n);
}

/* The object as inspected once its holder count is holders, or after 2 s
 * as it is then.  Under a loaded parallel run (ASan, ctest -j2) a listing
 * counted one holder more for a moment: /proc/locks shifting under the
 * reader while other tests took and dropped locks (inspect_holders.c,
 * test_counts_under_lock_churn); the count must still settle exactly. */
static IWIN32_OBJECT_INFO *inspect_settled(const char *name, uint32_t holders)
{
    IWIN32_OBJECT_INFO *o = NULL;
    for (int i = 0; i < 200; i++) {
        assert_true(iwin32InspectObject(name, 0, &o));
        if (o->holders == holders)
            break;
        if (i == 0)
            printf("%s: %u holders for a moment, %u expected\n", name, (unsigned)o->holders, (unsigned)holders);
        iwin32InspectFree(o, 1);
        o = NULL;
        usleep(10000);
    }
    if (o == NULL)
        assert_true(iwin32InspectObject(name, 0, &o));
    return o;
}

/* A child holds an object: counted, and its pid listed. */
static void test_holders_and_pids(void **state)
{
    (void)state;
    int go[2], done[2];
    tn_pipe(go);
    tn_pipe(done);
    pid_t child = tn_fork();
    if (child == 0) {
        HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, "held");
        tn_send_byte(go[1]);
        tn_recv_byte(done[0]);
        _exit(e && CloseHandle(e) ? 0 : 1);
    }
    assert_true(tn_recv_byte(go[0]));
    IWIN32_OBJECT_INFO *o = inspect_settled("held", 1);
    assert_int_equal(o->holders, 1);
    assert_int_equal(o->pidCount, 1);
    assert_int_equal(o->pids[0], child);
    iwin32InspectFree(o, 1);
    HANDLE mine = RtOpenEvent(0, FALSE, "held");
    assert_non_null(mine);
    o = inspect_settled("held", 2);
    assert_int_equal(o->holders, 2);
    assert_int_equal(o->pidCount, 1); /* not this process */
    iwin32InspectFree(o, 1);
    tn_send_byte(done[1]);
    assert_true(tn_exited_ok(tn_wait(child, 5000)));
    assert_true(CloseHandle(mine));
    tn_close(go[0]);
    tn_close(go[1]);
    tn_close(done[0]);
    tn_close(done[1]);
}

struct removed {
    int count;
    char name[IWIN32_INSPECT_NAME_MAX + 1];
};

static void on_leftover(const IWIN32_OBJECT_INFO *o, void *context)
{
    struct removed *r = context;
    assert_true(o->leftover);
    assert_int_equal(o->holders, 0);
    r->count++;
    memcpy(r->name, o->name, o->nameLength + 1);
}

/* A child killed holding objects leaves leftovers: a listing removes and
 * reports one, a lookup the other; the pool's counter keeps their pages
 * until a recount. */
static void test_leftovers_removed(void **state)
{
    (void)state;
    int ready[2];
    tn_pipe(ready);
    pid_t child = tn_fork();
    if (child == 0) {
        void *p;
        HANDLE a = RtCreateSharedMemory(PAGE_READWRITE, 0, 1 << 20, "dead one", &p);
        HANDLE b = RtCreateSemaphore(NULL, 0, 1, "dead two");
        if (a && b)
            tn_send_byte(ready[1]);
        pause();
        _exit(1);
    }
    assert_true(tn_recv_byte(ready[0]));
    kill(child, SIGKILL);
    assert_true(tn_killed_by(tn_wait(child, 5000), SIGKILL));
    uint64_t counted, size, used;
    assert_true(iwin32InspectPoolCounted(&counted));
    assert_true(counted >= 1 << 20);

    IWIN32_OBJECT_INFO *o;
    assert_true(iwin32InspectObject("dead two", 0, &o));
    assert_true(o->leftover);
    assert_int_equal(o->type, IWIN32_OBJECT_SEMAPHORE);
    assert_int_equal(o->holders, 0);
    iwin32InspectFree(o, 1);
    assert_false(iwin32InspectObject("dead two", 0, &o));
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);

    struct removed r = {0};
    size_t n;
    assert_true(iwin32InspectList(IWIN32_INSPECT_IN_FLIGHT, on_leftover, &r, &o, &n));
    assert_int_equal(n, 0);
    iwin32InspectFree(o, n);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.name, "dead one");
    assert_int_equal(tn_count_objects(NULL), 0);
    assert_true(iwin32PoolInfo(&size, &used));
    assert_int_equal(used, 0);
    assert_true(iwin32InspectPoolCounted(&counted));
    assert_int_equal(counted, 0);
    tn_close(ready[0]);
    tn_close(ready[1]);
}

/* A mutex whose owner died holding it: abandoned, no owner. */
static void test_abandoned_mutex(void **state)
{
    (void)state;
    HANDLE m = RtCreateMutex(NULL, FALSE, "orphan");
    assert_non_null(m);
    pid_t child = tn_fork();
    if (child == 0) {
        HANDLE c = RtOpenMutex(0, FALSE, "orphan");
        _exit(c && RtWaitForSingleObject(c, 1000) == WAIT_OBJECT_0 ? 0 : 1); /* dies owning it */
    }
    assert_true(tn_exited_ok(tn_wait(child, 5000)));
    IWIN32_OBJECT_INFO *o;
    assert_true(iwin32InspectObject("orphan", 0, &o));
    assert_true(o->stateKnown);
    assert_true(o->state.abandoned);
    assert_int_equal(o->state.ownerTid, 0);
    iwin32InspectFree(o, 1);
    assert_int_equal(RtWaitForSingleObject(m, 0), WAIT_ABANDONED_0);
    assert_true(iwin32InspectObject("orphan", 0, &o));
    assert_false(o->state.abandoned); /* told to the acquirer */
    assert_int_equal(o->state.ownerPid, getpid());
    iwin32InspectFree(o, 1);
    assert_true(RtReleaseMutex(m) && CloseHandle(m));
}

/* Two other processes take and drop OFD locks on many files of their own,
 * as a busy machine does: /proc/locks, which the holder count reads, is made a
 * page per read(), each page from the position the last one ended at, so
 * lock entries coming and going elsewhere shift it under the reader.  Every
 * listing must still count each held object once (it used to drop held
 * objects, counted 0, or count one twice). */
static void test_counts_under_lock_churn(void **state)
{
    (void)state;
    enum { OBJECTS = 9, FILES = 2000, LISTINGS = 150 };
    char dir[] = "/tmp/iwin32-lock-churn-XXXXXX";
    assert_non_null(mkdtemp(dir));
    pid_t churner2 = tn_fork(), churner = churner2 ? tn_fork() : 0;
    if (churner == 0) { /* both children */
        int fds[FILES];
        for (int i = 0; i < FILES; i++) {
            char path[64];
            snprintf(path, sizeof path, "%s/%d", dir, i);
            fds[i] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            if (fds[i] < 0)
                _exit(1);
        }
        for (;;) /* until killed: every file locked, then every one unlocked */
            for (int type = F_RDLCK; type <= F_UNLCK; type += F_UNLCK - F_RDLCK)
                for (int i = 0; i < FILES; i++) {
                    struct flock l = {.l_type = (short)type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
                    fcntl(fds[i], F_OFD_SETLK, &l);
                }
    }
    /* Made after the fork: a child forked from a holder holds them too. */
    HANDLE h[OBJECTS];
    for (int i = 0; i < OBJECTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "churn.%d", i);
        h[i] = RtCreateEvent(NULL, TRUE, FALSE, name);
        assert_non_null(h[i]);
    }
    /* Every listing lists every object, with its one holder: under churn
     * the count is the holders seen in /proc/PID/fdinfo, which churn
     * elsewhere cannot shift (inspect_holders.c). */
    int dropped = 0, miscounted = 0;
    size_t fewest = OBJECTS;
    for (int k = 0; k < LISTINGS; k++) {
        IWIN32_OBJECT_INFO *o;
        size_t n;
        assert_true(iwin32InspectList(0, NULL, NULL, &o, &n));
        dropped += n != OBJECTS;
        fewest = n < fewest ? n : fewest;
        bool exact = true;
        for (size_t i = 0; i < n; i++)
            exact = exact && o[i].holders == 1;
        miscounted += !exact;
        iwin32InspectFree(o, n);
    }
    kill(churner, SIGKILL);
    tn_wait(churner, 5000);
    kill(churner2, SIGKILL);
    tn_wait(churner2, 5000);
    for (int i = 0; i < FILES; i++) {
        char path[64];
        snprintf(path, sizeof path, "%s/%d", dir, i);
        unlink(path);
    }
    rmdir(dir);
    for (int i = 0; i < OBJECTS; i++)
        assert_true(CloseHandle(h[i]));
    printf("under lock churn: %d of %d listings dropped an object (fewest %zu of %d), %d miscounted holders\n",
           dropped, LISTINGS, fewest, OBJECTS, miscounted);
    assert_int_equal(dropped, 0);
    assert_int_equal(miscounted, 0);
}

/* Leaves an object named "doomed" unheld - its creator killed - and its
 * file's path in file. */
static void leave_doomed(char *file, size_t size, int ready[2])
{
    pid_t creator = tn_fork();
    if (creator == 0) { /* killed holding it: its file is left */
        void *p;
        if (RtCreateSharedMemory(PAGE_READWRITE, 0, 100, "doomed", &p))
            tn_send_byte(ready[1]);
        pause();
        _exit(1);
    }
    assert_true(tn_recv_byte(ready[0]));
    kill(creator, SIGKILL);
    assert_true(tn_killed_by(tn_wait(creator, 5000), SIGKILL));
    file[0] = '\0';
    DIR *dir = opendir(tn_root());
    assert_non_null(dir);
    for (struct dirent *d; (d = readdir(dir)) != NULL;)
        if (strncmp(d->d_name, "n-", 2) == 0)
            snprintf(file, size, "%s/%s", tn_root(), d->d_name);
    closedir(dir);
    assert_true(file[0] != '\0');
}

/* Starts a process that does what the last holder's close of "doomed"
 * does, slowly: takes the write lock on byte 0 (reflock.h), keeps it
 * hold_us, unlinks the file.  Returns it once it has the lock. */
static pid_t start_destroyer(int ready[2], useconds_t hold_us)
{
    char file[512];
    leave_doomed(file, sizeof file, ready);
    pid_t destroyer = tn_fork();
    if (destroyer == 0) {
        int fd = open(file, O_RDWR | O_CLOEXEC);
        struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
        if (fd < 0 || fcntl(fd, F_OFD_SETLK, &l) != 0)
            _exit(1);
        tn_send_byte(ready[1]);
        usleep(hold_us);
        _exit(unlink(file) == 0 ? 0 : 1);
    }
    assert_true(tn_recv_byte(ready[0]));
    return destroyer;
}

/* An object being destroyed when a lookup looks is held with no holder:
 * the lookup looks again, and then finds no file.  It says so
 * (ERROR_FILE_NOT_FOUND) and frees nothing twice: it used to free the
 * holders' pids of its earlier look a second time ("free(): double free
 * detected", the process aborted; found by 3 churners, a killed creator and
 * a lister racing: 1 run of 2). */
static void test_lookup_while_destroyed(void **state)
{
    (void)state;
    int ready[2];
    tn_pipe(ready);
    pid_t destroyer = start_destroyer(ready, 30000);
    IWIN32_OBJECT_INFO *o;
    assert_false(iwin32InspectObject("doomed", 16, &o));
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    assert_true(tn_exited_ok(tn_wait(destroyer, 5000)));
    tn_close(ready[0]);
    tn_close(ready[1]);
}

/* Nobody holds an object being destroyed: a listing meanwhile does not
 * list it (it used to, with 1 holder - the destroyer's write lock taken
 * for a holder's - while an Open of its name said ERROR_FILE_NOT_FOUND). */
static void test_listing_while_destroyed(void **state)
{
    (void)state;
    int ready[2];
    tn_pipe(ready);
    pid_t destroyer = start_destroyer(ready, 300000);
    IWIN32_OBJECT_INFO *o;
    size_t n;
    assert_true(iwin32InspectList(0, NULL, NULL, &o, &n));
    for (size_t i = 0; i < n; i++)
        printf("listed: %s, %u holders\n", o[i].name, (unsigned)o[i].holders);
    iwin32InspectFree(o, n);
    assert_int_equal(n, 0);
    assert_true(tn_exited_ok(tn_wait(destroyer, 5000)));
    tn_close(ready[0]);
    tn_close(ready[1]);
}

/* A holder the count of /proc/locks misses (there: a read lock /proc/locks
 * lists as POSIX, as a shifting reading under lock churn can miss one of
 * ours): a listing and a lookup agree that the object is live.  The lookup
 * used to look again for 200 tries and then say ERROR_FILE_NOT_FOUND - "no
 * object named" from iwin32 show for what iwin32 ls lists. */
static void test_lookup_agrees_with_listing(void **state)
{
    (void)state;
    int ready[2];
    tn_pipe(ready);
    char file[512];
    leave_doomed(file, sizeof file, ready);
    pid_t holder = tn_fork();
    if (holder == 0) {
        int fd = open(file, O_RDWR | O_CLOEXEC);
        struct flock l = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
        if (fd < 0 || fcntl(fd, F_SETLK, &l) != 0)
            _exit(1);
        tn_send_byte(ready[1]);
        pause();
        _exit(1);
    }
    assert_true(tn_recv_byte(ready[0]));
    IWIN32_OBJECT_INFO *o;
    size_t n;
    assert_true(iwin32InspectList(0, NULL, NULL, &o, &n));
    assert_int_equal(n, 1);
    assert_int_equal(o[0].holders, 1);
    iwin32InspectFree(o, n);
    bool found = iwin32InspectObject("doomed", 16, &o);
    if (!found)
        printf("lookup: %s\n", iwin32ErrorText(GetLastError()));
    assert_true(found);
    assert_false(o->leftover);
    assert_int_equal(o->holders, 1);
    assert_int_equal(o->dataLength, 16);
    iwin32InspectFree(o, 1);
    kill(holder, SIGKILL);
    assert_true(tn_killed_by(tn_wait(holder, 5000), SIGKILL));
    assert_true(iwin32InspectObject("doomed", 0, &o)); /* now a leftover, removed */
    assert_true(o->leftover);
    iwin32InspectFree(o, 1);
    tn_close(ready[0]);
    tn_close(ready[1]);
}

static void test_set_pool_size(void **state)
{
    (void)state;
    void *p;
    HANDLE h = RtCreateSharedMemory(PAGE_READWRITE, 0, 12u << 20, "big", &p);
    assert_non_null(h);
    uint64_t used = 0, size;
    assert_false(iwin32InspectSetPoolSize(8u << 20, &used));
    assert_int_equal(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    assert_int_equal(used, 12u << 20);
    assert_true(iwin32InspectSetPoolSize(16u << 20, &used));
    assert_true(iwin32PoolInfo(&size, NULL));
    assert_int_equal(size, 16u << 20);
    assert_false(iwin32InspectSetPoolSize((IWIN32_INSPECT_POOL_MB_MAX + 4) << 20, NULL));
    assert_int_equal(GetLastError(), ERROR_INVALID_PARAMETER);
    tn_shm_release(h, p);
    assert_true(iwin32InspectSetPoolSize(256u << 20, NULL));
}

int main(int argc, char **argv)
{
    tn_select_tests(argc, argv);
    tn_setup("inspect");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_no_node_is_made, tn_teardown),
        cmocka_unit_test_teardown(test_bad_arguments, tn_teardown),
        cmocka_unit_test_teardown(test_node_path_of_bad_root, tn_teardown),
        cmocka_unit_test_teardown(test_list_and_state, tn_teardown),
        cmocka_unit_test_teardown(test_holders_and_pids, tn_teardown),
        cmocka_unit_test_teardown(test_leftovers_removed, tn_teardown),
        cmocka_unit_test_teardown(test_abandoned_mutex, tn_teardown),
        cmocka_unit_test_teardown(test_set_pool_size, tn_teardown),
        cmocka_unit_test_teardown(test_counts_under_lock_churn, tn_teardown),
        cmocka_unit_test_teardown(test_lookup_while_destroyed, tn_teardown),
        cmocka_unit_test_teardown(test_listing_while_destroyed, tn_teardown),
        cmocka_unit_test_teardown(test_lookup_agrees_with_listing, tn_teardown),
    };
    return cmocka_run_group_tests_name("test_inspect", tests, NULL, NULL);
}
