//===- HeadModulation.cpp - per-head gains and key-token emphasis ---------===//
#include "passes/KernelOperands.h"
#include "passes/Passes.h"


namespace mlir::xf {
#define GEN_PASS_DEF_XFHEADMODULATION
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {
struct HeadModulationPass : public xf::impl::XFHeadModulationBase<HeadModulationPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<xf::AttentionOp> ops;
    getOperation().walk([&](xf::AttentionOp op) { ops.push_back(op); });
    for (xf::AttentionOp op : ops) {
      if (!heads.empty() && failed(addGains(op)))
        return signalPassFailure();
      if (!emphasisKeys.empty())
        addEmphasis(op);
    }
  }

  LogicalResult addGains(xf::AttentionOp op) {
    int64_t numHeads = op.getNumHeads();
    if (op.getGates())
      return op.emitOpError("xf-head-modulation: the attention already has head gates; combining gate "
                            "sources is not supported");
    if (!op.hasTensorSemantics())
      return op.emitOpError("xf-head-modulation runs on tensor-level IR, before bufferization");
    SmallVector<float> gains(numHeads, 1.0f);
    for (int64_t h : heads) {
      if (h < 0 || h >= numHeads)
        return op.emitOpError() << "xf-head-modulation: head " << h << " is out of range [0, " << numHeads
                                << ")";
      gains[h] = static_cast<float>(gain);
    }
    OpBuilder b(op);
    auto type = RankedTensorType::get({numHeads}, b.getF32Type());
    Value gates = arith::ConstantOp::create(b, op.getLoc(), DenseElementsAttr::get(type, ArrayRef<float>(gains)));
    op.getGatesMutable().assign(gates);
    return success();
  }

  /// z' = z + a |z| on the emphasized keys, applied after the existing score modifier if any.
  void addEmphasis(xf::AttentionOp op) {
    op.composeScore([&](OpBuilder &b, Location loc, Value z, ValueRange bhij) -> Value {
      Value j = bhij[3];
      Value hit = arith::ConstantIntOp::create(b, loc, 0, 1);
      for (int64_t key : emphasisKeys)
        hit = arith::OrIOp::create(
            b, loc, hit,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, j, arith::ConstantIndexOp::create(b, loc, key)));
      Value a = arith::ConstantOp::create(b, loc, b.getFloatAttr(z.getType(), emphasis));
      Value emphasized =
          arith::AddFOp::create(b, loc, z, arith::MulFOp::create(b, loc, math::AbsFOp::create(b, loc, z), a));
      return arith::SelectOp::create(b, loc, hit, emphasized, z);
    });
  }
};
} // namespace
