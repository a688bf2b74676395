// Protocol matchers the policy can name with `match = "..."`. Each is a function in a header
// under stdlib/bpf/proto/ that returns PK_MATCH_REQUEST, PK_MATCH_RESPONSE or PK_MATCH_NONE.
#pragma once

#include <string>
#include <vector>

namespace probe::plan {

struct MatcherInfo {
  const char* name;      // as written in policies
  const char* header;    // include path inside the embedded stdlib
  const char* function;  // C function: int f(const __u8 *head, __u32 n)
  bool requests;         // accepts PK_MATCH_REQUEST
  bool responses;        // accepts PK_MATCH_RESPONSE
  const char* description;
};

const std::vector<MatcherInfo>& matchers();
const MatcherInfo* find_matcher(const std::string& name);
std::vector<std::string> matcher_names();

}  // namespace probe::plan
