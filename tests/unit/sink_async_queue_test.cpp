// The bounded queue every sink that writes or sends builds on: never blocks the producer,
// refuses beyond its bounds, drains on destruction within its timeout.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "runtime/sinks/async_queue.h"

namespace probe {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A consumer that blocks until released.
struct Gate {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
  void release() { open.set_value(); }
};

TEST(SinkAsyncQueue, ConsumesEverythingInOrder) {
  std::vector<int> seen;
  std::mutex mu;
  {
    QueueOptions o;
    o.max_batch = 7;
    AsyncQueue<int> q(o, {.consume = [&](std::vector<int>& b) {
                            std::lock_guard<std::mutex> lock(mu);
                            EXPECT_LE(b.size(), 7u);
                            seen.insert(seen.end(), b.begin(), b.end());
                          }});
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(q.push(i));
    EXPECT_TRUE(q.drain(5s));
    EXPECT_EQ(q.depth(), 0u);
  }
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen[i], i);
}

// A held queue wakes its worker once for a whole burst: every record of it arrives in one
// batch after release(), however slowly the producer pushed.
TEST(SinkAsyncQueue, HeldBurstIsConsumedAsOneBatch) {
  std::vector<size_t> batches;
  std::mutex mu;
  QueueOptions o;
  o.max_batch = 64;
  AsyncQueue<int> q(o, {.consume = [&](std::vector<int>& b) {
                          std::lock_guard<std::mutex> lock(mu);
                          batches.push_back(b.size());
                        }});
  q.hold();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(q.push(i));
    std::this_thread::sleep_for(2ms);  // a worker woken per push would take them one by one
  }
  q.release();
  EXPECT_TRUE(q.drain(5s));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(batches, (std::vector<size_t>{10}));
}

TEST(SinkAsyncQueue, RefusesBeyondItsBoundsWithoutBlocking) {
  Gate gate;
  std::atomic<size_t> consumed{0};
  QueueOptions o;
  o.max_items = 100;
  o.max_batch = 10;
  o.drain_timeout = 100ms;
  size_t abandoned = 0;
  size_t accepted = 0, refused = 0;
  {
    AsyncQueue<int> q(o, {.consume = [&](std::vector<int>& b) {
                            gate.opened.wait();
                            consumed += b.size();
                          },
                          .abandon = [&](size_t n) { abandoned = n; }});
    auto start = Clock::now();
    for (int i = 0; i < 100000; ++i) (q.push(i) ? accepted : refused)++;
    // 100000 pushes against a stuck consumer: each returns at once.
    EXPECT_LT(Clock::now() - start, 1s);
    EXPECT_LE(accepted, 100u + 10u);  // the queue plus the batch in the consumer's hands
    EXPECT_GE(refused, 100000u - 110u);
    EXPECT_LE(q.depth(), 110u);
    gate.release();
  }
  // Released before destruction: the drain delivered or abandoned every accepted item.
  EXPECT_EQ(consumed + abandoned, accepted);
}

TEST(SinkAsyncQueue, BoundsBytesToo) {
  Gate gate;
  QueueOptions o;
  o.max_items = 1000;
  o.max_bytes = 1000;
  o.max_batch = 1;
  AsyncQueue<std::string> q(o, {.consume = [&](std::vector<std::string>&) { gate.opened.wait(); },
                                .weigh = [](const std::string& s) { return s.size(); }});
  ASSERT_TRUE(q.push(std::string(10, 'x')));  // taken by the consumer (or queued)
  size_t accepted = 0;
  while (q.push(std::string(100, 'y'))) ++accepted;
  EXPECT_GE(accepted, 9u);
  EXPECT_LE(accepted, 10u);
  gate.release();
}

TEST(SinkAsyncQueue, DestructionDrainsThenAbandonsWhatIsLeftAtTheDeadline) {
  std::atomic<size_t> consumed{0};
  size_t abandoned = 0;
  QueueOptions o;
  o.max_batch = 1;
  o.drain_timeout = 300ms;
  auto start = Clock::now();
  {
    AsyncQueue<int> q(o, {.consume = [&](std::vector<int>& b) {
                            std::this_thread::sleep_for(50ms);  // a slow endpoint
                            consumed += b.size();
                          },
                          .abandon = [&](size_t n) { abandoned = n; }});
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(q.push(i));
  }
  auto took = Clock::now() - start;
  EXPECT_LT(took, 1s);  // bounded by the drain timeout, not by 100 * 50 ms
  EXPECT_GT(consumed.load(), 0u);
  EXPECT_GT(abandoned, 0u);
  EXPECT_EQ(consumed + abandoned, 100u);
}

TEST(SinkAsyncQueue, SleepGivesUpWhenItWouldOutlastTheDrain) {
  QueueOptions o;
  o.drain_timeout = 200ms;
  std::atomic<bool> slept_full{true};
  std::promise<void> in_consume;
  auto start = Clock::now();
  {
    AsyncQueue<int>* self = nullptr;
    AsyncQueue<int> q(o, {.consume = [&](std::vector<int>&) {
                            in_consume.set_value();
                            slept_full = self->sleep_for(10s);  // a long backoff
                          }});
    self = &q;
    q.push(1);
    in_consume.get_future().wait();
  }
  EXPECT_FALSE(slept_full);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(SinkAsyncQueue, DrainGivesUpAtItsDeadlineAndTheQueueGoesOn) {
  std::atomic<size_t> consumed{0};
  size_t abandoned = 0;
  std::atomic<bool> gave_up{false};
  QueueOptions o;
  o.max_batch = 1;
  AsyncQueue<int>* self = nullptr;
  AsyncQueue<int> q(o, {.consume = [&](std::vector<int>& b) {
                          if (!self->sleep_for(100ms)) gave_up = true;  // a slow request
                          consumed += b.size();
                        },
                        .abandon = [&](size_t n) { abandoned += n; }});
  self = &q;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(q.push(i));
  auto start = Clock::now();
  q.drain(250ms);  // the consumer gives up its waits; nothing may be left unaccounted
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_TRUE(gave_up);
  EXPECT_EQ(consumed + abandoned, 50u);  // everything accounted for when drain() returns
  EXPECT_EQ(q.depth(), 0u);
  // Afterwards the queue works as before.
  ASSERT_TRUE(q.push(99));
  EXPECT_TRUE(q.drain(2s));
  EXPECT_EQ(consumed + abandoned, 51u);
}

TEST(SinkAsyncQueue, TicksPeriodicallyAndOnRequest) {
  std::atomic<int> ticks{0};
  QueueOptions o;
  o.tick = 50ms;
  AsyncQueue<int> q(o, {.consume = [](std::vector<int>&) {}, .tick = [&] { ++ticks; }});
  std::this_thread::sleep_for(300ms);
  EXPECT_GE(ticks.load(), 3);
  int before = ticks;
  EXPECT_TRUE(q.drain(2s, true));
  EXPECT_GT(ticks.load(), before);
}

TEST(SinkAsyncQueue, BatchDelayCollectsAndDrainFlushesEarly) {
  std::vector<size_t> batches;
  std::mutex mu;
  QueueOptions o;
  o.max_batch = 100;
  o.batch_delay = 10s;
  AsyncQueue<int> q(o, {.consume = [&](std::vector<int>& b) {
                          std::lock_guard<std::mutex> lock(mu);
                          batches.push_back(b.size());
                        }});
  for (int i = 0; i < 250; ++i) q.push(i);
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(batches, (std::vector<size_t>{100, 100}));  // full batches go at once
  }
  auto start = Clock::now();
  EXPECT_TRUE(q.drain(5s));  // the partial one does not wait out the delay
  EXPECT_LT(Clock::now() - start, 2s);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(batches, (std::vector<size_t>{100, 100, 50}));
}

}  // namespace
}  // namespace probe
