cmake_minimum_required(VERSION 3.18)
# iwin32(1) is built on the installed headers alone, as a third-party tool
# would be: its sources include system headers, <iwin32.h>,
# <iwin32_inspect.h> and its own "cli.h" - nothing of src/ - and its
# CMakeLists.txt puts no src/ on the include path.
# Run as: cmake -DTOOLS_DIR=... -P check_tool_includes.cmake
if(NOT TOOLS_DIR)
  message(FATAL_ERROR "check_tool_includes: TOOLS_DIR is not set")
endif()
set(bad "")
file(GLOB sources ${TOOLS_DIR}/*.c ${TOOLS_DIR}/*.h)
foreach(source ${sources})
  file(STRINGS ${source} includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(line ${includes})
    if(NOT line MATCHES "\"cli\\.h\"")
      get_filename_component(name ${source} NAME)
      list(APPEND bad "${name}: ${line}")
    endif()
  endforeach()
endforeach()
file(READ ${TOOLS_DIR}/CMakeLists.txt text)
if(text MATCHES "include_directories|/src|iwin32_static|iwin32_objects")
  list(APPEND bad "CMakeLists.txt: reaches into the library's sources (src/, the static library)")
endif()
if(bad)
  list(JOIN bad "\n  " report)
  message(FATAL_ERROR "check_tool_includes: the tool uses more than the installed headers:\n  ${report}")
endif()
