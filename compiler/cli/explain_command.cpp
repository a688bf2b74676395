#include "compiler/cli/explain_command.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/branch_index.h"
#include "common/elf_file.h"
#include "common/ld_cache.h"
#include "common/probe_placement.h"
#include "common/strings.h"
#include "common/x86_disasm.h"
#include "compiler/cli/explain_policy.h"
#include "compiler/cli/list_command.h"

namespace probe {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitUserError = 1;
constexpr int kExitInternal = 2;

constexpr char kExplainUsage[] =
    "usage: probec explain POLICY\n"
    "         where probed would attach each function probe of the policy, and why\n"
    "       probec explain --library SPEC | --binary PATH FUNCTION [--return] [--args REGS]\n"
    "                      [--no-forwarding] [--ret-sites]\n"
    "  --return         place a return probe (default: an entry probe)\n"
    "  --args REGS      registers the probe reads, e.g. rdi,rsi,edx (edx: a 32-bit int)\n"
    "  --no-forwarding  never move the probe to an internal function shared with other callers\n"
    "  --ret-sites      return probe on every RET instead of a uretprobe (always so for Go)\n";

struct ExplainRequest {
  std::string what;  // "library" or "binary"
  std::string subject;
  PlacementRequest placement;
};

Result<std::vector<GprRef>> parse_reads(const std::string& list) {
  std::vector<GprRef> reads;
  for (const auto& word : split(list, ',')) {
    std::string name(trim(word));
    if (!name.empty() && name[0] == '%') name.erase(0, 1);
    if (name.empty()) continue;
    auto reg = parse_gpr(name);
    if (!reg) return make_error("'{}' is not a general-purpose register (rdi, esi, rdx, edx, r8, ...)", name);
    reads.push_back(*reg);
  }
  return reads;
}

Result<ExplainRequest> parse_explain_args(const std::vector<std::string>& args) {
  ExplainRequest r;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= args.size()) return make_error("{} needs a value", a);
      return args[++i];
    };
    if (a == "--library" || a == "--binary") {
      if (!r.what.empty()) return make_error("--library and --binary cannot be combined");
      r.what = a.substr(2);
      PROBE_ASSIGN_OR_RETURN(r.subject, value());
    } else if (a == "--return") {
      r.placement.side = ProbeSide::kReturn;
    } else if (a == "--args") {
      PROBE_ASSIGN_OR_RETURN(std::string list, value());
      PROBE_ASSIGN_OR_RETURN(r.placement.reads, parse_reads(list));
    } else if (a == "--no-forwarding") {
      r.placement.allow_forwarding = false;
    } else if (a == "--ret-sites") {
      r.placement.ret_sites = true;
    } else if (starts_with(a, "-")) {
      return make_error("unknown option {}", a);
    } else if (r.placement.function.empty()) {
      r.placement.function = a;
    } else {
      return make_error("unexpected argument {}", a);
    }
  }
  if (r.what.empty()) return make_error("which file? (--library SPEC or --binary PATH)");
  if (r.placement.function.empty()) return make_error("which function?");
  return r;
}

std::string hex(std::string_view bytes) {
  std::string s;
  for (size_t i = 0; i < bytes.size(); ++i)
    s += fmt::format("{}{:02x}", i ? " " : "", static_cast<uint8_t>(bytes[i]));
  return s;
}

const char* state_name(ValueState s) {
  switch (s) {
    case ValueState::kUnchanged: return "unchanged";
    case ValueState::kLow32Kept: return "low 32 bits kept";
    case ValueState::kOverwritten: return "overwritten";
  }
  return "?";
}

void print_placement(const Placement& p) {
  fmt::print("{}: {} probe -> {}\n", p.function, p.side == ProbeSide::kEntry ? "entry" : "return",
             placement_kind_name(p.kind));
  for (const auto& s : p.sites)
    fmt::print("  attach {:<9} file offset 0x{:x}  {}  `{}` [{}]  {}\n", site_role_name(s.role), s.file_offset,
               s.where, s.instruction, hex(s.expected_bytes), uprobe_handling_name(s.handling));
  std::string others = p.other_callers.empty() ? "" : "; also " + join(p.other_callers, ", ");
  fmt::print("  covers {}{}\n", join(p.covers, ", "), others);
  fmt::print("  registers at the entry side:\n");
  for (const auto& r : p.registers)
    fmt::print("    {:<4} {}{}\n", gpr_name(r.reg), state_name(r.state), r.why.empty() ? "" : " (" + r.why + ")");
  if (p.result) fmt::print("  result: {}\n", p.result->formula);
  fmt::print("  why:\n");
  for (const auto& line : p.explanation) fmt::print("    - {}\n", line);
}

// One file: build the analysis context and explain the placement there.
int explain_file(const std::string& path, const PlacementRequest& request) {
  auto elf = ElfFile::open(path);
  if (!elf) {
    fmt::print(stderr, "probec explain: {}\n", elf.error().message);
    return kExitUserError;
  }
  auto decoder = X86Decoder::create();
  if (!decoder) {
    fmt::print(stderr, "probec explain: {}\n", decoder.error().message);
    return kExitInternal;
  }
  auto branches = BranchIndex::build(*elf);
  if (!branches) {
    fmt::print(stderr, "probec explain: {}\n", branches.error().message);
    return kExitUserError;
  }
  std::string id = elf->build_id().empty() ? "no build-id" : "build-id " + elf->build_id();
  fmt::print("{} ({}; {} bytes of code swept{}{})\n", path, id, branches->bytes_swept(),
             branches->every_offset_bytes() == 0
                 ? ""
                 : fmt::format(", {} of them at every offset", branches->every_offset_bytes()),
             branches->complete() ? "" : fmt::format(", {} undecodable", branches->undecodable_bytes()));
  PlacementContext ctx{*elf, *decoder, *branches};
  auto placement = place_probe(ctx, request);
  if (!placement) {
    fmt::print(stderr, "probec explain: {}\n", placement.error().message);
    return kExitUserError;
  }
  print_placement(*placement);
  return kExitOk;
}

}  // namespace

int run_explain(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
    fmt::print("{}", kExplainUsage);
    return kExitOk;
  }
  // `probec explain POLICY`: the plan probed would make for each probe of the policy.
  if (args.size() == 1 && (ends_with(args[0], ".toml") || ends_with(args[0], ".lua"))) return explain_policy(args[0]);
  auto request = parse_explain_args(args);
  if (!request) {
    fmt::print(stderr, "probec explain: {}\n{}", request.error().message, kExplainUsage);
    return kExitUserError;
  }
  std::vector<std::string> paths;
  if (request->what == "library") {
    paths = resolve_library(request->subject);
    if (paths.empty()) {
      fmt::print(stderr, "probec explain: library '{}' not found on this machine (looked in "
                         "/etc/ld.so.cache and {})\n",
                 request->subject, join(standard_library_dirs(), ", "));
      return kExitUserError;
    }
  } else {
    auto path = locate_elf_file(request->subject);
    if (!path) {
      fmt::print(stderr, "probec explain: {}\n", path.error().message);
      return kExitUserError;
    }
    paths.push_back(*path);
  }
  int rc = kExitOk;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (i) fmt::print("\n");
    rc = std::max(rc, explain_file(paths[i], request->placement));
  }
  return rc;
}

}  // namespace probe
