#include "runtime/protocols/http2/hpack_decoder.h"

#include <string>
#include <utility>

#include "runtime/protocols/http2/hpack_huffman.h"
#include "runtime/protocols/http2/hpack_tables.h"

namespace probe::http2 {
namespace {

// Under our limits no valid index, string length or table size comes near this; it keeps
// integer decoding far from overflow.
constexpr uint64_t kMaxInteger = uint64_t{1} << 24;
constexpr int kMaxContinuationShift = 28;  // 5 continuation octets

// How reading one representation ended, when it did not fail.
enum class Outcome {
  kOk,
  kTruncated,  // the input ended inside it
  kLost,       // it names a dynamic entry lost with an earlier truncated block
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  bool at_end() const { return pos_ >= in_.size(); }
  size_t remaining() const { return in_.size() - pos_; }
  uint8_t peek() const { return in_[pos_]; }  // only when !at_end()
  bool read(uint8_t& b) {
    if (at_end()) return false;
    b = in_[pos_++];
    return true;
  }
  std::span<const uint8_t> take(size_t n) {  // only when n <= remaining()
    auto s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

// RFC 7541 5.1: an integer in the low `prefix_bits` of the first octet, then 7 bits a octet.
Result<Outcome> read_integer(Reader& r, int prefix_bits, uint64_t& value) {
  uint8_t b = 0;
  if (!r.read(b)) return Outcome::kTruncated;
  const uint64_t prefix_max = (uint64_t{1} << prefix_bits) - 1;
  value = b & prefix_max;
  if (value < prefix_max) return Outcome::kOk;
  for (int shift = 0;; shift += 7) {
    if (shift > kMaxContinuationShift) return make_error("HPACK integer encoding too long");
    if (!r.read(b)) return Outcome::kTruncated;
    value += static_cast<uint64_t>(b & 0x7f) << shift;
    if (value > kMaxInteger) return make_error("HPACK integer larger than {}", kMaxInteger);
    if ((b & 0x80) == 0) return Outcome::kOk;
  }
}

// RFC 7541 5.2: a Huffman flag, a 7-bit-prefix length, then the octets.
Result<Outcome> read_string(Reader& r, size_t max_len, std::string& out) {
  if (r.at_end()) return Outcome::kTruncated;
  const bool huffman = (r.peek() & 0x80) != 0;
  uint64_t len = 0;
  PROBE_ASSIGN_OR_RETURN(Outcome o, read_integer(r, 7, len));
  if (o != Outcome::kOk) return o;
  if (len > r.remaining()) return Outcome::kTruncated;
  std::span<const uint8_t> bytes = r.take(static_cast<size_t>(len));
  out.clear();
  if (huffman) {
    PROBE_TRY(huffman_decode(bytes, out, max_len));
  } else {
    if (bytes.size() > max_len) return make_error("header string longer than {} bytes", max_len);
    out.assign(bytes.begin(), bytes.end());
  }
  return Outcome::kOk;
}

// Decodes one header block against a table; the parts of HpackDecoder::decode in order.
class BlockDecoder {
 public:
  BlockDecoder(DynamicTable& table, const HpackLimits& limits, std::span<const uint8_t> in)
      : table_(table), limits_(limits), r_(in) {}

  Result<HpackBlock> run(bool whole) {
    while (!r_.at_end()) {
      PROBE_ASSIGN_OR_RETURN(Outcome o, next());
      if (o == Outcome::kLost) block_.complete = false;
      if (o != Outcome::kTruncated) continue;
      if (whole) return make_error("header block ends inside a field");
      break;
    }
    if (!whole) {
      table_.forget();  // the missing rest of the block may have added entries
      block_.complete = false;
    }
    return std::move(block_);
  }

 private:
  Result<Outcome> next() {
    const uint8_t first = r_.peek();
    if (first & 0x80) return indexed();
    if (first & 0x40) return literal(6, /*add_to_table=*/true);
    if (first & 0x20) return size_update();
    return literal(4, /*add_to_table=*/false);  // without indexing (0000) or never (0001)
  }

  // 6.1: a whole field from either table.
  Result<Outcome> indexed() {
    uint64_t index = 0;
    PROBE_ASSIGN_OR_RETURN(Outcome o, read_integer(r_, 7, index));
    if (o != Outcome::kOk) return o;
    HeaderField field;
    PROBE_ASSIGN_OR_RETURN(o, lookup(index, field, /*name_only=*/false));
    if (o != Outcome::kOk) return o;
    PROBE_TRY(append(std::move(field)));
    return Outcome::kOk;
  }

  // 6.2: a literal value, with a literal name (index 0) or an indexed one.
  Result<Outcome> literal(int prefix_bits, bool add_to_table) {
    uint64_t index = 0;
    PROBE_ASSIGN_OR_RETURN(Outcome o, read_integer(r_, prefix_bits, index));
    if (o != Outcome::kOk) return o;
    HeaderField field;
    Outcome name = Outcome::kOk;
    if (index == 0) {
      PROBE_ASSIGN_OR_RETURN(name, read_string(r_, budget(), field.name));
    } else {
      PROBE_ASSIGN_OR_RETURN(name, lookup(index, field, /*name_only=*/true));
    }
    if (name == Outcome::kTruncated) return name;
    PROBE_ASSIGN_OR_RETURN(o, read_string(r_, budget(), field.value));
    if (o != Outcome::kOk) return o;
    if (name == Outcome::kLost) {
      // The encoder added an entry we cannot reproduce: every older index is now shifted.
      if (add_to_table) table_.forget();
      return name;
    }
    if (add_to_table) table_.insert(field);
    PROBE_TRY(append(std::move(field)));
    return Outcome::kOk;
  }

  // 6.3: only at the start of a block (4.2), and within what a peer could have allowed.
  Result<Outcome> size_update() {
    if (fields_seen_) return make_error("dynamic table size update after a header field");
    uint64_t size = 0;
    PROBE_ASSIGN_OR_RETURN(Outcome o, read_integer(r_, 5, size));
    if (o != Outcome::kOk) return o;
    if (size > limits_.table_size_cap)
      return make_error("dynamic table size update to {} exceeds the limit of {}", size,
                        limits_.table_size_cap);
    table_.set_max_size(static_cast<size_t>(size));
    return Outcome::kOk;
  }

  Result<Outcome> lookup(uint64_t index, HeaderField& field, bool name_only) {
    fields_seen_ = true;
    if (index == 0) return make_error("HPACK index 0");
    if (index <= kStaticTableSize) {
      const StaticEntry& e = static_entry(static_cast<size_t>(index));
      field.name = e.name;
      if (!name_only) field.value = e.value;
      return Outcome::kOk;
    }
    const HeaderField* e = table_.at(static_cast<size_t>(index - kStaticTableSize - 1));
    if (!e) {
      if (table_.partial()) return Outcome::kLost;
      return make_error("HPACK index {} beyond the dynamic table ({} entries)", index,
                        table_.count());
    }
    field.name = e->name;
    if (!name_only) field.value = e->value;
    return Outcome::kOk;
  }

  Status append(HeaderField field) {
    fields_seen_ = true;
    if (block_.headers.size() >= limits_.max_headers)
      return make_error("header block has more than {} fields", limits_.max_headers);
    const size_t size = field.name.size() + field.value.size() + DynamicTable::kEntryOverhead;
    if (size > budget())
      return make_error("header list larger than {} bytes", limits_.max_list_bytes);
    list_bytes_ += size;
    block_.headers.push_back(std::move(field));
    return {};
  }

  size_t budget() const { return limits_.max_list_bytes - list_bytes_; }

  DynamicTable& table_;
  const HpackLimits& limits_;
  Reader r_;
  HpackBlock block_;
  size_t list_bytes_ = 0;
  bool fields_seen_ = false;
};

}  // namespace

HpackDecoder::HpackDecoder(HpackLimits limits)
    : limits_(limits), table_(limits.initial_table_size) {}

Result<HpackBlock> HpackDecoder::decode(std::span<const uint8_t> block, bool whole) {
  return BlockDecoder(table_, limits_, block).run(whole);
}

void HpackDecoder::reset() { table_ = DynamicTable(limits_.initial_table_size); }

}  // namespace probe::http2
