// A bounded queue drained by one worker thread: the building block that keeps slow transports
// (files, sockets, HTTP) off the event loop. push() never blocks: when the queue is full it
// refuses the item and the caller counts the drop, so a dead endpoint costs a bounded amount of
// memory. drain() and destruction deliver what is queued until a deadline, then abandon the
// rest (reported to abandon(), so every item is accounted for).
//
//   AsyncQueue<std::string> q(options, {.consume = [&](std::vector<std::string>& batch) {...}});
//   if (!q.push(line)) counters.dropped++;
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace probe {

struct QueueOptions {
  size_t max_items = 8192;
  size_t max_bytes = 16u << 20;  // the sum of weigh(item) over queued items
  size_t max_batch = 256;        // items handed to consume() at once
  // Wait this long for a batch to fill before consuming a partial one (0: consume at once).
  std::chrono::milliseconds batch_delay{0};
  std::chrono::milliseconds tick{0};  // period of tick() (0: never)
  std::chrono::milliseconds drain_timeout{3000};  // what destruction allows for delivery
};

template <typename T>
class AsyncQueue {
 public:
  using Clock = std::chrono::steady_clock;
  struct Handlers {
    std::function<void(std::vector<T>& batch)> consume = nullptr;  // worker thread
    std::function<void()> tick = nullptr;                 // worker thread, every options.tick
    std::function<void(size_t items)> abandon = nullptr;  // left over at a drain deadline
    std::function<size_t(const T&)> weigh = nullptr;      // bytes an item holds (default 1)
  };

  AsyncQueue(QueueOptions options, Handlers handlers)
      : options_(options), handlers_(std::move(handlers)) {
    worker_ = std::thread([this] { run(); });
  }
  ~AsyncQueue() { stop(); }
  AsyncQueue(const AsyncQueue&) = delete;
  AsyncQueue& operator=(const AsyncQueue&) = delete;

  // Never blocks; false when the queue is full or stopped (the caller counts a drop).
  bool push(T item) {
    size_t w = weigh(item);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || items_.size() >= options_.max_items || bytes_ + w > options_.max_bytes)
        return false;
      bool was_empty = items_.empty();
      bytes_ += w;
      items_.push_back(std::move(item));
      // A filling batch only needs the worker when it becomes full; a held queue waits
      // for release() unless it is full.
      if ((!was_empty || held_) && items_.size() != options_.max_batch) return true;
    }
    work_.notify_one();
    return true;
  }

  // While held, push() does not wake the worker (unless a batch fills): the event loop holds
  // its sinks while it hands them a burst of records, then release() wakes each worker once
  // for the whole burst instead of once per record.
  void hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void release() {
    bool wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = false;
      wake = !items_.empty();
    }
    if (wake) work_.notify_one();
  }

  // Items waiting plus those the worker is consuming right now.
  size_t depth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size() + in_flight_;
  }

  // Delivers everything queued so far (partial batches too) within `timeout`, with a final
  // tick() first when `with_tick`; what is still queued at the deadline is abandoned. The
  // consumer sees the deadline through deadline() and sleep_for(), so a request that would
  // outlast it gives up. The queue takes new items again afterwards. False if items were abandoned.
  bool drain(std::chrono::milliseconds timeout, bool with_tick = false) {
    std::unique_lock<std::mutex> lock(mu_);
    auto until = Clock::now() + timeout;
    deadline_ = std::min(deadline_, until);
    uint64_t want = ticks_done_ + 1 + (ticking_ ? 1 : 0);  // a tick already running is too early
    bool tick = with_tick && handlers_.tick;
    if (tick) tick_requested_ = true;
    ++draining_;
    work_.notify_all();
    sleep_cv_.notify_all();
    // A consumer may overrun the deadline by a little (a syscall in progress); allow for it.
    bool done = idle_.wait_until(lock, deadline_ + std::chrono::seconds(1), [&] {
      return worker_done_ || (items_.empty() && in_flight_ == 0 && (!tick || ticks_done_ >= want));
    });
    if (--draining_ == 0 && !stopping_) deadline_ = Clock::time_point::max();
    return done && abandoned_since(until) == 0;
  }

  // Runs tick() on the worker soon (e.g. SIGHUP asked a file to be reopened).
  void request_tick() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tick_requested_ = true;
    }
    work_.notify_one();
  }

  // When the current drain (or the shutdown) must be over; time_point::max() when none runs.
  // Consumers bound their requests by it.
  Clock::time_point deadline() const {
    std::lock_guard<std::mutex> lock(mu_);
    return deadline_;
  }
  // Sleeps on the worker for up to `d`. Returns false at once when a drain or the shutdown
  // starts and the sleep would outlast its deadline (the caller gives up instead of waiting).
  bool sleep_for(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu_);
    auto until = Clock::now() + d;
    while (Clock::now() < until) {
      if (until > deadline_) return false;
      sleep_cv_.wait_until(lock, until);
    }
    return true;
  }

  // Drains for at most drain_timeout, abandons what is left and joins the worker. Later
  // pushes are refused.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopping_) {
        stopping_ = true;
        deadline_ = std::min(deadline_, Clock::now() + options_.drain_timeout);
      }
    }
    work_.notify_all();
    sleep_cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

 private:
  bool tick_asked() const { return tick_requested_ && handlers_.tick; }
  bool has_tick() const { return options_.tick.count() > 0 && handlers_.tick; }
  size_t weigh(const T& item) const { return handlers_.weigh ? handlers_.weigh(item) : 1; }
  // How many items the worker abandoned at deadlines at or after `t` (for drain()'s result).
  size_t abandoned_since(Clock::time_point t) const { return last_abandon_ >= t ? last_abandoned_ : 0; }

  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    auto next_tick = Clock::now() + options_.tick;
    for (;;) {
      auto now = Clock::now();
      bool hurry = draining_ > 0 || stopping_;  // no waiting for batches to fill
      if ((has_tick() && now >= next_tick && !stopping_) || tick_asked()) {
        tick_requested_ = false;
        ticking_ = true;
        lock.unlock();
        handlers_.tick();
        lock.lock();
        ticking_ = false;
        ++ticks_done_;
        next_tick = Clock::now() + options_.tick;
        idle_.notify_all();
        continue;
      }
      // A held queue is left alone until release(), a full batch, a drain or the shutdown.
      if (items_.empty() || (held_ && items_.size() < options_.max_batch && !hurry)) {
        if (stopping_ && items_.empty()) break;
        auto ready = [&] {
          return (!items_.empty() && (!held_ || items_.size() >= options_.max_batch || draining_ > 0)) ||
                 stopping_ || tick_asked();
        };
        if (has_tick()) work_.wait_until(lock, next_tick, ready);
        else work_.wait(lock, ready);
        continue;
      }
      if (now >= deadline_) {
        size_t left = items_.size();
        items_.clear();
        bytes_ = 0;
        last_abandon_ = now;
        last_abandoned_ = left;
        lock.unlock();
        if (handlers_.abandon) handlers_.abandon(left);
        lock.lock();
        idle_.notify_all();
        continue;
      }
      if (items_.size() < options_.max_batch && options_.batch_delay.count() > 0 && !hurry) {
        if (!batch_started_) {
          batch_started_ = true;
          batch_due_ = now + options_.batch_delay;
        }
        if (now < batch_due_) {
          auto until = has_tick() ? std::min(batch_due_, next_tick) : batch_due_;
          work_.wait_until(lock, until, [&] {
            return items_.size() >= options_.max_batch || stopping_ || draining_ > 0 || tick_asked();
          });
          continue;
        }
      }
      batch_started_ = false;
      std::vector<T> batch;
      size_t n = std::min(items_.size(), options_.max_batch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        bytes_ -= weigh(items_.front());
        batch.push_back(std::move(items_.front()));
        items_.pop_front();
      }
      in_flight_ = n;
      lock.unlock();
      handlers_.consume(batch);
      lock.lock();
      in_flight_ = 0;
      if (items_.empty()) idle_.notify_all();
    }
    worker_done_ = true;
    idle_.notify_all();
  }

  const QueueOptions options_;
  const Handlers handlers_;
  mutable std::mutex mu_;
  std::condition_variable work_, idle_, sleep_cv_;
  std::deque<T> items_;
  size_t bytes_ = 0;
  size_t in_flight_ = 0;
  bool stopping_ = false;
  bool held_ = false;  // hold(): pushes leave the worker asleep until release()
  int draining_ = 0;  // drain() calls in progress
  bool tick_requested_ = false;
  bool batch_started_ = false;
  bool ticking_ = false;
  bool worker_done_ = false;
  uint64_t ticks_done_ = 0;
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point batch_due_{};
  Clock::time_point last_abandon_{};
  size_t last_abandoned_ = 0;
  std::thread worker_;  // last: starts after every other member exists
};

}  // namespace probe
