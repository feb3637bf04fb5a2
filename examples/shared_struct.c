/*
 * example-shared-struct: a struct shared between a real-time process and a
 * "GUI", guarded by a named mutex - the most common INtime pattern.
 *
 * The real-time role creates the shared memory "ex.plant" and the mutex
 * "ex.plant.lock", then runs its control loop: each cycle it takes the mutex,
 * reads the setpoint the GUI last wrote, and updates every field of the
 * status as one consistent record.  The GUI role (a second process, started
 * as "example-shared-struct gui") opens both by name, takes snapshots under
 * the mutex - checking that no snapshot mixes two cycles - and writes new
 * setpoints for the real-time side to pick up.
 *
 * Without the mutex a snapshot could catch the record half-written; with it
 * every snapshot is whole, and that is what both sides check.
 */
#include "example.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char SHM_NAME[] = "ex.plant";
static const char LOCK_NAME[] = "ex.plant.lock";

/* The record both processes see.  Fields are plain: the mutex orders them. */
struct plant {
    unsigned cycle;             /* control cycles run so far */
    double setpoint;            /* written by the GUI */
    double answered_setpoint;   /* the setpoint the last cycle acted on */
    double output;              /* the real-time side's answer to it */
    unsigned samples[8];        /* all equal to cycle in a consistent record */
    int gui_done;               /* the GUI has seen enough and stops */
};

#define GUI_SETPOINTS 50        /* setpoints the GUI writes, one per snapshot batch */
#define SNAPSHOTS_PER_SETPOINT 20

static double output_for(double setpoint) { return 2.0 * setpoint + 1.0; }

/* ---- the GUI: an ordinary process reading and steering the real-time one ---- */
static int gui(void)
{
    struct plant *plant;
    HANDLE shm = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, SHM_NAME, (VOID **)&plant);
    if (shm == NULL)
        ex_fail("RtOpenSharedMemory(ex.plant)");
    HANDLE lock = RtOpenMutex(0, FALSE, LOCK_NAME);
    if (lock == NULL)
        ex_fail("RtOpenMutex(ex.plant.lock)");

    unsigned snapshots = 0, answered = 0;
    for (int i = 1; i <= GUI_SETPOINTS; i++) {
        for (int s = 0; s < SNAPSHOTS_PER_SETPOINT; s++) {
            if (RtWaitForSingleObject(lock, EX_TIMEOUT_MS) != WAIT_OBJECT_0)
                ex_fail("RtWaitForSingleObject(ex.plant.lock)");
            struct plant snapshot = *plant;         /* copy out, hold the lock briefly */
            if (!RtReleaseMutex(lock))
                ex_fail("RtReleaseMutex(ex.plant.lock)");

            for (int k = 0; k < 8; k++)
                if (snapshot.samples[k] != snapshot.cycle)
                    ex_die("gui: torn snapshot: cycle %u, sample %d is %u", snapshot.cycle, k,
                           snapshot.samples[k]);
            if (snapshot.output != output_for(snapshot.answered_setpoint))
                ex_die("gui: torn snapshot: output %g does not answer setpoint %g", snapshot.output,
                       snapshot.answered_setpoint);
            if (snapshot.answered_setpoint == snapshot.setpoint)
                answered++;
            snapshots++;
            nanosleep(&(struct timespec){.tv_nsec = 500000}, NULL);  /* a GUI refresh, sped up */
        }
        if (RtWaitForSingleObject(lock, EX_TIMEOUT_MS) != WAIT_OBJECT_0)
            ex_fail("RtWaitForSingleObject(ex.plant.lock)");
        plant->setpoint = (double)i;
        plant->gui_done = i == GUI_SETPOINTS;
        RtReleaseMutex(lock);
    }
    printf("gui:       %u consistent snapshots; the real-time side had answered %u of them\n",
           snapshots, answered);
    RtUnmapSharedMemory(plant);
    CloseHandle(lock);
    CloseHandle(shm);
    return 0;
}

/* ---- the real-time side: owns the objects, runs the loop -------------------- */
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "gui") == 0)
        return gui();

    struct plant *plant;
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, sizeof *plant, SHM_NAME, (VOID **)&plant);
    if (shm == NULL)
        ex_fail("RtCreateSharedMemory(ex.plant)");
    if (GetLastError() == ERROR_ALREADY_EXISTS)
        ex_die("ex.plant already exists: is another copy of this example running on this node?");
    HANDLE lock = RtCreateMutex(NULL, FALSE, LOCK_NAME);
    if (lock == NULL)
        ex_fail("RtCreateMutex(ex.plant.lock)");

    /* Consistent before anyone else can look: the GUI may take its first
     * snapshot before our first cycle. */
    plant->output = output_for(plant->answered_setpoint);
    pid_t gui_pid = ex_spawn_self("gui", NULL);

    /* The control loop: 200 us cycles until the GUI says it is done. */
    double last_setpoint = 0.0;
    unsigned setpoints_seen = 0;
    int64_t give_up = ex_now_ns() + (int64_t)EX_TIMEOUT_MS * 1000000;
    for (int done = 0; !done;) {
        if (RtWaitForSingleObject(lock, EX_TIMEOUT_MS) != WAIT_OBJECT_0)
            ex_fail("RtWaitForSingleObject(ex.plant.lock)");
        plant->cycle++;
        plant->answered_setpoint = plant->setpoint;
        plant->output = output_for(plant->answered_setpoint);
        for (int k = 0; k < 8; k++)
            plant->samples[k] = plant->cycle;
        if (plant->setpoint != last_setpoint) {
            last_setpoint = plant->setpoint;
            setpoints_seen++;
        }
        done = plant->gui_done;
        if (!RtReleaseMutex(lock))
            ex_fail("RtReleaseMutex(ex.plant.lock)");
        if (ex_now_ns() > give_up)
            ex_die("real-time: the GUI never finished");
        nanosleep(&(struct timespec){.tv_nsec = 200000}, NULL);
    }

    if (!ex_child_ok(gui_pid, "gui", EX_TIMEOUT_MS))
        return 1;
    /* The last setpoint must have reached the real-time side. */
    if (last_setpoint != (double)GUI_SETPOINTS || setpoints_seen == 0)
        ex_die("real-time: last setpoint seen %g, expected %d", last_setpoint, GUI_SETPOINTS);
    printf("real-time: %u cycles; picked up %u setpoint changes, the last %g -> output %g\n",
           plant->cycle, setpoints_seen, last_setpoint, plant->output);

    RtUnmapSharedMemory(plant);
    CloseHandle(lock);
    CloseHandle(shm);
    return 0;
}
