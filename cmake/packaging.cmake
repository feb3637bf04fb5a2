# Debian packages, one per install component (CMakeLists.txt):
#
#   cmake -S . -B build-deb -DCMAKE_INSTALL_PREFIX=/usr -DIWIN32_TESTS=OFF
#   cmake --build build-deb -j2 && (cd build-deb && cpack -G DEB)
#
# makes libiwin32-0 (the shared library), libiwin32-dev (header, .so link,
# static library, iwin32.pc, the CMake package, man pages 3 and 7),
# iwin32-tools (the iwin32 tool and its page) and python3-iwin32 (the module,
# in /usr/lib/python3/dist-packages); `apt-get install ./*.deb` installs
# them.  Configure with prefix /usr so that GNUInstallDirs picks Debian's
# multiarch library directory; the packages install to /usr either way.
# Needs dpkg-dev (dpkg-shlibdeps works out the libc dependency).
set(CPACK_PACKAGE_NAME iwin32)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "libiwin32")
set(CPACK_PACKAGE_CONTACT "libiwin32 maintainers <libiwin32@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "INtime iwin32 API for Linux: named shared memory, events, mutexes, semaphores")
# DESTDIR staging, so that the install scripts (the Python package's
# location and its recorded library path, python/install_package.cmake) see
# the real prefix, /usr, and not the staging directory.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev tools python)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(iwin32_deb_runtime "libiwin32-0 (= ${PROJECT_VERSION})")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libiwin32-0)
# A shlibs file, and the ldconfig trigger: the library is usable at once.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
  "INtime iwin32 API for Linux (shared library)\n libiwin32 gives Linux processes the INtime iwin32 API: named shared memory\n and named events, mutexes and semaphores, crash-safe without a daemon.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libiwin32-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${iwin32_deb_runtime}")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "INtime iwin32 API for Linux (development files)\n iwin32.h, iwin32_inspect.h (the inspection interface), the static library,\n iwin32.pc, the CMake package iwin32 and the man pages of every call.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME iwin32-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION admin)
# The tool links the shared library (tools/CMakeLists.txt): dpkg-shlibdeps
# finds it in the build tree, as a library of this same source (no package
# of its own yet to take a dependency from), and the dependency on it is
# stated here.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR})
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${iwin32_deb_runtime}")
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
  "INtime iwin32 API for Linux (the iwin32 tool)\n iwin32 lists, shows and removes the objects of a node, and sets its pool.")

set(CPACK_DEBIAN_PYTHON_PACKAGE_NAME python3-iwin32)
set(CPACK_DEBIAN_PYTHON_PACKAGE_SECTION python)
set(CPACK_DEBIAN_PYTHON_PACKAGE_DEPENDS "${iwin32_deb_runtime}, python3")
set(CPACK_COMPONENT_PYTHON_DESCRIPTION
  "INtime iwin32 API for Linux (Python 3 module)\n The module iwin32: the library's objects from Python, with ctypes.")

include(CPack)
