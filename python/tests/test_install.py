"""cmake --install puts the package where Debian's python3 looks
(<prefix>/lib/python3/dist-packages) and records the installed library in
it: the installed package then works with no LD_LIBRARY_PATH and no
IWIN32_LIBRARY.  $CMAKE_COMMAND and $IWIN32_BUILD_DIR come from
python/CMakeLists.txt."""
import os
import subprocess
import sys
import tempfile

CHECK = """
import sys
import iwin32
assert iwin32.__file__.startswith(sys.argv[1]), iwin32.__file__
with open("/proc/self/maps") as maps:
    assert iwin32.library_path in maps.read(), "not the loaded library"
with iwin32.SharedMemory("installed", 10) as shm:
    shm.buf[3] = 33
    other = iwin32.SharedMemory("installed", create=False)
    print(iwin32.library_path, other.size, other.buf[3])
"""


def run_installed(package_dir, **extra_env):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_LIBRARY_PATH", "IWIN32_LIBRARY", "PYTHONPATH")}
    env.update(PYTHONPATH=package_dir, **extra_env)
    done = subprocess.run([sys.executable, "-c", CHECK, package_dir], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert done.returncode == 0, done.stdout.decode()
    return done.stdout.decode().split()


def test_installed_package_uses_installed_library():
    with tempfile.TemporaryDirectory(prefix="iwin32-py-install-") as prefix:
        done = subprocess.run([os.environ["CMAKE_COMMAND"], "--install",
                               os.environ["IWIN32_BUILD_DIR"], "--prefix", prefix],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        assert done.returncode == 0, done.stdout.decode()
        package_dir = os.path.join(prefix, "lib", "python3", "dist-packages")

        library, size, value = run_installed(package_dir)
        assert library.startswith(prefix + "/") and library.endswith("/libiwin32.so.0")
        assert os.path.isfile(library) and (size, value) == ("10", "33")

        # $IWIN32_LIBRARY, when set, is the library used instead.
        build_library = os.environ["IWIN32_LIBRARY"]
        assert run_installed(package_dir, IWIN32_LIBRARY=build_library)[0] == build_library
