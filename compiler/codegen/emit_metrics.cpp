// In-kernel aggregation: each metric is a per-CPU hash keyed by its labels. A full map sends
// the update to the one overflow series (pre-inserted by the loader) and counts it.
#include <fmt/format.h>

#include "compiler/codegen/probe_emitter.h"

namespace probe {

using plan::FieldType;
using plan::Metric;
using plan::ValueRef;

namespace {

// Index of the first "le" bound holding v, as nested comparisons (explicit buckets).
std::string explicit_index(const std::vector<int64_t>& bounds, size_t lo, size_t hi,
                           const std::string& v) {
  if (lo == hi) return std::to_string(lo);
  size_t mid = (lo + hi) / 2;
  return fmt::format("({} <= {}LL ? {} : {})", v, bounds[mid], explicit_index(bounds, lo, mid, v),
                     explicit_index(bounds, mid + 1, hi, v));
}

}  // namespace

void ProbeEmitter::emit_metric_updates() {
  for (const auto* m : metrics_) emit_metric_update(*m);
}

void ProbeEmitter::emit_metric_update(const MetricLayout& m) {
  const Metric& metric = *m.metric;
  out_.line("{{ /* metric {} */", metric.name);
  out_.indent();
  // An 8-byte aligned key buffer: labels are stored at their natural alignment.
  out_.line("__u64 kbuf[{}] = {{}};", m.key_size / 8);
  out_.line("__u8 *k = (__u8 *)kbuf;");
  for (const auto& l : m.labels) {
    const ValueRef& v = resolve(l.value);
    if (l.type == FieldType::kString) {
      if (v.source == ValueRef::Source::kBuiltin) {
        out_.line("bpf_get_current_comm(k + {}, {});", l.offset, l.size);
      } else {
        const plan::Capture* c = l.value.source == ValueRef::Source::kCapture ? capture(l.value.name) : nullptr;
        std::string src = c ? source_pointer(*c) : value(v, FieldType::kU64);
        bool kernel = c ? memory_flag(*c) : !plan::is_user_space(probe_.kind);
        out_.line("{}(k + {}, {}, (void *){});", kernel ? "bpf_probe_read_kernel_str" : "bpf_probe_read_user_str",
                  l.offset, l.size, src);
      }
      continue;
    }
    out_.line("*({} *)(k + {}) = {};", c_type(l.type), l.offset, value(l.value, l.type));
  }
  out_.line("struct pk_{}_value *v = bpf_map_lookup_elem(&{}, k);", m.map, m.map);
  out_.line("if (!v) {{");
  out_.indent();
  out_.line("__u32 zk = 0;");
  out_.line("void *zero = bpf_map_lookup_elem(&pk_zero, &zk);");
  out_.line("long err = zero ? bpf_map_update_elem(&{}, k, zero, BPF_NOEXIST) : 0;", m.map);
  // -EEXIST: another CPU inserted the same series first; anything else: the map is full.
  out_.line("if (err != 0 && err != -17) {{");
  out_.indent();
  out_.line("pk_count({}, PK_STAT_MAP_FULL);", probe_.id);
  out_.line("__builtin_memset(kbuf, 0, sizeof(kbuf));");
  out_.line("k[{}] = 1;", m.overflow_offset);
  out_.dedent();
  out_.line("}}");
  out_.line("v = bpf_map_lookup_elem(&{}, k);", m.map);
  out_.dedent();
  out_.line("}}");
  out_.line("if (v) {{");
  out_.indent();
  switch (metric.kind) {
    case Metric::Kind::kCounter: out_.line("v->count += 1;"); break;
    case Metric::Kind::kSum: out_.line("v->sum += {};", value(*metric.value, FieldType::kI64)); break;
    case Metric::Kind::kHistogram: {
      out_.line("__s64 x = {};", value(*metric.value, FieldType::kI64));
      std::string idx;
      switch (metric.buckets.kind) {
        case Metric::Buckets::Kind::kLog2: idx = "pk_log2_bucket(x)"; break;
        case Metric::Buckets::Kind::kLinear:
          idx = fmt::format("pk_linear_bucket(x, {}LL, {}LL, {})", metric.buckets.min,
                            metric.buckets.step, m.buckets - 1);
          break;
        case Metric::Buckets::Kind::kExplicit: idx = explicit_index(m.bounds, 0, m.bounds.size(), "x"); break;
      }
      out_.line("__u32 b = {};", idx);
      out_.line("if (b >= {}) b = {};", m.buckets, m.buckets - 1);
      out_.line("v->count += 1;");
      out_.line("v->sum += x;");
      out_.line("v->buckets[b] += 1;");
      break;
    }
  }
  out_.dedent();
  out_.line("}}");
  out_.dedent();
  out_.line("}}");
}

}  // namespace probe
