//===- Context.cpp - xfrt_context: where kernels run ------------------------===//

#include "Context.h"
#include "Status.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
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

extern "C" xfrt_status xfrt_context_create_on(const char *device, int32_t num_threads, xfrt_context **out) {
  return guarded("xfrt_context_create_on", [&]() -> xfrt_status {
    if (!out)
      return failure("xfrt_context_create_on: 'out' is NULL");
    *out = nullptr;
    llvm::StringRef name = device ? device : "cpu";
    int index = -1;
    bool cuda = name == "cuda" || name.starts_with("cuda:");
    if (name != "cpu" && name != "vulkan" && name != "cuda") {
      llvm::StringRef number = name;
      if (!(number.consume_front("vulkan:") || number.consume_front("cuda:")) || number.getAsInteger(10, index) ||
          index < 0)
        return failure("unknown device '" + name.str() + "' (expected cpu, vulkan, vulkan:N, cuda or cuda:N)");
    }
    xfrt_context *context = nullptr;
    if (xfrt_status status = xfrt_context_create(num_threads, &context))
      return status;
    std::unique_ptr<xfrt_context> owned(context);
    if (cuda) {
      llvm::Expected<std::unique_ptr<CudaDevice>> opened = CudaDevice::open(index);
      if (!opened)
        return failure("cannot open CUDA device '" + name.str() + "': " + llvm::toString(opened.takeError()));
      owned->cuda = std::move(*opened);
      owned->device = owned->cuda->name();
    } else if (name != "cpu") {
      llvm::Expected<std::unique_ptr<VulkanDevice>> opened = VulkanDevice::open(index);
      if (!opened)
        return failure(llvm::toString(opened.takeError()));
      owned->vulkan = std::move(*opened);
      owned->device = owned->vulkan->name();
    }
    *out = owned.release();
    return nullptr;
  });
}

extern "C" const char *xfrt_context_device(const xfrt_context *context) {
  return context ? context->device.c_str() : nullptr;
}

extern "C" xfrt_status xfrt_context_pin(xfrt_context *context, const void *data, size_t bytes) {
  return guarded("xfrt_context_pin", [&]() -> xfrt_status {
    if (!context || (!data && bytes))
      return failure("xfrt_context_pin: NULL argument");
    if (llvm::Error err = context->pin(data, bytes))
      return failure("xfrt_context_pin: cannot keep " + std::to_string(bytes) + " bytes on " + context->device +
                     ": " + llvm::toString(std::move(err)));
    return nullptr;
  });
}

extern "C" double xfrt_context_last_kernel_seconds(const xfrt_context *context) {
  if (!context)
    return -1;
  return context->vulkan ? context->vulkan->lastKernelSeconds()
         : context->cuda ? context->cuda->lastKernelSeconds()
                         : -1;
}

extern "C" void xfrt_context_unpin(xfrt_context *context, const void *data) {
  if (context)
    context->unpin(data);
}

extern "C" xfrt_status xfrt_list_devices(char **out) {
  return guarded("xfrt_list_devices", [&]() -> xfrt_status {
    if (!out)
      return failure("xfrt_list_devices: 'out' is NULL");
    std::string text = "cpu: " + std::to_string(std::max(1u, std::thread::hardware_concurrency())) + " threads\n";
    llvm::Expected<std::vector<std::string>> vulkan = VulkanDevice::describeDevices();
    if (!vulkan)
      text += "vulkan: none (" + llvm::toString(vulkan.takeError()) + ")\n";
    else if (vulkan->empty())
      text += "vulkan: none (the loader found no physical device)\n";
    else
      for (const std::string &line : *vulkan)
        text += line + "\n";
    llvm::Expected<std::vector<std::string>> cuda = CudaDevice::describeDevices();
    if (!cuda)
      text += "cuda: none (" + llvm::toString(cuda.takeError()) + ")\n";
    else if (cuda->empty())
      text += "cuda: none (the CUDA driver finds no GPU)\n";
    else
      for (const std::string &line : *cuda)
        text += line + "\n";
    *out = static_cast<char *>(std::malloc(text.size() + 1));
    if (!*out)
      return failure("xfrt_list_devices: out of memory");
    std::memcpy(*out, text.c_str(), text.size() + 1);
    return nullptr;
  });
}

extern "C" void xfrt_string_free(char *text) { std::free(text); }

extern "C" int32_t xfrt_context_num_threads(const xfrt_context *context) {
  return context ? static_cast<int32_t>(context->threadPool.numThreads()) : 0;
}

extern "C" void xfrt_context_destroy(xfrt_context *context) { delete context; }
