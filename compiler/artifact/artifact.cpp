#include "compiler/artifact/artifact.h"

#include <cstring>

#include "common/files.h"

namespace probe {
namespace {

constexpr char kMagic[8] = {'P', 'K', 'O', '1', '\n', 0, 0, 0};

void put_u32(std::string& out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

}  // namespace

std::string serialize_artifact(const Artifact& a) {
  std::string manifest = manifest_to_json(a.manifest);
  std::string out(kMagic, sizeof kMagic);
  put_u32(out, static_cast<uint32_t>(manifest.size()));
  put_u32(out, static_cast<uint32_t>(a.object.size()));
  out += manifest;
  out += a.object;
  return out;
}

Result<Artifact> parse_artifact(const std::string& bytes) {
  if (bytes.size() < 16 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return make_error("not a probekit artifact (bad magic)");
  uint32_t mlen = 0, olen = 0;
  std::memcpy(&mlen, bytes.data() + 8, 4);
  std::memcpy(&olen, bytes.data() + 12, 4);
  if (16ull + mlen + olen != bytes.size())
    return make_error("truncated or corrupt artifact ({} bytes, header says {})", bytes.size(),
                      16ull + mlen + olen);
  Artifact a;
  PROBE_ASSIGN_OR_RETURN(a.manifest, manifest_from_json(bytes.substr(16, mlen)));
  a.object = bytes.substr(16 + mlen, olen);
  return a;
}

Status write_artifact(const std::string& path, const Artifact& a) {
  return write_file_atomic(path, serialize_artifact(a));
}

Result<Artifact> read_artifact(const std::string& path) {
  PROBE_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  auto a = parse_artifact(bytes);
  if (!a) return make_error("{}: {}", path, a.error().message);
  return a;
}

}  // namespace probe
