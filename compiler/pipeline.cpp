#include "compiler/pipeline.h"

#include <chrono>

#include "common/log.h"

namespace probe {

std::optional<GeneratedProgram> run_front_end(const std::string& policy_path,
                                              const SemaOptions& options, Diagnostics& diags) {
  auto plan = analyze_policy_file(policy_path, options, diags);
  if (!plan) return std::nullopt;
  return generate(*plan, diags);
}

Result<Artifact> build_artifact(GeneratedProgram program, ObjectCache* cache,
                                const ObjectCompiler& compile, BuildReport* report) {
  auto start = std::chrono::steady_clock::now();
  Artifact artifact;
  artifact.manifest = std::move(program.manifest);
  std::string key = object_cache_key(program.source);
  BuildReport local;
  local.cache_key = key;
  if (cache) {
    if (auto hit = cache->get(key)) {
      artifact.object = std::move(*hit);
      local.cache_hit = true;
    }
  }
  if (!local.cache_hit) {
    PROBE_ASSIGN_OR_RETURN(CompileOutput out, compile(program.source));
    if (!out.ok) return make_error("{}", explain_compile_errors(program, out.diagnostics));
    artifact.object = std::move(out.object);
    if (cache) {
      if (auto st = cache->put(key, artifact.object); !st)
        log::warn("object cache: {}", st.error().message);
    }
  }
  local.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (report) *report = local;
  return artifact;
}

}  // namespace probe
