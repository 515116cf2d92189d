# The generated docs: docs/PAGE.md must be `tafeld schema --markdown PAGE`.
#   cmake -DTAFELD=path/to/tafeld -DSRC=repo [-DOUT=dir] -P docs_generated.cmake
# checks (the docs_generated test: a diff and the fix on failure);
#   cmake -DTAFELD=... -DSRC=... -DWRITE=ON -P docs_generated.cmake
# writes them (the gen-docs target, scripts/gen-docs.sh).
set(pages data-model permissions)
set(stale "")
foreach(page ${pages})
  execute_process(COMMAND ${TAFELD} schema --markdown ${page}
                  OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${TAFELD} schema --markdown ${page} failed (${rc})")
  endif()
  set(committed_file ${SRC}/docs/${page}.md)
  if(WRITE)
    file(WRITE ${committed_file} "${generated}")
    message(STATUS "wrote ${committed_file}")
    continue()
  endif()
  set(committed "")
  if(EXISTS ${committed_file})
    file(READ ${committed_file} committed)
  endif()
  if(NOT committed STREQUAL generated)
    file(MAKE_DIRECTORY ${OUT})
    file(WRITE ${OUT}/${page}.md "${generated}")
    execute_process(COMMAND diff -u ${committed_file} ${OUT}/${page}.md)
    list(APPEND stale docs/${page}.md)
  endif()
endforeach()
if(stale)
  message(FATAL_ERROR "${stale} differ from the schema table (protocol/schema.c). "
                      "Regenerate them with scripts/gen-docs.sh (or: cmake --build BUILD "
                      "--target gen-docs) and commit the result.")
endif()
