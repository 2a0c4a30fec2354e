//===- ApproximateMath.cpp - vectorizable transcendental functions --------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFAPPROXIMATEMATH
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {
struct ApproximateMathPass : public xf::impl::XFApproximateMathBase<ApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    auto wanted = [](StringRef name) {
      return llvm::is_contained({math::ExpOp::getOperationName(), math::Exp2Op::getOperationName(),
                                 math::TanhOp::getOperationName(), math::LogOp::getOperationName(),
                                 math::ErfOp::getOperationName(), math::ExpM1Op::getOperationName(),
                                 math::Log1pOp::getOperationName()},
                                name);
    };
    populateMathF32ExpansionPatterns(patterns, wanted);
    populateMathPolynomialApproximationPatterns(patterns, wanted);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
