//===- VulkanDevice.h - the runtime's Vulkan compute device ----------------===//
//
// The Vulkan loader is opened at run time (dlopen of libvulkan.so.1), so libxfrt has no link dependency on
// Vulkan and a machine without it gets a clear error only when it asks for a Vulkan device. One device
// runs one dispatch at a time: operands are copied into host-visible buffers, the kernel's pipeline (built
// once per kernel and cached) is dispatched with the shapes as push constants, and the output is copied
// back after a fence. Pinned arrays (weights, a session's activations) stay on the device, where
// dispatches on them alone are batched into one submission; on a discrete GPU they live in device-local
// memory, filled and read through a staging buffer by copies that join the batch (XF_VULKAN_STAGING).
//
// With XF_VULKAN_VALIDATION=1 in the environment the Khronos validation layer is enabled, and any warning
// or error it reports fails the call that caused it.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_VULKAN_VULKANDEVICE_H
#define XF_RUNTIME_VULKAN_VULKANDEVICE_H

#include "runtime/src/PinTable.h"
#include "xfrt.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xf::rt {

/// One compiled compute kernel: SPIR-V words and how to launch them.
struct VulkanKernel {
  const void *spirv = nullptr; // 4-byte aligned words
  size_t spirvBytes = 0;
  std::string entryPoint;
  uint32_t workgroupSize = 0;
  uint32_t numBuffers = 0;       // storage buffers at set 0, bindings 0..numBuffers-1
  uint32_t numPushConstants = 0; // i32 members of the push-constant block
  uint32_t subgroupLanes = 0;    // > 0: the kernel shuffles within runs of this many threads of a subgroup
  uint64_t workgroupMemory = 0;  // bytes of workgroup memory it declares
};

/// A host array bound to one storage buffer of a dispatch.
struct VulkanBinding {
  void *data = nullptr;
  size_t bytes = 0;
  bool download = false; // copy the buffer back into `data` after the kernel ran
};

class VulkanDevice {
public:
  /// Mesa's llvmpipe (lavapipe), the CPU implementation: it stops an invocation after 65535 loop
  /// iterations in all, silently.
  bool isLlvmpipe() const;
  /// Opens physical device `index`, or, when `index` is -1, the first discrete GPU, else the first
  /// integrated GPU, else the first device.
  static llvm::Expected<std::unique_ptr<VulkanDevice>> open(int index);
  /// One line per physical device: "vulkan:N: NAME (TYPE, Vulkan X.Y.Z)".
  static llvm::Expected<std::vector<std::string>> describeDevices();
  ~VulkanDevice();

  /// "vulkan:N (NAME)".
  const std::string &name() const;
  uint32_t maxWorkgroups() const;
  /// The device feature that operands of `dtype` need and this device lacks, or null: 16-bit operands need
  /// storageBuffer16BitAccess, f16 ones shaderFloat16 too, bf16 ones (i16 words in the kernel) shaderInt16.
  const char *missingFor(xfrt_dtype dtype) const;
  /// The last dispatch's own time, from two device timestamps around it; -1 where the queue has none.
  double lastKernelSeconds() const;

  /// Keeps a device copy of the host array [data, data + bytes) that dispatches bind instead of copying it
  /// (model weights): the caller promises not to change or free the array before the last unpin. Pins
  /// are counted; the copy goes when the count returns to zero. A `resident` copy (a model's activations)
  /// starts uninitialized, and kernels whose output it is write it in place: the host array is stale
  /// until `download`.
  llvm::Error pin(const void *data, size_t bytes, bool resident = false);
  void unpin(const void *data);
  /// Copies bytes [offset, offset + bytes) of the pinned host array `data` into its device copy again:
  /// the caller changed them (a KV cache's new rows). An error if `data` is not pinned or the range
  /// passes its end. With staging the copy is recorded after the batch's dispatches (the host bytes are
  /// taken now), so the batch is not submitted.
  llvm::Error update(const void *data, size_t offset, size_t bytes);
  /// Copies byte ranges of pinned arrays' device copies into the host arrays, after everything recorded
  /// before: one submission for all of them.
  llvm::Error download(llvm::ArrayRef<HostRange> ranges);

  /// Runs `groups` workgroups of `kernel` and waits for them. `key` identifies the kernel for the pipeline
  /// cache (the address of its SPIR-V in a loaded module); the kernel must outlive the device's use of it.
  llvm::Error dispatch(const VulkanKernel &kernel, llvm::ArrayRef<VulkanBinding> bindings,
                       llvm::ArrayRef<int32_t> pushConstants, uint32_t groups);

  struct Impl;

private:
  explicit VulkanDevice(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace xf::rt

#endif // XF_RUNTIME_VULKAN_VULKANDEVICE_H
