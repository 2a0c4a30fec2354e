//===- MemRefCall.h - calling compiled kernels through memref descriptors --===//
//
// Kernels are compiled with MLIR's `llvm.emit_c_interface`, so each operand is passed as a pointer to a
// strided memref descriptor { allocated, aligned, offset, sizes[r], strides[r] }. Every field is 8 bytes,
// which lets the runtime build a descriptor of any rank as an array of 64-bit words.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_CPU_MEMREFCALL_H
#define XF_RUNTIME_CPU_MEMREFCALL_H

#include "xfrt.h"

#include <array>
#include <cstdint>
#include <vector>

namespace xf::rt {

/// A rank-r memref descriptor laid out as 3 + 2r words.
class MemRefDescriptor {
public:
  /// Describes a dense row-major tensor (offset 0, row-major strides).
  explicit MemRefDescriptor(const xfrt_tensor &tensor);
  /// Describes a strided view (the model runtime's KV-cache windows). Kernels index through the
  /// descriptor's strides, so a view of the first T rows of a larger cache needs no copy.
  MemRefDescriptor(const void *data, int64_t rank, const int64_t *shape, const int64_t *strides);
  void *get() { return words.data(); }

private:
  std::array<int64_t, 3 + 2 * XFRT_MAX_RANK> words{};
};

/// Calls `int64_t workItems(Desc *...)` with one descriptor per operand (1 to 12).
int64_t callWorkItems(void *workItems, std::vector<MemRefDescriptor> &descriptors);

/// Calls `void entry(Desc *..., int64_t begin, int64_t end)` with one descriptor per operand (1 to 12).
void callEntry(void *entry, std::vector<MemRefDescriptor> &descriptors, int64_t begin, int64_t end);

} // namespace xf::rt

#endif // XF_RUNTIME_CPU_MEMREFCALL_H
