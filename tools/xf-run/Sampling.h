//===- Sampling.h - choosing the next token from a step's logits ----------===//
//
// xf-run's token choice: greedy (the first largest logit) or sampled as Hugging Face's generate samples,
// temperature, then top-k, then top-p (the smallest set of most probable tokens whose mass reaches p), from
// a seeded generator that gives the same tokens on every platform. Header-only so that the unit tests use
// the very code xf-run runs.
//
//===----------------------------------------------------------------------===//
#ifndef XF_TOOLS_XF_RUN_SAMPLING_H
#define XF_TOOLS_XF_RUN_SAMPLING_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace xf::run {

struct SamplingOptions {
  double temperature = 0.0; // 0: greedy
  int64_t topK = 0;         // 0: every token
  double topP = 1.0;        // 1: every token
};

/// SplitMix64: a fixed sequence per seed, unlike the standard distributions, whose output the C++ library
/// chooses.
class SampleRng {
public:
  explicit SampleRng(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
  uint64_t state;
};

/// The first index of the largest logit.
inline int32_t greedyToken(const float *logits, int64_t vocab) {
  return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
}

/// The next token under `options`, drawing from `rng` unless the choice is greedy. Candidates are ordered
/// by logit, ties to the lower id; NaN logits are never chosen (an all-NaN row gives token 0).
inline int32_t chooseToken(const float *logits, int64_t vocab, const SamplingOptions &options, SampleRng &rng) {
  if (options.temperature <= 0.0 || options.topK == 1)
    return greedyToken(logits, vocab);
  std::vector<std::pair<double, int32_t>> candidates; // (scaled logit, id)
  candidates.reserve(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i)
    if (!std::isnan(logits[i]))
      candidates.push_back({static_cast<double>(logits[i]) / options.temperature, static_cast<int32_t>(i)});
  if (candidates.empty())
    return 0;
  auto before = [](const std::pair<double, int32_t> &a, const std::pair<double, int32_t> &b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  // Top-k renormalizes over its k (as HF's warpers mask the others to -inf).
  if (options.topK > 0 && static_cast<size_t>(options.topK) < candidates.size()) {
    std::partial_sort(candidates.begin(), candidates.begin() + options.topK, candidates.end(), before);
    candidates.resize(static_cast<size_t>(options.topK));
  }
  // The nucleus and the draw walk a prefix of the order, usually short: sort only as far as it goes
  // (each step sorts the next block of what is left, so the prefix is the full sort's).
  size_t sorted = 0;
  auto sortedUpTo = [&](size_t n) {
    if (n < sorted)
      return;
    size_t more = std::min(candidates.size(), std::max<size_t>(64, 4 * sorted));
    std::partial_sort(candidates.begin() + sorted, candidates.begin() + more, candidates.end(), before);
    sorted = more;
  };
  const double top = std::max_element(candidates.begin(), candidates.end(), [&](const auto &a, const auto &b) {
                       return before(b, a);
                     })->first;
  auto weight = [&](size_t i) { return std::exp(candidates[i].first - top); };
  double total = 0.0;
  for (size_t i = 0; i < candidates.size(); ++i)
    total += weight(i);
  size_t keep = candidates.size();
  if (options.topP < 1.0) {
    // A token stays while the tokens more probable than it hold less than p of the mass (so at least one).
    double ahead = 0.0;
    size_t n = 0;
    while (n < keep && ahead < options.topP * total) {
      sortedUpTo(n);
      ahead += weight(n++);
    }
    keep = n;
    total = ahead;
  }
  double u = rng.uniform() * total;
  for (size_t i = 0; i < keep; ++i) {
    sortedUpTo(i);
    double w = weight(i);
    if (u < w)
      return candidates[i].second;
    u -= w;
  }
  return candidates[keep - 1].second; // rounding left u at the end
}

} // namespace xf::run

#endif // XF_TOOLS_XF_RUN_SAMPLING_H
