// Shared libFuzzer harness for the policy front ends: feed arbitrary bytes to a front end with
// host checks off, format every diagnostic (plain and coloured), and check the invariants the
// callers of the front end rely on. Any crash, sanitizer report or violated invariant aborts.
//
// A front end is a function from (path, text) to a plan plus diagnostics. Only TOML is fuzzed
// today. For the Lua front end, either add a second fuzz target (a .cpp calling
// run_frontend(kLua, ...), a probekit_add_fuzzer() line in standalone/CMakeLists.txt, its name
// in `fuzzers` and a probekit_fuzz_test() call in CMakeLists.txt), or give one target a mode
// byte: run_frontend(kFrontends[data[0] % std::size(kFrontends)], data + 1, size - 1).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "compiler/diag/diagnostics.h"
#include "compiler/plan/plan.h"
#include "compiler/sema/context.h"
#include "compiler/sema/sema.h"

namespace probe::fuzz {

using AnalyzeFn = std::optional<plan::Plan> (*)(const std::string& path, std::string text,
                                                const SemaOptions& options, Diagnostics& diags);

struct Frontend {
  const char* name;  // for messages
  // The name the input gets (diagnostics; the extension may select the parser). It lies under
  // /dev/null, which is not a directory, so paths relative to the policy (includes, handler
  // scripts) never reach a real file, wherever the fuzzer runs.
  const char* path;
  AnalyzeFn analyze;
};

inline constexpr Frontend kToml{"toml", "/dev/null/fuzz.toml", &analyze_policy_text};
// analyze_policy_text picks the Lua front end by the .lua extension.
inline constexpr Frontend kLua{"lua", "/dev/null/fuzz.lua", &analyze_policy_text};

[[noreturn]] inline void fail(const Frontend& fe, const char* what, const Diagnostics& diags) {
  std::fprintf(stderr, "fuzz(%s): invariant violated: %s\n%s", fe.name, what,
               diags.format().c_str());
  std::abort();
}

// PROBEKIT_FUZZ_PRINT=1 prints the diagnostics of every input, for reproducing a finding:
//   PROBEKIT_FUZZ_PRINT=1 policy_frontend_fuzzer tests/fuzz/crashes/<name>
inline bool print_diagnostics() {
  static const bool on = [] {
    const char* v = std::getenv("PROBEKIT_FUZZ_PRINT");
    return v && *v && *v != '0';
  }();
  return on;
}

inline void run_frontend(const Frontend& fe, const uint8_t* data, size_t size) {
  SemaOptions options;
  options.check_host = false;  // never touch the file system for libraries or tracepoints
  Diagnostics diags;
  std::string text(reinterpret_cast<const char*>(data), size);
  std::optional<plan::Plan> plan = fe.analyze(fe.path, std::move(text), options, diags);

  std::string plain = diags.format();
  std::string colored = diags.format(/*color=*/true);
  if (print_diagnostics())
    std::fprintf(stderr, "fuzz(%s): %s, %zu error(s), %zu warning(s)\n%s", fe.name,
                 plan ? "plan" : "no plan", diags.error_count(), diags.warning_count(),
                 plain.c_str());

  // A plan is returned exactly when there are no errors; every diagnostic prints something.
  if (plan && diags.has_errors()) fail(fe, "plan returned together with errors", diags);
  if (!plan && !diags.has_errors()) fail(fe, "no plan but no error either", diags);
  if (!diags.all().empty() && (plain.empty() || colored.empty()))
    fail(fe, "diagnostics formatted to nothing", diags);
  if (diags.error_count() + diags.warning_count() != diags.all().size())
    fail(fe, "error and warning counts do not add up", diags);
}

}  // namespace probe::fuzz
