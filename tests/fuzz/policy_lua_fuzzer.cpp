// libFuzzer target: the Lua policy front end (sandboxed script, table conversion with source
// locations, semantic passes, diagnostics). Run by the ctest test fuzz.policy_lua.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_frontend.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  probe::fuzz::run_frontend(probe::fuzz::kLua, data, size);
  return 0;
}
