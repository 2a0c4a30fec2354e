//===- AffineScale.cpp - affine-scaled attention --------------------------===//
#include "passes/KernelOperands.h"
#include "passes/Passes.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFAFFINESCALE
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {
struct AffineScalePass : public xf::impl::XFAffineScaleBase<AffineScalePass> {
  using Base::Base;

  void runOnOperation() override {
    if (activation != "linear_clip" && activation != "sigmoid" && activation != "none") {
      getOperation().emitError() << "xf-affine-scale: unknown activation '" << activation
                                 << "' (expected linear_clip, sigmoid or none)";
      return signalPassFailure();
    }
    SmallVector<xf::AttentionOp> ops;
    getOperation().walk([&](xf::AttentionOp op) { ops.push_back(op); });
    for (xf::AttentionOp op : ops) {
      if (op.hasAffineScale()) {
        op.emitOpError("already has affine scaling");
        return signalPassFailure();
      }
      FailureOr<Value> alpha = xf::addKernelOperand(op, xf::perTokenType(op), "xf-affine-scale");
      if (failed(alpha))
        return signalPassFailure();
      FailureOr<Value> alphaMa = xf::addKernelOperand(op, xf::perHeadType(op), "xf-affine-scale");
      if (failed(alphaMa))
        return signalPassFailure();
      op.getAlphaMutable().assign(*alpha);
      op.getAlphaMaMutable().assign(*alphaMa);
      op.setAlphaActivation(activation);
    }
  }
};
} // namespace
