"""Ending a blocking wait when a Python signal handler has to run.

CPython runs signal handlers on the main thread, between bytecodes: a wait
blocked in the library would only let them run when it returns, so Ctrl-C
did not end ``event.wait()``.  The library's waits go on after EINTR, as
Win32's do, so the wait has to be ended from outside, by something it waits
on: each main-thread wait also waits on this process's *interrupt event*
(unnamed, auto-reset), and a thread here sets it whenever a signal with a
Python handler arrives.  It learns of them through CPython's own wakeup fd
(signal.set_wakeup_fd): the interpreter's C-level handler writes the signal
number to it from inside the signal, before any Python code could run.

A wait that returns for the interrupt event has consumed nothing of the
objects (they come first and the lowest signalled one wins), so it just
returns to Python: the pending handler runs - if it raises (KeyboardInterrupt
for Ctrl-C), the exception ends the wait - and otherwise the wait starts
again with what is left of its timeout.  A signal that arrives after the
handler check but before the library sleeps still ends the sleep: the event
stays set until a wait consumes it.  A stale set (a signal whose handler ran
outside any wait) costs one extra turn of the loop.

Cost when no signal comes: nothing periodic (no slices, no polling, which
could also miss a PulseEvent between two slices), one more handle in the
wait, and a set_wakeup_fd call (a system call) per wait to keep ours
installed: about 4 us more per call than a plain wait on a 2-core VM.  A
poll (timeout 0) cannot block and skips all this.  If someone else installed a wakeup fd (asyncio does), ours
replaces it while we wait and every byte is passed on to theirs, so they
miss nothing.

Not used off the main thread (handlers never run there) nor for a wait on
MAXIMUM_WAIT_OBJECTS objects (no room for one more handle).  A mutex
acquired on the main thread still lifts its owner's priority: a
multi-object wait does too, through the library's watcher thread.  After
fork() the child makes
its own event, pipe and thread, and gives the wakeup fd back (see
_forget_after_fork).
"""
import atexit
import os
import signal
import threading

from ._library import lib

_state = None          # (handle, read fd, write fd) of this process, made on first use
_forward = {"fd": -1}  # a wakeup fd that ours displaced: gets every byte too


def _relay(handle, read_fd):
    while True:
        data = os.read(read_fd, 512)
        if not data:
            return
        forward = _forward["fd"]
        if forward >= 0:
            try:
                os.write(forward, data)
            except BlockingIOError:
                pass  # its pipe is full: the byte is dropped, as CPython itself does then
            except OSError:
                _forward["fd"] = -1  # closed by its owner: nobody to tell any more
        lib.RtSetEvent(handle)


def _make():
    handle = lib.RtCreateEvent(None, False, False, None)
    if handle is None:
        return None
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    os.set_blocking(write_fd, False)  # set_wakeup_fd requires it; a full pipe drops a byte, harmlessly
    threading.Thread(target=_relay, args=(handle, read_fd), name="iwin32-interrupt",
                     daemon=True).start()
    return handle, read_fd, write_fd


@atexit.register
def _close_at_exit():
    """The event's file goes with its last handle: closing it here leaves no
    leftover for the node's lazy reclaiming (a relay still running meanwhile
    gets ERROR_INVALID_HANDLE from its set, and nobody waits any more)."""
    if _state is not None:
        lib.CloseHandle(_state[0])


def _forget_after_fork():
    """In a forked child the relay thread is gone and the event is the
    parent's (handles are inherited): start afresh on the next wait.  The
    wakeup fd goes back to the one ours displaced: CPython would otherwise
    write signal numbers to our closed pipe's descriptor number, which the
    child's next open reuses."""
    global _state
    if _state is not None:
        try:
            current = signal.set_wakeup_fd(-1)
            signal.set_wakeup_fd(_forward["fd"] if current == _state[2] else current)
        except (ValueError, OSError):
            pass  # not the main interpreter, or theirs is gone: no wakeup fd
        lib.CloseHandle(_state[0])
        os.close(_state[1])
        os.close(_state[2])
    _state = None
    _forward["fd"] = -1


os.register_at_fork(after_in_child=_forget_after_fork)


def interrupt_handle():
    """The interrupt event's handle for a wait about to start on this thread,
    or None when the wait should not be interruptible (see above)."""
    global _state
    if threading.current_thread() is not threading.main_thread():
        return None
    if _state is None:  # only the main thread gets here: no other can be making it
        _state = _make()
        if _state is None:
            return None  # no event to be had (pool exhausted): wait as before
    try:
        previous = signal.set_wakeup_fd(_state[2])
    except ValueError:
        return None  # not the main interpreter
    if previous != _state[2]:
        _forward["fd"] = previous  # -1: nobody else's to pass bytes on to
    return _state[0]
