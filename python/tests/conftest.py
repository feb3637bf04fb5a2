"""Shared by the Python module's tests.

Each pytest process gets a private node, /dev/shm/iwin32-test-py-XXXX/node,
as $IWIN32_ROOT before the library's first call (this file is imported
before the test modules); child processes inherit it.  The tests find the
library through $IWIN32_LIBRARY and the package through $PYTHONPATH
(python/CMakeLists.txt sets both).

``spawn`` starts a real second process - a Python snippet using iwin32, or a
C peer from tests/ - with pipes on stdin and stdout, reads its answers line
by line with generous timeouts (a loaded 2-core machine), and kills whatever
is left at the end of the test.
"""
import itertools
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap

import pytest

# A multiprocessing 'spawn' child imports the test module, and so this file,
# again: it must use its parent's node, not make one of its own.
_BASE = os.environ.get("IWIN32_TEST_PY_BASE") or tempfile.mkdtemp(prefix="iwin32-test-py-", dir="/dev/shm")
os.environ["IWIN32_TEST_PY_BASE"] = _BASE
os.environ["IWIN32_ROOT"] = os.path.join(_BASE, "node")
os.environ.pop("IWIN32_POOL_MB", None)  # the default pool

# Long enough for a process to start on a loaded machine; a test only waits
# this long when it is failing.
PEER_TIMEOUT = 60.0

_PYTHON_PRELUDE = """\
import os, signal, sys, time
import iwin32
def say(*words):
    print(*words, flush=True)
"""


def pytest_unconfigure(config):
    shutil.rmtree(_BASE, ignore_errors=True)


_names = itertools.count()


@pytest.fixture
def name(request):
    """A fresh object name per use within the node, readable in failures."""
    return "%s.%d" % (request.node.name, next(_names))


class Peer:
    """A child process driven through its stdin and stdout."""

    def __init__(self, argv, env=None):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._pending = b""

    def poll_line(self, timeout):
        """The next line the peer printed, or None if none came in time."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._pending:
            if not select.select([fd], [], [], timeout)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError("peer %r exited (%s) after %r"
                                     % (self.argv[-1][:60], self.proc.wait(), self._pending))
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode()

    def line(self, timeout=PEER_TIMEOUT):
        answer = self.poll_line(timeout)
        if answer is None:
            raise AssertionError("no answer from peer %r within %s s"
                                 % (self.argv[-1][:60], timeout))
        return answer

    def send(self):
        """Lets a peer blocked reading one byte of stdin go on."""
        self.proc.stdin.write(b"g")
        self.proc.stdin.flush()

    def kill(self):
        """SIGKILL, and reap it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()

    def finish(self, timeout=PEER_TIMEOUT):
        """Waits for the peer to exit by itself; returns its exit status."""
        status = self.proc.wait(timeout)
        self.kill()
        return status


@pytest.fixture
def spawn():
    """spawn(argv) or spawn(python=code): a Peer, killed after the test."""
    peers = []

    def start(argv=None, python=None, env=None):
        if python is not None:
            argv = [sys.executable, "-c", _PYTHON_PRELUDE + textwrap.dedent(python)]
        peer = Peer(argv, env)
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.kill()
