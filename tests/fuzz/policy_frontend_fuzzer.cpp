// libFuzzer target: the TOML policy front end (parse, semantic passes, diagnostics).
// Built by standalone/CMakeLists.txt with clang-16; run by the ctest test fuzz.policy_frontend.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_frontend.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  probe::fuzz::run_frontend(probe::fuzz::kToml, data, size);
  return 0;
}
