cmake_minimum_required(VERSION 3.18)
# src/hot.h: the shared library's two fast-path sections each start a page
# and fit in it, so that a waiter's wake and a waker's Set or Release touch
# one page of the library's code each.  Fails when one outgrows its page
# (then move something out of it) or when cmake/hot_text.ld was not applied;
# and when the pin's fast path (src/hazard.h) exists as a function of its
# own: it is meant to be inlined into each short call, and GCC once made it
# an out-of-line call unnoticed (a sixth of an uncontended mutex pair).
# Run as: cmake -DLIB=... -DOBJDUMP=... -DNM=... -P check_hot_text.cmake
foreach(v LIB OBJDUMP NM)
  if(NOT ${v})
    message(FATAL_ERROR "check_hot_text: ${v} is not set")
  endif()
endforeach()
execute_process(COMMAND ${OBJDUMP} -h ${LIB} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "check_hot_text: ${OBJDUMP} -h failed on ${LIB}")
endif()
set(page 4096)
foreach(section .text.iwin32_wait .text.iwin32_signal)
  string(REPLACE "." "\\." pattern "${section}")
  if(NOT out MATCHES " ${pattern} +([0-9a-f]+) +([0-9a-f]+) ")
    message(FATAL_ERROR "check_hot_text: ${LIB} has no section ${section} (cmake/hot_text.ld not applied?)")
  endif()
  math(EXPR size "0x${CMAKE_MATCH_1}")
  math(EXPR offset_in_page "0x${CMAKE_MATCH_2} % ${page}")
  if(size EQUAL 0 OR size GREATER page OR NOT offset_in_page EQUAL 0)
    message(FATAL_ERROR "check_hot_text: ${section} is ${size} bytes at page offset ${offset_in_page}: "
      "it must be 1..${page} bytes starting a page")
  endif()
  message(STATUS "${section}: ${size} bytes, page-aligned")
endforeach()
execute_process(COMMAND ${NM} ${LIB} OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "check_hot_text: ${NM} failed on ${LIB}")
endif()
if(syms MATCHES "iw_hazard_pin_found")
  message(FATAL_ERROR "check_hot_text: iw_hazard_pin_found is out of line in ${LIB}: the pin must be inlined")
endif()
