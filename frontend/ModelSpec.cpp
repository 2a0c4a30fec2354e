//===- ModelSpec.cpp - a checked, fully resolved specification -------------===//
#include "frontend/ModelSpec.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

using namespace xf;

llvm::StringRef xf::toString(ScalarType t) {
  switch (t) {
  case ScalarType::Int:
    return "int";
  case ScalarType::Float:
    return "float";
  case ScalarType::Bool:
    return "bool";
  }
  return "";
}

llvm::StringRef xf::toString(DType t) {
  switch (t) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> ModelSpec::tensorPrefixes() const {
  if (architecture == "GPT2LMHeadModel")
    return {{"model.embed_tokens.", "transformer.wte."},
            {"model.embed_positions.", "transformer.wpe."},
            {"model.norm.", "transformer.ln_f."},
            {"model.layers.", "transformer.h."},
            // Kept as it is, so that a checkpoint's lm_head (a tied copy, or an untied one) is seen.
            {"lm_head.", "lm_head."}};
  if (architecture == "GPTNeoXForCausalLM")
    return {{"model.embed_tokens.", "gpt_neox.embed_in."},
            {"model.norm.", "gpt_neox.final_layer_norm."},
            {"model.layers.", "gpt_neox.layers."},
            {"lm_head.", "embed_out."}};
  return {};
}

llvm::StringRef xf::toString(NormPlacement p) {
  switch (p) {
  case NormPlacement::Pre:
    return "pre";
  case NormPlacement::Sandwich:
    return "sandwich";
  case NormPlacement::Post:
    return "post";
  case NormPlacement::Parallel:
    return "parallel";
  case NormPlacement::ParallelTwoNorms:
    return "parallel_two_norms";
  }
  return "";
}

std::optional<NormPlacement> xf::normPlacementNamed(llvm::StringRef name) {
  for (NormPlacement p : {NormPlacement::Pre, NormPlacement::Sandwich, NormPlacement::Post, NormPlacement::Parallel,
                          NormPlacement::ParallelTwoNorms})
    if (toString(p) == name)
      return p;
  return std::nullopt;
}

llvm::StringRef xf::toString(Activation a) {
  switch (a) {
  case Activation::SiLU:
    return "silu";
  case Activation::GELU:
    return "gelu";
  case Activation::GELUTanh:
    return "gelu_tanh";
  case Activation::ReLU:
    return "relu";
  case Activation::ReLU2:
    return "relu2";
  }
  return "";
}

llvm::StringRef xf::toString(RopeSpec::Scaling s) {
  switch (s) {
  case RopeSpec::Scaling::None:
    return "none";
  case RopeSpec::Scaling::Linear:
    return "linear";
  case RopeSpec::Scaling::Dynamic:
    return "dynamic";
  case RopeSpec::Scaling::Yarn:
    return "yarn";
  case RopeSpec::Scaling::Llama3:
    return "llama3";
  case RopeSpec::Scaling::LongRope:
    return "longrope";
  }
  return "";
}

std::string xf::formatNumber(double v) {
  char buf[64];
  // Whole numbers as written in model cards (500000.0, not 5e+05).
  if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 1e16) {
    std::snprintf(buf, sizeof(buf), "%.1f", v);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  // 1e-05 -> 1e-5, 1.5e+20 -> 1.5e20
  std::string s = buf, out;
  size_t e = s.find('e');
  if (e != std::string::npos) {
    out = s.substr(0, e + 1);
    size_t k = e + 1;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) {
      if (s[k] == '-')
        out += '-';
      ++k;
    }
    while (k + 1 < s.size() && s[k] == '0')
      ++k;
    out += s.substr(k);
    s = out;
  }
  if (s.find_first_of(".eEni") == std::string::npos)
    s += ".0";
  return s;
}

//===----------------------------------------------------------------------===//
// TypedExpr
//===----------------------------------------------------------------------===//

bool xf::equal(const TypedExprRef &a, const TypedExprRef &b) {
  if (a == b)
    return true;
  if (!a || !b)
    return false;
  if (a->op != b->op || a->type != b->type || a->var != b->var || a->intTable != b->intTable ||
      a->floatTable != b->floatTable || a->operands.size() != b->operands.size())
    return false;
  if (a->op == TypedExpr::Op::Const) {
    switch (a->type) {
    case ScalarType::Int:
      if (a->intValue != b->intValue)
        return false;
      break;
    case ScalarType::Float:
      // Bitwise, so that -0.0 and 0.0 differ as their spellings do.
      if (std::signbit(a->floatValue) != std::signbit(b->floatValue) || a->floatValue != b->floatValue)
        return false;
      break;
    case ScalarType::Bool:
      if (a->boolValue != b->boolValue)
        return false;
      break;
    }
  }
  for (size_t i = 0; i < a->operands.size(); ++i)
    if (!equal(a->operands[i], b->operands[i]))
      return false;
  return true;
}

namespace {
using Op = TypedExpr::Op;

const char *binarySpelling(Op op) {
  switch (op) {
  case Op::Add:
    return "+";
  case Op::Sub:
    return "-";
  case Op::Mul:
    return "*";
  case Op::Div:
    return "/";
  case Op::Mod:
    return "%";
  case Op::Lt:
    return "<";
  case Op::Le:
    return "<=";
  case Op::Gt:
    return ">";
  case Op::Ge:
    return ">=";
  case Op::Eq:
    return "==";
  case Op::Ne:
    return "!=";
  case Op::And:
    return "&&";
  case Op::Or:
    return "||";
  default:
    return nullptr;
  }
}

const char *callSpelling(Op op) {
  switch (op) {
  case Op::Min:
    return "min";
  case Op::Max:
    return "max";
  case Op::Abs:
    return "abs";
  case Op::Exp:
    return "exp";
  case Op::Log:
    return "log";
  case Op::Sqrt:
    return "sqrt";
  case Op::Tanh:
    return "tanh";
  case Op::ToFloat:
    return "float";
  default:
    return nullptr;
  }
}

int precedenceOf(const TypedExpr &e) {
  switch (e.op) {
  case Op::Select:
    return 0;
  case Op::Or:
    return 1;
  case Op::And:
    return 2;
  case Op::Eq:
  case Op::Ne:
    return 3;
  case Op::Lt:
  case Op::Le:
  case Op::Gt:
  case Op::Ge:
    return 4;
  case Op::Add:
  case Op::Sub:
    return 5;
  case Op::Mul:
  case Op::Div:
  case Op::Mod:
    return 6;
  case Op::Neg:
  case Op::Not:
    return 7;
  case Op::Const:
    if (e.type == ScalarType::Int && e.intValue < 0)
      return e.intValue == std::numeric_limits<int64_t>::min() ? 10 : 7;
    if (e.type == ScalarType::Float && std::signbit(e.floatValue))
      return 7;
    return 10;
  default:
    return 10;
  }
}

void printWithin(const TypedExpr &e, int minPrecedence, llvm::raw_ostream &os) {
  bool parens = precedenceOf(e) < minPrecedence;
  if (parens)
    os << "(";
  printTypedExpr(e, os);
  if (parens)
    os << ")";
}
} // namespace

void xf::printTypedExpr(const TypedExpr &e, llvm::raw_ostream &os) {
  switch (e.op) {
  case Op::Const:
    switch (e.type) {
    case ScalarType::Int:
      if (e.intValue == std::numeric_limits<int64_t>::min())
        os << "(-9223372036854775807 - 1)";
      else
        os << e.intValue;
      return;
    case ScalarType::Float:
      os << formatNumber(e.floatValue);
      return;
    case ScalarType::Bool:
      os << (e.boolValue ? "true" : "false");
      return;
    }
    return;
  case Op::Var:
    os << e.var;
    return;
  case Op::Neg:
  case Op::Not:
    os << (e.op == Op::Neg ? "-" : "!");
    printWithin(*e.operands[0], 7, os);
    return;
  case Op::Select:
    printWithin(*e.operands[0], 1, os);
    os << " ? ";
    printTypedExpr(*e.operands[1], os);
    os << " : ";
    printTypedExpr(*e.operands[2], os);
    return;
  case Op::Lookup: {
    os << "[";
    size_t n = e.type == ScalarType::Float ? e.floatTable.size() : e.intTable.size();
    for (size_t i = 0; i < n; ++i) {
      if (i)
        os << ", ";
      if (e.type == ScalarType::Float)
        os << formatNumber(e.floatTable[i]);
      else if (e.type == ScalarType::Bool)
        os << (e.intTable[i] ? "true" : "false");
      else
        os << e.intTable[i];
    }
    os << "][";
    printTypedExpr(*e.operands[0], os);
    os << "]";
    return;
  }
  default:
    break;
  }
  if (const char *op = binarySpelling(e.op)) {
    int p = precedenceOf(e);
    printWithin(*e.operands[0], p, os);
    os << " " << op << " ";
    printWithin(*e.operands[1], p + 1, os);
    return;
  }
  os << callSpelling(e.op) << "(";
  for (size_t i = 0; i < e.operands.size(); ++i) {
    if (i)
      os << ", ";
    printTypedExpr(*e.operands[i], os);
  }
  os << ")";
}

//===----------------------------------------------------------------------===//
// Equality and resolution
//===----------------------------------------------------------------------===//

bool ParamValue::operator==(const ParamValue &o) const {
  if (kind != o.kind)
    return false;
  switch (kind) {
  case Kind::Int:
    return intValue == o.intValue;
  case Kind::Float:
    return floatValue == o.floatValue;
  case Kind::Bool:
    return boolValue == o.boolValue;
  case Kind::Word:
    return word == o.word;
  case Kind::IntList:
    return list == o.list;
  }
  return false;
}

const ParamValue *VariantSpec::param(llvm::StringRef key) const {
  for (const auto &[name, value] : params)
    if (name == key)
      return &value;
  return nullptr;
}

bool VariantSpec::operator==(const VariantSpec &o) const {
  return name == o.name && builtin == o.builtin && params == o.params && equal(score, o.score) &&
         equal(mask, o.mask);
}

double AttentionConfig::scale() const {
  switch (scaleKind) {
  case ScaleKind::Default:
    return headDim > 0 ? 1.0 / std::sqrt(static_cast<double>(headDim)) : 0.0;
  case ScaleKind::Value:
    return scaleValue;
  case ScaleKind::QueryPreAttnScalar:
    return 1.0 / std::sqrt(scaleValue);
  }
  return 0.0;
}

bool AttentionConfig::operator==(const AttentionConfig &o) const {
  return heads == o.heads && kvHeads == o.kvHeads && headDim == o.headDim && headDimV == o.headDimV &&
         causal == o.causal && window == o.window && scaleKind == o.scaleKind &&
         (scaleKind == ScaleKind::Default || scaleValue == o.scaleValue) && softcap == o.softcap &&
         equal(score, o.score) && equal(mask, o.mask) && qkNorm == o.qkNorm && bias == o.bias &&
         batch == o.batch && seqQ == o.seqQ && seqK == o.seqK && dtype == o.dtype && kvDtype == o.kvDtype;
}

bool MlpSpec::operator==(const MlpSpec &o) const {
  return activation == o.activation && gated == o.gated && intermediate == o.intermediate &&
         bias == o.bias && experts == o.experts && topK == o.topK && normTopK == o.normTopK && limit == o.limit &&
         sharedIntermediate == o.sharedIntermediate && sharedGate == o.sharedGate && router == o.router &&
         selectionBias == o.selectionBias && groups == o.groups && topGroups == o.topGroups &&
         routedScale == o.routedScale && normMin == o.normMin &&
         (router != Router::SparseMixer || jitterEps == o.jitterEps) && denseLayers == o.denseLayers &&
         (denseLayers.empty() || denseIntermediate == o.denseIntermediate) && (!limit || alpha == o.alpha);
}

bool RopeSpec::operator==(const RopeSpec &o) const {
  return base == o.base && baseAuto == o.baseAuto && partial == o.partial && interleaved == o.interleaved &&
         scaling == o.scaling && factor == o.factor && originalMaxPosition == o.originalMaxPosition &&
         lowFreqFactor == o.lowFreqFactor && highFreqFactor == o.highFreqFactor && betaFast == o.betaFast &&
         betaSlow == o.betaSlow && truncate == o.truncate && mscale == o.mscale &&
         mscaleAllDim == o.mscaleAllDim && attentionFactor == o.attentionFactor &&
         shortFactor == o.shortFactor && longFactor == o.longFactor;
}

AttentionConfig ModelSpec::layerBase(size_t layer) const {
  AttentionConfig a = attention;
  if (layer < layerTypes.size() && layerTypes[layer] == LayerType::Sliding && slidingWindow)
    a.window = *slidingWindow;
  return a;
}

bool ModelSpec::isSlidingLayer(size_t layer) const {
  return layerTypes.empty() ? attention.window > 0 : layer < layerTypes.size() && layerTypes[layer] == LayerType::Sliding;
}

const RopeSpec &ModelSpec::ropeOf(size_t layer) const {
  return slidingRope && isSlidingLayer(layer) ? *slidingRope : rope;
}

bool ModelSpec::usesRope(size_t layer) const {
  return !std::binary_search(nopeLayers.begin(), nopeLayers.end(), static_cast<int64_t>(layer));
}

void ModelSpec::resolveLayers() {
  layers.clear();
  for (int64_t l = 0; l < numLayers; ++l)
    layers.push_back({layerBase(l), variants});
}
