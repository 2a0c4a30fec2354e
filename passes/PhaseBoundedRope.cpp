//===- PhaseBoundedRope.cpp - RoPE bases within their phase bounds --------===//
#include "dialect/XFOps.h"
#include "passes/Passes.h"
#include "passes/RopeBounds.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFPHASEBOUNDEDROPE
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {
struct PhaseBoundedRopePass : public xf::impl::XFPhaseBoundedRopeBase<PhaseBoundedRopePass> {
  using Base::Base;

  void runOnOperation() override {
    if (context <= 0 || depth <= 0 || !(eps > 0 && eps < 1) || mantissaBits <= 0 ||
        (severity != "error" && severity != "warning")) {
      getOperation()->emitError("xf-phase-bounded-rope: needs context > 0, depth > 0, 0 < eps < 1, "
                                "mantissa-bits > 0 and severity error|warning");
      return signalPassFailure();
    }
    bool failedAny = false;
    getOperation()->walk([&](xf::RopeOp op) {
      if (op.getRotaryDimAttr().getInt() <= 2) {
        op.emitError("xf-phase-bounded-rope needs more than 2 rotary dims (the bounds divide by d - 2)");
        failedAny = true;
        return;
      }
      xf::RopeBoundsInput input{op.getRotaryDimAttr().getInt(), context, depth, eps, mantissaBits};
      xf::RopeBounds bounds = xf::computeRopeBounds(input);
      std::string setting = llvm::formatv("context {0}, depth {1} (eps {2}, {3}-bit angles)", context, depth,
                                          llvm::format("%g", static_cast<double>(eps)), mantissaBits);
      std::string interval = llvm::formatv("[{0:F0}, {1:F0})", bounds.lower(), bounds.precisionMax);
      double base = op.getBase().convertToDouble();
      if (base == 0.0) {
        if (!bounds.feasible()) {
          op.emitError() << "no RoPE base satisfies " << setting << ": the bounds need base >= "
                         << llvm::formatv("{0:F0}", bounds.lower()) << " but below "
                         << llvm::formatv("{0:F0}", bounds.precisionMax);
          failedAny = true;
          return;
        }
        op.setBaseAttr(Builder(op.getContext()).getF64FloatAttr(bounds.autoBase()));
        return;
      }
      std::string violations = bounds.violations(base);
      if (violations.empty())
        return;
      InFlightDiagnostic diag = severity == "warning" ? op.emitWarning() : op.emitError();
      diag << "RoPE base " << llvm::formatv("{0}", llvm::format("%.6g", base)).str() << " fails for " << setting << ": " << violations << "; feasible bases: "
           << (bounds.feasible() ? interval : std::string("none"));
      failedAny |= severity == "error";
    });
    if (failedAny)
      signalPassFailure();
  }
};
} // namespace
