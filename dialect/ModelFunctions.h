//===- ModelFunctions.h - the contract of @prefill and @decode -------------===//
//
// A model's whole-model functions (`@prefill`, `@decode`; frontend/MLIRGen.h) are ordinary func.func ops
// on tensors. What makes them readable by the runtime and by the variant rewrites is a handful of
// attributes, the Hugging Face tensor names of their weights, and a few conventions, all stated here so
// the frontend that writes them and the passes that edit them agree:
//
// - the function carries `xf.entry = "prefill" | "decode"` and `xf.model` (name, dtype, sizes);
// - every weight argument carries `xf.weight = "<HF tensor name>"`; every KV-cache argument and result
//   `xf.kv_cache = {kind = "key"|"value", layer, policy = "full"|"sliding_window"|"streaming", ...}`;
//   weights come before the caches, and variants add weights just before the first cache;
// - each layer's attention is a `func.call` of that layer's attention kernel carrying `xf.layer = N`;
// - the op whose result is layer N's attention input (the normalized hidden states, [tokens, hidden])
//   carries `xf.attention_input = N`, so a variant that needs it (MoH router, affine alpha) can find it.
//
//===----------------------------------------------------------------------===//
#ifndef XF_DIALECT_MODELFUNCTIONS_H
#define XF_DIALECT_MODELFUNCTIONS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace mlir::xf::model {

inline constexpr llvm::StringLiteral kEntryAttr = "xf.entry";
inline constexpr llvm::StringLiteral kModelAttr = "xf.model";
inline constexpr llvm::StringLiteral kWeightAttr = "xf.weight";
inline constexpr llvm::StringLiteral kCacheAttr = "xf.kv_cache";
inline constexpr llvm::StringLiteral kOutputAttr = "xf.output";
inline constexpr llvm::StringLiteral kLayerAttr = "xf.layer";
inline constexpr llvm::StringLiteral kAttentionInputAttr = "xf.attention_input";
/// An input a variant pass added without saying how to compute it (e.g. from a plugin).
inline constexpr llvm::StringLiteral kVariantInputAttr = "xf.variant_input";

/// `model.layers.<layer>.<leaf>`, the Hugging Face name of a layer's tensor.
std::string layerTensorName(int64_t layer, llvm::StringRef leaf);

/// Whether `f` is a whole-model function (`xf.entry`).
bool isModelFunction(func::FuncOp f);

/// The element type the model stores its weights in (`xf.model`'s dtype; f32 if absent).
Type weightElementType(func::FuncOp f);

/// Adds an argument to the model function `f` just before its first KV cache (at the end if it has
/// none) and returns it.
BlockArgument addArgumentBeforeCaches(func::FuncOp f, Type type, DictionaryAttr attrs);

/// The entry of the model facts (kModelAttr) that lists, for architectures whose checkpoints name their
/// tensors other than Llama's, pairs [Llama-style prefix, stored prefix]; a name takes the first that matches.
inline constexpr llvm::StringLiteral kTensorPrefixesFact = "tensor_prefixes";
/// `name` as the checkpoint of model function `f` stores it (see kTensorPrefixesFact).
std::string storedTensorName(func::FuncOp f, llvm::StringRef name);

/// The argument of `f` that holds the weight `name` (a Llama-style name, stored as storedTensorName says),
/// added (with the model's weight element type and `shape`) if `f` has none yet.
Value getOrAddWeight(func::FuncOp f, llvm::StringRef name, ArrayRef<int64_t> shape);

/// Layer `layer`'s attention input in `f` ([tokens, hidden], f32), or null if `f` marks none.
Value attentionInput(func::FuncOp f, int64_t layer);

/// The KV-cache policy of a layer (`policy`, and `window` / `sink_tokens` where they apply): the entries
/// `xf.kv_cache` holds besides `kind` and `layer`.
NamedAttrList cachePolicy(Builder &b, int64_t window, int64_t sinkTokens);
/// Sets the policy of layer `layer`'s cache arguments and results in `f`.
void setCachePolicy(func::FuncOp f, int64_t layer, const NamedAttrList &policy);

//===----------------------------------------------------------------------===//
// Builders of the upstream ops model functions are made of
//===----------------------------------------------------------------------===//

/// `tensor.empty` of the given sizes.
Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes, Type elementType);
/// `v` as `type` (a `tensor.cast` when they differ).
Value castTo(OpBuilder &b, Location loc, Value v, Type type);
/// An elementwise `linalg.generic` over `inputs` of one shape (the first input's), producing
/// `resultElement`; `body` maps the input scalars to the result scalar.
Value mapElements(OpBuilder &b, Location loc, ValueRange inputs, Type resultElement,
                  llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body);
/// `v` converted elementwise to `elementType` (extf / truncf); `v` itself if it already has it.
Value convertElements(OpBuilder &b, Location loc, Value v, Type elementType);
/// `linalg.transpose` of `v` by `permutation`.
Value transpose(OpBuilder &b, Location loc, Value v, ArrayRef<int64_t> permutation);
/// `x W^T (+ bias)` for token-major `x` [tokens, in] (f32) and an nn.Linear weight [out, in] in any
/// float type: one `linalg.matmul` with a transposed-B indexing map, accumulating into the broadcast
/// bias (or zeros). Returns [tokens, out] f32.
Value linear(OpBuilder &b, Location loc, Value x, Value weight, Value bias = {});
/// [tokens, ...] as [batch, seq, ...] (`tensor.expand_shape` of the first dim).
Value splitTokens(OpBuilder &b, Location loc, Value x, OpFoldResult batch, OpFoldResult seq);

} // namespace mlir::xf::model

#endif // XF_DIALECT_MODELFUNCTIONS_H
