//===- KernelOperands.h - variant operands of attention kernels -----------===//
#ifndef XF_PASSES_KERNELOPERANDS_H
#define XF_PASSES_KERNELOPERANDS_H

#include "dialect/XFOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::xf {

/// Variant passes on a kernel (a function whose attention output is its own argument) take the variant's
/// data as new kernel arguments, inserted before the output so that the output stays the last operand
/// (the runtime ABI). Fails, with an error naming `passName`, when the attention is not such a kernel.
FailureOr<Value> addKernelOperand(AttentionOp op, Type type, StringRef passName);

/// The type of a per-head ([H]) or per-token ([B, H, S]) variant operand in the op's form (tensor or
/// memref), with the query's dims.
ShapedType perHeadType(AttentionOp op);
ShapedType perTokenType(AttentionOp op);

} // namespace mlir::xf

#endif // XF_PASSES_KERNELOPERANDS_H
