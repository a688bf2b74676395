#include "compiler/plan/matchers.h"

namespace probe::plan {

const std::vector<MatcherInfo>& matchers() {
  static const std::vector<MatcherInfo> all = {
      {"http1", "proto/http1.h", "pk_match_http1", true, true,
       "HTTP/1.x request line or status line"},
      {"http1_request", "proto/http1.h", "pk_match_http1", true, false,
       "HTTP/1.x request line (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, CONNECT, TRACE)"},
      {"http1_response", "proto/http1.h", "pk_match_http1", false, true,
       "HTTP/1.x status line"},
      {"http", "tls/stream.h", "pk_stream_http", true, true,
       "HTTP/1.x and HTTP/2 on a stream probe: request heads, response heads while a request "
       "waits, HTTP/2 header blocks"},
  };
  return all;
}

const MatcherInfo* find_matcher(const std::string& name) {
  for (const auto& m : matchers())
    if (name == m.name) return &m;
  return nullptr;
}

std::vector<std::string> matcher_names() {
  std::vector<std::string> names;
  for (const auto& m : matchers()) names.emplace_back(m.name);
  return names;
}

}  // namespace probe::plan
