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
};

/// Attention in double precision. A query row that sees no key yields zeros.
std::vector<double> attention(const AttentionProblem &p, const std::vector<float> &q,
                              const std::vector<float> &k, const std::vector<float> &v);

} // namespace xf::reference

#endif // XF_TEST_REFERENCE_REFERENCEATTENTION_H
