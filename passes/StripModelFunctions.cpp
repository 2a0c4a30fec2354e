//===- StripModelFunctions.cpp - keep only what the CPU pipeline lowers ----===//
//
// @prefill and @decode (xf.entry) are xf IR for whole models, but only their attention kernels have a
// lowering yet. The CPU pipeline starts by dropping them, so the kernels (which they call, and which do
// not call them) compile exactly as they do for a spec with no model functions.
//
//===----------------------------------------------------------------------===//
#include "dialect/ModelFunctions.h"
#include "passes/Passes.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFSTRIPMODELFUNCTIONS
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {
struct StripModelFunctionsPass : public xf::impl::XFStripModelFunctionsBase<StripModelFunctionsPass> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> entries;
    for (auto f : getOperation().getOps<func::FuncOp>())
      if (xf::model::isModelFunction(f))
        entries.push_back(f);
    // Nothing calls a model function, so erasing them leaves no dangling symbol use.
    for (func::FuncOp f : entries)
      f.erase();
  }
};
} // namespace
