//===- ReferenceAttention.cpp - the double-precision attention oracle -----===//
#include "test/reference/ReferenceAttention.h"

#include <cmath>
#include <limits>

using namespace xf::reference;

std::vector<double> xf::reference::attention(const AttentionProblem &p, const std::vector<float> &q,
                                             const std::vector<float> &k, const std::vector<float> &v) {
  const int64_t B = p.batch, H = p.heads, Hkv = p.kvHeads, S = p.seqQ, T = p.seqK, D = p.headDim,
                Dv = p.headDimV;
  const int64_t group = H / Hkv;
  std::vector<double> out(B * H * S * Dv, 0.0);
  std::vector<double> z(T);
  std::vector<bool> visible(T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t hk = h / group; // GQA: query head h reads kv head h / (H / Hkv)
      for (int64_t r = 0; r < S; ++r) {
        const int64_t i = T - S + r; // queries are the newest S of the T tokens
        double maxZ = -std::numeric_limits<double>::infinity();
        bool any = false;
        for (int64_t j = 0; j < T; ++j) {
          double dot = 0.0;
          for (int64_t d = 0; d < D; ++d)
            dot += double(q[((b * H + h) * S + r) * D + d]) * double(k[((b * Hkv + hk) * T + j) * D + d]);
          z[j] = p.scale * dot;
          if (p.scoreMod)
            z[j] = p.scoreMod(z[j], b, h, i, j);
          bool keep = true;
          if (p.causal && j > i)
            keep = false;
          if (p.window > 0 && j <= i - p.window)
            keep = false;
          if (p.maskMod && !p.maskMod(b, h, i, j))
            keep = false;
          visible[j] = keep;
          if (keep) {
            any = true;
            maxZ = std::max(maxZ, z[j]);
          }
        }
        if (!any)
          continue;
        double denom = 0.0;
        for (int64_t j = 0; j < T; ++j)
          if (visible[j])
            denom += std::exp(z[j] - maxZ);
        double *o = &out[((b * H + h) * S + r) * Dv];
        for (int64_t j = 0; j < T; ++j) {
          if (!visible[j])
            continue;
          double pj = std::exp(z[j] - maxZ) / denom;
          for (int64_t d = 0; d < Dv; ++d)
            o[d] += pj * double(v[((b * Hkv + hk) * T + j) * Dv + d]);
        }
      }
    }
  return out;
}
