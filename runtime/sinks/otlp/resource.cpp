#include "runtime/sinks/otlp/resource.h"

#include "common/files.h"

#include <limits.h>
#include <unistd.h>

#include <cctype>
#include <string_view>

namespace probe::otlp {
namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// Values in OTEL_RESOURCE_ATTRIBUTES are percent-encoded.
std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void set(Attributes& attrs, const std::string& key, Value v) {
  for (auto& a : attrs)
    if (a.key == key) {
      a.value = std::move(v);
      return;
    }
  attrs.push_back({key, std::move(v)});
}

}  // namespace

#ifndef PROBEKIT_VERSION
#define PROBEKIT_VERSION "unknown"
#endif

const char* probekit_version() { return PROBEKIT_VERSION; }

Result<Resource> make_resource(const std::string& service_name, const std::string& resource_attributes) {
  Resource r;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string exe = read_link("/proc/self/exe");
  set(r.attributes, "service.name", service_name.empty() ? std::string("probekit") : service_name);
  set(r.attributes, "host.name", std::string(host));
  set(r.attributes, "process.pid", static_cast<int64_t>(getpid()));
  set(r.attributes, "process.executable.name", exe.substr(exe.rfind('/') + 1));
  set(r.attributes, "process.executable.path", exe);
  set(r.attributes, "telemetry.sdk.name", std::string("probekit"));
  set(r.attributes, "telemetry.sdk.language", std::string("cpp"));
  set(r.attributes, "telemetry.sdk.version", std::string(probekit_version()));
  size_t start = 0;
  while (start < resource_attributes.size()) {
    size_t end = resource_attributes.find(',', start);
    if (end == std::string::npos) end = resource_attributes.size();
    std::string item = trim(std::string_view(resource_attributes).substr(start, end - start));
    start = end + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string::npos || trim(item.substr(0, eq)).empty())
      return make_error("resource_attributes: '{}' is not key=value", item);
    set(r.attributes, trim(item.substr(0, eq)), percent_decode(trim(item.substr(eq + 1))));
  }
  return r;
}

}  // namespace probe::otlp
