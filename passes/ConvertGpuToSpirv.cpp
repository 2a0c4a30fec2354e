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
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"
#include "mlir/Dialect/SPIRV/Transforms/SPIRVConversion.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFCONVERTGPUTOSPIRV
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {

/// Rewrites the bf16 buffer arguments of `func` as i16 buffers of the same bits. Every load must feed
/// `arith.extf` to f32 (it becomes the word shifted into the high half of an f32), every stored value must
/// come from `arith.truncf` of an f32 (it becomes the f32's bits rounded to nearest even, NaN kept NaN).
LogicalResult bf16BuffersToWords(gpu::GPUFuncOp func) {
  Block &entry = func.getBody().front();
  OpBuilder b(func.getContext());
  Type i16 = b.getI16Type(), i32 = b.getI32Type(), f32 = b.getF32Type();
  SmallVector<Type> inputs(func.getArgumentTypes());
  for (BlockArgument arg : entry.getArguments()) {
    auto type = dyn_cast<MemRefType>(arg.getType());
    if (!type || !type.getElementType().isBF16())
      continue;
    auto wordType = MemRefType::get(type.getShape(), i16, type.getLayout(), type.getMemorySpace());
    SmallVector<Operation *> users(arg.getUsers());
    arg.setType(wordType); // the loads and stores below are rebuilt on the words
    for (Operation *user : users) {
      Location loc = user->getLoc();
      b.setInsertionPoint(user);
      auto constant = [&](uint32_t v) {
        return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(static_cast<int32_t>(v)));
      };
      if (auto load = dyn_cast<memref::LoadOp>(user)) {
        // The widening may sit behind a broadcast (canonicalization moves extf past it).
        auto isWidening = [](Operation *op) {
          return isa<arith::ExtFOp>(op) && getElementTypeOrSelf(op->getResult(0).getType()).isF32();
        };
        for (Operation *use : load->getUsers()) {
          bool broadcastThenWidened = isa<vector::BroadcastOp>(use) && llvm::all_of(use->getUsers(), isWidening);
          if (!isWidening(use) && !broadcastThenWidened)
            return load.emitError("a bf16 operand on the vulkan target must be widened to f32 where it is loaded, "
                                  "not used by ")
                   << use->getName();
        }
        Value word = memref::LoadOp::create(b, loc, arg, load.getIndices());
        Value bits = arith::ShLIOp::create(b, loc, arith::ExtUIOp::create(b, loc, i32, word), constant(16));
        Value widened = arith::BitcastOp::create(b, loc, f32, bits);
        for (Operation *use : llvm::make_early_inc_range(load->getUsers())) {
          if (auto broadcast = dyn_cast<vector::BroadcastOp>(use)) {
            for (Operation *extend : llvm::make_early_inc_range(broadcast->getUsers())) {
              b.setInsertionPoint(extend);
              extend->getResult(0).replaceAllUsesWith(
                  vector::BroadcastOp::create(b, loc, extend->getResult(0).getType(), widened));
              extend->erase();
            }
            broadcast.erase();
            continue;
          }
          use->getResult(0).replaceAllUsesWith(widened);
          use->erase();
        }
        load.erase();
      } else if (auto store = dyn_cast<memref::StoreOp>(user); store && store.getMemRef() == arg) {
        FloatAttr constantValue;
        if (matchPattern(store.getValue(), m_Constant(&constantValue))) { // e.g. the zeros of an empty row
          uint64_t word = constantValue.getValue().bitcastToAPInt().getZExtValue();
          Value stored = arith::ConstantOp::create(b, loc, b.getIntegerAttr(i16, word));
          memref::StoreOp::create(b, loc, stored, arg, store.getIndices());
          Operation *constant = store.getValue().getDefiningOp();
          store.erase();
          if (constant->use_empty())
            constant->erase(); // the target has no bf16 constants
          continue;
        }
        auto narrow = store.getValue().getDefiningOp<arith::TruncFOp>();
        if (!narrow || !narrow.getIn().getType().isF32())
          return store.emitError("a bf16 output on the vulkan target must be rounded from f32 where it is stored");
        Value bits = arith::BitcastOp::create(b, loc, i32, narrow.getIn());
        Value odd = arith::AndIOp::create(b, loc, arith::ShRUIOp::create(b, loc, bits, constant(16)), constant(1));
        Value biased = arith::AddIOp::create(b, loc, arith::AddIOp::create(b, loc, bits, constant(0x7fff)), odd);
        Value rounded = arith::ShRUIOp::create(b, loc, biased, constant(16));
        Value isNan = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, narrow.getIn(), narrow.getIn());
        Value quiet = arith::OrIOp::create(b, loc, arith::ShRUIOp::create(b, loc, bits, constant(16)), constant(0x40));
        Value word = arith::TruncIOp::create(b, loc, i16, arith::SelectOp::create(b, loc, isNan, quiet, rounded));
        memref::StoreOp::create(b, loc, word, arg, store.getIndices());
        store.erase();
        if (narrow->use_empty())
          narrow.erase();
      } else {
        return user->emitError("a bf16 operand on the vulkan target may only be loaded and stored, not used by ")
               << user->getName();
      }
    }
    inputs[arg.getArgNumber()] = wordType;
  }
  func.setType(FunctionType::get(func.getContext(), inputs, {}));
  return success();
}

struct ConvertGpuToSpirvPass : public xf::impl::XFConvertGpuToSpirvBase<ConvertGpuToSpirvPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    SmallVector<gpu::GPUModuleOp> gpuModules(module.getOps<gpu::GPUModuleOp>());
    for (gpu::GPUModuleOp gpuModule : gpuModules) {
      // bf16 has no SPIR-V type the target takes: its buffers become i16 words.
      WalkResult words = gpuModule.walk([&](gpu::GPUFuncOp func) {
        return failed(bf16BuffersToWords(func)) ? WalkResult::interrupt() : WalkResult::advance();
      });
      if (words.wasInterrupted())
        return signalPassFailure();
      spirv::MemorySpaceToStorageClassConverter memorySpaces(spirv::mapMemorySpaceToVulkanStorageClass);
      spirv::convertMemRefTypesAndAttrs(gpuModule, memorySpaces);

      spirv::TargetEnvAttr env = spirv::lookupTargetEnvOrDefault(gpuModule);
      std::unique_ptr<ConversionTarget> target = SPIRVConversionTarget::get(env);
      // Narrower scalar types would otherwise be widened to 32 bits in the buffers' declared types, which
      // misreads 16-bit operands; they are declared with 16-bit storage instead (xf-gpu-outline-kernels).
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
