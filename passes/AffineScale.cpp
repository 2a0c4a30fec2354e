//===- AffineScale.cpp - affine-scaled attention --------------------------===//
#include "dialect/ModelFunctions.h"
#include "passes/KernelOperands.h"
#include "passes/Passes.h"
#include "passes/VariantRewrites.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFAFFINESCALE
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;
namespace model = mlir::xf::model;

LogicalResult xf::addAffineScale(AttentionOp op, StringRef activation) {
  if (activation != "linear_clip" && activation != "sigmoid" && activation != "none")
    return op.emitOpError() << "affine scaling: unknown activation '" << activation
                            << "' (expected linear_clip, sigmoid or none)";
  if (op.hasAffineScale())
    return op.emitOpError("already has affine scaling");
  // Calls from @prefill/@decode compute alpha = W_a x from the layer's attention input x (the normalized
  // input of q_proj) with the weight `self_attn.alpha_proj.weight` [H, hidden], and pass the frozen
  // moving average `self_attn.alpha_ma` [H].
  int64_t heads = op.getNumHeads();
  Type element = op.getComputeType();
  FailureOr<Value> alpha = addKernelOperand(
      op, perTokenType(op), "xf-affine-scale", [&](OpBuilder &b, func::CallOp call, int64_t layer) -> FailureOr<Value> {
        FailureOr<Value> x = callerAttentionInput(call, layer, "xf-affine-scale");
        if (failed(x))
          return failure();
        // [tokens, hidden] x [heads, hidden]^T, then [batch, seq, heads] -> [batch, heads, seq].
        int64_t hidden = cast<RankedTensorType>(x->getType()).getDimSize(1);
        Value w = callerLayerWeight(b, call, layer, "alpha_proj.weight", {heads, hidden}, element);
        Value projected = model::linear(b, call.getLoc(), *x, w);
        return model::transpose(b, call.getLoc(), splitTokensLikeQuery(b, call, projected), {0, 2, 1});
      });
  if (failed(alpha))
    return failure();
  FailureOr<Value> alphaMa = addKernelOperand(
      op, perHeadType(op), "xf-affine-scale", [&](OpBuilder &b, func::CallOp call, int64_t layer) -> FailureOr<Value> {
        return callerLayerWeight(b, call, layer, "alpha_ma", {heads}, element);
      });
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
