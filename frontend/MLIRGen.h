//===- MLIRGen.h - xf IR from a checked specification ---------------------===//
#ifndef XF_FRONTEND_MLIRGEN_H
#define XF_FRONTEND_MLIRGEN_H

#include "frontend/ModelSpec.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

#include <string>

namespace xf {

/// One public function per attention kernel, `@name(query, key, value, output) -> output` on f32
/// tensors, marked `xf.kernel`, holding one xf.attention whose `score` and `mask` regions hold the
/// block's and its user variants' expressions (softcap last).
///
/// For a model, first one such kernel per distinct layer attention (named `<model>_attention` when all
/// layers agree, `<model>_attention_window<W>` / `<model>_attention_full` when they differ only in their
/// window, `<model>_layer<N>_attention` after the first layer using it otherwise), causal as decoders
/// are, with the layer's window and the model's scale. The function lists its layers in `xf.layers`, the
/// layer's built-in variants, for the variant passes, in `xf.variants`, and model facts in `xf.model`.
///
/// Then the whole model, as two functions on tensors (`<model>_prefill`/`<model>_decode` when the spec
/// has several models; the contract is in dialect/ModelFunctions.h):
///
///   @prefill(%tokens: tensor<?x?xi32>, weights..., caches...) -> (logits [B, S, vocab], caches...)
///   @decode(%tokens: tensor<?x1xi32>, %position: index, weights..., caches...) -> (logits [B, 1, vocab], caches...)
///
/// Weights are arguments in the model's dtype named by their Hugging Face tensor (`xf.weight`); caches
/// are one key and one value tensor per layer, f32 `[B, Hkv, max_position (or ?), D]`, with the layer's
/// policy (full, sliding window, streaming sinks) in `xf.kv_cache`. The body is xf.embed, xf.rms_norm /
/// xf.layer_norm, linalg projections, xf.rope, tensor.insert_slice / extract_slice on the caches, a
/// `func.call` of the layer's attention kernel (so a variant pass rewrites each kernel once, and the
/// calls follow), the MLP in linalg or xf.moe, and the final norm and logits. @prefill fills positions
/// [0, S); @decode writes `position` and attends over [0, position]. Only the kernels have a lowering:
/// the CPU pipeline drops @prefill/@decode first (`xf-strip-model-functions`).
///
/// Locations point into `sourceMgr`'s buffers. Returns null if the module does not verify (reported
/// through the context's diagnostic handler).
mlir::OwningOpRef<mlir::ModuleOp> generateModule(mlir::MLIRContext &context, const Spec &spec,
                                                 const llvm::SourceMgr &sourceMgr);

/// A comment (`//` lines) for the top of `--emit=xf` output that says which parts of the spec's models
/// have no lowering yet (@prefill/@decode); empty if the spec has no model.
std::string describeUnloweredParts(const Spec &spec);

} // namespace xf

#endif // XF_FRONTEND_MLIRGEN_H
