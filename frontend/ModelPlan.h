//===- ModelPlan.h - what the runtime needs to run a model ----------------===//
//
// The CPU runtime runs a model layer by layer: dense ops through its Halide kernels, attention through the
// artifact's compiled kernels. The plan tells it everything about the model that is not in a kernel: sizes,
// norms, the MLP, the RoPE inverse frequencies (computed here, once, with every scaling rule applied), and
// which compiled kernel each layer's attention is. It travels in the artifact's `xf_module_info` under
// "model" (see docs/Rationale.md, "Running models").
//
//===----------------------------------------------------------------------===//
#ifndef XF_FRONTEND_MODELPLAN_H
#define XF_FRONTEND_MODELPLAN_H

#include "frontend/ModelSpec.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/JSON.h"

#include <string>
#include <vector>

namespace xf {

/// Inverse frequencies of the rotary dims (rotaryDim / 2 entries) and the factor cos and sin are multiplied
/// by, as Hugging Face's rope initialization functions compute them for `rope` (default, linear, llama3,
/// yarn, longrope; dynamic NTK starts as default and is rescaled by the runtime past the original context).
struct RopeFrequencies {
  std::vector<double> invFreq;
  std::vector<double> longInvFreq; // longrope only: used once the sequence exceeds the original context
  double attentionFactor = 1.0;
};
RopeFrequencies computeRopeFrequencies(const RopeSpec &rope, int64_t rotaryDim, int64_t maxPosition);

/// The plan of `model` as JSON; `module` is the generated module, whose `xf.layers` kernel attributes say
/// which kernel serves which layer. Fails (with a message in `error`) for specs the runtime cannot run.
llvm::Expected<llvm::json::Value> describeModelPlan(const ModelSpec &model, mlir::ModuleOp module);

} // namespace xf

#endif // XF_FRONTEND_MODELPLAN_H
