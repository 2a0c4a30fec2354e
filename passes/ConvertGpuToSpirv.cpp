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
      // The target environment has no 16-bit storage: narrower types would be widened to 32 bits in the
      // buffers' declared types, so a bf16 or f16 operand would be read as garbage. Refuse it instead.
      WalkResult narrow = gpuModule.walk([&](gpu::GPUFuncOp func) {
        for (Type type : func.getArgumentTypes())
          if (auto memref = dyn_cast<MemRefType>(type); memref && memref.getElementTypeBitWidth() < 32) {
            func.emitError("the vulkan target takes f32 kernel operands, got ")
                << memref.getElementType() << " (compile 16-bit operands for --target=cpu or --target=cuda)";
            return WalkResult::interrupt();
          }
        return WalkResult::advance();
      });
      if (narrow.wasInterrupted())
        return signalPassFailure();
      spirv::MemorySpaceToStorageClassConverter memorySpaces(spirv::mapMemorySpaceToVulkanStorageClass);
      spirv::convertMemRefTypesAndAttrs(gpuModule, memorySpaces);

      spirv::TargetEnvAttr env = spirv::lookupTargetEnvOrDefault(gpuModule);
      std::unique_ptr<ConversionTarget> target = SPIRVConversionTarget::get(env);
      SPIRVConversionOptions options;
      options.emulateLT32BitScalarTypes = false;
      SPIRVTypeConverter types(env, options);
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
