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
/// For a model, only its attention is generated so far: one such kernel per distinct layer attention
/// (named `<model>_attention` when all layers agree, `<model>_attention_window<W>` /
/// `<model>_attention_full` when they differ only in their window, `<model>_layer<N>_attention` after the
/// first layer using it otherwise), causal as decoders are, with the layer's window and the model's scale.
/// The function lists its layers in `xf.layers` and the layer's built-in variants, for the variant passes,
/// in `xf.variants`. Embeddings, norms, RoPE, the MLP and @prefill/@decode are not generated yet.
///
/// Locations point into `sourceMgr`'s buffers. Returns null if the module does not verify (reported
/// through the context's diagnostic handler).
mlir::OwningOpRef<mlir::ModuleOp> generateModule(mlir::MLIRContext &context, const Spec &spec,
                                                 const llvm::SourceMgr &sourceMgr);

/// A comment (`//` lines) for the top of `--emit=xf` output that says which parts of the spec's models
/// are not lowered yet; empty if the spec has no model.
std::string describeUnloweredParts(const Spec &spec);

} // namespace xf

#endif // XF_FRONTEND_MLIRGEN_H
