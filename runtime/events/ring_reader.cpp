#include "runtime/events/ring_reader.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace probe {

int RingReader::on_record(void* ctx, void* data, size_t size) {
  static_cast<RingReader*>(ctx)->cb_(data, size);
  return 0;
}

Result<std::unique_ptr<RingReader>> RingReader::open(int map_fd, Callback cb) {
  auto r = std::unique_ptr<RingReader>(new RingReader(std::move(cb)));
  r->rb_ = ring_buffer__new(map_fd, &RingReader::on_record, r.get(), nullptr);
  if (!r->rb_) return make_error("cannot open the event ring buffer: {}", std::strerror(errno));
  return r;
}

RingReader::~RingReader() { ring_buffer__free(rb_); }

int RingReader::epoll_fd() const { return ring_buffer__epoll_fd(rb_); }

int RingReader::consume() { return ring_buffer__consume(rb_); }

}  // namespace probe
