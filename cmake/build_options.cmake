# The warnings, -Werror and sanitizer flags of this project's builds, set
# on its own targets only: not with add_compile_options, whose flags would
# reach whatever else a parent project builds in the same directory tree.
#
# iwin32_apply_build_options(<dir>): every target built in <dir> and the
# directories below it gets them (called once, at the end of the top-level
# CMakeLists.txt, when every target exists).

set(iwin32_warnings -Wall -Wextra -Wshadow $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes>)
if(IWIN32_WERROR)
  list(APPEND iwin32_warnings -Werror)
endif()
set(iwin32_sanitize_compile "")
set(iwin32_sanitize_link "")
if(IWIN32_SANITIZE)
  set(iwin32_sanitize_compile -fsanitize=${IWIN32_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  # GCC warns (-Wtsan, optimized builds only) that TSan cannot model
  # atomic_thread_fence, which the seqlock examples rely on: a note on what
  # TSan checks, not a defect, so it stays a warning under -Werror.
  if(IWIN32_SANITIZE MATCHES "thread" AND CMAKE_C_COMPILER_ID STREQUAL "GNU")
    list(APPEND iwin32_sanitize_compile -Wno-error=tsan)
  endif()
  set(iwin32_sanitize_link -fsanitize=${IWIN32_SANITIZE})
endif()

function(iwin32_apply_build_options dir)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target ${targets})
    get_target_property(type ${target} TYPE)
    if(type MATCHES "^(EXECUTABLE|SHARED_LIBRARY|MODULE_LIBRARY|STATIC_LIBRARY|OBJECT_LIBRARY)$")
      target_compile_options(${target} PRIVATE ${iwin32_warnings} ${iwin32_sanitize_compile})
      if(type MATCHES "^(EXECUTABLE|SHARED_LIBRARY|MODULE_LIBRARY)$")
        target_link_options(${target} PRIVATE ${iwin32_sanitize_link})
      endif()
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(subdir ${subdirs})
    iwin32_apply_build_options(${subdir})
  endforeach()
endfunction()
