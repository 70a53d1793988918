# write_if_changed(<file> <content>): writes only when the content differs, so a regeneration
# that produces the same source recompiles nothing. Included by the -P scripts that generate
# sources (embed_files.cmake, build_web.cmake).
function(write_if_changed file content)
  set(current "")
  if(EXISTS "${file}")
    file(READ "${file}" current)
  endif()
  if(NOT current STREQUAL content)
    file(WRITE "${file}" "${content}")
  endif()
endfunction()
