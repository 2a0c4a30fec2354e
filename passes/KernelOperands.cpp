//===- KernelOperands.cpp - variant operands of attention kernels ---------===//
#include "passes/KernelOperands.h"

using namespace mlir;

FailureOr<Value> xf::addKernelOperand(AttentionOp op, Type type, StringRef passName) {
  auto func = op->getParentOfType<func::FuncOp>();
  auto output = dyn_cast<BlockArgument>(op.getOutput());
  if (!func || !output || output.getOwner() != &func.getBody().front())
    return op.emitOpError() << passName
                            << " adds the variant's data as a kernel argument, so the attention's output must "
                               "be an argument of its function",
           failure();
  unsigned index = output.getArgNumber();
  if (failed(func.insertArgument(index, type, {}, op.getLoc())))
    return failure();
  return Value(func.getArgument(index));
}

static ShapedType withDims(xf::AttentionOp op, ArrayRef<int64_t> dims) {
  Type element = op.getQueryType().getElementType();
  if (op.hasTensorSemantics())
    return RankedTensorType::get(dims, element);
  return MemRefType::get(dims, element);
}

ShapedType xf::perHeadType(AttentionOp op) { return withDims(op, {op.getQueryType().getDimSize(1)}); }

ShapedType xf::perTokenType(AttentionOp op) {
  ShapedType q = op.getQueryType();
  return withDims(op, {q.getDimSize(0), q.getDimSize(1), q.getDimSize(2)});
}
