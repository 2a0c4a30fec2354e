//===- MLIRGen.cpp - xf IR from a checked specification -------------------===//
#include "frontend/MLIRGen.h"

#include <cmath>

#include "dialect/XFOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using ::xf::ScalarType;
using ::xf::TypedExpr;
using ExprOp = ::xf::TypedExpr::Op;

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
};

void buildKernel(OpBuilder &b, ModuleOp module, const KernelRequest &k) {
  MLIRContext *ctx = b.getContext();
  const ::xf::AttentionConfig &a = k.config;
  Location loc = k.loc;
  auto dim = [](const ::xf::Extent &e) { return e.value ? *e.value : ShapedType::kDynamic; };
  Type f32 = b.getF32Type();
  int64_t batch = dim(a.batch), seqQ = dim(a.seqQ), seqK = dim(a.seqK);
  auto qType = RankedTensorType::get({batch, a.heads, seqQ, a.headDim}, f32);
  auto kType = RankedTensorType::get({batch, a.kvHeads, seqK, a.headDim}, f32);
  auto vType = RankedTensorType::get({batch, a.kvHeads, seqK, a.headDimV}, f32);
  auto oType = RankedTensorType::get({batch, a.heads, seqQ, a.headDimV}, f32);
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
    int64_t rotary = static_cast<int64_t>(std::llround(a.headDim * m->rope.partial));
    func->setAttr("xf.model", b.getDictionaryAttr({
                                  b.getNamedAttr("hidden", b.getI64IntegerAttr(m->hidden)),
                                  b.getNamedAttr("layers", b.getI64IntegerAttr(m->numLayers)),
                                  b.getNamedAttr("max_position", b.getI64IntegerAttr(m->maxPosition)),
                                  b.getNamedAttr("rope_base", b.getF64FloatAttr(m->rope.baseAuto ? 0.0 : m->rope.base)),
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
    auto it = llvm::find_if(kernels, [&](const KernelRequest &k) {
      return k.config == layer.attention && k.variants == layer.variants;
    });
    if (it == kernels.end()) {
      kernels.push_back({"", loc, layer.attention, layer.variants, {}, &m});
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

} // namespace

namespace xf {

OwningOpRef<ModuleOp> generateModule(MLIRContext &ctx, const Spec &spec, const llvm::SourceMgr &sm) {
  ctx.loadDialect<func::FuncDialect, arith::ArithDialect, math::MathDialect, vector::VectorDialect,
                  mlir::xf::XFDialect>();
  OpBuilder b(&ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  std::vector<KernelRequest> kernels;
  for (const AttentionSpec &a : spec.attentions)
    kernels.push_back({a.name, locationOf(ctx, sm, a.loc), a.config, a.variants, {}});
  for (const ModelSpec &m : spec.models)
    llvm::append_range(kernels, modelKernels(ctx, m, sm));
  // A model's kernel may be named like a kernel block or another model's kernel.
  llvm::StringMap<Location> names;
  bool clash = false;
  for (const KernelRequest &k : kernels) {
    auto [it, inserted] = names.try_emplace(k.name, k.loc);
    if (!inserted) {
      emitError(k.loc) << "the kernel '" << k.name << "' is defined twice; rename the block or model"
                       << " (a model's kernels are named <model>_attention...)";
      clash = true;
    }
  }
  if (clash)
    return nullptr;
  for (const KernelRequest &k : kernels)
    buildKernel(b, *module, k);
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

std::string describeUnloweredParts(const Spec &spec) {
  std::string s;
  for (const ModelSpec &m : spec.models) {
    s += "// Model '" + m.name + "': only its attention is lowered so far, one kernel per distinct layer\n"
         "// attention (its layers in xf.layers; built-in variants listed in xf.variants are applied by the\n"
         "// variant passes). Not lowered yet: embeddings, norms, RoPE, the MLP, the layer loop and\n"
         "// @prefill/@decode; kernels are f32 whatever the model's dtype.\n";
  }
  return s;
}

} // namespace xf
