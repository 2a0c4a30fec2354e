//===- RandomVector.h - random operands for the dense unit tests ---------===//
#pragma once

#include <random>
#include <vector>

namespace xf::test {

/// `n` normally distributed values of standard deviation `scale`, drawn from `rng`.
inline std::vector<float> randomVector(size_t n, std::mt19937 &rng, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

} // namespace xf::test
