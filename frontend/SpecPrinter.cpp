//===- SpecPrinter.cpp - canonical .xf text of a Spec ---------------------===//
#include "frontend/SpecPrinter.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Twine.h"

#include <map>

using namespace xf;

namespace {

const char *qkNormValue(QkNorm n) {
  switch (n) {
  case QkNorm::None:
    return "false";
  case QkNorm::PerHead:
    return "true";
  case QkNorm::PerHeadGains:
    return "per_head_gains";
  case QkNorm::Projection:
    return "projection";
  }
  llvm_unreachable("unknown QkNorm");
}

std::string str(const TypedExpr &e) {
  std::string s;
  llvm::raw_string_ostream os(s);
  printTypedExpr(e, os);
  return s;
}

std::string paramText(const ParamValue &v) {
  switch (v.kind) {
  case ParamValue::Kind::Int:
    return std::to_string(v.intValue);
  case ParamValue::Kind::Float:
    return formatNumber(v.floatValue);
  case ParamValue::Kind::Bool:
    return v.boolValue ? "true" : "false";
  case ParamValue::Kind::Word:
    return v.word;
  case ParamValue::Kind::IntList: {
    std::string s = "[";
    for (size_t i = 0; i < v.list.size(); ++i)
      s += (i ? ", " : "") + std::to_string(v.list[i]);
    return s + "]";
  }
  }
  return "";
}

/// A list on as many lines as it needs, continued inside the brackets.
void printList(llvm::raw_ostream &os, unsigned indent, llvm::ArrayRef<std::string> items) {
  os << "[";
  size_t column = indent + 20;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) {
      os << ",";
      if (column + items[i].size() > 100) {
        os << "\n";
        os.indent(indent + 4);
        column = indent + 4;
      } else {
        os << " ";
        ++column;
      }
    }
    os << items[i];
    column += items[i].size() + 1;
  }
  os << "]";
}

class Printer {
public:
  explicit Printer(llvm::raw_ostream &os) : os(os) {}

  void print(const Spec &spec) {
    os << "# Canonical form printed by xfc --emit=spec.\n";
    for (const AttentionSpec &a : spec.attentions)
      printKernel(a);
    for (const ModelSpec &m : spec.models)
      printModel(m);
  }

private:
  void key(unsigned indent, llvm::StringRef k, const llvm::Twine &v) { os.indent(indent) << k << " = " << v << "\n"; }

  void layerList(unsigned indent, llvm::StringRef k, llvm::ArrayRef<int64_t> layers) {
    os.indent(indent) << k << " = ";
    std::vector<std::string> items;
    for (int64_t l : layers)
      items.push_back(std::to_string(l));
    printList(os, indent, items);
    os << "\n";
  }

  void printKernel(const AttentionSpec &a) {
    os << "\nattention " << a.name << " {\n";
    const AttentionConfig &c = a.config;
    key(2, "heads", llvm::Twine(c.heads));
    key(2, "kv_heads", llvm::Twine(c.kvHeads));
    key(2, "head_dim", llvm::Twine(c.headDim));
    if (c.headDimV != c.headDim)
      key(2, "head_dim_v", llvm::Twine(c.headDimV));
    key(2, "causal", c.causal ? "true" : "false");
    printAttentionRest(c, 2);
    for (auto [k, e] : {std::pair<llvm::StringRef, const Extent *>{"batch", &c.batch}, {"seq_q", &c.seqQ}, {"seq_k", &c.seqK}})
      if (e->value)
        key(2, k, llvm::Twine(*e->value));
    if (c.dtype != DType::F32)
      key(2, "dtype", toString(c.dtype));
    if (c.kvDtype != c.dtype)
      key(2, "kv_dtype", toString(c.kvDtype));
    for (const VariantSpec &v : a.variants)
      printVariant(v, 2);
    os << "}\n";
  }

  /// The keys after heads/kv_heads/head_dim/causal that are printed only when not default.
  void printAttentionRest(const AttentionConfig &c, unsigned indent) {
    if (c.window > 0)
      key(indent, "window", llvm::Twine(c.window));
    printScale(c, indent);
    if (c.softcap)
      key(indent, "softcap", formatNumber(*c.softcap));
    if (c.score)
      key(indent, "score", str(*c.score));
    if (c.mask)
      key(indent, "mask", str(*c.mask));
  }

  void printScale(const AttentionConfig &c, unsigned indent) {
    switch (c.scaleKind) {
    case AttentionConfig::ScaleKind::Default:
      break;
    case AttentionConfig::ScaleKind::Value:
      key(indent, "scale", formatNumber(c.scaleValue));
      break;
    case AttentionConfig::ScaleKind::QueryPreAttnScalar:
      key(indent, "query_pre_attn_scalar", formatNumber(c.scaleValue));
      break;
    }
  }

  static const char *biasText(AttentionBias b) {
    return b == AttentionBias::All ? "true" : b == AttentionBias::QKV ? "qkv" : "false";
  }

  void printVariant(const VariantSpec &v, unsigned indent) {
    os.indent(indent) << "variant " << v.name << " {\n";
    for (const auto &[k, value] : v.params) {
      if (value.kind == ParamValue::Kind::IntList) {
        os.indent(indent + 2) << k << " = ";
        std::vector<std::string> items;
        for (int64_t x : value.list)
          items.push_back(std::to_string(x));
        printList(os, indent + 2, items);
        os << "\n";
      } else {
        key(indent + 2, k, paramText(value));
      }
    }
    if (v.score)
      key(indent + 2, "score", str(*v.score));
    if (v.mask)
      key(indent + 2, "mask", str(*v.mask));
    os.indent(indent) << "}\n";
  }

  void printModel(const ModelSpec &m) {
    os << "\nmodel " << m.name << " {\n";
    if (!m.architecture.empty())
      key(2, "architecture", "\"" + m.architecture + "\"");
    key(2, "vocab", llvm::Twine(m.vocab));
    key(2, "hidden", llvm::Twine(m.hidden));
    key(2, "layers", llvm::Twine(m.numLayers));
    key(2, "dtype", toString(m.dtype));
    key(2, "tie_embeddings", m.tieEmbeddings ? "true" : "false");
    if (m.maxPosition > 0)
      key(2, "max_position", llvm::Twine(m.maxPosition));
    if (m.embedScale != 1.0)
      key(2, "embed_scale", formatNumber(m.embedScale));
    if (m.residualScale != 1.0)
      key(2, "residual_scale", formatNumber(m.residualScale));
    if (m.logitScale != 1.0)
      key(2, "logit_scale", formatNumber(m.logitScale));
    if (m.finalSoftcap)
      key(2, "final_softcap", formatNumber(*m.finalSoftcap));
    if (m.lmHeadBias)
      key(2, "lm_head_bias", "true");
    if (m.learnedPositions)
      key(2, "learned_positions", "true");
    if (m.normPlacement != NormPlacement::Pre)
      key(2, "norm_placement", toString(m.normPlacement));
    if (!m.layerTypes.empty()) {
      os.indent(2) << "layer_types = ";
      std::vector<std::string> items;
      for (LayerType t : m.layerTypes)
        items.push_back(t == LayerType::Sliding ? "sliding" : "full");
      printList(os, 2, items);
      os << "\n";
    }
    if (!m.nopeLayers.empty())
      layerList(2, "nope_layers", m.nopeLayers);
    if (m.mtpLayers > 0)
      key(2, "mtp_layers", llvm::Twine(m.mtpLayers));

    os << "\n  norm {\n";
    key(4, "kind", m.norm.kind == NormSpec::Kind::RMS ? "rms" : "layer");
    key(4, "eps", formatNumber(m.norm.eps));
    if (m.norm.unitOffset)
      key(4, "unit_offset", "true");
    if (m.norm.kind == NormSpec::Kind::Layer && !m.norm.bias)
      key(4, "bias", "false");
    os << "  }\n";

    const AttentionConfig &a = m.attention;
    os << "\n  attention {\n";
    key(4, "heads", llvm::Twine(a.heads));
    key(4, "kv_heads", llvm::Twine(a.kvHeads));
    key(4, "head_dim", llvm::Twine(a.headDim));
    if (a.headDimV != a.headDim)
      key(4, "head_dim_v", llvm::Twine(a.headDimV));
    if (!a.causal)
      key(4, "causal", "false");
    if (m.slidingWindow)
      key(4, "sliding_window", llvm::Twine(*m.slidingWindow));
    printAttentionRest(a, 4);
    if (a.qkNorm != QkNorm::None)
      key(4, "qk_norm", qkNormValue(a.qkNorm));
    if (a.bias != AttentionBias::None)
      key(4, "bias", biasText(a.bias));
    if (a.kvDtype != DType::F32)
      key(4, "kv_dtype", toString(a.kvDtype));
    if (m.latent.qRank > 0)
      key(4, "q_lora_rank", llvm::Twine(m.latent.qRank));
    if (m.latent.enabled()) {
      key(4, "kv_lora_rank", llvm::Twine(m.latent.kvRank));
      key(4, "rope_head_dim", llvm::Twine(m.latent.ropeDim));
    }
    os << "  }\n";

    printRope(m.rope, "rope");
    if (m.slidingRope)
      printRope(*m.slidingRope, "sliding_rope");
    printMlp(m.mlp);

    // Model-level variants are printed as such only if every layer starts with them (they were resolved
    // per layer, and a layer whose heads differ may resolve them differently).
    bool common = llvm::all_of(m.layers, [&](const LayerSpec &l) {
      return l.variants.size() >= m.variants.size() &&
             std::equal(m.variants.begin(), m.variants.end(), l.variants.begin());
    });
    size_t shared = common ? m.variants.size() : 0;
    if (common && !m.variants.empty()) {
      os << "\n";
      for (const VariantSpec &v : m.variants)
        printVariant(v, 2);
    }
    printLayerOverrides(m, shared);
    os << "}\n";
  }

  void printRope(const RopeSpec &r, llvm::StringRef block) {
    os << "\n  " << block << " {\n";
    key(4, "base", r.baseAuto ? std::string("auto") : formatNumber(r.base));
    if (r.partial != 1.0)
      key(4, "partial", formatNumber(r.partial));
    if (r.interleaved)
      key(4, "interleaved", "true");
    if (r.scaling != RopeSpec::Scaling::None) {
      key(4, "scaling", toString(r.scaling));
      if (r.scaling != RopeSpec::Scaling::LongRope || r.factor != 1.0)
        key(4, "factor", formatNumber(r.factor));
      if (r.originalMaxPosition)
        key(4, "original_max_position", llvm::Twine(*r.originalMaxPosition));
    }
    switch (r.scaling) {
    case RopeSpec::Scaling::Llama3:
      key(4, "low_freq_factor", formatNumber(r.lowFreqFactor));
      key(4, "high_freq_factor", formatNumber(r.highFreqFactor));
      break;
    case RopeSpec::Scaling::Yarn:
      key(4, "beta_fast", formatNumber(r.betaFast));
      key(4, "beta_slow", formatNumber(r.betaSlow));
      key(4, "truncate", r.truncate ? "true" : "false");
      if (r.mscale)
        key(4, "mscale", formatNumber(*r.mscale));
      if (r.mscaleAllDim)
        key(4, "mscale_all_dim", formatNumber(*r.mscaleAllDim));
      if (r.attentionFactor)
        key(4, "attention_factor", formatNumber(*r.attentionFactor));
      break;
    case RopeSpec::Scaling::LongRope:
      if (r.attentionFactor)
        key(4, "attention_factor", formatNumber(*r.attentionFactor));
      for (auto [k, list] : {std::pair<llvm::StringRef, const std::vector<double> *>{"short_factor", &r.shortFactor},
                             {"long_factor", &r.longFactor}}) {
        os.indent(4) << k << " = ";
        std::vector<std::string> items;
        for (double x : *list)
          items.push_back(formatNumber(x));
        printList(os, 4, items);
        os << "\n";
      }
      break;
    default:
      break;
    }
    os << "  }\n";
  }

  void printMlp(const MlpSpec &mlp) {
    os << "\n  mlp {\n";
    const char *kind = nullptr;
    if (mlp.gated && mlp.activation == Activation::SiLU)
      kind = "swiglu";
    else if (mlp.gated && mlp.activation == Activation::GELUTanh)
      kind = "geglu";
    else if (!mlp.gated && mlp.activation == Activation::GELU)
      kind = "gelu";
    else if (!mlp.gated && mlp.activation == Activation::ReLU)
      kind = "relu";
    if (kind) {
      key(4, "kind", kind);
    } else {
      key(4, "activation", toString(mlp.activation));
      key(4, "gated", mlp.gated ? "true" : "false");
    }
    key(4, "intermediate", llvm::Twine(mlp.intermediate));
    if (mlp.bias)
      key(4, "bias", "true");
    if (mlp.experts > 0) {
      key(4, "experts", llvm::Twine(mlp.experts));
      key(4, "top_k", llvm::Twine(mlp.topK));
      if (!mlp.normTopK)
        key(4, "norm_top_k", "false");
      if (mlp.sharedIntermediate > 0)
        key(4, "shared_intermediate", llvm::Twine(mlp.sharedIntermediate));
      if (mlp.sharedGate)
        key(4, "shared_gate", "true");
      if (mlp.router != MlpSpec::Router::Softmax)
        key(4, "router", mlp.routerName());
      if (mlp.router == MlpSpec::Router::SparseMixer)
        key(4, "jitter_eps", formatNumber(mlp.jitterEps));
      if (mlp.selectionBias)
        key(4, "selection_bias", "true");
      if (mlp.groups > 1) {
        key(4, "groups", llvm::Twine(mlp.groups));
        key(4, "top_groups", llvm::Twine(mlp.topGroups));
      }
      if (mlp.routedScale != 1.0)
        key(4, "routed_scale", formatNumber(mlp.routedScale));
      if (mlp.normMin > 0.0)
        key(4, "norm_min", formatNumber(mlp.normMin));
      if (!mlp.denseLayers.empty()) {
        layerList(4, "dense_layers", mlp.denseLayers);
        if (mlp.denseIntermediate != mlp.intermediate)
          key(4, "dense_intermediate", llvm::Twine(mlp.denseIntermediate));
      }
    }
    if (mlp.limit) {
      key(4, "limit", formatNumber(*mlp.limit));
      key(4, "alpha", formatNumber(mlp.alpha));
    }
    os << "  }\n";
  }

  /// The keys that turn `base` into `a`, as a `layers` block body.
  std::string attentionDiff(const AttentionConfig &a, const AttentionConfig &base) {
    std::string s;
    llvm::raw_string_ostream d(s);
    auto kv = [&](llvm::StringRef k, const llvm::Twine &v) { d.indent(4) << k << " = " << v << "\n"; };
    if (a.heads != base.heads)
      kv("heads", llvm::Twine(a.heads));
    if (a.kvHeads != base.kvHeads)
      kv("kv_heads", llvm::Twine(a.kvHeads));
    int64_t expectedV = base.headDimV;
    if (a.headDim != base.headDim) {
      kv("head_dim", llvm::Twine(a.headDim));
      if (base.headDimV == base.headDim)
        expectedV = a.headDim;
    }
    if (a.headDimV != expectedV)
      kv("head_dim_v", llvm::Twine(a.headDimV));
    if (a.causal != base.causal)
      kv("causal", a.causal ? "true" : "false");
    if (a.window != base.window)
      kv("window", a.window > 0 ? llvm::Twine(a.window) : llvm::Twine("none"));
    if (a.scaleKind != base.scaleKind ||
        (a.scaleKind != AttentionConfig::ScaleKind::Default && a.scaleValue != base.scaleValue)) {
      switch (a.scaleKind) {
      case AttentionConfig::ScaleKind::Default:
        kv("scale", "default");
        break;
      case AttentionConfig::ScaleKind::Value:
        kv("scale", formatNumber(a.scaleValue));
        break;
      case AttentionConfig::ScaleKind::QueryPreAttnScalar:
        kv("query_pre_attn_scalar", formatNumber(a.scaleValue));
        break;
      }
    }
    if (a.softcap != base.softcap)
      kv("softcap", a.softcap ? formatNumber(*a.softcap) : std::string("none"));
    if (!equal(a.score, base.score))
      kv("score", a.score ? str(*a.score) : std::string("z"));
    if (!equal(a.mask, base.mask))
      kv("mask", a.mask ? str(*a.mask) : std::string("true"));
    if (a.qkNorm != base.qkNorm)
      kv("qk_norm", qkNormValue(a.qkNorm));
    if (a.bias != base.bias)
      kv("bias", biasText(a.bias));
    return s;
  }

  static std::string layerSet(llvm::ArrayRef<int64_t> layers) {
    std::string s;
    size_t k = 0;
    while (k < layers.size()) {
      if (!s.empty())
        s += ", ";
      size_t run = 1;
      int64_t step = k + 1 < layers.size() ? layers[k + 1] - layers[k] : 1;
      while (k + run < layers.size() && layers[k + run] - layers[k + run - 1] == step)
        ++run;
      if (run >= 3 || (run == 2 && step == 1)) {
        s += std::to_string(layers[k]) + ".." + std::to_string(layers[k + run - 1]);
        if (step != 1)
          s += " step " + std::to_string(step);
        k += run;
      } else {
        s += std::to_string(layers[k]);
        ++k;
      }
    }
    return s;
  }

  void printLayerOverrides(const ModelSpec &m, size_t sharedVariants) {
    // Group layers by the text of their difference, in order of their first layer.
    std::vector<std::pair<std::string, std::vector<int64_t>>> groups;
    std::map<std::string, size_t> index;
    for (size_t l = 0; l < m.layers.size(); ++l) {
      const LayerSpec &layer = m.layers[l];
      std::string body = attentionDiff(layer.attention, m.layerBase(l));
      std::string variants;
      llvm::raw_string_ostream v(variants);
      Printer p(v);
      for (size_t k = sharedVariants; k < layer.variants.size(); ++k)
        p.printVariant(layer.variants[k], 4);
      body += variants;
      if (body.empty())
        continue;
      auto [it, inserted] = index.try_emplace(body, groups.size());
      if (inserted)
        groups.push_back({body, {}});
      groups[it->second].second.push_back(l);
    }
    for (const auto &[body, layers] : groups)
      os << "\n  layers " << layerSet(layers) << " {\n" << body << "  }\n";
  }

  llvm::raw_ostream &os;
};

} // namespace

void xf::printSpec(const Spec &spec, llvm::raw_ostream &os) { Printer(os).print(spec); }
