# Run by cmake --install (python/CMakeLists.txt): writes the installed
# package's iwin32/_config.py with the installed library's absolute path.
# It runs at install time so that CMAKE_INSTALL_PREFIX is the prefix really
# installed to (cmake --install --prefix), not the one configured; DESTDIR
# (staging for a package) is where the file goes but not part of the path.
# Set by install(CODE): IWIN32_PY_LIBDIR, IWIN32_PY_DIR (relative to the
# prefix unless absolute) and IWIN32_PY_SONAME.
foreach(dir IWIN32_PY_LIBDIR IWIN32_PY_DIR)
  if(NOT IS_ABSOLUTE "${${dir}}")
    set(${dir} "${CMAKE_INSTALL_PREFIX}/${${dir}}")
  endif()
endforeach()
set(library "${IWIN32_PY_LIBDIR}/${IWIN32_PY_SONAME}")
string(REPLACE "\\" "\\\\" library "${library}")
string(REPLACE "\"" "\\\"" library "${library}")
set(config "$ENV{DESTDIR}${IWIN32_PY_DIR}/iwin32/_config.py")
message(STATUS "Installing: ${config}")
file(WRITE "${config}"
  "\"\"\"Written by cmake --install: the library installed with this package.\"\"\"\n"
  "LIBRARY_PATH = \"${library}\"\n")
