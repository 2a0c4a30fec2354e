//===- ModelPlan.cpp - the runtime's description of a model ---------------===//
#include "frontend/ModelPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <algorithm>
#include <cmath>
#include "llvm/Support/MathExtras.h"

using namespace xf;

namespace {

/// Hugging Face's yarn `get_mscale`.
double yarnMscale(double scale, double mscale) { return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

/// The rotary dimension pair index at which `rotations` full turns fit in the original context (yarn's
/// find_correction_dim).
double yarnCorrectionDim(double rotations, int64_t dim, double base, double originalMax) {
  return (dim * std::log(originalMax / (rotations * 2.0 * llvm::numbers::pi))) / (2.0 * std::log(base));
}

llvm::json::Array doubles(const std::vector<double> &values) {
  llvm::json::Array a;
  for (double v : values)
    a.push_back(v);
  return a;
}

} // namespace

RopeFrequencies xf::computeRopeFrequencies(const RopeSpec &rope, int64_t rotaryDim, int64_t maxPosition) {
  RopeFrequencies f;
  int64_t half = rotaryDim / 2;
  std::vector<double> base(half);
  for (int64_t k = 0; k < half; ++k)
    base[k] = 1.0 / std::pow(rope.base, static_cast<double>(2 * k) / static_cast<double>(rotaryDim));
  double original = static_cast<double>(rope.originalMaxPosition.value_or(maxPosition));
  f.invFreq = base;
  switch (rope.scaling) {
  case RopeSpec::Scaling::None:
  case RopeSpec::Scaling::Dynamic:
    break;
  case RopeSpec::Scaling::Linear:
    for (double &v : f.invFreq)
      v /= rope.factor;
    break;
  case RopeSpec::Scaling::Llama3: {
    double lowWavelen = original / rope.lowFreqFactor, highWavelen = original / rope.highFreqFactor;
    for (int64_t k = 0; k < half; ++k) {
      double inv = base[k], wavelen = 2.0 * llvm::numbers::pi / inv;
      if (wavelen > lowWavelen) {
        f.invFreq[k] = inv / rope.factor;
      } else if (wavelen >= highWavelen) {
        double smooth = (original / wavelen - rope.lowFreqFactor) / (rope.highFreqFactor - rope.lowFreqFactor);
        f.invFreq[k] = (1.0 - smooth) * inv / rope.factor + smooth * inv;
      }
    }
    break;
  }
  case RopeSpec::Scaling::Yarn: {
    if (rope.attentionFactor)
      f.attentionFactor = *rope.attentionFactor;
    else if (rope.mscale && rope.mscaleAllDim)
      f.attentionFactor = yarnMscale(rope.factor, *rope.mscale) / yarnMscale(rope.factor, *rope.mscaleAllDim);
    else
      f.attentionFactor = yarnMscale(rope.factor, 1.0);
    double low = yarnCorrectionDim(rope.betaFast, rotaryDim, rope.base, original);
    double high = yarnCorrectionDim(rope.betaSlow, rotaryDim, rope.base, original);
    if (rope.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(rotaryDim - 1));
    if (low == high)
      high += 0.001;
    for (int64_t k = 0; k < half; ++k) {
      double ramp = std::clamp((static_cast<double>(k) - low) / (high - low), 0.0, 1.0);
      double extrapolation = 1.0 - ramp;
      f.invFreq[k] = base[k] / rope.factor * (1.0 - extrapolation) + base[k] * extrapolation;
    }
    break;
  }
  case RopeSpec::Scaling::LongRope: {
    f.longInvFreq = base;
    for (int64_t k = 0; k < half; ++k) {
      if (k < static_cast<int64_t>(rope.shortFactor.size()))
        f.invFreq[k] = base[k] / rope.shortFactor[k];
      if (k < static_cast<int64_t>(rope.longFactor.size()))
        f.longInvFreq[k] = base[k] / rope.longFactor[k];
    }
    if (rope.attentionFactor)
      f.attentionFactor = *rope.attentionFactor;
    else if (rope.factor > 1.0)
      f.attentionFactor = std::sqrt(1.0 + std::log(rope.factor) / std::log(original));
    break;
  }
  }
  return f;
}

llvm::Expected<llvm::json::Value> xf::describeModelPlan(const ModelSpec &m, mlir::ModuleOp module) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "model '" + m.name + "': " + message);
  };
  std::vector<std::string> kernelOfLayer(m.layers.size());
  module.walk([&](mlir::func::FuncOp f) {
    if (auto layers = f->getAttrOfType<mlir::DenseI64ArrayAttr>("xf.layers"))
      for (int64_t l : layers.asArrayRef())
        if (l >= 0 && l < static_cast<int64_t>(kernelOfLayer.size()))
          kernelOfLayer[l] = f.getSymName().str();
  });

  if (m.mlp.experts > 0 && !m.mlp.limit && m.mlp.bias)
    return fail("MoE experts with biases are supported only in the gpt-oss form");
  if (!m.mlp.gated && m.mlp.experts > 0)
    return fail("experts without a gate are not supported by the model runtime yet");
  if (m.mlp.limit && !m.mlp.denseLayers.empty())
    return fail("dense layers beside gpt-oss's clamped-SwiGLU experts are not supported by the model runtime");
  if (m.mlp.limit && m.mlp.experts == 0)
    return fail("the clamped SwiGLU ('limit') is supported by the model runtime only in gpt-oss's mixture of experts");
  if (m.learnedPositions && m.maxPosition <= 0)
    return fail("learned positions need 'max_position', the rows of the position table");

  llvm::json::Array layers;
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const AttentionConfig &a = m.layers[l].attention;
    if (kernelOfLayer[l].empty())
      return fail("layer " + llvm::Twine(l) + " has no attention kernel");
    if (a.headDimV != a.headDim && !m.latent.enabled())
      return fail("layer " + llvm::Twine(l) +
                  ": a value head dim other than the key head dim is supported by the model runtime only in latent "
                  "attention");
    // Mixture-of-head and affine-scaled attention need nothing here: the runtime reads their per-token
    // operands off the kernel's own (gates: the router kernel; alpha, alpha_ma).
    bool learnedSinks = false;
    for (const VariantSpec &v : m.layers[l].variants) {
      if (v.builtin && v.name == "sinks") {
        const ParamValue *mode = v.param("mode");
        learnedSinks = mode && mode->word == "learned";
      }
    }
    layers.push_back(llvm::json::Object{
        {"kernel", kernelOfLayer[l]},
        {"heads", a.heads},
        {"kv_heads", a.kvHeads},
        {"head_dim", a.headDim},
        {"head_dim_v", a.headDimV},
        {"qk_norm", a.qkNorm != QkNorm::None},
        {"qk_norm_projection", a.qkNorm == QkNorm::Projection},
        {"qk_norm_head_gains", a.qkNorm == QkNorm::PerHeadGains},
        {"qkv_bias", a.bias != AttentionBias::None},
        {"o_bias", a.bias == AttentionBias::All},
        {"learned_sinks", learnedSinks},
        {"sliding_rope", m.slidingRope && m.isSlidingLayer(l)},
        {"no_rope", !m.usesRope(l)},
        {"dense_mlp", m.mlp.isDenseLayer(static_cast<int64_t>(l))},
    });
  }

  int64_t headDim = m.layers.empty() ? 0 : m.layers.front().attention.headDim;
  int64_t rotaryDim = static_cast<int64_t>(std::floor(headDim * m.rope.partial));
  rotaryDim -= rotaryDim % 2;
  if (m.latent.enabled())
    rotaryDim = m.latent.ropeDim;
  auto describeRope = [&](const RopeSpec &r) {
    RopeFrequencies freqs = computeRopeFrequencies(r, rotaryDim, m.maxPosition);
    llvm::json::Object rope{{"rotary_dim", rotaryDim},
                            {"inv_freq", doubles(freqs.invFreq)},
                            {"attention_factor", freqs.attentionFactor},
                            {"scaling", toString(r.scaling)},
                            {"interleaved", r.interleaved}};
    if (!freqs.longInvFreq.empty())
      rope["long_inv_freq"] = doubles(freqs.longInvFreq);
    if (r.scaling == RopeSpec::Scaling::Dynamic || r.scaling == RopeSpec::Scaling::LongRope) {
      rope["original_max_position"] = r.originalMaxPosition.value_or(m.maxPosition);
      rope["factor"] = r.factor;
      rope["base"] = r.base;
    }
    return rope;
  };
  llvm::json::Object rope = describeRope(m.rope);

  llvm::json::Object mlp{{"activation", toString(m.mlp.activation)},
                         {"gated", m.mlp.gated},
                         {"intermediate", m.mlp.intermediate},
                         {"bias", m.mlp.bias},
                         {"experts", m.mlp.experts},
                         {"top_k", m.mlp.topK},
                         {"norm_top_k", m.mlp.normTopK},
                         {"shared_intermediate", m.mlp.sharedIntermediate},
                         {"shared_gate", m.mlp.sharedGate},
                         {"alpha", m.mlp.alpha},
                         {"router", m.mlp.routerName()},
                         {"jitter_eps", m.mlp.jitterEps},
                         {"selection_bias", m.mlp.selectionBias},
                         {"groups", m.mlp.groups},
                         {"top_groups", m.mlp.topGroups},
                         {"routed_scale", m.mlp.routedScale},
                         {"norm_min", m.mlp.normMin},
                         {"dense_intermediate", m.mlp.experts > 0 ? m.mlp.denseIntermediate : m.mlp.intermediate}};
  if (m.mlp.limit)
    mlp["limit"] = *m.mlp.limit;

  llvm::json::Object plan{
      {"name", m.name},
      {"architecture", m.architecture},
      {"vocab", m.vocab},
      {"hidden", m.hidden},
      {"max_positions", m.maxPosition},
      {"tie_embeddings", m.tieEmbeddings},
      {"embed_scale", m.embedScale},
      {"residual_scale", m.residualScale},
      {"logit_scale", m.logitScale},
      {"norm_eps", m.norm.eps},
      {"norm_unit_offset", m.norm.unitOffset},
      {"layer_norm", m.norm.kind == NormSpec::Kind::Layer},
      {"layer_norm_bias", m.norm.kind == NormSpec::Kind::Layer && m.norm.bias},
      {"norm_placement", toString(m.normPlacement)},
      {"lm_head_bias", m.lmHeadBias},
      {"learned_positions", m.learnedPositions},
      {"mtp_layers", m.mtpLayers},
      {"mlp", std::move(mlp)},
      {"rope", std::move(rope)},
      {"layers", std::move(layers)},
  };
  if (auto pairs = m.tensorPrefixes(); !pairs.empty()) {
    llvm::json::Array prefixes;
    for (const auto &[from, to] : pairs)
      prefixes.push_back(llvm::json::Array{from, to});
    plan["tensor_prefixes"] = std::move(prefixes);
  }
  if (m.finalSoftcap)
    plan["final_softcap"] = *m.finalSoftcap;
  if (m.latent.enabled())
    plan["latent"] = llvm::json::Object{
        {"q_rank", m.latent.qRank}, {"kv_rank", m.latent.kvRank}, {"rope_dim", m.latent.ropeDim}};
  if (m.slidingRope)
    plan["sliding_rope"] = describeRope(*m.slidingRope);
  return llvm::json::Value(std::move(plan));
}
