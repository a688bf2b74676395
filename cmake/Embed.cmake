# probekit_embed(OUTPUT <cpp> SYMBOL <name> FILES <virtual>=<real> ...)
# Generates a C++ file that holds each file's bytes, so binaries carry the stdlib (BPF headers,
# Lua modules, policy packs) and never depend on an install path at run time.
set(PROBEKIT_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/EmbedFiles.cmake)

function(probekit_embed)
  cmake_parse_arguments(E "" "OUTPUT;SYMBOL" "FILES" ${ARGN})
  set(deps)
  foreach(pair IN LISTS E_FILES)
    string(REPLACE "=" ";" parts "${pair}")
    list(GET parts 1 real)
    list(APPEND deps "${real}")
  endforeach()
  string(REPLACE ";" "|" joined "${E_FILES}")
  add_custom_command(
    OUTPUT ${E_OUTPUT}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${E_OUTPUT} -DSYMBOL=${E_SYMBOL} "-DFILES=${joined}"
            -P ${PROBEKIT_EMBED_SCRIPT}
    DEPENDS ${deps} ${PROBEKIT_EMBED_SCRIPT}
    COMMENT "Embedding ${E_SYMBOL}"
    VERBATIM)
endfunction()
