//===- AttentionSinks.cpp - learned, streaming and calibrated sinks -------===//
#include "dialect/ModelFunctions.h"
#include "passes/KernelOperands.h"
#include "passes/Passes.h"
#include "passes/VariantRewrites.h"

#include "mlir/IR/Verifier.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFATTENTIONSINKS
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;
namespace model = mlir::xf::model;

LogicalResult xf::addLearnedSinks(AttentionOp op) {
  if (op.getSinks())
    return op.emitOpError("already has learned sinks");
  // Calls from @prefill/@decode pass the layer's sink logits, HF's `self_attn.sinks` weight.
  int64_t heads = op.getNumHeads();
  Type element = op.getComputeType();
  FailureOr<Value> sinks = addKernelOperand(
      op, perHeadType(op), "xf-attention-sinks", [&](OpBuilder &b, func::CallOp call, int64_t layer) -> FailureOr<Value> {
        return callerLayerWeight(b, call, layer, "sinks", {heads}, element);
      });
  if (failed(sinks))
    return failure();
  op.getSinksMutable().assign(*sinks);
  return success();
}

LogicalResult xf::makeStreaming(AttentionOp op, int64_t sinkTokens, int64_t window) {
  int64_t keep = window ? window : static_cast<int64_t>(op.getWindow());
  if (sinkTokens <= 0)
    return op.emitOpError() << "streaming sinks: sink tokens must be positive, got " << sinkTokens;
  if (keep <= 0)
    return op.emitOpError("streaming sinks need a window (give the variant or the attention one)");
  Builder b(op.getContext());
  op.setSinkTokensAttr(b.getI64IntegerAttr(sinkTokens));
  op.setWindowAttr(b.getI64IntegerAttr(keep));
  // The layers that call this kernel keep their caches under the new policy.
  if (auto kernel = op->getParentOfType<func::FuncOp>())
    forEachModelCall(kernel, [&](func::CallOp call, int64_t layer) {
      model::setCachePolicy(call->getParentOfType<func::FuncOp>(), layer, model::cachePolicy(b, keep, sinkTokens));
    });
  return success();
}

LogicalResult xf::calibrateSinks(AttentionOp op, ArrayRef<int64_t> keys, ArrayRef<int64_t> heads, double beta) {
  if (keys.empty() || heads.empty())
    return op.emitOpError("sink calibration needs the key columns and the heads to calibrate");
  SmallVector<int64_t> sortedKeys(keys), sortedHeads(heads);
  llvm::sort(sortedKeys);
  llvm::sort(sortedHeads);
  sortedKeys.erase(std::unique(sortedKeys.begin(), sortedKeys.end()), sortedKeys.end());
  sortedHeads.erase(std::unique(sortedHeads.begin(), sortedHeads.end()), sortedHeads.end());
  Builder b(op.getContext());
  op.setCalibratedKeysAttr(b.getDenseI64ArrayAttr(sortedKeys));
  op.setCalibratedHeadsAttr(b.getDenseI64ArrayAttr(sortedHeads));
  op.setCalibrationBetaAttr(b.getF64FloatAttr(beta));
  // The verifier states what is wrong with the values (range, first token, beta).
  return verify(op);
}

namespace {
struct AttentionSinksPass : public xf::impl::XFAttentionSinksBase<AttentionSinksPass> {
  using Base::Base;

  void runOnOperation() override {
    if (mode != "learned" && mode != "streaming" && mode != "calibrated") {
      getOperation().emitError() << "xf-attention-sinks: unknown mode '" << mode
                                 << "' (expected learned, streaming or calibrated)";
      return signalPassFailure();
    }
    SmallVector<xf::AttentionOp> ops;
    getOperation().walk([&](xf::AttentionOp op) { ops.push_back(op); });
    for (xf::AttentionOp op : ops) {
      LogicalResult result = mode == "learned"     ? xf::addLearnedSinks(op)
                             : mode == "streaming" ? xf::makeStreaming(op, sinkTokens, window)
                                                   : xf::calibrateSinks(op, keys, heads, beta);
      if (failed(result))
        return signalPassFailure();
    }
  }
};
} // namespace
