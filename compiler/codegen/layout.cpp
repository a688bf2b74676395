#include "compiler/codegen/layout.h"

#include <algorithm>

namespace probe {
namespace {

uint32_t align_to(uint32_t v, uint32_t a) { return (v + a - 1) / a * a; }

// Strings from builtins (comm) are fixed arrays; strings read through a pointer vary.
bool is_fixed_string(const plan::Capture& c) {
  return c.type == plan::FieldType::kString && c.value.source == plan::ValueRef::Source::kBuiltin;
}

}  // namespace

ProbeLayout layout_probe(const plan::Probe& probe) {
  ProbeLayout out;
  uint32_t off = kEventHeaderSize;
  int var_index = 0;
  // Fixed fields first, largest alignment first, so the record has no interior padding
  // beyond what alignment needs; variable fields follow in capture order.
  std::vector<const plan::Capture*> fixed;
  for (const auto& c : probe.captures)
    if (!plan::is_variable(c.type) || is_fixed_string(c)) fixed.push_back(&c);
  std::stable_sort(fixed.begin(), fixed.end(), [](const auto* a, const auto* b) {
    auto size = [](const plan::Capture* c) { return is_fixed_string(*c) ? 1u : plan::scalar_size(c->type); };
    return size(a) > size(b);
  });
  std::vector<FieldLayout> by_name;
  for (const auto* c : fixed) {
    FieldLayout f;
    f.name = c->name;
    f.type = c->type;
    f.size = is_fixed_string(*c) ? c->max : plan::scalar_size(c->type);
    off = align_to(off, is_fixed_string(*c) ? 1 : f.size);
    f.offset = off;
    off += f.size;
    by_name.push_back(f);
  }
  out.fixed_size = align_to(off, 8);
  uint32_t max = out.fixed_size;
  for (const auto& c : probe.captures) {
    if (!plan::is_variable(c.type) || is_fixed_string(c)) continue;
    FieldLayout f;
    f.name = c.name;
    f.type = c.type;
    f.var_index = var_index++;
    f.max = c.max;
    max = align_to(max + 8 + c.max, 8);
    by_name.push_back(f);
  }
  // Report fields in the order the policy declared them.
  for (const auto& c : probe.captures)
    for (const auto& f : by_name)
      if (f.name == c.name) out.fields.push_back(f);
  out.max_size = max;
  return out;
}

uint32_t event_max_for(const std::vector<ProbeLayout>& layouts) {
  uint32_t need = 256;
  for (const auto& l : layouts) need = std::max(need, l.max_size);
  uint32_t p = 256;
  while (p < need) p <<= 1;
  return p;
}

}  // namespace probe
