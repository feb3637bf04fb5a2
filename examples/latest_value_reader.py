"""The Python reader of example-latest-value (latest_value.c; the pattern:
docs/LATEST-VALUE.md): follows the latest snapshot a C writer publishes.

    python3 latest_value_reader.py SLOT

It opens the writer's shared memory and its own slot's auto-reset wake
event, and after each wake reads the latest whole snapshot - the seqlock:
read the sequence, copy, read it again, retry if it was odd or changed.
CPython does not reorder the loads here: each is a separate memoryview
access, and on x86-64 loads are not reordered with each other; on a CPU
that reorders loads (ARM), protect the copy with a mutex instead.
"""
import sys
import time

import iwin32

WORDS = 8
READERS_MAX = 8
SEQ, FIRST_WORD, TOTAL, PULSE = 0, 1, 1 + WORDS, 2 + WORDS
ATTACHED, SEEN = 3 + WORDS, 3 + WORDS + READERS_MAX
CHECK_TIMEOUT = 2.0
WORK = 300e-6  # what a reader does with each value (latest_value.c: WORK_US)


def read_latest(q):
    """(value, torn) of the latest whole snapshot in q (a 'Q' view)."""
    while True:
        s1 = q[SEQ]
        if s1 & 1:
            continue
        words = q[FIRST_WORD:FIRST_WORD + WORDS].tolist()
        if q[SEQ] != s1:
            continue
        value = s1 // 2
        return value, any(w != value * (k + 1) for k, w in enumerate(words))


def main(slot):
    shm = iwin32.SharedMemory("ex.latest", create=False)
    q = shm.buf.cast("Q")
    wake = iwin32.Event("ex.latest.pulse" if q[PULSE] else "ex.latest.wake.%d" % slot, create=False)
    total, last, reads, repeats, backwards, torn = q[TOTAL], 0, 0, 0, 0, 0
    q[ATTACHED + slot] = 1
    while last < total and wake.wait(CHECK_TIMEOUT * 5):
        value, broken = read_latest(q)
        reads += 1
        torn += broken
        backwards += value < last
        repeats += value == last
        last = max(last, value)
        q[SEEN + slot] = last
        until = time.monotonic() + WORK
        while time.monotonic() < until:
            pass  # working on it: a publish now finds this reader not waiting
    print("reader %d (Python): read %d values of %d (skipped %d), %d repeated, %d backwards, "
          "%d torn, ended on %d" % (slot, reads - repeats, total, total - (reads - repeats), repeats,
                                    backwards, torn, last), flush=True)
    del q
    shm.close()
    return 0 if torn == 0 and backwards == 0 and last == total else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
