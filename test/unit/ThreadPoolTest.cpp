//===- ThreadPoolTest.cpp - the runtime's worker threads ------------------===//
//
// Coverage (every item exactly once), that the worker really takes part both while it spins right after a
// job and after it has gone to sleep, serialized callers, and back-to-back tiny jobs (the decode pattern)
// hammering the lock-free hand-off.
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace xf::rt;

namespace {

/// Runs a 2-item job whose items each wait (up to 5 s) until both have started: it only finishes quickly if
/// a second thread took the other item. Returns whether both items met.
bool bothThreadsJoin(ThreadPool &pool) {
  std::atomic<int> started{0};
  std::atomic<bool> met{true};
  pool.parallelFor(2, 1, [&](int64_t, int64_t) {
    ++started;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (started.load() < 2)
      if (std::chrono::steady_clock::now() > deadline) {
        met = false;
        return;
      }
  });
  return met.load();
}

TEST(ThreadPoolTest, CoversEveryItemOnce) {
  ThreadPool pool(2);
  for (int64_t count : {1, 2, 3, 17, 1000})
    for (int64_t chunk : {1, 4, 64}) {
      std::vector<std::atomic<int>> hits(count);
      pool.parallelFor(count, chunk, [&](int64_t begin, int64_t end) {
        ASSERT_LE(end - begin, chunk);
        for (int64_t i = begin; i < end; ++i)
          ++hits[i];
      });
      for (int64_t i = 0; i < count; ++i)
        ASSERT_EQ(hits[i].load(), 1) << "count " << count << " chunk " << chunk << " item " << i;
    }
}

// Right after a job the worker spins (ThreadPool::kSpinMicros) and takes the next one without a wake-up;
// after a longer pause it sleeps and must be woken. Both paths must hand it the job.
TEST(ThreadPoolTest, WorkerJoinsWhileSpinningAndAfterSleeping) {
  ThreadPool pool(2);
  for (int round = 0; round < 20; ++round)
    ASSERT_TRUE(bothThreadsJoin(pool)) << "back-to-back, round " << round;
  for (int round = 0; round < 5; ++round) {
    std::this_thread::sleep_for(std::chrono::microseconds(20 * ThreadPool::kSpinMicros));
    ASSERT_TRUE(bothThreadsJoin(pool)) << "after a sleep, round " << round;
  }
}

TEST(ThreadPoolTest, ManyTinyJobsBackToBack) {
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  for (int call = 0; call < 20000; ++call)
    pool.parallelFor(4, 1, [&](int64_t begin, int64_t end) { sum += end - begin; });
  EXPECT_EQ(sum.load(), 4 * 20000);
}

TEST(ThreadPoolTest, ConcurrentCallers) {
  ThreadPool pool(2);
  std::atomic<int64_t> items[2] = {0, 0};
  auto caller = [&](int id) {
    for (int call = 0; call < 500; ++call)
      pool.parallelFor(8, 1, [&](int64_t begin, int64_t end) { items[id] += end - begin; });
  };
  std::thread a(caller, 0), b(caller, 1);
  a.join();
  b.join();
  EXPECT_EQ(items[0].load(), 500 * 8);
  EXPECT_EQ(items[1].load(), 500 * 8);
}

TEST(ThreadPoolTest, DestroyedWhileWorkersSpinOrSleep) {
  for (int i = 0; i < 50; ++i) {
    ThreadPool pool(4);
    pool.parallelFor(16, 1, [](int64_t, int64_t) {});
    if (i % 2)
      std::this_thread::sleep_for(std::chrono::microseconds(5 * ThreadPool::kSpinMicros));
  }
}

} // namespace
