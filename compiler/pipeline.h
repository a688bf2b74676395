// The compile pipeline shared by probec and probed: policy → plan → BPF C + manifest →
// object (from the cache, or from a compiler the caller supplies) → artifact.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/result.h"
#include "compiler/artifact/artifact.h"
#include "compiler/artifact/build_config.h"
#include "compiler/artifact/cache.h"
#include "compiler/codegen/codegen.h"
#include "compiler/sema/sema.h"

namespace probe {

// Parses, checks and generates code; diagnostics explain any failure.
std::optional<GeneratedProgram> run_front_end(const std::string& policy_path,
                                              const SemaOptions& options, Diagnostics& diags);

using ObjectCompiler = std::function<Result<CompileOutput>(const std::string& source)>;

struct BuildReport {
  bool cache_hit = false;
  std::string cache_key;
  double ms = 0;
};

// Produces the artifact for generated code: a cache hit, or `compile` then store.
// A Clang error in generated code is an internal failure: the message carries Clang's text.
Result<Artifact> build_artifact(GeneratedProgram program, ObjectCache* cache,
                                const ObjectCompiler& compile, BuildReport* report = nullptr);

}  // namespace probe
