# ctest runs each example through this script (examples/CMakeLists.txt):
#   cmake -P run_on_private_node.cmake -- program [args...]
# with IWIN32_ROOT set to the test's own node.  It starts from an empty node,
# runs the program, and fails if the program failed or left any object in the
# node (object files start n-, h-, u- or t-: docs/DESIGN.md); then removes
# the node.
set(node "$ENV{IWIN32_ROOT}")
if(NOT node MATCHES "^/dev/shm/iwin32-example-")
  message(FATAL_ERROR "IWIN32_ROOT must be the test's own node, not '${node}'")
endif()
# The command line after "--": the program and its arguments.
set(command "")
set(after_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(after_separator)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()
if("${command}" STREQUAL "")
  message(FATAL_ERROR "usage: cmake -P run_on_private_node.cmake -- program [args...]")
endif()
list(GET command 0 PROGRAM)

file(REMOVE_RECURSE "${node}")
execute_process(COMMAND ${command} RESULT_VARIABLE result)
file(GLOB leftovers "${node}/n-*" "${node}/h-*" "${node}/u-*" "${node}/t-*")
file(REMOVE_RECURSE "${node}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} failed: ${result}")
endif()
if(leftovers)
  message(FATAL_ERROR "${PROGRAM} left objects in its node: ${leftovers}")
endif()
