//===- Sema.cpp - semantic checks of .xf files ----------------------------===//
//
// Turns the syntax tree into a Spec: evaluates constants, reads every key against the schema of its
// block, type-checks score and mask expressions into TypedExpr trees, and resolves each model layer's
// attention from the attention block, the layer types and the `layers` overrides. Diagnostics are
// buffered and printed sorted by position at the end, each error followed by its notes.
//
//===----------------------------------------------------------------------===//
#include "frontend/Sema.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/Sequence.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <tuple>

using namespace xf;
using llvm::SMLoc;
using llvm::SourceMgr;
using llvm::StringRef;
using Op = TypedExpr::Op;

namespace {

//===----------------------------------------------------------------------===//
// Schemas
//===----------------------------------------------------------------------===//

const StringRef kTopKinds[] = {"attention", "model", "variant"};
constexpr size_t kMaxLookupEntries = 4096;
const StringRef kKernelKeys[] = {"heads",  "kv_heads", "head_dim", "head_dim_v", "causal",
                                 "window", "scale",    "query_pre_attn_scalar",  "softcap",
                                 "score",  "mask",     "batch",    "seq_q",      "seq_k",
                                 "dtype",  "kv_dtype"};
const StringRef kModelAttentionKeys[] = {"heads",   "kv_heads", "head_dim", "head_dim_v", "causal",
                                         "window",  "sliding_window",       "scale",
                                         "query_pre_attn_scalar", "softcap", "score", "mask",
                                         "qk_norm", "bias",    "kv_dtype", "q_lora_rank", "kv_lora_rank",
                                         "rope_head_dim"};
const StringRef kLayerKeys[] = {"heads",  "kv_heads", "head_dim", "head_dim_v", "causal",
                                "window", "scale",    "query_pre_attn_scalar",  "softcap",
                                "score",  "mask",     "qk_norm",  "bias"};
const StringRef kModelKeys[] = {"vocab",        "hidden",        "layers",      "dtype",
                                "tie_embeddings", "max_position", "embed_scale", "residual_scale",
                                "logit_scale",  "lm_head_bias", "learned_positions",  "final_softcap", "architecture",  "layer_types",
                                "norm_placement", "nope_layers", "mtp_layers"};
const StringRef kModelBlocks[] = {"attention", "rope", "sliding_rope", "mlp", "norm", "layers", "variant"};
const StringRef kNormKeys[] = {"kind", "eps", "unit_offset", "bias"};
const StringRef kMlpKeys[] = {"kind", "activation", "gated", "intermediate", "bias",
                              "experts", "top_k", "norm_top_k", "shared_intermediate", "shared_gate",
                              "router", "jitter_eps", "selection_bias", "groups", "top_groups", "routed_scale",
                              "norm_min", "dense_layers", "dense_intermediate", "limit", "alpha"};
const StringRef kRopeKeys[] = {"base",          "partial",          "interleaved",      "scaling",
                               "factor",        "original_max_position", "low_freq_factor",
                               "high_freq_factor", "beta_fast",     "beta_slow",        "truncate",
                               "mscale",        "mscale_all_dim",   "attention_factor", "short_factor",
                               "long_factor"};
const StringRef kBuiltinVariants[] = {"sinks", "head_modulation", "mixture_of_heads", "affine_scale",
                                      "phase_bounded_rope"};
const StringRef kFunctions[] = {"min", "max", "abs", "exp", "log", "sqrt", "tanh", "float", "sigmoid",
                                "softcap", "alibi_slopes"};
const StringRef kReserved[] = {"z", "b", "h", "i", "j", "heads", "kv_heads", "head_dim", "true", "false"};

std::string suggest(StringRef word, llvm::ArrayRef<StringRef> known) {
  StringRef best;
  unsigned bestDistance = 3; // farther than this is not a typo
  for (StringRef k : known) {
    unsigned d = word.edit_distance(k, true, bestDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return best.empty() ? std::string() : ("; did you mean '" + best + "'?").str();
}

std::string spell(const Expr &e) {
  std::string s;
  llvm::raw_string_ostream os(s);
  printExpr(e, os);
  return s;
}

std::string join(llvm::ArrayRef<StringRef> words) {
  std::string s;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i)
      s += i + 1 == words.size() ? " or " : ", ";
    s += "'" + words[i].str() + "'";
  }
  return s;
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

TypedExprRef constInt(int64_t v) {
  auto e = std::make_shared<TypedExpr>();
  e->op = Op::Const;
  e->type = ScalarType::Int;
  e->intValue = v;
  return e;
}
TypedExprRef constFloat(double v) {
  auto e = std::make_shared<TypedExpr>();
  e->op = Op::Const;
  e->type = ScalarType::Float;
  e->floatValue = v;
  return e;
}
TypedExprRef constBool(bool v) {
  auto e = std::make_shared<TypedExpr>();
  e->op = Op::Const;
  e->type = ScalarType::Bool;
  e->boolValue = v;
  return e;
}
TypedExprRef variable(char name) {
  auto e = std::make_shared<TypedExpr>();
  e->op = Op::Var;
  e->var = name;
  e->type = name == 'z' ? ScalarType::Float : ScalarType::Int;
  return e;
}
bool isConst(const TypedExprRef &e) { return e->op == Op::Const; }

/// What an expression evaluates to: a scalar (constant or not), a word (`none`), a string, or a list.
struct Val {
  enum class Kind { Scalar, Word, String, Array };
  Kind kind = Kind::Scalar;
  TypedExprRef scalar;
  std::string text;
  /// The items of a list, shared: constants are copied wherever they are used, and lists can be long.
  std::shared_ptr<const std::vector<Val>> elems;
  SMLoc loc;

  const std::vector<Val> &items() const {
    static const std::vector<Val> none;
    return elems ? *elems : none;
  }

  bool isScalar() const { return kind == Kind::Scalar; }
  bool isConstScalar() const { return isScalar() && isConst(scalar); }
  bool isInt() const { return isConstScalar() && scalar->type == ScalarType::Int; }
  bool isNumber() const { return isConstScalar() && scalar->type != ScalarType::Bool; }
  bool isBool() const { return isConstScalar() && scalar->type == ScalarType::Bool; }
  bool isWord(StringRef w) const { return kind == Kind::Word && text == w; }
  double number() const { return scalar->type == ScalarType::Int ? double(scalar->intValue) : scalar->floatValue; }
  static Val of(TypedExprRef e, SMLoc loc) {
    Val v;
    v.scalar = std::move(e);
    v.loc = loc;
    return v;
  }
};

/// What names mean while an expression is evaluated.
struct Context {
  bool vars = false;          // b, h, i, j (score/mask expressions)
  bool allowZ = false;        // z (score expressions)
  bool wordsAllowed = true;   // an unknown name is a word (field values) or an error (score/mask)
  const llvm::StringMap<Val> *params = nullptr; // variant parameters
  const AttentionConfig *attention = nullptr;   // heads, kv_heads, head_dim
};

//===----------------------------------------------------------------------===//
// Diagnostics
//===----------------------------------------------------------------------===//

class Diagnostics {
public:
  explicit Diagnostics(SourceMgr &sm) : sm(sm) {}
  void error(SMLoc loc, const llvm::Twine &msg) {
    list.push_back({loc, msg.str(), {}});
    failed = true;
  }
  void note(SMLoc loc, const llvm::Twine &msg) { list.back().notes.emplace_back(loc, msg.str()); }
  /// Adds a note to every error reported since the count was `first`.
  void noteSince(size_t first, SMLoc loc, const llvm::Twine &msg) {
    for (size_t i = first; i < list.size(); ++i)
      list[i].notes.emplace_back(loc, msg.str());
  }
  bool hasFailed() const { return failed; }
  size_t count() const { return list.size(); }

  /// Prints everything sorted by (file in reading order, position); repeated messages (a model-level
  /// modifier resolved for several layers) appear once.
  void flush() {
    auto key = [&](SMLoc loc) {
      unsigned id = loc.isValid() ? sm.FindBufferContainingLoc(loc) : 0;
      return std::make_pair(id ? id : ~0u, loc.getPointer());
    };
    // By position, then in the order reported (std::stable_sort warns in this libstdc++).
    for (size_t i = 0; i < list.size(); ++i)
      list[i].order = i;
    std::sort(list.begin(), list.end(), [&](const Entry &a, const Entry &b) {
      return std::make_pair(key(a.loc), a.order) < std::make_pair(key(b.loc), b.order);
    });
    std::set<std::pair<const char *, std::string>> printed;
    for (const Entry &d : list) {
      if (!printed.insert({d.loc.getPointer(), d.message}).second)
        continue;
      sm.PrintMessage(d.loc, SourceMgr::DK_Error, d.message);
      for (const auto &[loc, message] : d.notes)
        sm.PrintMessage(loc, SourceMgr::DK_Note, message);
    }
    list.clear();
  }

private:
  struct Entry {
    SMLoc loc;
    std::string message;
    std::vector<std::pair<SMLoc, std::string>> notes;
    size_t order = 0;
  };
  SourceMgr &sm;
  std::vector<Entry> list;
  bool failed = false;
};

//===----------------------------------------------------------------------===//
// The analyzer
//===----------------------------------------------------------------------===//

/// The keys of one attention-like block, read but not yet applied.
struct AttentionPatch {
  std::optional<int64_t> heads, kvHeads, headDim, headDimV;
  std::optional<bool> causal;
  std::optional<int64_t> window;                      // 0: none
  std::optional<int64_t> slidingWindow;               // 0: none
  std::optional<int64_t> qLoraRank, kvLoraRank, ropeHeadDim; // latent attention (the model's block only)
  std::optional<std::pair<AttentionConfig::ScaleKind, double>> scale;
  std::optional<std::optional<double>> softcap;
  const Expr *score = nullptr, *mask = nullptr;
  std::optional<QkNorm> qkNorm;
  std::optional<AttentionBias> bias;
  std::optional<Extent> batch, seqQ, seqK;
  std::optional<DType> dtype, kvDtype;
  llvm::StringMap<SMLoc> keyLocs, valueLocs;
  bool ok = true;
};

/// A layer while its model is analyzed: its attention, and the expressions and variant blocks still to
/// resolve against it.
struct PendingLayer {
  AttentionConfig config;
  const Expr *score = nullptr, *mask = nullptr;
  std::vector<const Block *> variants;
  std::vector<const Block *> layerVariants; // the layer's own, after the model's
};

enum class VariantSite { Kernel, Model, Layer };

class Analyzer {
public:
  explicit Analyzer(SourceMgr &sm) : sm(sm), diag(sm) {}

  std::optional<Spec> run(const SpecFile &file) {
    Spec spec;
    registerConsts(file);
    registerVariants(file);
    for (const ConstDecl &c : file.consts)
      (void)constValue(c.name, c.loc);
    llvm::StringMap<SMLoc> names;
    for (const Block &block : file.blocks) {
      if (!llvm::is_contained(kTopKinds, block.kind)) {
        diag.error(block.loc, "unknown block kind '" + block.kind + "'" + suggest(block.kind, kTopKinds));
        continue;
      }
      if (block.kind == "variant") {
        checkVariantDeclaration(block);
        continue;
      }
      auto [it, inserted] = names.try_emplace(block.name, block.nameLoc);
      if (!inserted) {
        diag.error(block.nameLoc, "'" + block.name + "' is defined twice");
        diag.note(it->second, "first definition of '" + block.name + "'");
      }
      if (block.kind == "attention") {
        if (auto attention = analyzeKernel(block))
          spec.attentions.push_back(std::move(*attention));
      } else if (auto model = analyzeModel(block)) {
        spec.models.push_back(std::move(*model));
      }
    }
    diag.flush();
    if (diag.hasFailed())
      return std::nullopt;
    if (spec.attentions.empty() && spec.models.empty()) {
      sm.PrintMessage(SMLoc::getFromPointer(sm.getMemoryBuffer(sm.getMainFileID())->getBufferStart()),
                      SourceMgr::DK_Error, "the specification declares no attention block or model");
      return std::nullopt;
    }
    return spec;
  }

private:
  //===--------------------------------------------------------------------===//
  // Constants and variant declarations
  //===--------------------------------------------------------------------===//
  struct ConstEntry {
    const ConstDecl *decl;
    enum { Unresolved, Resolving, Done, Failed } state = Unresolved;
    Val value;
  };

  void registerConsts(const SpecFile &file) {
    for (const ConstDecl &c : file.consts) {
      if (llvm::is_contained(kReserved, c.name) || llvm::is_contained(kFunctions, c.name)) {
        diag.error(c.loc, "'" + c.name + "' is reserved and cannot name a constant");
        continue;
      }
      ConstEntry entry;
      entry.decl = &c;
      auto [it, inserted] = consts.try_emplace(c.name, entry);
      if (!inserted) {
        diag.error(c.loc, "constant '" + c.name + "' is defined twice");
        diag.note(it->second.decl->loc, "first definition of '" + c.name + "'");
      }
    }
  }

  std::optional<Val> constValue(StringRef name, SMLoc use) {
    auto it = consts.find(name);
    if (it == consts.end())
      return std::nullopt;
    ConstEntry &entry = it->second;
    switch (entry.state) {
    case ConstEntry::Done:
      return entry.value;
    case ConstEntry::Failed:
      return std::nullopt;
    case ConstEntry::Resolving:
      diag.error(entry.decl->loc, "constant '" + name + "' is defined in terms of itself");
      entry.state = ConstEntry::Failed;
      return std::nullopt;
    case ConstEntry::Unresolved:
      break;
    }
    entry.state = ConstEntry::Resolving;
    Context ctx;
    std::optional<Val> v = eval(*entry.decl->value, ctx);
    if (entry.state == ConstEntry::Failed || !v) {
      entry.state = ConstEntry::Failed;
      return std::nullopt;
    }
    entry.state = ConstEntry::Done;
    entry.value = *v;
    return v;
  }

  void registerVariants(const SpecFile &file) {
    for (const Block &block : file.blocks) {
      if (block.kind != "variant")
        continue;
      auto [it, inserted] = declaredVariants.try_emplace(block.name, &block);
      if (!inserted) {
        diag.error(block.nameLoc, "variant '" + block.name + "' is declared twice");
        diag.note(it->second->nameLoc, "first declaration of '" + block.name + "'");
      }
    }
  }

  void checkVariantDeclaration(const Block &block) {
    if (isBuiltinVariant(block.name)) {
      diag.error(block.nameLoc, "'" + block.name + "' is a built-in variant; declare yours under another name");
      return;
    }
    bool hasModifier = false;
    llvm::StringMap<SMLoc> seen;
    for (const Field &f : block.fields) {
      auto [it, inserted] = seen.try_emplace(f.key, f.keyLoc);
      if (!inserted) {
        diag.error(f.keyLoc, "'" + f.key + "' is set twice");
        diag.note(it->second, "first set here");
      }
      if (f.key == "score" || f.key == "mask")
        hasModifier = true;
      else if (llvm::is_contained(kReserved, f.key) || llvm::is_contained(kFunctions, f.key))
        diag.error(f.keyLoc, "'" + f.key + "' is reserved and cannot name a variant parameter");
    }
    for (const Block &nested : block.blocks)
      diag.error(nested.loc, "a variant declaration holds only 'score', 'mask' and parameters, not blocks");
    if (!hasModifier)
      diag.error(block.nameLoc, "variant '" + block.name + "' declares neither 'score' nor 'mask'");
  }

  static bool isBuiltinVariant(StringRef name) {
    return llvm::is_contained(kBuiltinVariants, name) || name == "moh";
  }

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//
  std::optional<TypedExprRef> fold(const std::shared_ptr<TypedExpr> &e, SMLoc loc) {
    for (const TypedExprRef &o : e->operands)
      if (!isConst(o))
        return TypedExprRef(e);
    auto &ops = e->operands;
    auto I = [&](size_t k) { return ops[k]->intValue; };
    auto F = [&](size_t k) { return ops[k]->type == ScalarType::Int ? double(ops[k]->intValue) : ops[k]->floatValue; };
    auto B = [&](size_t k) { return ops[k]->boolValue; };
    bool isInt = !ops.empty() && ops[0]->type == ScalarType::Int;
    auto overflow = [&]() -> std::optional<TypedExprRef> {
      diag.error(loc, "integer overflow in a constant expression");
      return std::nullopt;
    };
    auto real = [&](double v) -> std::optional<TypedExprRef> {
      if (!std::isfinite(v)) {
        diag.error(loc, "the constant expression is not a finite number");
        return std::nullopt;
      }
      return constFloat(v);
    };
    int64_t r = 0;
    switch (e->op) {
    case Op::Const:
    case Op::Var:
      return TypedExprRef(e);
    case Op::Neg:
      if (isInt) {
        if (I(0) == std::numeric_limits<int64_t>::min())
          return overflow();
        return constInt(-I(0));
      }
      return real(-F(0));
    case Op::Not:
      return constBool(!B(0));
    case Op::Add:
      if (isInt)
        return __builtin_add_overflow(I(0), I(1), &r) ? overflow() : std::optional<TypedExprRef>(constInt(r));
      return real(F(0) + F(1));
    case Op::Sub:
      if (isInt)
        return __builtin_sub_overflow(I(0), I(1), &r) ? overflow() : std::optional<TypedExprRef>(constInt(r));
      return real(F(0) - F(1));
    case Op::Mul:
      if (isInt)
        return __builtin_mul_overflow(I(0), I(1), &r) ? overflow() : std::optional<TypedExprRef>(constInt(r));
      return real(F(0) * F(1));
    case Op::Div:
      if (isInt) {
        if (I(0) == std::numeric_limits<int64_t>::min() && I(1) == -1)
          return overflow();
        int64_t q = I(0) / I(1);
        if (I(0) % I(1) != 0 && ((I(0) < 0) != (I(1) < 0)))
          --q;
        return constInt(q);
      }
      return real(F(0) / F(1));
    case Op::Mod: {
      if (I(1) == -1)
        return constInt(0);
      int64_t m = I(0) % I(1);
      if (m != 0 && ((m < 0) != (I(1) < 0)))
        m += I(1);
      return constInt(m);
    }
    case Op::Lt:
      return constBool(isInt ? I(0) < I(1) : F(0) < F(1));
    case Op::Le:
      return constBool(isInt ? I(0) <= I(1) : F(0) <= F(1));
    case Op::Gt:
      return constBool(isInt ? I(0) > I(1) : F(0) > F(1));
    case Op::Ge:
      return constBool(isInt ? I(0) >= I(1) : F(0) >= F(1));
    case Op::Eq:
      if (ops[0]->type == ScalarType::Bool)
        return constBool(B(0) == B(1));
      return constBool(isInt ? I(0) == I(1) : F(0) == F(1));
    case Op::Ne:
      if (ops[0]->type == ScalarType::Bool)
        return constBool(B(0) != B(1));
      return constBool(isInt ? I(0) != I(1) : F(0) != F(1));
    case Op::And:
      return constBool(B(0) && B(1));
    case Op::Or:
      return constBool(B(0) || B(1));
    case Op::Select:
      return B(0) ? ops[1] : ops[2];
    case Op::Min:
      return isInt ? constInt(std::min(I(0), I(1))) : constFloat(std::fmin(F(0), F(1)));
    case Op::Max:
      return isInt ? constInt(std::max(I(0), I(1))) : constFloat(std::fmax(F(0), F(1)));
    case Op::Abs:
      if (isInt) {
        if (I(0) == std::numeric_limits<int64_t>::min())
          return overflow();
        return constInt(I(0) < 0 ? -I(0) : I(0));
      }
      return constFloat(std::fabs(F(0)));
    case Op::Exp:
      return real(std::exp(F(0)));
    case Op::Log:
      return real(std::log(F(0)));
    case Op::Sqrt:
      return real(std::sqrt(F(0)));
    case Op::Tanh:
      return real(std::tanh(F(0)));
    case Op::ToFloat:
      return constFloat(F(0));
    case Op::Lookup:
      break; // folded by the caller, which knows the list
    }
    return TypedExprRef(e);
  }

  std::optional<TypedExprRef> make(Op op, ScalarType type, std::vector<TypedExprRef> operands, SMLoc loc) {
    auto e = std::make_shared<TypedExpr>();
    e->op = op;
    e->type = type;
    e->operands = std::move(operands);
    // A select with a constant condition keeps only the branch it takes.
    if (op == Op::Select && isConst(e->operands[0]))
      return e->operands[0]->boolValue ? e->operands[1] : e->operands[2];
    return fold(e, loc);
  }

  std::optional<TypedExprRef> toFloat(TypedExprRef e, SMLoc loc) {
    if (e->type == ScalarType::Float)
      return e;
    return make(Op::ToFloat, ScalarType::Float, {std::move(e)}, loc);
  }

  /// Makes `a` and `b` the same numeric type (int, or float if either is).
  bool unifyNumbers(TypedExprRef &a, TypedExprRef &b, SMLoc loc) {
    if (a->type == b->type)
      return true;
    auto fa = toFloat(a, loc), fb = toFloat(b, loc);
    if (!fa || !fb)
      return false;
    a = *fa;
    b = *fb;
    return true;
  }

  /// The scalar of `v`, or an error that says why a word, string or list cannot be used here.
  std::optional<TypedExprRef> scalarOf(const Val &v, const llvm::Twine &where) {
    switch (v.kind) {
    case Val::Kind::Scalar:
      return v.scalar;
    case Val::Kind::Word: {
      std::vector<StringRef> names;
      for (const auto &c : consts)
        names.push_back(c.getKey());
      diag.error(v.loc, "unknown name '" + v.text + "' in " + where + suggest(v.text, names));
      return std::nullopt;
    }
    case Val::Kind::String:
      diag.error(v.loc, "a string cannot be used in " + where);
      return std::nullopt;
    case Val::Kind::Array:
      diag.error(v.loc, "a list cannot be used in " + where + "; index it, as in list[h]");
      return std::nullopt;
    }
    return std::nullopt;
  }

  std::optional<Val> eval(const Expr &e, const Context &ctx) {
    switch (e.kind) {
    case Expr::Kind::Integer:
      return Val::of(constInt(e.integer), e.loc);
    case Expr::Kind::Float:
      return Val::of(constFloat(e.number), e.loc);
    case Expr::Kind::Bool:
      return Val::of(constBool(e.boolean), e.loc);
    case Expr::Kind::String: {
      Val v;
      v.kind = Val::Kind::String;
      v.text = e.text;
      v.loc = e.loc;
      return v;
    }
    case Expr::Kind::Name:
      return evalName(e, ctx);
    case Expr::Kind::Array: {
      Val v;
      v.kind = Val::Kind::Array;
      v.loc = e.loc;
      bool ok = true;
      std::vector<Val> items;
      for (const ExprPtr &item : e.operands) {
        auto x = eval(*item, ctx);
        if (x)
          items.push_back(std::move(*x));
        ok &= x.has_value();
      }
      if (!ok)
        return std::nullopt;
      v.elems = std::make_shared<const std::vector<Val>>(std::move(items));
      return v;
    }
    case Expr::Kind::Unary:
      return evalUnary(e, ctx);
    case Expr::Kind::Binary:
      return evalBinary(e, ctx);
    case Expr::Kind::Ternary:
      return evalTernary(e, ctx);
    case Expr::Kind::Call:
      return evalCall(e, ctx);
    case Expr::Kind::Index:
      return evalIndex(e, ctx);
    }
    return std::nullopt;
  }

  std::optional<Val> evalName(const Expr &e, const Context &ctx) {
    StringRef name = e.text;
    if (name.size() == 1 && StringRef("bhij").contains(name[0]) && ctx.vars)
      return Val::of(variable(name[0]), e.loc);
    if (name == "z" && ctx.vars) {
      if (ctx.allowZ)
        return Val::of(variable('z'), e.loc);
      diag.error(e.loc, "'z' (the score) is not available in a mask expression");
      return std::nullopt;
    }
    if (ctx.params) {
      auto it = ctx.params->find(name);
      if (it != ctx.params->end()) {
        Val v = it->second;
        v.loc = e.loc;
        return v;
      }
    }
    if (ctx.attention) {
      if (name == "heads")
        return Val::of(constInt(ctx.attention->heads), e.loc);
      if (name == "kv_heads")
        return Val::of(constInt(ctx.attention->kvHeads), e.loc);
      if (name == "head_dim")
        return Val::of(constInt(ctx.attention->headDim), e.loc);
    }
    if (consts.count(name)) {
      auto v = constValue(name, e.loc);
      if (!v)
        return std::nullopt;
      v->loc = e.loc;
      return v;
    }
    if (ctx.wordsAllowed) {
      Val v;
      v.kind = Val::Kind::Word;
      v.text = name.str();
      v.loc = e.loc;
      return v;
    }
    std::vector<StringRef> known;
    if (ctx.vars) {
      for (StringRef v : {"b", "h", "i", "j"})
        known.push_back(v);
      if (ctx.allowZ)
        known.push_back("z");
    }
    if (ctx.attention)
      for (StringRef v : {"heads", "kv_heads", "head_dim"})
        known.push_back(v);
    if (ctx.params)
      for (const auto &p : *ctx.params)
        known.push_back(p.getKey());
    for (const auto &c : consts)
      known.push_back(c.getKey());
    diag.error(e.loc, "unknown name '" + name + "'" + suggest(name, known));
    return std::nullopt;
  }

  std::optional<Val> evalUnary(const Expr &e, const Context &ctx) {
    auto x = eval(*e.operands[0], ctx);
    if (!x)
      return std::nullopt;
    auto s = scalarOf(*x, "'" + e.text + "'");
    if (!s)
      return std::nullopt;
    if (e.text == "!") {
      if ((*s)->type != ScalarType::Bool) {
        diag.error(e.loc, "'!' needs a bool, got " + toString((*s)->type));
        return std::nullopt;
      }
      auto r = make(Op::Not, ScalarType::Bool, {*s}, e.loc);
      return r ? std::optional<Val>(Val::of(*r, e.loc)) : std::nullopt;
    }
    if ((*s)->type == ScalarType::Bool) {
      diag.error(e.loc, "'-' needs a number, got bool");
      return std::nullopt;
    }
    auto r = make(Op::Neg, (*s)->type, {*s}, e.loc);
    return r ? std::optional<Val>(Val::of(*r, e.loc)) : std::nullopt;
  }

  std::optional<Val> evalBinary(const Expr &e, const Context &ctx) {
    // Both sides are evaluated, so that an error in each is reported.
    auto l = eval(*e.operands[0], ctx);
    auto r = eval(*e.operands[1], ctx);
    if (!l || !r)
      return std::nullopt;
    std::string where = "'" + e.text + "'";
    auto a = scalarOf(*l, where);
    if (!a)
      return std::nullopt;
    auto b = scalarOf(*r, where);
    if (!b)
      return std::nullopt;
    TypedExprRef x = *a, y = *b;
    StringRef op = e.text;
    SMLoc loc = e.loc;
    auto result = [&](std::optional<TypedExprRef> t) -> std::optional<Val> {
      if (!t)
        return std::nullopt;
      return Val::of(*t, startLoc(e));
    };
    if (op == "&&" || op == "||") {
      if (x->type != ScalarType::Bool || y->type != ScalarType::Bool) {
        diag.error(loc, where + " needs bools, got " + toString(x->type) + " and " + toString(y->type));
        return std::nullopt;
      }
      return result(make(op == "&&" ? Op::And : Op::Or, ScalarType::Bool, {x, y}, loc));
    }
    if (op == "==" || op == "!=") {
      Op o = op == "==" ? Op::Eq : Op::Ne;
      if (x->type == ScalarType::Bool && y->type == ScalarType::Bool)
        return result(make(o, ScalarType::Bool, {x, y}, loc));
      if (x->type == ScalarType::Bool || y->type == ScalarType::Bool) {
        diag.error(loc, "cannot compare " + toString(x->type) + " with " + toString(y->type));
        return std::nullopt;
      }
      if (!unifyNumbers(x, y, loc))
        return std::nullopt;
      return result(make(o, ScalarType::Bool, {x, y}, loc));
    }
    if (x->type == ScalarType::Bool || y->type == ScalarType::Bool) {
      diag.error(loc, where + " needs numbers, got " + toString(x->type) + " and " + toString(y->type));
      return std::nullopt;
    }
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
      if (!unifyNumbers(x, y, loc))
        return std::nullopt;
      Op o = op == "<" ? Op::Lt : op == "<=" ? Op::Le : op == ">" ? Op::Gt : Op::Ge;
      return result(make(o, ScalarType::Bool, {x, y}, loc));
    }
    if (op == "%") {
      if (x->type != ScalarType::Int || y->type != ScalarType::Int) {
        diag.error(loc, "'%' needs integers, got " + toString(x->type) + " and " + toString(y->type));
        return std::nullopt;
      }
      if (!checkDivisor(y, loc))
        return std::nullopt;
      return result(make(Op::Mod, ScalarType::Int, {x, y}, loc));
    }
    if (op == "/" && x->type == ScalarType::Int && y->type == ScalarType::Int) {
      if (!checkDivisor(y, loc))
        return std::nullopt;
      return result(make(Op::Div, ScalarType::Int, {x, y}, loc));
    }
    if (!unifyNumbers(x, y, loc))
      return std::nullopt;
    Op o = op == "+" ? Op::Add : op == "-" ? Op::Sub : op == "*" ? Op::Mul : Op::Div;
    return result(make(o, x->type, {x, y}, loc));
  }

  /// Integer division and modulo need a non-zero constant divisor: a variable one could be zero at run
  /// time, where it would trap.
  bool checkDivisor(const TypedExprRef &d, SMLoc loc) {
    if (!isConst(d)) {
      diag.error(loc, "integer division and '%' need a constant divisor");
      return false;
    }
    if (d->intValue == 0) {
      diag.error(loc, "division by zero");
      return false;
    }
    return true;
  }

  std::optional<Val> evalTernary(const Expr &e, const Context &ctx) {
    auto c = eval(*e.operands[0], ctx);
    auto cs = c ? scalarOf(*c, "the condition of '?:'") : std::nullopt;
    if (cs && (*cs)->type != ScalarType::Bool) {
      diag.error(startLoc(*e.operands[0]), "the condition of '?:' must be a bool, got " + toString((*cs)->type));
      cs.reset();
    }
    auto a = eval(*e.operands[1], ctx);
    auto b = eval(*e.operands[2], ctx);
    if (!cs || !a || !b)
      return std::nullopt;
    // A constant condition may choose between words or lists too.
    if (isConst(*cs) && (!a->isScalar() || !b->isScalar()))
      return (*cs)->boolValue ? a : b;
    auto x = scalarOf(*a, "'?:'");
    if (!x)
      return std::nullopt;
    auto y = scalarOf(*b, "'?:'");
    if (!y)
      return std::nullopt;
    TypedExprRef p = *x, q = *y;
    if ((p->type == ScalarType::Bool) != (q->type == ScalarType::Bool)) {
      diag.error(e.loc, "the branches of '?:' have different types: " + toString(p->type) + " and " +
                            toString(q->type));
      return std::nullopt;
    }
    if (!unifyNumbers(p, q, e.loc))
      return std::nullopt;
    auto r = make(Op::Select, p->type, {*cs, p, q}, e.loc);
    if (!r)
      return std::nullopt;
    return Val::of(*r, startLoc(e));
  }

  std::optional<Val> evalCall(const Expr &e, const Context &ctx) {
    StringRef f = e.text;
    if (!llvm::is_contained(kFunctions, f)) {
      diag.error(e.loc, "unknown function '" + f + "'" + suggest(f, kFunctions));
      return std::nullopt;
    }
    size_t arity = (f == "min" || f == "max" || f == "softcap") ? 2 : 1;
    if (e.operands.size() != arity) {
      diag.error(e.loc, "'" + f + "' takes " + llvm::Twine(arity) + " argument" + (arity > 1 ? "s" : "") +
                            ", got " + llvm::Twine(e.operands.size()));
      return std::nullopt;
    }
    std::vector<TypedExprRef> args;
    bool ok = true;
    for (const ExprPtr &arg : e.operands) {
      auto v = eval(*arg, ctx);
      auto s = v ? scalarOf(*v, "the arguments of '" + f + "'") : std::nullopt;
      if (s && (*s)->type == ScalarType::Bool) {
        diag.error(startLoc(*arg), "'" + f + "' needs numbers, got bool");
        s.reset();
      }
      if (s)
        args.push_back(*s);
      ok &= s.has_value();
    }
    if (!ok)
      return std::nullopt;
    SMLoc loc = e.loc;
    auto result = [&](std::optional<TypedExprRef> t) -> std::optional<Val> {
      if (!t)
        return std::nullopt;
      return Val::of(*t, loc);
    };
    if (f == "alibi_slopes")
      return alibiSlopes(e, args[0]);
    if (f == "min" || f == "max") {
      if (!unifyNumbers(args[0], args[1], loc))
        return std::nullopt;
      return result(make(f == "min" ? Op::Min : Op::Max, args[0]->type, args, loc));
    }
    if (f == "abs")
      return result(make(Op::Abs, args[0]->type, args, loc));
    auto x = toFloat(args[0], loc);
    if (!x)
      return std::nullopt;
    if (f == "float")
      return result(x);
    if (f == "exp" || f == "log" || f == "sqrt" || f == "tanh") {
      Op o = f == "exp" ? Op::Exp : f == "log" ? Op::Log : f == "sqrt" ? Op::Sqrt : Op::Tanh;
      return result(make(o, ScalarType::Float, {*x}, loc));
    }
    if (f == "sigmoid") {
      // 1 / (1 + exp(-x))
      auto neg = make(Op::Neg, ScalarType::Float, {*x}, loc);
      auto ex = neg ? make(Op::Exp, ScalarType::Float, {*neg}, loc) : std::nullopt;
      auto den = ex ? make(Op::Add, ScalarType::Float, {constFloat(1.0), *ex}, loc) : std::nullopt;
      return result(den ? make(Op::Div, ScalarType::Float, {constFloat(1.0), *den}, loc) : std::nullopt);
    }
    // softcap(x, c) = c * tanh(x / c)
    auto c = toFloat(args[1], loc);
    if (!c)
      return std::nullopt;
    if (!isConst(*c) || !((*c)->floatValue > 0)) {
      diag.error(startLoc(*e.operands[1]), "the cap of 'softcap' must be a positive constant");
      return std::nullopt;
    }
    auto div = make(Op::Div, ScalarType::Float, {*x, *c}, loc);
    auto th = div ? make(Op::Tanh, ScalarType::Float, {*div}, loc) : std::nullopt;
    return result(th ? make(Op::Mul, ScalarType::Float, {*c, *th}, loc) : std::nullopt);
  }

  /// ALiBi's head slopes (Press et al.): for n a power of two, 2^(-8k/n) for k = 1..n; otherwise those
  /// of the next lower power of two m, then every other slope of 2m.
  std::optional<Val> alibiSlopes(const Expr &e, const TypedExprRef &n) {
    if (!isConst(n) || n->type != ScalarType::Int || n->intValue <= 0 || n->intValue > 65536) {
      diag.error(startLoc(*e.operands[0]), "'alibi_slopes' needs a constant number of heads in [1, 65536]");
      return std::nullopt;
    }
    auto powerOfTwo = [](int64_t m) {
      std::vector<double> s;
      for (int64_t k = 1; k <= m; ++k)
        s.push_back(std::pow(2.0, -8.0 * double(k) / double(m)));
      return s;
    };
    int64_t count = n->intValue;
    int64_t m = 1;
    while (m * 2 <= count)
      m *= 2;
    std::vector<double> slopes = powerOfTwo(m);
    std::vector<double> extra = powerOfTwo(2 * m);
    for (int64_t k = 0; int64_t(slopes.size()) < count; k += 2)
      slopes.push_back(extra[k]);
    Val v;
    v.kind = Val::Kind::Array;
    v.loc = e.loc;
    std::vector<Val> items;
    for (double s : slopes)
      items.push_back(Val::of(constFloat(s), e.loc));
    v.elems = std::make_shared<const std::vector<Val>>(std::move(items));
    return v;
  }

  std::optional<Val> evalIndex(const Expr &e, const Context &ctx) {
    auto list = eval(*e.operands[0], ctx);
    auto idx = eval(*e.operands[1], ctx);
    if (!list || !idx)
      return std::nullopt;
    if (list->kind != Val::Kind::Array) {
      diag.error(e.loc, "only a list can be indexed");
      return std::nullopt;
    }
    auto index = scalarOf(*idx, "an index");
    if (!index)
      return std::nullopt;
    if ((*index)->type != ScalarType::Int) {
      diag.error(startLoc(*e.operands[1]), "an index must be an int, got " + toString((*index)->type));
      return std::nullopt;
    }
    size_t n = list->items().size();
    if (n == 0) {
      diag.error(e.loc, "cannot index an empty list");
      return std::nullopt;
    }
    if (isConst(*index)) {
      int64_t k = (*index)->intValue;
      if (k < 0 || uint64_t(k) >= n) {
        diag.error(startLoc(*e.operands[1]), "index " + llvm::Twine(k) + " is out of range for a list of " +
                                                 llvm::Twine(n));
        return std::nullopt;
      }
      Val v = list->items()[k];
      v.loc = startLoc(e);
      return v;
    }
    // A lookup at run time: the list must hold constants of one type, few enough to sit in a vector
    // constant of the kernel.
    if (n > kMaxLookupEntries) {
      diag.error(e.loc, "a list indexed at run time holds at most " + llvm::Twine(kMaxLookupEntries) +
                            " entries, this one " + llvm::Twine(n));
      return std::nullopt;
    }
    auto table = std::make_shared<TypedExpr>();
    table->op = Op::Lookup;
    bool anyFloat = false, anyBool = false, anyNumber = false;
    for (const Val &item : list->items()) {
      if (!item.isConstScalar()) {
        diag.error(item.loc, "a list indexed at run time must hold constant numbers or bools");
        return std::nullopt;
      }
      anyBool |= item.scalar->type == ScalarType::Bool;
      anyNumber |= item.scalar->type != ScalarType::Bool;
      anyFloat |= item.scalar->type == ScalarType::Float;
    }
    if (anyBool && anyNumber) {
      diag.error(list->loc, "a list mixes bools and numbers");
      return std::nullopt;
    }
    table->type = anyBool ? ScalarType::Bool : anyFloat ? ScalarType::Float : ScalarType::Int;
    for (const Val &item : list->items()) {
      if (table->type == ScalarType::Float)
        table->floatTable.push_back(item.number());
      else if (table->type == ScalarType::Bool)
        table->intTable.push_back(item.scalar->boolValue);
      else
        table->intTable.push_back(item.scalar->intValue);
    }
    if (ctx.attention && (*index)->op == Op::Var && (*index)->var == 'h' &&
        int64_t(n) != ctx.attention->heads) {
      diag.error(e.loc, "a per-head list indexed by 'h' has " + llvm::Twine(n) + " entries but the attention has " +
                            llvm::Twine(ctx.attention->heads) + " heads");
      return std::nullopt;
    }
    table->operands.push_back(*index);
    return Val::of(table, startLoc(e));
  }

  /// Resolves a `score` or `mask` expression against an attention; null when it changes nothing.
  std::optional<TypedExprRef> resolveModifier(const Expr &expr, bool isScore, const AttentionConfig &attention,
                                              const llvm::StringMap<Val> *params) {
    Context ctx;
    ctx.vars = true;
    ctx.allowZ = isScore;
    ctx.wordsAllowed = false;
    ctx.params = params;
    ctx.attention = &attention;
    auto v = eval(expr, ctx);
    if (!v)
      return std::nullopt;
    auto s = scalarOf(*v, isScore ? "a score expression" : "a mask expression");
    if (!s)
      return std::nullopt;
    TypedExprRef e = *s;
    SMLoc loc = startLoc(expr);
    if (isScore) {
      if (e->type == ScalarType::Bool) {
        diag.error(loc, "a score expression must be a number, got bool");
        return std::nullopt;
      }
      auto f = toFloat(e, loc);
      if (!f)
        return std::nullopt;
      e = *f;
      if (e->op == Op::Var && e->var == 'z')
        return TypedExprRef();
      return e;
    }
    if (e->type != ScalarType::Bool) {
      diag.error(loc, "a mask expression must be a bool (a comparison), got " + toString(e->type));
      return std::nullopt;
    }
    if (isConst(e)) {
      if (e->boolValue)
        return TypedExprRef();
      diag.error(loc, "the mask hides every key");
      return std::nullopt;
    }
    return e;
  }

  //===--------------------------------------------------------------------===//
  // Field values
  //===--------------------------------------------------------------------===//
  std::optional<Val> value(const Field &f) {
    Context ctx;
    return eval(*f.value, ctx);
  }

  std::optional<int64_t> positiveInt(const Field &f, const Val &v) {
    if (!v.isInt()) {
      diag.error(startLoc(*f.value), "'" + f.key + "' must be a positive integer, got '" + spell(*f.value) + "'");
      return std::nullopt;
    }
    if (v.scalar->intValue <= 0) {
      diag.error(startLoc(*f.value), "'" + f.key + "' must be positive, got " + llvm::Twine(v.scalar->intValue));
      return std::nullopt;
    }
    return v.scalar->intValue;
  }
  std::optional<int64_t> positiveInt(const Field &f) {
    auto v = value(f);
    return v ? positiveInt(f, *v) : std::nullopt;
  }

  std::optional<bool> boolean(const Field &f) {
    auto v = value(f);
    if (!v)
      return std::nullopt;
    if (!v->isBool()) {
      diag.error(startLoc(*f.value), "'" + f.key + "' must be true or false, got '" + spell(*f.value) + "'");
      return std::nullopt;
    }
    return v->scalar->boolValue;
  }

  /// A number in (lo, hi] or [lo, hi] (by `closedLow`), described as `what` in the error.
  std::optional<double> number(const Field &f, double lo, double hi, bool closedLow, StringRef what) {
    auto v = value(f);
    if (!v)
      return std::nullopt;
    if (!v->isNumber() || !(closedLow ? v->number() >= lo : v->number() > lo) || !(v->number() <= hi)) {
      diag.error(startLoc(*f.value), "'" + f.key + "' must be " + what + ", got '" + spell(*f.value) + "'");
      return std::nullopt;
    }
    return v->number();
  }
  std::optional<double> positiveNumber(const Field &f) {
    return number(f, 0, std::numeric_limits<double>::infinity(), false, "a positive number");
  }

  std::optional<std::string> word(const Field &f, llvm::ArrayRef<StringRef> choices) {
    auto v = value(f);
    if (!v)
      return std::nullopt;
    if (v->kind != Val::Kind::Word || !llvm::is_contained(choices, v->text)) {
      std::string hint = v->kind == Val::Kind::Word ? suggest(v->text, choices) : "";
      diag.error(startLoc(*f.value), "'" + f.key + "' must be " + join(choices) + ", got '" + spell(*f.value) +
                                         "'" + hint);
      return std::nullopt;
    }
    return v->text;
  }

  /// `none` or a positive number.
  std::optional<std::optional<double>> noneOrPositive(const Field &f) {
    auto v = value(f);
    if (!v)
      return std::nullopt;
    if (v->isWord("none"))
      return std::optional<double>();
    if (!v->isNumber() || !(v->number() > 0)) {
      diag.error(startLoc(*f.value), "'" + f.key + "' must be 'none' or a positive number, got '" +
                                         spell(*f.value) + "'");
      return std::nullopt;
    }
    return std::optional<double>(v->number());
  }

  std::optional<std::vector<double>> positiveList(const Field &f) {
    auto v = value(f);
    if (!v)
      return std::nullopt;
    bool ok = v->kind == Val::Kind::Array && !v->items().empty();
    std::vector<double> out;
    if (ok)
      for (const Val &x : v->items()) {
        if (!x.isNumber() || !(x.number() > 0)) {
          ok = false;
          break;
        }
        out.push_back(x.number());
      }
    if (!ok) {
      diag.error(startLoc(*f.value), "'" + f.key + "' must be a list of positive numbers");
      return std::nullopt;
    }
    return out;
  }

  /// Looks fields up by key after reporting unknown and repeated keys. `known` lists the keys of the
  /// block; `elsewhere` says where a key that is valid in some other block belongs.
  llvm::StringMap<const Field *> collect(const Block &block, llvm::ArrayRef<StringRef> known, StringRef what,
                                         std::function<std::string(StringRef)> elsewhere = nullptr) {
    llvm::StringMap<const Field *> seen;
    for (const Field &f : block.fields) {
      if (!llvm::is_contained(known, f.key)) {
        std::string where = elsewhere ? elsewhere(f.key) : std::string();
        if (!where.empty())
          diag.error(f.keyLoc, "'" + f.key + "' " + where);
        else
          diag.error(f.keyLoc, "unknown key '" + f.key + "' in " + what + suggest(f.key, known));
        continue;
      }
      auto [it, inserted] = seen.try_emplace(f.key, &f);
      if (!inserted) {
        diag.error(f.keyLoc, "'" + f.key + "' is set twice");
        diag.note(it->second->keyLoc, "first set here");
      }
    }
    return seen;
  }

  static const Field *get(const llvm::StringMap<const Field *> &fields, StringRef key) {
    auto it = fields.find(key);
    return it == fields.end() ? nullptr : it->second;
  }

  //===--------------------------------------------------------------------===//
  // Attention blocks
  //===--------------------------------------------------------------------===//
  static std::string attentionKeyElsewhere(StringRef key, StringRef site) {
    bool kernel = llvm::is_contained(kKernelKeys, key), model = llvm::is_contained(kModelAttentionKeys, key);
    if (site == "kernel" && model)
      return "applies to the attention of a model, not to an attention kernel block";
    if (site != "kernel" && kernel && !model)
      return "applies only to attention kernel blocks (top-level 'attention NAME')";
    if (site == "layers" && key == "sliding_window")
      return "is set once in the attention block; override 'window' per layer instead";
    return "";
  }

  /// Latent attention's keys (`kv_lora_rank`, `rope_head_dim`, optionally `q_lora_rank`) and what they
  /// require of the model: every layer's heads, kv_heads and head dims alike, kv_heads = heads (each head
  /// expands its own keys and values), RoPE over the rope dims only, no q/k norms.
  void analyzeLatent(const AttentionPatch &base, ModelSpec &m, const std::vector<PendingLayer> &layers) {
    if (!base.kvLoraRank && !base.qLoraRank && !base.ropeHeadDim)
      return;
    auto at = [&](StringRef key) { return base.keyLocs.lookup(key); };
    if (!base.kvLoraRank || !base.ropeHeadDim) {
      StringRef given = base.kvLoraRank ? "kv_lora_rank" : base.ropeHeadDim ? "rope_head_dim" : "q_lora_rank";
      diag.error(at(given), "latent attention needs both 'kv_lora_rank' and 'rope_head_dim'");
      return;
    }
    const AttentionConfig &a = m.attention;
    const int64_t rope = *base.ropeHeadDim;
    if (rope % 2 != 0 || rope >= a.headDim) {
      diag.error(at("rope_head_dim"), "'rope_head_dim' (" + llvm::Twine(rope) +
                                          ") must be even and below head_dim (" + llvm::Twine(a.headDim) +
                                          "): a head's other dims are its unrotated ones");
      return;
    }
    if (a.kvHeads != a.heads) {
      diag.error(at("kv_lora_rank"), "latent attention expands keys and values for every head: kv_heads (" +
                                         llvm::Twine(a.kvHeads) + ") must equal heads (" + llvm::Twine(a.heads) + ")");
      return;
    }
    if (a.qkNorm != QkNorm::None || a.bias == AttentionBias::QKV) {
      diag.error(at(a.qkNorm != QkNorm::None ? "qk_norm" : "bias"),
                 "latent attention takes no q/k norms and either no biases or 'bias = true' (q_a_proj, "
                 "kv_a_proj_with_mqa and o_proj)");
      return;
    }
    if (m.norm.kind != NormSpec::Kind::RMS) {
      diag.error(at("kv_lora_rank"), "latent attention norms its latents with the model's RMSNorm: the norm "
                                     "block must say 'kind = rms'");
      return;
    }
    if (m.rope.partial != 1.0 || m.rope.scaling == RopeSpec::Scaling::LongRope) {
      diag.error(at("rope_head_dim"), "latent attention rotates its 'rope_head_dim' dims: the rope block's "
                                      "'partial' and longrope do not apply");
      return;
    }
    for (size_t l = 0; l < layers.size(); ++l) {
      const AttentionConfig &c = layers[l].config;
      if (c.heads != a.heads || c.kvHeads != a.kvHeads || c.headDim != a.headDim || c.headDimV != a.headDimV ||
          c.qkNorm != a.qkNorm || c.bias != a.bias) {
        diag.error(at("kv_lora_rank"), "with latent attention every layer has the attention block's heads, head "
                                       "dims, q/k norms and biases; layer " + llvm::Twine(l) + " differs");
        return;
      }
    }
    m.latent = {base.qLoraRank.value_or(0), *base.kvLoraRank, rope};
  }

  AttentionPatch readAttention(const Block &block, llvm::ArrayRef<StringRef> keys, StringRef what, StringRef site) {
    AttentionPatch p;
    auto fields = collect(block, keys, what, [&](StringRef key) { return attentionKeyElsewhere(key, site); });
    size_t before = diag.count();
    for (const auto &entry : fields) {
      p.keyLocs[entry.getKey()] = entry.second->keyLoc;
      p.valueLocs[entry.getKey()] = startLoc(*entry.second->value);
    }
    auto positive = [&](StringRef key, std::optional<int64_t> &out) {
      if (const Field *f = get(fields, key))
        out = positiveInt(*f);
    };
    positive("heads", p.heads);
    positive("kv_heads", p.kvHeads);
    positive("head_dim", p.headDim);
    positive("head_dim_v", p.headDimV);
    positive("q_lora_rank", p.qLoraRank);
    positive("kv_lora_rank", p.kvLoraRank);
    positive("rope_head_dim", p.ropeHeadDim);
    if (const Field *f = get(fields, "causal"))
      p.causal = boolean(*f);
    auto windowKey = [&](StringRef key, std::optional<int64_t> &out) {
      const Field *f = get(fields, key);
      if (!f)
        return;
      auto v = value(*f);
      if (!v)
        return;
      if (v->isWord("none"))
        out = 0;
      else if (v->isInt() && v->scalar->intValue > 0)
        out = v->scalar->intValue;
      else
        diag.error(startLoc(*f->value), "'" + key + "' must be 'none' or a positive number of keys, got '" +
                                            spell(*f->value) + "'");
    };
    windowKey("window", p.window);
    windowKey("sliding_window", p.slidingWindow);
    const Field *scale = get(fields, "scale");
    const Field *qpas = get(fields, "query_pre_attn_scalar");
    if (scale && qpas) {
      diag.error(qpas->keyLoc, "set either 'scale' or 'query_pre_attn_scalar', not both");
      diag.note(scale->keyLoc, "'scale' is set here");
    } else if (scale) {
      if (auto v = value(*scale)) {
        if (v->isWord("default"))
          p.scale = {AttentionConfig::ScaleKind::Default, 0.0};
        else if (v->isNumber() && std::isfinite(v->number()) && v->number() > 0)
          p.scale = {AttentionConfig::ScaleKind::Value, v->number()};
        else
          diag.error(startLoc(*scale->value), "'scale' must be 'default' (1/sqrt(head_dim)) or a positive number, got '" +
                                                  spell(*scale->value) + "'");
      }
    } else if (qpas) {
      if (auto v = positiveNumber(*qpas))
        p.scale = {AttentionConfig::ScaleKind::QueryPreAttnScalar, *v};
    }
    if (const Field *f = get(fields, "softcap"))
      p.softcap = noneOrPositive(*f);
    if (const Field *f = get(fields, "score"))
      p.score = f->value.get();
    if (const Field *f = get(fields, "mask"))
      p.mask = f->value.get();
    if (const Field *f = get(fields, "qk_norm")) {
      if (auto v = value(*f)) {
        if (v->isBool())
          p.qkNorm = v->scalar->boolValue ? QkNorm::PerHead : QkNorm::None;
        else if (v->isWord("projection"))
          p.qkNorm = QkNorm::Projection;
        else if (v->isWord("per_head_gains"))
          p.qkNorm = QkNorm::PerHeadGains;
        else
          diag.error(startLoc(*f->value), "'qk_norm' must be true (per head), 'per_head_gains' (per head, each its "
                                          "own gains), 'projection' (each token's whole q and k projections) or "
                                          "false, got '" + spell(*f->value) + "'");
      }
    }
    if (const Field *f = get(fields, "bias")) {
      if (auto v = value(*f)) {
        if (v->isBool())
          p.bias = v->scalar->boolValue ? AttentionBias::All : AttentionBias::None;
        else if (v->isWord("qkv"))
          p.bias = AttentionBias::QKV;
        else
          diag.error(startLoc(*f->value), "'bias' must be true (q, k, v and o), 'qkv' (q, k and v) or false, got '" +
                                              spell(*f->value) + "'");
      }
    }
    for (auto [key, out] : {std::pair<StringRef, std::optional<Extent> *>{"batch", &p.batch},
                            {"seq_q", &p.seqQ},
                            {"seq_k", &p.seqK}}) {
      const Field *f = get(fields, key);
      if (!f)
        continue;
      auto v = value(*f);
      if (!v)
        continue;
      if (v->isWord("dynamic"))
        *out = Extent{};
      else if (!v->isInt())
        diag.error(startLoc(*f->value), "'" + key + "' must be 'dynamic' or a positive integer, got '" +
                                            spell(*f->value) + "'");
      else if (auto n = positiveInt(*f, *v))
        *out = Extent{*n};
    }
    for (auto [key, out] : {std::pair<StringRef, std::optional<DType> *>{"dtype", &p.dtype}, {"kv_dtype", &p.kvDtype}})
      if (const Field *f = get(fields, key))
        if (auto w = word(*f, {"f32", "bf16", "f16"}))
          *out = *w == "f32" ? DType::F32 : *w == "f16" ? DType::F16 : DType::BF16;
    p.ok = diag.count() == before;
    return p;
  }

  /// Applies `p` to `a` and checks the result; errors point at the keys of `p`. False if inconsistent.
  bool apply(AttentionConfig &a, const AttentionPatch &p, bool report = true) {
    auto loc = [&](StringRef key) {
      auto it = p.valueLocs.find(key);
      return it == p.valueLocs.end() ? SMLoc() : it->second;
    };
    int64_t oldHeadDim = a.headDim;
    if (p.heads)
      a.heads = *p.heads;
    if (p.kvHeads)
      a.kvHeads = *p.kvHeads;
    if (p.headDim) {
      a.headDim = *p.headDim;
      if (!p.headDimV && a.headDimV == oldHeadDim)
        a.headDimV = a.headDim;
    }
    if (p.headDimV)
      a.headDimV = *p.headDimV;
    if (p.causal)
      a.causal = *p.causal;
    if (p.window)
      a.window = *p.window;
    if (p.scale) {
      a.scaleKind = p.scale->first;
      a.scaleValue = p.scale->second;
    }
    if (p.softcap)
      a.softcap = *p.softcap;
    if (p.qkNorm)
      a.qkNorm = *p.qkNorm;
    if (p.bias)
      a.bias = *p.bias;
    if (p.batch)
      a.batch = *p.batch;
    if (p.seqQ)
      a.seqQ = *p.seqQ;
    if (p.seqK)
      a.seqK = *p.seqK;
    if (p.dtype) {
      a.dtype = *p.dtype;
      if (!p.kvDtype)
        a.kvDtype = *p.dtype;
    }
    if (p.kvDtype)
      a.kvDtype = *p.kvDtype;
    bool ok = true;
    if ((p.heads || p.kvHeads) && a.heads > 0 && a.kvHeads > 0 && a.heads % a.kvHeads != 0) {
      if (report)
        diag.error(p.kvHeads ? loc("kv_heads") : loc("heads"),
                   "kv_heads (" + llvm::Twine(a.kvHeads) + ") must divide heads (" + llvm::Twine(a.heads) + ")");
      ok = false;
    }
    if ((p.seqQ || p.seqK || p.causal) && a.seqQ.value && a.seqK.value && a.causal &&
        *a.seqQ.value > *a.seqK.value) {
      if (report)
        diag.error(p.seqQ ? loc("seq_q") : p.seqK ? loc("seq_k") : loc("causal"),
                   "causal attention with seq_q (" + llvm::Twine(*a.seqQ.value) + ") > seq_k (" +
                       llvm::Twine(*a.seqK.value) + ") leaves the first queries without keys");
      ok = false;
    }
    return ok;
  }

  std::optional<AttentionSpec> analyzeKernel(const Block &block) {
    AttentionSpec spec;
    spec.name = block.name;
    spec.loc = block.loc;
    AttentionPatch p = readAttention(block, kKernelKeys, "attention block", "kernel");
    bool ok = p.ok;
    if (!p.heads && !p.keyLocs.count("heads")) {
      diag.error(block.nameLoc, "attention '" + block.name + "' needs 'heads'");
      ok = false;
    }
    if (!p.headDim && !p.keyLocs.count("head_dim")) {
      diag.error(block.nameLoc, "attention '" + block.name + "' needs 'head_dim'");
      ok = false;
    }
    AttentionConfig &a = spec.config;
    a.causal = false;
    if (p.heads)
      a.kvHeads = *p.heads;
    if (p.headDim)
      a.headDimV = *p.headDim;
    if (!apply(a, p))
      ok = false;
    // Variants and expressions are checked whenever the shape they depend on is known.
    if (a.heads <= 0 || a.kvHeads <= 0 || a.headDim <= 0)
      return std::nullopt;
    size_t before = diag.count();
    for (const Block &nested : block.blocks) {
      if (nested.kind != "variant") {
        diag.error(nested.loc, "unknown block '" + nested.kind + "' in attention block; only 'variant' blocks go here");
        continue;
      }
      if (auto v = resolveVariant(nested, a, VariantSite::Kernel, nullptr))
        spec.variants.push_back(std::move(*v));
    }
    if (p.score)
      if (auto s = resolveModifier(*p.score, true, a, nullptr))
        a.score = *s;
    if (p.mask)
      if (auto m = resolveModifier(*p.mask, false, a, nullptr))
        a.mask = *m;
    if (!ok || diag.count() != before)
      return std::nullopt;
    return spec;
  }

  //===--------------------------------------------------------------------===//
  // Variants
  //===--------------------------------------------------------------------===//
  std::optional<VariantSpec> resolveVariant(const Block &inst, const AttentionConfig &attention, VariantSite site,
                                            const ModelSpec *model) {
    StringRef name = inst.name;
    if (!inst.blocks.empty()) {
      diag.error(inst.blocks.front().loc, "a variant holds parameters, not blocks");
      return std::nullopt;
    }
    if (isBuiltinVariant(name))
      return resolveBuiltin(inst, attention, site, model);
    const Block *decl = nullptr;
    auto it = declaredVariants.find(name);
    bool inlineDecl = false;
    if (it != declaredVariants.end()) {
      decl = it->second;
    } else {
      for (const Field &f : inst.fields)
        if (f.key == "score" || f.key == "mask")
          inlineDecl = true;
      if (!inlineDecl) {
        std::vector<StringRef> known(std::begin(kBuiltinVariants), std::end(kBuiltinVariants));
        for (const auto &d : declaredVariants)
          known.push_back(d.getKey());
        diag.error(inst.nameLoc, "unknown variant '" + name + "'" + suggest(name, known));
        return std::nullopt;
      }
      decl = &inst;
      llvm::StringMap<SMLoc> seen;
      for (const Field &f : inst.fields) {
        auto [s, inserted] = seen.try_emplace(f.key, f.keyLoc);
        if (!inserted) {
          diag.error(f.keyLoc, "'" + f.key + "' is set twice");
          diag.note(s->second, "first set here");
          return std::nullopt;
        }
        if (f.key != "score" && f.key != "mask" &&
            (llvm::is_contained(kReserved, f.key) || llvm::is_contained(kFunctions, f.key))) {
          diag.error(f.keyLoc, "'" + f.key + "' is reserved and cannot name a variant parameter");
          return std::nullopt;
        }
      }
    }
    // Parameters: the declaration's defaults, then the instance's values.
    llvm::StringMap<const Expr *> paramExprs;
    std::vector<StringRef> paramNames;
    const Expr *score = nullptr, *mask = nullptr;
    for (const Field &f : decl->fields) {
      if (f.key == "score")
        score = f.value.get();
      else if (f.key == "mask")
        mask = f.value.get();
      else {
        paramExprs[f.key] = f.value.get();
        paramNames.push_back(f.key);
      }
    }
    if (!score && !mask)
      return std::nullopt; // reported with the declaration
    if (!inlineDecl) {
      llvm::StringSet<> seen;
      for (const Field &f : inst.fields) {
        if (f.key == "score" || f.key == "mask") {
          diag.error(f.keyLoc, "'" + f.key + "' is part of the declaration of variant '" + name +
                                   "'; declare a new variant to change it");
          return std::nullopt;
        }
        if (!paramExprs.count(f.key)) {
          diag.error(f.keyLoc, "variant '" + name + "' has no parameter '" + f.key + "'" + suggest(f.key, paramNames));
          return std::nullopt;
        }
        if (!seen.insert(f.key).second) {
          diag.error(f.keyLoc, "'" + f.key + "' is set twice");
          return std::nullopt;
        }
        paramExprs[f.key] = f.value.get();
      }
    }
    // Errors in the declaration's expressions get a note at this use, which chose the parameters.
    size_t first = diag.count();
    llvm::scope_exit noteUse([&] {
      if (decl != &inst)
        diag.noteSince(first, inst.nameLoc, "in variant '" + name + "' applied here");
    });
    llvm::StringMap<Val> params;
    Context ctx;
    ctx.attention = &attention;
    for (StringRef p : paramNames) {
      auto v = eval(*paramExprs[p], ctx);
      if (!v)
        return std::nullopt;
      params[p] = *v;
    }
    VariantSpec spec;
    spec.name = name.str();
    spec.loc = inst.nameLoc;
    if (score) {
      auto s = resolveModifier(*score, true, attention, &params);
      if (!s)
        return std::nullopt;
      spec.score = *s;
    }
    if (mask) {
      auto m = resolveModifier(*mask, false, attention, &params);
      if (!m)
        return std::nullopt;
      spec.mask = *m;
    }
    // A variant whose modifiers change nothing (score = z, mask = true) is dropped, not kept empty.
    if (!spec.score && !spec.mask)
      return std::nullopt;
    return spec;
  }

  std::optional<VariantSpec> resolveBuiltin(const Block &inst, const AttentionConfig &attention, VariantSite site,
                                            const ModelSpec *model) {
    VariantSpec spec;
    spec.builtin = true;
    spec.name = inst.name == "moh" ? "mixture_of_heads" : inst.name;
    spec.loc = inst.nameLoc;
    StringRef name = spec.name;
    size_t before = diag.count();
    auto add = [&](StringRef key, ParamValue v) { spec.params.emplace_back(key.str(), std::move(v)); };
    auto intParam = [](int64_t x) {
      ParamValue v;
      v.kind = ParamValue::Kind::Int;
      v.intValue = x;
      return v;
    };
    auto floatParam = [](double x) {
      ParamValue v;
      v.kind = ParamValue::Kind::Float;
      v.floatValue = x;
      return v;
    };
    auto wordParam = [](StringRef w) {
      ParamValue v;
      v.kind = ParamValue::Kind::Word;
      v.word = w.str();
      return v;
    };
    Context ctx;
    ctx.attention = &attention;
    auto eval = [&](const Field &f) { return this->eval(*f.value, ctx); };
    const int64_t maxKeys = std::numeric_limits<int64_t>::max();
    // A list of distinct integers in [lo, hi), or (if allowAll) the word `all`.
    auto indexList = [&](const Field &f, int64_t lo, int64_t hi, StringRef what, bool allowAll) -> std::optional<ParamValue> {
      auto v = eval(f);
      if (!v)
        return std::nullopt;
      if (allowAll && v->isWord("all"))
        return wordParam("all");
      if (v->kind != Val::Kind::Array || v->items().empty()) {
        diag.error(startLoc(*f.value), "'" + f.key + "' must be " + (allowAll ? "'all' or " : "") + "a list of " + what);
        return std::nullopt;
      }
      ParamValue out;
      out.kind = ParamValue::Kind::IntList;
      std::set<int64_t> seen;
      for (const Val &x : v->items()) {
        if (!x.isInt() || x.scalar->intValue < lo || x.scalar->intValue >= hi) {
          if (hi == maxKeys)
            diag.error(x.loc, "'" + f.key + "' entries must be " + what + " >= " + llvm::Twine(lo));
          else
            diag.error(x.loc, "'" + f.key + "' entries must be " + what + " in [" + llvm::Twine(lo) + ", " +
                                  llvm::Twine(hi) + ")");
          return std::nullopt;
        }
        if (!seen.insert(x.scalar->intValue).second) {
          diag.error(x.loc, "'" + f.key + "' lists " + llvm::Twine(x.scalar->intValue) + " twice");
          return std::nullopt;
        }
        out.list.push_back(x.scalar->intValue);
      }
      return out;
    };

    if (name == "sinks") {
      static const StringRef keys[] = {"mode", "tokens", "window", "beta", "threshold", "heads", "columns"};
      auto fields = collect(inst, keys, "variant 'sinks'");
      std::string mode = "learned";
      if (const Field *f = get(fields, "mode")) {
        auto m = word(*f, {"learned", "streaming", "calibrated"});
        if (!m)
          return std::nullopt;
        mode = *m;
      }
      add("mode", wordParam(mode));
      auto only = [&](std::initializer_list<StringRef> keysOfMode) {
        for (const auto &entry : fields) {
          StringRef key = entry.getKey();
          if (key != "mode" && !llvm::is_contained(keysOfMode, key))
            diag.error(entry.second->keyLoc, "'" + key + "' does not apply to sinks mode '" + mode + "'");
        }
      };
      if (mode == "learned") {
        only({});
      } else if (mode == "streaming") {
        only({"tokens", "window"});
        int64_t tokens = 4;
        if (const Field *f = get(fields, "tokens"))
          if (auto n = positiveInt(*f))
            tokens = *n;
        add("tokens", intParam(tokens));
        if (const Field *f = get(fields, "window")) {
          if (auto n = positiveInt(*f))
            add("window", intParam(*n));
        } else {
          diag.error(inst.nameLoc, "streaming sinks need 'window' (the number of recent keys kept)");
        }
      } else {
        only({"beta", "threshold", "heads", "columns"});
        double beta = 0.4, threshold = 0.1;
        if (const Field *f = get(fields, "beta"))
          if (auto x = number(*f, 0, 1, true, "in [0, 1]"))
            beta = *x;
        if (const Field *f = get(fields, "threshold"))
          if (auto x = number(*f, 0, 1, false, "in (0, 1]"))
            threshold = *x;
        add("beta", floatParam(beta));
        add("threshold", floatParam(threshold));
        ParamValue heads = wordParam("all");
        if (const Field *f = get(fields, "heads"))
          if (auto l = indexList(*f, 0, attention.heads, "query heads", true))
            heads = *l;
        add("heads", heads);
        // The first token is never a calibrated sink (VARIANTS.md 1c).
        ParamValue columns = wordParam("auto");
        if (const Field *f = get(fields, "columns")) {
          auto v = eval(*f);
          if (v && v->isWord("auto")) {
          } else if (auto l = indexList(*f, 1, maxKeys, "key positions", false)) {
            columns = *l;
          }
        }
        add("columns", columns);
      }
    } else if (name == "head_modulation") {
      static const StringRef keys[] = {"heads", "gain", "emphasis", "keys", "rows"};
      auto fields = collect(inst, keys, "variant 'head_modulation'");
      ParamValue heads = wordParam("all");
      if (const Field *f = get(fields, "heads")) {
        if (auto l = indexList(*f, 0, attention.heads, "query heads", true))
          heads = *l;
      }
      add("heads", heads);
      double gain = 2.0, emphasis = 0.0;
      if (const Field *f = get(fields, "gain"))
        if (auto x = positiveNumber(*f))
          gain = *x;
      add("gain", floatParam(gain));
      if (const Field *f = get(fields, "emphasis"))
        if (auto x = number(*f, 0, 1e30, true, "a number >= 0"))
          emphasis = *x;
      add("emphasis", floatParam(emphasis));
      if (emphasis > 0) {
        if (const Field *f = get(fields, "keys")) {
          if (auto l = indexList(*f, 0, maxKeys, "key positions", false))
            add("keys", *l);
        } else {
          diag.error(inst.nameLoc, "token emphasis needs 'keys' (the key positions it emphasizes)");
        }
        std::string rows = "last";
        if (const Field *f = get(fields, "rows"))
          if (auto w = word(*f, {"last", "all"}))
            rows = *w;
        add("rows", wordParam(rows));
      } else {
        for (StringRef key : {"keys", "rows"})
          if (const Field *f = get(fields, key))
            diag.error(f->keyLoc, "'" + key + "' applies only with 'emphasis' > 0");
      }
    } else if (name == "mixture_of_heads") {
      static const StringRef keys[] = {"shared", "active"};
      auto fields = collect(inst, keys, "variant 'mixture_of_heads'");
      int64_t shared = 0, active = 0;
      for (auto [key, out] : {std::pair<StringRef, int64_t *>{"shared", &shared}, {"active", &active}}) {
        if (const Field *f = get(fields, key)) {
          if (auto n = positiveInt(*f))
            *out = *n;
        } else {
          diag.error(inst.nameLoc, "mixture_of_heads needs '" + key + "'");
        }
      }
      if (shared > 0 && shared >= attention.heads)
        diag.error(startLoc(*get(fields, "shared")->value), "'shared' (" + llvm::Twine(shared) +
                                                                 ") must leave routed heads: it must be below heads (" +
                                                                 llvm::Twine(attention.heads) + ")");
      else if (shared > 0 && active > attention.heads - shared)
        diag.error(startLoc(*get(fields, "active")->value),
                   "'active' (" + llvm::Twine(active) + ") exceeds the routed heads (" +
                       llvm::Twine(attention.heads - shared) + " = heads - shared)");
      add("shared", intParam(shared));
      add("active", intParam(active));
    } else if (name == "affine_scale") {
      static const StringRef keys[] = {"phi", "rho"};
      auto fields = collect(inst, keys, "variant 'affine_scale'");
      std::string phi = "clip";
      double rho = 0.9;
      if (const Field *f = get(fields, "phi"))
        if (auto w = word(*f, {"clip", "sigmoid"}))
          phi = *w;
      if (const Field *f = get(fields, "rho")) {
        if (auto x = number(*f, 0, 1, false, "in (0, 1)"); x && *x < 1)
          rho = *x;
        else if (x)
          diag.error(startLoc(*f->value), "'rho' must be in (0, 1), got '" + spell(*f->value) + "'");
      }
      add("phi", wordParam(phi));
      add("rho", floatParam(rho));
    } else {
      // phase_bounded_rope
      static const StringRef keys[] = {"context", "eps", "angle_dtype", "severity", "depth"};
      auto fields = collect(inst, keys, "variant 'phase_bounded_rope'");
      if (site != VariantSite::Model) {
        diag.error(inst.nameLoc, "'phase_bounded_rope' checks a model's RoPE: declare it in the model block");
        return std::nullopt;
      }
      int64_t context = model ? model->maxPosition : 0;
      if (const Field *f = get(fields, "context")) {
        if (auto n = positiveInt(*f))
          context = *n;
      } else if (context == 0) {
        diag.error(inst.nameLoc, "phase_bounded_rope needs 'context', or 'max_position' in the model");
      }
      double eps = 0.1;
      if (const Field *f = get(fields, "eps")) {
        if (auto x = number(*f, 0, 1, false, "in (0, 1)"); x && *x < 1)
          eps = *x;
        else if (x)
          diag.error(startLoc(*f->value), "'eps' must be in (0, 1), got '" + spell(*f->value) + "'");
      }
      std::string dtype = "f32", severity = "error";
      if (const Field *f = get(fields, "angle_dtype"))
        if (auto w = word(*f, {"f32", "f64", "bf16", "f16"}))
          dtype = *w;
      if (const Field *f = get(fields, "severity"))
        if (auto w = word(*f, {"error", "warning"}))
          severity = *w;
      int64_t depth = model ? model->numLayers : 1;
      if (const Field *f = get(fields, "depth"))
        if (auto n = positiveInt(*f))
          depth = *n;
      add("context", intParam(context));
      add("eps", floatParam(eps));
      add("angle_dtype", wordParam(dtype));
      add("severity", wordParam(severity));
      add("depth", intParam(depth));
    }
    if (diag.count() != before)
      return std::nullopt;
    return spec;
  }

  //===--------------------------------------------------------------------===//
  // Models
  //===--------------------------------------------------------------------===//
  std::optional<ModelSpec> analyzeModel(const Block &block) {
    ModelSpec m;
    m.name = block.name;
    m.loc = block.loc;
    size_t before = diag.count();
    auto fields = collect(block, kModelKeys, "model", [&](StringRef key) -> std::string {
      if (llvm::is_contained(kModelAttentionKeys, key))
        return "belongs in the model's 'attention' block";
      if (llvm::is_contained(kRopeKeys, key))
        return "belongs in the model's 'rope' block";
      if (llvm::is_contained(kMlpKeys, key))
        return "belongs in the model's 'mlp' block";
      return "";
    });
    // Nested blocks: one each of attention, rope, mlp, norm; any number of layers and variant blocks.
    llvm::StringMap<const Block *> singles;
    std::vector<const Block *> layerBlocks, variantBlocks;
    for (const Block &nested : block.blocks) {
      if (nested.kind == "layers") {
        layerBlocks.push_back(&nested);
        continue;
      }
      if (nested.kind == "variant") {
        variantBlocks.push_back(&nested);
        continue;
      }
      if (!llvm::is_contained(kModelBlocks, nested.kind) || !nested.name.empty()) {
        if (llvm::is_contained(kModelBlocks, nested.kind))
          diag.error(nested.nameLoc, "the '" + nested.kind + "' block of a model takes no name");
        else
          diag.error(nested.loc, "unknown block '" + nested.kind + "' in model" + suggest(nested.kind, kModelBlocks));
        continue;
      }
      auto [it, inserted] = singles.try_emplace(nested.kind, &nested);
      if (!inserted) {
        diag.error(nested.loc, "the model has a second '" + nested.kind + "' block");
        diag.note(it->second->loc, "the first is here");
      }
    }
    auto require = [&](StringRef key, int64_t &out) {
      if (const Field *f = get(fields, key)) {
        if (auto n = positiveInt(*f))
          out = *n;
      } else {
        diag.error(block.nameLoc, "model '" + block.name + "' needs '" + key + "'");
      }
    };
    require("vocab", m.vocab);
    require("hidden", m.hidden);
    require("layers", m.numLayers);
    if (m.numLayers > 100000) {
      diag.error(startLoc(*get(fields, "layers")->value), "'layers' is implausibly large (at most 100000)");
      m.numLayers = 0;
    }
    if (const Field *f = get(fields, "dtype"))
      if (auto w = word(*f, {"f32", "f16", "bf16"}))
        m.dtype = *w == "f32" ? DType::F32 : *w == "f16" ? DType::F16 : DType::BF16;
    if (const Field *f = get(fields, "tie_embeddings"))
      if (auto b = boolean(*f))
        m.tieEmbeddings = *b;
    if (const Field *f = get(fields, "max_position"))
      if (auto n = positiveInt(*f))
        m.maxPosition = *n;
    if (const Field *f = get(fields, "embed_scale"))
      if (auto x = positiveNumber(*f))
        m.embedScale = *x;
    if (const Field *f = get(fields, "residual_scale"))
      if (auto x = positiveNumber(*f))
        m.residualScale = *x;
    if (const Field *f = get(fields, "logit_scale"))
      if (auto x = positiveNumber(*f))
        m.logitScale = *x;
    if (const Field *f = get(fields, "lm_head_bias"))
      if (auto b = boolean(*f))
        m.lmHeadBias = *b;
    if (const Field *f = get(fields, "learned_positions"))
      if (auto b = boolean(*f))
        m.learnedPositions = *b;
    if (const Field *f = get(fields, "final_softcap"))
      if (auto x = noneOrPositive(*f))
        m.finalSoftcap = *x;
    if (const Field *f = get(fields, "architecture")) {
      auto v = value(*f);
      if (v && v->kind == Val::Kind::String)
        m.architecture = v->text;
      else if (v)
        diag.error(startLoc(*f->value), "'architecture' must be a string such as \"LlamaForCausalLM\"");
    }
    if (const Field *f = get(fields, "norm_placement"))
      if (auto w = word(*f, {"pre", "sandwich", "post", "parallel", "parallel_two_norms"}))
        m.normPlacement = *normPlacementNamed(*w);
    const Field *layerTypesField = get(fields, "layer_types");
    if (layerTypesField) {
      auto v = value(*layerTypesField);
      if (v) {
        bool ok = v->kind == Val::Kind::Array;
        if (ok)
          for (const Val &x : v->items()) {
            if (x.isWord("sliding") || x.isWord("sliding_attention"))
              m.layerTypes.push_back(LayerType::Sliding);
            else if (x.isWord("full") || x.isWord("full_attention"))
              m.layerTypes.push_back(LayerType::Full);
            else {
              diag.error(x.loc, "a layer type is 'sliding' or 'full'");
              ok = false;
              break;
            }
          }
        else
          diag.error(startLoc(*layerTypesField->value), "'layer_types' must be a list of 'sliding' and 'full'");
        if (ok && m.numLayers > 0 && int64_t(m.layerTypes.size()) != m.numLayers)
          diag.error(startLoc(*layerTypesField->value), "'layer_types' lists " + llvm::Twine(m.layerTypes.size()) +
                                                           " layers but the model has " + llvm::Twine(m.numLayers));
        if (!ok || int64_t(m.layerTypes.size()) != m.numLayers)
          m.layerTypes.clear();
      }
    }

    if (const Field *f = get(fields, "nope_layers"))
      m.nopeLayers = layerIndices(*f, m.numLayers, "a NoPE layer");
    if (const Field *f = get(fields, "mtp_layers"))
      if (auto n = positiveInt(*f))
        m.mtpLayers = *n;

    // Attention.
    AttentionPatch base;
    const Block *attentionBlock = singles.lookup("attention");
    if (!attentionBlock) {
      diag.error(block.nameLoc, "model '" + block.name + "' needs an 'attention' block");
    } else {
      base = readAttention(*attentionBlock, kModelAttentionKeys, "the attention of a model", "model");
      for (const Block &nested : attentionBlock->blocks) {
        if (nested.kind == "variant")
          variantBlocks.push_back(&nested);
        else
          diag.error(nested.loc, "unknown block '" + nested.kind + "' in attention; only 'variant' blocks go here");
      }
      AttentionConfig &a = m.attention;
      a.causal = true;
      if (!base.heads && !base.keyLocs.count("heads"))
        diag.error(attentionBlock->loc, "the attention of model '" + block.name + "' needs 'heads'");
      if (base.heads) {
        a.kvHeads = *base.heads;
        if (!base.headDim && !base.keyLocs.count("head_dim") && m.hidden > 0) {
          if (m.hidden % *base.heads == 0)
            a.headDim = a.headDimV = m.hidden / *base.heads;
          else
            diag.error(attentionBlock->loc, "the attention of model '" + block.name + "' needs 'head_dim': hidden (" +
                                                llvm::Twine(m.hidden) + ") is not a multiple of heads (" +
                                                llvm::Twine(*base.heads) + ")");
        }
      }
      if (base.headDim)
        a.headDimV = *base.headDim;
      apply(a, base);
      if (base.slidingWindow && *base.slidingWindow > 0)
        m.slidingWindow = *base.slidingWindow;
      bool sliding = llvm::is_contained(m.layerTypes, LayerType::Sliding);
      if (m.slidingWindow && a.window > 0) {
        diag.error(base.keyLocs.lookup("sliding_window"),
                   "set either 'window' (every layer) or 'sliding_window' (layers of type 'sliding'), not both");
      } else if (m.slidingWindow && !layerTypesField) {
        diag.error(base.keyLocs.lookup("sliding_window"),
                   "'sliding_window' applies to layers of type 'sliding': set 'layer_types', or use 'window' to "
                   "slide every layer");
      } else if (sliding && !m.slidingWindow) {
        diag.error(layerTypesField->keyLoc, "'layer_types' has sliding layers but the attention sets no 'sliding_window'");
      }
    }

    analyzeNorm(singles.lookup("norm"), m);
    analyzeMlp(singles.lookup("mlp"), block, m);
    bool wantsAutoBase = false;
    for (const Block *v : variantBlocks)
      if (v->name == "phase_bounded_rope")
        wantsAutoBase = true;
    analyzeRope(singles.lookup("rope"), m, m.rope, wantsAutoBase);
    if (const Block *sliding = singles.lookup("sliding_rope")) {
      RopeSpec r;
      analyzeRope(sliding, m, r, /*phaseBounded=*/false, "sliding_rope");
      if (r.partial != m.rope.partial || r.interleaved != m.rope.interleaved)
        diag.error(sliding->loc, "'sliding_rope' must rotate the dims 'rope' rotates (the same 'partial' and "
                                 "'interleaved'); only the frequencies may differ");
      else if (wantsAutoBase)
        diag.error(sliding->loc, "'sliding_rope' cannot be combined with the 'phase_bounded_rope' variant");
      else if (!llvm::any_of(llvm::seq<int64_t>(0, m.numLayers), [&](int64_t l) { return m.isSlidingLayer(l); }))
        diag.error(sliding->loc, "'sliding_rope' applies to sliding layers, and model '" + m.name + "' has none");
      m.slidingRope = r;
    }

    // The layers, expressions and variants are checked whenever the attention's shape is known, so that
    // their errors are reported together with the others.
    const AttentionConfig &a = m.attention;
    if (a.heads <= 0 || a.kvHeads <= 0 || a.headDim <= 0)
      return std::nullopt;

    // Layers: the block (with the layer type's window), then every `layers` block in order.
    std::vector<PendingLayer> layers(m.numLayers);
    for (int64_t l = 0; l < m.numLayers; ++l) {
      layers[l].config = m.layerBase(l);
      layers[l].score = base.score;
      layers[l].mask = base.mask;
      layers[l].variants = variantBlocks;
    }
    for (const Block *lb : layerBlocks) {
      std::vector<int64_t> selected = layerSet(*lb, m.numLayers);
      AttentionPatch p = readAttention(*lb, kLayerKeys, "a layers block", "layers");
      std::vector<const Block *> extra;
      for (const Block &nested : lb->blocks) {
        if (nested.kind == "variant")
          extra.push_back(&nested);
        else
          diag.error(nested.loc, "unknown block '" + nested.kind + "' in a layers block; only 'variant' blocks go here");
      }
      if (!p.ok)
        continue;
      // RoPE rotates head_dim * partial dims of every layer, so a layer's own head_dim must allow that.
      if (p.headDim) {
        double rotary = double(*p.headDim) * m.rope.partial;
        int64_t rotaryDim = int64_t(rotary);
        size_t half = size_t(rotaryDim / 2);
        if (double(rotaryDim) != rotary || rotaryDim % 2 != 0 || rotaryDim == 0)
          diag.error(p.keyLocs.lookup("head_dim"),
                     "RoPE rotates head_dim * partial = " + formatNumber(rotary) +
                         " dims of these layers, which must be a positive even integer (head_dim is " +
                         llvm::Twine(*p.headDim) + ")");
        else if (m.rope.scaling == RopeSpec::Scaling::LongRope &&
                 (m.rope.shortFactor.size() != half || m.rope.longFactor.size() != half))
          diag.error(p.keyLocs.lookup("head_dim"),
                     "longrope lists one factor per frequency, but RoPE over these layers' " + llvm::Twine(rotaryDim) +
                         " dims needs " + llvm::Twine(half) + " (the lists have " +
                         llvm::Twine(m.rope.shortFactor.size()) + ")");
      }
      for (int64_t l : selected) {
        if (!apply(layers[l].config, p))
          break; // the same error for the next layers
        if (p.score)
          layers[l].score = p.score;
        if (p.mask)
          layers[l].mask = p.mask;
        llvm::append_range(layers[l].layerVariants, extra);
      }
    }

    // GPT-NeoX's query_key_value holds as many key/value heads as query heads (the model functions and the
    // runtime take it apart per head).
    if (m.architecture == "GPTNeoXForCausalLM")
      for (int64_t l = 0; l < m.numLayers; ++l)
        if (layers[l].config.kvHeads != layers[l].config.heads) {
          diag.error(attentionBlock->loc, "GPTNeoXForCausalLM has as many key/value heads as query heads (its "
                                          "query_key_value holds them per head); layer " + llvm::Twine(l) + " has " +
                                              llvm::Twine(layers[l].config.kvHeads) + " for " +
                                              llvm::Twine(layers[l].config.heads));
          break;
        }

    analyzeLatent(base, m, layers);

    // Expressions and variants, against the final attention of each layer.
    if (base.score)
      if (auto s = cachedModifier(base.score, true, m.attention))
        m.attention.score = *s;
    if (base.mask)
      if (auto s = cachedModifier(base.mask, false, m.attention))
        m.attention.mask = *s;
    for (const Block *v : variantBlocks)
      if (auto spec = cachedVariant(v, m.attention, VariantSite::Model, &m))
        m.variants.push_back(std::move(*spec));
    for (int64_t l = 0; l < m.numLayers; ++l) {
      PendingLayer &p = layers[l];
      LayerSpec spec;
      spec.attention = p.config;
      spec.attention.score = spec.attention.mask = nullptr;
      if (p.score)
        if (auto s = cachedModifier(p.score, true, p.config))
          spec.attention.score = *s;
      if (p.mask)
        if (auto s = cachedModifier(p.mask, false, p.config))
          spec.attention.mask = *s;
      for (const Block *v : p.variants)
        if (auto vs = cachedVariant(v, p.config, VariantSite::Model, &m))
          spec.variants.push_back(std::move(*vs));
      for (const Block *v : p.layerVariants)
        if (auto vs = cachedVariant(v, p.config, VariantSite::Layer, &m))
          spec.variants.push_back(std::move(*vs));
      m.layers.push_back(std::move(spec));
    }
    if (diag.count() != before)
      return std::nullopt;
    return m;
  }

  /// Layers of a model share most modifiers; resolve each (expression, attention shape) pair once.
  using ShapeKey = std::tuple<const void *, int64_t, int64_t, int64_t, bool>;
  std::optional<TypedExprRef> cachedModifier(const Expr *e, bool isScore, const AttentionConfig &a) {
    ShapeKey key{e, a.heads, a.kvHeads, a.headDim, isScore};
    auto it = modifierCache.find(key);
    if (it != modifierCache.end())
      return it->second;
    auto r = resolveModifier(*e, isScore, a, nullptr);
    modifierCache[key] = r;
    return r;
  }
  std::optional<VariantSpec> cachedVariant(const Block *v, const AttentionConfig &a, VariantSite site,
                                           const ModelSpec *m) {
    ShapeKey key{v, a.heads, a.kvHeads, a.headDim, site == VariantSite::Layer};
    auto it = variantCache.find(key);
    if (it != variantCache.end())
      return it->second;
    auto r = resolveVariant(*v, a, site, m);
    variantCache[key] = r;
    return r;
  }

  std::vector<int64_t> layerSet(const Block &lb, int64_t numLayers) {
    std::vector<int64_t> out;
    std::vector<bool> taken(numLayers);
    for (const LayerRange &r : lb.layers) {
      if (r.first < 0 || r.last < r.first || r.step < 1) {
        diag.error(r.loc, "a layer range runs from a first to a last layer (inclusive) with a step >= 1");
        continue;
      }
      if (r.last >= numLayers) {
        diag.error(r.loc, "layer " + llvm::Twine(r.last) + " is out of range: the model has " +
                              llvm::Twine(numLayers) + " layers (0.." + llvm::Twine(numLayers - 1) + ")");
        continue;
      }
      for (int64_t l = r.first; l <= r.last; l += r.step)
        if (!taken[l]) {
          taken[l] = true;
          out.push_back(l);
        }
    }
    return out;
  }

  void analyzeNorm(const Block *block, ModelSpec &m) {
    if (!block)
      return;
    auto fields = collect(*block, kNormKeys, "norm block");
    if (const Field *f = get(fields, "kind"))
      if (auto w = word(*f, {"rms", "layer"}))
        m.norm.kind = *w == "rms" ? NormSpec::Kind::RMS : NormSpec::Kind::Layer;
    if (const Field *f = get(fields, "eps"))
      if (auto x = number(*f, 0, 1, false, "in (0, 1]"))
        m.norm.eps = *x;
    if (const Field *f = get(fields, "unit_offset"))
      if (auto b = boolean(*f))
        m.norm.unitOffset = *b; // Gemma's RMSNorms, Nemotron's LayerNorms (LayerNorm1P)
    if (const Field *f = get(fields, "bias"))
      if (auto b = boolean(*f)) {
        if (m.norm.kind != NormSpec::Kind::Layer && *b)
          diag.error(f->keyLoc, "'bias' applies to 'kind = layer': an RMSNorm has no bias");
        m.norm.bias = *b;
      }
  }

  /// A list of distinct layer indices in [0, numLayers), sorted; empty (after an error) otherwise.
  std::vector<int64_t> layerIndices(const Field &f, int64_t numLayers, StringRef what) {
    std::vector<int64_t> out;
    auto v = value(f);
    if (!v)
      return out;
    if (v->kind != Val::Kind::Array) {
      diag.error(startLoc(*f.value), "'" + f.key + "' must be a list of layer indices");
      return out;
    }
    for (const Val &x : v->items()) {
      if (!x.isInt() || x.scalar->intValue < 0 || (numLayers > 0 && x.scalar->intValue >= numLayers)) {
        diag.error(x.loc, what + " is a layer index in [0, " + llvm::Twine(numLayers) + ")");
        return {};
      }
      if (llvm::is_contained(out, x.scalar->intValue)) {
        diag.error(x.loc, "layer " + llvm::Twine(x.scalar->intValue) + " is listed twice");
        return {};
      }
      out.push_back(x.scalar->intValue);
    }
    llvm::sort(out);
    return out;
  }

  /// The router's scoring, its group limit and scale, and which layers stay dense.
  void analyzeRouting(const llvm::StringMap<const Field *> &fields, MlpSpec &mlp, int64_t numLayers) {
    const bool moe = get(fields, "experts") != nullptr;
    auto needsExperts = [&](const Field *f) {
      if (f && !moe)
        diag.error(f->keyLoc, "'" + f->key + "' needs 'experts' (a mixture of experts)");
      return f && moe;
    };
    const Field *router = get(fields, "router");
    if (needsExperts(router))
      if (auto w = word(*router, {"softmax", "sigmoid", "sparsemixer"}))
        mlp.router = *w == "sigmoid"       ? MlpSpec::Router::Sigmoid
                     : *w == "sparsemixer" ? MlpSpec::Router::SparseMixer
                                           : MlpSpec::Router::Softmax;
    if (const Field *f = get(fields, "jitter_eps")) {
      if (mlp.router != MlpSpec::Router::SparseMixer)
        diag.error(f->keyLoc, "'jitter_eps' applies to 'router = sparsemixer'");
      else if (auto x = number(*f, 0, 1, true, "in [0, 1]"))
        mlp.jitterEps = *x;
    }
    if (const Field *f = get(fields, "selection_bias"); needsExperts(f))
      if (auto b = boolean(*f))
        mlp.selectionBias = *b;
    if (const Field *f = get(fields, "routed_scale"); needsExperts(f))
      if (auto x = positiveNumber(*f))
        mlp.routedScale = *x;
    if (const Field *f = get(fields, "norm_min"); needsExperts(f)) {
      if (auto x = positiveNumber(*f))
        mlp.normMin = *x;
      if (!mlp.normTopK)
        diag.error(f->keyLoc, "'norm_min' bounds the sum 'norm_top_k' divides by; it needs 'norm_top_k = true'");
    }
    const Field *groups = get(fields, "groups"), *topGroups = get(fields, "top_groups");
    if (needsExperts(groups))
      if (auto n = positiveInt(*groups))
        mlp.groups = *n;
    if (needsExperts(topGroups))
      if (auto n = positiveInt(*topGroups))
        mlp.topGroups = *n;
    if (mlp.experts > 0 && mlp.groups > 1 && (mlp.experts % mlp.groups != 0 || mlp.experts / mlp.groups < 2))
      diag.error(groups->keyLoc, "'groups' (" + llvm::Twine(mlp.groups) + ") must divide 'experts' (" +
                                     llvm::Twine(mlp.experts) + ") into groups of at least 2 (each is scored " +
                                     "by its two best experts)");
    else if (mlp.groups > kMaxExpertGroups)
      diag.error(groups->keyLoc, "'groups' must be at most " + llvm::Twine(kMaxExpertGroups) + ", got " +
                                     llvm::Twine(mlp.groups));
    else if (mlp.topGroups > mlp.groups)
      diag.error(topGroups->keyLoc, "'top_groups' (" + llvm::Twine(mlp.topGroups) + ") exceeds 'groups' (" +
                                        llvm::Twine(mlp.groups) + ")");
    const Field *dense = get(fields, "dense_layers"), *denseI = get(fields, "dense_intermediate");
    if (needsExperts(dense)) {
      mlp.denseLayers = layerIndices(*dense, numLayers, "a dense layer");
      if (numLayers > 0 && static_cast<int64_t>(mlp.denseLayers.size()) == numLayers)
        diag.error(dense->keyLoc, "'dense_layers' lists every layer: drop 'experts' for a dense model");
    }
    if (mlp.router == MlpSpec::Router::SparseMixer) {
      // It picks two experts in turn; the other routing keys do not apply to it.
      if (mlp.topK != 2)
        diag.error(router->keyLoc, "'router = sparsemixer' picks exactly 2 experts per token; 'top_k' is " +
                                       llvm::Twine(mlp.topK));
      for (StringRef key : {"selection_bias", "groups", "top_groups", "routed_scale", "norm_min", "norm_top_k"})
        if (const Field *f = get(fields, key))
          diag.error(f->keyLoc, "'" + key + "' does not apply to 'router = sparsemixer'");
    }
    mlp.denseIntermediate = mlp.intermediate;
    if (denseI) {
      if (!dense)
        diag.error(denseI->keyLoc, "'dense_intermediate' needs 'dense_layers' (the layers it sizes)");
      else if (auto n = positiveInt(*denseI))
        mlp.denseIntermediate = *n;
    }
  }

  void analyzeMlp(const Block *block, const Block &model, ModelSpec &m) {
    if (!block) {
      diag.error(model.nameLoc, "model '" + model.name + "' needs an 'mlp' block");
      return;
    }
    auto fields = collect(*block, kMlpKeys, "mlp block");
    MlpSpec &mlp = m.mlp;
    const Field *kind = get(fields, "kind");
    const Field *activation = get(fields, "activation");
    const Field *gated = get(fields, "gated");
    if (kind && (activation || gated)) {
      diag.error((activation ? activation : gated)->keyLoc,
                 "'kind' already says the activation and gating; set either 'kind' or 'activation'/'gated'");
    } else if (kind) {
      if (auto w = word(*kind, {"swiglu", "geglu", "gelu", "relu"})) {
        mlp.activation = *w == "swiglu" ? Activation::SiLU
                         : *w == "geglu" ? Activation::GELUTanh
                         : *w == "gelu"  ? Activation::GELU
                                         : Activation::ReLU;
        mlp.gated = *w == "swiglu" || *w == "geglu";
      }
    } else {
      if (activation)
        if (auto w = word(*activation, {"silu", "gelu", "gelu_tanh", "relu", "relu2"}))
          mlp.activation = *w == "silu"        ? Activation::SiLU
                           : *w == "gelu"      ? Activation::GELU
                           : *w == "gelu_tanh" ? Activation::GELUTanh
                           : *w == "relu"      ? Activation::ReLU
                                               : Activation::ReLU2;
      if (gated)
        if (auto b = boolean(*gated))
          mlp.gated = *b;
    }
    if (const Field *f = get(fields, "intermediate")) {
      if (auto n = positiveInt(*f))
        mlp.intermediate = *n;
    } else {
      diag.error(block->loc, "the mlp block needs 'intermediate' (the hidden size of the MLP)");
    }
    if (const Field *f = get(fields, "bias"))
      if (auto b = boolean(*f))
        mlp.bias = *b;
    const Field *experts = get(fields, "experts");
    const Field *topK = get(fields, "top_k");
    if (experts)
      if (auto n = positiveInt(*experts))
        mlp.experts = *n;
    if (topK)
      if (auto n = positiveInt(*topK))
        mlp.topK = *n;
    if (topK && !experts)
      diag.error(topK->keyLoc, "'top_k' needs 'experts' (a mixture of experts)");
    else if (experts && !topK)
      diag.error(experts->keyLoc, "a mixture of experts needs 'top_k' (experts per token)");
    else if (mlp.experts > 0 && mlp.topK > mlp.experts)
      diag.error(startLoc(*topK->value), "'top_k' (" + llvm::Twine(mlp.topK) + ") exceeds 'experts' (" +
                                             llvm::Twine(mlp.experts) + ")");
    if (const Field *f = get(fields, "norm_top_k")) {
      if (!experts)
        diag.error(f->keyLoc, "'norm_top_k' needs 'experts' (a mixture of experts)");
      else if (auto b = boolean(*f))
        mlp.normTopK = *b;
    }
    if (const Field *f = get(fields, "shared_intermediate")) {
      if (!experts)
        diag.error(f->keyLoc, "'shared_intermediate' needs 'experts' (a shared expert beside routed ones)");
      else if (auto n = positiveInt(*f))
        mlp.sharedIntermediate = *n;
    }
    if (const Field *f = get(fields, "shared_gate")) {
      if (!get(fields, "shared_intermediate"))
        diag.error(f->keyLoc, "'shared_gate' needs 'shared_intermediate' (the shared expert it gates)");
      else if (auto b = boolean(*f))
        mlp.sharedGate = *b;
    }
    analyzeRouting(fields, mlp, m.numLayers);
    const Field *limit = get(fields, "limit");
    if (limit) {
      if (auto x = positiveNumber(*limit))
        mlp.limit = *x;
      if (mlp.activation != Activation::SiLU || !mlp.gated)
        diag.error(limit->keyLoc, "'limit' (gpt-oss clamped SwiGLU) applies to a gated silu MLP");
    }
    if (const Field *f = get(fields, "alpha")) {
      if (!limit)
        diag.error(f->keyLoc, "'alpha' applies with 'limit' (gpt-oss clamped SwiGLU)");
      else if (auto x = positiveNumber(*f))
        mlp.alpha = *x;
    }
    // The shared expert is a plain gated MLP with the model's activation.
    if (const Field *f = get(fields, "shared_intermediate"); f && mlp.sharedIntermediate > 0 && (limit || !mlp.gated))
      diag.error(f->keyLoc, "a shared expert ('shared_intermediate') needs a gated MLP without 'limit'");
  }

  void analyzeRope(const Block *ropeBlock, ModelSpec &m, RopeSpec &r, bool phaseBounded, StringRef kind = "rope") {
    // Without a rope block the model has RoPE with the defaults (base 10000, every dim rotated).
    static const Block none;
    const Block *block = ropeBlock ? ropeBlock : &none;
    auto fields = collect(*block, kRopeKeys, (kind + " block").str());
    if (const Field *f = get(fields, "base")) {
      auto v = value(*f);
      if (v && v->isWord("auto")) {
        r.baseAuto = true;
        if (!phaseBounded)
          diag.error(startLoc(*f->value), "'base = auto' needs the 'phase_bounded_rope' variant, which picks it");
      } else if (v && v->isNumber() && v->number() > 1) {
        r.base = v->number();
      } else if (v) {
        diag.error(startLoc(*f->value), "'base' must be a number > 1 or 'auto', got '" + spell(*f->value) + "'");
      }
    }
    if (const Field *f = get(fields, "partial"))
      if (auto x = number(*f, 0, 1, false, "in (0, 1] (the fraction of head_dim rotated)"))
        r.partial = *x;
    if (const Field *f = get(fields, "interleaved"))
      if (auto b = boolean(*f))
        r.interleaved = *b;
    int64_t headDim = m.attention.headDim;
    double rotary = double(headDim) * r.partial;
    int64_t rotaryDim = int64_t(rotary);
    if (headDim > 0 && (double(rotaryDim) != rotary || rotaryDim % 2 != 0 || rotaryDim == 0)) {
      const Field *f = get(fields, "partial");
      diag.error(f ? startLoc(*f->value) : ropeBlock ? ropeBlock->loc : m.loc,
                 "RoPE rotates head_dim * partial = " + formatNumber(rotary) +
                     " dims, which must be a positive even integer (head_dim is " + llvm::Twine(headDim) + ")");
    }
    std::string scaling = "none";
    const Field *scalingField = get(fields, "scaling");
    if (scalingField)
      if (auto w = word(*scalingField, {"none", "linear", "dynamic", "yarn", "llama3", "longrope"}))
        scaling = *w;
    r.scaling = scaling == "linear"    ? RopeSpec::Scaling::Linear
                : scaling == "dynamic" ? RopeSpec::Scaling::Dynamic
                : scaling == "yarn"    ? RopeSpec::Scaling::Yarn
                : scaling == "llama3"  ? RopeSpec::Scaling::Llama3
                : scaling == "longrope" ? RopeSpec::Scaling::LongRope
                                       : RopeSpec::Scaling::None;
    // Which keys each scaling takes.
    static const llvm::StringMap<std::vector<StringRef>> keysOf = {
        {"none", {}},
        {"linear", {"factor"}},
        {"dynamic", {"factor", "original_max_position"}},
        {"yarn", {"factor", "original_max_position", "beta_fast", "beta_slow", "truncate", "mscale",
                  "mscale_all_dim", "attention_factor"}},
        {"llama3", {"factor", "original_max_position", "low_freq_factor", "high_freq_factor"}},
        {"longrope", {"factor", "original_max_position", "attention_factor", "short_factor", "long_factor"}}};
    const std::vector<StringRef> &allowed = keysOf.find(scaling)->second;
    for (const auto &entry : fields) {
      StringRef key = entry.getKey();
      if (key == "base" || key == "partial" || key == "interleaved" || key == "scaling")
        continue;
      if (!llvm::is_contained(allowed, key))
        diag.error(entry.second->keyLoc, "'" + key + "' does not apply to scaling = " + scaling);
    }
    if (const Field *f = get(fields, "factor"))
      if (auto x = positiveNumber(*f))
        r.factor = *x;
    if (const Field *f = get(fields, "original_max_position"))
      if (auto n = positiveInt(*f))
        r.originalMaxPosition = *n;
    auto needs = [&](StringRef key) {
      if (!get(fields, key))
        diag.error(scalingField->keyLoc, "scaling = " + scaling + " needs '" + key + "'");
    };
    switch (r.scaling) {
    case RopeSpec::Scaling::None:
      break;
    case RopeSpec::Scaling::Linear:
      needs("factor");
      break;
    case RopeSpec::Scaling::Dynamic:
    case RopeSpec::Scaling::Yarn:
      needs("factor");
      // HF: rope_scaling.original_max_position_embeddings, else max_position_embeddings.
      if (!r.originalMaxPosition) {
        if (m.maxPosition > 0)
          r.originalMaxPosition = m.maxPosition;
        else
          diag.error(scalingField->keyLoc, "scaling = " + scaling +
                                               " needs 'original_max_position' (or 'max_position' in the model)");
      }
      break;
    case RopeSpec::Scaling::Llama3:
      needs("factor");
      needs("original_max_position");
      break;
    case RopeSpec::Scaling::LongRope:
      needs("original_max_position");
      needs("short_factor");
      needs("long_factor");
      // HF (Phi-3): factor = max_position / original_max_position unless given.
      if (!get(fields, "factor") && r.originalMaxPosition) {
        if (m.maxPosition > 0)
          r.factor = double(m.maxPosition) / double(*r.originalMaxPosition);
        else
          diag.error(scalingField->keyLoc, "scaling = longrope needs 'factor' (or 'max_position' in the model)");
      }
      break;
    }
    if (const Field *f = get(fields, "low_freq_factor"))
      if (auto x = positiveNumber(*f))
        r.lowFreqFactor = *x;
    if (const Field *f = get(fields, "high_freq_factor"))
      if (auto x = positiveNumber(*f))
        r.highFreqFactor = *x;
    if (r.scaling == RopeSpec::Scaling::Llama3 && !(r.highFreqFactor > r.lowFreqFactor)) {
      const Field *f = get(fields, "high_freq_factor");
      diag.error(f ? startLoc(*f->value) : scalingField->keyLoc,
                 "'high_freq_factor' (" + formatNumber(r.highFreqFactor) + ") must exceed 'low_freq_factor' (" +
                     formatNumber(r.lowFreqFactor) + ")");
    }
    if (const Field *f = get(fields, "beta_fast"))
      if (auto x = positiveNumber(*f))
        r.betaFast = *x;
    if (const Field *f = get(fields, "beta_slow"))
      if (auto x = positiveNumber(*f))
        r.betaSlow = *x;
    if (r.scaling == RopeSpec::Scaling::Yarn && !(r.betaFast > r.betaSlow)) {
      const Field *f = get(fields, "beta_fast");
      diag.error(f ? startLoc(*f->value) : scalingField->keyLoc,
                 "'beta_fast' (" + formatNumber(r.betaFast) + ") must exceed 'beta_slow' (" + formatNumber(r.betaSlow) + ")");
    }
    if (const Field *f = get(fields, "truncate"))
      if (auto b = boolean(*f))
        r.truncate = *b;
    for (auto [key, out] : {std::pair<StringRef, std::optional<double> *>{"mscale", &r.mscale},
                            {"mscale_all_dim", &r.mscaleAllDim},
                            {"attention_factor", &r.attentionFactor}})
      if (const Field *f = get(fields, key))
        if (auto x = positiveNumber(*f))
          *out = *x;
    size_t half = rotaryDim / 2;
    for (auto [key, out] : {std::pair<StringRef, std::vector<double> *>{"short_factor", &r.shortFactor},
                            {"long_factor", &r.longFactor}}) {
      const Field *f = get(fields, key);
      if (!f)
        continue;
      auto list = positiveList(*f);
      if (!list)
        continue;
      *out = *list;
      if (headDim > 0 && half > 0 && list->size() != half)
        diag.error(startLoc(*f->value), "'" + key + "' has " + llvm::Twine(list->size()) +
                                            " entries; RoPE over " + llvm::Twine(rotaryDim) + " dims needs " +
                                            llvm::Twine(half) + " (one per frequency)");
    }
  }

  SourceMgr &sm;
  Diagnostics diag;
  llvm::StringMap<ConstEntry> consts;
  llvm::StringMap<const Block *> declaredVariants;
  std::map<ShapeKey, std::optional<TypedExprRef>> modifierCache;
  std::map<ShapeKey, std::optional<VariantSpec>> variantCache;
};

} // namespace

llvm::ArrayRef<StringRef> xf::builtinVariantNames() { return kBuiltinVariants; }

std::optional<Spec> xf::analyzeSpec(const SpecFile &file, SourceMgr &sourceMgr) {
  return Analyzer(sourceMgr).run(file);
}
