# iwin32_header_functions(<header> <cc> <names-var> <prototypes-var>):
# the functions <header> declares, and each one's prototype (without its
# ';': it would split the list) with its whitespace normalised (see
# iwin32_normalise_c), in the same order.
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

function(iwin32_header_functions header cc names_var protos_var)
  # Preprocessed: no comments, no macros.
  execute_process(COMMAND ${cc} -E -P -x c ${header}
    OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cannot preprocess ${header}")
  endif()
  # A declaration: from an identifier to the last ')' before its ';'.
  # (No match holds a ';', so the list below splits only between matches.)
  string(REGEX MATCHALL "[A-Za-z_][^;{}#]*\\)" decls "${text}")
  set(names "")
  set(protos "")
  foreach(decl ${decls})
    if(decl MATCHES "typedef" OR NOT decl MATCHES "([A-Za-z_][A-Za-z0-9_]*)[ \t\r\n]*\\(")
      continue()
    endif()
    list(APPEND names "${CMAKE_MATCH_1}")
    iwin32_normalise_c("${decl}" proto)
    list(APPEND protos "${proto}")
  endforeach()
  list(LENGTH names n)
  if(n LESS 7)
    message(FATAL_ERROR "found only ${n} functions in ${header}: ${names}")
  endif()
  set(${names_var} "${names}" PARENT_SCOPE)
  set(${protos_var} "${protos}" PARENT_SCOPE)
endfunction()
