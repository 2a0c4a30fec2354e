//===- AttentionSinks.cpp - learned and streaming attention sinks ---------===//
#include "passes/KernelOperands.h"
#include "passes/Passes.h"

#include "mlir/IR/Verifier.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFATTENTIONSINKS
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

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
    for (xf::AttentionOp op : ops)
      if (failed(mode == "learned" ? addLearnedSinks(op) : mode == "streaming" ? makeStreaming(op) : calibrate(op)))
        return signalPassFailure();
  }

  LogicalResult addLearnedSinks(xf::AttentionOp op) {
    if (op.getSinks())
      return op.emitOpError("already has learned sinks");
    FailureOr<Value> sinks = xf::addKernelOperand(op, xf::perHeadType(op), "xf-attention-sinks");
    if (failed(sinks))
      return failure();
    op.getSinksMutable().assign(*sinks);
    return success();
  }

  LogicalResult calibrate(xf::AttentionOp op) {
    if (keys.empty() || heads.empty())
      return op.emitOpError("xf-attention-sinks: calibrated mode needs keys=... and heads=...");
    Builder b(op.getContext());
    SmallVector<int64_t> sortedKeys(keys.begin(), keys.end()), sortedHeads(heads.begin(), heads.end());
    llvm::sort(sortedKeys);
    llvm::sort(sortedHeads);
    sortedKeys.erase(std::unique(sortedKeys.begin(), sortedKeys.end()), sortedKeys.end());
    sortedHeads.erase(std::unique(sortedHeads.begin(), sortedHeads.end()), sortedHeads.end());
    op.setCalibratedKeysAttr(b.getDenseI64ArrayAttr(sortedKeys));
    op.setCalibratedHeadsAttr(b.getDenseI64ArrayAttr(sortedHeads));
    op.setCalibrationBetaAttr(b.getF64FloatAttr(beta));
    // The verifier states what is wrong with the values (range, first token, beta).
    return mlir::verify(op);
  }

  LogicalResult makeStreaming(xf::AttentionOp op) {
    int64_t keep = window ? window : op.getWindow();
    if (sinkTokens <= 0)
      return op.emitOpError() << "xf-attention-sinks: sink-tokens must be positive, got " << sinkTokens;
    if (keep <= 0)
      return op.emitOpError("xf-attention-sinks: streaming needs a window (pass window=N or give the "
                            "attention one)");
    Builder b(op.getContext());
    op.setSinkTokensAttr(b.getI64IntegerAttr(sinkTokens));
    op.setWindowAttr(b.getI64IntegerAttr(keep));
    return success();
  }
};
} // namespace
