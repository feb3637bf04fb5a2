/*
 * THE PIN PROTOCOL (stated here only; DESIGN.md and object.c refer to it).
 * Hazard pointers: each thread has a slot where it publishes the object it
 * is using without a reference (iw_hazard_pin); the last reference, before
 * it unmaps and frees an object, waits until no slot names it
 * (iw_hazard_wait_unpinned, called by object.c for every waitable type).
 * A pinned call must not block; one that has to sleep turns its pin into a
 * reference (iw_object_get_pinned: object.c says how references change
 * without the process lock).
 *
 * Why it is safe (an asymmetric Dekker): a reader stores the object in its
 * slot, then reads the handle table again to check the handle still names
 * it.  The reclaimer removed the handle before; it then runs membarrier(),
 * which executes a full memory barrier on every running thread of the
 * process, and reads the slots.  Either the reader's check sees the handle
 * gone (and it backs off), or the reclaimer sees the slot (and waits): the
 * reader's side is a plain store and a compiler barrier, the cost is on the
 * rare side, the last CloseHandle of an object.  Where
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) is not available (Linux <
 * 4.14, valgrind), readers use a full fence instead.
 *
 * The type is checked before the pin, from the handle slot, never from the
 * object.  Only waitable types are waited for: the last close of shared
 * memory frees its record at once (a membarrier on every close would slow
 * down create/close cycles).  So a call given a shared memory handle while
 * another thread closes it must not read the object: it may be freed
 * under it, even after the pin's check succeeded (ASan saw it:
 * tests/sync_close_race.c).  The slot keeps the type (handle.h), stored
 * before the object is published and read after it, so the type read
 * belongs to that object or to a later handle of the slot - whose
 * generation then fails the check below.  A handle of the wrong type is
 * refused without publishing anything; a pin published names only an
 * object of a waitable type, which its last close waits for.
 *
 * Slots are never freed: a thread's slot is given back when the thread
 * exits, and reused.  Not async-signal-safe (neither is the rest of the
 * library): a signal handler must not call into it.
 */
#include "hazard.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "handle.h"
#include "last_error.h"
#include "object_ops.h"

#define RESERVED 64

_Static_assert(sizeof(struct iw_hazard) <= 64, "a slot fits the line take_slot gives it");
__thread struct iw_hazard *iw_hazard_mine __attribute__((tls_model("initial-exec")));
static bool asymmetric; /* membarrier works (each slot has a copy) */
static struct iw_hazard *_Atomic slots;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

static int membarrier(int cmd) { return (int)syscall(SYS_membarrier, cmd, 0, 0); }

static void give_back(void *slot)
{
    struct iw_hazard *h = slot;
    atomic_store(&h->obj, NULL);
    atomic_store(&h->taken, false);
}

/* At thread exit.  A later pin by this thread (another key's destructor
 * may call the library) takes a slot afresh instead of sharing this one
 * with whichever new thread takes it now. */
static void thread_exit(void *slot)
{
    give_back(slot);
    iw_hazard_mine = NULL;
}

/* The child's only thread is the forking one; the other slots were threads
 * of the parent.  The child is a new process for membarrier, too. */
void iw_hazard_fork_child(void)
{
    for (struct iw_hazard *h = atomic_load(&slots); h; h = h->next)
        if (h != iw_hazard_mine)
            give_back(h);
    if (asymmetric)
        asymmetric = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
    if (iw_hazard_mine)
        iw_hazard_mine->asymmetric = asymmetric;
}

static void setup(void)
{
    pthread_key_create(&exit_key, thread_exit);
    asymmetric = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

void iw_hazard_setup(void) { pthread_once(&setup_once, setup); }

/* The calling thread's slot, found or made on its first pin. */
static struct iw_hazard *take_slot(void)
{
    iw_hazard_setup();
    struct iw_hazard *h;
    for (h = atomic_load(&slots); h; h = h->next)
        if (!atomic_exchange(&h->taken, true))
            goto found;
    /* A line of its own: a pin is a store, and another thread's pins to
     * the same line would bounce it between CPUs.  The first RESERVED
     * threads' slots come without malloc: a thread's first malloc makes it
     * an arena (an mmap, ~0.1 ms), which a thread's first wait should not
     * pay.  Slots are never freed: calloc's pointer needs no keeping. */
    static struct {
        _Alignas(64) struct iw_hazard slot;
    } reserve[RESERVED];
    static _Atomic unsigned reserved;
    unsigned i = atomic_fetch_add(&reserved, 1);
    char *mem = i < RESERVED ? (char *)&reserve[i].slot : calloc(1, 128);
    if (mem == NULL)
        return NULL;
    h = (struct iw_hazard *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    atomic_store(&h->taken, true);
    h->next = atomic_load(&slots);
    while (!atomic_compare_exchange_weak(&slots, &h->next, h))
        ;
found:
    h->asymmetric = asymmetric; /* settled by setup (or a fork child's) */
    pthread_setspecific(exit_key, h);
    iw_hazard_mine = h;
    return h;
}

/* The pin's loop (hazard.h has its first round inline): retried while the
 * handle table changes under it. */
bool iw_hazard_pin_slow(HANDLE h, const struct iw_object_ops *want, struct iw_pinned *p)
{
    struct iw_hazard *slot = iw_hazard_mine ? iw_hazard_mine : take_slot();
    if (slot == NULL) {
        iw_set_error(ERROR_NOT_ENOUGH_MEMORY);
        return false;
    }
    struct iw_handle_slot *s;
    while ((s = iw_handle_find(h, &p->obj)) != NULL && iw_ops_are(p->ops = iw_handle_ops(s), want)) {
        p->state = iw_handle_state(s);
        atomic_store_explicit(&slot->obj, p->obj, memory_order_release);
        if (slot->asymmetric)
            atomic_signal_fence(memory_order_seq_cst);
        else
            atomic_thread_fence(memory_order_seq_cst);
        if (iw_handle_holds(s, h, p->obj))
            return true;
    }
    atomic_store_explicit(&slot->obj, NULL, memory_order_release);
    iw_set_error(ERROR_INVALID_HANDLE);
    return false;
}

void iw_hazard_wait_unpinned(const struct iw_object *obj)
{
    iw_hazard_setup(); /* asymmetric is settled from here on */
    if (!asymmetric)
        atomic_thread_fence(memory_order_seq_cst); /* the readers fence too */
    else if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
        membarrier(MEMBARRIER_CMD_GLOBAL); /* slower, needs no registration */
    /* A pinned call takes a few hundred nanoseconds: yield a few times,
     * then sleep.  sched_yield never gives the CPU to a thread of lower
     * priority: a real-time closer (a timer's routine, a controller) that
     * preempted an ordinary thread pinned on its CPU would spin until the
     * kernel's real-time throttling ran that thread (up to 1 s:
     * test_timer_races).  A sleep lets it run and unpin; the naps grow
     * from 10 us to 1 ms, so that a wait for a thread kept off the CPU
     * for long (under load) is not a thousand wakeups a second at the
     * closer's priority. */
    for (struct iw_hazard *h = atomic_load(&slots); h; h = h->next)
        for (long spins = 0, nap_ns = 10000; atomic_load_explicit(&h->obj, memory_order_acquire) == obj; spins++) {
            if (spins < 16) {
                sched_yield();
            } else {
                nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = nap_ns}, NULL);
                if (nap_ns < 1000000)
                    nap_ns *= 2;
            }
        }
}
