//===- ThreadPool.h - the CPU worker threads behind an xfrt_context --------===//
//
// Persistent workers, so a kernel call pays a wake-up rather than thread creation. Work is handed out in
// chunks from one atomic counter (dynamic scheduling): causal attention's work items differ several-fold in
// cost, and a static split would leave one thread idle while another finishes the long rows.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_CPU_THREADPOOL_H
#define XF_RUNTIME_CPU_THREADPOOL_H

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace xf::rt {

class ThreadPool {
public:
  /// Starts numThreads - 1 workers; the thread calling parallelFor is the last one. Throws std::system_error
  /// if a thread cannot be started (after stopping the ones that did start).
  explicit ThreadPool(unsigned numThreads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned numThreads() const { return static_cast<unsigned>(workers.size()) + 1; }

  /// Calls body(begin, end) on disjoint chunks of at most `chunkSize` items that together cover [0, count),
  /// from all threads, and returns when every chunk is done. `body` must not throw. Calls from several
  /// threads are serialized: one parallelFor runs at a time.
  using ChunkBody = std::function<void(int64_t begin, int64_t end)>;
  void parallelFor(int64_t count, int64_t chunkSize, const ChunkBody &body);

private:
  struct Job;
  void workerLoop();

  std::vector<std::thread> workers;
  std::mutex runMutex; // serializes parallelFor callers

  std::mutex stateMutex; // guards everything below
  std::condition_variable workAvailable;
  std::condition_variable workersDone;
  Job *currentJob = nullptr;
  uint64_t jobGeneration = 0; // bumped per job so a worker never runs the same job twice
  unsigned workersBusy = 0;
  bool stopping = false;
};

} // namespace xf::rt

#endif // XF_RUNTIME_CPU_THREADPOOL_H
