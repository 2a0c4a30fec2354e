//===- XFOps.cpp - xf dialect operations ----------------------------------===//
#include "dialect/XFOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::xf;

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

void AttentionOp::build(OpBuilder &b, OperationState &state, Value query, Value key, Value value,
                        Value output, int64_t numHeads, int64_t numKvHeads, double scale, bool causal,
                        int64_t window) {
  state.addOperands({query, key, value, output});
  state.getOrAddProperties<Properties>().operandSegmentSizes = {1, 1, 1, 1, 0, 0, 0, 0};
  state.addAttribute(getNumHeadsAttrName(state.name), b.getI64IntegerAttr(numHeads));
  state.addAttribute(getNumKvHeadsAttrName(state.name), b.getI64IntegerAttr(numKvHeads));
  state.addAttribute(getScaleAttrName(state.name), b.getF64FloatAttr(scale));
  state.addAttribute(getCausalAttrName(state.name), b.getBoolAttr(causal));
  state.addAttribute(getWindowAttrName(state.name), b.getI64IntegerAttr(window));
  if (isa<RankedTensorType>(output.getType()))
    state.addTypes(output.getType());
  state.addRegion();
  state.addRegion();
}

static std::string dimString(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

/// Checks that dimension `da` of `a` and `db` of `b` agree where both are static.
static LogicalResult verifyDimsAgree(AttentionOp op, StringRef aName, ShapedType a, unsigned da,
                                     StringRef bName, ShapedType b, unsigned db, StringRef what) {
  int64_t x = a.getDimSize(da), y = b.getDimSize(db);
  if (!ShapedType::isDynamic(x) && !ShapedType::isDynamic(y) && x != y)
    return op.emitOpError() << aName << " and " << bName << " disagree on " << what << " (" << x
                            << " vs " << y << ")";
  return success();
}

Type AttentionOp::getComputeType() {
  Type element = getQueryType().getElementType();
  for (Value operand : {getKey(), getValue(), getOutput()})
    if (cast<ShapedType>(operand.getType()).getElementType() != element)
      return Float32Type::get(getContext());
  return element.isBF16() || element.isF16() ? Float32Type::get(getContext()) : element;
}

LogicalResult AttentionOp::verify() {
  struct Named {
    StringRef name;
    Type type;
  };
  Named operands[] = {{"query", getQuery().getType()},
                      {"key", getKey().getType()},
                      {"value", getValue().getType()},
                      {"output", getOutput().getType()}};

  bool tensors = isa<RankedTensorType>(getQuery().getType());
  for (const Named &o : operands) {
    if (!isa<RankedTensorType, MemRefType>(o.type))
      return emitOpError() << o.name << " must be a ranked tensor or a memref, got " << o.type;
    if (isa<RankedTensorType>(o.type) != tensors)
      return emitOpError() << o.name
                           << " must be a tensor like the query or a memref like the query, not a mix";
    auto shaped = cast<ShapedType>(o.type);
    if (shaped.getRank() != 4)
      return emitOpError() << o.name << " must have rank 4 [batch, heads, seq, head_dim], got rank "
                           << shaped.getRank();
    if (!isa<FloatType>(shaped.getElementType()))
      return emitOpError() << o.name << " must have a float element type, got "
                           << shaped.getElementType();
  }
  // One element type throughout, or any mix of f32, bf16 and f16 (computed in f32).
  Type queryElement = getQueryType().getElementType();
  bool uniform = llvm::all_of(operands, [&](const Named &o) {
    return cast<ShapedType>(o.type).getElementType() == queryElement;
  });
  if (!uniform)
    for (const Named &o : operands) {
      Type element = cast<ShapedType>(o.type).getElementType();
      if (!element.isF32() && !element.isBF16() && !element.isF16())
        return emitOpError() << o.name << " element type " << element
                             << " differs from the query element type " << queryElement
                             << "; only f32, bf16 and f16 may be mixed";
    }
  Type elementType = getComputeType();

  if (tensors) {
    if (getNumResults() != 1 || getResult()[0].getType() != getOutput().getType())
      return emitOpError() << "on tensors must return exactly one result of the output type "
                           << getOutput().getType();
  } else if (getNumResults() != 0) {
    return emitOpError() << "on memrefs must not return results";
  }

  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads();
  if (heads <= 0)
    return emitOpError() << "num_heads must be positive, got " << heads;
  if (kvHeads <= 0)
    return emitOpError() << "num_kv_heads must be positive, got " << kvHeads;
  if (heads % kvHeads != 0)
    return emitOpError() << "kv heads (" << kvHeads << ") must divide query heads (" << heads << ")";

  ShapedType q = getQueryType(), k = getKeyType(), v = getValueType(), o = getOutputType();
  if (q.getDimSize(1) != heads)
    return emitOpError() << "query heads dim (" << dimString(q.getDimSize(1))
                         << ") must equal num_heads (" << heads << ")";
  if (o.getDimSize(1) != heads)
    return emitOpError() << "output heads dim (" << dimString(o.getDimSize(1))
                         << ") must equal num_heads (" << heads << ")";
  if (k.getDimSize(1) != kvHeads)
    return emitOpError() << "key heads dim (" << dimString(k.getDimSize(1))
                         << ") must equal num_kv_heads (" << kvHeads << ")";
  if (v.getDimSize(1) != kvHeads)
    return emitOpError() << "value heads dim (" << dimString(v.getDimSize(1))
                         << ") must equal num_kv_heads (" << kvHeads << ")";
  for (const Named &n : operands)
    if (ShapedType::isDynamic(cast<ShapedType>(n.type).getDimSize(3)))
      return emitOpError() << n.name << " head_dim (dim 3) must be static";
  if (q.getDimSize(3) != k.getDimSize(3))
    return emitOpError() << "query head_dim (" << q.getDimSize(3) << ") must equal key head_dim ("
                         << k.getDimSize(3) << ")";
  if (v.getDimSize(3) != o.getDimSize(3))
    return emitOpError() << "value head_dim (" << v.getDimSize(3) << ") must equal output head_dim ("
                         << o.getDimSize(3) << ")";

  if (failed(verifyDimsAgree(*this, "query", q, 0, "key", k, 0, "batch")) ||
      failed(verifyDimsAgree(*this, "query", q, 0, "value", v, 0, "batch")) ||
      failed(verifyDimsAgree(*this, "query", q, 0, "output", o, 0, "batch")) ||
      failed(verifyDimsAgree(*this, "key", k, 2, "value", v, 2, "key sequence length")) ||
      failed(verifyDimsAgree(*this, "query", q, 2, "output", o, 2, "query sequence length")))
    return failure();

  double scale = getScale().convertToDouble();
  if (!std::isfinite(scale) || scale == 0.0)
    return emitOpError() << "scale must be finite and non-zero, got " << scale;
  // I64Attr getters are unsigned; read the window signed so negative values are caught.
  int64_t window = getWindowAttr().getInt();
  if (window < 0)
    return emitOpError() << "window must be >= 0 (0 disables it), got " << window;
  int64_t sinkTokens = getSinkTokensAttr().getInt();
  if (sinkTokens < 0)
    return emitOpError() << "sink_tokens must be >= 0, got " << sinkTokens;
  if (sinkTokens > 0 && window == 0)
    return emitOpError() << "sink_tokens (" << sinkTokens
                         << ") need a window: streaming attention keeps sink tokens plus a window";
  return verifyVariantOperands(tensors, elementType);
}

/// Checks an optional per-head or per-token variant operand against the query's dims. `dims` lists, per
/// dimension of `value`, which query dimension it must match.
static LogicalResult verifyVariantOperand(AttentionOp op, Value value, StringRef name, bool tensors,
                                          Type elementType, ArrayRef<ArrayRef<unsigned>> allowedLayouts,
                                          StringRef layoutSpelling) {
  if (!value)
    return success();
  if (isa<RankedTensorType>(value.getType()) != tensors)
    return op.emitOpError() << name << " must be a tensor like the query or a memref like the query, not a mix";
  auto type = cast<ShapedType>(value.getType());
  if (type.getElementType() != elementType)
    return op.emitOpError() << name << " element type " << type.getElementType()
                            << " differs from the compute type " << elementType;
  ShapedType q = op.getQueryType();
  for (ArrayRef<unsigned> layout : allowedLayouts) {
    if (type.getRank() != static_cast<int64_t>(layout.size()))
      continue;
    for (auto [d, qd] : llvm::enumerate(layout)) {
      int64_t x = type.getDimSize(d), y = q.getDimSize(qd);
      if (!ShapedType::isDynamic(x) && !ShapedType::isDynamic(y) && x != y)
        return op.emitOpError() << name << " dim " << d << " (" << x << ") must match query dim " << qd
                                << " (" << y << "); " << name << " is " << layoutSpelling;
    }
    return success();
  }
  return op.emitOpError() << name << " must be " << layoutSpelling << ", got rank " << type.getRank();
}

LogicalResult AttentionOp::verifyVariantOperands(bool tensors, Type elementType) {
  if (static_cast<bool>(getAlpha()) != static_cast<bool>(getAlphaMa()))
    return emitOpError() << "affine scale needs both alpha and alpha_ma";
  if (static_cast<bool>(getCalibratedKeys()) != static_cast<bool>(getCalibratedHeads()))
    return emitOpError("sink calibration needs both calibrated_keys and calibrated_heads");
  if (auto keys = getCalibratedKeys()) {
    if (keys->empty() || keys->size() > 64)
      return emitOpError() << "calibrated_keys must list 1 to 64 key columns, got " << keys->size();
    for (auto [i, key] : llvm::enumerate(*keys)) {
      if (key < 1)
        return emitOpError() << "calibrated key " << key << " must be >= 1: the first token is never calibrated";
      if (i > 0 && key <= (*keys)[i - 1])
        return emitOpError("calibrated_keys must be strictly increasing");
    }
    ArrayRef<int64_t> calibratedHeads = *getCalibratedHeads();
    for (int64_t h : calibratedHeads)
      if (h < 0 || h >= static_cast<int64_t>(getNumHeads()))
        return emitOpError() << "calibrated head " << h << " is out of range [0, " << getNumHeads() << ")";
    double beta = getCalibrationBeta().convertToDouble();
    if (!(beta >= 0.0 && beta <= 1.0))
      return emitOpError() << "calibration_beta must be in [0, 1], got " << beta;
  }
  if (auto gains = getHeadGains(); gains && static_cast<int64_t>(gains->size()) != static_cast<int64_t>(getNumHeads()))
    return emitOpError() << "head_gains has " << gains->size() << " entries, expected one per head ("
                         << getNumHeads() << ")";
  StringRef activation = getAlphaActivation();
  if (activation != "none" && activation != "linear_clip" && activation != "sigmoid")
    return emitOpError() << "alpha_activation must be none, linear_clip or sigmoid, got '" << activation << "'";
  // Query dims: 0 batch, 1 heads, 2 sequence.
  if (failed(verifyVariantOperand(*this, getSinks(), "sinks", tensors, elementType, {{1}}, "[heads]")) ||
      failed(verifyVariantOperand(*this, getGates(), "gates", tensors, elementType, {{1}, {0, 1, 2}},
                                  "[heads] or [batch, heads, seq]")) ||
      failed(verifyVariantOperand(*this, getAlpha(), "alpha", tensors, elementType, {{0, 1, 2}},
                                  "[batch, heads, seq]")) ||
      failed(verifyVariantOperand(*this, getAlphaMa(), "alpha_ma", tensors, elementType, {{1}}, "[heads]")))
    return failure();
  return success();
}

/// Checks one modifier region: a single block with the given argument types and an xf.yield of one value
/// of `yieldType`, holding only side-effect-free ops.
static LogicalResult verifyModifierRegion(AttentionOp op, Region &region, StringRef name,
                                          ArrayRef<Type> argTypes, StringRef argSpelling,
                                          Type yieldType) {
  if (region.empty())
    return success();
  if (!region.hasOneBlock())
    return op.emitOpError() << name << " region must have exactly one block";
  Block &block = region.front();
  // An optional trailing `t: index` gives the modifier the key count T (e.g. "the last query row").
  SmallVector<Type> types(block.getArgumentTypes());
  bool withKeyCount = types.size() == argTypes.size() + 1 && isa<IndexType>(types.back());
  if ((types.size() != argTypes.size() && !withKeyCount) ||
      !llvm::equal(ArrayRef<Type>(types).take_front(argTypes.size()), argTypes))
    return op.emitOpError() << name << " region must take " << argSpelling
                            << ", optionally followed by t: index (the key count)";
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return op.emitOpError() << name << " region must end in xf.yield";
  if (yield.getValues().size() != 1 || yield.getValues()[0].getType() != yieldType)
    return op.emitOpError() << name << " region must yield exactly one " << yieldType;
  for (Operation &inner : block.without_terminator())
    if (!isMemoryEffectFree(&inner))
      return inner.emitOpError() << "has side effects, which are not allowed in the " << name
                                 << " region of xf.attention";
  return success();
}

LogicalResult AttentionOp::verifyRegions() {
  MLIRContext *ctx = getContext();
  Type index = IndexType::get(ctx);
  Type element = getComputeType();
  if (failed(verifyModifierRegion(*this, getScore(), "score", {element, index, index, index, index},
                                  "(z: compute type, b, h, i, j: index)", element)))
    return failure();
  return verifyModifierRegion(*this, getMask(), "mask", {index, index, index, index},
                              "(b, h, i, j: index)", IntegerType::get(ctx, 1));
}

void AttentionOp::composeScore(function_ref<Value(OpBuilder &, Location, Value, ValueRange)> modifier,
                               bool withKeyCount) {
  Region &score = getScore();
  Location loc = getLoc();
  OpBuilder b(getContext());
  Type index = b.getIndexType();
  withKeyCount |= !score.empty() && score.front().getNumArguments() == 6;
  auto *block = new Block();
  SmallVector<Type> types{getComputeType(), index, index, index, index};
  if (withKeyCount)
    types.push_back(index);
  block->addArguments(types, SmallVector<Location>(types.size(), loc));
  b.setInsertionPointToStart(block);
  Value z = block->getArgument(0);
  if (!score.empty()) {
    IRMapping map;
    map.map(score.front().getArguments(), block->getArguments().take_front(score.front().getNumArguments()));
    for (Operation &inner : score.front().without_terminator())
      b.clone(inner, map);
    z = map.lookup(cast<YieldOp>(score.front().getTerminator()).getValues()[0]);
    score.getBlocks().clear();
  }
  Value result = modifier(b, loc, z, block->getArguments().drop_front());
  YieldOp::create(b, loc, ValueRange{result});
  score.push_back(block);
}

void AttentionOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>> &effects) {
  if (hasTensorSemantics())
    return;
  for (OpOperand &operand : getOperation()->getOpOperands())
    if (&operand != &getOutputMutable())
      effects.emplace_back(MemoryEffects::Read::get(), &operand, SideEffects::DefaultResource::get());
  effects.emplace_back(MemoryEffects::Write::get(), &getOutputMutable(),
                       SideEffects::DefaultResource::get());
}

//===----------------------------------------------------------------------===//
// MoHRouterOp
//===----------------------------------------------------------------------===//

LogicalResult MoHRouterOp::verify() {
  std::pair<StringRef, Value> operands[] = {{"input", getInput()},       {"w_routed", getWRouted()},
                                            {"w_shared", getWShared()}, {"w_head", getWHead()},
                                            {"output", getOutput()}};
  bool tensors = isa<RankedTensorType>(getInput().getType());
  int64_t ranks[] = {3, 2, 2, 2, 3};
  for (auto [i, named] : llvm::enumerate(operands)) {
    auto [name, value] = named;
    if (!isa<RankedTensorType, MemRefType>(value.getType()) ||
        isa<RankedTensorType>(value.getType()) != tensors)
      return emitOpError() << name << " must be a ranked tensor or memref, like the input";
    auto type = cast<ShapedType>(value.getType());
    if (type.getRank() != ranks[i])
      return emitOpError() << name << " must have rank " << ranks[i] << ", got " << type.getRank();
    if (!type.getElementType().isF32())
      return emitOpError() << name << " must have element type f32, got " << type.getElementType();
  }
  if (tensors ? getNumResults() != 1 || getResult()[0].getType() != getOutput().getType() : getNumResults() != 0)
    return emitOpError() << (tensors ? "on tensors must return one result of the output type"
                                     : "on memrefs must not return results");
  auto input = cast<ShapedType>(getInput().getType()), out = cast<ShapedType>(getOutput().getType());
  auto routed = cast<ShapedType>(getWRouted().getType()), shared = cast<ShapedType>(getWShared().getType()),
       head = cast<ShapedType>(getWHead().getType());
  int64_t features = input.getDimSize(2);
  for (auto [name, type] : {std::pair<StringRef, ShapedType>{"w_routed", routed}, {"w_shared", shared}, {"w_head", head}})
    if (type.isDynamicDim(0) || type.getDimSize(1) != features)
      return emitOpError() << name << " must be [static rows, " << features << " input features], got "
                           << type;
  if (input.isDynamicDim(2))
    return emitOpError("input features (dim 2) must be static");
  if (head.getDimSize(0) != 2)
    return emitOpError() << "w_head must have 2 rows (shared vs routed weight), got " << head.getDimSize(0);
  int64_t sharedHeads = getSharedHeadsAttr().getInt(), topK = getTopKAttr().getInt();
  if (shared.getDimSize(0) != sharedHeads)
    return emitOpError() << "w_shared rows (" << shared.getDimSize(0) << ") must equal shared_heads ("
                         << sharedHeads << ")";
  if (sharedHeads < 1)
    return emitOpError() << "shared_heads must be >= 1, got " << sharedHeads;
  int64_t routedHeads = routed.getDimSize(0);
  if (topK < 1 || topK > routedHeads)
    return emitOpError() << "top_k (" << topK << ") must be in [1, " << routedHeads << " routed heads]";
  if (out.getDimSize(1) != sharedHeads + routedHeads)
    return emitOpError() << "output heads dim (" << out.getDimSize(1) << ") must equal shared + routed heads ("
                         << sharedHeads + routedHeads << ")";
  for (auto [d, od] : {std::pair<unsigned, unsigned>{0, 0}, {1, 2}})
    if (!input.isDynamicDim(d) && !out.isDynamicDim(od) && input.getDimSize(d) != out.getDimSize(od))
      return emitOpError() << "input dim " << d << " (" << input.getDimSize(d) << ") must equal output dim "
                           << od << " (" << out.getDimSize(od) << ")";
  if (!(getEps().convertToDouble() > 0))
    return emitOpError("eps must be positive");
  return success();
}

void MoHRouterOp::getEffects(SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>> &effects) {
  if (hasTensorSemantics())
    return;
  for (OpOperand &operand : getOperation()->getOpOperands())
    if (&operand != &getOutputMutable())
      effects.emplace_back(MemoryEffects::Read::get(), &operand, SideEffects::DefaultResource::get());
  effects.emplace_back(MemoryEffects::Write::get(), &getOutputMutable(), SideEffects::DefaultResource::get());
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto positions = cast<RankedTensorType>(getPositions().getType());
  if (input.getRank() != 4)
    return emitOpError() << "input must have rank 4 [batch, heads, seq, head_dim], got rank " << input.getRank();
  if (getResult().getType() != input)
    return emitOpError() << "result type " << getResult().getType() << " must equal the input type " << input;
  if (positions.getRank() != 1 || !positions.getElementType().isInteger(64))
    return emitOpError() << "positions must be a 1-D tensor of i64, got " << positions;
  if (!positions.isDynamicDim(0) && !input.isDynamicDim(2) && positions.getDimSize(0) != input.getDimSize(2))
    return emitOpError() << "positions (" << positions.getDimSize(0) << ") must match the input's seq dim ("
                         << input.getDimSize(2) << ")";
  int64_t rotary = getRotaryDimAttr().getInt(), headDim = input.getDimSize(3);
  if (rotary < 2 || rotary % 2 || (!input.isDynamicDim(3) && rotary > headDim))
    return emitOpError() << "rotary_dim (" << rotary << ") must be even, >= 2 and at most head_dim (" << headDim
                         << ")";
  double base = getBase().convertToDouble();
  if (!(base == 0.0 || (std::isfinite(base) && base > 1.0)))
    return emitOpError() << "base must be > 1, or 0 for auto, got " << base;
  StringRef scaling = getScaling();
  if (!llvm::is_contained({"none", "linear", "dynamic", "yarn", "llama3", "longrope"}, scaling))
    return emitOpError() << "unknown scaling '" << scaling << "'";
  auto positive = [](double x) { return std::isfinite(x) && x > 0.0; };
  double factor = getFactor().convertToDouble();
  if (scaling != "none" && !positive(factor))
    return emitOpError() << "scaling '" << scaling << "' needs a positive factor, got " << factor;
  int64_t original = getOriginalMaxPositionAttr().getInt();
  if (llvm::is_contained({"dynamic", "yarn", "llama3", "longrope"}, scaling) && original <= 0)
    return emitOpError() << "scaling '" << scaling << "' needs original_max_position > 0, got " << original;
  if (scaling == "llama3") {
    double low = getLowFreqFactor().convertToDouble(), high = getHighFreqFactor().convertToDouble();
    if (!positive(low) || !(high > low))
      return emitOpError() << "llama3 scaling needs 0 < low_freq_factor < high_freq_factor, got " << low << " and "
                           << high;
  }
  if (scaling == "yarn") {
    double fast = getBetaFast().convertToDouble(), slow = getBetaSlow().convertToDouble();
    if (!positive(slow) || !(fast > slow))
      return emitOpError() << "yarn scaling needs 0 < beta_slow < beta_fast, got " << slow << " and " << fast;
  }
  if (scaling == "longrope") {
    for (auto [name, list] : {std::pair<StringRef, std::optional<ArrayRef<double>>>{"short_factor", getShortFactor()},
                              {"long_factor", getLongFactor()}}) {
      if (!list || static_cast<int64_t>(list->size()) != rotary / 2)
        return emitOpError() << "longrope scaling needs " << name << " with rotary_dim / 2 (" << rotary / 2
                             << ") entries, got " << (list ? static_cast<int64_t>(list->size()) : 0);
      if (!llvm::all_of(*list, positive))
        return emitOpError() << name << " entries must be positive";
    }
  } else if (getShortFactor() || getLongFactor()) {
    return emitOpError() << "short_factor and long_factor belong to longrope scaling, not '" << scaling << "'";
  }
  double attentionFactor = getAttentionFactor().convertToDouble();
  if (!positive(attentionFactor))
    return emitOpError() << "attention_factor must be positive, got " << attentionFactor;
  return success();
}

//===----------------------------------------------------------------------===//
// EmbedOp
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::verify() {
  auto table = cast<RankedTensorType>(getTable().getType());
  auto ids = cast<RankedTensorType>(getIds().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  if (table.getRank() != 2 || !isa<FloatType>(table.getElementType()))
    return emitOpError() << "table must be a 2-D float tensor [vocab, hidden], got " << table;
  if (!ids.getElementType().isSignlessInteger())
    return emitOpError() << "ids must have a signless integer element type, got " << ids.getElementType();
  if (!isa<FloatType>(result.getElementType()))
    return emitOpError() << "result must have a float element type, got " << result.getElementType();
  if (result.getRank() != ids.getRank() + 1)
    return emitOpError() << "result rank (" << result.getRank() << ") must be the ids rank plus one ("
                         << ids.getRank() + 1 << "): the ids' shape followed by hidden";
  for (int64_t d = 0; d < ids.getRank(); ++d)
    if (!ids.isDynamicDim(d) && !result.isDynamicDim(d) && ids.getDimSize(d) != result.getDimSize(d))
      return emitOpError() << "result dim " << d << " (" << result.getDimSize(d) << ") must equal ids dim " << d
                           << " (" << ids.getDimSize(d) << ")";
  int64_t hidden = table.getDimSize(1), last = result.getDimSize(result.getRank() - 1);
  if (!ShapedType::isDynamic(hidden) && !ShapedType::isDynamic(last) && hidden != last)
    return emitOpError() << "result's last dim (" << last << ") must equal the table's hidden size (" << hidden << ")";
  double scale = getScale().convertToDouble();
  if (!std::isfinite(scale) || scale <= 0.0)
    return emitOpError() << "scale must be positive and finite, got " << scale;
  return success();
}

//===----------------------------------------------------------------------===//
// RmsNormOp, LayerNormOp
//===----------------------------------------------------------------------===//

/// The rules both norms share: result type = input type, float input with a static last dim, float
/// per-feature operands shaped as the input's trailing dims (one entry per feature, or per head and feature:
/// [heads, head_dim] of a [..., heads, head_dim] input), eps in (0, 1].
static LogicalResult verifyNorm(Operation *op, Value input, ArrayRef<std::pair<StringRef, Value>> perFeature,
                                Type resultType, double eps) {
  auto in = cast<RankedTensorType>(input.getType());
  if (in.getRank() < 1 || !isa<FloatType>(in.getElementType()))
    return op->emitOpError() << "input must be a float tensor of rank >= 1, got " << in;
  if (resultType != in)
    return op->emitOpError() << "result type " << resultType << " must equal the input type " << in;
  int64_t features = in.getDimSize(in.getRank() - 1);
  if (ShapedType::isDynamic(features))
    return op->emitOpError("input's last dim (the normalized features) must be static");
  for (auto [name, value] : perFeature) {
    if (!value)
      continue;
    auto t = cast<RankedTensorType>(value.getType());
    ArrayRef<int64_t> trailing = in.getShape().take_back(std::min<int64_t>(t.getRank(), in.getRank()));
    if (t.getRank() < 1 || t.getRank() > std::min<int64_t>(2, in.getRank()) || !isa<FloatType>(t.getElementType()) ||
        t.getShape() != trailing || ShapedType::isDynamicShape(t.getShape()))
      return op->emitOpError() << name << " must be a float tensor of the input's last dim (" << features
                               << " entries) or of its last two static dims, got " << t;
  }
  if (!(eps > 0.0 && eps <= 1.0))
    return op->emitOpError() << "eps must be in (0, 1], got " << eps;
  return success();
}

LogicalResult RmsNormOp::verify() {
  return verifyNorm(*this, getInput(), {{"weight", getWeight()}}, getResult().getType(),
                    getEps().convertToDouble());
}

LogicalResult LayerNormOp::verify() {
  return verifyNorm(*this, getInput(), {{"weight", getWeight()}, {"bias", getBias()}}, getResult().getType(),
                    getEps().convertToDouble());
}

//===----------------------------------------------------------------------===//
// MoEOp
//===----------------------------------------------------------------------===//

LogicalResult MoEOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto logits = cast<RankedTensorType>(getRouterLogits().getType());
  if (input.getRank() != 2 || !isa<FloatType>(input.getElementType()) || input.isDynamicDim(1))
    return emitOpError() << "input must be a float tensor [tokens, hidden] with a static hidden size, got " << input;
  if (getResult().getType() != input)
    return emitOpError() << "result type " << getResult().getType() << " must equal the input type " << input;
  if (logits.getRank() != 2 || logits.getElementType() != input.getElementType() || logits.isDynamicDim(1))
    return emitOpError() << "router_logits must be [tokens, experts] with a static expert count and the input's "
                            "element type, got "
                         << logits;
  if (!input.isDynamicDim(0) && !logits.isDynamicDim(0) && input.getDimSize(0) != logits.getDimSize(0))
    return emitOpError() << "router_logits tokens (" << logits.getDimSize(0) << ") must equal the input's ("
                         << input.getDimSize(0) << ")";
  int64_t experts = logits.getDimSize(1), hidden = input.getDimSize(1);
  auto up = cast<RankedTensorType>(getUp().getType());
  if (up.getRank() != 3 || up.isDynamicDim(2))
    return emitOpError() << "up must be [experts, hidden, intermediate] with a static intermediate size, got " << up;
  int64_t inter = up.getDimSize(2);
  struct Expected {
    StringRef name;
    Value value;
    SmallVector<int64_t> shape;
    StringRef spelling;
  };
  Expected expected[] = {
      {"gate", getGate(), {experts, hidden, inter}, "[experts, hidden, intermediate]"},
      {"up", getUp(), {experts, hidden, inter}, "[experts, hidden, intermediate]"},
      {"down", getDown(), {experts, inter, hidden}, "[experts, intermediate, hidden]"},
      {"gate_bias", getGateBias(), {experts, inter}, "[experts, intermediate]"},
      {"up_bias", getUpBias(), {experts, inter}, "[experts, intermediate]"},
      {"down_bias", getDownBias(), {experts, hidden}, "[experts, hidden]"},
  };
  for (const Expected &e : expected) {
    if (!e.value)
      continue;
    auto t = cast<RankedTensorType>(e.value.getType());
    if (!isa<FloatType>(t.getElementType()) || t.getShape() != ArrayRef<int64_t>(e.shape))
      return emitOpError() << e.name << " must be a float tensor " << e.spelling << " = ["
                           << llvm::join(llvm::map_range(e.shape, dimString), ", ") << "], got " << t;
  }
  if (getGateBias() && !getGate())
    return emitOpError("gate_bias needs a gate (a gated MLP)");
  int64_t topK = getTopKAttr().getInt();
  if (topK < 1 || topK > experts)
    return emitOpError() << "top_k (" << topK << ") must be in [1, " << experts << " experts]";
  StringRef router = getRouter();
  if (router != "softmax" && router != "sigmoid" && router != "sparsemixer")
    return emitOpError() << "router must be softmax, sigmoid or sparsemixer, got '" << router << "'";
  if (router == "sparsemixer" && (topK != 2 || getSelectionBias() || getGroupsAttr().getInt() != 1 ||
                                  getTopGroupsAttr().getInt() != 1 || getRoutedScaleAttr().getValueAsDouble() != 1.0 ||
                                  getNormMinAttr().getValueAsDouble() != 0.0))
    return emitOpError("router sparsemixer picks top_k = 2 experts without selection_bias, groups, routed_scale "
                       "or norm_min");
  if (double eps = getJitterEpsAttr().getValueAsDouble(); !(eps >= 0.0))
    return emitOpError() << "jitter_eps must be >= 0, got " << eps;
  int64_t groups = getGroupsAttr().getInt(), topGroups = getTopGroupsAttr().getInt();
  double routedScale = getRoutedScaleAttr().getValueAsDouble(), normMin = getNormMinAttr().getValueAsDouble();
  if (groups < 1 || experts % groups != 0 || (groups > 1 && experts / groups < 2))
    return emitOpError() << "groups (" << groups << ") must divide the " << experts
                         << " experts into groups of at least 2";
  if (topGroups < 1 || topGroups > groups)
    return emitOpError() << "top_groups (" << topGroups << ") must be in [1, " << groups << " groups]";
  if (!(routedScale > 0.0))
    return emitOpError() << "routed_scale must be positive, got " << routedScale;
  if (!(normMin >= 0.0) || (normMin > 0.0 && !getNormTopK()))
    return emitOpError() << "norm_min must be >= 0 and needs norm_top_k, got " << normMin;
  if (Value bias = getSelectionBias()) {
    // ERNIE 4.5 stores it [1, experts].
    auto t = cast<RankedTensorType>(bias.getType());
    bool shaped = t.getShape() == ArrayRef<int64_t>{experts} || t.getShape() == ArrayRef<int64_t>{1, experts};
    if (!isa<FloatType>(t.getElementType()) || !shaped)
      return emitOpError() << "selection_bias must be a float tensor [experts] or [1, experts] with " << experts
                           << " experts, got " << t;
  }
  StringRef act = getActivation();
  if (!llvm::is_contained({"silu", "gelu", "gelu_tanh", "relu"}, act))
    return emitOpError() << "activation must be silu, gelu, gelu_tanh or relu, got '" << act << "'";
  if (std::optional<APFloat> limit = getLimit()) {
    if (!getGate())
      return emitOpError("limit (clamped SwiGLU) needs a gate (a gated MLP)");
    if (!(limit->convertToDouble() > 0.0))
      return emitOpError() << "limit must be positive, got " << limit->convertToDouble();
  }
  return success();
}

#define GET_OP_CLASSES
#include "dialect/XFOps.cpp.inc"
