"""iwin32: the INtime iwin32 objects of libiwin32 from Python.

Named shared memory, events, mutexes and semaphores of the node
($IWIN32_ROOT, default /dev/shm/iwin32-<uid>), shared with C processes that
use libiwin32 - the non-real-time side: dashboards, loggers, test scripts.

    import iwin32, numpy
    with iwin32.SharedMemory("cx_ipc", 4096) as shm:
        samples = numpy.frombuffer(shm.buf, dtype=numpy.float64)
        ready = iwin32.Event("cx_ipc.ready")
        if ready.wait(timeout=1.0):
            print(samples[:4])

Timeouts are seconds, None for forever; Ctrl-C ends a wait on the main
thread.  Failures raise Win32Error (an OSError with ``winerror``); see
iwin32.errors.  Objects pickle by name, for multiprocessing workers.  The C
API's man pages (RtCreateEvent(3), ...) describe each call in full.
"""
__version__ = "0.1.0"  # the project's version: CMakeLists.txt's project(); a test checks they agree
from ._library import MAXIMUM_WAIT_OBJECTS, library_path
from .errors import (ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_FILE_NOT_FOUND,
                     ERROR_FILENAME_EXCED_RANGE, ERROR_INVALID_ADDRESS, ERROR_INVALID_HANDLE,
                     ERROR_INVALID_NAME, ERROR_INVALID_PARAMETER, ERROR_NOT_ENOUGH_MEMORY,
                     ERROR_NOT_OWNER, ERROR_NOT_SUPPORTED, ERROR_PATH_NOT_FOUND, ERROR_SUCCESS,
                     ERROR_TOO_MANY_OPEN_FILES, ERROR_TOO_MANY_POSTS, AbandonedMutexError,
                     ObjectAccessDeniedError, ObjectNotFoundError, Win32Error)
from .pool import PoolInfo, pool_info
from .shared_memory import SharedMemory
from .sync import Event, Mutex, Semaphore
from .wait import wait_any

__all__ = [
    "__version__",
    "SharedMemory", "Event", "Mutex", "Semaphore", "wait_any", "pool_info", "PoolInfo",
    "Win32Error", "ObjectNotFoundError", "ObjectAccessDeniedError", "AbandonedMutexError",
    "MAXIMUM_WAIT_OBJECTS", "library_path",
    "ERROR_SUCCESS", "ERROR_FILE_NOT_FOUND", "ERROR_PATH_NOT_FOUND", "ERROR_TOO_MANY_OPEN_FILES",
    "ERROR_ACCESS_DENIED", "ERROR_INVALID_HANDLE", "ERROR_NOT_ENOUGH_MEMORY", "ERROR_NOT_SUPPORTED",
    "ERROR_INVALID_PARAMETER", "ERROR_INVALID_NAME", "ERROR_ALREADY_EXISTS",
    "ERROR_FILENAME_EXCED_RANGE", "ERROR_NOT_OWNER", "ERROR_TOO_MANY_POSTS",
    "ERROR_INVALID_ADDRESS",
]
