"""What every iwin32 object has: a name, a handle, and its closing.

A handle is closed by close(), or when the Python object is garbage
collected; not at interpreter exit, since the process's exit drops its
references itself (SPEC 4) and a daemon thread may still be using it then.
"""
import weakref

from ._library import lib
from .errors import ERROR_ALREADY_EXISTS, error_from_code


def encode_name(name):
    """A name as the library takes it: str in UTF-8, bytes as they are, None
    for an unnamed object.  A NUL would silently cut the name short in C."""
    if name is None:
        return None
    encoded = name.encode("utf-8") if isinstance(name, str) else bytes(name)
    if b"\0" in encoded:
        raise ValueError("embedded null byte in object name %r" % (name,))
    return encoded


def fail(what, object_name=None):
    """The exception for the call that just failed on this thread."""
    return error_from_code(lib.GetLastError(), what, object_name)


def describe(call, name):
    return "%s(%r)" % (call, name)


def created_handle(handle, call, name):
    """(handle, existed) after a Create call; raises if it failed."""
    if handle is None:
        raise fail(describe(call, name), name)
    return handle, lib.GetLastError() == ERROR_ALREADY_EXISTS


def opened_handle(handle, call, name):
    """(handle, True) after an Open call; raises if it failed."""
    if handle is None:
        raise fail(describe(call, name), name)
    return handle, True


def _close_handle(handle):
    if not lib.CloseHandle(handle):
        raise fail("CloseHandle(%#x)" % handle)


class KernelObject:
    """A named object of the node, held through one handle of this process.

    ``name`` is what was given (None: unnamed); ``existed`` is True when the
    object was there already (an open, or a create that got
    ERROR_ALREADY_EXISTS).
    """

    def __init__(self, name, handle, existed):
        self.name = name
        self.existed = existed
        self._handle = handle
        self._closer = weakref.finalize(self, _close_handle, handle)
        self._closer.atexit = False

    @property
    def handle(self):
        """The library's handle value, for calls made through other means."""
        if not self._closer.alive:
            raise ValueError("%s %r is closed" % (type(self).__name__, self.name))
        return self._handle

    @property
    def closed(self):
        return not self._closer.alive

    def close(self):
        """Closes the handle (idempotent).  The object itself lives on while
        any process holds a handle to it."""
        self._closer()

    def __repr__(self):
        state = "closed" if self.closed else "handle=%#x" % self._handle
        return "<iwin32.%s %r %s>" % (type(self).__name__, self.name, state)


class ClosingContext:
    """``with obj:`` closes obj at the end (shared memory, events)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
