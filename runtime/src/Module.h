//===- Module.h - an opened xf module ---------------------------------------===//
#ifndef XF_RUNTIME_SRC_MODULE_H
#define XF_RUNTIME_SRC_MODULE_H

#include "ModuleInfo.h"
#include "xfrt.h"

#include "llvm/ADT/ArrayRef.h"

#include <string>
#include <vector>

struct xfrt_module_s {
  std::string path;
  void *handle = nullptr; // from dlopen
  xf::rt::ModuleInfo info;
  /// Resolved entry points, parallel to info.kernels.
  struct EntryPoints {
    void *entry = nullptr;
    void *workItems = nullptr;
    const void *binary = nullptr; // vulkan: the kernel's SPIR-V
    std::vector<const char *> ptx; // cuda: the PTX images, parallel to gpu->ptx
  };
  std::vector<EntryPoints> entryPoints;
};

namespace xf::rt {

/// The kernel called `name`, or the module's only kernel when `name` is NULL; -1 when there is none.
int64_t findKernelIndex(const xfrt_module &module, const char *name);

/// A one-line explanation of why findKernelIndex found nothing.
std::string describeMissingKernel(const xfrt_module &module, const char *name);

class MemRefDescriptor;
/// Runs kernel `kernelIndex` on operands the caller has already checked, spread over the context's threads.
xfrt_status runChecked(xfrt_context &context, const xfrt_module &module, int64_t kernelIndex,
                       std::vector<MemRefDescriptor> &descriptors);

/// A call's row pitch: operand `operand` holds `extent` rows along `dim` (a pitched dimension of its GPU
/// kernel, see GpuLaunchInfo::pitches), of which its shape uses the first ones.
struct OperandPitch {
  int64_t operand = 0, dim = 0, extent = 0;
};

/// xfrt_kernel_run with pitches for some operands (the model runtime's KV cache, read in place).
xfrt_status runKernelPitched(xfrt_context *context, const xfrt_module *module, const char *kernel,
                             const xfrt_tensor *operands, int64_t numOperands, llvm::ArrayRef<OperandPitch> pitches);

} // namespace xf::rt

#endif // XF_RUNTIME_SRC_MODULE_H
