// Where each user-space function probe of a manifest attaches in one file: the placement
// optimizer's answer (common/probe_placement.h) turned into attachable sites, with probes
// that would share a site merged or kept apart. Used by probed when it attaches and by
// `probec explain POLICY`, so both say the same thing.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/probe_placement.h"
#include "common/result.h"
#include "compiler/artifact/manifest.h"

namespace probe {

class BranchIndex;
class ElfFile;
class X86Decoder;

// How a return-side site finds the function's result (mirrors enum pk_ret_kind in base.h).
enum class ResultRecipe : uint32_t { kRax = 0, kCountAtRsp = 1, kCountViaEntryRcx = 2, kAtSite = 3 };
constexpr uint8_t kNoRegister = 0xff;  // PK_NO_REG

struct PlannedSite {
  uint64_t file_offset = 0;
  ProbeSite::Role role = ProbeSite::Role::kEntry;
  ResultRecipe recipe = ResultRecipe::kRax;
  int32_t rsp_offset = 0;
  // kAtSite: the register (common/x86_disasm.h Gpr number) holding each argument, the count
  // pointer, and the register that is 0 on the probed route (kNoRegister: none).
  std::array<uint8_t, 6> arg_regs{kNoRegister, kNoRegister, kNoRegister, kNoRegister, kNoRegister, kNoRegister};
  uint8_t count_reg = kNoRegister;
  uint8_t zero_reg = kNoRegister;
  std::string describe;  // "SSL_read+0x25 `jle 0x3545a` (emulated)"
};

struct ProbePlan {
  const ProbeManifest* probe = nullptr;
  Placement placement;             // the analysis' full answer (sites, explanation)
  std::vector<PlannedSite> sites;  // what to attach; empty when covered_by is set
  std::string covered_by;          // a probe with the same handler and fields whose sites see these calls
  std::string summary() const;     // "post-call-jcc: entry SSL_read+0x1e `call ...` (emulated), ..."
};

// Whether the planner decides where `p` attaches (else: the symbol's entry and a uretprobe, as
// written).
bool planned_probe(const ProbeManifest& p);

class FilePlanner {
 public:
  static Result<std::unique_ptr<FilePlanner>> open(const std::string& path);
  ~FilePlanner();

  const ElfFile& elf() const { return *elf_; }
  // Plans `probes` (all planned probes of one target, in policy order) in this file. A probe
  // whose function is missing gets an error entry in `errors` (keyed by probe name).
  std::vector<ProbePlan> plan(const std::vector<const ProbeManifest*>& probes, const Manifest& manifest,
                              std::map<std::string, std::string>* errors);

 private:
  FilePlanner() = default;
  Result<Placement> place(const ProbeManifest& p, bool allow_forwarding);
  static std::vector<PlannedSite> to_sites(const Placement& pl);
  const BranchIndex& branches();

  std::unique_ptr<ElfFile> elf_;
  std::unique_ptr<X86Decoder> decoder_;
  std::unique_ptr<BranchIndex> branches_;
};

}  // namespace probe
