//===- ModelFunctions.cpp - the contract of @prefill and @decode -----------===//
#include "dialect/ModelFunctions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"

using namespace mlir;

std::string xf::model::layerTensorName(int64_t layer, StringRef leaf) {
  return ("model.layers." + Twine(layer) + "." + leaf).str();
}

bool xf::model::isModelFunction(func::FuncOp f) { return f->hasAttr(kEntryAttr); }

Type xf::model::weightElementType(func::FuncOp f) {
  if (auto facts = f->getAttrOfType<DictionaryAttr>(kModelAttr))
    if (auto dtype = facts.getAs<TypeAttr>("dtype"))
      return dtype.getValue();
  return Float32Type::get(f.getContext());
}

BlockArgument xf::model::addArgumentBeforeCaches(func::FuncOp f, Type type, DictionaryAttr attrs) {
  unsigned index = f.getNumArguments();
  for (unsigned i = 0; i < f.getNumArguments(); ++i)
    if (f.getArgAttr(i, kCacheAttr)) {
      index = i;
      break;
    }
  // Cannot fail for a func.func with a body: the argument is added to the entry block too.
  (void)f.insertArgument(index, type, attrs, f.getLoc());
  return f.getArgument(index);
}

std::string xf::model::storedTensorName(func::FuncOp f, StringRef name) {
  auto facts = f->getAttrOfType<DictionaryAttr>(kModelAttr);
  auto pairs = facts ? facts.getAs<ArrayAttr>(kTensorPrefixesFact) : ArrayAttr();
  for (Attribute pair : pairs ? pairs.getValue() : ArrayRef<Attribute>()) {
    auto strings = dyn_cast<ArrayAttr>(pair);
    if (!strings || strings.size() != 2)
      continue;
    auto from = dyn_cast<StringAttr>(strings[0]), to = dyn_cast<StringAttr>(strings[1]);
    if (from && to && name.starts_with(from.getValue()))
      return (to.getValue() + name.drop_front(from.size())).str();
  }
  return name.str();
}

Value xf::model::getOrAddWeight(func::FuncOp f, StringRef canonical, ArrayRef<int64_t> shape) {
  std::string name = storedTensorName(f, canonical);
  for (unsigned i = 0; i < f.getNumArguments(); ++i)
    if (auto attr = f.getArgAttrOfType<StringAttr>(i, kWeightAttr); attr && attr.getValue() == name)
      return f.getArgument(i);
  Builder b(f.getContext());
  auto type = RankedTensorType::get(shape, weightElementType(f));
  return addArgumentBeforeCaches(f, type, b.getDictionaryAttr({b.getNamedAttr(kWeightAttr, b.getStringAttr(name))}));
}

Value xf::model::attentionInput(func::FuncOp f, int64_t layer) {
  Value found;
  f.walk([&](Operation *op) {
    auto attr = op->getAttrOfType<IntegerAttr>(kAttentionInputAttr);
    if (attr && attr.getInt() == layer && op->getNumResults() == 1) {
      found = op->getResult(0);
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return found;
}

NamedAttrList xf::model::cachePolicy(Builder &b, int64_t window, int64_t sinkTokens) {
  NamedAttrList policy;
  if (sinkTokens > 0) {
    policy.set("policy", b.getStringAttr("streaming"));
    policy.set("sink_tokens", b.getI64IntegerAttr(sinkTokens));
    policy.set("window", b.getI64IntegerAttr(window));
  } else if (window > 0) {
    policy.set("policy", b.getStringAttr("sliding_window"));
    policy.set("window", b.getI64IntegerAttr(window));
  } else {
    policy.set("policy", b.getStringAttr("full"));
  }
  return policy;
}

void xf::model::setCachePolicy(func::FuncOp f, int64_t layer, const NamedAttrList &policy) {
  MLIRContext *ctx = f.getContext();
  auto update = [&](DictionaryAttr cache) -> DictionaryAttr {
    auto at = cache ? cache.getAs<IntegerAttr>("layer") : IntegerAttr();
    if (!at || at.getInt() != layer)
      return {};
    NamedAttrList entry(policy);
    entry.set("kind", cache.get("kind"));
    entry.set("layer", at);
    return entry.getDictionary(ctx);
  };
  for (unsigned i = 0; i < f.getNumArguments(); ++i)
    if (DictionaryAttr updated = update(f.getArgAttrOfType<DictionaryAttr>(i, kCacheAttr)))
      f.setArgAttr(i, kCacheAttr, updated);
  for (unsigned i = 0; i < f.getNumResults(); ++i)
    if (DictionaryAttr updated = update(f.getResultAttrOfType<DictionaryAttr>(i, kCacheAttr)))
      f.setResultAttr(i, kCacheAttr, updated);
}

Value xf::model::emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes, Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value xf::model::castTo(OpBuilder &b, Location loc, Value v, Type type) {
  if (v.getType() == type)
    return v;
  return tensor::CastOp::create(b, loc, type, v);
}

Value xf::model::mapElements(OpBuilder &b, Location loc, ValueRange inputs, Type resultElement,
                             function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  Value first = inputs.front();
  auto type = cast<RankedTensorType>(first.getType());
  Value init = emptyTensor(b, loc, tensor::getMixedSizes(b, loc, first), resultElement);
  SmallVector<AffineMap> maps(inputs.size() + 1, b.getMultiDimIdentityMap(type.getRank()));
  SmallVector<utils::IteratorType> iterators(type.getRank(), utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, body(nb, nloc, args.drop_back()));
      });
  return generic.getResult(0);
}

Value xf::model::convertElements(OpBuilder &b, Location loc, Value v, Type elementType) {
  Type from = cast<RankedTensorType>(v.getType()).getElementType();
  if (from == elementType)
    return v;
  bool widen = from.getIntOrFloatBitWidth() < elementType.getIntOrFloatBitWidth();
  return mapElements(b, loc, v, elementType, [&](OpBuilder &nb, Location nloc, ValueRange x) -> Value {
    if (widen)
      return arith::ExtFOp::create(nb, nloc, elementType, x[0]);
    return arith::TruncFOp::create(nb, nloc, elementType, x[0]);
  });
}

Value xf::model::transpose(OpBuilder &b, Location loc, Value v, ArrayRef<int64_t> permutation) {
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, v), permuted;
  for (int64_t p : permutation)
    permuted.push_back(sizes[p]);
  Value init = emptyTensor(b, loc, permuted, cast<RankedTensorType>(v.getType()).getElementType());
  return linalg::TransposeOp::create(b, loc, v, init, permutation).getResult()[0];
}

Value xf::model::linear(OpBuilder &b, Location loc, Value x, Value weight, Value bias) {
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(weight.getType());
  Type f32 = xType.getElementType();
  SmallVector<OpFoldResult> sizes{tensor::getMixedSizes(b, loc, x)[0], b.getIndexAttr(wType.getDimSize(0))};
  Value init = emptyTensor(b, loc, sizes, f32);
  if (bias) {
    // The accumulator starts as the bias, broadcast over tokens.
    MLIRContext *ctx = b.getContext();
    AffineExpr t, o;
    bindDims(ctx, t, o);
    SmallVector<AffineMap> maps{AffineMap::get(2, 0, {o}, ctx), AffineMap::get(2, 0, {t, o}, ctx)};
    init = linalg::GenericOp::create(b, loc, TypeRange{init.getType()}, ValueRange{bias}, ValueRange{init}, maps,
                                     {utils::IteratorType::parallel, utils::IteratorType::parallel},
                                     [&](OpBuilder &nb, Location nloc, ValueRange args) {
                                       Value v = args[0];
                                       if (v.getType() != f32)
                                         v = arith::ExtFOp::create(nb, nloc, f32, v);
                                       linalg::YieldOp::create(nb, nloc, v);
                                     })
               .getResult(0);
  } else {
    Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(f32, 0.0));
    init = linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{init}).getResult(0);
  }
  auto matmul = linalg::MatmulOp::create(b, loc, TypeRange{init.getType()}, ValueRange{x, weight}, ValueRange{init});
  // y[m, n] = sum_k x[m, k] * W[n, k]: B is read transposed, in the nn.Linear layout the weights are stored in.
  MLIRContext *ctx = b.getContext();
  AffineExpr m, n, k;
  bindDims(ctx, m, n, k);
  matmul.setIndexingMapsAttr(b.getAffineMapArrayAttr({AffineMap::get(3, 0, {m, k}, ctx),
                                                      AffineMap::get(3, 0, {n, k}, ctx),
                                                      AffineMap::get(3, 0, {m, n}, ctx)}));
  return matmul.getResult(0);
}

Value xf::model::splitTokens(OpBuilder &b, Location loc, Value x, OpFoldResult batch, OpFoldResult seq) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<OpFoldResult> sizes{batch, seq};
  SmallVector<int64_t> shape;
  for (OpFoldResult s : sizes) {
    std::optional<int64_t> c = getConstantIntValue(s);
    shape.push_back(c ? *c : ShapedType::kDynamic);
  }
  SmallVector<ReassociationIndices> reassociation{{0, 1}};
  for (int64_t d = 1; d < type.getRank(); ++d) {
    sizes.push_back(tensor::getMixedSize(b, loc, x, d));
    shape.push_back(type.getDimSize(d));
    reassociation.push_back({d + 1});
  }
  auto result = RankedTensorType::get(shape, type.getElementType());
  return tensor::ExpandShapeOp::create(b, loc, result, x, reassociation, sizes);
}
