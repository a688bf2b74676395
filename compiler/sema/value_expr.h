// Parses value expressions used by captures, lengths and filters:
//   arg0..arg5   function/kprobe argument (x86-64 register ABI)
//   ret          return value (return probes)
//   *argN        value behind an out-pointer argument, read at return (size_t *written)
//   reg.NAME     a register (ax, bx, cx, dx, si, di, bp, sp, ip, r8..r15)
//   pid tid comm cgroup ts uid gid cpu   builtins
//   args.NAME    a tracepoint field
//   NAME         another capture of the same probe (filters and lengths only)
#pragma once

#include <optional>
#include <string>

#include "compiler/plan/plan.h"

namespace probe {

struct ValueParseError {
  std::string message;
  std::string hint;
};

// Returns the reference or fills `error`. Capture names are not checked here.
std::optional<plan::ValueRef> parse_value_ref(const std::string& text, bool allow_capture,
                                              ValueParseError* error);

// Register names accepted after "reg." (kernel pt_regs spelling).
const std::vector<std::string>& register_names();

// Natural type of a builtin.
plan::FieldType builtin_type(plan::Builtin b);

}  // namespace probe
