//===- Passes.h - xf passes and pipelines ---------------------------------===//
#ifndef XF_PASSES_PASSES_H
#define XF_PASSES_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir {
namespace xf {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Code-generation parameters of one CPU target; the pipeline derives the attention tiling from them.
struct CpuTargetDescription {
  int64_t vectorWidth = 16; // f32 lanes of the widest profitable vector register
  int64_t numVectorRegisters = 32;
  // Tests only: attention ops the tensor-core form takes run its CPU emulation (mma-form=emulate), with K/V
  // staged as on CUDA unless tensorCoreDirectLoads.
  bool emulateTensorCores = false;
  bool tensorCoreDirectLoads = false;
  int64_t tensorCoreSplitMinKeys = 256; // the tensor-core form's split-K (mma-split-min-keys)
  int64_t tensorCoreMTiles = 0;         // and its m-tiles per warp (mma-m-tiles; 0: by head dim)

  /// AVX-512 when `features` (LLVM target feature string, e.g. "+avx512f,+fma") has it, else AVX2/NEON-
  /// sized vectors.
  static CpuTargetDescription fromFeatures(llvm::StringRef features);
  XFLowerAttentionOptions attentionTiling() const;
};

struct CpuPipelineOptions : public PassPipelineOptions<CpuPipelineOptions> {
  Option<int64_t> vectorWidth{*this, "vector-width",
                              llvm::cl::desc("f32 lanes per vector register (16: AVX-512, 8: AVX2/NEON)"),
                              llvm::cl::init(16)};
};

/// Tensor-level xf IR to the LLVM dialect for the CPU: bufferization, attention lowering, the kernel ABI,
/// then the upstream conversions.
void buildCpuPipeline(OpPassManager &pm, const CpuTargetDescription &target);
/// The first half: up to loops on memrefs with the kernel ABI (what `xfc --emit=lowered` shows).
void buildCpuLoweringPipeline(OpPassManager &pm, const CpuTargetDescription &target);
/// The second half: loops, vectors and memrefs to the LLVM dialect.
void buildCpuToLLVMPipeline(OpPassManager &pm);
/// Code-generation parameters of a GPU target; the pipeline derives the attention tiling from them.
struct GpuTargetDescription {
  int64_t workgroupSize = 64; // threads per workgroup, one work item each
  // Attention: the threads of a workgroup take consecutive query rows of one (batch, head) and load each
  // key block of K and V into workgroup memory together, instead of each streaming them on its own.
  bool stageKeyValue = true;
  // What the K/V tiles may take, and again the decode splits' partial states: every Vulkan device offers 16 KiB.
  int64_t workgroupMemoryBytes = 16384;
  // Attention with S <= subgroupRows (decode): each query row gets subgroupLanes lanes of one subgroup,
  // which split the head dims and sum scores with shuffles (0: one thread per row). CUDA needs 32 (a warp).
  int64_t subgroupLanes = 8;
  int64_t subgroupRows = 16;
  // CUDA: a decode row's keys split over this many subgroups of the launch, combined through scratch (1: the
  // workgroup's subgroups split them instead). Not yet run on a GPU: off by default.
  int64_t subgroupGlobalSplits = 1;
  // CUDA: attention ops on 16-bit operands take the tensor-core form (mma-form=simt), with K/V staged in
  // workgroup memory unless tensorCoreDirectLoads.
  bool tensorCores = false;
  bool tensorCoreDirectLoads = false;
  int64_t tensorCoreSplitMinKeys = 256; // split-K: the fewest keys per split (mma-split-min-keys; 0: off)
  int64_t tensorCoreMTiles = 0;         // m-tiles of 16 rows per warp (mma-m-tiles; 0: by head dim)
  XFLowerAttentionOptions attentionTiling() const;
};

struct VulkanPipelineOptions : public PassPipelineOptions<VulkanPipelineOptions> {
  Option<int64_t> workgroupSize{*this, "workgroup-size", llvm::cl::desc("threads per workgroup"),
                                llvm::cl::init(64)};
  Option<bool> stageKeyValue{*this, "stage-kv",
                             llvm::cl::desc("attention: share each key block of K and V in workgroup memory"),
                             llvm::cl::init(true)};
  Option<int64_t> subgroupLanes{*this, "subgroup-lanes",
                                llvm::cl::desc("attention with S <= 16: lanes of one subgroup per query row (0: off)"),
                                llvm::cl::init(8)};
};

/// Tensor-level xf IR to host code plus SPIR-V: bufferization and attention lowering as for the CPU
/// (one query row per work item), the work loop outlined into one GPU kernel per xf kernel, converted
/// to SPIR-V, serialized into the artifact; the host keeps the work-item counters and the metadata.
void buildVulkanPipeline(OpPassManager &pm, const GpuTargetDescription &target);
/// Up to the outlined GPU kernels (what `xfc --target=vulkan --emit=lowered` shows).
void buildVulkanLoweringPipeline(OpPassManager &pm, const GpuTargetDescription &target);
/// The second half up to host code: SPIR-V conversion and serialization, the kernel ABI (work-item
/// counters, metadata); buildCpuToLLVMPipeline then takes the host module to LLVM.
void buildVulkanToHostPipeline(OpPassManager &pm);
/// Where the CUDA pipeline finds the toolkit (libdevice); empty: $CUDA_HOME, $CUDA_PATH or $CUDA_ROOT, else
/// /usr/local/cuda.
struct CudaTargetOptions {
  std::string cudaPath;
};

struct CudaPipelineOptions : public PassPipelineOptions<CudaPipelineOptions> {
  Option<int64_t> workgroupSize{*this, "workgroup-size", llvm::cl::desc("threads per block"), llvm::cl::init(64)};
  Option<bool> stageKeyValue{*this, "stage-kv",
                             llvm::cl::desc("attention: share each key block of K and V in shared memory"),
                             llvm::cl::init(true)};
  Option<int64_t> subgroupLanes{*this, "subgroup-lanes",
                                llvm::cl::desc("attention with S <= 16: lanes of one warp per query row (32 or 0: off)"),
                                llvm::cl::init(32)};
  Option<std::string> cudaPath{*this, "cuda-path",
                               llvm::cl::desc("CUDA toolkit holding nvvm/libdevice (default: $CUDA_HOME, else /usr/local/cuda)"),
                               llvm::cl::init("")};
};

/// Tensor-level xf IR to host code plus PTX: the same front half as Vulkan (one query row per thread,
/// one GPU kernel per xf kernel), then NVVM, PTX for sm_80 and sm_90 embedded in the artifact; the host
/// keeps the work-item counters and the metadata.
void buildCudaPipeline(OpPassManager &pm, const GpuTargetDescription &target, const CudaTargetOptions &options);
/// Up to the outlined GPU kernels (what `xfc --target=cuda --emit=lowered` shows).
void buildCudaLoweringPipeline(OpPassManager &pm, const GpuTargetDescription &target);
/// The second half up to host code: NVVM, PTX per architecture (xf-cuda-serialize), the kernel ABI;
/// buildCpuToLLVMPipeline then takes the host module to LLVM.
void buildCudaToHostPipeline(OpPassManager &pm, const CudaTargetOptions &options);
void registerPipelines();

/// The one top-level one-dimensional scf.parallel of an xf kernel function, whose body may otherwise hold
/// only side-effect-free index arithmetic, memref.dim and the return (and memref.alloc where `allowAlloc`).
/// Emits an error on `func` and fails otherwise.
FailureOr<scf::ParallelOp> findKernelWorkLoop(func::FuncOp func, bool allowAlloc);

} // namespace xf
} // namespace mlir

#endif // XF_PASSES_PASSES_H
