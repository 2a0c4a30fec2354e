//===- RopeBoundsTest.cpp - RoPE phase bounds against hand-computed values ===//
#include "passes/RopeBounds.h"

#include <gtest/gtest.h>

#include <cmath>

using mlir::xf::computeRopeBounds;
using mlir::xf::RopeBounds;
using mlir::xf::RopeBoundsInput;

// Hand computation, d = 128, L = 8192, N = 32, eps = 0.1, fp32:
//   d/(d-2) = 128/126 = 1.015873
//   aliasing:  (8192 / 2pi)^1.015873 = 1303.797^1.015873 = 1461.03
//   stability: eps^(1/32) = 0.930572, arccos = 0.374131, (8192 / 0.374131)^1.015873 = 25612.1
//   precision: 2^23 = 8388608
TEST(RopeBounds, Llama3At8kTokens32Layers) {
  RopeBounds b = computeRopeBounds({128, 8192, 32, 0.1, 23});
  EXPECT_NEAR(b.aliasingMin, 1461.03, 0.05);
  EXPECT_NEAR(b.stabilityMin, 25612.1, 0.1);
  EXPECT_EQ(b.precisionMax, 8388608.0);
  EXPECT_TRUE(b.feasible());
  EXPECT_EQ(b.violations(500000.0), "");
  EXPECT_NE(b.violations(10000.0).find("DC stability"), std::string::npos);
  EXPECT_EQ(b.violations(10000.0).find("aliasing"), std::string::npos);
}

// Without depth (N = 1) the stability bound uses arccos(0.1) = 1.470629:
//   d = 128, L = 4096: (4096 / 1.470629)^1.015873 = 2785.22^1.015873 = 3158.91
//   aliasing (4096 / 2pi)^1.015873 = 651.899^1.015873 = 722.52
TEST(RopeBounds, SingleLayer) {
  RopeBounds b = computeRopeBounds({128, 4096, 1, 0.1, 23});
  EXPECT_NEAR(b.aliasingMin, 722.52, 0.01);
  EXPECT_NEAR(b.stabilityMin, 3158.91, 0.01);
}

// 128k tokens, d = 64: both lower bounds grow; a base of 10000 fails aliasing and stability.
//   d/(d-2) = 1.032258; aliasing (131072 / 2pi)^1.032258 = 20860.8^1.032258 = 28751.7
TEST(RopeBounds, LongContextFailsSmallBase) {
  RopeBounds b = computeRopeBounds({64, 131072, 32, 0.1, 23});
  EXPECT_NEAR(b.aliasingMin, 28751.7, 0.1);
  std::string v = b.violations(10000.0);
  EXPECT_NE(v.find("aliasing"), std::string::npos);
  EXPECT_NE(v.find("DC stability"), std::string::npos);
  EXPECT_EQ(v.find("precision"), std::string::npos);
}

// Precision: fp16 angles (10 mantissa bits) cannot hold a base above 1024, which no long context allows.
TEST(RopeBounds, HalfPrecisionAnglesAreInfeasible) {
  RopeBounds b = computeRopeBounds({128, 8192, 32, 0.1, 10});
  EXPECT_EQ(b.precisionMax, 1024.0);
  EXPECT_FALSE(b.feasible());
  EXPECT_NE(b.violations(2000.0).find("precision"), std::string::npos);
}

// auto: the geometric middle of [lower, 2^m), so log-equidistant from both ends.
TEST(RopeBounds, AutoBaseIsInsideTheInterval) {
  RopeBounds b = computeRopeBounds({128, 8192, 32, 0.1, 23});
  double base = b.autoBase();
  EXPECT_GT(base, b.lower());
  EXPECT_LT(base, b.precisionMax);
  EXPECT_NEAR(std::log(base) - std::log(b.lower()), std::log(b.precisionMax) - std::log(base), 1e-9);
  EXPECT_EQ(b.violations(base), "");
}
