//===- MLIRGen.cpp - xf IR from a checked specification -------------------===//
#include "frontend/MLIRGen.h"

#include <cmath>

#include "dialect/ModelFunctions.h"
#include "dialect/XFOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Transforms/CSE.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using ::xf::ScalarType;
using ::xf::TypedExpr;
using ExprOp = ::xf::TypedExpr::Op;
namespace model = ::mlir::xf::model;

namespace {

Location locationOf(MLIRContext &ctx, const llvm::SourceMgr &sm, llvm::SMLoc loc) {
  if (!loc.isValid())
    return UnknownLoc::get(&ctx);
  unsigned buffer = sm.FindBufferContainingLoc(loc);
  if (!buffer)
    return UnknownLoc::get(&ctx);
  auto [line, col] = sm.getLineAndColumn(loc, buffer);
  return FileLineColLoc::get(&ctx, sm.getMemoryBuffer(buffer)->getBufferIdentifier(), line, col);
}

/// Emits a TypedExpr with arith/math/vector ops: Int is `index`, Float `f32`, Bool `i1`. Lists indexed at
/// run time become vector constants read with a dynamic `vector.extract`: the region must stay free of
/// memory effects, and a tensor constant would bufferize into a memref load.
class ExprEmitter {
public:
  ExprEmitter(OpBuilder &b, Location loc, Value z, ValueRange bhij) : b(b), loc(loc), z(z), bhij(bhij) {}

  Value emit(const TypedExpr &e) {
    Type f32 = b.getF32Type(), index = b.getIndexType(), i1 = b.getI1Type();
    auto ops = [&](size_t k) { return emit(*e.operands[k]); };
    bool isFloat = !e.operands.empty() && e.operands[0]->type == ScalarType::Float;
    switch (e.op) {
    case ExprOp::Const:
      switch (e.type) {
      case ScalarType::Int:
        return arith::ConstantIndexOp::create(b, loc, e.intValue);
      case ScalarType::Float:
        return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(static_cast<float>(e.floatValue)));
      case ScalarType::Bool:
        return arith::ConstantIntOp::create(b, loc, e.boolValue, 1);
      }
      break;
    case ExprOp::Var:
      switch (e.var) {
      case 'z':
        return z;
      case 'b':
        return bhij[0];
      case 'h':
        return bhij[1];
      case 'i':
        return bhij[2];
      default:
        return bhij[3];
      }
    case ExprOp::Neg:
      if (e.type == ScalarType::Float)
        return arith::NegFOp::create(b, loc, ops(0));
      return arith::SubIOp::create(b, loc, arith::ConstantIndexOp::create(b, loc, 0), ops(0));
    case ExprOp::Not:
      return arith::XOrIOp::create(b, loc, ops(0), arith::ConstantIntOp::create(b, loc, 1, 1));
    case ExprOp::Add:
      return isFloat ? Value(arith::AddFOp::create(b, loc, ops(0), ops(1)))
                     : Value(arith::AddIOp::create(b, loc, ops(0), ops(1)));
    case ExprOp::Sub:
      return isFloat ? Value(arith::SubFOp::create(b, loc, ops(0), ops(1)))
                     : Value(arith::SubIOp::create(b, loc, ops(0), ops(1)));
    case ExprOp::Mul:
      return isFloat ? Value(arith::MulFOp::create(b, loc, ops(0), ops(1)))
                     : Value(arith::MulIOp::create(b, loc, ops(0), ops(1)));
    case ExprOp::Div:
      if (isFloat)
        return arith::DivFOp::create(b, loc, ops(0), ops(1));
      return floorDivMod(ops(0), e.operands[1]->intValue, /*wantQuotient=*/true);
    case ExprOp::Mod:
      return floorDivMod(ops(0), e.operands[1]->intValue, /*wantQuotient=*/false);
    case ExprOp::Lt:
    case ExprOp::Le:
    case ExprOp::Gt:
    case ExprOp::Ge:
    case ExprOp::Eq:
    case ExprOp::Ne:
      return compare(e.op, isFloat, ops(0), ops(1));
    case ExprOp::And:
      return arith::AndIOp::create(b, loc, ops(0), ops(1));
    case ExprOp::Or:
      return arith::OrIOp::create(b, loc, ops(0), ops(1));
    case ExprOp::Select:
      return arith::SelectOp::create(b, loc, ops(0), ops(1), ops(2));
    case ExprOp::Min:
      return isFloat ? Value(arith::MinimumFOp::create(b, loc, ops(0), ops(1)))
                     : Value(arith::MinSIOp::create(b, loc, ops(0), ops(1)));
    case ExprOp::Max:
      return isFloat ? Value(arith::MaximumFOp::create(b, loc, ops(0), ops(1)))
                     : Value(arith::MaxSIOp::create(b, loc, ops(0), ops(1)));
    case ExprOp::Abs: {
      Value x = ops(0);
      if (isFloat)
        return math::AbsFOp::create(b, loc, x);
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value negative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, zero);
      return arith::SelectOp::create(b, loc, negative, arith::SubIOp::create(b, loc, zero, x), x);
    }
    case ExprOp::Exp:
      return math::ExpOp::create(b, loc, ops(0));
    case ExprOp::Log:
      return math::LogOp::create(b, loc, ops(0));
    case ExprOp::Sqrt:
      return math::SqrtOp::create(b, loc, ops(0));
    case ExprOp::Tanh:
      return math::TanhOp::create(b, loc, ops(0));
    case ExprOp::ToFloat: {
      Value i64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), ops(0));
      return arith::SIToFPOp::create(b, loc, f32, i64);
    }
    case ExprOp::Lookup: {
      int64_t n = e.type == ScalarType::Float ? e.floatTable.size() : e.intTable.size();
      Value i = ops(0);
      i = arith::MaxSIOp::create(b, loc, i, arith::ConstantIndexOp::create(b, loc, 0));
      i = arith::MinSIOp::create(b, loc, i, arith::ConstantIndexOp::create(b, loc, n - 1));
      Attribute table;
      if (e.type == ScalarType::Float) {
        SmallVector<float> values(e.floatTable.begin(), e.floatTable.end());
        table = DenseElementsAttr::get(VectorType::get({n}, f32), ArrayRef<float>(values));
      } else if (e.type == ScalarType::Bool) {
        SmallVector<bool> values;
        for (int64_t v : e.intTable)
          values.push_back(v != 0);
        table = DenseElementsAttr::get(VectorType::get({n}, i1), ArrayRef<bool>(values));
      } else {
        table = DenseElementsAttr::get(VectorType::get({n}, b.getI64Type()), ArrayRef<int64_t>(e.intTable));
      }
      Value vec = arith::ConstantOp::create(b, loc, cast<TypedAttr>(table));
      Value x = vector::ExtractOp::create(b, loc, vec, ArrayRef<OpFoldResult>{OpFoldResult(i)});
      if (e.type == ScalarType::Int)
        return arith::IndexCastOp::create(b, loc, index, x);
      return x;
    }
    }
    llvm_unreachable("unhandled expression");
  }

private:
  /// Floor division or floored modulo (Python's `//` and `%`) by a non-zero constant.
  Value floorDivMod(Value a, int64_t divisor, bool wantQuotient) {
    Value c = arith::ConstantIndexOp::create(b, loc, divisor);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value r = arith::RemSIOp::create(b, loc, a, c);
    // The truncated remainder has the sign of `a`; it needs a correction when that differs from the
    // divisor's sign.
    Value adjust = arith::CmpIOp::create(b, loc, divisor > 0 ? arith::CmpIPredicate::slt : arith::CmpIPredicate::sgt,
                                         r, zero);
    if (wantQuotient) {
      Value q = arith::DivSIOp::create(b, loc, a, c);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      return arith::SelectOp::create(b, loc, adjust, arith::SubIOp::create(b, loc, q, one), q);
    }
    return arith::SelectOp::create(b, loc, adjust, arith::AddIOp::create(b, loc, r, c), r);
  }

  Value compare(ExprOp op, bool isFloat, Value x, Value y) {
    if (isFloat) {
      arith::CmpFPredicate p = op == ExprOp::Lt   ? arith::CmpFPredicate::OLT
                               : op == ExprOp::Le ? arith::CmpFPredicate::OLE
                               : op == ExprOp::Gt ? arith::CmpFPredicate::OGT
                               : op == ExprOp::Ge ? arith::CmpFPredicate::OGE
                               : op == ExprOp::Eq ? arith::CmpFPredicate::OEQ
                                              : arith::CmpFPredicate::UNE;
      return arith::CmpFOp::create(b, loc, p, x, y);
    }
    arith::CmpIPredicate p = op == ExprOp::Lt   ? arith::CmpIPredicate::slt
                             : op == ExprOp::Le ? arith::CmpIPredicate::sle
                             : op == ExprOp::Gt ? arith::CmpIPredicate::sgt
                             : op == ExprOp::Ge ? arith::CmpIPredicate::sge
                             : op == ExprOp::Eq ? arith::CmpIPredicate::eq
                                            : arith::CmpIPredicate::ne;
    return arith::CmpIOp::create(b, loc, p, x, y);
  }

  OpBuilder &b;
  Location loc;
  Value z;
  ValueRange bhij;
};

/// Everything one kernel function needs.
struct KernelRequest {
  std::string name;
  Location loc;
  ::xf::AttentionConfig config;
  std::vector<::xf::VariantSpec> variants;
  std::vector<int64_t> layers; // for models
  const ::xf::ModelSpec *model = nullptr;
  const ::xf::RopeSpec *rope = nullptr; // the RoPE of its layers (models)
};

Type elementTypeOf(MLIRContext *ctx, ::xf::DType t) {
  switch (t) {
  case ::xf::DType::F32:
    return Float32Type::get(ctx);
  case ::xf::DType::F16:
    return Float16Type::get(ctx);
  case ::xf::DType::BF16:
    return BFloat16Type::get(ctx);
  }
  return Float32Type::get(ctx);
}

void buildKernel(OpBuilder &b, ModuleOp module, const KernelRequest &k) {
  MLIRContext *ctx = b.getContext();
  const ::xf::AttentionConfig &a = k.config;
  Location loc = k.loc;
  auto dim = [](const ::xf::Extent &e) { return e.value ? *e.value : ShapedType::kDynamic; };
  Type f32 = b.getF32Type();
  Type qoElement = elementTypeOf(ctx, a.dtype), kvElement = elementTypeOf(ctx, a.kvDtype);
  int64_t batch = dim(a.batch), seqQ = dim(a.seqQ), seqK = dim(a.seqK);
  auto qType = RankedTensorType::get({batch, a.heads, seqQ, a.headDim}, qoElement);
  auto kType = RankedTensorType::get({batch, a.kvHeads, seqK, a.headDim}, kvElement);
  auto vType = RankedTensorType::get({batch, a.kvHeads, seqK, a.headDimV}, kvElement);
  auto oType = RankedTensorType::get({batch, a.heads, seqQ, a.headDimV}, qoElement);
  b.setInsertionPointToEnd(module.getBody());
  auto func = func::FuncOp::create(b, loc, k.name, b.getFunctionType({qType, kType, vType, oType}, {oType}));
  func->setAttr("xf.kernel", b.getUnitAttr());
  if (!k.layers.empty())
    func->setAttr("xf.layers", b.getDenseI64ArrayAttr(k.layers));
  SmallVector<Attribute> builtin;
  for (const ::xf::VariantSpec &v : k.variants) {
    if (!v.builtin)
      continue;
    SmallVector<NamedAttribute> entries{b.getNamedAttr("name", b.getStringAttr(v.name))};
    for (const auto &[key, value] : v.params) {
      Attribute attr;
      switch (value.kind) {
      case ::xf::ParamValue::Kind::Int:
        attr = b.getI64IntegerAttr(value.intValue);
        break;
      case ::xf::ParamValue::Kind::Float:
        attr = b.getF64FloatAttr(value.floatValue);
        break;
      case ::xf::ParamValue::Kind::Bool:
        attr = b.getBoolAttr(value.boolValue);
        break;
      case ::xf::ParamValue::Kind::Word:
        attr = b.getStringAttr(value.word);
        break;
      case ::xf::ParamValue::Kind::IntList:
        attr = b.getDenseI64ArrayAttr(value.list);
        break;
      }
      entries.push_back(b.getNamedAttr(key, attr));
    }
    builtin.push_back(DictionaryAttr::get(ctx, entries));
  }
  if (!builtin.empty())
    func->setAttr("xf.variants", b.getArrayAttr(builtin));
  // The model facts the variant passes need: the router's input size (MoH), the RoPE base and rotary dims
  // and the depth (phase-bounded RoPE).
  if (const ::xf::ModelSpec *m = k.model) {
    const ::xf::RopeSpec &rope = k.rope ? *k.rope : m->rope;
    int64_t rotary =
        m->latent.enabled() ? m->latent.ropeDim : static_cast<int64_t>(std::llround(a.headDim * rope.partial));
    func->setAttr("xf.model", b.getDictionaryAttr({
                                  b.getNamedAttr("hidden", b.getI64IntegerAttr(m->hidden)),
                                  b.getNamedAttr("layers", b.getI64IntegerAttr(m->numLayers)),
                                  b.getNamedAttr("max_position", b.getI64IntegerAttr(m->maxPosition)),
                                  b.getNamedAttr("rope_base", b.getF64FloatAttr(rope.baseAuto ? 0.0 : rope.base)),
                                  b.getNamedAttr("rotary_dim", b.getI64IntegerAttr(rotary)),
                              }));
  }

  Block *entry = func.addEntryBlock();
  OpBuilder body = OpBuilder::atBlockEnd(entry);
  auto attention = mlir::xf::AttentionOp::create(body, loc, entry->getArgument(0), entry->getArgument(1),
                                                 entry->getArgument(2), entry->getArgument(3), a.heads, a.kvHeads,
                                                 a.scale(), a.causal, a.window);
  // Score modifiers compose in order (the block's, then each variant's), softcap last; masks are and-ed.
  std::vector<const TypedExpr *> scores, masks;
  if (a.score)
    scores.push_back(a.score.get());
  if (a.mask)
    masks.push_back(a.mask.get());
  for (const ::xf::VariantSpec &v : k.variants) {
    if (v.score)
      scores.push_back(v.score.get());
    if (v.mask)
      masks.push_back(v.mask.get());
  }
  Type index = b.getIndexType();
  if (!scores.empty() || a.softcap) {
    Block *block = body.createBlock(&attention.getScore(), {}, {f32, index, index, index, index},
                                    SmallVector<Location>(5, loc));
    OpBuilder rb = OpBuilder::atBlockEnd(block);
    Value z = block->getArgument(0);
    for (const TypedExpr *s : scores)
      z = ExprEmitter(rb, loc, z, block->getArguments().drop_front()).emit(*s);
    if (a.softcap) {
      Value c = arith::ConstantOp::create(rb, loc, rb.getF32FloatAttr(static_cast<float>(*a.softcap)));
      Value t = math::TanhOp::create(rb, loc, arith::DivFOp::create(rb, loc, z, c));
      z = arith::MulFOp::create(rb, loc, c, t);
    }
    mlir::xf::YieldOp::create(rb, loc, ValueRange{z});
  }
  if (!masks.empty()) {
    Block *block = body.createBlock(&attention.getMask(), {}, {index, index, index, index},
                                    SmallVector<Location>(4, loc));
    OpBuilder rb = OpBuilder::atBlockEnd(block);
    Value keep;
    for (const TypedExpr *m : masks) {
      Value v = ExprEmitter(rb, loc, Value(), block->getArguments()).emit(*m);
      keep = keep ? Value(arith::AndIOp::create(rb, loc, keep, v)) : v;
    }
    mlir::xf::YieldOp::create(rb, loc, ValueRange{keep});
  }
  body.setInsertionPointToEnd(entry);
  func::ReturnOp::create(body, loc, attention.getResult());
}

std::string sanitize(llvm::StringRef name) {
  std::string s;
  for (char c : name)
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
    s = "m_" + s;
  return s;
}

/// The model's distinct layer attentions, each with the layers that use it, named as MLIRGen.h says.
std::vector<KernelRequest> modelKernels(MLIRContext &ctx, const ::xf::ModelSpec &m, const llvm::SourceMgr &sm) {
  std::vector<KernelRequest> kernels;
  Location loc = locationOf(ctx, sm, m.loc);
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const ::xf::LayerSpec &layer = m.layers[l];
    // Layers share a kernel only with the same RoPE too: the phase-bounded RoPE variant reads its base.
    const ::xf::RopeSpec *rope = &m.ropeOf(l);
    auto it = llvm::find_if(kernels, [&](const KernelRequest &k) {
      return k.config == layer.attention && k.variants == layer.variants && k.rope == rope;
    });
    if (it == kernels.end()) {
      kernels.push_back({"", loc, layer.attention, layer.variants, {}, &m, rope});
      it = std::prev(kernels.end());
    }
    it->layers.push_back(l);
  }
  std::string base = sanitize(m.name);
  bool onlyWindows = llvm::all_of(kernels, [&](const KernelRequest &k) {
    ::xf::AttentionConfig a = k.config, b = kernels.front().config;
    a.window = b.window = 0;
    return a == b && k.variants == kernels.front().variants;
  });
  for (KernelRequest &k : kernels) {
    if (kernels.size() == 1)
      k.name = base + "_attention";
    else if (onlyWindows)
      k.name = base + "_attention_" + (k.config.window ? "window" + std::to_string(k.config.window) : "full");
    else
      k.name = base + "_layer" + std::to_string(k.layers.front()) + "_attention";
  }
  return kernels;
}

//===----------------------------------------------------------------------===//
// Whole-model functions: @prefill and @decode
//===----------------------------------------------------------------------===//

/// HF's attention factor (the multiplier of cos and sin) for yarn and longrope; 1 otherwise.
double ropeAttentionFactor(const ::xf::RopeSpec &r) {
  using Scaling = ::xf::RopeSpec::Scaling;
  if (r.attentionFactor)
    return *r.attentionFactor;
  if (r.scaling == Scaling::Yarn) {
    auto mscale = [](double scale, double m) { return scale <= 1.0 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
    if (r.mscale && r.mscaleAllDim && *r.mscale != 0.0 && *r.mscaleAllDim != 0.0)
      return mscale(r.factor, *r.mscale) / mscale(r.factor, *r.mscaleAllDim);
    return mscale(r.factor, 1.0);
  }
  if (r.scaling == Scaling::LongRope && r.originalMaxPosition && r.factor > 1.0)
    return std::sqrt(1.0 + std::log(r.factor) / std::log(static_cast<double>(*r.originalMaxPosition)));
  return 1.0;
}

/// The KV-cache policy of a layer, as the runtime reads it: the layer's window, or StreamingLLM's sink
/// tokens plus a window when the layer has `sinks { mode = streaming }` (what the variant pass then sets
/// on the kernel).
NamedAttrList layerCachePolicy(Builder &b, const ::xf::LayerSpec &layer) {
  int64_t window = layer.attention.window, sinkTokens = 0;
  for (const ::xf::VariantSpec &v : layer.variants) {
    const ::xf::ParamValue *mode = v.param("mode");
    if (!v.builtin || v.name != "sinks" || !mode || mode->word != "streaming")
      continue;
    const ::xf::ParamValue *tokens = v.param("tokens"), *w = v.param("window");
    sinkTokens = tokens ? tokens->intValue : 4;
    if (w && w->intValue > 0)
      window = w->intValue;
  }
  return model::cachePolicy(b, window, sinkTokens);
}

/// Builds `@prefill` or `@decode` of one model (see MLIRGen.h). Activations are f32 and token-major
/// ([tokens, features], tokens = batch * seq) between layers, so every projection is one matmul; they are
/// reshaped to [batch, heads, seq, head_dim] only around attention. Weights are arguments in the model's
/// dtype, added in the order the computation first reads them.
class ModelFunctionBuilder {
public:
  ModelFunctionBuilder(OpBuilder &builder, ModuleOp module, const ::xf::ModelSpec &m, Location loc,
                       ArrayRef<std::string> kernelOfLayer)
      : b(builder), module(module), m(m), loc(loc), kernelOfLayer(kernelOfLayer) {}

  void build(StringRef name, bool decode) {
    this->decode = decode;
    MLIRContext *ctx = b.getContext();
    Type i32 = b.getI32Type();
    f32 = b.getF32Type();
    int64_t dyn = ShapedType::kDynamic;
    int64_t slots = m.maxPosition > 0 ? m.maxPosition : dyn;

    SmallVector<Type> inputs{RankedTensorType::get({dyn, decode ? 1 : dyn}, i32)};
    SmallVector<DictionaryAttr> inputAttrs{DictionaryAttr::get(ctx)};
    if (decode) {
      inputs.push_back(b.getIndexType());
      inputAttrs.push_back(DictionaryAttr::get(ctx));
    }
    SmallVector<Type> results{RankedTensorType::get({dyn, decode ? 1 : dyn, m.vocab}, f32)};
    SmallVector<DictionaryAttr> resultAttrs{
        b.getDictionaryAttr({b.getNamedAttr(model::kOutputAttr, b.getStringAttr("logits"))})};
    for (size_t l = 0; l < m.layers.size(); ++l) {
      const ::xf::AttentionConfig &a = m.layers[l].attention;
      NamedAttrList policy = layerCachePolicy(b, m.layers[l]);
      for (bool isValue : {false, true}) {
        NamedAttrList entry(policy);
        entry.set("kind", b.getStringAttr(isValue ? "value" : "key"));
        entry.set("layer", b.getI64IntegerAttr(l));
        DictionaryAttr attrs = b.getDictionaryAttr({b.getNamedAttr(model::kCacheAttr, entry.getDictionary(ctx))});
        auto type = RankedTensorType::get({dyn, a.kvHeads, slots, isValue ? a.headDimV : a.headDim},
                                          elementTypeOf(ctx, a.kvDtype));
        inputs.push_back(type);
        inputAttrs.push_back(attrs);
        results.push_back(type);
        resultAttrs.push_back(attrs);
      }
    }

    b.setInsertionPointToEnd(module.getBody());
    func = func::FuncOp::create(b, loc, name, b.getFunctionType(inputs, results));
    func.setAllArgAttrs(inputAttrs);
    func.setAllResultAttrs(resultAttrs);
    func->setAttr(model::kEntryAttr, b.getStringAttr(decode ? "decode" : "prefill"));
    NamedAttrList facts({
        b.getNamedAttr("name", b.getStringAttr(m.name)),
        b.getNamedAttr("dtype", TypeAttr::get(elementTypeOf(ctx, m.dtype))),
        b.getNamedAttr("vocab", b.getI64IntegerAttr(m.vocab)),
        b.getNamedAttr("hidden", b.getI64IntegerAttr(m.hidden)),
        b.getNamedAttr("layers", b.getI64IntegerAttr(m.numLayers)),
        b.getNamedAttr("max_position", b.getI64IntegerAttr(m.maxPosition)),
    });
    if (auto prefixes = m.tensorPrefixes(); !prefixes.empty()) {
      // The names the checkpoint stores, for weight() and for the weights passes add (model::getOrAddWeight).
      SmallVector<Attribute> pairs;
      for (const auto &[from, to] : prefixes)
        pairs.push_back(b.getStrArrayAttr({from, to}));
      facts.append(model::kTensorPrefixesFact, b.getArrayAttr(pairs));
    }
    func->setAttr(model::kModelAttr, facts.getDictionary(ctx));
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    weightArgs.clear();
    weightAttrs.clear();
    weightType = model::weightElementType(func);

    Value tokens = func.getArgument(0);
    batch = tensor::DimOp::create(b, loc, tokens, 0).getResult();
    seq = decode ? OpFoldResult(b.getIndexAttr(1)) : OpFoldResult(tensor::DimOp::create(b, loc, tokens, 1).getResult());
    if (decode)
      position = func.getArgument(1);
    firstCache = decode ? 2 : 1;
    keyCaches.clear();
    valueCaches.clear();
    for (size_t l = 0; l < m.layers.size(); ++l) {
      keyCaches.push_back(func.getArgument(firstCache + 2 * l));
      valueCaches.push_back(func.getArgument(firstCache + 2 * l + 1));
    }
    positions = positionsTensor();

    // Embedding: [batch, seq] ids -> [tokens, hidden].
    Value ids = tensor::CollapseShapeOp::create(b, loc, tokens, SmallVector<ReassociationIndices>{{0, 1}});
    Value table = weight("model.embed_tokens.weight", {m.vocab, m.hidden});
    auto hType = RankedTensorType::get({dyn, m.hidden}, f32);
    Value h = mlir::xf::EmbedOp::create(b, loc, hType, table, ids, b.getF64FloatAttr(m.embedScale));
    if (m.learnedPositions)
      h = addPositionEmbeddings(h);

    // Norms before each block (pre), after it (post: OLMo 2), both (sandwich: Gemma 2 and 3), or before
    // attention and MLP side by side (parallel: one norm for both, Phi; or one each, GPT-NeoX).
    const bool sandwich = m.normPlacement == ::xf::NormPlacement::Sandwich,
               post = m.normPlacement == ::xf::NormPlacement::Post, after = sandwich || post,
               parallel = ::xf::isParallel(m.normPlacement),
               twoNorms = m.normPlacement == ::xf::NormPlacement::ParallelTwoNorms;
    for (size_t l = 0; l < m.layers.size(); ++l) {
      int64_t layer = static_cast<int64_t>(l);
      Value x = post ? h : norm(h, model::layerTensorName(layer, isGpt2() ? "ln_1" : "input_layernorm"));
      x.getDefiningOp()->setAttr(model::kAttentionInputAttr, b.getI64IntegerAttr(layer));
      Value attn = attention(layer, x);
      if (parallel) {
        // Attention and MLP read the same residual stream; both outputs join it.
        Value mlpIn = twoNorms ? norm(h, model::layerTensorName(layer, "post_attention_layernorm")) : x;
        Value y = m.mlp.isDenseLayer(layer) ? mlp(layer, mlpIn) : moe(layer, mlpIn);
        h = add(add(h, residual(attn)), residual(y));
        continue;
      }
      // Gemma's and OLMo 2's names; GLM-4's sandwich names its norms after the block they follow.
      const bool glm4 = isGlm4() && sandwich;
      if (after)
        attn = norm(attn,
                    model::layerTensorName(layer, glm4 ? "post_self_attn_layernorm" : "post_attention_layernorm"));
      h = add(h, residual(attn));
      Value y = post ? h
                     : norm(h, model::layerTensorName(layer, sandwich && !glm4 ? "pre_feedforward_layernorm"
                                                             : isGpt2()          ? "ln_2"
                                                                                 : "post_attention_layernorm"));
      y = m.mlp.isDenseLayer(layer) ? mlp(layer, y) : moe(layer, y);
      if (after)
        y = norm(y, model::layerTensorName(layer, glm4 ? "post_mlp_layernorm" : "post_feedforward_layernorm"));
      h = add(h, residual(y));
    }
    h = norm(h, isPhi() ? "model.final_layernorm" : "model.norm");
    Value head = m.tieEmbeddings ? table : weight("lm_head.weight", {m.vocab, m.hidden});
    Value logits = model::linear(b, loc, h, head, m.lmHeadBias ? weight("lm_head.bias", {m.vocab}) : Value());
    if (m.logitScale != 1.0)
      logits = scale(logits, m.logitScale);
    if (m.finalSoftcap)
      logits = softcap(logits, *m.finalSoftcap);
    SmallVector<Value> returned{model::splitTokens(b, loc, logits, batch, seq)};
    for (size_t l = 0; l < m.layers.size(); ++l) {
      returned.push_back(keyCaches[l]);
      returned.push_back(valueCaches[l]);
    }
    func::ReturnOp::create(b, loc, returned);
    // The weights join the signature once, before the caches.
    SmallVector<DictionaryAttr> argAttrs(inputAttrs.begin(), inputAttrs.begin() + firstCache);
    argAttrs.append(weightAttrs);
    argAttrs.append(inputAttrs.begin() + firstCache, inputAttrs.end());
    func.setType(b.getFunctionType(entry->getArgumentTypes(), results));
    func.setAllArgAttrs(argAttrs);
    // The builders above ask for the same sizes and constants many times; keep one of each.
    IRRewriter rewriter(ctx);
    DominanceInfo dominance(func);
    eliminateCommonSubExpressions(rewriter, dominance, func);
  }

private:
  /// The argument of weight `name`, added to the entry block, before the caches, when first read (the
  /// signature is completed at the end of build: inserting into the function type and argument attributes
  /// per weight is quadratic, minutes for Qwen3-MoE's 18432 per-expert tensors).
  Value weight(StringRef canonical, ArrayRef<int64_t> shape, Type elementType = {}) {
    // The checkpoint's own name, where the architecture's prefixes are not Llama's (GPT-NeoX).
    std::string name = model::storedTensorName(func, canonical);
    auto [it, inserted] = weightArgs.try_emplace(name);
    if (inserted) {
      unsigned index = firstCache + weightAttrs.size();
      it->second = func.getBody().front().insertArgument(
          index, RankedTensorType::get(shape, elementType ? elementType : weightType), loc);
      weightAttrs.push_back(b.getDictionaryAttr({b.getNamedAttr(model::kWeightAttr, b.getStringAttr(name))}));
    }
    return it->second;
  }
  Value layerWeight(int64_t layer, StringRef leaf, ArrayRef<int64_t> shape) {
    return weight(model::layerTensorName(layer, leaf), shape);
  }
  bool isGptOss() const { return m.architecture == "GptOssForCausalLM" || m.mlp.limit.has_value(); }
  bool isPhi3() const { return m.architecture == "Phi3ForCausalLM"; }
  /// GLM and GLM-4: the MLP's gate and up projections stored as one, mlp.gate_up_proj (as Phi-3's).
  bool isGlm() const { return m.architecture == "GlmForCausalLM" || isGlm4(); }
  /// GLM-4's sandwich norms: post_self_attn_layernorm after attention, post_attention_layernorm before the
  /// MLP and post_mlp_layernorm after it.
  bool isGlm4() const { return m.architecture == "Glm4ForCausalLM"; }
  /// Per-expert nn.Linear tensors: Qwen2- and Qwen3-MoE's mlp.gate / mlp.experts.E.{gate,up,down}_proj, otherwise
  /// Mixtral's block_sparse_moe.gate / block_sparse_moe.experts.E.{w1,w3,w2}.
  bool isGraniteMoe() const { return m.architecture == "GraniteMoeForCausalLM"; }
  /// Starcoder 2's MLP without a gate: mlp.c_fc and mlp.c_proj.
  bool isStarcoder2() const { return m.architecture == "Starcoder2ForCausalLM"; }
  /// Phi: self_attn.dense, mlp.fc1 / fc2 (no gate), model.final_layernorm.
  bool isPhi() const { return m.architecture == "PhiForCausalLM"; }
  /// GPT-NeoX: attention.query_key_value (q, k and v per head), attention.dense, mlp.dense_h_to_4h /
  /// dense_4h_to_h (no gate), under the prefixes of tensorPrefixes.
  bool isNeoX() const { return m.architecture == "GPTNeoXForCausalLM"; }
  /// GPT-2: Conv1D weights ([in, out]) named attn.c_attn (q | k | v), attn.c_proj, mlp.c_fc, mlp.c_proj;
  /// norms ln_1 and ln_2.
  bool isGpt2() const { return m.architecture == "GPT2LMHeadModel"; }

  /// `x W (+ bias)` for a Conv1D weight W [in, out] (GPT-2): nn.Linear's product on W transposed.
  Value conv1d(Value x, Value w, Value bias) { return model::linear(b, loc, x, model::transpose(b, loc, w, {1, 0}), bias); }

  /// h [tokens, hidden] plus each token's row of the learned position table (GPT-2's wpe) at its position.
  Value addPositionEmbeddings(Value h) {
    Value table = weight("model.embed_positions.weight", {m.maxPosition, m.hidden});
    int64_t dyn = ShapedType::kDynamic;
    auto rowsType = RankedTensorType::get({decode ? 1 : dyn, m.hidden}, f32);
    Value rows = mlir::xf::EmbedOp::create(b, loc, rowsType, table, positions, b.getF64FloatAttr(1.0));
    // [batch, seq, hidden] + [seq, hidden], broadcast over the batch.
    Value split = model::splitTokens(b, loc, h, batch, seq);
    auto type = cast<RankedTensorType>(split.getType());
    MLIRContext *ctx = b.getContext();
    AffineMap same = AffineMap::getMultiDimIdentityMap(3, ctx);
    AffineMap perPosition = AffineMap::get(3, 0, {b.getAffineDimExpr(1), b.getAffineDimExpr(2)}, ctx);
    Value init = tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, split), f32);
    auto sum = linalg::GenericOp::create(
        b, loc, TypeRange{type}, ValueRange{split, rows}, ValueRange{init},
        ArrayRef<AffineMap>{same, perPosition, same},
        SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
        [](OpBuilder &nb, Location nloc, ValueRange v) {
          linalg::YieldOp::create(nb, nloc, ValueRange{arith::AddFOp::create(nb, nloc, v[0], v[1])});
        });
    return tensor::CollapseShapeOp::create(b, loc, sum.getResult(0), SmallVector<ReassociationIndices>{{0, 1}, {2}});
  }
  /// Qwen's, OLMoE's, GLM-4.5's, dots.llm1's and ERNIE 4.5's expert names: mlp.gate,
  /// mlp.experts.E.{gate,up,down}_proj.
  bool isQwenMoe() const {
    return m.architecture == "Qwen3MoeForCausalLM" || m.architecture == "Qwen2MoeForCausalLM" ||
           m.architecture == "OlmoeForCausalLM" || namesSharedExperts();
  }
  /// GLM-4.5's, dots.llm1's and ERNIE 4.5's mixtures: Qwen's expert names, mlp.shared_experts, and a float32
  /// selection bias (ERNIE's [1, experts] in mlp.moe_statics, with a float32 router).
  bool isErnieMoe() const { return m.architecture == "Ernie4_5_MoeForCausalLM"; }
  bool namesSharedExperts() const {
    return m.architecture == "Glm4MoeForCausalLM" || m.architecture == "Dots1ForCausalLM" ||
           m.architecture == "DeepseekV3ForCausalLM" || isErnieMoe();
  }

  /// Positions of this call's tokens: 0..S-1 for a prefill, the given position for a decode step.
  Value positionsTensor() {
    Type i64 = b.getI64Type();
    if (decode) {
      Value p = arith::IndexCastOp::create(b, loc, i64, position);
      return tensor::FromElementsOp::create(b, loc, RankedTensorType::get({1}, i64), ValueRange{p});
    }
    return tensor::GenerateOp::create(b, loc, RankedTensorType::get({ShapedType::kDynamic}, i64),
                                      ValueRange{cast<Value>(seq)},
                                      [&](OpBuilder &nb, Location nloc, ValueRange ivs) {
                                        Value p = arith::IndexCastOp::create(nb, nloc, i64, ivs[0]);
                                        tensor::YieldOp::create(nb, nloc, p);
                                      });
  }

  /// The model's norm over the last dim of `x`, with the weights `<prefix>.weight` (and `.bias`).
  Value norm(Value x, const std::string &prefix) {
    int64_t features = cast<RankedTensorType>(x.getType()).getShape().back();
    Value w = weight(prefix + ".weight", {features});
    FloatAttr eps = b.getF64FloatAttr(m.norm.eps);
    BoolAttr unitOffset = b.getBoolAttr(m.norm.unitOffset);
    if (m.norm.kind == ::xf::NormSpec::Kind::Layer)
      return mlir::xf::LayerNormOp::create(b, loc, x.getType(), x, w,
                                           m.norm.bias ? weight(prefix + ".bias", {features}) : Value(), eps,
                                           unitOffset);
    return mlir::xf::RmsNormOp::create(b, loc, x.getType(), x, w, eps, unitOffset);
  }

  /// The model's norm of the queries or keys over their last dim, without a bias.
  Value qkNorm(Value x, Value gains) {
    FloatAttr eps = b.getF64FloatAttr(m.norm.eps);
    BoolAttr unitOffset = b.getBoolAttr(m.norm.unitOffset);
    if (m.norm.kind == ::xf::NormSpec::Kind::Layer)
      return mlir::xf::LayerNormOp::create(b, loc, x.getType(), x, gains, Value(), eps, unitOffset);
    return mlir::xf::RmsNormOp::create(b, loc, x.getType(), x, gains, eps, unitOffset);
  }

  /// Each q or k head's own norm gains, [heads, D]: StableLM's one tensor per head
  /// (`<which>_layernorm.norms.h.weight`), stacked, or Cohere's one tensor (`<which>_norm.weight`).
  Value headGains(int64_t layer, StringRef which, int64_t heads, int64_t D) {
    std::string attn = "self_attn." + which.str();
    if (m.architecture != "StableLmForCausalLM")
      return layerWeight(layer, attn + "_norm.weight", {heads, D});
    SmallVector<std::string> names;
    for (int64_t h = 0; h < heads; ++h)
      names.push_back(model::layerTensorName(layer, attn + "_layernorm.norms." + std::to_string(h) + ".weight"));
    return stack(names, {D}, /*transposeEach=*/false);
  }

  Value add(Value x, Value y) {
    return model::mapElements(b, loc, {x, y}, f32, [](OpBuilder &nb, Location nloc, ValueRange v) -> Value {
      return arith::AddFOp::create(nb, nloc, v[0], v[1]);
    });
  }

  Value scale(Value x, double c) {
    return model::mapElements(b, loc, x, f32, [&](OpBuilder &nb, Location nloc, ValueRange v) -> Value {
      return arith::MulFOp::create(nb, nloc, v[0], constant(nb, nloc, c));
    });
  }

  /// A block's output as added to the residual stream: times residual_scale (Granite), if not 1.
  Value residual(Value y) { return m.residualScale == 1.0 ? y : scale(y, m.residualScale); }

  Value constant(OpBuilder &nb, Location nloc, double v) {
    return arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(static_cast<float>(v)));
  }

  Value softcap(Value x, double c) {
    return model::mapElements(b, loc, x, f32, [&](OpBuilder &nb, Location nloc, ValueRange v) -> Value {
      Value cap = constant(nb, nloc, c);
      Value t = math::TanhOp::create(nb, nloc, arith::DivFOp::create(nb, nloc, v[0], cap));
      return arith::MulFOp::create(nb, nloc, cap, t);
    });
  }

  Value sigmoid(OpBuilder &nb, Location nloc, Value x) {
    Value one = constant(nb, nloc, 1.0);
    Value e = math::ExpOp::create(nb, nloc, arith::NegFOp::create(nb, nloc, x));
    return arith::DivFOp::create(nb, nloc, one, arith::AddFOp::create(nb, nloc, one, e));
  }

  /// The MLP activation of one scalar.
  Value activate(OpBuilder &nb, Location nloc, Value x) {
    switch (m.mlp.activation) {
    case ::xf::Activation::SiLU:
      return arith::MulFOp::create(nb, nloc, x, sigmoid(nb, nloc, x));
    case ::xf::Activation::GELU: {
      Value e = math::ErfOp::create(nb, nloc, arith::MulFOp::create(nb, nloc, x, constant(nb, nloc, M_SQRT1_2)));
      Value half = arith::MulFOp::create(nb, nloc, x, constant(nb, nloc, 0.5));
      return arith::MulFOp::create(nb, nloc, half, arith::AddFOp::create(nb, nloc, constant(nb, nloc, 1.0), e));
    }
    case ::xf::Activation::GELUTanh: {
      Value x3 = arith::MulFOp::create(nb, nloc, x, arith::MulFOp::create(nb, nloc, x, x));
      Value inner = arith::AddFOp::create(nb, nloc, x, arith::MulFOp::create(nb, nloc, x3, constant(nb, nloc, 0.044715)));
      Value t = math::TanhOp::create(nb, nloc,
                                     arith::MulFOp::create(nb, nloc, inner, constant(nb, nloc, std::sqrt(2.0 / M_PI))));
      Value half = arith::MulFOp::create(nb, nloc, x, constant(nb, nloc, 0.5));
      return arith::MulFOp::create(nb, nloc, half, arith::AddFOp::create(nb, nloc, constant(nb, nloc, 1.0), t));
    }
    case ::xf::Activation::ReLU:
      return arith::MaximumFOp::create(nb, nloc, x, constant(nb, nloc, 0.0));
    case ::xf::Activation::ReLU2: {
      Value r = arith::MaximumFOp::create(nb, nloc, x, constant(nb, nloc, 0.0));
      return arith::MulFOp::create(nb, nloc, r, r);
    }
    }
    llvm_unreachable("unknown activation");
  }

  /// act(gate) * up, or gpt-oss's clamped SwiGLU when the MLP has a limit.
  Value gatedActivation(Value gate, Value up) {
    return model::mapElements(b, loc, {gate, up}, f32, [&](OpBuilder &nb, Location nloc, ValueRange v) -> Value {
      if (!m.mlp.limit)
        return arith::MulFOp::create(nb, nloc, activate(nb, nloc, v[0]), v[1]);
      Value limit = constant(nb, nloc, *m.mlp.limit);
      Value g = arith::MinimumFOp::create(nb, nloc, v[0], limit);
      Value u = arith::MaximumFOp::create(nb, nloc, arith::MinimumFOp::create(nb, nloc, v[1], limit),
                                          arith::NegFOp::create(nb, nloc, limit));
      Value glu = arith::MulFOp::create(
          nb, nloc, g, sigmoid(nb, nloc, arith::MulFOp::create(nb, nloc, g, constant(nb, nloc, m.mlp.alpha))));
      return arith::MulFOp::create(nb, nloc, glu, arith::AddFOp::create(nb, nloc, u, constant(nb, nloc, 1.0)));
    });
  }

  /// Columns [begin, begin + size) of a [tokens, features] activation.
  Value columns(Value x, int64_t begin, int64_t size) {
    SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(begin)};
    SmallVector<OpFoldResult> sizes{tensor::getMixedSizes(b, loc, x)[0], b.getIndexAttr(size)};
    SmallVector<OpFoldResult> strides{b.getIndexAttr(1), b.getIndexAttr(1)};
    return tensor::ExtractSliceOp::create(b, loc, x, offsets, sizes, strides);
  }

  /// [tokens, heads * dim] -> [batch, heads, seq, dim].
  Value toHeads(Value x, int64_t heads, int64_t dim) {
    SmallVector<OpFoldResult> sizes{batch, seq, b.getIndexAttr(heads), b.getIndexAttr(dim)};
    auto type = RankedTensorType::get({ShapedType::kDynamic, decode ? 1 : ShapedType::kDynamic, heads, dim}, f32);
    return tensor::ExpandShapeOp::create(b, loc, type, x, SmallVector<ReassociationIndices>{{0, 1}, {2, 3}}, sizes);
  }

  Value rope(Value x, const ::xf::AttentionConfig &a, int64_t layer) {
    const ::xf::RopeSpec &r = m.ropeOf(layer);
    using Scaling = ::xf::RopeSpec::Scaling;
    int64_t rotary = m.latent.enabled() ? m.latent.ropeDim : static_cast<int64_t>(std::llround(a.headDim * r.partial));
    NamedAttrList attrs;
    attrs.set("base", b.getF64FloatAttr(r.baseAuto ? 0.0 : r.base));
    attrs.set("rotary_dim", b.getI64IntegerAttr(rotary));
    if (r.scaling != Scaling::None) {
      attrs.set("scaling", b.getStringAttr(::xf::toString(r.scaling)));
      attrs.set("factor", b.getF64FloatAttr(r.factor));
    }
    if (r.interleaved)
      attrs.set("interleaved", b.getBoolAttr(true));
    if (r.scaling != Scaling::None && r.scaling != Scaling::Linear && r.originalMaxPosition)
      attrs.set("original_max_position", b.getI64IntegerAttr(*r.originalMaxPosition));
    if (r.scaling == Scaling::Llama3) {
      attrs.set("low_freq_factor", b.getF64FloatAttr(r.lowFreqFactor));
      attrs.set("high_freq_factor", b.getF64FloatAttr(r.highFreqFactor));
    }
    if (r.scaling == Scaling::Yarn) {
      attrs.set("beta_fast", b.getF64FloatAttr(r.betaFast));
      attrs.set("beta_slow", b.getF64FloatAttr(r.betaSlow));
      if (!r.truncate)
        attrs.set("truncate", b.getBoolAttr(false));
    }
    if (r.scaling == Scaling::LongRope) {
      attrs.set("short_factor", b.getDenseF64ArrayAttr(r.shortFactor));
      attrs.set("long_factor", b.getDenseF64ArrayAttr(r.longFactor));
    }
    if (double factor = ropeAttentionFactor(r); factor != 1.0)
      attrs.set("attention_factor", b.getF64FloatAttr(factor));
    return mlir::xf::RopeOp::create(b, loc, TypeRange{x.getType()}, ValueRange{x, positions}, attrs.getAttrs());
  }

  /// [tokens, heads * dim] -> [tokens, heads, dim] and back.
  Value splitHeads(Value x, int64_t heads, int64_t dim) {
    SmallVector<OpFoldResult> sizes{tensor::getMixedSizes(b, loc, x)[0], b.getIndexAttr(heads), b.getIndexAttr(dim)};
    auto type = RankedTensorType::get({ShapedType::kDynamic, heads, dim}, f32);
    return tensor::ExpandShapeOp::create(b, loc, type, x, SmallVector<ReassociationIndices>{{0}, {1, 2}}, sizes);
  }
  Value mergeHeads(Value x) {
    return tensor::CollapseShapeOp::create(b, loc, x, SmallVector<ReassociationIndices>{{0}, {1, 2}});
  }
  /// Dims [begin, begin + size) of every head of x [tokens, heads, dim].
  Value headDims(Value x, int64_t begin, int64_t size) {
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
    sizes[2] = b.getIndexAttr(size);
    SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(0), b.getIndexAttr(begin)};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, x, offsets, sizes, strides);
  }

  /// Latent attention's q, k and v ([tokens, heads * dims]) on the normalized input `x`: q from q_proj or
  /// q_b_proj(norm(q_a_proj x)); each head's keys and values from kv_b_proj(norm(latent)), the latent and
  /// the shared rotated key dims from kv_a_proj_with_mqa. A head of q and k is kept [rope dims | the rest]
  /// (stored: the rest, then the rope dims): RoPE rotates a head's first dims, and the same order in q and k
  /// leaves every score as it was.
  std::tuple<Value, Value, Value> latentProjections(int64_t layer, Value x) {
    const ::xf::AttentionConfig &a = m.layers[layer].attention;
    const ::xf::LatentAttentionSpec &lat = m.latent;
    const int64_t H = a.heads, D = a.headDim, Dv = a.headDimV, R = lat.ropeDim, nope = D - R, C = m.hidden;
    const bool bias = a.bias == ::xf::AttentionBias::All;
    auto project = [&](Value in, StringRef name, int64_t rows, int64_t cols, bool withBias) {
      std::string leaf = ("self_attn." + name).str();
      return model::linear(b, loc, in, layerWeight(layer, leaf + ".weight", {rows, cols}),
                           withBias ? layerWeight(layer, leaf + ".bias", {rows}) : Value());
    };
    Value q = lat.qRank > 0 ? project(norm(project(x, "q_a_proj", lat.qRank, C, bias),
                                           model::layerTensorName(layer, "self_attn.q_a_layernorm")),
                                      "q_b_proj", H * D, lat.qRank, false)
                            : project(x, "q_proj", H * D, C, false);
    Value compressed = project(x, "kv_a_proj_with_mqa", lat.kvRank + R, C, bias);
    Value latent = norm(columns(compressed, 0, lat.kvRank), model::layerTensorName(layer, "self_attn.kv_a_layernorm"));
    Value kv = splitHeads(project(latent, "kv_b_proj", H * (nope + Dv), lat.kvRank, false), H, nope + Dv);
    // The rotated key dims, one set per token, for every head.
    Value shared = columns(compressed, lat.kvRank, R);
    Value init = model::emptyTensor(b, loc, {tensor::getMixedSizes(b, loc, shared)[0], b.getIndexAttr(H),
                                             b.getIndexAttr(R)}, f32);
    Value rotated = linalg::BroadcastOp::create(b, loc, shared, init, ArrayRef<int64_t>{1})->getResult(0);
    Value q3 = splitHeads(q, H, D);
    q = mergeHeads(tensor::ConcatOp::create(b, loc, 2, ValueRange{headDims(q3, nope, R), headDims(q3, 0, nope)}));
    Value k = mergeHeads(tensor::ConcatOp::create(b, loc, 2, ValueRange{rotated, headDims(kv, 0, nope)}));
    Value v = mergeHeads(headDims(kv, nope, Dv));
    return {q, k, v};
  }

  /// One layer's attention on its normalized input `x` ([tokens, hidden]): projections, q/k norms, RoPE,
  /// the cache update, a call of the layer's kernel, and the output projection.
  Value attention(int64_t layer, Value x) {
    const ::xf::AttentionConfig &a = m.layers[layer].attention;
    int64_t H = a.heads, Hkv = a.kvHeads, D = a.headDim, Dv = a.headDimV, C = m.hidden;
    bool qkvBias = a.bias != ::xf::AttentionBias::None, outBias = a.bias == ::xf::AttentionBias::All;
    Value q, k, v;
    if (m.latent.enabled()) {
      std::tie(q, k, v) = latentProjections(layer, x);
    } else if (isGpt2()) {
      // GPT-2's c_attn: one Conv1D whose outputs are q | k | v.
      int64_t cols = H * D + Hkv * D + Hkv * Dv;
      Value qkv = conv1d(x, layerWeight(layer, "attn.c_attn.weight", {C, cols}),
                         qkvBias ? layerWeight(layer, "attn.c_attn.bias", {cols}) : Value());
      q = columns(qkv, 0, H * D);
      k = columns(qkv, H * D, Hkv * D);
      v = columns(qkv, H * D + Hkv * D, Hkv * Dv);
    } else if (isNeoX()) {
      // GPT-NeoX stores q, k and v of each head in turn: rows [head][q | k | v][dim].
      int64_t rows = H * 3 * D;
      Value w = layerWeight(layer, "attention.query_key_value.weight", {rows, C});
      Value bias = qkvBias ? layerWeight(layer, "attention.query_key_value.bias", {rows}) : Value();
      auto part = [&](int64_t j) {
        return model::linear(b, loc, x, headRows(w, H, j, D), bias ? headRows(bias, H, j, D) : Value());
      };
      q = part(0);
      k = part(1);
      v = part(2);
    } else if (isPhi3()) {
      // Phi-3 stores q, k and v as one projection.
      int64_t rows = H * D + Hkv * D + Hkv * Dv;
      Value qkv = model::linear(b, loc, x, layerWeight(layer, "self_attn.qkv_proj.weight", {rows, C}),
                                qkvBias ? layerWeight(layer, "self_attn.qkv_proj.bias", {rows}) : Value());
      q = columns(qkv, 0, H * D);
      k = columns(qkv, H * D, Hkv * D);
      v = columns(qkv, H * D + Hkv * D, Hkv * Dv);
    } else {
      auto project = [&](StringRef name, int64_t rows) {
        std::string leaf = ("self_attn." + name).str();
        return model::linear(b, loc, x, layerWeight(layer, leaf + ".weight", {rows, C}),
                             qkvBias ? layerWeight(layer, leaf + ".bias", {rows}) : Value());
      };
      q = project("q_proj", H * D);
      k = project("k_proj", Hkv * D);
      v = project("v_proj", Hkv * Dv);
    }
    if (a.qkNorm == ::xf::QkNorm::Projection) {
      // OLMo 2: each token's whole q and k projections.
      q = qkNorm(q, layerWeight(layer, "self_attn.q_norm.weight", {H * D}));
      k = qkNorm(k, layerWeight(layer, "self_attn.k_norm.weight", {Hkv * D}));
    }
    Value q4 = toHeads(q, H, D), k4 = toHeads(k, Hkv, D), v4 = toHeads(v, Hkv, Dv);
    if (a.qkNorm == ::xf::QkNorm::PerHead) {
      q4 = qkNorm(q4, layerWeight(layer, "self_attn.q_norm.weight", {D}));
      k4 = qkNorm(k4, layerWeight(layer, "self_attn.k_norm.weight", {D}));
    } else if (a.qkNorm == ::xf::QkNorm::PerHeadGains) {
      q4 = qkNorm(q4, headGains(layer, "q", H, D));
      k4 = qkNorm(k4, headGains(layer, "k", Hkv, D));
    }
    // [batch, seq, heads, dim] -> [batch, heads, seq, dim], the attention layout.
    SmallVector<int64_t> swap{0, 2, 1, 3};
    // NoPE layers (SmolLM3) attend with their queries and keys as projected.
    const bool rotate = m.usesRope(layer);
    Value qh = model::transpose(b, loc, q4, swap);
    if (rotate)
      qh = rope(qh, a, layer);
    Value kh = model::transpose(b, loc, k4, swap);
    if (rotate)
      kh = rope(kh, a, layer);
    Value vh = model::transpose(b, loc, v4, swap);

    // The cache: this call's keys and values go to their positions; attention reads positions [0, T).
    OpFoldResult start = decode ? OpFoldResult(position) : OpFoldResult(b.getIndexAttr(0));
    auto store = [&](Value cache, Value rows, int64_t dim) -> Value {
      SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(0), start, b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes{batch, b.getIndexAttr(Hkv), seq, b.getIndexAttr(dim)};
      SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
      return tensor::InsertSliceOp::create(b, loc, rows, cache, offsets, sizes, strides);
    };
    // A 16-bit cache (kv_dtype) holds the rows rounded once, as they are stored.
    Type cacheElement = cast<RankedTensorType>(keyCaches[layer].getType()).getElementType();
    kh = model::convertElements(b, loc, kh, cacheElement);
    vh = model::convertElements(b, loc, vh, cacheElement);
    keyCaches[layer] = store(keyCaches[layer], kh, D);
    valueCaches[layer] = store(valueCaches[layer], vh, Dv);
    Value keys = kh, values = vh;
    if (decode) {
      Value visible = arith::AddIOp::create(b, loc, position, arith::ConstantIndexOp::create(b, loc, 1));
      auto read = [&](Value cache, int64_t dim) -> Value {
        SmallVector<OpFoldResult> offsets(4, b.getIndexAttr(0));
        SmallVector<OpFoldResult> sizes{batch, b.getIndexAttr(Hkv), visible, b.getIndexAttr(dim)};
        SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
        return tensor::ExtractSliceOp::create(b, loc, cache, offsets, sizes, strides);
      };
      keys = read(keyCaches[layer], D);
      values = read(valueCaches[layer], Dv);
    }

    auto kernel = module.lookupSymbol<func::FuncOp>(kernelOfLayer[layer]);
    ArrayRef<Type> params = kernel.getFunctionType().getInputs();
    Value init = model::emptyTensor(b, loc, {batch, b.getIndexAttr(H), seq, b.getIndexAttr(Dv)}, f32);
    SmallVector<Value> operands{model::castTo(b, loc, qh, params[0]), model::castTo(b, loc, keys, params[1]),
                                model::castTo(b, loc, values, params[2]), model::castTo(b, loc, init, params[3])};
    auto call = func::CallOp::create(b, loc, kernel, operands);
    call->setAttr(model::kLayerAttr, b.getI64IntegerAttr(layer));
    Value o = model::castTo(b, loc, call.getResult(0), init.getType());
    Value merged = tensor::CollapseShapeOp::create(b, loc, model::transpose(b, loc, o, swap),
                                                   SmallVector<ReassociationIndices>{{0, 1}, {2, 3}});
    // Phi names the output projection self_attn.dense, GPT-NeoX attention.dense; GPT-2's is a Conv1D.
    if (isGpt2())
      return conv1d(merged, layerWeight(layer, "attn.c_proj.weight", {H * Dv, C}),
                    outBias ? layerWeight(layer, "attn.c_proj.bias", {C}) : Value());
    const std::string out = isPhi() ? "self_attn.dense" : isNeoX() ? "attention.dense" : "self_attn.o_proj";
    return model::linear(b, loc, merged, layerWeight(layer, out + ".weight", {C, H * Dv}),
                         outBias ? layerWeight(layer, out + ".bias", {C}) : Value());
  }

  /// A dense MLP (HF names mlp.gate_proj / up_proj / down_proj; Phi-3's fused mlp.gate_up_proj).
  /// The dense MLP (of a dense model, or a dense layer of a mixture-of-experts one).
  Value mlp(int64_t layer, Value x) {
    return mlp(layer, x, "mlp", m.mlp.experts > 0 ? m.mlp.denseIntermediate : m.mlp.intermediate, m.mlp.bias);
  }

  /// A dense MLP of intermediate size I whose tensors are `<prefix>.{gate,up,down}_proj` (Phi-3's model
  /// MLP: `gate_up_proj`).
  Value mlp(int64_t layer, Value x, StringRef prefix, int64_t I, bool bias) {
    const ::xf::MlpSpec &p = m.mlp;
    int64_t C = m.hidden;
    auto project = [&](Value in, StringRef name, int64_t rows, int64_t cols) {
      std::string leaf = (prefix + "." + name).str();
      Value b0 = bias ? layerWeight(layer, leaf + ".bias", {rows}) : Value();
      if (isGpt2() && prefix == "mlp") // Conv1D: [in, out]
        return conv1d(in, layerWeight(layer, leaf + ".weight", {cols, rows}), b0);
      return model::linear(b, loc, in, layerWeight(layer, leaf + ".weight", {rows, cols}), b0);
    };
    Value h;
    if (p.gated && (isPhi3() || isGlm()) && prefix == "mlp") {
      Value gateUp = project(x, "gate_up_proj", 2 * I, C);
      h = gatedActivation(columns(gateUp, 0, I), columns(gateUp, I, I));
    } else if (p.gated) {
      h = gatedActivation(project(x, "gate_proj", I, C), project(x, "up_proj", I, C));
    } else {
      StringRef upName = prefix != "mlp"    ? "up_proj"
                         : isStarcoder2() || isGpt2() ? "c_fc"
                         : isPhi()        ? "fc1"
                         : isNeoX()       ? "dense_h_to_4h"
                                          : "up_proj";
      h = model::mapElements(b, loc, project(x, upName, I, C), f32,
                             [&](OpBuilder &nb, Location nloc, ValueRange v) { return activate(nb, nloc, v[0]); });
    }
    StringRef downName = prefix != "mlp"    ? "down_proj"
                         : isStarcoder2() || isGpt2() ? "c_proj"
                         : isPhi()        ? "fc2"
                         : isNeoX()       ? "dense_4h_to_h"
                                          : "down_proj";
    return project(h, downName, C, I);
  }

  /// Part `j` of every head of a weight (or bias) whose first dim is [heads][parts][dim] (GPT-NeoX's
  /// query_key_value, 3 parts): [heads * dim, ...].
  Value headRows(Value w, int64_t heads, int64_t j, int64_t dim, int64_t parts = 3) {
    auto type = cast<RankedTensorType>(w.getType());
    SmallVector<int64_t> split{heads, parts, dim}, sliced{heads, 1, dim}, merged{heads * dim};
    SmallVector<ReassociationIndices> reassociation{{0, 1, 2}};
    for (int64_t d = 1; d < type.getRank(); ++d) {
      split.push_back(type.getDimSize(d));
      sliced.push_back(type.getDimSize(d));
      merged.push_back(type.getDimSize(d));
      reassociation.push_back({d + 2});
    }
    Value expanded = tensor::ExpandShapeOp::create(b, loc, RankedTensorType::get(split, type.getElementType()), w,
                                                   reassociation);
    SmallVector<OpFoldResult> offsets(split.size(), b.getIndexAttr(0)), sizes, strides(split.size(), b.getIndexAttr(1));
    offsets[1] = b.getIndexAttr(j);
    for (int64_t s : sliced)
      sizes.push_back(b.getIndexAttr(s));
    Value part = tensor::ExtractSliceOp::create(b, loc, RankedTensorType::get(sliced, type.getElementType()),
                                                expanded, offsets, sizes, strides);
    return tensor::CollapseShapeOp::create(b, loc, RankedTensorType::get(merged, type.getElementType()), part,
                                           reassociation);
  }

  /// Slices [.., begin::2] of the last dim of a weight (gpt-oss interleaves gate and up columns).
  Value everyOther(Value w, int64_t begin) {
    auto type = cast<RankedTensorType>(w.getType());
    int64_t rank = type.getRank();
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes, strides(rank, b.getIndexAttr(1));
    offsets.back() = b.getIndexAttr(begin);
    for (int64_t d = 0; d < rank; ++d)
      sizes.push_back(b.getIndexAttr(d + 1 == rank ? type.getDimSize(d) / 2 : type.getDimSize(d)));
    strides.back() = b.getIndexAttr(2);
    return tensor::ExtractSliceOp::create(b, loc, w, offsets, sizes, strides);
  }

  /// Per-expert tensors `<prefix>.experts.E.<leaf>` (Mixtral, Qwen3-MoE), each transposed if
  /// `transposeEach`, stacked along a new first dim.
  Value stackExperts(int64_t layer, StringRef prefix, StringRef leaf, ArrayRef<int64_t> shape,
                     bool transposeEach) {
    SmallVector<std::string> names;
    for (int64_t e = 0; e < m.mlp.experts; ++e)
      names.push_back(model::layerTensorName(layer, (prefix + ".experts." + Twine(e) + "." + leaf).str()));
    return stack(names, shape, transposeEach);
  }

  /// The tensors `names`, each of `shape` and transposed if `transposeEach`, stacked along a new first dim.
  Value stack(ArrayRef<std::string> names, ArrayRef<int64_t> shape, bool transposeEach) {
    const int64_t E = static_cast<int64_t>(names.size());
    SmallVector<int64_t> stored(shape);
    SmallVector<int64_t> each(shape);
    if (transposeEach)
      std::swap(each[0], each[1]);
    SmallVector<OpFoldResult> stackSizes{b.getIndexAttr(E)};
    for (int64_t d : each)
      stackSizes.push_back(b.getIndexAttr(d));
    Value stack = model::emptyTensor(b, loc, stackSizes, weightType);
    for (int64_t e = 0; e < E; ++e) {
      Value w = weight(names[e], stored);
      if (transposeEach)
        w = model::transpose(b, loc, w, {1, 0});
      SmallVector<OpFoldResult> offsets(each.size() + 1, b.getIndexAttr(0)), sizes{b.getIndexAttr(1)};
      offsets[0] = b.getIndexAttr(e);
      for (int64_t d : each)
        sizes.push_back(b.getIndexAttr(d));
      SmallVector<OpFoldResult> strides(each.size() + 1, b.getIndexAttr(1));
      stack = tensor::InsertSliceOp::create(b, loc, w, stack, offsets, sizes, strides);
    }
    return stack;
  }

  /// A mixture of experts: the router projection, then xf.moe on the experts' weights in its stacked
  /// [E, in, out] layout (gpt-oss's own, with its gate/up columns de-interleaved; Mixtral's per-expert
  /// nn.Linear weights transposed and stacked).
  Value moe(int64_t layer, Value x) {
    const ::xf::MlpSpec &p = m.mlp;
    int64_t E = p.experts, I = p.intermediate, C = m.hidden;
    Value logits, gate, up, down, gateBias, upBias, downBias;
    if (isGptOss()) {
      logits = model::linear(b, loc, x, layerWeight(layer, "mlp.router.weight", {E, C}),
                             p.bias ? layerWeight(layer, "mlp.router.bias", {E}) : Value());
      if (p.gated) {
        Value gateUp = layerWeight(layer, "mlp.experts.gate_up_proj", {E, C, 2 * I});
        gate = everyOther(gateUp, 0);
        up = everyOther(gateUp, 1);
        if (p.bias) {
          Value bias = layerWeight(layer, "mlp.experts.gate_up_proj_bias", {E, 2 * I});
          gateBias = everyOther(bias, 0);
          upBias = everyOther(bias, 1);
        }
      } else {
        up = layerWeight(layer, "mlp.experts.up_proj", {E, C, I});
        if (p.bias)
          upBias = layerWeight(layer, "mlp.experts.up_proj_bias", {E, I});
      }
      down = layerWeight(layer, "mlp.experts.down_proj", {E, I, C});
      if (p.bias)
        downBias = layerWeight(layer, "mlp.experts.down_proj_bias", {E, C});
    } else if (isGraniteMoe()) {
      // Granite MoE: the router block_sparse_moe.router.layer; per expert nn.Linear-layout [out, in] blocks,
      // [gate; up] stacked in input_linear [E, 2I, C] and down in output_linear [E, C, I].
      logits = model::linear(b, loc, x, layerWeight(layer, "block_sparse_moe.router.layer.weight", {E, C}));
      const int64_t stacked = p.gated ? 2 : 1;
      Value inputLinear = layerWeight(layer, "block_sparse_moe.input_linear.weight", {E, stacked * I, C});
      auto rows = [&](int64_t begin) {
        SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(begin), b.getIndexAttr(0)},
            sizes{b.getIndexAttr(E), b.getIndexAttr(I), b.getIndexAttr(C)}, strides(3, b.getIndexAttr(1));
        return tensor::ExtractSliceOp::create(b, loc, inputLinear, offsets, sizes, strides).getResult();
      };
      SmallVector<int64_t> swap{0, 2, 1};
      if (p.gated) {
        gate = model::transpose(b, loc, rows(0), swap);
        up = model::transpose(b, loc, rows(I), swap);
      } else {
        up = model::transpose(b, loc, inputLinear, swap);
      }
      down = model::transpose(b, loc, layerWeight(layer, "block_sparse_moe.output_linear.weight", {E, C, I}), swap);
    } else {
      // Mixtral: w1 is the activation's input (the gate when gated), w3 the up projection, w2 down;
      // Qwen2-, Qwen3-MoE and OLMoE name them gate_proj, up_proj and down_proj.
      bool qwen = isQwenMoe();
      StringRef prefix = qwen ? "mlp" : "block_sparse_moe";
      StringRef firstLeaf = qwen ? (p.gated ? "gate_proj" : "up_proj") : "w1";
      StringRef upLeaf = qwen ? "up_proj" : "w3", downLeaf = qwen ? "down_proj" : "w2";
      Value router = isErnieMoe() ? weight(model::layerTensorName(layer, "mlp.gate.weight"), {E, C}, f32)
                                  : layerWeight(layer, (prefix + ".gate.weight").str(), {E, C});
      logits =
          model::linear(b, loc, x, router, p.bias ? layerWeight(layer, (prefix + ".gate.bias").str(), {E}) : Value());
      auto stack = [&](StringRef leaf, StringRef kind, ArrayRef<int64_t> shape) {
        return stackExperts(layer, prefix, (leaf + "." + kind).str(), shape, /*transposeEach=*/shape.size() == 2);
      };
      Value first = stack(firstLeaf, "weight", {I, C});
      Value firstBias = p.bias ? stack(firstLeaf, "bias", {I}) : Value();
      if (p.gated) {
        gate = first;
        gateBias = firstBias;
        up = stack(upLeaf, "weight", {I, C});
        upBias = p.bias ? stack(upLeaf, "bias", {I}) : Value();
      } else {
        up = first;
        upBias = firstBias;
      }
      down = stack(downLeaf, "weight", {C, I});
      downBias = p.bias ? stack(downLeaf, "bias", {C}) : Value();
    }
    FloatAttr limit = p.limit ? b.getF64FloatAttr(*p.limit) : FloatAttr();
    Value selectionBias;
    if (p.selectionBias && isErnieMoe())
      selectionBias = weight(model::layerTensorName(layer, "mlp.moe_statics.e_score_correction_bias"), {1, E}, f32);
    else if (p.selectionBias)
      selectionBias = weight(model::layerTensorName(layer, "mlp.gate.e_score_correction_bias"), {E}, f32);
    Value routed = mlir::xf::MoEOp::create(
        b, loc, x.getType(), x, logits, gate, up, down, gateBias, upBias, downBias, selectionBias,
        b.getI64IntegerAttr(p.topK), b.getStringAttr(::xf::toString(p.activation)), limit,
        b.getF64FloatAttr(p.alpha), b.getBoolAttr(p.normTopK), b.getStringAttr(p.routerName()),
        b.getI64IntegerAttr(p.groups), b.getI64IntegerAttr(p.topGroups), b.getF64FloatAttr(p.routedScale),
        b.getF64FloatAttr(p.normMin), b.getF64FloatAttr(p.jitterEps));
    if (p.sharedIntermediate == 0)
      return routed;
    // The shared expert, which every token takes (mlp.shared_experts in GLM-4.5, dots.llm1, ERNIE 4.5), times
    // sigmoid(shared_expert_gate . x) in Qwen2-MoE.
    Value shared = mlp(layer, x, namesSharedExperts() ? "mlp.shared_experts" : "mlp.shared_expert",
                       p.sharedIntermediate, /*bias=*/false);
    if (p.sharedGate)
      shared = gateRows(shared, model::linear(b, loc, x, layerWeight(layer, "mlp.shared_expert_gate.weight", {1, C})));
    return add(routed, shared);
  }

  /// y [tokens, C] with each row times sigmoid(g) of its token (g [tokens, 1]).
  Value gateRows(Value y, Value g) {
    MLIRContext *ctx = b.getContext();
    Value init = model::emptyTensor(b, loc, tensor::getMixedSizes(b, loc, y), f32);
    AffineMap all = b.getMultiDimIdentityMap(2);
    AffineMap row = AffineMap::get(2, 0, {getAffineDimExpr(0, ctx), getAffineConstantExpr(0, ctx)}, ctx);
    SmallVector<utils::IteratorType> iterators(2, utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        b, loc, TypeRange{init.getType()}, ValueRange{y, g}, ValueRange{init}, ArrayRef<AffineMap>{all, row, all},
        iterators, [&](OpBuilder &nb, Location nloc, ValueRange v) {
          Value scaled = arith::MulFOp::create(nb, nloc, v[0], sigmoid(nb, nloc, v[1]));
          linalg::YieldOp::create(nb, nloc, scaled);
        });
    return generic.getResult(0);
  }

  OpBuilder &b;
  ModuleOp module;
  const ::xf::ModelSpec &m;
  Location loc;
  ArrayRef<std::string> kernelOfLayer;
  bool decode = false;
  Type f32;
  func::FuncOp func;
  unsigned firstCache = 1;                  // index of the first cache argument
  llvm::StringMap<Value> weightArgs;        // by tensor name
  SmallVector<DictionaryAttr> weightAttrs;  // in argument order
  Type weightType;
  OpFoldResult batch, seq;
  Value position, positions;
  SmallVector<Value> keyCaches, valueCaches;
};

} // namespace

namespace xf {

OwningOpRef<ModuleOp> generateModule(MLIRContext &ctx, const Spec &spec, const llvm::SourceMgr &sm) {
  ctx.loadDialect<func::FuncDialect, arith::ArithDialect, linalg::LinalgDialect, math::MathDialect,
                  tensor::TensorDialect, vector::VectorDialect, mlir::xf::XFDialect>();
  OpBuilder b(&ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  std::vector<KernelRequest> kernels;
  for (const AttentionSpec &a : spec.attentions)
    kernels.push_back({a.name, locationOf(ctx, sm, a.loc), a.config, a.variants, {}});
  // Each model's kernels, and the kernel each of its layers calls.
  std::vector<std::vector<std::string>> kernelOfLayer;
  for (const ModelSpec &m : spec.models) {
    std::vector<KernelRequest> own = modelKernels(ctx, m, sm);
    std::vector<std::string> &names = kernelOfLayer.emplace_back(m.layers.size());
    for (const KernelRequest &k : own)
      for (int64_t l : k.layers)
        names[l] = k.name;
    llvm::append_range(kernels, own);
  }
  // The whole-model functions: @prefill/@decode, or <model>_prefill/<model>_decode for several models.
  auto entryName = [&](const ModelSpec &m, StringRef phase) {
    return spec.models.size() == 1 ? phase.str() : sanitize(m.name) + "_" + phase.str();
  };
  // A model's kernel may be named like a kernel block, another model's kernel or a model function.
  llvm::StringMap<Location> names;
  bool clash = false;
  auto claim = [&](const std::string &name, Location loc, StringRef what, StringRef naming) {
    if (names.try_emplace(name, loc).second)
      return;
    emitError(loc) << "the " << what << " '" << name << "' is defined twice; rename the block or model ("
                   << naming << ")";
    clash = true;
  };
  for (const KernelRequest &k : kernels)
    claim(k.name, k.loc, "kernel", "a model's kernels are named <model>_attention...");
  for (const ModelSpec &m : spec.models)
    for (StringRef phase : {"prefill", "decode"})
      claim(entryName(m, phase), locationOf(ctx, sm, m.loc), "function",
            "a model's functions are prefill and decode, <model>_prefill and <model>_decode with several models");
  if (clash)
    return nullptr;
  for (const KernelRequest &k : kernels)
    buildKernel(b, *module, k);
  for (auto [m, layers] : llvm::zip(spec.models, kernelOfLayer)) {
    ModelFunctionBuilder builder(b, *module, m, locationOf(ctx, sm, m.loc), layers);
    builder.build(entryName(m, "prefill"), /*decode=*/false);
    builder.build(entryName(m, "decode"), /*decode=*/true);
  }
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

std::string describeUnloweredParts(const Spec &spec) {
  std::string s;
  for (const ModelSpec &m : spec.models) {
    std::string prefill = spec.models.size() == 1 ? "@prefill" : "@" + sanitize(m.name) + "_prefill";
    std::string decode = spec.models.size() == 1 ? "@decode" : "@" + sanitize(m.name) + "_decode";
    s += "// Model '" + m.name + "': " + prefill + " and " + decode +
         " are the whole model in xf IR, calling one attention kernel per\n"
         "// distinct layer attention (its layers in xf.layers; built-in variants applied by the variant passes).\n"
         "// Only the kernels are lowered so far: the CPU pipeline drops " + prefill + "/" + decode +
         " (xf-strip-model-functions);\n"
         "// kernels are f32 whatever the model's dtype.\n";
  }
  return s;
}

} // namespace xf
