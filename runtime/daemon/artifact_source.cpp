#include "runtime/daemon/artifact_source.h"

#include <unistd.h>

#include <cstdlib>

#include <fmt/ranges.h>

#include "common/subprocess.h"
#include "compiler/pipeline.h"

namespace probe {
namespace {

Result<std::string> find_probec(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* env = std::getenv("PROBEKIT_PROBEC"); env && *env) return std::string(env);
  // Installed side by side, or both in the build tree.
  std::vector<std::string> tried;
  for (const char* rel : {"/probec", "/../compiler/cli/probec"}) {
    std::string p = self_exe_dir() + rel;
    if (access(p.c_str(), X_OK) == 0) return p;
    tried.push_back(p);
  }
  return make_error("cannot find the compiler probec (looked for {}); set --probec or "
                    "PROBEKIT_PROBEC", fmt::format("{}", fmt::join(tried, ", ")));
}

}  // namespace

Result<ArtifactOutcome> obtain_artifact(const ArtifactRequest& req) {
  ArtifactOutcome out;
  if (!req.artifact.empty()) {
    PROBE_ASSIGN_OR_RETURN(out.artifact, read_artifact(req.artifact));
    return out;
  }
  Diagnostics diags;
  auto program = run_front_end(req.policy, SemaOptions{}, diags);
  std::string text = diags.format(isatty(2));
  if (!program) return make_error("{}policy {} has errors", text, req.policy);
  if (!text.empty()) fputs(text.c_str(), stderr);

  PROBE_ASSIGN_OR_RETURN(std::string probec, find_probec(req.probec));
  ObjectCache cache(req.cache_dir.empty() ? ObjectCache::default_dir() : req.cache_dir);
  BuildReport report;
  auto compile = [&](const std::string& source) -> Result<CompileOutput> {
    PROBE_ASSIGN_OR_RETURN(ProcessOutput p, run_process({probec, "cc"}, source));
    CompileOutput c;
    c.ok = p.exit_code == 0;
    c.object = std::move(p.out);
    c.diagnostics = std::move(p.err);
    if (p.exit_code > 1 && p.exit_code != 0)
      return make_error("the compiler ({}) failed with status {}: {}", probec, p.exit_code, c.diagnostics);
    return c;
  };
  PROBE_ASSIGN_OR_RETURN(out.artifact, build_artifact(std::move(*program), req.use_cache ? &cache : nullptr,
                                                      compile, &report));
  out.cache_hit = report.cache_hit;
  out.ms = report.ms;
  return out;
}

}  // namespace probe
