#include "compiler/sema/kernel_btf.h"

#include <bpf/btf.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/strings.h"

namespace probe {
namespace {

// Parsing the 5 MB kernel BTF takes tens of milliseconds: do it once per process.
struct BtfHolder {
  btf* b = nullptr;
  int err = 0;
  BtfHolder() {
    b = btf__load_vmlinux_btf();
    if (!b) err = errno;
  }
  ~BtfHolder() { btf__free(b); }
};

BtfHolder& vmlinux() {
  static BtfHolder holder;
  return holder;
}

}  // namespace

Result<std::optional<KernelFunction>> find_kernel_function(const std::string& name,
                                                          std::vector<std::string>* near) {
  BtfHolder& h = vmlinux();
  if (!h.b) return make_error("cannot read the kernel BTF ({})", std::strerror(h.err));
  int id = btf__find_by_name_kind(h.b, name.c_str(), BTF_KIND_FUNC);
  if (id <= 0) {
    if (near) {
      std::vector<std::string> names;
      uint32_t n = btf__type_cnt(h.b);
      for (uint32_t i = 1; i < n; ++i) {
        const btf_type* t = btf__type_by_id(h.b, i);
        if (btf_is_func(t)) names.emplace_back(btf__name_by_offset(h.b, t->name_off));
      }
      *near = closest_matches(name, names, 3);
    }
    return std::optional<KernelFunction>();
  }
  const btf_type* func = btf__type_by_id(h.b, static_cast<uint32_t>(id));
  const btf_type* proto = btf__type_by_id(h.b, func->type);
  KernelFunction f;
  if (!proto || !btf_is_func_proto(proto)) return std::optional<KernelFunction>(f);
  f.returns_void = proto->type == 0;
  const btf_param* p = btf_params(proto);
  for (uint16_t i = 0; i < btf_vlen(proto); ++i) f.params.emplace_back(btf__name_by_offset(h.b, p[i].name_off));
  return std::optional<KernelFunction>(f);
}

}  // namespace probe
