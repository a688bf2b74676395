# Script mode, run by ctest: fuzzes for SECONDS from a fresh copy of the seed corpus.
#   cmake -DFUZZER=<exe> -DDICT=<file> -DSEEDS=<dir|glob>|... -DWORK_DIR=<dir> -DSECONDS=30
#         [-DSYMBOLIZER=<llvm-symbolizer>] -P run_fuzzer.cmake
# Fails on any crash, sanitizer report, leak, per-input timeout (5 s) or RSS above 2 GiB, and
# when the fuzzer did not run at all. Everything it writes stays in WORK_DIR (build tree):
#   WORK_DIR/corpus/     seeds plus what libFuzzer found this run
#   WORK_DIR/artifacts/  crash-*, leak-*, timeout-*, oom-* inputs
#   WORK_DIR/fuzz.log    the full libFuzzer output
foreach(v FUZZER DICT SEEDS WORK_DIR SECONDS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${v}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${FUZZER}")
  message(FATAL_ERROR "fuzz: ${FUZZER} does not exist; build first (cmake --build <build dir>)")
endif()

set(corpus "${WORK_DIR}/corpus")
set(artifacts "${WORK_DIR}/artifacts")
set(log "${WORK_DIR}/fuzz.log")
file(REMOVE_RECURSE "${corpus}" "${artifacts}" "${log}")
file(MAKE_DIRECTORY "${corpus}" "${artifacts}")

# Seed directories (globs expanded now); every regular file in them is a seed.
string(REPLACE "|" ";" seed_patterns "${SEEDS}")
set(seed_count 0)
set(seed_dirs_used)
foreach(pattern IN LISTS seed_patterns)
  file(GLOB dirs LIST_DIRECTORIES true "${pattern}")
  foreach(dir IN LISTS dirs)
    if(NOT IS_DIRECTORY "${dir}")
      continue()
    endif()
    list(APPEND seed_dirs_used "${dir}")
    get_filename_component(tag "${dir}" NAME)
    file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE "${dir}" "${dir}/*")
    foreach(rel IN LISTS files)
      string(MAKE_C_IDENTIFIER "${tag}/${rel}" flat)
      file(COPY_FILE "${dir}/${rel}" "${corpus}/seed_${flat}")
      math(EXPR seed_count "${seed_count} + 1")
    endforeach()
  endforeach()
endforeach()
if(seed_count EQUAL 0)
  message(FATAL_ERROR "fuzz: no seed files found in ${SEEDS}")
endif()
string(REPLACE ";" ", " shown "${seed_dirs_used}")
message(STATUS "fuzz: ${seed_count} seed files from ${shown}")

# Stack traces with function names and lines need llvm-symbolizer.
set(symbolizer "")
if(SYMBOLIZER AND EXISTS "${SYMBOLIZER}")
  set(symbolizer ":external_symbolizer_path=${SYMBOLIZER}")
endif()
if(NOT DEFINED ENV{ASAN_OPTIONS})
  set(ENV{ASAN_OPTIONS} "detect_leaks=1:symbolize=1${symbolizer}")
endif()
if(NOT DEFINED ENV{UBSAN_OPTIONS})
  set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1${symbolizer}")
endif()

set(cmd "${FUZZER}"
  -max_total_time=${SECONDS} -timeout=5 -rss_limit_mb=2048
  -dict=${DICT} -artifact_prefix=${artifacts}/ -print_final_stats=1
  "${corpus}")
string(REPLACE ";" " " shown "${cmd}")
message(STATUS "fuzz: ${shown}")
math(EXPR hard_limit "${SECONDS} + 90")
# stdin is /dev/null so nothing the front end opens can wait for a terminal.
execute_process(COMMAND ${cmd} INPUT_FILE /dev/null
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out TIMEOUT ${hard_limit})
file(WRITE "${log}" "${out}")

set(runs "")
if(out MATCHES "Done ([0-9]+) runs in ([0-9]+) second")
  set(runs "${CMAKE_MATCH_1}")
  set(secs "${CMAKE_MATCH_2}")
endif()
set(last_status "")
if(out MATCHES "#[0-9]+[ \t]+DONE[ \t]+cov: [^\n]*")
  set(last_status "${CMAKE_MATCH_0}")
endif()

file(GLOB found LIST_DIRECTORIES false "${artifacts}/*")
if(NOT rc STREQUAL "0" OR found)
  # The end of the log holds the report and stack trace. (Not split into a CMake list: the
  # output contains brackets and semicolons.)
  string(LENGTH "${out}" len)
  if(len GREATER 40000)
    math(EXPR from "${len} - 40000")
    string(SUBSTRING "${out}" ${from} -1 out)
    string(PREPEND out "[... earlier output in ${log}]\n")
  endif()
  message("${out}")
  string(REPLACE ";" "\n  " found_shown "${found}")
  message(FATAL_ERROR "fuzz: FAILED (exit ${rc}); full log ${log}\n"
                      "failing inputs (reproduce with: ${FUZZER} <file>):\n  ${found_shown}")
endif()
if(runs STREQUAL "" OR runs EQUAL 0)
  message("${out}")
  message(FATAL_ERROR "fuzz: the fuzzer did not run any input; full log ${log}")
endif()
if(secs LESS 1)
  set(secs 1)
endif()
math(EXPR rate "${runs} / ${secs}")
message(STATUS "fuzz: ${last_status}")
message(STATUS "fuzz: OK, ${runs} executions in ${secs} s (~${rate}/s), no crash, leak or timeout")
