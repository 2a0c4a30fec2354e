//===- GpuPipeline.cpp - the named Vulkan pipeline ------------------------===//
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Dialect/SPIRV/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

xf::XFLowerAttentionOptions xf::GpuTargetDescription::attentionTiling() const {
  // One query row per thread: every vector has one lane, so the loop nest is scalar code; four keys and
  // four value columns per step give the thread independent work while it waits on memory.
  XFLowerAttentionOptions options;
  options.vectorWidth = 1;
  options.blockQ = 1;
  options.blockK = 16;
  options.keyRegs = 4;
  options.valueRegs = 4;
  return options;
}

void xf::buildVulkanLoweringPipeline(OpPassManager &pm, const GpuTargetDescription &target) {
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
  pm.addPass(createXFGpuOutlineKernels({"vulkan", target.workgroupSize}));
  pm.addNestedPass<gpu::GPUModuleOp>(createCanonicalizerPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createCSEPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createLoopInvariantCodeMotionPass());
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
