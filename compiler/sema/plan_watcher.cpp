// Pass: decide whether the policy needs the process watcher and read the offsets its
// programs use from tracefs. Without tracefs (or host checks) probed falls back to periodic
// rescans of /proc.
#include "compiler/sema/context.h"

namespace probe {

void plan_watcher(SemaContext& ctx) {
  bool user_space = false, selectors = false;
  for (const auto& p : ctx.plan.probes) user_space |= plan::is_user_space(p.kind);
  for (const auto& t : ctx.plan.targets) selectors |= plan::needs_pid_map(t.process);
  if (!(user_space || selectors) || !ctx.options.check_host) return;
  auto mmap = read_tracepoint_format("syscalls", "sys_enter_mmap");
  if (!mmap) return;
  const TracepointField* prot = mmap->field("prot");
  const TracepointField* fd = mmap->field("fd");
  if (!prot || !fd || prot->size != 8 || fd->size != 8) return;
  ctx.plan.watcher = {true, prot->offset, fd->offset};
}

}  // namespace probe
