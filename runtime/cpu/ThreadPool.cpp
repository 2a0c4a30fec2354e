//===- ThreadPool.cpp - the CPU worker threads behind an xfrt_context ------===//

#include "ThreadPool.h"

#include <algorithm>
#include <atomic>

using namespace xf::rt;

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
    for (unsigned i = 1; i < numThreads; ++i)
      workers.emplace_back([this] { workerLoop(); });
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(stateMutex);
      stopping = true;
    }
    workAvailable.notify_all();
    for (std::thread &worker : workers)
      worker.join();
    throw;
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(stateMutex);
    stopping = true;
  }
  workAvailable.notify_all();
  for (std::thread &worker : workers)
    worker.join();
}

void ThreadPool::workerLoop() {
  uint64_t lastGeneration = 0;
  std::unique_lock<std::mutex> lock(stateMutex);
  for (;;) {
    workAvailable.wait(lock, [&] { return stopping || jobGeneration != lastGeneration; });
    if (stopping)
      return;
    lastGeneration = jobGeneration;
    Job *job = currentJob;
    lock.unlock();
    job->runChunks();
    lock.lock();
    if (--workersBusy == 0)
      workersDone.notify_one();
  }
}

void ThreadPool::parallelFor(int64_t count, int64_t chunkSize, const ChunkBody &body) {
  if (count <= 0)
    return;
  chunkSize = std::max<int64_t>(chunkSize, 1);
  // One chunk, or nobody to share with: waking workers would only add latency. The range is still cut into
  // chunks, so that the body sees the same bounded ranges whatever the thread count.
  if (workers.empty() || count <= chunkSize) {
    for (int64_t begin = 0; begin < count; begin += chunkSize)
      body(begin, std::min(begin + chunkSize, count));
    return;
  }

  std::lock_guard<std::mutex> runLock(runMutex);
  Job job{count, chunkSize, body};
  {
    std::lock_guard<std::mutex> lock(stateMutex);
    currentJob = &job;
    ++jobGeneration;
    workersBusy = static_cast<unsigned>(workers.size());
  }
  workAvailable.notify_all();
  job.runChunks();
  // Every worker must have let go of `job` (it lives on this stack frame) before returning.
  std::unique_lock<std::mutex> lock(stateMutex);
  workersDone.wait(lock, [&] { return workersBusy == 0; });
  currentJob = nullptr;
}
