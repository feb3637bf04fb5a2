# Run by cmake --install (python/CMakeLists.txt): installs the package
# iwin32 where the install prefix's python3 looks, with an _config.py that
# records the installed library's absolute path.  It runs at install time so
# that CMAKE_INSTALL_PREFIX is the prefix really installed to (cmake
# --install --prefix), not the one configured; DESTDIR (staging a package)
# is where the files go but not part of the recorded paths.
# Set by install(CODE): IWIN32_PY_SOURCE (the package's sources),
# IWIN32_PY_STAGE (a build directory for _config.py), IWIN32_PY_DIR (empty:
# ask python3; else relative to the prefix unless absolute), IWIN32_PY_PYTHON
# (the configured python3), IWIN32_PY_LIBDIR and IWIN32_PY_SONAME.
get_filename_component(prefix "${CMAKE_INSTALL_PREFIX}" ABSOLUTE)

# The site directory of the prefix, as its python3 sees it: the prefix's own
# bin/python3 when it has one (a venv), else the configured one.  Among that
# interpreter's site directories the one under <prefix>/lib, else the
# directory of the standard layout for that prefix (posix_prefix: what a
# python3 installed there would use; PYTHONPATH must then name it).
set(ask [=[
import site, sys, sysconfig
prefix = sys.argv[1].rstrip("/")
mine = [d for d in site.getsitepackages() if d.startswith(prefix + "/lib/")]
print(mine[0] if mine else
      sysconfig.get_path("purelib", "posix_prefix", vars={"base": prefix, "platbase": prefix}))
]=])
if(IWIN32_PY_DIR)
  set(dir "${IWIN32_PY_DIR}")
  if(NOT IS_ABSOLUTE "${dir}")
    set(dir "${prefix}/${dir}")
  endif()
else()
  set(python "${IWIN32_PY_PYTHON}")
  if(EXISTS "${prefix}/bin/python3")
    set(python "${prefix}/bin/python3")
  endif()
  if(python)
    execute_process(COMMAND "${python}" -c "${ask}" "${prefix}"
      OUTPUT_VARIABLE dir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  endif()
  if(NOT python OR NOT rc EQUAL 0 OR NOT dir)
    set(dir "${prefix}/lib/python3/dist-packages")
    message(WARNING "No python3 to ask where the Python package goes: ${dir}")
  endif()
endif()

# Every file of the package (modules, py.typed), as the wheel has them.
file(INSTALL "${IWIN32_PY_SOURCE}" DESTINATION "${dir}"
  PATTERN "_config.py" EXCLUDE      # the one written below instead
  PATTERN "__pycache__" EXCLUDE)

set(libdir "${IWIN32_PY_LIBDIR}")
if(NOT IS_ABSOLUTE "${libdir}")
  set(libdir "${prefix}/${libdir}")
endif()
set(library "${libdir}/${IWIN32_PY_SONAME}")
string(REPLACE "\\" "\\\\" library "${library}")
string(REPLACE "\"" "\\\"" library "${library}")
file(WRITE "${IWIN32_PY_STAGE}/_config.py"
  "\"\"\"Written by cmake --install: the library installed with this package.\"\"\"\n"
  "LIBRARY_PATH = \"${library}\"\n")
file(INSTALL "${IWIN32_PY_STAGE}/_config.py" DESTINATION "${dir}/iwin32")
