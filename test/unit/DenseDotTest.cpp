//===- DenseDotTest.cpp - the bf16-dot GEMM against double loops ----------===//
//
// dense::Dot::BF16 (xf-run --dot bf16) rounds the activations to bf16 and multiplies them by bf16 weights
// with float32 accumulation (AVX512-BF16 vdpbf16ps). The reference is the double-precision product of the
// same bf16-rounded activations (dense::toStorage16) and the stored weights, so only the float32 summation
// differs: a sum of K exact products (8-bit significands multiply exactly in float32) rounded at most K
// times, |error| <= K * 2^-24 * sum_k |x_k w_k| (+ |bias|) to first order. The tests assert that bound;
// the errors seen are far below it. Shapes: the minimum tile, tiles and panels that do not divide the
// sizes, row strides wider than the rows, two threads. Skipped (reported as skipped) on CPUs without
// AVX512-BF16, except the test of the refusal itself.
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/DenseOps.h"
#include "test/unit/RandomVector.h"
#include "test/unit/ScopedEnv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

using namespace xf::rt;

namespace {

using xf::test::randomVector;

double bf16Rounded(float x) {
  return dense::fromStorage16(dense::toStorage16(x, dense::Storage::BF16), dense::Storage::BF16);
}

class DenseDotTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (!dense::bf16DotSupported())
      GTEST_SKIP() << "this CPU has no AVX512-BF16 (or XF_CPU_NO_AVX512BF16 is set)";
  }
  ThreadPool pool{2};
  dense::ScopedPool scope{pool};
  std::mt19937 rng{4321};
};

struct DotCase {
  int64_t rows, in, out;
  bool bias;
};

class DotGemmTest : public DenseDotTest, public ::testing::WithParamInterface<DotCase> {};

TEST_P(DotGemmTest, MatchesDoubleLoopsOnRoundedInputs) {
  const DotCase c = GetParam();
  std::vector<float> w = randomVector(c.in * c.out, rng, 1.0f / std::sqrt(float(c.in)));
  std::vector<float> b = randomVector(c.out, rng);
  dense::Linear layer;
  layer.assign(w.data(), c.out, c.in, /*transposed=*/false, c.bias ? b.data() : nullptr, dense::Storage::BF16);
  layer.dot = dense::Dot::BF16;
  const int64_t ldx = c.in + 5, ldy = layer.outPadded + 3;
  std::vector<float> x = randomVector(c.rows * ldx, rng), y(c.rows * ldy, -7.0f);
  dense::linear(layer, x.data(), ldx, c.rows, y.data(), ldy);
  double worstRatio = 0.0;
  for (int64_t m = 0; m < c.rows; ++m)
    for (int64_t n = 0; n < c.out; ++n) {
      double ref = c.bias ? b[n] : 0.0, magnitude = std::abs(ref);
      for (int64_t k = 0; k < c.in; ++k) {
        double term = bf16Rounded(x[m * ldx + k]) * double(layer.weight(n, k));
        ref += term;
        magnitude += std::abs(term);
      }
      const double bound = double(c.in + 1) * 0x1p-24 * magnitude;
      const double error = std::abs(ref - y[m * ldy + n]);
      ASSERT_LE(error, bound) << "row " << m << " column " << n << " (rows " << c.rows << " in " << c.in
                              << " out " << c.out << ")";
      worstRatio = std::max(worstRatio, error / bound);
    }
  for (int64_t m = 0; m < c.rows; ++m) {
    for (int64_t n = c.out; n < layer.outPadded; ++n)
      ASSERT_EQ(y[m * ldy + n], 0.0f) << "row " << m << " padding column " << n;
    for (int64_t n = layer.outPadded; n < ldy; ++n)
      ASSERT_EQ(y[m * ldy + n], -7.0f);
  }
  RecordProperty("worst_error_over_bound", std::to_string(worstRatio));
}

INSTANTIATE_TEST_SUITE_P(Shapes, DotGemmTest,
                         ::testing::Values(DotCase{6, 64, 64, false}, DotCase{7, 130, 100, true},
                                           DotCase{13, 768, 200, true}, DotCase{64, 2048, 192, false},
                                           DotCase{37, 384, 1280, true}),
                         [](const ::testing::TestParamInfo<DotCase> &info) {
                           const DotCase &c = info.param;
                           return "rows" + std::to_string(c.rows) + "_in" + std::to_string(c.in) + "_out" +
                                  std::to_string(c.out) + (c.bias ? "_bias" : "");
                         });

// The activations are rounded once, to nearest even: values exactly between two bf16 neighbours go to
// the even one. One weight of 1 picks one activation column per output. A NaN activation makes its row
// NaN (0 * NaN) and leaves the other rows alone.
TEST_F(DenseDotTest, RoundsActivationsToNearestEven) {
  const int64_t rows = 6, in = 8, out = 64;
  std::vector<float> w(out * in, 0.0f);
  for (int64_t n = 0; n < out; ++n)
    w[n * in + n % in] = 1.0f;
  dense::Linear layer;
  layer.assign(w.data(), out, in, false, nullptr, dense::Storage::BF16);
  layer.dot = dense::Dot::BF16;
  auto fromBits = [](uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
  };
  // 1 + 2^-8 (a tie, rounds down to 1), 1 + 3 * 2^-8 (a tie, rounds up to 1 + 2^-6), just above a tie,
  // a value bf16 holds exactly, a negative tie, a large tie (2^16 + 2^8), a small one (2^-100 (1 + 2^-8)),
  // zero.
  const std::vector<float> row = {fromBits(0x3f808000u), fromBits(0x3f818000u), fromBits(0x3f808001u), 0.375f,
                                  fromBits(0xbf808000u), fromBits(0x47808000u), fromBits(0x0d808000u), 0.0f};
  std::vector<float> x, y(rows * out);
  for (int64_t m = 0; m < rows; ++m)
    x.insert(x.end(), row.begin(), row.end());
  x[2 * in + 3] = std::numeric_limits<float>::quiet_NaN();
  dense::linear(layer, x.data(), in, rows, y.data(), out);
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t n = 0; n < out; ++n) {
      if (m == 2)
        EXPECT_TRUE(std::isnan(y[m * out + n])) << "column " << n;
      else
        EXPECT_EQ(y[m * out + n], float(bf16Rounded(row[n % in]))) << "row " << m << " column " << n;
    }
}

// One row runs the decode GEMV, in float32 as with Dot::F32; an odd reduction length runs the F32 GEMM.
TEST_F(DenseDotTest, GemvAndOddReductionsStayFloat32) {
  for (auto [rows, in] : {std::pair<int64_t, int64_t>{1, 256}, {12, 65}}) {
    const int64_t out = 96;
    std::vector<float> w = randomVector(out * in, rng), x = randomVector(rows * in, rng);
    dense::Linear plain, dot;
    plain.assign(w.data(), out, in, false, nullptr, dense::Storage::BF16);
    dot.assign(w.data(), out, in, false, nullptr, dense::Storage::BF16);
    dot.dot = dense::Dot::BF16;
    std::vector<float> y0(rows * plain.outPadded), y1(rows * dot.outPadded);
    dense::linear(plain, x.data(), in, rows, y0.data(), plain.outPadded);
    dense::linear(dot, x.data(), in, rows, y1.data(), dot.outPadded);
    EXPECT_EQ(y0, y1) << "rows " << rows << " in " << in;
  }
}

// Linear::pairForDot stores the weights k-paired (the model's --dot bf16 does): its GEMM gives the unpaired
// dot GEMM's results and its decode GEMV the float32 GEMV's, bit for bit (K a multiple of 8, every shape a
// model has), and within float32 rounding of them otherwise; the stored weights read back the same. An odd
// reduction length stays unpaired (it runs the float32 GEMM).
TEST_F(DenseDotTest, PairedWeightsGiveTheUnpairedResults) {
  for (auto [rows, in, out] : {std::tuple<int64_t, int64_t, int64_t>{1, 256, 96}, {1, 6, 70}, {6, 64, 64},
                               {37, 384, 200}, {13, 130, 100}}) {
    std::vector<float> w = randomVector(out * in, rng, 1.0f / std::sqrt(float(in))), b = randomVector(out, rng),
                       x = randomVector(rows * in, rng);
    dense::Linear plain, unpaired, paired;
    for (dense::Linear *l : {&plain, &unpaired, &paired})
      l->assign(w.data(), out, in, false, b.data(), dense::Storage::BF16);
    unpaired.dot = dense::Dot::BF16;
    paired.pairForDot();
    ASSERT_TRUE(paired.paired);
    for (int64_t n : {int64_t(0), out - 1})
      for (int64_t k : {int64_t(0), int64_t(1), in - 1})
        EXPECT_EQ(paired.weight(n, k), unpaired.weight(n, k)) << n << ", " << k;
    const int64_t ld = plain.outPadded;
    std::vector<float> y0(rows * ld), y1(rows * ld);
    dense::linear(rows == 1 ? plain : unpaired, x.data(), in, rows, y0.data(), ld);
    dense::linear(paired, x.data(), in, rows, y1.data(), ld);
    if (in % 8 == 0) {
      EXPECT_EQ(y0, y1) << "rows " << rows << " in " << in;
      continue;
    }
    for (int64_t i = 0; i < rows * ld; ++i)
      EXPECT_NEAR(y0[i], y1[i], 1e-5 * (1 + std::abs(y0[i]))) << "rows " << rows << " in " << in << " at " << i;
  }
  dense::Linear odd;
  std::vector<float> w(64 * 65, 0.5f);
  odd.assign(w.data(), 64, 65, false, nullptr, dense::Storage::BF16);
  odd.pairForDot();
  EXPECT_FALSE(odd.paired);
  EXPECT_EQ(odd.dot, dense::Dot::BF16);
}

// An expert's few rows (4, 5) on k-paired weights run the dot GEMM on a copy padded to its 6-row tile: each
// row's results are those of the same rows within 6, bit for bit.
TEST_F(DenseDotTest, PairedFewRowsMatchTheFullTile) {
  if (!dense::bf16DotSupported())
    GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  const int64_t in = 256, out = 96;
  std::vector<float> w = randomVector(out * in, rng, 1.0f / std::sqrt(float(in))), b = randomVector(out, rng),
                     x = randomVector(dense::kMinRows * in, rng);
  dense::Linear paired;
  paired.assign(w.data(), out, in, false, b.data(), dense::Storage::BF16);
  paired.pairForDot();
  const int64_t ld = paired.outPadded;
  std::vector<float> full(dense::kMinRows * ld);
  dense::linear(paired, x.data(), in, dense::kMinRows, full.data(), ld);
  for (int64_t rows : {dense::kSkinnyRows, dense::kSkinnyRows + 1}) {
    std::vector<float> few(rows * ld);
    dense::linear(paired, x.data(), in, rows, few.data(), ld);
    EXPECT_EQ(0, std::memcmp(few.data(), full.data(), sizeof(float) * rows * ld)) << rows << " rows";
  }
}

// Where the CPU lacks AVX512-BF16 (simulated by XF_CPU_NO_AVX512BF16) the GEMM throws before running.
TEST(DenseDotRefusal, ThrowsWithoutTheCpuFeature) {
  ThreadPool pool{1};
  dense::ScopedPool scope{pool};
  const xf::test::ScopedEnv noBf16("XF_CPU_NO_AVX512BF16", "1");
  EXPECT_FALSE(dense::bf16DotSupported());
  std::vector<float> w(64 * 16, 0.5f), x(6 * 16, 1.0f), y(6 * 64, -1.0f);
  dense::Linear layer;
  layer.assign(w.data(), 64, 16, false, nullptr, dense::Storage::BF16);
  layer.dot = dense::Dot::BF16;
  EXPECT_THROW(dense::linear(layer, x.data(), 16, 6, y.data(), 64), std::runtime_error);
  EXPECT_EQ(y, std::vector<float>(6 * 64, -1.0f));
}

} // namespace
