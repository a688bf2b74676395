// Reads the BPF ring buffer: an epoll-ready fd and a consume call that hands each record to
// a callback without copying it.
#pragma once

#include <cstddef>
#include <functional>

#include "common/result.h"

struct ring_buffer;

namespace probe {

class RingReader {
 public:
  using Callback = std::function<void(const void* data, size_t size)>;

  static Result<std::unique_ptr<RingReader>> open(int map_fd, Callback cb);
  ~RingReader();
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  int epoll_fd() const;
  // Handles every record available now; returns how many.
  int consume();

 private:
  explicit RingReader(Callback cb) : cb_(std::move(cb)) {}
  static int on_record(void* ctx, void* data, size_t size);
  ring_buffer* rb_ = nullptr;
  Callback cb_;
};

}  // namespace probe
