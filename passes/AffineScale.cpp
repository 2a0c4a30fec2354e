//===- AffineScale.cpp - affine-scaled attention --------------------------===//
#include "passes/KernelOperands.h"
#include "passes/Passes.h"
#include "passes/VariantRewrites.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFAFFINESCALE
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

LogicalResult xf::addAffineScale(AttentionOp op, StringRef activation) {
  if (activation != "linear_clip" && activation != "sigmoid" && activation != "none")
    return op.emitOpError() << "affine scaling: unknown activation '" << activation
                            << "' (expected linear_clip, sigmoid or none)";
  if (op.hasAffineScale())
    return op.emitOpError("already has affine scaling");
  FailureOr<Value> alpha = addKernelOperand(op, perTokenType(op), "xf-affine-scale");
  if (failed(alpha))
    return failure();
  FailureOr<Value> alphaMa = addKernelOperand(op, perHeadType(op), "xf-affine-scale");
  if (failed(alphaMa))
    return failure();
  op.getAlphaMutable().assign(*alpha);
  op.getAlphaMaMutable().assign(*alphaMa);
  op.setAlphaActivation(activation);
  return success();
}

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
    for (xf::AttentionOp op : ops)
      if (failed(xf::addAffineScale(op, activation)))
        return signalPassFailure();
  }
};
} // namespace
