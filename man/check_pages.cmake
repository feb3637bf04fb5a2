cmake_minimum_required(VERSION 3.18)
# The man pages in the source tree:
#  - every function iwin32.h declares has a section-3 page of its name,
#    either the page documenting it or a ".so man3/<page>.3" link to it;
#  - that page's NAME lists the function and its SYNOPSIS shows the
#    header's prototype (as rendered, whitespace aside);
#  - every page renders without a warning (groff -ww, and mandoc -T lint
#    where installed), has the sections a man page of its kind needs, and
#    refers only to pages of this library that exist.
# Run as: cmake -DHEADER=... -DCC=... -DMAN_DIR=... -DGROFF=... [-DMANDOC=...] -P check_pages.cmake
foreach(v HEADER CC MAN_DIR)
  if(NOT ${v})
    message(FATAL_ERROR "check_pages: ${v} is not set")
  endif()
endforeach()
if(NOT GROFF)
  message("docs check skipped: groff not found (apt-get install groff-base)")
  return()
endif()
include(${CMAKE_CURRENT_LIST_DIR}/../cmake/header_functions.cmake)

set(failures "")
macro(fail text)
  list(APPEND failures "${text}")
endmacro()

# ".so man3/X.3" -> X.3 in link_target, or "" for a page with its own text.
function(link_target page out)
  file(STRINGS ${MAN_DIR}/${page} first LIMIT_COUNT 1 REGEX "^[^.]|^\\.[^\\\\]")
  if(first MATCHES "^\\.so man[0-9]/([^ ]+)$")
    set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

# ---- every page: renders cleanly, has its sections, refers to real pages ----
file(GLOB pages RELATIVE ${MAN_DIR} ${MAN_DIR}/*.[137])
foreach(page ${pages})
  link_target(${page} target)
  if(target)
    if(NOT EXISTS ${MAN_DIR}/${target})
      fail("${page}: links to ${target}, which does not exist")
    else()
      link_target(${target} chained)
      if(chained)
        fail("${page}: links to ${target}, itself a link")
      endif()
    endif()
    continue()  # rendered through its target
  endif()

  execute_process(COMMAND ${GROFF} -man -Tutf8 -ww -z ${MAN_DIR}/${page}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0 OR NOT "${out}${err}" STREQUAL "")
    fail("${page}: groff -ww: ${out}${err}")
  endif()
  if(MANDOC)
    execute_process(COMMAND ${MANDOC} -T lint -W warning ${MAN_DIR}/${page}
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
      OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0 OR NOT "${out}${err}" STREQUAL "")
      fail("${page}: mandoc -T lint: ${out}${err}")
    endif()
  endif()

  file(READ ${MAN_DIR}/${page} text)
  set(needed NAME SYNOPSIS DESCRIPTION "SEE ALSO")
  if(page MATCHES "\\.3$")
    list(APPEND needed "RETURN VALUE" ERRORS)
  endif()
  foreach(section ${needed})
    if(NOT text MATCHES "\n\\.SH \"?${section}\"?\n")
      fail("${page}: no ${section} section")
    endif()
  endforeach()

  # References to this library's pages (Rt*, CloseHandle, the last error,
  # iwin32*, libiwin32) must name pages that exist here.
  set(ours "(Rt[A-Za-z]+|CloseHandle|[GS]etLastError|iwin32[A-Za-z]*|libiwin32)\"? \\(([37])\\)")
  string(REGEX MATCHALL "${ours}" refs "${text}")
  foreach(ref ${refs})
    string(REGEX MATCH "${ours}" ref "${ref}")
    if(NOT EXISTS ${MAN_DIR}/${CMAKE_MATCH_1}.${CMAKE_MATCH_2})
      fail("${page}: refers to ${CMAKE_MATCH_1}(${CMAKE_MATCH_2}), which has no page")
    endif()
  endforeach()
endforeach()

# ---- every function of the header: its page, NAME and SYNOPSIS ---------------
iwin32_header_functions(${HEADER} ${CC} functions prototypes)
list(LENGTH functions n)
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  list(GET functions ${i} fn)
  list(GET prototypes ${i} proto)
  if(NOT EXISTS ${MAN_DIR}/${fn}.3)
    fail("${fn}: no page ${fn}.3")
    continue()
  endif()
  link_target(${fn}.3 page)
  if(NOT page)
    set(page ${fn}.3)
  elseif(NOT EXISTS ${MAN_DIR}/${page})
    continue()  # reported above
  endif()

  file(READ ${MAN_DIR}/${page} text)
  # NAME: the lines after ".SH NAME" up to the next request.
  string(REGEX MATCH "\n\\.SH NAME\n[^\n]*(\n[^.\n][^\n]*)*" name_section "${text}")
  if(NOT name_section MATCHES "[^A-Za-z0-9_]${fn}([^A-Za-z0-9_]|$)")
    fail("${fn}: not in the NAME section of ${page}")
  endif()

  execute_process(COMMAND ${GROFF} -man -Tascii -P-c -P-b -P-u ${MAN_DIR}/${page}
    RESULT_VARIABLE rc OUTPUT_VARIABLE rendered ERROR_QUIET)
  iwin32_normalise_c("${rendered}" rendered)
  string(FIND "${rendered}" "${proto};" at)
  if(at LESS 0)
    fail("${fn}: ${page} does not show the header's prototype: ${proto};")
  endif()
endforeach()

list(LENGTH pages npages)
message(STATUS "${npages} pages; ${n} functions: ${functions}")
if(failures)
  list(JOIN failures "\n  " report)
  message(FATAL_ERROR "check_pages:\n  ${report}")
endif()
