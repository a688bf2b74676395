// An artifact (.pko) is what `probec compile` writes and `probed run --artifact` loads:
// a manifest (JSON) and a BPF ELF object, in one file.
#pragma once

#include <string>

#include "common/result.h"
#include "compiler/artifact/manifest.h"

namespace probe {

struct Artifact {
  Manifest manifest;
  std::string object;  // BPF ELF
};

std::string serialize_artifact(const Artifact& a);
Result<Artifact> parse_artifact(const std::string& bytes);
Status write_artifact(const std::string& path, const Artifact& a);
Result<Artifact> read_artifact(const std::string& path);

}  // namespace probe
