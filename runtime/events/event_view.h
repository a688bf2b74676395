// Zero-copy view of one ring-buffer record, decoded through the manifest's layout.
// Every offset is checked against the record size: a malformed record yields no value,
// never an out-of-bounds read.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "compiler/artifact/manifest.h"
#include "stdlib/bpf/event.h"

namespace probe {

struct BytesValue {
  std::string_view data;  // captured bytes (points into the record)
  uint32_t original = 0;  // length at the source; > data.size() when truncated
};

class EventView {
 public:
  EventView(const ProbeManifest& probe, const uint8_t* data, size_t size)
      : probe_(&probe), data_(data), size_(size) {}

  const ProbeManifest& probe() const { return *probe_; }
  const pk_event_header& header() const { return *reinterpret_cast<const pk_event_header*>(data_); }
  uint32_t pid() const { return header().pid; }
  uint32_t tid() const { return header().tid; }
  uint64_t ts_ns() const { return header().ts_ns; }
  uint64_t cgroup_id() const { return header().cgroup_id; }
  size_t size() const { return size_; }

  // Integer fields (any width, sign-extended per type). nullopt if out of bounds.
  std::optional<int64_t> integer(const FieldLayout& f) const;
  // Bytes and strings (fixed char arrays stop at the first NUL).
  std::optional<BytesValue> bytes(const FieldLayout& f) const;

 private:
  const ProbeManifest* probe_;
  const uint8_t* data_;
  size_t size_;
};

// Validates records against the manifest and makes views of them.
class EventDecoder {
 public:
  explicit EventDecoder(const Manifest& manifest) : manifest_(manifest) {}
  // A view if the record's header names a known probe and its sizes are consistent.
  std::optional<EventView> decode(const void* data, size_t size) const;

 private:
  const Manifest& manifest_;
};

}  // namespace probe
