//===- Context.h - xfrt_context: where kernels run ---------------------------===//
#ifndef XF_RUNTIME_SRC_CONTEXT_H
#define XF_RUNTIME_SRC_CONTEXT_H

#include "runtime/cpu/ThreadPool.h"
#include "runtime/cuda/CudaDevice.h"
#include "runtime/vulkan/VulkanDevice.h"

#include <memory>
#include <string>

struct xfrt_context_s {
  explicit xfrt_context_s(unsigned numThreads) : threadPool(numThreads) {}
  xf::rt::ThreadPool threadPool;
  /// Set on contexts created for a Vulkan device; vulkan modules run there.
  std::unique_ptr<xf::rt::VulkanDevice> vulkan;
  /// Set on contexts created for a CUDA device; cuda modules run there.
  std::unique_ptr<xf::rt::CudaDevice> cuda;
  std::string device = "cpu";

  /// Keeps a device copy of [data, data + bytes) on the context's GPU (counted); nothing on the CPU. A
  /// resident copy is the array's truth, written in place by kernels (see VulkanDevice::pin).
  llvm::Error pin(const void *data, size_t bytes, bool resident = false) {
    return vulkan ? vulkan->pin(data, bytes, resident)
           : cuda ? cuda->pin(data, bytes, resident)
                  : llvm::Error::success();
  }
  /// Reads byte ranges of pinned arrays' device copies into the arrays, all after one wait for the device.
  llvm::Error download(llvm::ArrayRef<xf::rt::HostRange> ranges) {
    return vulkan ? vulkan->download(ranges) : cuda ? cuda->download(ranges) : llvm::Error::success();
  }
  /// Refreshes bytes [offset, offset + bytes) of a pinned array's device copy; nothing on the CPU.
  llvm::Error updatePinned(const void *data, size_t offset, size_t bytes) {
    return vulkan ? vulkan->update(data, offset, bytes) : cuda ? cuda->update(data, offset, bytes)
                                                               : llvm::Error::success();
  }
  void unpin(const void *data) {
    if (vulkan)
      vulkan->unpin(data);
    else if (cuda)
      cuda->unpin(data);
  }
};

#endif // XF_RUNTIME_SRC_CONTEXT_H
