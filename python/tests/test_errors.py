"""Errors say what went wrong: the library's text for the code
(iwin32ErrorText), the code's name, the object's name, and the node where
the code is about the node; SharedMemory without a size on a missing name
is ObjectNotFoundError.  And a SharedMemory's size comes from the library
(iwin32SharedMemorySize), not from parsing /proc/self/maps."""
import ctypes
import os
import subprocess
import sys
import tempfile

import pytest

import iwin32
from iwin32._library import lib


def text_of(code):
    return lib.iwin32ErrorText(code).decode()


def test_missing_shared_memory_without_size(name):
    for call in (lambda: iwin32.SharedMemory(name), lambda: iwin32.SharedMemory(name, create=False)):
        with pytest.raises(iwin32.ObjectNotFoundError) as info:
            call()
        error = info.value
        assert error.winerror == iwin32.ERROR_FILE_NOT_FOUND
        assert error.error_name == "ERROR_FILE_NOT_FOUND" and error.object_name == name
        assert error.node == os.environ["IWIN32_ROOT"]
        assert error.strerror == text_of(2) and "no object of that name exists" in error.strerror
        assert str(error) == "RtOpenSharedMemory(%r) in node %s: %s" % (
            name, os.environ["IWIN32_ROOT"], text_of(2))
    # Nothing was made on the way.
    with pytest.raises(iwin32.ObjectNotFoundError):
        iwin32.Event(name, create=False)


def test_every_error_carries_the_library_text(name):
    mutex = iwin32.Mutex(name)  # not owned by this thread
    with pytest.raises(iwin32.Win32Error) as info:
        mutex.release()
    error = info.value
    assert error.winerror == iwin32.ERROR_NOT_OWNER and error.error_name == "ERROR_NOT_OWNER"
    assert error.strerror.startswith("ERROR_NOT_OWNER (288): ") and error.strerror == text_of(288)
    assert error.node is None  # not about the node
    assert str(error) == "RtReleaseMutex(%r): %s" % (name, text_of(288))
    mutex.close()
    # A code the library never sets still gets a text.
    assert text_of(1234) and "1234" in text_of(1234)


def test_access_denied_names_the_node(tmp_path):
    """A node path that is a symbolic link is refused; the error says which
    path (in a child: the library reads $IWIN32_ROOT once per process)."""
    link = tmp_path / "node-link"
    link.symlink_to(tmp_path)
    code = ("import iwin32\n"
            "try:\n"
            "    iwin32.SharedMemory('x', 10)\n"
            "except iwin32.ObjectAccessDeniedError as e:\n"
            "    print(e.winerror, e.node)\n"
            "    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, IWIN32_ROOT=str(link)),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    lines = done.stdout.decode().splitlines()
    assert done.returncode == 0 and lines[0] == "5 %s" % link, done.stdout
    # The library itself says once on stderr why it refused the node.
    assert str(link) in done.stderr.decode(), done.stderr
    assert lines[1] == "RtCreateSharedMemory('x') in node %s: %s" % (link, text_of(5))


def test_size_of_an_opened_object(name, spawn):
    """The exact size, of an object another process made with an odd size."""
    peer = spawn(python="""
        shm = iwin32.SharedMemory(%r, 4097)
        say("ready")
        sys.stdin.read(1)
    """ % name)
    assert peer.line() == "ready"
    opened = iwin32.SharedMemory(name)
    bigger = iwin32.SharedMemory(name, 8192)  # the existing, smaller object
    assert (opened.size, bigger.size, len(bigger.buf)) == (4097, 4097, 4097)
    opened.close()
    bigger.close()
    peer.send()
    assert peer.finish() == 0


def test_size_where_proc_maps_cannot_tell():
    """/proc/self/maps escapes a newline in a path ("\\012"), so a node whose
    path has one cannot be found from it; the library knows the size."""
    with tempfile.TemporaryDirectory(prefix="iwin32 odd\nnode-", dir="/dev/shm") as base:
        code = ("import iwin32\n"
                "a = iwin32.SharedMemory('odd', 100)\n"
                "b = iwin32.SharedMemory('odd', create=False)\n"
                "print(b.size, len(b.buf))\n")
        done = subprocess.run([sys.executable, "-c", code],
                              env=dict(os.environ, IWIN32_ROOT=os.path.join(base, "node")),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        assert done.returncode == 0 and done.stdout.decode().split() == ["100", "100"], done.stdout


def test_size_call_errors(name):
    size = ctypes.c_uint64()
    event = iwin32.Event(name)
    assert not lib.iwin32SharedMemorySize(event.handle, ctypes.byref(size))
    assert lib.GetLastError() == iwin32.ERROR_INVALID_HANDLE
    event.close()


def test_errors_survive_pickling(name):
    """multiprocessing hands a worker's exception to the parent by pickle: it
    must arrive whole (a Pool whose result fails to unpickle waits forever)."""
    import pickle
    semaphore = iwin32.Semaphore(name, 0, 1)
    with pytest.raises(iwin32.Win32Error) as info:
        semaphore.release(2)
    for error in (info.value, iwin32.ObjectNotFoundError(2, "RtOpenEvent('x')", "x")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert (copy.winerror, copy.errno, copy.strerror, copy.error_name, copy.what,
                copy.object_name, copy.node) == (
            error.winerror, error.errno, error.strerror, error.error_name, error.what,
            error.object_name, error.node)
    mutex = iwin32.Mutex(name + ".mutex")
    copy = pickle.loads(pickle.dumps(iwin32.AbandonedMutexError(mutex, 3)))
    assert copy.index == 3 and copy.mutex.name == mutex.name and "abandoned" in str(copy)
    copy.mutex.close()
    mutex.close()
    semaphore.close()
