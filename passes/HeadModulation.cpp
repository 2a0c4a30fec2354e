//===- HeadModulation.cpp - per-head gains and key-token emphasis ---------===//
#include "passes/KernelOperands.h"
#include "passes/Passes.h"
#include "passes/VariantRewrites.h"


namespace mlir::xf {
#define GEN_PASS_DEF_XFHEADMODULATION
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

LogicalResult xf::addHeadGains(AttentionOp op, ArrayRef<int64_t> heads, double gain) {
  int64_t numHeads = op.getNumHeads();
  // Gains stack: a second modulation multiplies the first.
  SmallVector<double> gains(numHeads, 1.0);
  if (auto existing = op.getHeadGains())
    gains.assign(existing->begin(), existing->end());
  for (int64_t h : heads) {
    if (h < 0 || h >= numHeads)
      return op.emitOpError() << "xf-head-modulation: head " << h << " is out of range [0, " << numHeads << ")";
    gains[h] *= gain;
  }
  op.setHeadGainsAttr(Builder(op.getContext()).getDenseF64ArrayAttr(gains));
  return success();
}

void xf::addKeyEmphasis(AttentionOp op, ArrayRef<int64_t> keys, double a, bool lastRowOnly) {
  op.composeScore(
      [&](OpBuilder &b, Location loc, Value z, ValueRange bhij) -> Value {
        Value j = bhij[3];
        Value hit = arith::ConstantIntOp::create(b, loc, 0, 1);
        for (int64_t key : keys)
          hit = arith::OrIOp::create(
              b, loc, hit,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, j, arith::ConstantIndexOp::create(b, loc, key)));
        if (lastRowOnly) {
          // The last query row sits at position t - 1.
          Value last = arith::SubIOp::create(b, loc, bhij[4], arith::ConstantIndexOp::create(b, loc, 1));
          hit = arith::AndIOp::create(b, loc, hit,
                                      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, bhij[2], last));
        }
        Value factor = arith::ConstantOp::create(b, loc, b.getFloatAttr(z.getType(), a));
        Value emphasized =
            arith::AddFOp::create(b, loc, z, arith::MulFOp::create(b, loc, math::AbsFOp::create(b, loc, z), factor));
        return arith::SelectOp::create(b, loc, hit, emphasized, z);
      },
      lastRowOnly);
}

namespace {
struct HeadModulationPass : public xf::impl::XFHeadModulationBase<HeadModulationPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<xf::AttentionOp> ops;
    getOperation().walk([&](xf::AttentionOp op) { ops.push_back(op); });
    for (xf::AttentionOp op : ops) {
      if (!heads.empty() && failed(xf::addHeadGains(op, heads, gain)))
        return signalPassFailure();
      if (emphasisRows != "all" && emphasisRows != "last") {
        op.emitOpError() << "xf-head-modulation: emphasis-rows must be all or last, got '" << emphasisRows << "'";
        return signalPassFailure();
      }
      if (!emphasisKeys.empty())
        xf::addKeyEmphasis(op, emphasisKeys, emphasis, emphasisRows == "last");
    }
  }
};
} // namespace
