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
import os
import weakref
from typing import Optional

from ._library import PAGE_READWRITE, SHM_MAP_ALL_ACCESS, lib
from ._object import ClosingContext, KernelObject, Name, created_handle, encode_name, opened_handle


def _mapped_object_size(address):
    """The exact size of the object whose mapping starts at address.

    The library returns only an address on open, but it keeps an object's
    data in one file of the node whose size is the data's offset in the
    file plus the exact object size (the library's file layout); /proc/self/maps names
    that file and the offset.
    """
    with open("/proc/self/maps", "rb") as maps:
        for line in maps:
            fields = line.rstrip(b"\n").split(maxsplit=5)
            if int(fields[0].split(b"-")[0], 16) != address:
                continue
            offset, inode, path = int(fields[2], 16), int(fields[4]), fields[5]
            status = os.stat(path)
            if status.st_ino != inode:
                raise OSError("shared memory at %#x: %r is not the mapped file" % (address, path))
            return status.st_size - offset
    raise OSError("shared memory at %#x: not in /proc/self/maps" % address)


def _unmap(address):
    lib.RtUnmapSharedMemory(address)


class SharedMemory(ClosingContext, KernelObject):
    """A shared memory object of the node, mapped into this process.

    ``create=True``: make it with ``size`` bytes (zero-filled), or map the
    existing object of that name (``existed`` True, ``size`` ignored);
    ``size=None`` only maps an existing one (Win32Error
    ERROR_INVALID_PARAMETER if there is none).  ``create=False``: it must
    exist (ObjectNotFoundError).  ``name=None`` makes an unnamed object.
    ``size`` is the object's exact size, ``buf`` its bytes.
    """

    size: int

    def __init__(self, name: Name, size: Optional[int] = None, create: bool = True) -> None:
        encoded = encode_name(name)
        address = ctypes.c_void_p()
        if create:
            size = 0 if size is None else operator.index(size)  # 0: the library opens, or refuses
            if size < 0:
                raise ValueError("size must be positive, not %d" % size)
            handle, existed = created_handle(
                lib.RtCreateSharedMemory(PAGE_READWRITE, size >> 32, size & 0xFFFFFFFF, encoded,
                                         ctypes.byref(address)),
                "RtCreateSharedMemory", name)
        else:
            handle, existed = opened_handle(
                lib.RtOpenSharedMemory(SHM_MAP_ALL_ACCESS, False, encoded, ctypes.byref(address)),
                "RtOpenSharedMemory", name)
        super().__init__(name, handle, existed)
        try:
            self.size = _mapped_object_size(address.value) if existed else size
        except BaseException:
            _unmap(address.value)
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
