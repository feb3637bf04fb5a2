"""iwin32.Event, Mutex, Semaphore and wait_any, across threads and processes."""
import threading
import time

import numpy
import pytest

import iwin32
from conftest import PEER_TIMEOUT

# Long enough to be sure a released waiter would have answered on a loaded
# machine when checking that one was NOT released (a false pass at worst).
QUIET = 1.0


def waiter(spawn, kind, name, timeout=PEER_TIMEOUT):
    """A child process that opens the object, says "ready", waits once and
    says what it got."""
    return spawn(python="""
        obj = iwin32.%s(%r, create=False)
        say("ready")
        say("woke" if obj.%s(%r) else "timeout")
    """ % (kind, name, "wait" if kind == "Event" else "acquire", timeout))


def first_answer(peers, timeout=PEER_TIMEOUT):
    """The first peer of peers to print a line, and the line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for peer in peers:
            line = peer.poll_line(0.05)
            if line is not None:
                return peer, line
    raise AssertionError("no peer answered within %s s" % timeout)


# ---- events ------------------------------------------------------------------

def test_event_create_open_and_errors(name):
    event = iwin32.Event(name, manual_reset=True)
    assert not event.existed and event.name == name
    same = iwin32.Event(name, manual_reset=False, initial=True)  # existing: arguments ignored
    opened = iwin32.Event(name, create=False)
    assert same.existed and opened.existed
    assert not opened.wait(0)
    event.set()
    assert same.wait(0) and opened.wait(0) and event.wait(0)  # manual-reset: stays set
    opened.reset()
    assert not event.wait(0)
    with pytest.raises(iwin32.ObjectNotFoundError):
        iwin32.Event(name + ".missing", create=False)
    with pytest.raises(iwin32.Win32Error) as info:
        iwin32.Event(None, create=False)
    assert info.value.winerror == iwin32.ERROR_INVALID_PARAMETER
    for e in (event, same, opened):
        e.close()
    with pytest.raises(ValueError):
        event.set()


def test_event_initial_and_auto_reset(name):
    with iwin32.Event(name, initial=True) as event:
        assert event.wait(0)
        assert not event.wait(0)  # auto-reset: consumed
        event.set()
        event.set()
        assert event.wait(0) and not event.wait(0)  # a set does not count
    assert event.closed


def test_manual_reset_releases_every_waiting_process(name, spawn):
    event = iwin32.Event(name, manual_reset=True)
    peers = [waiter(spawn, "Event", name) for _ in range(2)]
    for peer in peers:
        assert peer.line() == "ready"
    event.set()
    assert [peer.line() for peer in peers] == ["woke", "woke"]
    assert event.wait(0)  # still signalled
    event.close()


def test_auto_reset_releases_one_process_per_set(name, spawn):
    event = iwin32.Event(name)
    peers = [waiter(spawn, "Event", name) for _ in range(2)]
    for peer in peers:
        assert peer.line() == "ready"
    event.set()
    woken, line = first_answer(peers)
    assert line == "woke"
    other = peers[1 - peers.index(woken)]
    assert other.poll_line(QUIET) is None
    assert not event.wait(0)  # the set went to the one waiter
    event.set()
    assert other.line() == "woke"
    event.close()


@pytest.mark.parametrize("manual_reset", [True, False])
def test_pulse_releases_present_waiters_and_resets(name, spawn, manual_reset):
    event = iwin32.Event(name, manual_reset=manual_reset)
    event.pulse()  # nobody waits: nothing to release, the event stays reset
    assert not event.wait(0)
    peers = [waiter(spawn, "Event", name) for _ in range(2)]
    for peer in peers:
        assert peer.line() == "ready"
    # A pulse before a waiter really sleeps releases nobody, so pulse until
    # one answers; each pulse leaves the event reset.
    deadline = time.monotonic() + PEER_TIMEOUT
    woken = []
    while not woken and time.monotonic() < deadline:
        event.pulse()
        assert not event.wait(0)
        woken = [peer for peer in peers if peer.poll_line(0.2) == "woke"]
    assert woken, "no pulse released a waiter"
    if not manual_reset:
        assert len(woken) == 1  # auto-reset: one waiter per pulse
    rest = [peer for peer in peers if peer not in woken]
    for peer in rest:
        assert peer.poll_line(QUIET) is None  # no pulse since: still waiting
    event.set()
    for peer in rest:
        assert peer.line() == "woke"
    event.close()


# ---- mutexes -----------------------------------------------------------------

def in_thread(function):
    """function's result, or its exception, run on another thread (which
    then ends)."""
    outcome = {}

    def run():
        try:
            outcome["result"] = function()
        except Exception as error:  # handed to the calling thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(PEER_TIMEOUT)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def test_mutex_is_recursive_and_owned_by_thread(name):
    mutex = iwin32.Mutex(name)
    assert mutex.acquire() and mutex.acquire(0)
    assert in_thread(lambda: mutex.acquire(0.05)) is False
    mutex.release()
    assert in_thread(lambda: mutex.acquire(0)) is False  # still held once
    mutex.release()
    with pytest.raises(iwin32.Win32Error) as info:
        mutex.release()  # once more than acquired
    assert info.value.winerror == iwin32.ERROR_NOT_OWNER and "ERROR_NOT_OWNER" in str(info.value)

    owned = iwin32.Mutex(name + ".owned", initial_owner=True)
    assert in_thread(lambda: owned.acquire(0)) is False
    with pytest.raises(iwin32.Win32Error) as info:
        in_thread(owned.release)  # not the owner
    assert info.value.winerror == iwin32.ERROR_NOT_OWNER
    owned.release()
    mutex.close()
    owned.close()


def test_mutex_serializes_threads(name):
    shm = iwin32.SharedMemory(name + ".counter", 8)
    counter = numpy.frombuffer(shm.buf, dtype=numpy.uint64)
    mutex = iwin32.Mutex(name)
    threads, rounds = 4, 2000

    def work():
        for i in range(rounds):
            with mutex:
                value = counter[0]
                if i % 50 == 0:
                    time.sleep(0)  # let another thread in, were the mutex broken
                counter[0] = value + 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert counter[0] == threads * rounds
    shm.close()
    mutex.close()


def owner_then_killed(spawn, name):
    """A child process that owns the mutex, then is SIGKILLed."""
    child = spawn(python="""
        mutex = iwin32.Mutex(%r, create=False)
        mutex.acquire()
        say("owned")
        time.sleep(600)
    """ % name)
    assert child.line() == "owned"
    return child


def test_mutex_abandoned_by_killed_process(name, spawn):
    mutex = iwin32.Mutex(name)
    child = owner_then_killed(spawn, name)
    assert not mutex.acquire(0)
    child.kill()
    with pytest.raises(iwin32.AbandonedMutexError) as info:
        mutex.acquire(PEER_TIMEOUT)
    assert info.value.mutex is mutex and info.value.index == 0
    assert in_thread(lambda: mutex.acquire(0)) is False  # this thread owns it now
    mutex.release()
    assert mutex.acquire(0)  # an ordinary mutex again
    mutex.release()
    mutex.close()


def test_blocked_acquire_sees_abandonment_promptly(name, spawn):
    mutex = iwin32.Mutex(name)
    child = owner_then_killed(spawn, name)
    killer = threading.Timer(0.5, child.kill)
    killer.start()
    start = time.monotonic()
    with pytest.raises(iwin32.AbandonedMutexError):
        mutex.acquire(120)
    assert time.monotonic() - start < 60  # woken by the death, not the timeout
    killer.join()
    mutex.release()
    mutex.close()


def test_with_on_abandoned_mutex_releases_and_raises(name, spawn):
    mutex = iwin32.Mutex(name)
    owner_then_killed(spawn, name).kill()
    entered = False
    with pytest.raises(iwin32.AbandonedMutexError):
        with mutex:
            entered = True
    assert not entered

    def acquire_and_release():
        acquired = mutex.acquire(0)
        if acquired:
            mutex.release()
        return acquired

    assert in_thread(acquire_and_release)  # the with statement released it
    mutex.close()


# ---- semaphores --------------------------------------------------------------

def test_semaphore_counts(name):
    semaphore = iwin32.Semaphore(name, initial=1, maximum=3)
    assert not semaphore.existed
    assert semaphore.release(1) == 1
    assert semaphore.release() == 2
    with pytest.raises(iwin32.Win32Error) as info:
        semaphore.release(1)  # past the maximum
    assert info.value.winerror == iwin32.ERROR_TOO_MANY_POSTS
    assert "ERROR_TOO_MANY_POSTS" in str(info.value)
    # The count is unchanged: 3.
    assert [semaphore.acquire(0) for _ in range(4)] == [True, True, True, False]
    assert semaphore.release(2) == 0
    with pytest.raises(iwin32.Win32Error) as info:
        semaphore.release(2)
    assert info.value.winerror == iwin32.ERROR_TOO_MANY_POSTS
    assert semaphore.release(1) == 2
    with pytest.raises(iwin32.Win32Error) as info:
        semaphore.release(0)
    assert info.value.winerror == iwin32.ERROR_INVALID_PARAMETER
    opened = iwin32.Semaphore(name, create=False)
    assert opened.existed and opened.acquire(0)
    with opened:
        assert semaphore.release() == 1  # with took one unit: 3 - 1 - 1
    assert [opened.acquire(0) for _ in range(4)] == [True, True, True, False]  # with gave it back
    semaphore.close()
    opened.close()


def test_semaphore_bad_arguments(name):
    for initial, maximum in ((2, 1), (-1, 1), (0, 0)):
        with pytest.raises(iwin32.Win32Error) as info:
            iwin32.Semaphore(name, initial, maximum)
        assert info.value.winerror == iwin32.ERROR_INVALID_PARAMETER
    with pytest.raises(OverflowError):
        iwin32.Semaphore(name, 0, 2**32 + 1)  # ctypes alone would make it 1
    for bad in (1.7, "1"):  # not silently made an int (1.7 would release 1)
        with pytest.raises(TypeError):
            iwin32.Semaphore(name, bad, 5)
    semaphore = iwin32.Semaphore(name, 0, 5)
    for bad in (1.7, "1"):
        with pytest.raises(TypeError):
            semaphore.release(bad)
    assert semaphore.release(1) == 0  # nothing was released before
    semaphore.close()
    with pytest.raises(iwin32.ObjectNotFoundError):
        iwin32.Semaphore(name, create=False)


def test_semaphore_unit_goes_to_another_process(name, spawn):
    semaphore = iwin32.Semaphore(name, 0, 5)
    child = waiter(spawn, "Semaphore", name)
    assert child.line() == "ready"
    assert semaphore.release(2) == 0
    assert child.line() == "woke"
    assert child.finish() == 0
    assert semaphore.acquire(0) and not semaphore.acquire(0)  # the child took one
    semaphore.close()


# ---- waits -------------------------------------------------------------------

def test_wait_any_index_and_timeout(name):
    events = [iwin32.Event("%s.%d" % (name, i)) for i in range(3)]
    semaphore = iwin32.Semaphore(name + ".s", 0, 2)
    objects = events + [semaphore]
    assert iwin32.wait_any(objects, 0) is None
    start = time.monotonic()
    assert iwin32.wait_any(objects, 0.2) is None
    assert time.monotonic() - start >= 0.2 - 0.002  # ms rounding, clock granularity
    events[2].set()
    semaphore.release()
    assert iwin32.wait_any(objects, 0) == 2  # the lowest signalled, the only one consumed
    assert iwin32.wait_any(objects, 0) == 3
    assert iwin32.wait_any(objects, 0) is None
    threading.Timer(0.2, events[1].set).start()
    assert iwin32.wait_any(objects, None) == 1  # forever, until another thread sets it
    for obj in objects:
        obj.close()


def test_wait_any_refusals(name):
    event = iwin32.Event(name)
    shm = iwin32.SharedMemory(name + ".shm", 10)
    cases = (([event, shm], iwin32.ERROR_INVALID_HANDLE),  # shared memory is not waitable
             ([], iwin32.ERROR_INVALID_PARAMETER),
             ([event] * (iwin32.MAXIMUM_WAIT_OBJECTS + 1), iwin32.ERROR_INVALID_PARAMETER))
    for objects, code in cases:
        with pytest.raises(iwin32.Win32Error) as info:
            iwin32.wait_any(objects, 0)
        assert info.value.winerror == code
    assert iwin32.wait_any([event] * iwin32.MAXIMUM_WAIT_OBJECTS, 0) is None
    for timeout in (-1, float("nan")):
        with pytest.raises(ValueError):
            iwin32.wait_any([event], timeout)
        with pytest.raises(ValueError):
            event.wait(timeout)
    with pytest.raises(OverflowError):
        event.wait(50 * 24 * 3600)  # past the largest finite DWORD of milliseconds
    shm.close()
    event.close()


def test_wait_any_reports_abandoned_mutex_index(name, spawn):
    event = iwin32.Event(name + ".e")
    mutex = iwin32.Mutex(name)
    owner_then_killed(spawn, name).kill()
    with pytest.raises(iwin32.AbandonedMutexError) as info:
        iwin32.wait_any([event, mutex], PEER_TIMEOUT)
    assert info.value.index == 1 and info.value.mutex is mutex
    mutex.release()  # owned by this thread
    event.close()
    mutex.close()
