"""Events, mutexes and semaphores, shared by name with C processes.

Each takes ``create=True`` (RtCreate*: make it, or get the existing one of
that name, ``existed`` then True and the other arguments ignored, as in
Win32) or ``create=False`` (RtOpen*: it must exist, else
ObjectNotFoundError).  A name already used by another type of object
raises Win32Error with ERROR_INVALID_HANDLE.  ``name=None`` makes an
unnamed object, reachable only through this Python object.

Mutex and Semaphore are used like threading's locks: ``with mutex:``
acquires and releases.  Event's ``with`` closes it, as SharedMemory's does.
"""
import ctypes

from ._library import LONG, lib, long_arg
from ._object import (ClosingContext, KernelObject, Name, created_handle, describe, encode_name,
                      fail, opened_handle)
from .errors import AbandonedMutexError
from .wait import Timeout, wait_one


class Event(ClosingContext, KernelObject):
    """An event: manual-reset (stays signalled until reset, releases every
    waiter) or auto-reset (releases one waiter and resets)."""

    def __init__(self, name: Name = None, manual_reset: bool = False, initial: bool = False,
                 create: bool = True) -> None:
        encoded = encode_name(name)
        if create:
            created = lib.RtCreateEvent(None, bool(manual_reset), bool(initial), encoded)
            handle, existed = created_handle(created, "RtCreateEvent", name)
        else:
            handle, existed = opened_handle(lib.RtOpenEvent(0, False, encoded), "RtOpenEvent", name)
        super().__init__(name, handle, existed)

    def _signal(self, function, call: str) -> None:
        if not function(self.handle):
            raise fail(describe(call, self.name), self.name)

    def set(self) -> None:
        self._signal(lib.RtSetEvent, "RtSetEvent")

    def reset(self) -> None:
        self._signal(lib.RtResetEvent, "RtResetEvent")

    def pulse(self) -> None:
        """Releases the waiters present now (one, if auto-reset) and leaves
        the event reset."""
        self._signal(lib.RtPulseEvent, "RtPulseEvent")

    def wait(self, timeout: Timeout = None) -> bool:
        """True when signalled (an auto-reset event is consumed), False on
        timeout (seconds; None: forever)."""
        return wait_one(self, timeout)


class Mutex(KernelObject):
    """A recursive mutex owned by a thread (release once per acquisition).

    If its owner dies holding it, the next acquire raises
    AbandonedMutexError, with this thread then owning it.  ``with mutex:``
    does not enter its block then: it releases the mutex and lets the
    exception out (no __exit__ would ever release it); use acquire() to
    repair the guarded data while holding the mutex.
    """

    def __init__(self, name: Name = None, initial_owner: bool = False, create: bool = True) -> None:
        encoded = encode_name(name)
        if create:
            handle, existed = created_handle(
                lib.RtCreateMutex(None, bool(initial_owner), encoded), "RtCreateMutex", name)
        else:
            handle, existed = opened_handle(lib.RtOpenMutex(0, False, encoded), "RtOpenMutex", name)
        super().__init__(name, handle, existed)

    def acquire(self, timeout: Timeout = None) -> bool:
        """True once this thread owns the mutex, False on timeout."""
        return wait_one(self, timeout)

    def release(self) -> None:
        """Raises Win32Error ERROR_NOT_OWNER if this thread does not own it."""
        if not lib.RtReleaseMutex(self.handle):
            raise fail(describe("RtReleaseMutex", self.name), self.name)

    def __enter__(self) -> "Mutex":
        try:
            self.acquire()
        except AbandonedMutexError:
            self.release()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class Semaphore(KernelObject):
    """A counting semaphore, 0 <= count <= maximum; no owner."""

    def __init__(self, name: Name = None, initial: int = 0, maximum: int = 1,
                 create: bool = True) -> None:
        encoded = encode_name(name)
        if create:
            created = lib.RtCreateSemaphore(None, long_arg(initial, "initial"),
                                            long_arg(maximum, "maximum"), encoded)
            handle, existed = created_handle(created, "RtCreateSemaphore", name)
        else:
            handle, existed = opened_handle(lib.RtOpenSemaphore(0, False, encoded),
                                            "RtOpenSemaphore", name)
        super().__init__(name, handle, existed)

    def acquire(self, timeout: Timeout = None) -> bool:
        """Takes one unit: True, or False on timeout."""
        return wait_one(self, timeout)

    def release(self, count: int = 1) -> int:
        """Adds ``count`` units and returns the count before.  Past the
        maximum: Win32Error ERROR_TOO_MANY_POSTS, the count unchanged."""
        previous = LONG()
        count = long_arg(count, "count")
        if not lib.RtReleaseSemaphore(self.handle, count, ctypes.byref(previous)):
            raise fail(describe("RtReleaseSemaphore", self.name), self.name)
        return previous.value

    def __enter__(self) -> "Semaphore":
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
