# iwin32_header_functions(<headers> <cc> <names-var> <prototypes-var>):
# the functions the installed headers declare, and each one's prototype
# (without its ';': it would split the list) with its whitespace normalised
# (see iwin32_normalise_c), in the same order.  <headers>: their paths,
# separated by commas (a -D value on a command line cannot hold a ';').
# Shared by man/check_pages.cmake, man/check_install.cmake and
# tests/check_exports.cmake.

# One space between tokens, none inside parentheses or before a comma:
# "HANDLE  f( DWORD a ,\n  LONG b )" -> "HANDLE f(DWORD a, LONG b)".
function(iwin32_normalise_c text out)
  string(REGEX REPLACE "[ \t\r\n]+" " " text "${text}")
  string(REGEX REPLACE " ?\\( ?" "(" text "${text}")
  string(REGEX REPLACE " ?\\)" ")" text "${text}")
  string(REPLACE " ," "," text "${text}")
  string(STRIP "${text}" text)
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

function(iwin32_header_functions headers cc names_var protos_var)
  string(REPLACE "," ";" headers "${headers}")
  set(names "")
  set(protos "")
  foreach(header ${headers})
    # Preprocessed: no comments, no macros; a header it includes (iwin32.h)
    # is scanned as its own entry, so only this file's lines are kept.
    execute_process(COMMAND ${cc} -E -x c ${header}
      OUTPUT_VARIABLE text RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "cannot preprocess ${header}")
    endif()
    iwin32_own_lines("${text}" "${header}" text)
    # A declaration: from an identifier to the last ')' before its ';'.
    # (No match holds a ';', so the list below splits only between matches.)
    string(REGEX MATCHALL "[A-Za-z_][^;{}#]*\\)" decls "${text}")
    set(count 0)
    foreach(decl ${decls})
      if(decl MATCHES "typedef" OR NOT decl MATCHES "([A-Za-z_][A-Za-z0-9_]*)[ \t\r\n]*\\(")
        continue()
      endif()
      list(APPEND names "${CMAKE_MATCH_1}")
      iwin32_normalise_c("${decl}" proto)
      list(APPEND protos "${proto}")
      math(EXPR count "${count} + 1")
    endforeach()
    if(count LESS 5)
      message(FATAL_ERROR "found only ${count} functions in ${header}")
    endif()
  endforeach()
  set(${names_var} "${names}" PARENT_SCOPE)
  set(${protos_var} "${protos}" PARENT_SCOPE)
endfunction()

# The lines of preprocessor output <text> that come from <header> itself,
# by its line markers ('# 12 "path"').
function(iwin32_own_lines text header out)
  get_filename_component(name "${header}" NAME)
  string(REPLACE ";" "\\;" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(own "")
  set(inside FALSE)
  foreach(line IN LISTS lines)
    if(line MATCHES "^# [0-9]+ \"([^\"]*)\"")
      get_filename_component(from "${CMAKE_MATCH_1}" NAME)
      if(from STREQUAL name)
        set(inside TRUE)
      else()
        set(inside FALSE)
      endif()
    elseif(inside)
      string(APPEND own "${line}\n")
    endif()
  endforeach()
  set(${out} "${own}" PARENT_SCOPE)
endfunction()
