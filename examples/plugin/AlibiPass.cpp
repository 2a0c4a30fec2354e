//===- AlibiPass.cpp - ALiBi as an out-of-tree xf variant -----------------===//
//
// A new attention variant written as a pass plugin: ALiBi (Press et al.) biases every score by the
// distance between query and key, z' = z - slope[h] * (i - j), with the geometric slopes
// slope[h] = 2^(-8 (h + 1) / H). The pass only adds a score region to xf.attention, so it stacks with the
// built-in variants and fuses into the same kernel.
//
// Load it with `xf-opt --load-pass-plugin=libXFAlibiPlugin.so --pass-pipeline="builtin.module(func.func(xf-alibi))"` or
// `xfc --load-pass-plugin=libXFAlibiPlugin.so --variant=xf-alibi`.
//
//===----------------------------------------------------------------------===//
#include "dialect/XFOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Tools/Plugins/PassPlugin.h"

using namespace mlir;

namespace {
struct AlibiPass : public PassWrapper<AlibiPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(AlibiPass)

  StringRef getArgument() const final { return "xf-alibi"; }
  StringRef getDescription() const final { return "ALiBi: z' = z - 2^(-8(h+1)/H) * (i - j) on every xf.attention"; }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<arith::ArithDialect, math::MathDialect>();
  }

  void runOnOperation() override {
    getOperation().walk([&](xf::AttentionOp op) { addAlibi(op); });
  }

  /// Builds the new score region: the old modifier (if any) first, then the bias.
  static void addAlibi(xf::AttentionOp op) {
    Region &score = op.getScore();
    Location loc = op.getLoc();
    OpBuilder b(op.getContext());
    Type element = op.getQueryType().getElementType(), index = b.getIndexType();
    auto *block = new Block();
    block->addArguments({element, index, index, index, index}, SmallVector<Location>(5, loc));
    b.setInsertionPointToStart(block);
    Value z = block->getArgument(0);
    if (!score.empty()) {
      IRMapping map;
      map.map(score.front().getArguments(), block->getArguments());
      for (Operation &inner : score.front().without_terminator())
        b.clone(inner, map);
      z = map.lookup(cast<xf::YieldOp>(score.front().getTerminator()).getValues()[0]);
      score.getBlocks().clear();
    }
    auto toFloat = [&](Value v) {
      Value i64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), v);
      return arith::SIToFPOp::create(b, loc, element, i64).getResult();
    };
    Value h = toFloat(block->getArgument(2));
    Value distance = toFloat(arith::SubIOp::create(b, loc, block->getArgument(3), block->getArgument(4)));
    double perHead = -8.0 / static_cast<double>(op.getNumHeads());
    Value one = arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 1.0));
    Value exponent = arith::MulFOp::create(b, loc, arith::AddFOp::create(b, loc, h, one),
                                           arith::ConstantOp::create(b, loc, b.getFloatAttr(element, perHead)));
    Value slope = math::Exp2Op::create(b, loc, exponent);
    Value biased = arith::SubFOp::create(b, loc, z, arith::MulFOp::create(b, loc, slope, distance));
    xf::YieldOp::create(b, loc, ValueRange{biased});
    score.push_back(block);
  }
};
} // namespace

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "XFAlibiPlugin", "0.1", []() { PassRegistration<AlibiPass>(); }};
}
