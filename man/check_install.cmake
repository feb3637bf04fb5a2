cmake_minimum_required(VERSION 3.18)
# The installed man pages: `cmake --install` into a fresh prefix, then man(1)
# with MANPATH=<prefix>/<mandir> finds a page for every function iwin32.h
# declares (`man -w`), and shows it - a ".so" link page through the page it
# names - without a warning; likewise libiwin32(7) and, when the source has
# it, iwin32(1).
# Run as: cmake -DBUILD_DIR=... -DPREFIX=... -DMANDIR=... -DHEADER=... -DCC=...
#               -DSOURCE_MAN_DIR=... -DMAN=... -P check_install.cmake
foreach(v BUILD_DIR PREFIX MANDIR HEADER CC SOURCE_MAN_DIR)
  if(NOT ${v})
    message(FATAL_ERROR "check_install: ${v} is not set")
  endif()
endforeach()
if(NOT MAN)
  message("docs check skipped: man not found (apt-get install man-db groff-base)")
  return()
endif()
include(${CMAKE_CURRENT_LIST_DIR}/../cmake/header_functions.cmake)

file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "check_install: cmake --install failed:\n${out}")
endif()

# man(1) on the installed tree only.  man-db's seccomp sandbox is off: it
# kills groff in some containers, and this is a test, not a reader's shell.
set(man_env MANPATH=${PREFIX}/${MANDIR} MAN_DISABLE_SECCOMP=1 MANWIDTH=80 LC_ALL=C.UTF-8)
set(failures "")

# check_page(<section> <name> <title>): <name> is installed, `man -w` finds
# it in the prefix - as the page it links to, <title>, since man-db follows
# ".so" - and `man` shows that page, naming <name>, without a warning.
function(check_page section name title)
  set(installed ${PREFIX}/${MANDIR}/man${section})
  if(NOT EXISTS ${installed}/${name}.${section})
    set(failures ${failures} "${name}.${section}: not installed in ${installed}" PARENT_SCOPE)
    return()
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${man_env} ${MAN} -w ${section} ${name}
    RESULT_VARIABLE rc OUTPUT_VARIABLE where ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0 OR NOT where STREQUAL ${installed}/${title}.${section})
    set(failures ${failures} "man -w ${section} ${name}: '${where}' (rc ${rc}; want ${installed}/${title}.${section}) ${err}" PARENT_SCOPE)
    return()
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${man_env} ${MAN} -P cat ${section} ${name}
    RESULT_VARIABLE rc OUTPUT_VARIABLE shown ERROR_VARIABLE err ERROR_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
    set(failures ${failures} "man ${section} ${name}: rc ${rc}: ${err}" PARENT_SCOPE)
    return()
  endif()
  string(TOLOWER "${shown}" shown_lower)  # a title may be upper case: IWIN32(1)
  string(TOLOWER "${title}(${section})" heading)
  string(FIND "${shown_lower}" "${heading}" at)
  string(FIND "${shown_lower}" "\n" first_line_end)
  string(REGEX MATCH "\nNAME\n( +[^\n]*\n)+" name_section "${shown}")
  if(at LESS 0 OR at GREATER first_line_end OR NOT name_section MATCHES "[^A-Za-z0-9_]${name}[^A-Za-z0-9_]")
    string(SUBSTRING "${shown}" 0 300 head)
    set(failures ${failures} "man ${section} ${name}: not the page ${title}(${section}) naming ${name}:\n${head}" PARENT_SCOPE)
  endif()
endfunction()

# The page each function's own page shows: itself, or the target of its link.
iwin32_header_functions(${HEADER} ${CC} functions prototypes)
foreach(fn ${functions})
  set(title ${fn})
  if(EXISTS ${SOURCE_MAN_DIR}/${fn}.3)
    file(STRINGS ${SOURCE_MAN_DIR}/${fn}.3 link REGEX "^\\.so man3/")
    if(link MATCHES "^\\.so man3/(.+)\\.3$")
      set(title ${CMAKE_MATCH_1})
    endif()
  endif()
  check_page(3 ${fn} ${title})
endforeach()
check_page(7 libiwin32 libiwin32)
if(EXISTS ${SOURCE_MAN_DIR}/iwin32.1)
  check_page(1 iwin32 iwin32)
endif()

list(LENGTH functions n)
message(STATUS "installed in ${PREFIX}/${MANDIR}: ${n} functions, libiwin32(7)")
if(failures)
  list(JOIN failures "\n  " report)
  message(FATAL_ERROR "check_install:\n  ${report}")
endif()
file(REMOVE_RECURSE ${PREFIX})
