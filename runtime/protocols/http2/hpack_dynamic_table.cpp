#include "runtime/protocols/http2/hpack_dynamic_table.h"

#include <utility>

namespace probe::http2 {
namespace {

size_t entry_size(const HeaderField& f) {
  return f.name.size() + f.value.size() + DynamicTable::kEntryOverhead;
}

}  // namespace

void DynamicTable::evict_to(size_t target) {
  while (size_ > target && !entries_.empty()) {
    size_ -= entry_size(entries_.back());
    entries_.pop_back();
  }
}

void DynamicTable::insert(HeaderField field) {
  size_t need = entry_size(field);
  if (need > max_size_) {
    evict_to(0);
    return;
  }
  evict_to(max_size_ - need);
  size_ += need;
  entries_.push_front(std::move(field));
}

void DynamicTable::set_max_size(size_t max_size) {
  max_size_ = max_size;
  evict_to(max_size_);
}

void DynamicTable::forget() {
  entries_.clear();
  size_ = 0;
  partial_ = true;
}

}  // namespace probe::http2
