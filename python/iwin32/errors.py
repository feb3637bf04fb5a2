"""The exceptions of the iwin32 module and the Win32 codes they carry.

A failed call raises Win32Error, an OSError whose ``winerror`` is the Win32
code the library reported (GetLastError), ``strerror`` the library's text
for it (iwin32ErrorText: "ERROR_FILE_NOT_FOUND (2): no object of that name
exists in the node"), ``error_name`` its name, ``object_name`` the object's
name where the call had one, and ``node`` the node directory where the code
is about the node (no such object there, the node refused, its pool full):

    RtOpenSharedMemory('cx_ipc') in node /dev/shm/iwin32-1000:
        ERROR_FILE_NOT_FOUND (2): no object of that name exists in the node

Codes with an obvious Python counterpart raise a subclass that is also that
built-in exception, so ``except FileNotFoundError`` works as it does for
files.  ``errno`` holds the nearest Linux errno, for code that looks at it.
"""
import errno as _errno
import os as _os

from ._library import lib as _lib

# Win32's numeric values (SPEC section 2; include/iwin32.h).
ERROR_SUCCESS = 0
ERROR_FILE_NOT_FOUND = 2
ERROR_PATH_NOT_FOUND = 3
ERROR_TOO_MANY_OPEN_FILES = 4
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_HANDLE = 6
ERROR_NOT_ENOUGH_MEMORY = 8
ERROR_NOT_SUPPORTED = 50
ERROR_INVALID_PARAMETER = 87
ERROR_INVALID_NAME = 123
ERROR_ALREADY_EXISTS = 183
ERROR_FILENAME_EXCED_RANGE = 206
ERROR_NOT_OWNER = 288
ERROR_TOO_MANY_POSTS = 298
ERROR_INVALID_ADDRESS = 487

ERROR_NAMES = {code: name for name, code in globals().items() if name.startswith("ERROR_")}

_ERRNO_OF = {
    ERROR_FILE_NOT_FOUND: _errno.ENOENT,
    ERROR_PATH_NOT_FOUND: _errno.ENOENT,
    ERROR_TOO_MANY_OPEN_FILES: _errno.EMFILE,
    ERROR_ACCESS_DENIED: _errno.EACCES,
    ERROR_INVALID_HANDLE: _errno.EBADF,
    ERROR_NOT_ENOUGH_MEMORY: _errno.ENOMEM,
    ERROR_NOT_SUPPORTED: _errno.ENOSYS,
    ERROR_INVALID_PARAMETER: _errno.EINVAL,
    ERROR_INVALID_NAME: _errno.EINVAL,
    ERROR_ALREADY_EXISTS: _errno.EEXIST,
    ERROR_FILENAME_EXCED_RANGE: _errno.ENAMETOOLONG,
    ERROR_NOT_OWNER: _errno.EPERM,
    ERROR_TOO_MANY_POSTS: _errno.EOVERFLOW,
    ERROR_INVALID_ADDRESS: _errno.EFAULT,
}


# The codes that are about the node as a whole, so that the node's path
# belongs in the message: the name was looked up there, the directory was
# refused, or its pool (or the file system under it) is full.
_NODE_CODES = {ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND, ERROR_ACCESS_DENIED,
               ERROR_NOT_ENOUGH_MEMORY}


def node_path():
    """The node the library uses: $IWIN32_ROOT, else /dev/shm/iwin32-<uid>.
    Read when an error is raised; the library reads it at its
    first call, so a program that changes $IWIN32_ROOT afterwards sees the
    new value here, not the node really used."""
    return _os.environ.get("IWIN32_ROOT") or "/dev/shm/iwin32-%d" % _os.getuid()


class Win32Error(OSError):
    """A library call failed; ``winerror`` is the Win32 code (see the module's
    comment for the other attributes)."""

    def __init__(self, winerror, what, object_name=None):
        super().__init__(_ERRNO_OF.get(winerror), _lib.iwin32ErrorText(winerror).decode())
        self.winerror = winerror
        self.error_name = ERROR_NAMES.get(winerror)
        self.what = what
        self.object_name = object_name
        self.node = node_path() if winerror in _NODE_CODES else None

    def __reduce__(self):
        # OSError's own would call us with (errno, strerror); multiprocessing
        # pickles a worker's exception.  The state keeps .node as it was.
        return type(self), (self.winerror, self.what, self.object_name), self.__dict__

    def __str__(self):
        where = " in node %s" % self.node if self.node else ""
        return "%s%s: %s" % (self.what, where, self.strerror)


class ObjectNotFoundError(Win32Error, FileNotFoundError):
    """ERROR_FILE_NOT_FOUND: no object of that name (an open: create=False, or
    SharedMemory without a size)."""


class ObjectAccessDeniedError(Win32Error, PermissionError):
    """ERROR_ACCESS_DENIED: the node directory is not usable by this user."""


_SUBCLASS_OF = {
    ERROR_FILE_NOT_FOUND: ObjectNotFoundError,
    ERROR_ACCESS_DENIED: ObjectAccessDeniedError,
}


def error_from_code(winerror, what, object_name=None):
    """The exception for a failed call described by ``what``."""
    return _SUBCLASS_OF.get(winerror, Win32Error)(winerror, what, object_name)


class AbandonedMutexError(Exception):
    """A wait acquired a mutex whose owner died holding it (WAIT_ABANDONED_0).

    The calling thread owns the mutex when this is raised (as .NET's
    AbandonedMutexException): the data it guards may be half-updated, so
    repair it, then release().  ``index`` is the position of the mutex in
    the objects given to wait_any (0 for Mutex.acquire).
    """

    def __init__(self, mutex, index=0):
        super().__init__("mutex %r was abandoned by its owner (now owned by this thread)"
                         % (mutex.name,))
        self.mutex = mutex
        self.index = index

    def __reduce__(self):
        # Exception's own would call us with the message alone (multiprocessing
        # pickles a worker's exception); the mutex pickles by name.
        return type(self), (self.mutex, self.index)
