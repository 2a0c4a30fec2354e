//===- ThreadPool.cpp - the CPU worker threads behind an xfrt_context ------===//

#include "ThreadPool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

using namespace xf::rt;

namespace {

/// Tells the core this is a spin-wait: frees pipeline resources for the sibling hyperthread and saves power.
inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// Polls `ready` with a pause between tries for up to ThreadPool::kSpinMicros; returns whether it held.
template <typename Ready> bool spinUntil(Ready ready) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::microseconds(ThreadPool::kSpinMicros);
  for (unsigned tries = 1;; ++tries) {
    if (ready())
      return true;
    // Reading the clock costs more than a pause; look at it every 64 tries.
    if (tries % 64 == 0 && Clock::now() >= deadline)
      return false;
    cpuRelax();
  }
}

} // namespace

struct ThreadPool::Job {
  int64_t count;
  int64_t chunkSize;
  const ChunkBody &body;
  std::atomic<int64_t> nextItem{0};

  void runChunks() {
    for (;;) {
      int64_t begin = nextItem.fetch_add(chunkSize, std::memory_order_relaxed);
      if (begin >= count)
        return;
      body(begin, std::min(begin + chunkSize, count));
    }
  }
};

ThreadPool::ThreadPool(unsigned numThreads) {
  try {
    // The generation is read here, not in the new thread: a worker that starts late must still see the
    // first job (and a stop) as new.
    for (unsigned i = 1; i < numThreads; ++i)
      workers.emplace_back([this, start = generation.load()] { workerLoop(start); });
  } catch (...) {
    stopWorkers();
    throw;
  }
}

ThreadPool::~ThreadPool() { stopWorkers(); }

void ThreadPool::stopWorkers() {
  stopping.store(true);
  generation.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(stateMutex);
  }
  workAvailable.notify_all();
  for (std::thread &worker : workers)
    worker.join();
}

uint64_t ThreadPool::awaitGeneration(uint64_t seen) {
  uint64_t current = seen;
  auto changed = [&] {
    current = generation.load();
    return current != seen || stopping.load();
  };
  if (!spinUntil(changed)) {
    std::unique_lock<std::mutex> lock(stateMutex);
    sleepingWorkers.fetch_add(1);
    workAvailable.wait(lock, changed);
    sleepingWorkers.fetch_sub(1);
  }
  return stopping.load() ? 0 : current;
}

void ThreadPool::workerLoop(uint64_t seen) {
  while ((seen = awaitGeneration(seen)) != 0) {
    busyWorkers.fetch_add(1);
    if (Job *job = currentJob.load())
      job->runChunks();
    if (busyWorkers.fetch_sub(1) == 1 && callerSleeping.load()) {
      {
        std::lock_guard<std::mutex> lock(stateMutex);
      }
      workersDone.notify_one();
    }
  }
}

void ThreadPool::parallelFor(int64_t count, int64_t chunkSize, const ChunkBody &body) {
  if (count <= 0)
    return;
  chunkSize = std::max<int64_t>(chunkSize, 1);
  // One chunk, or nobody to share with: handing off would only add latency. The range is still cut into
  // chunks, so that the body sees the same bounded ranges whatever the thread count.
  if (workers.empty() || count <= chunkSize) {
    for (int64_t begin = 0; begin < count; begin += chunkSize)
      body(begin, std::min(begin + chunkSize, count));
    return;
  }

  std::lock_guard<std::mutex> runLock(runMutex);
  Job job{count, chunkSize, body};
  currentJob.store(&job);
  generation.fetch_add(1);
  if (sleepingWorkers.load() > 0) {
    {
      // A worker between announcing itself and waiting holds stateMutex: taking it here means the notify
      // below cannot fall into that gap.
      std::lock_guard<std::mutex> lock(stateMutex);
    }
    workAvailable.notify_all();
  }
  job.runChunks();

  // Every worker must have let go of `job` (it lives on this stack frame) before returning.
  currentJob.store(nullptr);
  auto done = [&] { return busyWorkers.load() == 0; };
  if (!spinUntil(done)) {
    std::unique_lock<std::mutex> lock(stateMutex);
    callerSleeping.store(true);
    workersDone.wait(lock, done);
    callerSleeping.store(false);
  }
}
