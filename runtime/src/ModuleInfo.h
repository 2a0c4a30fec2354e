//===- ModuleInfo.h - the metadata an xf module describes itself with ------===//
//
// `xfc --emit=lib` embeds a JSON document in the library as the NUL-terminated array `xf_module_info`. It is
// the contract between compiler and runtime: which kernels exist, their entry symbols, operand names and
// shapes (-1 = dynamic), and attributes such as num_heads. Unknown keys are ignored so that newer compilers
// can add fields without breaking older runtimes; `format` changes only when a change is not compatible.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_SRC_MODULEINFO_H
#define XF_RUNTIME_SRC_MODULEINFO_H

#include "xfrt.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xf::rt {

/// The metadata format this runtime reads.
inline constexpr int64_t kModuleInfoFormat = 1;
/// The entry points are called with one descriptor per operand; see cpu/MemRefCall.h.
inline constexpr size_t kMaxOperands = 12;

struct OperandInfo {
  std::string name;
  /// One entry per dimension; kDynamicDim where the size is chosen per call.
  std::vector<int64_t> shape;
  /// The element type (metadata key "dtype": "f32", the default, "bf16" or "f16").
  xfrt_dtype dtype = XFRT_F32;
};

inline constexpr int64_t kDynamicDim = -1;

struct KernelAttribute {
  std::string name;
  /// The value spelled as JSON ("32", "true", "0.08838834764831845"), so tools can show any attribute,
  /// including kinds added after this runtime was written.
  std::string json;
};

/// One PTX image of a CUDA kernel: NUL-terminated text at `symbol`, for devices of compute capability
/// `arch` (major * 10 + minor) and newer.
struct PtxImage {
  int64_t arch = 0;
  std::string symbol;
  int64_t size = 0; // bytes, the NUL included
};

/// How a GPU target launches a kernel (absent on cpu modules).
struct GpuLaunchInfo {
  std::string binarySymbol; // vulkan: the SPIR-V words in the library
  int64_t binarySize = 0;   // bytes
  std::vector<PtxImage> ptx; // cuda: one image per architecture, ascending
  std::string entryPoint;
  int64_t workgroupSize = 0; // threads per workgroup; one work item per thread
  int64_t subgroupLanes = 0; // > 0: runs of this many consecutive threads must be lanes of one subgroup
  int64_t subgroupRows = 0;  // attention: the largest query count that the subgroup form takes
  bool barrierLoops = false;      // a loop holds workgroup barriers (staged attention): it stays a loop
  int64_t workgroupMemory = 0;    // bytes of workgroup memory the kernel declares
  /// > 0: an f32 scratch buffer of this many words per work item follows the operands (split-K); its first
  /// scratchZeroedWordsPerItem words per item are zeroed before each launch.
  int64_t scratchWordsPerItem = 0;
  int64_t scratchZeroedWordsPerItem = 0;
  /// The push constants, in order: (operand index, dimension) whose size each one holds.
  std::vector<std::pair<int64_t, int64_t>> pushConstants;
  /// After them, one per (operand, dimension) indexed with a pitch: the rows the buffer holds along that
  /// dimension, at least its size (a KV cache's capacity; a dense call passes the size).
  std::vector<std::pair<int64_t, int64_t>> pitches;
};

struct KernelInfo {
  std::string name;
  std::string kind;
  std::string entrySymbol; // empty on GPU targets
  std::optional<GpuLaunchInfo> gpu;
  std::string workItemsSymbol;
  /// Inputs in call order, then the output.
  std::vector<OperandInfo> operands;
  /// Every kernel key that is not one of the structural ones above, sorted by name.
  std::vector<KernelAttribute> attributes;

  const OperandInfo *findOperand(llvm::StringRef operandName) const;
  /// Index of `operandName` in `operands`, or -1.
  int64_t operandIndex(llvm::StringRef operandName) const;
  const KernelAttribute *findAttribute(llvm::StringRef attributeName) const;
  /// An integer-valued attribute, or nullopt if absent or not an integer.
  std::optional<int64_t> integerAttribute(llvm::StringRef attributeName) const;
  /// A boolean attribute, or nullopt if absent or not a boolean.
  std::optional<bool> boolAttribute(llvm::StringRef attributeName) const;
};

struct ModuleInfo {
  std::string target;
  std::vector<KernelInfo> kernels;
  /// The model plan (frontend/ModelPlan.h) as JSON text; empty for a kernels-only artifact.
  std::string modelPlan;
};

/// An attention operand dimension whose size an attribute fixes (query dim 1 is num_heads, ...). Checked
/// against the declared shapes when a module opens and against the actual shapes on every call.
struct AttributeFixedDim {
  const char *operand;
  int dim;
  const char *attribute;
};
llvm::ArrayRef<AttributeFixedDim> attentionAttributeFixedDims();

/// Parses and checks a module's metadata. Errors are one line and do not name the library; the caller
/// prefixes the path.
llvm::Expected<ModuleInfo> parseModuleInfo(llvm::StringRef json);

} // namespace xf::rt

#endif // XF_RUNTIME_SRC_MODULEINFO_H
