//===- KernelOperands.h - variant operands of attention kernels -----------===//
#ifndef XF_PASSES_KERNELOPERANDS_H
#define XF_PASSES_KERNELOPERANDS_H

#include "dialect/XFOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::xf {

/// The value a call of a kernel from a model function (@prefill, @decode: dialect/ModelFunctions.h)
/// passes for an operand a variant adds to the kernel, built before `call` for the layer the call
/// carries in `xf.layer`: a layer weight (learned sinks), or a value computed from the layer's attention
/// input (MoH gates, affine alpha).
using CallSiteOperand = llvm::function_ref<FailureOr<Value>(OpBuilder &b, func::CallOp call, int64_t layer)>;

/// Variant passes on a kernel (a function whose attention output is its own argument) take the variant's
/// data as new kernel arguments, inserted before the output so that the output stays the last operand
/// (the runtime ABI). Fails, with an error naming `passName`, when the attention is not such a kernel.
///
/// Every call of the kernel gets the new operand too, so @prefill/@decode keep calling their kernels
/// correctly however many variants stack: `atCalls` builds it at calls from model functions; without
/// one, the model function takes it as a new argument marked `xf.variant_input = {layer, pass}`. A call
/// from any other function is an error. Passes that use it edit the callers, so they run on the module.
FailureOr<Value> addKernelOperand(AttentionOp op, Type type, StringRef passName, CallSiteOperand atCalls = nullptr);

/// Calls `fn` for every call of `kernel` from a model function, with the layer the call is for.
void forEachModelCall(func::FuncOp kernel, llvm::function_ref<void(func::CallOp call, int64_t layer)> fn);

/// The type of a per-head ([H]) or per-token ([B, H, S]) variant operand in the op's form (tensor or
/// memref), with the query's dims.
ShapedType perHeadType(AttentionOp op);
ShapedType perTokenType(AttentionOp op);

/// At a call site: the model function's weight `self_attn.<leaf>` of `layer` with `shape`, added as an
/// argument if missing, converted to `elementType`.
Value callerLayerWeight(OpBuilder &b, func::CallOp call, int64_t layer, StringRef leaf, ArrayRef<int64_t> shape,
                        Type elementType);
/// At a call site: the layer's attention input, [tokens, hidden] (tokens = batch * seq). Fails with an
/// error naming `passName` if the model function marks none.
FailureOr<Value> callerAttentionInput(func::CallOp call, int64_t layer, StringRef passName);
/// At a call site: a per-token value [tokens, ...] as [batch, seq, ...], batch and seq taken from the
/// call's query operand.
Value splitTokensLikeQuery(OpBuilder &b, func::CallOp call, Value tokens);

} // namespace mlir::xf

#endif // XF_PASSES_KERNELOPERANDS_H
