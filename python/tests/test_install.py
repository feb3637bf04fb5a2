"""cmake --install puts the package where the install prefix's python3 looks
and records the installed library in it: the installed package then works
with no LD_LIBRARY_PATH and no IWIN32_LIBRARY.  $CMAKE_COMMAND and
$IWIN32_BUILD_DIR come from python/CMakeLists.txt."""
import glob
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


def install(prefix, **env):
    done = subprocess.run([os.environ["CMAKE_COMMAND"], "--install", os.environ["IWIN32_BUILD_DIR"],
                           "--prefix", prefix], env=dict(os.environ, **env),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert done.returncode == 0, done.stdout.decode()


def run_installed(python, prefix, pythonpath=None, **extra_env):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_LIBRARY_PATH", "IWIN32_LIBRARY", "PYTHONPATH")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env.update(extra_env)
    done = subprocess.run([python, "-c", CHECK, prefix], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert done.returncode == 0, done.stdout.decode()
    library, size, value = done.stdout.decode().split()
    assert (size, value) == ("10", "33")
    return library


def test_installed_into_a_venv_is_found_by_its_python():
    """A prefix with its own python3 (a venv): the package goes into its
    site-packages, and that python3 imports it with no PYTHONPATH."""
    with tempfile.TemporaryDirectory(prefix="iwin32-py-venv-") as prefix:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", prefix], check=True, timeout=120)
        install(prefix)
        library = run_installed(os.path.join(prefix, "bin", "python3"), prefix)
        assert library == os.path.join(prefix, "lib", "libiwin32.so.0") and os.path.isfile(library)


def test_installed_package_uses_installed_library():
    with tempfile.TemporaryDirectory(prefix="iwin32-py-install-") as prefix:
        install(prefix)
        # A prefix without a python3: the standard layout under <prefix>/lib.
        found = glob.glob(os.path.join(prefix, "lib", "python3*", "*-packages", "iwin32", "__init__.py"))
        assert len(found) == 1, found
        package_dir = os.path.dirname(os.path.dirname(found[0]))

        library = run_installed(sys.executable, prefix, package_dir)
        assert library.startswith(prefix + "/") and library.endswith("/libiwin32.so.0")
        assert os.path.isfile(library)

        # $IWIN32_LIBRARY, when set, is the library used instead.
        build_library = os.environ["IWIN32_LIBRARY"]
        assert run_installed(sys.executable, prefix, package_dir,
                             IWIN32_LIBRARY=build_library) == build_library


def test_system_prefixes_go_where_this_python3_looks():
    """/usr and /usr/local (staged with DESTDIR, as a package build does):
    the package lands in a directory on this python3's sys.path (Debian's:
    /usr/lib/python3/dist-packages, /usr/local/lib/python3.X/dist-packages),
    and records the library's path without the staging directory."""
    for prefix in ("/usr", "/usr/local"):
        with tempfile.TemporaryDirectory(prefix="iwin32-py-destdir-") as stage:
            install(prefix, DESTDIR=stage)
            found = glob.glob(os.path.join(stage + prefix, "lib", "**", "iwin32", "_config.py"),
                              recursive=True)
            assert len(found) == 1, found
            package_dir = os.path.dirname(os.path.dirname(found[0]))[len(stage):]
            assert package_dir in sys.path, (package_dir, sys.path)
            with open(found[0]) as config:
                assert 'LIBRARY_PATH = "%s/' % prefix in config.read()
