"""Waiting on events, mutexes and semaphores.

Timeouts are in seconds (int or float), rounded up to whole milliseconds so
that a short positive timeout still waits; None waits forever (INFINITE)
and 0 polls.  A wait runs in the library with the GIL released, so other
Python threads go on.  On the main thread a wait ends when a signal's
Python handler raises - Ctrl-C raises KeyboardInterrupt - and goes on after
one that returns (see _interrupt for how, at no cost while no signal comes).
"""
import math
import time
from typing import Iterable, Optional, Sequence, Union

from ._interrupt import interrupt_handle
from ._library import (HANDLE, INFINITE, MAXIMUM_WAIT_OBJECTS, WAIT_ABANDONED_0, WAIT_FAILED,
                       WAIT_OBJECT_0, WAIT_TIMEOUT, lib)
from ._object import KernelObject, fail
from .errors import AbandonedMutexError

Timeout = Optional[Union[int, float]]


def milliseconds(timeout: Timeout) -> int:
    """A timeout in seconds (None: forever) as the library's DWORD."""
    if timeout is None:
        return INFINITE
    if math.isnan(timeout) or timeout < 0:
        raise ValueError("timeout must be None or a number >= 0, not %r" % (timeout,))
    ms = math.ceil(timeout * 1000)
    if ms >= INFINITE:
        raise OverflowError("timeout %r s is too large (use None to wait forever)" % (timeout,))
    return ms


def _outcome(result, objects, what):
    """The index of the object that satisfied the wait, None on timeout."""
    if result == WAIT_TIMEOUT:
        return None
    if result == WAIT_FAILED:
        raise fail(what)
    if WAIT_OBJECT_0 <= result < WAIT_OBJECT_0 + len(objects):
        return result - WAIT_OBJECT_0
    if WAIT_ABANDONED_0 <= result < WAIT_ABANDONED_0 + len(objects):
        index = result - WAIT_ABANDONED_0
        raise AbandonedMutexError(objects[index], index)
    raise RuntimeError("%s: unexpected wait result %#x" % (what, result))


def _wait(objects, timeout, what):
    """RtWaitFor*Objects on objects (wait-any), interruptible on the main
    thread: the interrupt event goes last, so an object signalled together
    with it wins and is never left consumed behind a raising handler."""
    ms = milliseconds(timeout)
    # A poll (0) cannot block: nothing to interrupt, and it stays as cheap as before.
    interrupt = interrupt_handle() if ms != 0 and 0 < len(objects) < MAXIMUM_WAIT_OBJECTS else None
    if interrupt is None:
        if len(objects) == 1:
            result = lib.RtWaitForSingleObject(objects[0].handle, ms)
        else:
            handles = (HANDLE * len(objects))(*[obj.handle for obj in objects])
            result = lib.RtWaitForMultipleObjects(len(objects), handles, False, ms)
        return _outcome(result, objects, what)
    handles = (HANDLE * (len(objects) + 1))(*[obj.handle for obj in objects], interrupt)
    deadline = None if ms == INFINITE else time.monotonic() + ms / 1000
    while True:
        result = lib.RtWaitForMultipleObjects(len(objects) + 1, handles, False, ms)
        if result != WAIT_OBJECT_0 + len(objects):
            return _outcome(result, objects, what)
        # Back in Python: a pending handler runs here, and may raise.
        if deadline is not None:
            ms = max(0, math.ceil((deadline - time.monotonic()) * 1000))


def wait_one(obj: KernelObject, timeout: Timeout) -> bool:
    """True when obj was signalled (and consumed), False on timeout."""
    return _wait([obj], timeout, "RtWaitForSingleObject(%r)" % (obj.name,)) is not None


def wait_any(objects: Iterable[KernelObject], timeout: Timeout = None) -> Optional[int]:
    """Waits until one of ``objects`` (events, mutexes, semaphores; at most
    64) is signalled and returns its index: the lowest signalled one, the
    only one consumed.  Returns None on timeout.  A mutex whose owner died
    raises AbandonedMutexError (its ``index`` says which; this thread owns
    the mutex then).  Uses RtWaitForMultipleObjects, which does not lift a
    mutex owner's priority."""
    objects: Sequence[KernelObject] = list(objects)
    return _wait(objects, timeout, "RtWaitForMultipleObjects(%r)" % ([o.name for o in objects],))
