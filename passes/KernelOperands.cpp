//===- KernelOperands.cpp - variant operands of attention kernels ---------===//
#include "passes/KernelOperands.h"

#include "dialect/ModelFunctions.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;
namespace model = mlir::xf::model;

/// Passes the kernel's new argument `index` at every call of `kernel` in its module.
static LogicalResult supplyAtCalls(func::FuncOp kernel, unsigned index, StringRef passName,
                                   xf::CallSiteOperand atCalls) {
  auto module = kernel->getParentOfType<ModuleOp>();
  if (!module)
    return success();
  std::optional<SymbolTable::UseRange> uses = SymbolTable::getSymbolUses(kernel, module);
  if (!uses)
    return success();
  SmallVector<func::CallOp> calls;
  for (const SymbolTable::SymbolUse &use : *uses)
    if (auto call = dyn_cast<func::CallOp>(use.getUser()))
      calls.push_back(call);
  Type type = kernel.getArgument(index).getType();
  for (func::CallOp call : calls) {
    auto caller = call->getParentOfType<func::FuncOp>();
    auto layer = call->getAttrOfType<IntegerAttr>(model::kLayerAttr);
    if (!caller || !model::isModelFunction(caller) || !layer)
      return call.emitOpError() << passName << " adds an operand to @" << kernel.getSymName()
                                << ", which only calls from @prefill/@decode (xf.entry, xf.layer) can supply";
    OpBuilder b(call);
    Value value;
    if (atCalls) {
      FailureOr<Value> built = atCalls(b, call, layer.getInt());
      if (failed(built))
        return failure();
      value = model::castTo(b, call.getLoc(), *built, type);
    } else {
      Builder attrs(call.getContext());
      DictionaryAttr what = attrs.getDictionaryAttr(
          {attrs.getNamedAttr("layer", layer), attrs.getNamedAttr("pass", attrs.getStringAttr(passName))});
      value = model::addArgumentBeforeCaches(
          caller, type, attrs.getDictionaryAttr({attrs.getNamedAttr(model::kVariantInputAttr, what)}));
    }
    call->insertOperands(index, value);
  }
  return success();
}

FailureOr<Value> xf::addKernelOperand(AttentionOp op, Type type, StringRef passName, CallSiteOperand atCalls) {
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
  if (failed(supplyAtCalls(func, index, passName, atCalls)))
    return failure();
  return Value(func.getArgument(index));
}

void xf::forEachModelCall(func::FuncOp kernel, function_ref<void(func::CallOp, int64_t)> fn) {
  auto module = kernel->getParentOfType<ModuleOp>();
  if (!module)
    return;
  std::optional<SymbolTable::UseRange> uses = SymbolTable::getSymbolUses(kernel, module);
  if (!uses)
    return;
  for (const SymbolTable::SymbolUse &use : *uses) {
    auto call = dyn_cast<func::CallOp>(use.getUser());
    auto caller = call ? call->getParentOfType<func::FuncOp>() : func::FuncOp();
    auto layer = call ? call->getAttrOfType<IntegerAttr>(model::kLayerAttr) : IntegerAttr();
    if (caller && layer && model::isModelFunction(caller))
      fn(call, layer.getInt());
  }
}

static ShapedType withDims(xf::AttentionOp op, ArrayRef<int64_t> dims) {
  Type element = op.getComputeType();
  if (op.hasTensorSemantics())
    return RankedTensorType::get(dims, element);
  return MemRefType::get(dims, element);
}

ShapedType xf::perHeadType(AttentionOp op) { return withDims(op, {op.getQueryType().getDimSize(1)}); }

ShapedType xf::perTokenType(AttentionOp op) {
  ShapedType q = op.getQueryType();
  return withDims(op, {q.getDimSize(0), q.getDimSize(1), q.getDimSize(2)});
}

Value xf::callerLayerWeight(OpBuilder &b, func::CallOp call, int64_t layer, StringRef leaf, ArrayRef<int64_t> shape,
                            Type elementType) {
  auto caller = call->getParentOfType<func::FuncOp>();
  Value w = model::getOrAddWeight(caller, model::layerTensorName(layer, ("self_attn." + leaf).str()), shape);
  return model::convertElements(b, call.getLoc(), w, elementType);
}

FailureOr<Value> xf::callerAttentionInput(func::CallOp call, int64_t layer, StringRef passName) {
  Value x = model::attentionInput(call->getParentOfType<func::FuncOp>(), layer);
  if (!x)
    return call.emitOpError() << passName << " needs layer " << layer
                              << "'s attention input, which the model function does not mark (xf.attention_input)";
  return x;
}

Value xf::splitTokensLikeQuery(OpBuilder &b, func::CallOp call, Value tokens) {
  Location loc = call.getLoc();
  Value query = call.getOperand(0);
  Value batch = tensor::DimOp::create(b, loc, query, 0), seq = tensor::DimOp::create(b, loc, query, 2);
  return model::splitTokens(b, loc, tokens, batch, seq);
}
