//===- ReferenceAttention.h - the double-precision attention oracle -------===//
//
// Written from ../shared/VARIANTS.md with plain loops; shares no code with the compiler. Tensors are
// dense row-major: q [B,H,S,D], k [B,Hkv,T,D], v [B,Hkv,T,Dv], result [B,H,S,Dv].
//
//===----------------------------------------------------------------------===//
#ifndef XF_TEST_REFERENCE_REFERENCEATTENTION_H
#define XF_TEST_REFERENCE_REFERENCEATTENTION_H

#include <cstdint>
#include <functional>
#include <vector>

namespace xf::reference {

struct AttentionProblem {
  int64_t batch = 1, heads = 1, kvHeads = 1, seqQ = 1, seqK = 1, headDim = 1, headDimV = 1;
  double scale = 1.0;
  bool causal = false;
  int64_t window = 0; // 0: none
  /// score_mod(z, b, h, i, j) -> z'; applied before masking. Empty: identity.
  std::function<double(double, int64_t, int64_t, int64_t, int64_t)> scoreMod;
  /// mask_mod(b, h, i, j) -> visible. Empty: all visible.
  std::function<bool(int64_t, int64_t, int64_t, int64_t)> maskMod;

  // Variants (VARIANTS.md); empty vectors disable them.
  /// 1a. Learned sink logit per query head [H]: adds exp(s[h]) to the denominator, no value.
  std::vector<float> sinks;
  /// 1b. StreamingLLM: keys j < sinkTokens stay visible besides the window (still causal).
  int64_t sinkTokens = 0;
  /// 2/3. Head gates: [H] (per-head gains) or [B, H, S] (per-token router gates), O' = g * O.
  std::vector<float> gates;
  /// 2. Per-head output gains [H] (head modulation); they multiply the gates.
  std::vector<double> headGains;
  /// 4. Affine scaling: alpha [B, H, S], alphaMa [H];
  ///    O = alpha * softmax V + (alphaMa - alpha) * mean over visible keys of V.
  std::vector<float> alpha, alphaMa;
  /// phi applied to alpha: identity, linear clipping clamp(0.1x + 0.5, 0, 1), or the logistic sigmoid.
  enum class Activation { None, LinearClip, Sigmoid } alphaActivation = Activation::None;
  /// 1c. ACT sink calibration on `calibratedHeads`: columns `calibratedKeys` (S) get beta * P, the others
  ///     P * (1 - beta * S_i) / (1 - S_i).
  std::vector<int64_t> calibratedKeys, calibratedHeads;
  double beta = 0.4;
};

/// Attention in double precision. A query row that sees no key yields zeros.
std::vector<double> attention(const AttentionProblem &p, const std::vector<float> &q,
                              const std::vector<float> &k, const std::vector<float> &v);

/// 3. Mixture-of-head router: x [B, S, C], wRouted [H - shared, C], wShared [shared, C], wHead [2, C];
/// returns gates [B, H, S]. Top-k ties go to the lower head.
std::vector<double> mohRouter(const std::vector<float> &x, const std::vector<float> &wRouted,
                              const std::vector<float> &wShared, const std::vector<float> &wHead, int64_t batch,
                              int64_t seq, int64_t features, int64_t sharedHeads, int64_t routedHeads, int64_t topK,
                              double eps = 1e-6);

} // namespace xf::reference

#endif // XF_TEST_REFERENCE_REFERENCEATTENTION_H
