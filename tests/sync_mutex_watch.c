/*
 * SPEC 6, abandonment seen from a multi-object wait: "the next acquirer -
 * including one already blocked, in a single or a multi-object wait - gets
 * WAIT_ABANDONED_0 + i promptly".  A multi-object waiter sleeps on wake
 * counters, not in the mutex's PI lock, so the library's watcher threads
 * block there for it (src/mutex_watch.c).  Checked here: the death of an
 * owner process (SIGKILL) and of an owner thread reaches a blocked
 * multi-object waiter in well under a second; a normal release is not
 * reported as an abandonment; one abandonment is reported exactly once when
 * a multi-object waiter and another process's single-object waiter both
 * wait; watchers stop blocking in the lock once no wait needs them; a
 * forked child gets watchers of its own; a process killed while its watcher
 * holds the lock (handing it back) is no owner that died, and a poll that
 * meets a watcher in the lock waits for the handback instead of failing;
 * a watcher runs on the process's CPUs, not on the pinned CPU of the
 * waiter that started it.
 */
#include <dirent.h>
#include <sched.h>
#include <linux/futex.h>

#include "sync_util.h"
#include "thread_switches.h"

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

/* Generous for a loaded 2-vCPU VM; the slow path this replaces was the
 * wait's whole timeout (several seconds here). */
#define PROMPT_US 1000000

/* A named mutex, owned by a peer process (which waits for a byte, then
 * releases it, then waits again), and an event; the waiter here waits on
 * {event, mutex}: a mutex at index 1. */
struct scene {
    char name[64];
    HANDLE m, e;
    struct tn_peer owner;
    struct sync_waiter w;
};

static void scene_start(struct scene *s, const char *what)
{
    sync_name(s->name, sizeof s->name, what);
    s->m = RtCreateMutex(NULL, FALSE, s->name);
    s->e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    assert_true(s->m != NULL && s->e != NULL);
    DWORD r;
    tn_peer_start(&s->owner, NULL, "om", s->name, "w", "-1", "g", "rm", "g", NULL);
    assert_true(sync_peer_ok(&s->owner, NULL));
    assert_true(sync_peer_word(&s->owner, "waiting", NULL, 0));
    assert_true(sync_peer_waited(&s->owner, &r, NULL));
    assert_int_equal(r, WAIT_OBJECT_0);
}

/* The multi-object waiter, asleep when this returns; release_mutex: it
 * releases the mutex at once if it gets it. */
static void scene_wait(struct scene *s, bool release_mutex)
{
    HANDLE list[2] = {s->e, s->m};
    sync_waiter_start_ex(&s->w, list, 2, 5000, release_mutex);
    assert_true(sync_waiter_blocked(&s->w));
}

static void scene_end(struct scene *s)
{
    assert_true(CloseHandle(s->e));
    assert_true(CloseHandle(s->m));
}

static void test_owner_process_killed(void **state)
{
    (void)state;
    struct scene s;
    scene_start(&s, "killed");
    scene_wait(&s, true);
    int64_t t0 = sync_now_us();
    assert_true(tn_killed_by(tn_peer_kill(&s.owner), SIGKILL));
    sync_waiter_join(&s.w);
    int64_t took = s.w.woke_us - t0;
    print_message("owner killed: multi-object waiter returned %#x after %lld us\n", s.w.result, (long long)took);
    assert_int_equal(s.w.result, WAIT_ABANDONED_0 + 1);
    if (took > PROMPT_US)
        fail_msg("abandonment seen %lld us after the kill", (long long)took);
    assert_int_equal(RtWaitForSingleObject(s.m, 0), WAIT_OBJECT_0); /* reported once, released by the waiter */
    assert_true(RtReleaseMutex(s.m));
    scene_end(&s);
}

struct owner_thread {
    HANDLE m;
    _Atomic int owns;
    _Atomic int go;
};

static void *own_then_exit(void *arg)
{
    struct owner_thread *o = arg;
    assert_int_equal(RtWaitForSingleObject(o->m, 0), WAIT_OBJECT_0);
    atomic_store(&o->owns, 1);
    while (!atomic_load(&o->go))
        usleep(200);
    return NULL; /* ends owning it */
}

static void test_owner_thread_exits(void **state)
{
    (void)state;
    struct owner_thread o = {.m = RtCreateMutex(NULL, FALSE, NULL)};
    HANDLE e = RtCreateEvent(NULL, TRUE, FALSE, NULL);
    pthread_t t = sync_thread(own_then_exit, &o);
    while (!atomic_load(&o.owns))
        usleep(200);
    HANDLE list[2] = {e, o.m};
    struct sync_waiter w;
    sync_waiter_start_ex(&w, list, 2, 5000, true);
    assert_true(sync_waiter_blocked(&w));
    int64_t t0 = sync_now_us();
    atomic_store(&o.go, 1);
    pthread_join(t, NULL);
    sync_waiter_join(&w);
    print_message("owner thread ended: multi-object waiter returned %#x after %lld us\n", w.result,
                  (long long)(w.woke_us - t0));
    assert_int_equal(w.result, WAIT_ABANDONED_0 + 1);
    if (w.woke_us - t0 > PROMPT_US)
        fail_msg("abandonment seen %lld us after the owner thread ended", (long long)(w.woke_us - t0));
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(o.m));
}

/* The watcher takes the mutex on a normal release too, and hands it back:
 * that must reach the waiter as WAIT_OBJECT_0 + i, not as an abandonment. */
static void test_normal_release_is_not_abandonment(void **state)
{
    (void)state;
    struct scene s;
    scene_start(&s, "released");
    scene_wait(&s, true);
    int64_t t0 = sync_now_us();
    tn_peer_send(&s.owner); /* the peer releases it ("rm") */
    assert_true(sync_peer_ok(&s.owner, NULL));
    sync_waiter_join(&s.w);
    assert_int_equal(s.w.result, WAIT_OBJECT_0 + 1);
    if (s.w.woke_us - t0 > PROMPT_US)
        fail_msg("release seen %lld us later", (long long)(s.w.woke_us - t0));
    assert_int_equal(tn_peer_finish(&s.owner), 0);
    assert_int_equal(RtWaitForSingleObject(s.m, 0), WAIT_OBJECT_0);
    assert_true(RtReleaseMutex(s.m));
    scene_end(&s);
}

/* A multi-object waiter here and a single-object waiter in another process:
 * the owner's death is reported to exactly one of them; the other gets the
 * mutex, not abandoned, once the first releases it. */
static void test_abandonment_reported_once(void **state)
{
    (void)state;
    struct scene s;
    scene_start(&s, "once");
    struct tn_peer single;
    tn_peer_start(&single, NULL, "om", s.name, "w", "5000", "rm", NULL);
    assert_true(sync_peer_ok(&single, NULL));
    assert_true(sync_peer_blocked(&single)); /* asleep in the lock, as the kernel says */
    scene_wait(&s, true);
    assert_true(tn_killed_by(tn_peer_kill(&s.owner), SIGKILL));
    DWORD peer_result = WAIT_FAILED;
    assert_true(sync_peer_waited(&single, &peer_result, NULL));
    assert_true(sync_peer_ok(&single, NULL)); /* it released */
    assert_int_equal(tn_peer_finish(&single), 0);
    sync_waiter_join(&s.w);
    print_message("multi-object waiter %#x, single-object waiter in another process %#x\n", s.w.result,
                  peer_result);
    int abandoned = (s.w.result == WAIT_ABANDONED_0 + 1) + (peer_result == WAIT_ABANDONED_0);
    int plain = (s.w.result == WAIT_OBJECT_0 + 1) + (peer_result == WAIT_OBJECT_0);
    assert_int_equal(abandoned, 1);
    assert_int_equal(plain, 1);
    scene_end(&s);
}

/* Whether uaddr lies in a mapping of a file of the node in process pid
 * (/proc/pid/maps): an object's page, not a lock of the library's own (its
 * watcher lock is a PI mutex too). */
static bool in_node_file(pid_t pid, unsigned long uaddr)
{
    char file[64], line[4096];
    snprintf(file, sizeof file, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(file, "r");
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        const char *path = strchr(line, '/');
        found = sscanf(line, "%lx-%lx", &lo, &hi) == 2 && uaddr >= lo && uaddr < hi && path &&
                strncmp(path, tn_root(), strlen(tn_root())) == 0;
    }
    if (f)
        fclose(f);
    return found;
}

/* Threads of process pid asleep in a mutex's PI lock (FUTEX_LOCK_PI or
 * FUTEX_LOCK_PI2 on a word in an object's page): its watchers while they
 * block.  /proc/.../syscall: "NR uaddr op ...", NR the futex call's
 * number. */
static int threads_in_pi_lock_of(pid_t pid)
{
    int count = 0;
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char file[340], buf[256];
        snprintf(file, sizeof file, "%s/%s/syscall", dir, de->d_name);
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        unsigned long nr, uaddr, op;
        if (sscanf(buf, "%lu 0x%lx 0x%lx", &nr, &uaddr, &op) == 3 && nr == SYNC_SYS_FUTEX &&
            ((op & 127) == FUTEX_LOCK_PI || (op & 127) == FUTEX_LOCK_PI2) && in_node_file(pid, uaddr))
            count++;
    }
    closedir(d);
    return count;
}

static int threads_in_pi_lock(void) { return threads_in_pi_lock_of(getpid()); }

/* The releasing side of test_watcher_holding_is_no_owner: a SCHED_FIFO
 * thread on CPU 0 that takes the mutex, and on go releases it and at once
 * either kills the peer or polls the mutex. */
struct releaser {
    HANDLE m;
    pid_t peer;
    bool poll;
    _Atomic int owns, go, done;
    DWORD poll_result;
    long poll_switches;             /* the poll's voluntary context switches */
    int64_t poll_us;
};

static void *releaser_main(void *arg)
{
    struct releaser *r = arg;
    atomic_store(&r->owns, RtWaitForSingleObject(r->m, 0) == WAIT_OBJECT_0 ? 1 : -1);
    while (!atomic_load(&r->go))
        usleep(100);
    RtReleaseMutex(r->m); /* handed to the peer's watcher, which can't run on CPU 0 before us */
    if (r->poll) {
        long slept = voluntary_switches();
        int64_t t0 = sync_now_us();
        r->poll_result = RtWaitForSingleObject(r->m, 0);
        r->poll_us = sync_now_us() - t0;
        r->poll_switches = voluntary_switches() - slept;
        if (r->poll_result == WAIT_OBJECT_0)
            RtReleaseMutex(r->m);
    } else {
        kill(r->peer, SIGKILL);
    }
    atomic_store(&r->done, 1);
    return NULL;
}

/* SPEC 6: "Abandonment is reported only when a thread that acquired the mutex
 * through the API ends owning it; a poll (timeout 0) of a mutex no
 * application thread owns succeeds and never sleeps beyond a bounded
 * handoff."  A peer process only waits for the mutex, in a multi-object
 * wait, so its watcher blocks in the lock.  Everything runs on CPU 0, and
 * the releaser at SCHED_FIFO: its release hands the mutex to the watcher,
 * which can't run before the releaser lets go of the CPU.  Even rounds: the
 * releaser kills the peer then - the watcher dies holding the lock, and the
 * next acquirer must not be told that an owner died (before: 5 of 5 told
 * so).  Odd rounds: the releaser polls - the watcher is lifted, hands the
 * mutex back, and the poll gets it, having blocked once (in the PI lock,
 * for the handback: judged by the releaser's voluntary context switches,
 * not by its wall time, which a loaded machine stretches); the peer then
 * gets it and exits owning it, a real abandonment, which is reported.  A
 * releaser not done 1 s after it was let go hangs (a hang guard only). */
static void test_watcher_holding_is_no_owner(void **state)
{
    (void)state;
    enum { ROUNDS = 10 };
    char name[64], event[64];
    SYNC_NAME(name, "watchkill");
    HANDLE m = RtCreateMutex(NULL, FALSE, name);
    assert_non_null(m);
    cpu_set_t cpu0;
    CPU_ZERO(&cpu0);
    CPU_SET(0, &cpu0);
    int spurious = 0;
    long most_poll_switches = 0;
    int64_t worst_poll_us = 0;
    for (int round = 0; round < ROUNDS; round++) {
        struct releaser r = {.m = m, .poll = round % 2 == 1};
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
        pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
        pthread_attr_setschedparam(&attr, &(struct sched_param){.sched_priority = 20});
        pthread_attr_setaffinity_np(&attr, sizeof cpu0, &cpu0);
        pthread_t t;
        int rc = pthread_create(&t, &attr, releaser_main, &r);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            fprintf(stderr, "SCHED_FIFO thread not permitted (%s): not checked\n", strerror(rc));
            assert_true(CloseHandle(m));
            skip();
        }
        while (atomic_load(&r.owns) == 0)
            usleep(100);
        assert_int_equal(atomic_load(&r.owns), 1);
        SYNC_NAME(event, "watchkill-e");
        struct tn_peer p;
        tn_peer_start(&p, NULL, "ce", event, "0", "0", "om", name, "g", "wall", "-1", NULL);
        assert_true(sync_peer_ok(&p, NULL));
        assert_true(sync_peer_ok(&p, NULL));
        assert_int_equal(sched_setaffinity(p.pid, sizeof cpu0, &cpu0), 0); /* its watcher inherits it */
        r.peer = p.pid;
        tn_peer_send(&p);
        assert_true(sync_peer_word(&p, "waiting", NULL, 0));
        for (int64_t until = sync_now_us() + 2000000; threads_in_pi_lock_of(p.pid) == 0 && sync_now_us() < until;)
            usleep(1000);
        assert_int_equal(threads_in_pi_lock_of(p.pid), 1); /* its watcher */
        atomic_store(&r.go, 1);
        struct timespec guard;
        clock_gettime(CLOCK_REALTIME, &guard);
        guard.tv_sec += 1;
        if (pthread_timedjoin_np(t, NULL, &guard) != 0)
            fail_msg("round %d: the releaser's %s hangs (1 s)", round, r.poll ? "poll" : "kill");
        if (!r.poll) {
            assert_true(tn_killed_by(tn_peer_kill(&p), SIGKILL));
            DWORD w = RtWaitForSingleObject(m, 1000);
            assert_true(w == WAIT_OBJECT_0 || w == WAIT_ABANDONED_0);
            spurious += w == WAIT_ABANDONED_0;
            assert_true(RtReleaseMutex(m));
            continue;
        }
        assert_int_equal(r.poll_result, WAIT_OBJECT_0);
        if (r.poll_switches > most_poll_switches)
            most_poll_switches = r.poll_switches;
        if (r.poll_us > worst_poll_us)
            worst_poll_us = r.poll_us;
        DWORD w;
        assert_true(sync_peer_waited(&p, &w, NULL));
        assert_int_equal(w, WAIT_OBJECT_0 + 1);
        assert_int_equal(tn_peer_finish(&p), 0); /* it exits owning the mutex */
        assert_int_equal(RtWaitForSingleObject(m, 1000), WAIT_ABANDONED_0);
        assert_true(RtReleaseMutex(m));
    }
    print_message("killed while its watcher held the mutex: %d of %d reported as abandoned; "
                  "polls meeting the watcher in the lock: all got it, blocking %ld times at most, "
                  "the slowest in %lld us\n",
                  spurious, ROUNDS / 2, most_poll_switches, (long long)worst_poll_us);
    assert_int_equal(spurious, 0);
    assert_true(most_poll_switches <= 1); /* the handback, once */
    assert_true(CloseHandle(m));
}

/* A watcher blocks only while some wait needs it: a wait satisfied by
 * another object leaves no thread of ours in the lock for long. */
static void test_watchers_let_go(void **state)
{
    (void)state;
    struct scene s;
    scene_start(&s, "letgo");
    scene_wait(&s, false);
    int64_t until = sync_now_us() + 2000000;
    while (threads_in_pi_lock() == 0 && sync_now_us() < until)
        usleep(1000);
    assert_int_equal(threads_in_pi_lock(), 1); /* the watcher, for the waiter */
    assert_true(RtSetEvent(s.e));
    sync_waiter_join(&s.w);
    assert_int_equal(s.w.result, WAIT_OBJECT_0);
    until = sync_now_us() + 3000000; /* the watcher's slice, with room */
    while (threads_in_pi_lock() > 0 && sync_now_us() < until)
        usleep(10000);
    assert_int_equal(threads_in_pi_lock(), 0);
    tn_peer_send(&s.owner);
    assert_true(sync_peer_ok(&s.owner, NULL));
    assert_int_equal(tn_peer_finish(&s.owner), 0);
    scene_end(&s);
}

/* After fork the child has none of its parent's watcher threads: it must
 * start its own (and not block on the parent's state). */
static void test_forked_child_has_watchers(void **state)
{
    (void)state;
#ifdef __SANITIZE_THREAD__
    skip(); /* TSan can't start threads in the child of a threaded fork */
#endif
    struct owner_thread o = {.m = RtCreateMutex(NULL, FALSE, NULL)};
    HANDLE e = RtCreateEvent(NULL, FALSE, FALSE, NULL);
    pthread_t t = sync_thread(own_then_exit, &o);
    while (!atomic_load(&o.owns))
        usleep(200);
    /* Leave a watcher of ours blocking in the lock at the fork. */
    HANDLE list[2] = {e, o.m};
    assert_int_equal(RtWaitForMultipleObjects(2, list, FALSE, 50), WAIT_TIMEOUT);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct owner_thread c = {.m = RtCreateMutex(NULL, FALSE, NULL)};
        HANDLE ce = RtCreateEvent(NULL, FALSE, FALSE, NULL);
        pthread_t ct;
        if (pthread_create(&ct, NULL, own_then_exit, &c) != 0)
            _exit(10);
        while (!atomic_load(&c.owns))
            usleep(200);
        HANDLE cl[2] = {ce, c.m};
        struct sync_waiter cw;
        sync_waiter_start_ex(&cw, cl, 2, 5000, true);
        if (!sync_waiter_blocked(&cw))
            _exit(11);
        int64_t t0 = sync_now_us();
        atomic_store(&c.go, 1);
        pthread_join(ct, NULL);
        sync_waiter_join(&cw);
        if (cw.result != WAIT_ABANDONED_0 + 1)
            _exit(12);
        _exit(cw.woke_us - t0 > PROMPT_US ? 13 : 0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    atomic_store(&o.go, 1);
    pthread_join(t, NULL);
    assert_int_equal(RtWaitForSingleObject(o.m, 1000), WAIT_ABANDONED_0);
    assert_true(RtReleaseMutex(o.m));
    assert_true(CloseHandle(e));
    assert_true(CloseHandle(o.m));
}

/* A watcher runs where the process runs - its main thread's CPUs - not
 * where the waiter that started it is pinned: on a CPU a higher-priority
 * thread keeps busy it would never run, and its waiters would never get
 * the mutex.  Named, so that users can find and place it.  In a fork
 * child: the parent's watchers exist already. */
struct pinned_wait {
    HANDLE list[2];
    int cpu;
    DWORD result;
};

static void *wait_pinned(void *arg)
{
    struct pinned_wait *pw = arg;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(pw->cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0)
        return NULL;
    pw->result = RtWaitForMultipleObjects(2, pw->list, FALSE, 100);
    return NULL;
}

/* The thread of this process named name, or 0. */
static pid_t task_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    pid_t found = 0;
    while (d != NULL && found == 0 && (de = readdir(d)) != NULL) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (f != NULL && fgets(comm, sizeof comm, f) != NULL && strncmp(comm, name, strlen(name)) == 0 &&
            comm[strlen(name)] == '\n')
            found = (pid_t)atoi(de->d_name);
        if (f != NULL)
            fclose(f);
    }
    if (d != NULL)
        closedir(d);
    return found;
}

static int watcher_placement_child(void)
{
    cpu_set_t process;
    if (sched_getaffinity(0, sizeof process, &process) != 0 || CPU_COUNT(&process) < 2)
        return 77;
    struct owner_thread o = {.m = RtCreateMutex(NULL, FALSE, NULL)};
    struct pinned_wait pw = {.list = {RtCreateEvent(NULL, FALSE, FALSE, NULL), o.m}, .cpu = -1};
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &process))
            pw.cpu = c; /* the last of the process's CPUs */
    pthread_t owner, waiter;
    if (pthread_create(&owner, NULL, own_then_exit, &o) != 0)
        return 10;
    while (!atomic_load(&o.owns))
        usleep(200);
    if (pthread_create(&waiter, NULL, wait_pinned, &pw) != 0)
        return 11;
    pthread_join(waiter, NULL);
    if (pw.result != WAIT_TIMEOUT)
        return 12;
    pid_t watcher = task_named("iw-mutex-watch");
    cpu_set_t where;
    if (watcher == 0)
        return 13;
    if (sched_getaffinity(watcher, sizeof where, &where) != 0 || !CPU_EQUAL(&where, &process))
        return 14;
    atomic_store(&o.go, 1);
    pthread_join(owner, NULL);
    return 0;
}

static void test_watcher_runs_where_the_process_does(void **state)
{
    (void)state;
#ifdef __SANITIZE_THREAD__
    skip(); /* TSan can't start threads in the child of a threaded fork */
#endif
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(watcher_placement_child());
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip(); /* one CPU: nowhere else to run */
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_process_killed),
        cmocka_unit_test(test_owner_thread_exits),
        cmocka_unit_test(test_normal_release_is_not_abandonment),
        cmocka_unit_test(test_abandonment_reported_once),
        cmocka_unit_test(test_watchers_let_go),
        cmocka_unit_test(test_forked_child_has_watchers),
        cmocka_unit_test(test_watcher_holding_is_no_owner),
        cmocka_unit_test(test_watcher_runs_where_the_process_does),
    };
    return SYNC_RUN("sync_mutex_watch", tests);
}
