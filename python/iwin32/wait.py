"""Waiting on events, mutexes and semaphores (SPEC 6: waits).

Timeouts are in seconds (int or float), rounded up to whole milliseconds so
that a short positive timeout still waits; None waits forever (INFINITE)
and 0 polls.  A wait runs in the library with the GIL released, so other
Python threads go on; an infinite wait is not interrupted by Ctrl-C (the
signal handler runs when the wait returns), so interactive code that must
stay responsive waits with a timeout.  It is not split into slices here:
a slice boundary could miss a PulseEvent.
"""
import math

from ._library import (HANDLE, INFINITE, WAIT_ABANDONED_0, WAIT_FAILED, WAIT_OBJECT_0,
                       WAIT_TIMEOUT, lib)
from ._object import fail
from .errors import AbandonedMutexError


def milliseconds(timeout):
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


def wait_one(obj, timeout):
    """True when obj was signalled (and consumed), False on timeout."""
    result = lib.RtWaitForSingleObject(obj.handle, milliseconds(timeout))
    return _outcome(result, [obj], "RtWaitForSingleObject(%r)" % (obj.name,)) is not None


def wait_any(objects, timeout=None):
    """Waits until one of ``objects`` (events, mutexes, semaphores; at most
    64) is signalled and returns its index: the lowest signalled one, the
    only one consumed.  Returns None on timeout.  A mutex whose owner died
    raises AbandonedMutexError (its ``index`` says which; this thread owns
    the mutex then).  Uses RtWaitForMultipleObjects, which does not lift a
    mutex owner's priority (README, "Known limits")."""
    objects = list(objects)
    handles = (HANDLE * len(objects))(*[obj.handle for obj in objects])
    result = lib.RtWaitForMultipleObjects(len(objects), handles, False, milliseconds(timeout))
    return _outcome(result, objects, "RtWaitForMultipleObjects(%r)" % ([o.name for o in objects],))
