//===- GpuPipeline.cpp - the named Vulkan and CUDA pipelines --------------===//
#include "passes/Passes.h"

#include "mlir/Conversion/GPUCommon/GPUCommonPass.h"
#include "mlir/Conversion/LLVMCommon/ConversionTarget.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Conversion/NVGPUToNVVM/NVGPUToNVVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Dialect/SPIRV/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include <cstdlib>

using namespace mlir;

namespace {
/// The tensor-core form's cp.async copies (NVGPU) to NVVM with the index width and memory spaces of the
/// kernels' own NVVM conversion: upstream convert-nvgpu-to-nvvm describes memrefs with 64-bit indices, and
/// its descriptors would not meet ours.
struct LowerAsyncCopies : public PassWrapper<LowerAsyncCopies, OperationPass<gpu::GPUModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LowerAsyncCopies)
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<NVVM::NVVMDialect, LLVM::LLVMDialect>();
  }
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    LowerToLLVMOptions options(ctx);
    options.overrideIndexBitwidth(32);
    LLVMTypeConverter converter(ctx, options);
    populateGpuMemorySpaceAttributeConversions(converter, [](gpu::AddressSpace space) -> unsigned {
      switch (space) {
      case gpu::AddressSpace::Global:
        return 1;
      case gpu::AddressSpace::Workgroup:
        return 3;
      case gpu::AddressSpace::Private:
        return 0;
      }
      return 0;
    });
    RewritePatternSet patterns(ctx);
    populateNVGPUToNVVMConversionPatterns(converter, patterns);
    ConversionTarget target(*ctx);
    target.addIllegalDialect<nvgpu::NVGPUDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    if (failed(applyPartialConversion(getOperation(), target, std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

xf::XFLowerAttentionOptions xf::GpuTargetDescription::attentionTiling() const {
  // One query row per thread: every vector has one lane, so the loop nest is scalar code; four keys and
  // four value columns per step give the thread independent work while it waits on memory.
  XFLowerAttentionOptions options;
  options.vectorWidth = 1;
  options.blockQ = 1;
  options.blockK = 16;
  options.keyRegs = 4;
  options.valueRegs = 4;
  // The workgroup's threads share each key block: 16 keys of K and V (block-k shrinks for heads wider
  // than 128, so both tiles stay within the workgroup memory budget).
  options.workgroupRows = stageKeyValue ? workgroupSize : 0;
  options.workgroupMemory = workgroupMemoryBytes;
  options.subgroupLanes = subgroupLanes;
  options.subgroupRows = subgroupRows;
  // A decode step's rows spread over the whole workgroup: its subgroups split each row's keys.
  options.subgroupSplits = subgroupLanes ? std::max<int64_t>(1, workgroupSize / subgroupLanes) : 1;
  if (subgroupLanes && subgroupGlobalSplits > 1) {
    options.subgroupSplits = 1;
    options.subgroupGlobalSplits = subgroupGlobalSplits;
  }
  options.staticKeyLoops = true;
  if (tensorCores)
    options.mmaForm = "simt";
  options.mmaStageKv = !tensorCoreDirectLoads;
  options.mmaSplitMinKeys = tensorCoreSplitMinKeys;
  options.mmaMTiles = tensorCoreMTiles;
  return options;
}

/// Both GPU targets share the front half; only the outlining differs (what SPIR-V needs).
static void buildGpuLoweringPipeline(OpPassManager &pm, const xf::GpuTargetDescription &target, StringRef api) {
  using namespace xf;
  pm.addPass(createXFStripModelFunctions());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion = bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createXFLowerAttention(target.attentionTiling()));
  pm.addNestedPass<func::FuncOp>(createXFLowerMoHRouter({/*vectorWidth=*/1}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createXFGpuOutlineKernels({api.str(), target.workgroupSize}));
  pm.addNestedPass<gpu::GPUModuleOp>(createCanonicalizerPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createCSEPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createLoopInvariantCodeMotionPass());
}

void xf::buildVulkanLoweringPipeline(OpPassManager &pm, const GpuTargetDescription &target) {
  buildGpuLoweringPipeline(pm, target, "vulkan");
}

void xf::buildVulkanPipeline(OpPassManager &pm, const GpuTargetDescription &target) {
  buildVulkanLoweringPipeline(pm, target);
  buildVulkanToHostPipeline(pm);
  buildCpuToLLVMPipeline(pm);
}

void xf::buildVulkanToHostPipeline(OpPassManager &pm) {
  pm.addPass(createXFConvertGpuToSpirv());
  pm.addNestedPass<spirv::ModuleOp>(spirv::createSPIRVLowerABIAttributesPass());
  pm.addNestedPass<spirv::ModuleOp>(spirv::createSPIRVUpdateVCEPass());
  pm.addNestedPass<spirv::ModuleOp>(createCanonicalizerPass());
  pm.addPass(createXFVulkanSerialize());
  pm.addPass(createXFCpuKernelABI({"vulkan"}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void xf::buildCudaLoweringPipeline(OpPassManager &pm, const GpuTargetDescription &target) {
  buildGpuLoweringPipeline(pm, target, "cuda");
}

/// The toolkit whose libdevice the kernels link: the option, else $CUDA_HOME, $CUDA_PATH or $CUDA_ROOT, else
/// /usr/local/cuda. (MLIR's own fallback is a path fixed when it was built, empty in Debian's packages.)
static std::string cudaToolkitPath(const xf::CudaTargetOptions &options) {
  if (!options.cudaPath.empty())
    return options.cudaPath;
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *value = std::getenv(variable); value && *value)
      return value;
  return "/usr/local/cuda";
}

void xf::buildCudaToHostPipeline(OpPassManager &pm, const CudaTargetOptions &options) {
  // One PTX image per architecture: sm_80 runs on every Ampere and later GPU (the driver JIT-compiles it),
  // sm_90 lets Hopper use its own PTX ISA.
  for (StringRef chip : {"sm_80", "sm_90"}) {
    GpuNVVMAttachTargetOptions attach;
    attach.chip = chip.str();
    attach.optLevel = 3;
    pm.addPass(createGpuNVVMAttachTarget(attach));
  }
  // 32-bit indices, as on Vulkan: the runtime refuses operands of 2^31 elements or more, and GPU integer
  // arithmetic is 32-bit (64-bit adds and multiplies are emulated).
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  nvvm.indexBitwidth = 32;
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createSCFToControlFlowPass());
  kernels.addPass(std::make_unique<LowerAsyncCopies>()); // the tensor-core form's cp.async copies
  kernels.addPass(createConvertGpuOpsToNVVMOps(nvvm));
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createXFCudaKernelNoAlias());
  // PTX is text the driver compiles for the device it runs on, so the artifact needs no ptxas here. The
  // NVPTX backend links libdevice (math functions) from the CUDA toolkit.
  GpuModuleToBinaryPassOptions toBinary;
  toBinary.compilationTarget = "isa";
  toBinary.toolkitPath = cudaToolkitPath(options);
  pm.addPass(createGpuModuleToBinaryPass(toBinary));
  pm.addPass(createXFCudaSerialize());
  pm.addPass(createXFCpuKernelABI({"cuda"}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void xf::buildCudaPipeline(OpPassManager &pm, const GpuTargetDescription &target, const CudaTargetOptions &options) {
  buildCudaLoweringPipeline(pm, target);
  buildCudaToHostPipeline(pm, options);
  buildCpuToLLVMPipeline(pm);
}
