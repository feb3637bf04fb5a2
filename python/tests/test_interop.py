"""A Python process and a C process (tests/shm_peer, tests/sync_peer) share
one object, both ways round.  $IWIN32_SHM_PEER and $IWIN32_SYNC_PEER name the
peers (python/CMakeLists.txt); their commands are documented at the top of
tests/shm_peer.c and tests/sync_peer.h."""
import mmap
import os
import threading

import numpy
import pytest

import iwin32

SHM_PEER = os.environ["IWIN32_SHM_PEER"]
SYNC_PEER = os.environ["IWIN32_SYNC_PEER"]
WAIT_MS = "60000"  # a C wait that only runs out when the test is failing
WAIT_TIMEOUT = 0x102


def test_c_reads_and_writes_python_memory(name, spawn):
    shm = iwin32.SharedMemory(name, 4096)
    words = numpy.frombuffer(shm.buf, dtype=numpy.uint32)
    words[2] = 123456789
    peer = spawn([SHM_PEER, "open", name, "get", "8", "put", "16", "4242", "get", "16"])
    assert peer.line() == "open 1 %d" % 12345  # success leaves the last error alone
    assert peer.line() == "get 123456789"
    assert peer.line() == "get 4242"
    assert peer.finish() == 0
    assert words[4] == 4242
    del words
    shm.close()


def test_python_reads_and_writes_c_memory(name, spawn):
    peer = spawn([SHM_PEER, "create", name, "100", "put", "0", "77", "ready", "wait", "get", "4"])
    assert peer.line() == "create 1 0"
    assert peer.line() == "ready"
    shm = iwin32.SharedMemory(name, create=False)
    assert shm.existed and shm.size == 100  # the exact size, as the creator gave it
    words = numpy.frombuffer(shm.buf, dtype=numpy.uint32)
    assert words[0] == 77
    words[1] = 99
    peer.send()
    assert peer.line() == "get 99"
    assert peer.finish() == 0
    # The C creator is gone; Python still holds the object and its bytes.
    assert words[0] == 77
    del words
    used = iwin32.pool_info().used
    shm.close()  # the last handle anywhere: the page goes back to the pool
    assert iwin32.pool_info().used == used - mmap.PAGESIZE


def test_c_waits_on_python_event(name, spawn):
    event = iwin32.Event(name)
    peer = spawn([SYNC_PEER, "oe", name, "w", WAIT_MS])
    assert peer.line().startswith("ok ")
    assert peer.line().startswith("waiting ")
    event.set()
    assert peer.line().split()[:2] == ["w", "0"]
    assert not event.wait(0)  # the C waiter consumed the auto-reset event
    event.close()


def test_python_waits_on_c_event(name, spawn):
    peer = spawn([SYNC_PEER, "ce", name, "1", "0", "g", "set"])
    assert peer.line() == "ok 0"
    event = iwin32.Event(name, create=False)
    assert not event.wait(0)
    peer.send()
    assert iwin32.wait_any([iwin32.Event(), event], 60) == 1
    assert peer.line() == "ok 0"
    assert event.wait(0)  # manual-reset, as the C side made it
    event.close()


def test_mutex_shared_with_c(name, spawn):
    mutex = iwin32.Mutex(name, initial_owner=True)
    peer = spawn([SYNC_PEER, "om", name, "w", "100", "g", "w", WAIT_MS, "kill"])
    assert peer.line().startswith("ok ")
    assert peer.line().startswith("waiting ")
    assert peer.line().split()[:2] == ["w", str(WAIT_TIMEOUT)]  # Python owns it
    mutex.release()
    peer.send()
    assert peer.line().startswith("waiting ")
    assert peer.line().split()[:2] == ["w", "0"]  # C owns it, then SIGKILLs itself
    peer.proc.wait(60)
    with pytest.raises(iwin32.AbandonedMutexError):
        mutex.acquire(60)
    mutex.release()
    mutex.close()


def test_counter_under_one_mutex_from_c_and_python(name, spawn):
    shm = iwin32.SharedMemory(name + ".shm", 8)
    counter = numpy.frombuffer(shm.buf, dtype=numpy.uint64)
    mutex = iwin32.Mutex(name + ".mutex")
    rounds = 20000
    peer = spawn([SYNC_PEER, "hammer", name + ".shm", name + ".mutex", str(rounds)])

    def work():
        for _ in range(rounds // 4):
            with mutex:
                counter[0] = counter[0] + 1

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert peer.line(120) == "done %d" % rounds
    assert peer.finish() == 0
    assert counter[0] == rounds + 2 * (rounds // 4)
    shm.close()
    mutex.close()
