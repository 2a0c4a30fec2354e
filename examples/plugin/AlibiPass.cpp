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

  /// Adds the bias after the existing score modifier (if any), so ALiBi stacks with other variants.
  static void addAlibi(xf::AttentionOp op) {
    double perHead = -8.0 / static_cast<double>(op.getNumHeads());
    op.composeScore([&](OpBuilder &b, Location loc, Value z, ValueRange bhij) -> Value {
      Type element = z.getType();
      auto toFloat = [&](Value v) {
        Value i64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), v);
        return arith::SIToFPOp::create(b, loc, element, i64).getResult();
      };
      Value h = toFloat(bhij[1]);
      Value distance = toFloat(arith::SubIOp::create(b, loc, bhij[2], bhij[3]));
      Value one = arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 1.0));
      Value exponent = arith::MulFOp::create(b, loc, arith::AddFOp::create(b, loc, h, one),
                                             arith::ConstantOp::create(b, loc, b.getFloatAttr(element, perHead)));
      Value slope = math::Exp2Op::create(b, loc, exponent);
      return arith::SubFOp::create(b, loc, z, arith::MulFOp::create(b, loc, slope, distance));
    });
  }
};
} // namespace

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "XFAlibiPlugin", "0.1", []() { PassRegistration<AlibiPass>(); }};
}
