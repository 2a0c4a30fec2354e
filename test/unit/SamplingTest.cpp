//===- SamplingTest.cpp - xf-run's token choice ----------------------------===//
//
// Greedy choice, and sampling against the probabilities it should draw from: frequencies over many draws
// within 5 standard deviations of temperature-scaled softmax, restricted and renormalized by top-k and
// top-p as Hugging Face's warpers do.
//
//===----------------------------------------------------------------------===//

#include "tools/xf-run/Sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace {

using xf::run::chooseToken;
using xf::run::SampleRng;
using xf::run::SamplingOptions;

/// Draw counts of `draws` choices.
std::vector<int64_t> histogram(const std::vector<float> &logits, const SamplingOptions &o, int64_t draws,
                               uint64_t seed = 7) {
  SampleRng rng(seed);
  std::vector<int64_t> counts(logits.size());
  for (int64_t i = 0; i < draws; ++i)
    ++counts[chooseToken(logits.data(), static_cast<int64_t>(logits.size()), o, rng)];
  return counts;
}

/// Counts within 5 standard deviations of `draws * p`, and exactly zero where p is zero.
void expectFrequencies(const std::vector<int64_t> &counts, const std::vector<double> &p, int64_t draws) {
  ASSERT_EQ(counts.size(), p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " is outside the candidates";
      continue;
    }
    double mean = draws * p[i], sigma = std::sqrt(draws * p[i] * (1 - p[i]));
    EXPECT_NEAR(static_cast<double>(counts[i]), mean, 5 * sigma) << "token " << i;
  }
}

TEST(Sampling, SplitMix64IsFixed) {
  // The published first outputs of SplitMix64 from seed 0: the same tokens on every platform.
  SampleRng rng(0);
  EXPECT_EQ(rng.next(), 0xe220a8397b1dcdafull);
  EXPECT_EQ(rng.next(), 0x6e789e6aa1b965f4ull);
  SampleRng a(42), b(42);
  for (int i = 0; i < 100; ++i) {
    double u = a.uniform();
    EXPECT_EQ(u, b.uniform());
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
}

TEST(Sampling, GreedyTakesTheFirstLargest) {
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
  SampleRng rng(1);
  EXPECT_EQ(chooseToken(logits.data(), 4, {}, rng), 1);
  // top_k = 1 is greedy at any temperature.
  SamplingOptions one{0.7, 1, 1.0};
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(chooseToken(logits.data(), 4, one, rng), 1);
}

TEST(Sampling, TemperatureScaledSoftmax) {
  std::vector<float> logits = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, 1.5f};
  const double t = 0.7;
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i)
    sum += p[i] = std::exp(logits[i] / t);
  for (double &x : p)
    x /= sum;
  const int64_t draws = 200000;
  expectFrequencies(histogram(logits, {t, 0, 1.0}, draws), p, draws);
}

TEST(Sampling, TopKRenormalizesOverTheK) {
  std::vector<float> logits = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, 1.5f};
  // The 3 largest: tokens 3, 5, 0.
  std::vector<double> p(logits.size(), 0.0);
  double sum = 0;
  for (int i : {3, 5, 0})
    sum += p[i] = std::exp(logits[i]);
  for (double &x : p)
    x /= sum;
  const int64_t draws = 100000;
  expectFrequencies(histogram(logits, {1.0, 3, 1.0}, draws), p, draws);
}

TEST(Sampling, TopPKeepsTheFewestReachingP) {
  // Probabilities 0.5, 0.3, 0.15, 0.05 (token order shuffled).
  std::vector<float> logits = {std::log(0.15f), std::log(0.5f), std::log(0.05f), std::log(0.3f)};
  const int64_t draws = 100000;
  // p = 0.4: the most probable token alone; 0.79: it and 0.3 (0.5 < 0.79); 0.85: three (0.8 < 0.85).
  expectFrequencies(histogram(logits, {1.0, 0, 0.4}, draws), {0, 1, 0, 0}, draws);
  expectFrequencies(histogram(logits, {1.0, 0, 0.79}, draws), {0, 0.5 / 0.8, 0, 0.3 / 0.8}, draws);
  expectFrequencies(histogram(logits, {1.0, 0, 0.85}, draws), {0.15 / 0.95, 0.5 / 0.95, 0, 0.3 / 0.95}, draws);
  // After top-k = 2 the nucleus is computed on the two renormalized: 0.625 and 0.375.
  expectFrequencies(histogram(logits, {1.0, 2, 0.6}, draws), {0, 1, 0, 0}, draws);
  expectFrequencies(histogram(logits, {1.0, 2, 0.7}, draws), {0, 0.625, 0, 0.375}, draws);
}

TEST(Sampling, SeedsAndNaNs) {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i)
    logits[i] = std::sin(static_cast<float>(i));
  auto sequence = [&](uint64_t seed) {
    SampleRng rng(seed);
    std::vector<int32_t> tokens;
    for (int i = 0; i < 40; ++i)
      tokens.push_back(chooseToken(logits.data(), 50, {1.0, 0, 1.0}, rng));
    return tokens;
  };
  EXPECT_EQ(sequence(5), sequence(5));
  EXPECT_NE(sequence(5), sequence(6));
  // A NaN logit is never drawn, even where it would be the largest under a NaN-unaware order.
  std::vector<float> withNaN = {0.0f, std::nanf(""), 0.0f};
  std::vector<int64_t> counts = histogram(withNaN, {1.0, 0, 1.0}, 2000);
  EXPECT_EQ(counts[1], 0);
  EXPECT_GT(counts[0], 0);
  EXPECT_GT(counts[2], 0);
}

} // namespace
