//===- CpuPipeline.cpp - the named CPU pipeline ---------------------------===//
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

xf::CpuTargetDescription xf::CpuTargetDescription::fromFeatures(StringRef features) {
  CpuTargetDescription target;
  if (features.contains("+avx512f")) {
    target.vectorWidth = 16;
    target.numVectorRegisters = 32;
  } else {
    target.vectorWidth = 8;
    target.numVectorRegisters = 16;
  }
  return target;
}

xf::XFLowerAttentionOptions xf::CpuTargetDescription::attentionTiling() const {
  XFLowerAttentionOptions options;
  options.vectorWidth = vectorWidth;
  // Two query vectors per row block; as many keys (scores) and value columns (P V) in registers as
  // leave room for the operands: 2 x 8 accumulators of 32 registers, 2 x 4 of 16.
  options.blockQ = 2 * vectorWidth;
  options.keyRegs = numVectorRegisters >= 32 ? 8 : 4;
  options.valueRegs = options.keyRegs;
  options.blockK = 64;
  // Decode steps (S <= 8 query rows) take the decode form: head_dim on the lanes, each K/V row read once
  // per GQA group.
  options.decodeForm = true;
  options.decodeRows = 8;
  options.decodeBlockK = 32;
  if (emulateTensorCores)
    options.mmaForm = "emulate";
  options.mmaStageKv = !tensorCoreDirectLoads;
  options.mmaSplitMinKeys = tensorCoreSplitMinKeys;
  options.mmaMTiles = tensorCoreMTiles;
  return options;
}

void xf::buildCpuLoweringPipeline(OpPassManager &pm, const CpuTargetDescription &target) {
  // @prefill/@decode have no lowering yet; the kernels they call do.
  pm.addPass(createXFStripModelFunctions());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion = bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createXFLowerAttention(target.attentionTiling()));
  pm.addNestedPass<func::FuncOp>(createXFLowerMoHRouter({target.vectorWidth}));
  pm.addPass(createXFCpuKernelABI());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createLoopInvariantCodeMotionPass());
}

void xf::buildCpuToLLVMPipeline(OpPassManager &pm) {
  pm.addPass(createXFApproximateMath());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void xf::buildCpuPipeline(OpPassManager &pm, const CpuTargetDescription &target) {
  buildCpuLoweringPipeline(pm, target);
  buildCpuToLLVMPipeline(pm);
}

void xf::registerPipelines() {
  PassPipelineRegistration<CpuPipelineOptions>(
      "xf-cpu-pipeline",
      "Tensor-level xf IR to the LLVM dialect for CPUs: bufferize, lower attention to fused "
      "online-softmax loops, apply the kernel ABI, convert to LLVM",
      [](OpPassManager &pm, const CpuPipelineOptions &options) {
        CpuTargetDescription target =
            CpuTargetDescription::fromFeatures(options.vectorWidth >= 16 ? "+avx512f" : "");
        buildCpuPipeline(pm, target);
      });
  PassPipelineRegistration<VulkanPipelineOptions>(
      "xf-vulkan-pipeline",
      "Tensor-level xf IR to SPIR-V kernels embedded in a host module: bufferize, lower attention one "
      "query row per thread, outline GPU kernels, convert to SPIR-V with push constants, serialize",
      [](OpPassManager &pm, const VulkanPipelineOptions &options) {
        GpuTargetDescription target;
        target.workgroupSize = options.workgroupSize;
        target.stageKeyValue = options.stageKeyValue;
        target.subgroupLanes = options.subgroupLanes;
        buildVulkanPipeline(pm, target);
      });
  PassPipelineRegistration<CudaPipelineOptions>(
      "xf-cuda-pipeline",
      "Tensor-level xf IR to PTX kernels (sm_80 and sm_90) embedded in a host module: bufferize, lower "
      "attention one query row per thread, outline GPU kernels, convert to NVVM, emit PTX",
      [](OpPassManager &pm, const CudaPipelineOptions &options) {
        GpuTargetDescription target;
        target.workgroupSize = options.workgroupSize;
        target.stageKeyValue = options.stageKeyValue;
        target.subgroupLanes = options.subgroupLanes;
        buildCudaPipeline(pm, target, {options.cudaPath});
      });
}
