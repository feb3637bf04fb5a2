"""Where the library is.  cmake --install replaces this file with one that
records the installed libiwin32's absolute path; from a source tree or a pip
install it stays None and _library searches (IWIN32_LIBRARY, the linker)."""
LIBRARY_PATH = None
