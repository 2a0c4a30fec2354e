//===- ThreadPool.h - the CPU worker threads behind an xfrt_context --------===//
//
// Persistent workers, so a kernel call pays a hand-off rather than thread creation. Work is handed out in
// chunks from one atomic counter (dynamic scheduling): causal attention's work items differ several-fold in
// cost, and a static split would leave one thread idle while another finishes the long rows.
//
// A decode step makes dozens of short parallel calls (a GEMV takes tens of microseconds), so the hand-off
// must cost far less than waking a thread that sleeps on a condition variable (~40-50 us on the VMs we
// measured). After each job a worker spins for kSpinMicros, polling the job counter with a pause
// instruction, and only then sleeps; the caller publishes a job with two atomic stores and takes the mutex
// only when some worker is asleep. The caller likewise spins for its workers to finish before it sleeps.
// The spin is bounded, so an idle pool costs no CPU after kSpinMicros.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_CPU_THREADPOOL_H
#define XF_RUNTIME_CPU_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace xf::rt {

class ThreadPool {
public:
  /// How long a worker polls for the next job after finishing one (and the caller for its workers) before
  /// it sleeps on a condition variable. Longer than the gaps between the parallel calls of a decode step,
  /// short enough that an idle pool stops burning its cores at once.
  static constexpr int64_t kSpinMicros = 100;

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
  void workerLoop(uint64_t seen);
  /// Returns the first job generation other than `seen` (spinning, then sleeping), or 0 when stopping.
  uint64_t awaitGeneration(uint64_t seen);
  void stopWorkers();

  std::vector<std::thread> workers;
  std::mutex runMutex; // serializes parallelFor callers

  // The hand-off. A worker that sees a new generation registers in busyWorkers, then runs whatever job is
  // current (possibly none, or a newer one). The caller clears currentJob before it waits for busyWorkers
  // to reach 0, so no worker can touch a job (which lives on the caller's stack) after parallelFor returns.
  std::atomic<Job *> currentJob{nullptr};
  std::atomic<uint64_t> generation{1}; // bumped per job; 0 is never a job
  std::atomic<unsigned> busyWorkers{0};
  std::atomic<bool> stopping{false};

  // Sleeping. A sleeper announces itself (sleepingWorkers, callerSleeping) before it re-checks its condition
  // under stateMutex; the other side changes the condition before it reads the announcement, so one of the
  // two always sees the other (all four are sequentially consistent).
  std::mutex stateMutex;
  std::condition_variable workAvailable;
  std::condition_variable workersDone;
  std::atomic<unsigned> sleepingWorkers{0};
  std::atomic<bool> callerSleeping{false};
};

} // namespace xf::rt

#endif // XF_RUNTIME_CPU_THREADPOOL_H
