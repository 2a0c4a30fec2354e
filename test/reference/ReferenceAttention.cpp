//===- ReferenceAttention.cpp - the double-precision attention oracle -----===//
#include "test/reference/ReferenceAttention.h"

#include <algorithm>
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
          bool sinkToken = j < p.sinkTokens;
          if (p.window > 0 && j <= i - p.window && !sinkToken)
            keep = false;
          if (p.maskMod && !p.maskMod(b, h, i, j))
            keep = false;
          visible[j] = keep;
          if (keep) {
            any = true;
            maxZ = std::max(maxZ, z[j]);
          }
        }
        const double sink = p.sinks.empty() ? -std::numeric_limits<double>::infinity() : double(p.sinks[h]);
        if (!any && p.sinks.empty())
          continue;
        if (any)
          maxZ = std::max(maxZ, sink);
        else
          maxZ = sink;
        // P[i,j] = exp(z_j) / (exp(s_h) + sum_j' exp(z_j')), computed relative to the row max.
        double denom = p.sinks.empty() ? 0.0 : std::exp(sink - maxZ);
        int64_t visibleKeys = 0;
        for (int64_t j = 0; j < T; ++j)
          if (visible[j]) {
            denom += std::exp(z[j] - maxZ);
            ++visibleKeys;
          }
        std::vector<double> softmaxV(Dv, 0.0), meanV(Dv, 0.0);
        const bool calibrated =
            std::find(p.calibratedHeads.begin(), p.calibratedHeads.end(), h) != p.calibratedHeads.end();
        auto inS = [&](int64_t j) {
          return std::find(p.calibratedKeys.begin(), p.calibratedKeys.end(), j) != p.calibratedKeys.end();
        };
        double massS = 0.0; // S_i
        if (calibrated)
          for (int64_t j = 0; j < T; ++j)
            if (visible[j] && inS(j))
              massS += std::exp(z[j] - maxZ) / denom;
        for (int64_t j = 0; j < T; ++j) {
          if (!visible[j])
            continue;
          double pj = std::exp(z[j] - maxZ) / denom;
          if (calibrated)
            pj = inS(j) ? p.beta * pj : (massS < 1.0 ? pj * (1.0 - p.beta * massS) / (1.0 - massS) : 0.0);
          for (int64_t d = 0; d < Dv; ++d) {
            double vj = double(v[((b * Hkv + hk) * T + j) * Dv + d]);
            softmaxV[d] += pj * vj;
            meanV[d] += vj / double(visibleKeys);
          }
        }
        double a = 1.0, shift = 0.0;
        if (!p.alpha.empty()) {
          a = p.alpha[(b * H + h) * S + r];
          if (p.alphaActivation == AttentionProblem::Activation::LinearClip)
            a = std::min(1.0, std::max(0.0, 0.1 * a + 0.5));
          else if (p.alphaActivation == AttentionProblem::Activation::Sigmoid)
            a = 1.0 / (1.0 + std::exp(-a));
          shift = double(p.alphaMa[h]) - a;
        }
        double g = 1.0;
        if (p.gates.size() == size_t(H))
          g = p.gates[h];
        else if (!p.gates.empty())
          g = p.gates[(b * H + h) * S + r];
        if (!p.headGains.empty())
          g *= p.headGains[h];
        double *o = &out[((b * H + h) * S + r) * Dv];
        for (int64_t d = 0; d < Dv; ++d)
          o[d] = g * (a * softmaxV[d] + shift * meanV[d]);
      }
    }
  return out;
}

std::vector<double> xf::reference::mohRouter(const std::vector<float> &x, const std::vector<float> &wRouted,
                                             const std::vector<float> &wShared, const std::vector<float> &wHead,
                                             int64_t batch, int64_t seq, int64_t features, int64_t sharedHeads,
                                             int64_t routedHeads, int64_t topK, double eps) {
  const int64_t H = sharedHeads + routedHeads;
  std::vector<double> gates(batch * H * seq, 0.0);
  auto softmaxOf = [&](const std::vector<float> &w, int64_t rows, const float *token) {
    std::vector<double> logits(rows);
    for (int64_t r = 0; r < rows; ++r) {
      double dot = 0.0;
      for (int64_t c = 0; c < features; ++c)
        dot += double(w[r * features + c]) * double(token[c]);
      logits[r] = dot;
    }
    double m = *std::max_element(logits.begin(), logits.end()), sum = 0.0;
    for (double &l : logits)
      sum += (l = std::exp(l - m));
    for (double &l : logits)
      l /= sum;
    return logits;
  };
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s) {
      const float *token = &x[(b * seq + s) * features];
      std::vector<double> gr = softmaxOf(wRouted, routedHeads, token);
      std::vector<double> gs = softmaxOf(wShared, sharedHeads, token);
      std::vector<double> a = softmaxOf(wHead, 2, token);
      // g~_r = k * (g_r * M) / max(sum(g_r * M), eps), M the top-k mask.
      std::vector<bool> keep(routedHeads, false);
      for (int64_t n = 0; n < topK; ++n) {
        int64_t best = -1;
        for (int64_t r = 0; r < routedHeads; ++r)
          if (!keep[r] && (best < 0 || gr[r] > gr[best]))
            best = r;
        keep[best] = true;
      }
      double kept = 0.0;
      for (int64_t r = 0; r < routedHeads; ++r)
        kept += keep[r] ? gr[r] : 0.0;
      for (int64_t h = 0; h < sharedHeads; ++h)
        gates[(b * H + h) * seq + s] = 2.0 * a[0] * double(sharedHeads) * gs[h];
      for (int64_t r = 0; r < routedHeads; ++r)
        gates[(b * H + sharedHeads + r) * seq + s] =
            keep[r] ? 2.0 * a[1] * double(topK) * gr[r] / std::max(kept, eps) : 0.0;
    }
  return gates;
}
