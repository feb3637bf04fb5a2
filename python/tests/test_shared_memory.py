"""iwin32.SharedMemory: create, open, errors, the zero-copy buffer and close."""
import gc
import mmap
import os

import numpy
import pytest

import iwin32


def mapped(address):
    """Whether an accessible mapping of this process starts at address.  An
    unmapped one the library keeps reserved for the next Open while the
    process holds the object (shm.c's spare) has no access: not mapped."""
    with open("/proc/self/maps") as maps:
        return any(int(line.split("-", 1)[0], 16) == address and line.split()[1][:3] != "---"
                   for line in maps)


def test_create_then_open_share_bytes(name):
    created = iwin32.SharedMemory(name, 100)
    assert (created.name, created.size, created.existed) == (name, 100, False)
    assert len(created.buf) == 100 and created.buf.format == "B" and not created.buf.readonly
    assert bytes(created.buf) == bytes(100)

    opened = iwin32.SharedMemory(name, create=False)
    again = iwin32.SharedMemory(name)            # size None: map the existing one
    resized = iwin32.SharedMemory(name, 5000)    # an existing object keeps its size
    for other in (opened, again, resized):
        assert other.existed and other.size == 100 and len(other.buf) == 100
    created.buf[10:15] = b"hello"
    assert bytes(opened.buf[10:15]) == b"hello" and bytes(resized.buf[10:15]) == b"hello"
    resized.buf[99] = 7
    assert created.buf[99] == 7
    for shm in (created, opened, again, resized):
        shm.close()


def test_missing_object(name):
    with pytest.raises(iwin32.ObjectNotFoundError) as info:
        iwin32.SharedMemory(name, create=False)
    error = info.value
    assert isinstance(error, FileNotFoundError) and isinstance(error, iwin32.Win32Error)
    assert error.winerror == iwin32.ERROR_FILE_NOT_FOUND
    assert "ERROR_FILE_NOT_FOUND" in str(error) and name in str(error)
    # size None maps an existing object only; nothing is left behind.
    with pytest.raises(iwin32.ObjectNotFoundError):
        iwin32.SharedMemory(name)
    with pytest.raises(iwin32.ObjectNotFoundError):
        iwin32.SharedMemory(name, create=False)


def test_name_of_another_type(name):
    event = iwin32.Event(name)
    with pytest.raises(iwin32.Win32Error) as info:
        iwin32.SharedMemory(name, 4096)
    assert info.value.winerror == iwin32.ERROR_INVALID_HANDLE
    assert "ERROR_INVALID_HANDLE" in str(info.value)
    with pytest.raises(iwin32.Win32Error) as info:
        iwin32.SharedMemory(name, create=False)
    assert info.value.winerror == iwin32.ERROR_INVALID_HANDLE
    event.close()

    shm = iwin32.SharedMemory(name, 4096)
    for kind in (iwin32.Event, iwin32.Mutex, iwin32.Semaphore):
        for create in (True, False):
            with pytest.raises(iwin32.Win32Error) as info:
                kind(name, create=create)
            assert info.value.winerror == iwin32.ERROR_INVALID_HANDLE
    shm.close()


def test_names(name):
    with pytest.raises(iwin32.Win32Error) as info:
        iwin32.SharedMemory("a\\b", 10)
    assert info.value.winerror == iwin32.ERROR_PATH_NOT_FOUND
    with pytest.raises(iwin32.Win32Error) as info:
        iwin32.SharedMemory("x" * 260, 10)
    assert info.value.winerror == iwin32.ERROR_FILENAME_EXCED_RANGE
    with pytest.raises(ValueError):
        iwin32.SharedMemory("a\0b", 10)
    longest = iwin32.SharedMemory("y" * 259, 10)
    assert not longest.existed
    # A str name is its UTF-8 bytes: the same object as the bytes name.
    text = iwin32.SharedMemory(name + "/é ..", 10)
    text.buf[0] = 42
    raw = iwin32.SharedMemory((name + "/é ..").encode("utf-8"), create=False)
    assert raw.buf[0] == 42 and raw.name == (name + "/é ..").encode("utf-8")
    for shm in (longest, text, raw):
        shm.close()


def test_unnamed_objects_are_distinct():
    first, second = iwin32.SharedMemory(None, 64), iwin32.SharedMemory(None, 64)
    assert first.name is None and not first.existed
    first.buf[0] = 1
    assert second.buf[0] == 0
    first.close()
    second.close()


def test_bad_sizes(name):
    with pytest.raises(ValueError):
        iwin32.SharedMemory(name, -1)
    with pytest.raises(TypeError):
        iwin32.SharedMemory(name, 1.5)
    # 0 with no object; above 32 bits: MaximumSizeHigh != 0, also where the
    # high part itself has more than 32 bits (ctypes would wrap it to 0)
    for size in (0, 2**32, 2**64 + 4096):
        with pytest.raises(iwin32.Win32Error) as info:
            iwin32.SharedMemory(name, size)
        assert info.value.winerror == iwin32.ERROR_INVALID_PARAMETER
    with pytest.raises(iwin32.ObjectNotFoundError):
        iwin32.SharedMemory(name, create=False)


def test_numpy_views_the_same_memory(name):
    writer = iwin32.SharedMemory(name, 8 * 1000)
    reader = iwin32.SharedMemory(name, create=False)
    written = numpy.frombuffer(writer.buf, dtype=numpy.float64)
    seen = numpy.frombuffer(reader.buf, dtype=numpy.float64)
    assert written.flags.writeable and written.shape == (1000,)
    written[:] = numpy.arange(1000) * 0.5
    assert numpy.array_equal(seen, numpy.arange(1000) * 0.5)
    assert seen.ctypes.data != written.ctypes.data  # two mappings, one memory: no copy anywhere
    reader.buf[0:8] = numpy.float64(-3.25).tobytes()
    assert written[0] == -3.25
    del written, seen
    writer.close()
    reader.close()


def test_close_keeps_memory_views_can_reach(name):
    shm = iwin32.SharedMemory(name, 3 * mmap.PAGESIZE)
    other = iwin32.SharedMemory(name, create=False)
    array = numpy.frombuffer(shm.buf, dtype=numpy.uint8)
    piece = shm.buf[10:20]
    address = array.ctypes.data
    shm.close()
    assert shm.closed
    with pytest.raises(ValueError):
        shm.buf
    with pytest.raises(ValueError):
        shm.handle
    # Still mapped, still the shared memory: no crash, no stale copy.
    other.buf[0], other.buf[10] = 42, 43
    assert array[0] == 42 and piece[0] == 43 and mapped(address)
    del array
    assert mapped(address)
    del piece
    gc.collect()
    assert not mapped(address)  # unmapped with the last view
    other.close()
    shm.close()  # idempotent


def test_close_unmaps_and_releases_buf(name):
    shm = iwin32.SharedMemory(name, 100)
    held = shm.buf
    address = numpy.frombuffer(held, dtype=numpy.uint8).ctypes.data
    assert mapped(address)
    shm.close()
    assert not mapped(address)
    with pytest.raises(ValueError):
        held[0]


def test_last_close_frees_name_and_pool(name):
    page = mmap.PAGESIZE
    before = iwin32.pool_info()
    assert before.size == 256 * 1024 * 1024
    with iwin32.SharedMemory(name, page + 1) as shm:
        assert iwin32.pool_info().used == before.used + 2 * page  # whole pages
        assert not shm.closed
    assert shm.closed
    assert iwin32.pool_info().used == before.used
    with pytest.raises(iwin32.ObjectNotFoundError):
        iwin32.SharedMemory(name, create=False)
    fresh = iwin32.SharedMemory(name, 10)
    assert not fresh.existed and bytes(fresh.buf) == bytes(10)
    fresh.close()


def test_garbage_collection_closes(name):
    shm = iwin32.SharedMemory(name, 10)
    shm.buf[0] = 5
    del shm
    gc.collect()
    with pytest.raises(iwin32.ObjectNotFoundError):
        iwin32.SharedMemory(name, create=False)


def test_child_process_sees_and_writes(name, spawn):
    shm = iwin32.SharedMemory(name, 64)
    shm.buf[0] = 11
    child = spawn(python="""
        shm = iwin32.SharedMemory(%r, create=False)
        say(shm.size, shm.buf[0])
        shm.buf[1] = 22
        say("done")
    """ % name)
    assert child.line() == "64 11"
    assert child.line() == "done"
    assert child.finish() == 0
    assert shm.buf[1] == 22
    shm.close()


def test_unusable_node_is_permission_error(spawn, tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    env = dict(os.environ, IWIN32_ROOT=str(not_a_directory))
    child = spawn(python="""
        try:
            iwin32.SharedMemory("x", 10)
        except PermissionError as error:
            say(type(error).__name__, error.winerror)
    """, env=env)
    assert child.line() == "ObjectAccessDeniedError %d" % iwin32.ERROR_ACCESS_DENIED
    assert child.finish() == 0
