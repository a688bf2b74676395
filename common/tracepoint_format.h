// Reads a tracepoint's record layout from tracefs (events/<category>/<name>/format).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace probe {

struct TracepointField {
  std::string name;
  std::string type;     // C type as tracefs prints it: "const char *", "pid_t", "char[16]"
  uint32_t offset = 0;
  uint32_t size = 0;
  bool is_signed = false;
  bool data_loc = false;  // __data_loc: a u32 (len << 16 | offset) pointing into the record
  bool pointer = false;   // the value is a pointer
  uint32_t array_len = 0; // char comm[16] → 16
};

struct TracepointFormat {
  std::string category, name;
  uint32_t id = 0;
  std::vector<TracepointField> fields;  // without the common_* header fields
  const TracepointField* field(const std::string& n) const;
};

Result<TracepointFormat> parse_tracepoint_format(const std::string& text);
// Reads <tracefs>/events/<category>/<name>/format (mounting tracefs if needed).
Result<TracepointFormat> read_tracepoint_format(const std::string& category, const std::string& name);

}  // namespace probe
