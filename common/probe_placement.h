// The placement optimizer's analysis: where to put a function's uprobe so that the kernel
// emulates the probed instruction instead of single-stepping it out of line (an XOL hit costs
// 10-35x an emulated one; docs/probe-placement.md), without changing what the probe sees.
//
// Correctness comes first. A placement other than the symbol's entry is chosen only when all
// of this is shown for the exact file analysed (its build-id is in the result):
//   - the probed instruction is one the kernel emulates (common/x86_disasm.h), and starts at an
//     instruction boundary of code decoded linearly from the function's entry;
//   - the instructions skipped before it are single-stepped ones whose effects are modelled
//     (no calls, no stores through non-stack pointers, no branches: an entry probe sits at or
//     before the function's first branch; forwarded and post-call sites list the early exits
//     that bypass them), and no direct branch anywhere in the file (the whole
//     executable-code sweep, common/branch_index.h, which must decode completely) targets the
//     skipped bytes or the inside of the patched instruction; a function with indirect jumps
//     (jump tables, whose targets cannot be checked) never has its prologue skipped;
//   - every register the probe reads holds the same value there as at entry — or a value that
//     keeps the bits read: `movsxd rdx, edx` keeps the low 32 bits, so it is fine for a probe
//     reading `edx` (an int argument) and not for one reading all of `rdx`.
// Anything not shown falls back to the entry uprobe / uretprobe at the symbol, with the reason.
//
// What the runtime must do with a Placement:
//   1. Before attaching, call verify_placement() against the file it attaches to (same
//      build-id, and the exact instruction bytes at every site); on failure attach the
//      fallback placement instead (place_fallback()).
//   2. Attach each ProbeSite at its file_offset: kEntry and kReturn sites as plain uprobes,
//      kUretprobe sites as uretprobes. Several probes may resolve to the same site (e.g.
//      SSL_write and SSL_write_ex both forward to one internal function): attach it once and
//      use `covers` to know which calls it sees.
//   3. Read each argument from its own register at the entry-side site: `registers` says
//      what each holds there (at a forwarded internal function the wrappers passed them
//      through in the same registers; `kLow32Kept` registers hold the entry value in their
//      low 32 bits only).
//   4. Return placements always list an entry-side site (role kEntry): attach the probe's
//      entry program (the argument stash) there, if it has one, and pair it with the return
//      side through a per-thread stash, as for uretprobes (for Go, keyed by the goroutine: g
//      is in r14). Where `result` is set, rax at the return side is NOT the function's return
//      value: follow the recipe (e.g. SSL_read's byte count is in its stack slot).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/x86_disasm.h"

namespace probe {

class BranchIndex;
class ElfFile;

enum class PlacementKind {
  kEntryAtSymbol,              // the first instruction is emulated: probe the symbol itself
  kFirstEmulatedInstruction,   // skip single-stepped prologue instructions (endbr64, sub, mov)
  kForwardedInternalFunction,  // probe the function this wrapper and its `_ex` sibling call
  kPostCallJcc,                // return: the internal call (entry side) + the Jcc right after it
  kDispatchedReturnJcc,        // return: one site, the Jcc after the dispatched implementation's
                               // internal call, where the arguments are in callee-saved registers
  kRetSites,                   // return on every RET instruction (Go functions)
  kFallback,                   // entry uprobe / uretprobe at the symbol, as without analysis
};
const char* placement_kind_name(PlacementKind k);  // "forwarded-internal-function", ...

enum class ProbeSide { kEntry, kReturn };

struct PlacementRequest {
  // A symbol as ElfFile::find_function takes it ("SSL_write", "SSL_write@@OPENSSL_3.0.0"), or a
  // Go function name from .gopclntab ("crypto/tls.(*Conn).Write") for stripped Go binaries.
  std::string function;
  ProbeSide side = ProbeSide::kEntry;
  // Registers the entry side reads, with the width it reads: "rdx" (all 64 bits) or "edx"
  // (an int argument). For a return probe these are the arguments stashed at entry.
  std::vector<GprRef> reads;
  // May the analysis move the probe to an internal function that other callers (a sibling
  // `_ex` wrapper, internal paths such as OpenSSL's BIO_f_ssl) also reach? The probe then
  // sees those calls too (see Placement::covers).
  bool allow_forwarding = true;
  // Return side on every RET instead of a uretprobe (policy `return = "ret-sites"`). Always
  // the case for Go functions; for C it falls back when the function can leave by a jump.
  bool ret_sites = false;
  // Exported functions returning the method tables the function's internal call dispatches
  // through (policy `dispatch_tables`), and whether the probe may take its arguments at a
  // return-side site (it needs no entry time): together they allow kDispatchedReturnJcc.
  std::vector<std::string> dispatch_tables;
  bool site_args_allowed = false;
};

// Where an attach happens.
struct ProbeSite {
  enum class Role {
    kEntry,      // plain uprobe whose program plays the entry side (reads arguments, stashes)
    kReturn,     // plain uprobe whose program plays the return side (post-call Jcc, RET site)
    kUretprobe,  // uretprobe (function-return trampoline)
  };
  Role role = Role::kEntry;
  uint64_t address = 0;      // virtual address, for messages
  uint64_t file_offset = 0;  // the uprobe offset
  std::string expected_bytes;  // the instruction's bytes at file_offset, to verify at attach
  std::string instruction;     // "push r14"
  UprobeHandling handling = UprobeHandling::kSingleStep;  // of the instruction at the site
  std::string where;           // "SSL_read+0x25", "0x355a0 (no symbol)"
};
const char* site_role_name(ProbeSite::Role r);  // "entry", "return", "uretprobe"

// What a register holds at the entry-side site, compared with the function's entry.
enum class ValueState {
  kUnchanged,
  kLow32Kept,    // sign- or zero-extended in place: the low 32 bits are the entry value
  kOverwritten,
};
struct RegisterAtSite {
  Gpr reg = Gpr::kRax;
  ValueState state = ValueState::kUnchanged;
  std::string why;  // "movsxd rdx, edx at SSL_write+0x1b"
};
// Whether a probe reading `read` gets the entry value from a register in `state`.
bool read_is_preserved(const GprRef& read, ValueState state);

// How a return probe not at the function's own return gets the result (kPostCallJcc, and the
// kForwardedInternalFunction uretprobe). Recognised shape (OpenSSL 3 SSL_read/SSL_peek):
//     lea/mov rcx, [rsp+d]; call internal; test eax, eax; jle L; mov eax, [rsp+d]; L: ... ret
// so the internal function returns a status in eax (1 ok, <= 0 error) and stores the byte count
// through its 4th argument (rcx), which points at rsp+d in the wrapper's frame.
struct ReturnRecipe {
  Gpr status = Gpr::kRax;  // read 32 bits (eax) at the return-side site
  // The count is a size_t stored through the internal function's rcx argument. At a
  // post-call Jcc it is at rsp + count_rsp_offset (== the rcx stashed at the call site); at a
  // forwarded uretprobe it is at the rcx stashed at the internal function's entry.
  Gpr count_pointer_at_entry = Gpr::kRcx;
  int64_t count_rsp_offset = 0;
  std::string formula;  // "SSL_read returns eax > 0 ? (int)*(size_t *)(rsp+0) : eax"
};

// kDispatchedReturnJcc: where the function's arguments and its result are at the one site.
struct ArgumentsAtSite {
  std::array<std::optional<Gpr>, 6> args{};  // argument i (rdi, rsi, ... at entry) is in this register
  Gpr count_pointer = Gpr::kR14;             // the size_t* the byte count is stored through
  std::optional<Gpr> zero_guard;             // 0 on the probed route; other routes (peek) set it
};

struct Placement {
  PlacementKind kind = PlacementKind::kFallback;
  ProbeSide side = ProbeSide::kEntry;
  std::string file;
  std::string build_id;  // of `file`; empty if it has none (then only the bytes are checked)
  std::string function;  // as requested
  uint64_t function_address = 0;
  std::vector<ProbeSite> sites;
  // Exported functions whose calls reach the sites, and other call sites that do (addresses,
  // "0x22fa9"). For kFallback and prologue skips: the function alone.
  std::vector<std::string> covers;
  std::vector<std::string> other_callers;
  // State of the requested reads, then of the remaining ABI argument registers, at the
  // entry-side site (the wrapper's path for a forwarded function, the worse of the wrappers).
  std::vector<RegisterAtSite> registers;
  std::optional<ReturnRecipe> result;
  std::optional<ArgumentsAtSite> at_site;  // kDispatchedReturnJcc only
  std::vector<std::string> explanation;  // why this placement, one fact per line
};

// Everything the analysis reads; build it once per file and reuse it for many functions.
struct PlacementContext {
  const ElfFile& elf;
  const X86Decoder& decoder;
  const BranchIndex& branches;
};

// The instruction at virtual address `address` of the context's file, or nullopt if the
// address is not in the file or does not decode.
std::optional<X86Instruction> decode_instruction_at(const PlacementContext& ctx, uint64_t address);

// The placement for one probe. An error only if the function cannot be found or the file
// cannot be read; everything else that is not proven safe is a kFallback with the reason.
Result<Placement> place_probe(const PlacementContext& ctx, const PlacementRequest& request);

// The entry uprobe (kEntry) or uretprobe (kReturn) at the symbol itself, as probekit attaches
// without analysis. `reason` becomes the first line of the explanation.
Result<Placement> place_fallback(const PlacementContext& ctx, const PlacementRequest& request,
                                 const std::string& reason);

// Re-reads `elf` (the file being attached to): same build-id as the placement's file (when it
// has one) and exactly the expected bytes at every site.
Status verify_placement(const ElfFile& elf, const Placement& placement);

}  // namespace probe
