//===- DenseInt8Test.cpp - the int8-dot products against double loops ----===//
//
// dense::Dot::I8 (xf-run --dot int8) quantizes each weight row to int8 at load (scale max|w| / 127) and each
// activation row per call (scale max|x| / 127, stored + 128 as unsigned bytes), sums the code products
// exactly in int32 (AVX512-VNNI vpdpbusd) and scales the sum back in float32. Two references in double:
// - the quantized values' own product, sx * sw * sum_k qx qw + b: only the float32 epilogue differs (the
//   int32 sum rounded to float, two products and an add), so |error| <= 4 * 2^-24 * (|sx sw sum| + |b|);
// - the float32 inputs' product, which the quantization moves by at most sum_k (|x| |dw| + |dx| |w| +
//   |dx| |dw|) with |dx| <= sx / 2 and |dw| <= sw / 2 (round to nearest), plus the same epilogue rounding.
// The GEMM (6-row tiles), its 1-row form (fewer than 6 rows) and the decode GEMV give each row the same
// results bit for bit, since the integer sums are exact. Skipped (reported as skipped) on CPUs without the
// kernels' ISA, except the test of the refusal itself.
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/DenseOps.h"
#include "test/unit/RandomVector.h"
#include "test/unit/ScopedEnv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
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

class DenseInt8Test : public ::testing::Test {
protected:
  void SetUp() override {
    if (!dense::int8DotSupported())
      GTEST_SKIP() << "this CPU lacks the int8 dot's ISA (AVX512-VNNI, -BF16; or XF_CPU_NO_AVX512BF16 is set)";
  }
  ThreadPool pool{2};
  dense::ScopedPool scope{pool};
  std::mt19937 rng{2468};
};

/// The definition quantizeRows documents, written out per element.
void quantizeReference(const float *x, int64_t in, std::vector<uint8_t> &q, float &scale) {
  float a = 0.0f;
  for (int64_t k = 0; k < in; ++k)
    a = std::max(a, std::abs(x[k]));
  scale = a > 0 ? a / 127.0f : 1.0f;
  q.assign(static_cast<size_t>((in + 3) / 4 * 4), 128);
  for (int64_t k = 0; k < in; ++k)
    q[static_cast<size_t>(k)] =
        static_cast<uint8_t>(std::clamp(std::nearbyint(x[k] / scale), -127.0f, 127.0f) + 128.0f);
}

TEST_F(DenseInt8Test, QuantizesRowsAsDocumented) {
  for (int64_t in : {1, 5, 16, 37, 768}) {
    const int64_t rows = 40, ldx = in + 3, ldq = (in + 3) / 4 * 4 + 8;
    std::vector<float> x = randomVector(rows * ldx, rng, 3.0f);
    std::fill(x.begin() + 2 * ldx, x.begin() + 2 * ldx + in, 0.0f); // a zero row: scale 1, codes 128
    // Row 5 has scale 1 (max 127): ties round to even.
    const std::vector<float> ties = {127.0f, 0.5f, 1.5f, 2.5f, -2.5f};
    std::copy_n(ties.begin(), std::min<int64_t>(in, 5), x.begin() + 5 * ldx);
    std::vector<uint8_t> q(rows * ldq, 7);
    std::vector<float> scale(rows);
    dense::quantizeRows(x.data(), ldx, rows, in, q.data(), ldq, scale.data());
    for (int64_t m = 0; m < rows; ++m) {
      std::vector<uint8_t> ref;
      float refScale;
      quantizeReference(x.data() + m * ldx, in, ref, refScale);
      ASSERT_EQ(scale[m], refScale) << "row " << m << " in " << in;
      for (size_t k = 0; k < ref.size(); ++k)
        ASSERT_EQ(q[m * ldq + k], ref[k]) << "row " << m << " k " << k << " in " << in;
      for (int64_t k = static_cast<int64_t>(ref.size()); k < ldq; ++k)
        ASSERT_EQ(q[m * ldq + k], 7) << "beyond the row, row " << m;
    }
    EXPECT_EQ(scale[2], 1.0f);
    const std::vector<uint8_t> tieCodes = {255, 128, 130, 130, 126};
    if (in >= 5) {
      EXPECT_EQ(scale[5], 1.0f);
      EXPECT_EQ(std::vector<uint8_t>(q.begin() + 5 * ldq, q.begin() + 5 * ldq + 5), tieCodes);
    }
  }
}

struct Int8Case {
  int64_t rows, in, out;
  bool bias;
  dense::Storage storage = dense::Storage::F32; // what the weights were loaded as, before quantizing
};

class Int8GemmTest : public DenseInt8Test, public ::testing::WithParamInterface<Int8Case> {};

TEST_P(Int8GemmTest, MatchesDoubleLoops) {
  const Int8Case c = GetParam();
  std::vector<float> w = randomVector(c.in * c.out, rng, 1.0f / std::sqrt(float(c.in)));
  std::vector<float> b = randomVector(c.out, rng);
  dense::Linear layer;
  layer.assign(w.data(), c.out, c.in, /*transposed=*/false, c.bias ? b.data() : nullptr, c.storage);
  std::vector<float> stored(w.size());
  for (int64_t n = 0; n < c.out; ++n)
    for (int64_t k = 0; k < c.in; ++k)
      stored[n * c.in + k] = layer.weight(n, k);
  layer.quantizeForDot();
  ASSERT_EQ(layer.storage, dense::Storage::I8);
  ASSERT_EQ(layer.dot, dense::Dot::I8);
  ASSERT_TRUE(layer.wt.empty());
  const int64_t ldx = c.in + 5, ldy = layer.outPadded + 3;
  std::vector<float> x = randomVector(c.rows * ldx, rng), y(c.rows * ldy, -7.0f);
  dense::linear(layer, x.data(), ldx, c.rows, y.data(), ldy);
  for (int64_t m = 0; m < c.rows; ++m) {
    std::vector<uint8_t> qx;
    float sx;
    quantizeReference(x.data() + m * ldx, c.in, qx, sx);
    for (int64_t n = 0; n < c.out; ++n) {
      // The stored codes and scale: weight() is code * scale, the code an integer in [-127, 127].
      const double sw = layer.q8Scale[n], bias = c.bias ? b[n] : 0.0;
      double sum = 0, exact = bias, slack = 0;
      for (int64_t k = 0; k < c.in; ++k) {
        const double code = std::nearbyint(layer.weight(n, k) / sw);
        ASSERT_LE(std::abs(code), 127.0);
        sum += (double(qx[k]) - 128.0) * code;
        const double xv = x[m * ldx + k], wv = stored[n * c.in + k];
        exact += xv * wv;
        slack += std::abs(xv) * sw / 2 + sx / 2.0 * std::abs(wv) + sx * sw / 4;
      }
      const double quantized = sx * sw * sum + bias, got = y[m * ldy + n];
      const double rounding = 4 * 0x1p-24 * (std::abs(quantized - bias) + std::abs(bias));
      ASSERT_LE(std::abs(got - quantized), rounding) << "row " << m << " column " << n;
      ASSERT_LE(std::abs(got - exact), slack + rounding) << "row " << m << " column " << n;
    }
    for (int64_t n = c.out; n < layer.outPadded; ++n)
      ASSERT_EQ(y[m * ldy + n], 0.0f) << "row " << m << " padding column " << n;
    for (int64_t n = layer.outPadded; n < ldy; ++n)
      ASSERT_EQ(y[m * ldy + n], -7.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Int8GemmTest,
                         ::testing::Values(Int8Case{1, 64, 64, false}, Int8Case{1, 130, 100, true},
                                           Int8Case{3, 37, 70, true, dense::Storage::BF16},
                                           Int8Case{6, 64, 64, false, dense::Storage::F16},
                                           Int8Case{7, 130, 100, true, dense::Storage::BF16},
                                           Int8Case{13, 768, 200, true}, Int8Case{64, 2048, 192, false}),
                         [](const ::testing::TestParamInfo<Int8Case> &info) {
                           const Int8Case &c = info.param;
                           return "rows" + std::to_string(c.rows) + "_in" + std::to_string(c.in) + "_out" +
                                  std::to_string(c.out) + (c.bias ? "_bias" : "") + "_" +
                                  dense::storageName(c.storage);
                         });

// A row's results do not depend on the kernel (GEMM tile, its 1-row form, GEMV) nor on the other rows.
TEST_F(DenseInt8Test, EveryKernelGivesEachRowTheSameResults) {
  const int64_t in = 516, out = 130, rows = 13;
  std::vector<float> w = randomVector(out * in, rng, 0.05f), b = randomVector(out, rng),
                     x = randomVector(rows * in, rng);
  dense::Linear layer;
  layer.assign(w.data(), out, in, false, b.data(), dense::Storage::BF16);
  layer.quantizeForDot();
  const int64_t ld = layer.outPadded;
  std::vector<float> all(rows * ld);
  dense::linear(layer, x.data(), in, rows, all.data(), ld);
  for (int64_t count : {1, 2, 5, 6, 7}) {
    std::vector<float> some(count * ld);
    dense::linear(layer, x.data() + 3 * in, in, count, some.data(), ld);
    EXPECT_EQ(0, std::memcmp(some.data(), all.data() + 3 * ld, sizeof(float) * count * ld)) << count << " rows";
  }
}

// The codes do not depend on how the weights were held: k-paired bf16 (the bf16 dot's layout) quantizes as
// the same values unpaired, and both read back as code * scale within half a step of the stored value (and
// float32 rounding).
TEST_F(DenseInt8Test, QuantizesWhateverTheLayout) {
  const int64_t in = 130, out = 100;
  std::vector<float> w = randomVector(out * in, rng);
  dense::Linear plain, paired;
  plain.assign(w.data(), out, in, false, nullptr, dense::Storage::BF16);
  paired.assign(w.data(), out, in, false, nullptr, dense::Storage::BF16);
  paired.pairForDot();
  std::vector<float> stored(out * in);
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < in; ++k)
      stored[n * in + k] = plain.weight(n, k);
  plain.quantizeForDot();
  paired.quantizeForDot();
  EXPECT_FALSE(paired.paired);
  EXPECT_EQ(plain.q8, paired.q8);
  EXPECT_EQ(plain.q8Scale, paired.q8Scale);
  EXPECT_EQ(plain.q8Offset, paired.q8Offset);
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < in; ++k)
      ASSERT_LE(std::abs(plain.weight(n, k) - stored[n * in + k]), plain.q8Scale[n] * (0.5f + 1e-4f))
          << n << ", " << k;
}

// A NaN or infinite activation makes its row NaN and leaves the others alone; a zero row gives the bias; a
// weight row with a non-finite value gives NaN in its column only.
TEST_F(DenseInt8Test, NonFiniteValuesPropagate) {
  const int64_t in = 32, out = 64, rows = 8;
  std::vector<float> w = randomVector(out * in, rng), b = randomVector(out, rng), x = randomVector(rows * in, rng);
  w[5 * in + 3] = std::numeric_limits<float>::infinity();
  dense::Linear layer;
  layer.assign(w.data(), out, in, false, b.data(), dense::Storage::F32);
  layer.quantizeForDot();
  x[1 * in + 4] = std::numeric_limits<float>::quiet_NaN();
  x[6 * in + 0] = -std::numeric_limits<float>::infinity();
  std::fill(x.begin() + 3 * in, x.begin() + 4 * in, 0.0f);
  for (int64_t count : {int64_t(1), rows}) {
    std::vector<float> y(count * out);
    for (int64_t m0 = 0; m0 < rows; m0 += count) {
      dense::linear(layer, x.data() + m0 * in, in, count, y.data(), out);
      for (int64_t m = m0; m < m0 + count; ++m)
        for (int64_t n = 0; n < out; ++n) {
          const float v = y[(m - m0) * out + n];
          if (m == 1 || m == 6 || n == 5)
            EXPECT_TRUE(std::isnan(v)) << "row " << m << " column " << n;
          else if (m == 3)
            EXPECT_EQ(v, b[n]) << "column " << n;
          else
            EXPECT_TRUE(std::isfinite(v)) << "row " << m << " column " << n;
        }
    }
  }
}

// int8 weights take a quarter of float32's bytes (plus a scale and an offset per output); MXFP4 experts
// keep their own codes and kernels.
TEST_F(DenseInt8Test, StorageAndMxfp4) {
  std::vector<float> w(96 * 256, 0.25f);
  dense::Linear layer;
  layer.assign(w.data(), 96, 256, false, nullptr, dense::Storage::F32);
  layer.quantizeForDot();
  EXPECT_EQ(layer.weightBytes(), 128 * 256 + 128 * 8);
  EXPECT_EQ(layer.weight(95, 255), 0.25f);
  EXPECT_STREQ(dense::storageName(layer.storage), "int8");
  EXPECT_EQ(dense::dotNamed("int8"), dense::Dot::I8);
  EXPECT_FALSE(dense::storageNamed("int8"));
  std::vector<uint8_t> blocks(64 * 2 * 16, 0x21), scales(64 * 2, 127);
  dense::Linear expert;
  expert.assignMxfp4(blocks.data(), scales.data(), 64, 64, nullptr);
  expert.quantizeForDot();
  EXPECT_EQ(expert.storage, dense::Storage::MXFP4);
  std::vector<float> x(64, 1.0f), y(64);
  dense::linear(expert, x.data(), 64, 1, y.data(), 64);
  EXPECT_EQ(y[0], 32 * (0.5f + 1.0f));
}

// Where the CPU lacks the ISA (simulated by XF_CPU_NO_AVX512BF16) the product throws before running.
TEST(DenseInt8Refusal, ThrowsWithoutTheCpuFeature) {
  ThreadPool pool{1};
  dense::ScopedPool scope{pool};
  const xf::test::ScopedEnv noBf16("XF_CPU_NO_AVX512BF16", "1");
  EXPECT_FALSE(dense::int8DotSupported());
  std::vector<float> w(64 * 16, 0.5f), x(6 * 16, 1.0f), y(6 * 64, -1.0f);
  dense::Linear layer;
  layer.assign(w.data(), 64, 16, false, nullptr, dense::Storage::F32);
  layer.quantizeForDot();
  EXPECT_THROW(dense::linear(layer, x.data(), 16, 6, y.data(), 64), std::runtime_error);
  EXPECT_THROW(dense::linear(layer, x.data(), 16, 1, y.data(), 64), std::runtime_error);
  EXPECT_EQ(y, std::vector<float>(6 * 64, -1.0f));
}

} // namespace
