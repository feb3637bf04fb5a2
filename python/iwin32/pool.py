"""The node's shared-memory pool through the iwin32PoolInfo extension."""
import collections
import ctypes

from ._library import lib
from ._object import fail

PoolInfo = collections.namedtuple("PoolInfo", "size used")
PoolInfo.__doc__ = "The pool's size and the bytes live objects use (whole pages each)."


def pool_info() -> PoolInfo:
    """Recounts the node's live objects (reclaiming what killed processes
    left) and returns PoolInfo(size, used) in bytes."""
    size, used = ctypes.c_uint64(), ctypes.c_uint64()
    if not lib.iwin32PoolInfo(ctypes.byref(size), ctypes.byref(used)):
        raise fail("iwin32PoolInfo")
    return PoolInfo(size.value, used.value)
