// The dispatched-return analysis (common/probe_placement.h, kDispatchedReturnJcc): one uprobe
// per call, where a return probe sees its arguments and its result together.
//
// OpenSSL's SSL_read calls an internal function that dispatches through the SSL object's method
// table (s->method->ssl_read); every TLS method's slot holds one implementation, which (after
// a tail jump that adds a `peek = 0` argument) calls the record layer indirectly and then tests
// the status with a Jcc. The implementation keeps its arguments in callee-saved registers
// across that call because it may call again: at the Jcc the status is in eax and the
// object, the buffer and the count pointer are all in registers. One emulated hit replaces
// the entry and return hits of the post-call placement.
//
// What is shown, for the exact file, before the site is used:
//   - the wrapper's internal function ends in an indirect transfer through [reg + D], passing
//     its arguments on in the same registers (straight-line path);
//   - every table named by the policy (exported accessors `lea rax, [rip+T]; ret`) that this
//     file has holds the same function F at T + D (relocations read for PIC files);
//   - F, straight-line, tail-jumps to its body G (or is it), tracking register moves and
//     constants; G's straight-line path reaches an indirect call followed, with no write to
//     the registers the probe reads, by an emulated Jcc; detours taken on the way (conditional
//     exits) rejoin the path with those registers untouched (calls preserve callee-saved ones);
//   - the file-wide branch sweep shows no other direct branch into G's path up to the site,
//     and every other direct jump to G's entry comes right after setting G's guard argument
//     to a non-zero constant (SSL_peek's route: `mov ecx, 1; jmp G`), which the probe checks.
// Not seen: a read the implementation retries internally after a renegotiation handshake
// (the first attempt's status is -1 at the site; the retry's result is not probed).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "common/probe_placement.h"
#include "common/result.h"
#include "common/x86_disasm.h"

namespace probe {

// What a register holds relative to the dispatched implementation F's entry.
struct TrackedValue {
  enum class Kind { kUnknown, kArgument, kConstant };
  Kind kind = Kind::kUnknown;
  int argument = 0;   // kArgument: F's argument index (rdi 0, rsi 1, rdx 2, rcx 3, r8 4, r9 5)
  int width = 8;      // kArgument: bytes of it the register holds (4: the low half only)
  int64_t value = 0;  // kConstant
};

struct DispatchedSite {
  X86Instruction jcc;                             // the site
  uint64_t internal = 0;                          // the wrapper's internal function
  uint64_t slot_offset = 0;                       // D
  uint64_t implementation = 0;                    // F
  uint64_t body = 0;                              // G (F itself when F does not tail-jump)
  std::array<TrackedValue, kGprCount> at_site{};  // registers at the Jcc, relative to F's entry
  std::optional<Gpr> zero_guard;                  // a register F set to 0 that still holds it
  std::vector<std::string> explanation;

  // The callee-saved register holding F's argument `index` (at least `width` bytes of it) at
  // the site.
  std::optional<Gpr> holder(int index, int width) const;
};

// From the wrapper's internal function at `internal` to the site. An error says why not.
Result<DispatchedSite> find_dispatched_site(const PlacementContext& ctx, uint64_t internal,
                                            const std::vector<std::string>& tables);

}  // namespace probe
