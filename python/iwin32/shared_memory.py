"""Named shared memory as a writable, zero-copy memoryview.

``SharedMemory.buf`` is a memoryview of the library's own mapping: what a C
process writes through its pointer is there at once, and
``numpy.frombuffer(shm.buf, ...)`` views the same bytes without copying.

Closing while views of the memory exist.  Unmapping memory that a view can
still reach would crash the interpreter on the next access, and an export
count cannot see every view (numpy and slices of ``buf`` hold the memory
through their own memoryviews, not through exports of ``buf``).  So the
mapping is unmapped only when the last Python object viewing it is gone: a
ctypes array spans the mapping, every view (``buf``, its slices and casts,
numpy arrays made from them) holds that array, and a finalizer on it calls
RtUnmapSharedMemory.  close() therefore never refuses: it releases ``buf``
(using ``buf`` afterwards raises ValueError), closes the handle at once (the
name goes away with the last handle, CloseHandle(3)), and the mapping follows as
soon as no view of it is left - at once when none was taken.
"""
import ctypes
import operator
import weakref
from typing import Optional

from ._library import PAGE_READWRITE, SHM_MAP_ALL_ACCESS, lib
from ._object import ClosingContext, KernelObject, Name, created_handle, encode_name, fail, opened_handle


def _object_size(handle):
    """The object's exact size as created (the mapping covers whole pages)."""
    size = ctypes.c_uint64()
    if not lib.iwin32SharedMemorySize(handle, ctypes.byref(size)):
        raise fail("iwin32SharedMemorySize(%#x)" % handle)
    return size.value


def _unmap(address):
    lib.RtUnmapSharedMemory(address)


class SharedMemory(ClosingContext, KernelObject):
    """A shared memory object of the node, mapped into this process.

    ``create=True``: make it with ``size`` bytes (zero-filled), or map the
    existing object of that name (``existed`` True, ``size`` ignored).
    ``size=None`` or ``create=False``: map the existing object, which must
    exist (ObjectNotFoundError).  ``name=None`` makes an unnamed object.
    ``size`` is the object's exact size as created (an existing object may
    be smaller than the size asked for), ``buf`` its bytes.
    """

    size: int

    def __init__(self, name: Name, size: Optional[int] = None, create: bool = True) -> None:
        encoded = encode_name(name)
        address = ctypes.c_void_p()
        if create and size is not None:
            size = operator.index(size)
            if size < 0:
                raise ValueError("size must be positive, not %d" % size)
            # A high part past 32 bits stays nonzero (refused as C refuses any):
            # ctypes would wrap 2**32 to 0 and make an object of the low part.
            high = min(size >> 32, 0xFFFFFFFF)
            handle, existed = created_handle(
                lib.RtCreateSharedMemory(PAGE_READWRITE, high, size & 0xFFFFFFFF, encoded,
                                         ctypes.byref(address)),
                "RtCreateSharedMemory", name)
        else:
            handle, existed = opened_handle(
                lib.RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, False, encoded, ctypes.byref(address)),
                "RtOpenSharedMemory", name)
        super().__init__(name, handle, existed)
        try:
            self.size = _object_size(handle) if existed else size
        except BaseException:
            _unmap(address.value)
            super().close()
            raise
        array = (ctypes.c_ubyte * self.size).from_address(address.value)
        weakref.finalize(array, _unmap, address.value).atexit = False  # exit unmaps anyway
        self._buf = memoryview(array).cast("B")

    @property
    def buf(self) -> memoryview:
        """The object's bytes: a writable memoryview of format "B"."""
        if self._buf is None:
            raise ValueError("SharedMemory %r is closed" % (self.name,))
        return self._buf

    def close(self) -> None:
        """Releases ``buf`` and closes the handle (idempotent); the memory is
        unmapped once no view of it is left (see the module's comment)."""
        if self._buf is not None:
            try:
                self._buf.release()
            except BufferError:
                pass  # something holds buf's buffer itself: the unmap waits for it too
            self._buf = None
        super().close()
