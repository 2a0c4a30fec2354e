//===- ConvertGpuToSpirv.cpp - outlined xf kernels to spirv.module --------===//
//
// Upstream convert-gpu-to-spirv converts arith, memref, func and vector but not the math and scf ops
// that attention kernels are made of, so xf drives the same conversion with those pattern sets added.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Conversion/ArithToSPIRV/ArithToSPIRV.h"
#include "mlir/Conversion/FuncToSPIRV/FuncToSPIRV.h"
#include "mlir/Conversion/GPUToSPIRV/GPUToSPIRV.h"
#include "mlir/Conversion/MathToSPIRV/MathToSPIRV.h"
#include "mlir/Conversion/MemRefToSPIRV/MemRefToSPIRV.h"
#include "mlir/Conversion/SCFToSPIRV/SCFToSPIRV.h"
#include "mlir/Conversion/UBToSPIRV/UBToSPIRV.h"
#include "mlir/Conversion/VectorToSPIRV/VectorToSPIRV.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"
#include "mlir/Dialect/SPIRV/Transforms/SPIRVConversion.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFCONVERTGPUTOSPIRV
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {

struct ConvertGpuToSpirvPass : public xf::impl::XFConvertGpuToSpirvBase<ConvertGpuToSpirvPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    SmallVector<gpu::GPUModuleOp> gpuModules(module.getOps<gpu::GPUModuleOp>());
    for (gpu::GPUModuleOp gpuModule : gpuModules) {
      spirv::MemorySpaceToStorageClassConverter memorySpaces(spirv::mapMemorySpaceToVulkanStorageClass);
      spirv::convertMemRefTypesAndAttrs(gpuModule, memorySpaces);

      spirv::TargetEnvAttr env = spirv::lookupTargetEnvOrDefault(gpuModule);
      std::unique_ptr<ConversionTarget> target = SPIRVConversionTarget::get(env);
      SPIRVTypeConverter types(env);
      ScfToSPIRVContext scfContext;
      RewritePatternSet patterns(ctx);
      populateGPUToSPIRVPatterns(types, patterns);
      arith::populateArithToSPIRVPatterns(types, patterns);
      populateMathToSPIRVPatterns(types, patterns);
      populateMemRefToSPIRVPatterns(types, patterns);
      populateFuncToSPIRVPatterns(types, patterns);
      populateSCFToSPIRVPatterns(types, scfContext, patterns);
      populateVectorToSPIRVPatterns(types, patterns);
      ub::populateUBToSPIRVConversionPatterns(types, patterns);
      if (failed(applyFullConversion(gpuModule.getOperation(), *target, std::move(patterns))))
        return signalPassFailure();
    }
  }
};

} // namespace
