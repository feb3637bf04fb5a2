/*
 * example-mailbox: a one-slot mailbox between two processes, built from
 * shared memory and two events.
 *
 *   "ex.mailbox.ready"  manual-reset: "a letter is in the box".  It stays
 *                       signalled until the receiver has taken the letter,
 *                       however many times anyone looks at it.
 *   "ex.mailbox.ack"    auto-reset: "the box is empty again".  Each Set
 *                       releases the sender's one wait and re-arms itself.
 *
 * The sender (main role) writes a letter, sets "ready", waits for "ack",
 * writes the next.  The receiver (a second process, "example-mailbox
 * receiver") waits for "ready", reads the letter, resets "ready" and only
 * then sets "ack": resetting after the ack could wipe out the signal of the
 * sender's next letter.  Both sides check every letter and the event states.
 */
#include "example.h"

#include <stdio.h>
#include <string.h>

static const char BOX_NAME[] = "ex.mailbox";
static const char READY_NAME[] = "ex.mailbox.ready";
static const char ACK_NAME[] = "ex.mailbox.ack";

#define LETTERS 1000

struct letter {
    unsigned number;            /* 1, 2, ... LETTERS */
    int last;                   /* no more letters after this one */
    char text[56];
};

static void write_text(char *text, size_t size, unsigned number)
{
    snprintf(text, size, "letter %u of %u", number, LETTERS);
}

static void wait_for(HANDLE h, const char *what)
{
    if (RtWaitForSingleObject(h, EX_TIMEOUT_MS) != WAIT_OBJECT_0)
        ex_fail(what);
}

/* ---- the receiver -------------------------------------------------------- */
static int receiver(void)
{
    struct letter *box;
    HANDLE shm = RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, FALSE, BOX_NAME, (VOID **)&box);
    if (shm == NULL)
        ex_fail("RtOpenSharedMemory(ex.mailbox)");
    HANDLE ready = RtOpenEvent(0, FALSE, READY_NAME), ack = RtOpenEvent(0, FALSE, ACK_NAME);
    if (ready == NULL || ack == NULL)
        ex_fail("RtOpenEvent(ex.mailbox.*)");

    unsigned expected = 1;
    for (int last = 0; !last; expected++) {
        wait_for(ready, "waiting for ex.mailbox.ready");
        /* Manual reset: waiting did not consume it. */
        if (RtWaitForSingleObject(ready, 0) != WAIT_OBJECT_0)
            ex_die("receiver: ex.mailbox.ready reset itself");

        char text[sizeof box->text];
        write_text(text, sizeof text, expected);
        if (box->number != expected || strcmp(box->text, text) != 0)
            ex_die("receiver: expected letter %u, found %u \"%.*s\"", expected, box->number,
                   (int)sizeof box->text, box->text);
        last = box->last;

        if (!RtResetEvent(ready))           /* first empty the box ... */
            ex_fail("RtResetEvent(ex.mailbox.ready)");
        if (!RtSetEvent(ack))               /* ... then say so */
            ex_fail("RtSetEvent(ex.mailbox.ack)");
    }
    printf("receiver: %u letters, in order and intact\n", expected - 1);
    RtUnmapSharedMemory(box);
    CloseHandle(ready);
    CloseHandle(ack);
    CloseHandle(shm);
    return 0;
}

/* ---- the sender (main role) -------------------------------------------------- */
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "receiver") == 0)
        return receiver();

    struct letter *box;
    HANDLE shm = RtCreateSharedMemory(PAGE_READWRITE, 0, sizeof *box, BOX_NAME, (VOID **)&box);
    if (shm == NULL)
        ex_fail("RtCreateSharedMemory(ex.mailbox)");
    if (GetLastError() == ERROR_ALREADY_EXISTS)
        ex_die("ex.mailbox already exists: is another copy of this example running on this node?");
    HANDLE ready = RtCreateEvent(NULL, TRUE, FALSE, READY_NAME);   /* manual reset, not set */
    HANDLE ack = RtCreateEvent(NULL, FALSE, FALSE, ACK_NAME);      /* auto reset, not set */
    if (ready == NULL || ack == NULL)
        ex_fail("RtCreateEvent(ex.mailbox.*)");

    pid_t receiver_pid = ex_spawn_self("receiver", NULL);

    for (unsigned number = 1; number <= LETTERS; number++) {
        box->number = number;
        box->last = number == LETTERS;
        write_text(box->text, sizeof box->text, number);
        if (!RtSetEvent(ready))
            ex_fail("RtSetEvent(ex.mailbox.ready)");
        wait_for(ack, "waiting for ex.mailbox.ack");
        /* The receiver emptied the box before acknowledging; and the ack,
         * auto-reset, was used up by the wait that returned. */
        if (RtWaitForSingleObject(ready, 0) != WAIT_TIMEOUT)
            ex_die("sender: letter %u acknowledged but ex.mailbox.ready still set", number);
        if (RtWaitForSingleObject(ack, 0) != WAIT_TIMEOUT)
            ex_die("sender: ex.mailbox.ack still set after the wait consumed it");
    }
    if (!ex_child_ok(receiver_pid, "receiver", EX_TIMEOUT_MS))
        return 1;
    printf("sender:   %d letters delivered and acknowledged one by one\n", LETTERS);
    RtUnmapSharedMemory(box);
    CloseHandle(ready);
    CloseHandle(ack);
    CloseHandle(shm);
    return 0;
}
