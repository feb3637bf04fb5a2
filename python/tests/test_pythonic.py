"""What Python users expect of the module: pickling by name (a
multiprocessing 'spawn' worker gets the same object), TypeError for a name
that is not a string, waits that Ctrl-C and raising signal handlers end,
type hints and __version__."""
import inspect
import multiprocessing
import os
import pathlib
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
import typing

import pytest

import iwin32
from conftest import PEER_TIMEOUT


# ---- pickling by name ------------------------------------------------------------

def _worker(shm, event, mutex, semaphore, done):
    """Runs in a spawned interpreter: everything it got was opened by name."""
    assert bytes(shm.buf[:5]) == b"hello" and shm.size == 4096
    shm.buf[:5] = b"world"
    with mutex:
        semaphore.release()
    event.set()
    done.set()


def test_pickle_opens_the_same_objects_in_a_spawn_worker(name):
    shm = iwin32.SharedMemory(name + ".shm", 4096)
    shm.buf[:5] = b"hello"
    event = iwin32.Event(name + ".ev", manual_reset=True)
    mutex = iwin32.Mutex(name + ".mx")
    semaphore = iwin32.Semaphore(name + ".sem", 0, 1)
    done = iwin32.Event(name + ".done", manual_reset=True)
    worker = multiprocessing.get_context("spawn").Process(
        target=_worker, args=(shm, event, mutex, semaphore, done))
    worker.start()
    worker.join(PEER_TIMEOUT)
    assert worker.exitcode == 0
    assert done.wait(0) and event.wait(0)
    assert semaphore.acquire(0)
    assert bytes(shm.buf[:5]) == b"world"


def test_pickle_round_trip_in_process(name):
    for obj in (iwin32.SharedMemory(name + ".s", 100), iwin32.Event(name + ".e"),
                iwin32.Mutex(name + ".m"), iwin32.Semaphore(name + ".x", 2, 5)):
        copy = pickle.loads(pickle.dumps(obj))
        assert type(copy) is type(obj) and copy.name == obj.name
        assert not copy.closed and copy.existed and copy.handle != obj.handle
    copy = pickle.loads(pickle.dumps(iwin32.Semaphore(name + ".x", create=False)))
    assert copy.release(1) == 2  # the same semaphore: count 2 before


def test_pickle_refuses_unnamed_and_closed(name):
    with pytest.raises(TypeError, match="unnamed"):
        pickle.dumps(iwin32.Event())
    event = iwin32.Event(name)
    event.close()
    with pytest.raises(ValueError, match="closed"):
        pickle.dumps(event)


# ---- names -----------------------------------------------------------------

@pytest.mark.parametrize("bad", [5, 5.0, ["a"], object()])
def test_a_name_that_is_not_a_string_is_a_type_error(bad):
    for make in (lambda: iwin32.Event(bad), lambda: iwin32.Mutex(bad),
                 lambda: iwin32.Semaphore(bad), lambda: iwin32.SharedMemory(bad, 10)):
        with pytest.raises(TypeError, match="name must be str or bytes"):
            make()


def test_bytes_names_and_embedded_nul(name):
    assert iwin32.Event(name.encode()).name == name.encode()
    with pytest.raises(ValueError, match="null"):
        iwin32.Event("a\0b")


# ---- interrupting waits ------------------------------------------------------

def _start_waiter(code):
    """A Python process that prints "waiting" then blocks in code."""
    script = textwrap.dedent("""\
        import signal, sys, iwin32
        event = iwin32.Event()
        print("waiting", flush=True)
    """) + textwrap.dedent(code)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"waiting\n"
    time.sleep(0.3)  # into the wait (a signal before it must work too: see below)
    return proc


@pytest.mark.parametrize("call", ["event.wait()", "iwin32.Mutex(initial_owner=True) and "
                                  "iwin32.wait_any([event, iwin32.Semaphore()])",
                                  "iwin32.Semaphore().acquire()", "event.wait(3600)"])
def test_sigint_ends_an_infinite_wait_with_keyboard_interrupt(call):
    proc = _start_waiter(call)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=PEER_TIMEOUT)
    took = time.monotonic() - sent
    assert proc.returncode != 0 and b"KeyboardInterrupt" in err, err
    assert took < 5.0, took


def test_a_raising_signal_handler_ends_the_wait_and_a_quiet_one_does_not():
    proc = _start_waiter("""
        class Stop(Exception): pass
        def usr1(sig, frame): print("usr1", flush=True)
        def usr2(sig, frame): raise Stop()
        signal.signal(signal.SIGUSR1, usr1)
        signal.signal(signal.SIGUSR2, usr2)
        print("handlers", flush=True)
        try:
            event.wait()
        except Stop:
            print("stopped", flush=True)
    """)
    assert proc.stdout.readline() == b"handlers\n"
    proc.send_signal(signal.SIGUSR1)
    assert proc.stdout.readline() == b"usr1\n"  # its handler ran, the wait went on
    time.sleep(0.2)
    assert proc.poll() is None
    proc.send_signal(signal.SIGUSR2)
    out, err = proc.communicate(timeout=PEER_TIMEOUT)
    assert out == b"stopped\n" and proc.returncode == 0, err


def test_an_interrupted_timed_wait_keeps_its_deadline():
    proc = _start_waiter("""
        import time
        signal.signal(signal.SIGUSR1, lambda sig, frame: None)
        print("handler", flush=True)
        start = time.monotonic()
        print(event.wait(1.5), round(time.monotonic() - start, 1), flush=True)
    """)
    assert proc.stdout.readline() == b"handler\n"
    for _ in range(5):
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.1)
    out, err = proc.communicate(timeout=PEER_TIMEOUT)
    result, took = out.split()
    assert result == b"False" and 1.4 <= float(took) < 3.0, (out, err)


def test_a_signal_does_not_lose_a_set_that_comes_with_it(name):
    """The object is looked at first: a wait that the signal and a set both
    end returns True (the event consumed), never drops it."""
    event = iwin32.Event(name)
    old = signal.signal(signal.SIGUSR1, lambda sig, frame: None)
    try:
        for _ in range(50):
            event.set()
            os.kill(os.getpid(), signal.SIGUSR1)
            assert event.wait(5)
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_waits_off_the_main_thread_still_work(name):
    event = iwin32.Event(name)
    got = []
    thread = threading.Thread(target=lambda: got.append(event.wait(PEER_TIMEOUT)))
    thread.start()
    time.sleep(0.1)
    event.set()
    thread.join()
    assert got == [True]


def test_interrupt_machinery_survives_fork():
    proc = _start_waiter("""
        import os
        event.wait(0.01)          # the parent set up its interrupter
        pid = os.fork()
        if pid == 0:
            try:
                event.wait()
            except KeyboardInterrupt:
                os._exit(42)
            os._exit(1)
        print(pid, flush=True)
        print(os.waitpid(pid, 0)[1] >> 8, flush=True)
    """)
    child = int(proc.stdout.readline())
    time.sleep(0.3)
    os.kill(child, signal.SIGINT)
    out, err = proc.communicate(timeout=PEER_TIMEOUT)
    assert out == b"42\n", err


def test_a_forked_child_gets_its_wakeup_fd_back():
    """The child closes the interrupter's pipe it inherited: CPython must not
    go on writing signal numbers to that descriptor number, which the
    child's next open reuses (a byte in the user's file), but to the wakeup
    fd ours displaced (-1 when none)."""
    script = textwrap.dedent("""
        import os, signal, iwin32
        for theirs in (-1, os.pipe2(os.O_NONBLOCK)[1]):  # none; one of its own (asyncio's)
            signal.set_wakeup_fd(theirs)
            iwin32.Event().wait(0.01)      # installs the interrupter's wakeup fd
            pid = os.fork()
            if pid == 0:
                os._exit(0 if signal.set_wakeup_fd(-1) == theirs else 1)
            print(theirs, os.waitpid(pid, 0)[1] >> 8, flush=True)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True,
                         timeout=PEER_TIMEOUT, check=True).stdout.decode().split("\n")
    assert [line.split()[1] for line in out if line] == ["0", "0"], out


# ---- typing and version -------------------------------------------------------

def test_version_and_typing_marker():
    assert iwin32.__version__ == os.environ.get("IWIN32_PROJECT_VERSION", iwin32.__version__)
    assert iwin32.__version__.count(".") == 2
    package = pathlib.Path(iwin32.__file__).parent
    assert (package / "py.typed").is_file()
    hints = iwin32.Event.wait.__annotations__
    assert hints["return"] is bool or hints["return"] == "bool"
    assert "timeout" in iwin32.wait_any.__annotations__
    for cls in (iwin32.SharedMemory, iwin32.Event, iwin32.Mutex, iwin32.Semaphore):
        for member in vars(cls).values():
            if inspect.isfunction(member):
                typing.get_type_hints(member)  # every annotation names something real
    typing.get_type_hints(iwin32.wait_any)
    typing.get_type_hints(iwin32.pool_info)


def _docstrings(thing, seen):
    if id(thing) in seen or not getattr(thing, "__module__", "iwin32").startswith("iwin32"):
        return
    seen.add(id(thing))
    yield thing.__doc__ or ""
    for member in vars(thing).values() if isinstance(thing, type) or inspect.ismodule(thing) else ():
        if inspect.isclass(member) or inspect.isfunction(member) or isinstance(member, property):
            yield from _docstrings(getattr(member, "fget", member), seen)


def test_docstrings_name_no_file_outside_the_package():
    """help(iwin32...) must not send a user to a file of the source tree."""
    seen = set()
    for module in [m for m in sys.modules.values() if m.__name__.startswith("iwin32")]:
        for doc in _docstrings(module, seen):
            for word in ("src/", "SPEC", "README", "docs/"):
                assert word not in doc, (module.__name__, word, doc)
