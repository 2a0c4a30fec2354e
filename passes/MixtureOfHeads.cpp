//===- MixtureOfHeads.cpp - router kernel and head gates ------------------===//
#include "dialect/ModelFunctions.h"
#include "passes/KernelOperands.h"
#include "passes/Passes.h"
#include "passes/VariantRewrites.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFMIXTUREOFHEADS
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;
namespace model = mlir::xf::model;

LogicalResult xf::addMixtureOfHeads(AttentionOp op, int64_t sharedHeads, int64_t topK, int64_t hidden) {
  int64_t heads = op.getNumHeads();
  if (hidden <= 0)
    return op.emitOpError("xf-mixture-of-heads needs the router's input size: pass hidden=N");
  if (sharedHeads < 1 || sharedHeads >= heads)
    return op.emitOpError() << "xf-mixture-of-heads: shared-heads (" << sharedHeads << ") must be in [1, "
                            << heads << ")";
  if (topK < 1 || topK > heads - sharedHeads)
    return op.emitOpError() << "xf-mixture-of-heads: top-k (" << topK << ") must be in [1, "
                            << heads - sharedHeads << " routed heads]";
  if (op.getGates())
    return op.emitOpError("xf-mixture-of-heads: the attention already has head gates");
  if (!op.hasTensorSemantics())
    return op.emitOpError("xf-mixture-of-heads runs on tensor-level IR, before bufferization");
  auto gatesType = cast<RankedTensorType>(perTokenType(op));

  // The router kernel, next to the attention kernel.
  auto kernel = op->getParentOfType<func::FuncOp>();
  if (!kernel)
    return op.emitOpError("xf-mixture-of-heads: the attention must be in a kernel function");
  OpBuilder b(kernel);
  b.setInsertionPointAfter(kernel);
  Location loc = op.getLoc();
  Type f32 = b.getF32Type();
  ShapedType q = op.getQueryType();
  auto inputType = RankedTensorType::get({q.getDimSize(0), q.getDimSize(2), hidden}, f32);
  auto routedType = RankedTensorType::get({heads - sharedHeads, hidden}, f32);
  auto sharedType = RankedTensorType::get({sharedHeads, hidden}, f32);
  auto headType = RankedTensorType::get({2, hidden}, f32);
  auto router = func::FuncOp::create(
      b, loc, (kernel.getSymName() + "_router").str(),
      b.getFunctionType({inputType, routedType, sharedType, headType, gatesType}, {gatesType}));
  router->setAttr("xf.kernel", b.getUnitAttr());
  Block *entry = router.addEntryBlock();
  OpBuilder body = OpBuilder::atBlockEnd(entry);
  auto route = xf::MoHRouterOp::create(body, loc, TypeRange{gatesType}, entry->getArgument(0),
                                       entry->getArgument(1), entry->getArgument(2), entry->getArgument(3),
                                       entry->getArgument(4), b.getI64IntegerAttr(sharedHeads),
                                       b.getI64IntegerAttr(topK), b.getF64FloatAttr(1.0e-6));
  func::ReturnOp::create(body, loc, route.getResult());

  // Calls from @prefill/@decode run the router on the layer's attention input first, with the weights
  // `self_attn.moh_router.{w_routed, w_shared, w_head}`, and pass its gates.
  FailureOr<Value> gates = addKernelOperand(
      op, gatesType, "xf-mixture-of-heads", [&](OpBuilder &cb, func::CallOp call, int64_t layer) -> FailureOr<Value> {
        FailureOr<Value> tokens = callerAttentionInput(call, layer, "xf-mixture-of-heads");
        if (failed(tokens))
          return failure();
        Location cloc = call.getLoc();
        Value x = splitTokensLikeQuery(cb, call, *tokens);
        SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(cb, cloc, x);
        ArrayRef<Type> params = router.getFunctionType().getInputs();
        Value init = model::emptyTensor(cb, cloc, {sizes[0], cb.getIndexAttr(heads), sizes[1]}, f32);
        SmallVector<Value> operands{
            model::castTo(cb, cloc, x, params[0]),
            model::castTo(cb, cloc, callerLayerWeight(cb, call, layer, "moh_router.w_routed", routedType.getShape(), f32),
                          params[1]),
            model::castTo(cb, cloc, callerLayerWeight(cb, call, layer, "moh_router.w_shared", sharedType.getShape(), f32),
                          params[2]),
            model::castTo(cb, cloc, callerLayerWeight(cb, call, layer, "moh_router.w_head", headType.getShape(), f32),
                          params[3]),
            model::castTo(cb, cloc, init, params[4])};
        auto route = func::CallOp::create(cb, cloc, router, operands);
        route->setAttr(model::kLayerAttr, cb.getI64IntegerAttr(layer));
        return route.getResult(0);
      });
  if (failed(gates)) {
    router.erase();
    return failure();
  }
  op.getGatesMutable().assign(*gates);
  return success();
}

namespace {
struct MixtureOfHeadsPass : public xf::impl::XFMixtureOfHeadsBase<MixtureOfHeadsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<xf::AttentionOp> ops;
    getOperation().walk([&](xf::AttentionOp op) { ops.push_back(op); });
    for (xf::AttentionOp op : ops)
      if (failed(xf::addMixtureOfHeads(op, sharedHeads, topK, hidden)))
        return signalPassFailure();
  }
};
} // namespace
