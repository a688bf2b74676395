// The HPACK dynamic table (RFC 7541 section 2.3.2 and 4): newest entry first, each entry
// costs name + value + 32 bytes, the oldest are evicted to stay within the maximum size.
//
// A capture can lose part of a header block (a buffer cut at the capture limit). Entries
// the encoder added in the lost part are unknown here, so the table then forgets everything
// and becomes `partial`: entries added afterwards are still found at the right index (they
// are the newest on both sides, and the encoder evicts the unknown older ones first), while
// an index beyond them names an entry we never saw.
#pragma once

#include <cstddef>
#include <deque>
#include <string>

namespace probe::http2 {

struct HeaderField {
  std::string name;
  std::string value;
  bool operator==(const HeaderField&) const = default;
};

class DynamicTable {
 public:
  static constexpr size_t kEntryOverhead = 32;

  explicit DynamicTable(size_t max_size) : max_size_(max_size) {}

  // Adds an entry at index 0; an entry larger than the maximum empties the table (4.4).
  void insert(HeaderField field);
  // A dynamic table size update: evicts until the table fits.
  void set_max_size(size_t max_size);
  // Entry `i` counted from the newest (0); nullptr beyond the last.
  const HeaderField* at(size_t i) const { return i < entries_.size() ? &entries_[i] : nullptr; }
  // Drops every entry because some were lost; see the file comment.
  void forget();

  size_t count() const { return entries_.size(); }
  size_t size() const { return size_; }
  size_t max_size() const { return max_size_; }
  bool partial() const { return partial_; }

 private:
  void evict_to(size_t target);

  std::deque<HeaderField> entries_;
  size_t size_ = 0;
  size_t max_size_;
  bool partial_ = false;
};

}  // namespace probe::http2
