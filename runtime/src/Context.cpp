//===- Context.cpp - xfrt_context: where kernels run ------------------------===//

#include "Context.h"
#include "Status.h"

#include <string>
#include <thread>

using namespace xf::rt;

namespace {
// Far above any machine's core count; a larger request is almost certainly a bad argument, and honouring
// it would tie up memory for stacks of threads that only contend.
constexpr int32_t kMaxThreads = 1024;
} // namespace

extern "C" xfrt_status xfrt_context_create(int32_t num_threads, xfrt_context **out) {
  return guarded("xfrt_context_create", [&]() -> xfrt_status {
    if (!out)
      return failure("xfrt_context_create: 'out' is NULL");
    *out = nullptr;
    if (num_threads < 0 || num_threads > kMaxThreads)
      return failure("xfrt_context_create: num_threads is " + std::to_string(num_threads) +
                     ", expected 0 (all cores) to " + std::to_string(kMaxThreads));
    unsigned threads = num_threads > 0 ? static_cast<unsigned>(num_threads) : std::thread::hardware_concurrency();
    *out = new xfrt_context_s(threads > 0 ? threads : 1);
    return nullptr;
  });
}

extern "C" int32_t xfrt_context_num_threads(const xfrt_context *context) {
  return context ? static_cast<int32_t>(context->threadPool.numThreads()) : 0;
}

extern "C" void xfrt_context_destroy(xfrt_context *context) { delete context; }
