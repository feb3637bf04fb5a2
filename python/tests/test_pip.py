"""pip install ./python works offline: the build backend is in the tree and
requires nothing, so build isolation fetches nothing (--no-index: no index
at all).  The installed package uses the library named by $IWIN32_LIBRARY
(python/CMakeLists.txt sets it to this build's)."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # python/


def test_pip_install_without_an_index():
    if subprocess.run([sys.executable, "-m", "pip", "--version"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        pytest.skip("pip is not installed for %s (apt-get install python3-pip)" % sys.executable)
    with tempfile.TemporaryDirectory(prefix="iwin32-pip-") as work:
        # A copy: pip builds in the tree it is given.
        source = shutil.copytree(SOURCE, os.path.join(work, "python"),
                                 ignore=shutil.ignore_patterns("tests", "__pycache__"))
        target = os.path.join(work, "target")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
        env.pop("PYTHONPATH", None)
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--target", target,
                               source], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=300)
        assert done.returncode == 0, done.stdout.decode()
        assert os.path.isdir(os.path.join(target, "iwin32-0.1.0.dist-info"))

        env["PYTHONPATH"] = target
        check = ("import iwin32, sys\n"
                 "assert iwin32.__file__.startswith(sys.argv[1]), iwin32.__file__\n"
                 "with iwin32.SharedMemory('pip', 10) as shm:\n"
                 "    print(iwin32.SharedMemory('pip').size)\n")
        done = subprocess.run([sys.executable, "-c", check, target], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        assert done.returncode == 0 and done.stdout.decode().split() == ["10"], done.stdout.decode()
