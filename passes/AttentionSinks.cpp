//===- AttentionSinks.cpp - learned and streaming attention sinks ---------===//
#include "passes/KernelOperands.h"
#include "passes/Passes.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFATTENTIONSINKS
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {
struct AttentionSinksPass : public xf::impl::XFAttentionSinksBase<AttentionSinksPass> {
  using Base::Base;

  void runOnOperation() override {
    if (mode != "learned" && mode != "streaming") {
      getOperation().emitError() << "xf-attention-sinks: unknown mode '" << mode
                                 << "' (expected learned or streaming)";
      return signalPassFailure();
    }
    SmallVector<xf::AttentionOp> ops;
    getOperation().walk([&](xf::AttentionOp op) { ops.push_back(op); });
    for (xf::AttentionOp op : ops)
      if (failed(mode == "learned" ? addLearnedSinks(op) : makeStreaming(op)))
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
