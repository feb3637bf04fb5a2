"""Loading libiwin32 and declaring its C API to ctypes.

Which library: $IWIN32_LIBRARY when set (a deliberate choice: tests and
side-by-side builds), else the path cmake --install recorded in _config, else
whatever the dynamic linker finds as "iwin32" (a system-wide install).

Every function gets its argtypes and restype from include/iwin32.h, with
Win32's widths: DWORD c_uint32, LONG c_int32, BOOLEAN c_ubyte, HANDLE void *.
A handle comes back as a Python int, or None for NULL.

The last error is per thread in the library and ctypes runs a call on the
calling thread (releasing the GIL only around the call itself), so reading
GetLastError() right after a call, on the same thread, reads that call's.
"""
import ctypes
import ctypes.util
import operator
import os

from . import _config

DWORD = ctypes.c_uint32
LONG = ctypes.c_int32
BOOLEAN = ctypes.c_ubyte
HANDLE = ctypes.c_void_p
LPCTSTR = ctypes.c_char_p

INFINITE = 0xFFFFFFFF
WAIT_OBJECT_0 = 0x00000000
WAIT_ABANDONED_0 = 0x00000080
WAIT_TIMEOUT = 0x00000102
WAIT_FAILED = 0xFFFFFFFF
PAGE_READWRITE = 4
SHM_MAP_ALL_ACCESS = 3
MAXIMUM_WAIT_OBJECTS = 64

_PROTOTYPES = {
    # shared memory
    "RtCreateSharedMemory": (HANDLE, [DWORD, DWORD, DWORD, LPCTSTR,
                                      ctypes.POINTER(ctypes.c_void_p)]),
    "RtOpenSharedMemory": (HANDLE, [DWORD, BOOLEAN, LPCTSTR, ctypes.POINTER(ctypes.c_void_p)]),
    "RtUnmapSharedMemory": (BOOLEAN, [ctypes.c_void_p]),
    # events, mutexes, semaphores, waits (LPSECURITY_ATTRIBUTES is a void * here)
    "RtCreateEvent": (HANDLE, [ctypes.c_void_p, BOOLEAN, BOOLEAN, LPCTSTR]),
    "RtOpenEvent": (HANDLE, [DWORD, BOOLEAN, LPCTSTR]),
    "RtSetEvent": (BOOLEAN, [HANDLE]),
    "RtResetEvent": (BOOLEAN, [HANDLE]),
    "RtPulseEvent": (BOOLEAN, [HANDLE]),
    "RtCreateMutex": (HANDLE, [ctypes.c_void_p, BOOLEAN, LPCTSTR]),
    "RtOpenMutex": (HANDLE, [DWORD, BOOLEAN, LPCTSTR]),
    "RtReleaseMutex": (BOOLEAN, [HANDLE]),
    "RtCreateSemaphore": (HANDLE, [ctypes.c_void_p, LONG, LONG, LPCTSTR]),
    "RtOpenSemaphore": (HANDLE, [DWORD, BOOLEAN, LPCTSTR]),
    "RtReleaseSemaphore": (BOOLEAN, [HANDLE, LONG, ctypes.POINTER(LONG)]),
    "RtWaitForSingleObject": (DWORD, [HANDLE, DWORD]),
    "RtWaitForMultipleObjects": (DWORD, [DWORD, ctypes.POINTER(HANDLE), BOOLEAN, DWORD]),
    # handles and the last error
    "CloseHandle": (BOOLEAN, [HANDLE]),
    "GetLastError": (DWORD, []),
    "SetLastError": (None, [DWORD]),
    # the pool (extension)
    "iwin32PoolInfo": (BOOLEAN, [ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64)]),
    # SPEC 7: extensions
    "iwin32SharedMemorySize": (BOOLEAN, [HANDLE, ctypes.POINTER(ctypes.c_uint64)]),
    "iwin32ErrorText": (ctypes.c_char_p, [DWORD]),
}


def long_arg(value: int, what: str) -> int:
    """value as a LONG argument: an int (a float or str is a TypeError, not
    truncated), in range (ctypes would silently wrap a larger one)."""
    value = operator.index(value)
    if not -2**31 <= value < 2**31:
        raise OverflowError("%s %d does not fit a 32-bit LONG" % (what, value))
    return value


def _find_library():
    explicit = os.environ.get("IWIN32_LIBRARY")
    if explicit:
        return explicit
    if _config.LIBRARY_PATH:
        return _config.LIBRARY_PATH
    found = ctypes.util.find_library("iwin32")
    if found is None:
        raise ImportError("iwin32: libiwin32 not found: install it (cmake --install) "
                          "or set IWIN32_LIBRARY to the path of libiwin32.so")
    return found


def _load(path):
    lib = ctypes.CDLL(path)
    for name, (restype, argtypes) in _PROTOTYPES.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


library_path = _find_library()
lib = _load(library_path)
