//===- DenseOpsTest.cpp - the Halide dense kernels against double loops ---===//
//
// Shapes cover the GEMV (one row), the skinny GEMM (4 and 5 rows), the GEMM's minimum tile, tiles that do not
// divide the sizes (the last tile shifts inwards), outputs narrower than a panel or not a whole number of panels (padded), reductions
// not a multiple of the GEMV's 4-row step, row strides wider than the rows, and two threads, for each weight
// storage (f32, bf16, f16). Tolerances: float32 accumulation over K terms of O(1) values, 1e-4 relative to the
// output scale, against the double-precision product with the weights as stored; the stored weights are
// within the unit roundoff of the given ones (2^-8 relative for bf16, 2^-11 for f16).
//
//===----------------------------------------------------------------------===//
#include "runtime/cpu/DenseOps.h"
#include "test/unit/RandomVector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <tuple>
#include <vector>

using namespace xf::rt;

namespace {

using xf::test::randomVector;

class DenseOpsTest : public ::testing::Test {
protected:
  ThreadPool pool{2};
  dense::ScopedPool scope{pool};
  std::mt19937 rng{1234};
};

struct LinearCase {
  int64_t rows, in, out;
  bool bias, transposed;
};

class LinearTest : public DenseOpsTest,
                   public ::testing::WithParamInterface<std::tuple<LinearCase, dense::Storage>> {};

TEST_P(LinearTest, MatchesDoubleLoops) {
  const auto [c, storage] = GetParam();
  std::vector<float> w = randomVector(c.in * c.out, rng, 1.0f / std::sqrt(float(c.in)));
  std::vector<float> b = randomVector(c.out, rng);
  dense::Linear layer;
  layer.assign(w.data(), c.out, c.in, c.transposed, c.bias ? b.data() : nullptr, storage);
  ASSERT_EQ(layer.storage, storage);
  ASSERT_EQ(layer.wt.size() + layer.wt16.size(), size_t(layer.in * layer.outPadded));
  const double unitRoundoff = storage == dense::Storage::BF16 ? 0x1p-8 : storage == dense::Storage::F16 ? 0x1p-11 : 0.0;
  const int64_t ldx = c.in + 3, ldy = layer.outPadded + 5;
  std::vector<float> x = randomVector(c.rows * ldx, rng), y(c.rows * ldy, -7.0f);
  dense::linear(layer, x.data(), ldx, c.rows, y.data(), ldy);
  double worst = 0.0;
  for (int64_t m = 0; m < c.rows; ++m)
    for (int64_t n = 0; n < c.out; ++n) {
      double ref = c.bias ? b[n] : 0.0;
      for (int64_t k = 0; k < c.in; ++k) {
        const double given = c.transposed ? w[k * c.out + n] : w[n * c.in + k], stored = layer.weight(n, k);
        // The unit roundoff of the 16-bit type (f16 subnormals: half their spacing, 2^-25).
        ASSERT_LE(std::abs(stored - given), std::max(std::abs(given) * unitRoundoff, unitRoundoff > 0 ? 0x1p-25 : 0.0))
            << "weight " << n << ", " << k;
        ref += double(x[m * ldx + k]) * stored;
      }
      worst = std::max(worst, std::abs(ref - y[m * ldy + n]));
    }
  EXPECT_LT(worst, 1e-4) << "rows " << c.rows << " in " << c.in << " out " << c.out << " storage "
                         << dense::storageName(storage);
  // Padding columns hold zeros (zero weights and bias); the row gap past outPadded is never written.
  for (int64_t m = 0; m < c.rows; ++m) {
    for (int64_t n = c.out; n < layer.outPadded; ++n)
      ASSERT_EQ(y[m * ldy + n], 0.0f) << "row " << m << " padding column " << n;
    for (int64_t n = layer.outPadded; n < ldy; ++n)
      ASSERT_EQ(y[m * ldy + n], -7.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearTest,
                         ::testing::Combine(::testing::Values(LinearCase{1, 64, 64, false, false}, LinearCase{1, 300, 1000, true, false},
                                           LinearCase{1, 17, 10, true, true}, LinearCase{6, 64, 64, false, false},
                                           LinearCase{7, 100, 200, true, false},
                                           LinearCase{37, 300, 130, false, true},
                                           LinearCase{130, 128, 1000, true, false},
                                           LinearCase{512, 96, 64, false, false},
                                           LinearCase{1, 771, 200, true, false},
                                           LinearCase{1, 2048, 768, false, true},
                                           LinearCase{9, 771, 200, true, true},
                                           LinearCase{64, 768, 1280, false, false},
                                           // The skinny GEMM: 4 rows, 5 (two tiles, the last shifted inwards).
                                           LinearCase{4, 300, 130, true, false}, LinearCase{5, 771, 200, false, true}),
                                            ::testing::Values(dense::Storage::F32, dense::Storage::BF16,
                                                              dense::Storage::F16)));

// The skinny GEMM computes what the GEMM computes on the same rows, bit for bit: the same sums in the same
// order, its weights widened as they stream rather than a panel at a time. kSkinny16Rows rows run the GEMM
// for every storage; fewer rows run the skinny GEMM where runsSkinny says so.
TEST_F(DenseOpsTest, SkinnyGemmMatchesTheGemm) {
  const int64_t in = 517, out = 200, ld = in + 1, gemmRows = dense::kSkinny16Rows;
  std::vector<float> w = randomVector(in * out, rng, 1.0f / std::sqrt(float(in))), b = randomVector(out, rng);
  for (dense::Storage storage : {dense::Storage::F32, dense::Storage::BF16, dense::Storage::F16}) {
    ASSERT_FALSE(dense::runsSkinny(storage, gemmRows));
    dense::Linear layer;
    layer.assign(w.data(), out, in, false, b.data(), storage);
    const int64_t ldy = layer.outPadded;
    std::vector<float> x = randomVector(gemmRows * ld, rng);
    std::vector<float> gemm(gemmRows * ldy);
    dense::linear(layer, x.data(), ld, gemmRows, gemm.data(), ldy);
    for (int64_t rows : {dense::kSkinnyRows, dense::kSkinnyRows + 1, int64_t(7), int64_t(16), int64_t(47)}) {
      std::vector<float> skinny(rows * ldy);
      dense::linear(layer, x.data(), ld, rows, skinny.data(), ldy);
      EXPECT_EQ(0, std::memcmp(skinny.data(), gemm.data(), sizeof(float) * rows * ldy))
          << rows << " rows, " << dense::storageName(storage);
    }
  }
  // Fewer rows than the skinny tile are the caller's to pad.
  dense::Linear layer;
  layer.assign(w.data(), out, in, false, nullptr);
  std::vector<float> x(3 * in), y(3 * layer.outPadded);
  EXPECT_THROW(dense::linear(layer, x.data(), in, 3, y.data(), layer.outPadded), std::logic_error);
}

// Which rows take 4-row tiles: float32 weights where they pad fewer rows than 6-row tiles, 16-bit weights
// (the GEMM widens a panel per task) below kSkinny16Rows.
TEST(DenseRouting, SkinnyRows) {
  using dense::Storage;
  for (int64_t rows : {4, 5, 7, 8, 13, 14, 15, 16, 19, 20})
    EXPECT_TRUE(dense::runsSkinny(Storage::F32, rows)) << rows;
  for (int64_t rows : {6, 9, 10, 11, 12, 17, 18, 21, 24, 25, 28, 512})
    EXPECT_FALSE(dense::runsSkinny(Storage::F32, rows)) << rows;
  for (Storage storage : {Storage::BF16, Storage::F16}) {
    for (int64_t rows : {4, 6, 12, 47})
      EXPECT_TRUE(dense::runsSkinny(storage, rows)) << rows;
    for (int64_t rows : {48, 128})
      EXPECT_FALSE(dense::runsSkinny(storage, rows)) << rows;
  }
}

// Round to nearest even, ties included; values of the type itself and non-finite ones are kept.
TEST(DenseStorage, SixteenBitConversions) {
  using dense::Storage;
  struct Case {
    float value;
    uint16_t bf16, f16;
  };
  for (Case c : {Case{1.0f, 0x3f80, 0x3c00}, Case{-2.5f, 0xc020, 0xc100},
                 Case{1.0f + 0x1p-8f, 0x3f80, 0x3c04},     // bf16 tie: to even (down); exact in f16
                 Case{1.0f + 0x3p-8f, 0x3f82, 0x3c0c},     // bf16 tie: to even (up)
                 Case{1.0f + 0x1p-11f, 0x3f80, 0x3c00},    // f16 tie: to even (down)
                 Case{1.0f + 0x3p-11f, 0x3f80, 0x3c02},    // f16 tie: to even (up)
                 Case{65536.0f, 0x4780, 0x7c00},           // past the f16 range: infinity
                 Case{INFINITY, 0x7f80, 0x7c00}, Case{0.0f, 0x0000, 0x0000}}) {
    EXPECT_EQ(dense::toStorage16(c.value, Storage::BF16), c.bf16) << c.value;
    EXPECT_EQ(dense::toStorage16(c.value, Storage::F16), c.f16) << c.value;
  }
  EXPECT_TRUE(std::isnan(dense::fromStorage16(dense::toStorage16(NAN, Storage::BF16), Storage::BF16)));
  EXPECT_TRUE(std::isnan(dense::fromStorage16(dense::toStorage16(NAN, Storage::F16), Storage::F16)));
  // Every finite 16-bit value survives widening and narrowing.
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    for (Storage s : {Storage::BF16, Storage::F16}) {
      float v = dense::fromStorage16(static_cast<uint16_t>(bits), s);
      if (std::isfinite(v))
        ASSERT_EQ(dense::toStorage16(v, s), bits) << dense::storageName(s) << " bits " << bits;
    }
  }
}

// The bulk conversion (F16C's vcvtps2ph for float16 on x86-64) gives the scalar conversion's bits: every
// 16-bit value, its neighbours in float32 (ties and near-ties of both roundings), the edges of the f16
// range, and random floats over many magnitudes; NaN stays NaN.
TEST(DenseStorage, BulkConversionMatchesScalar) {
  using dense::Storage;
  std::vector<float> values;
  for (uint32_t bits = 0; bits < 0x10000; ++bits)
    for (Storage s : {Storage::BF16, Storage::F16}) {
      float v = dense::fromStorage16(static_cast<uint16_t>(bits), s);
      values.push_back(v);
      values.push_back(std::nextafter(v, INFINITY));
      values.push_back(std::nextafter(v, -INFINITY));
      if (s == Storage::F16 && std::isfinite(v)) // halfway to the next f16 (a tie)
        values.push_back(v + (dense::fromStorage16(static_cast<uint16_t>(bits + 1), s) - v) / 2);
    }
  for (float v : {65504.0f, 65519.0f, 65520.0f, 65536.0f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-26f, 0.0f, -0.0f,
                  INFINITY, -INFINITY, NAN, -NAN, 3.4e38f, 1e-45f})
    values.push_back(v);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-30.0f, 20.0f), mantissa(-2.0f, 2.0f);
  for (int i = 0; i < 100000; ++i)
    values.push_back(mantissa(rng) * std::exp2(exponent(rng)));
  for (Storage s : {Storage::BF16, Storage::F16}) {
    // An odd count, so the scalar tail after the vector loop runs too.
    const size_t n = values.size() | 1;
    values.resize(n, 1.5f);
    std::vector<uint16_t> bulk(n);
    dense::toStorage16(values.data(), bulk.data(), n, s);
    for (size_t i = 0; i < n; ++i) {
      uint16_t scalar = dense::toStorage16(values[i], s);
      if (std::isnan(values[i]))
        ASSERT_TRUE(std::isnan(dense::fromStorage16(bulk[i], s))) << i;
      else
        ASSERT_EQ(bulk[i], scalar) << dense::storageName(s) << " value " << values[i];
    }
  }
}

// MXFP4 layers (gpt-oss experts as published): the stored values are e2m1 codes times 2^(e - 127); the
// decode GEMV (its own kernel) agrees with a float64 loop over them, and the GEMM (the float32 kernel on the
// layer widened per call) gives the same layer stored as f32 bit for bit. Two threads and one, an output
// count that pads the last panel.
TEST_F(DenseOpsTest, Mxfp4LayersMatchTheirValues) {
  const float e2m1[16] = {0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0f, -0.5, -1, -1.5, -2, -3, -4, -6};
  for (auto [out, in] : {std::pair<int64_t, int64_t>{150, 96}, {64, 32}, {7, 320}}) {
    SCOPED_TRACE("out " + std::to_string(out) + " in " + std::to_string(in));
    const int64_t groups = in / 32;
    std::vector<uint8_t> blocks(out * groups * 16), scaleBits(out * groups);
    std::uniform_int_distribution<int> byte(0, 255), exponent(120, 130);
    for (uint8_t &v : blocks)
      v = static_cast<uint8_t>(byte(rng));
    for (uint8_t &v : scaleBits)
      v = static_cast<uint8_t>(exponent(rng));
    std::vector<float> b = randomVector(out, rng), values(out * in);
    for (int64_t n = 0; n < out; ++n)
      for (int64_t k = 0; k < in; ++k) {
        uint8_t code = blocks[(n * groups + k / 32) * 16 + (k % 32) / 2];
        values[n * in + k] = std::ldexp(e2m1[k % 2 ? code >> 4 : code & 0xf], scaleBits[n * groups + k / 32] - 127);
      }
    dense::Linear packed, wide;
    packed.assignMxfp4(blocks.data(), scaleBits.data(), out, in, b.data());
    wide.assign(values.data(), out, in, /*transposed=*/false, b.data());
    ASSERT_EQ(packed.storage, dense::Storage::MXFP4);
    ASSERT_EQ(packed.weightBytes(), packed.outPadded * in / 2 + packed.outPadded * groups * 4);
    for (int64_t n = 0; n < packed.outPadded; ++n)
      for (int64_t k = 0; k < in; ++k)
        ASSERT_EQ(packed.weight(n, k), n < out ? values[n * in + k] : 0.0f) << n << " " << k;
    // Dequantized into each storage type straight from the codes: the panels assign() makes of the values.
    for (dense::Storage storage : {dense::Storage::F32, dense::Storage::BF16, dense::Storage::F16}) {
      dense::Linear direct, reference;
      direct.assignMxfp4Values(blocks.data(), scaleBits.data(), out, in, b.data(), storage);
      reference.assign(values.data(), out, in, /*transposed=*/false, b.data(), storage);
      ASSERT_EQ(direct.storage, storage);
      ASSERT_EQ(std::vector<float>(direct.wt.begin(), direct.wt.end()),
                std::vector<float>(reference.wt.begin(), reference.wt.end()));
      ASSERT_EQ(std::vector<uint16_t>(direct.wt16.begin(), direct.wt16.end()),
                std::vector<uint16_t>(reference.wt16.begin(), reference.wt16.end()));
      ASSERT_EQ(direct.bias, reference.bias);
    }
    for (int threads : {2, 1}) {
      ThreadPool one(1);
      std::optional<dense::ScopedPool> single;
      if (threads == 1)
        single.emplace(one);
      // Decode: within float32 summation error of the exact sum.
      std::vector<float> x = randomVector(in, rng), y(packed.outPadded, -7.0f);
      dense::linear(packed, x.data(), in, 1, y.data(), packed.outPadded);
      for (int64_t n = 0; n < out; ++n) {
        double ref = b[n], magnitude = std::abs(b[n]);
        for (int64_t k = 0; k < in; ++k) {
          ref += double(x[k]) * values[n * in + k];
          magnitude += std::abs(double(x[k]) * values[n * in + k]);
        }
        ASSERT_NEAR(y[n], ref, 1e-6 * magnitude + 1e-30) << n;
      }
      // Prefill: from kMxfp4GemmRows rows the f32 kernel on the same values; below, the GEMV in tiles of up
      // to 4 rows, each row bit for bit the one-row GEMV's (every tile height, and 5 rows as 3 + 2).
      for (int64_t rows : {dense::kMxfp4GemmRows, dense::kMxfp4GemmRows + 5, int64_t(2), int64_t(3), int64_t(4),
                           int64_t(5), int64_t(9), dense::kMxfp4GemmRows - 1}) {
        std::vector<float> xs = randomVector(rows * in, rng), yp(rows * packed.outPadded), yw(rows * packed.outPadded);
        dense::linear(packed, xs.data(), in, rows, yp.data(), packed.outPadded);
        for (int64_t m = 0; m < rows; ++m) {
          if (rows >= dense::kMxfp4GemmRows)
            continue;
          std::vector<float> one(packed.outPadded);
          dense::linear(packed, xs.data() + m * in, in, 1, one.data(), packed.outPadded);
          for (int64_t n = 0; n < out; ++n)
            ASSERT_EQ(yp[m * packed.outPadded + n], one[n]) << rows << " rows, row " << m << " " << n;
        }
        if (rows < dense::kMxfp4GemmRows)
          continue;
        dense::linear(wide, xs.data(), in, rows, yw.data(), wide.outPadded);
        for (int64_t m = 0; m < rows; ++m)
          for (int64_t n = 0; n < out; ++n)
            ASSERT_EQ(yp[m * packed.outPadded + n], yw[m * wide.outPadded + n]) << m << " " << n;
      }
    }
  }
  // Extreme scales (subnormal and overflowing values) dequantize to the exact values rounded once.
  {
    const uint8_t extremes[4] = {0, 1, 253, 254};
    std::vector<uint8_t> blocks(4 * 16), scaleBits(extremes, extremes + 4);
    std::vector<float> values(4 * 32);
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t k = 0; k < 32; ++k) {
        blocks[n * 16 + k / 2] = static_cast<uint8_t>(k / 2 | (15 - k / 2) << 4);
        int code = k % 2 ? 15 - k / 2 : k / 2;
        values[n * 32 + k] = static_cast<float>(std::ldexp(double(e2m1[code]), int(extremes[n]) - 127));
      }
    for (dense::Storage storage : {dense::Storage::F32, dense::Storage::BF16, dense::Storage::F16}) {
      dense::Linear direct, reference;
      direct.assignMxfp4Values(blocks.data(), scaleBits.data(), 4, 32, nullptr, storage);
      reference.assign(values.data(), 4, 32, /*transposed=*/false, nullptr, storage);
      ASSERT_EQ(std::memcmp(direct.wt.data(), reference.wt.data(), direct.wt.size() * sizeof(float)), 0);
      ASSERT_EQ(std::vector<uint16_t>(direct.wt16.begin(), direct.wt16.end()),
                std::vector<uint16_t>(reference.wt16.begin(), reference.wt16.end()));
    }
  }
  dense::Linear odd;
  EXPECT_THROW(odd.assignMxfp4(nullptr, nullptr, 4, 48, nullptr), std::invalid_argument);
  EXPECT_THROW(odd.assignMxfp4Values(nullptr, nullptr, 4, 48, nullptr, dense::Storage::F32), std::invalid_argument);
  EXPECT_THROW(odd.assignMxfp4Values(nullptr, nullptr, 4, 64, nullptr, dense::Storage::MXFP4), std::invalid_argument);
}

// The stored layout: whole panels of kPanel columns, each [in][kPanel], padding columns zero; 150 inputs
// take assign's tiles of 64 inputs twice and a partial one (on the fixture's 2 threads, a panel each).
// assignRows16 gives the same bits from 16-bit rows.
TEST_F(DenseOpsTest, LinearStoresColumnPanels) {
  for (const int64_t in : {7, 150}) {
    SCOPED_TRACE("in = " + std::to_string(in));
    const int64_t out = 150;
    std::vector<float> w(out * in), wT(out * in);
    for (int64_t n = 0; n < out; ++n)
      for (int64_t k = 0; k < in; ++k) {
        w[n * in + k] = float(n * 1000 + k);
        wT[k * out + n] = w[n * in + k];
      }
    for (dense::Storage storage : {dense::Storage::F32, dense::Storage::BF16, dense::Storage::F16})
      for (bool transposed : {false, true}) {
        SCOPED_TRACE(std::string(dense::storageName(storage)) + (transposed ? " transposed" : ""));
        dense::Linear layer;
        layer.assign(transposed ? wT.data() : w.data(), out, in, transposed, nullptr, storage);
        ASSERT_EQ(layer.outPadded, 3 * dense::kPanel);
        const bool wide = storage == dense::Storage::F32;
        ASSERT_EQ(int64_t(wide ? layer.wt.size() : layer.wt16.size()), layer.outPadded * in);
        ASSERT_TRUE(wide ? layer.wt16.empty() : layer.wt.empty());
        for (int64_t n = 0; n < layer.outPadded; ++n)
          for (int64_t k = 0; k < in; ++k) {
            // The stored element: the weight rounded to the storage type (padding columns zero).
            float value = n < out ? w[n * in + k] : 0.0f;
            float expected = wide ? value : dense::fromStorage16(dense::toStorage16(value, storage), storage);
            size_t index = static_cast<size_t>(((n / dense::kPanel) * in + k) * dense::kPanel + n % dense::kPanel);
            ASSERT_EQ(wide ? layer.wt[index] : dense::fromStorage16(layer.wt16[index], storage), expected);
            ASSERT_EQ(layer.weight(n, k), expected);
          }
        // The same panels from rows already 16-bit, as a checkpoint maps them (little-endian, unaligned).
        if (wide || transposed)
          continue;
        std::vector<uint8_t> bytes(1 + 2 * out * in);
        for (int64_t i = 0; i < out * in; ++i) {
          uint16_t bits = dense::toStorage16(w[i], storage);
          bytes[1 + 2 * i] = static_cast<uint8_t>(bits);
          bytes[2 + 2 * i] = static_cast<uint8_t>(bits >> 8);
        }
        dense::Linear raw;
        raw.assignRows16([&](int64_t n) { return bytes.data() + 1 + 2 * n * in; }, out, in, nullptr, storage);
        ASSERT_EQ(raw.storage, storage);
        ASSERT_EQ(std::vector<uint16_t>(raw.wt16.begin(), raw.wt16.end()),
                  std::vector<uint16_t>(layer.wt16.begin(), layer.wt16.end()));
      }
  }
  dense::Linear wrong;
  EXPECT_THROW(wrong.assignRows16([](int64_t) { return nullptr; }, 1, 1, nullptr, dense::Storage::F32),
               std::invalid_argument);
}

TEST_F(DenseOpsTest, RmsNormWithAndWithoutUnitOffset) {
  const int64_t rows = 5, width = 77, ld = 80;
  std::vector<float> x = randomVector(rows * ld, rng), w = randomVector(width, rng), y(rows * ld);
  for (float offset : {0.0f, 1.0f}) {
    dense::rmsNorm(x.data(), ld, rows, width, w.data(), 1e-5f, offset, y.data(), ld);
    for (int64_t m = 0; m < rows; ++m) {
      double ss = 0.0;
      for (int64_t h = 0; h < width; ++h)
        ss += double(x[m * ld + h]) * x[m * ld + h];
      double inv = 1.0 / std::sqrt(ss / width + 1e-5);
      for (int64_t h = 0; h < width; ++h)
        EXPECT_NEAR(y[m * ld + h], x[m * ld + h] * inv * (w[h] + offset), 1e-5);
    }
  }
}

TEST_F(DenseOpsTest, GatedActivations) {
  const int64_t rows = 3, inter = 37, ldg = 2 * inter + 2;
  std::vector<float> g = randomVector(rows * ldg, rng, 2.0f), y(rows * inter);
  auto gelu = [](double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); };
  auto geluTanh = [](double v) {
    return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
  };
  auto silu = [](double v) { return v / (1.0 + std::exp(-v)); };
  auto relu = [](double v) { return std::max(v, 0.0); };
  auto relu2 = [](double v) { return std::max(v, 0.0) * std::max(v, 0.0); };
  for (auto [kind, act] : {std::pair<dense::GateKind, double (*)(double)>{dense::GateKind::SiLU, silu},
                           {dense::GateKind::GELUTanh, geluTanh},
                           {dense::GateKind::GELU, gelu},
                           {dense::GateKind::ReLU, relu},
                           {dense::GateKind::ReLU2, relu2}}) {
    dense::gatedActivation(kind, g.data(), ldg, rows, inter, y.data(), inter);
    for (int64_t m = 0; m < rows; ++m)
      for (int64_t i = 0; i < inter; ++i)
        EXPECT_NEAR(y[m * inter + i], act(g[m * ldg + i]) * g[m * ldg + inter + i], 1e-5);
  }
}

TEST_F(DenseOpsTest, ClampedSwiGlu) {
  const int64_t rows = 4, inter = 21;
  std::vector<float> g = randomVector(rows * 2 * inter, rng, 6.0f), y(rows * inter);
  dense::clampedSwiGlu(g.data(), 2 * inter, rows, inter, 7.0f, 1.702f, y.data(), inter);
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t i = 0; i < inter; ++i) {
      double gate = std::min<double>(g[m * 2 * inter + 2 * i], 7.0);
      double up = std::clamp<double>(g[m * 2 * inter + 2 * i + 1], -7.0, 7.0);
      double ref = (up + 1.0) * gate / (1.0 + std::exp(-1.702 * gate));
      EXPECT_NEAR(y[m * inter + i], ref, 1e-4 * std::max(1.0, std::abs(ref)));
    }
}

TEST_F(DenseOpsTest, PartialRopeIntoStridedOutput) {
  // 3 tokens x 2 heads x 10 dims, 6 of them rotated; written head-major as the attention query wants it.
  const int64_t S = 3, H = 2, D = 10, half = 3, sx = H * D + 4;
  std::vector<float> x = randomVector(S * sx, rng), cosT(S * half), sinT(S * half), y(H * S * D, -1.0f);
  for (int64_t s = 0; s < S; ++s)
    for (int64_t k = 0; k < half; ++k) {
      cosT[s * half + k] = std::cos(0.3 * (s + 1) * (k + 1));
      sinT[s * half + k] = std::sin(0.3 * (s + 1) * (k + 1));
    }
  dense::rope(x.data(), S, sx, H, D, D, cosT.data(), sinT.data(), half, y.data(), D, S * D);
  for (int64_t s = 0; s < S; ++s)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d) {
        const float *in = x.data() + s * sx + h * D;
        double ref = in[d];
        if (d < half)
          ref = in[d] * cosT[s * half + d] - in[d + half] * sinT[s * half + d];
        else if (d < 2 * half)
          ref = in[d] * cosT[s * half + d - half] + in[d - half] * sinT[s * half + d - half];
        EXPECT_NEAR(y[(h * S + s) * D + d], ref, 1e-6) << s << " " << h << " " << d;
      }
}

TEST_F(DenseOpsTest, EmbedAndAddScaled) {
  const int64_t vocab = 11, width = 19;
  std::vector<float> table = randomVector(vocab * width, rng), y(3 * width);
  std::vector<int32_t> ids = {10, 0, 4};
  dense::embed(ids.data(), 3, table.data(), vocab, width, 2.0f, y.data());
  for (int64_t s = 0; s < 3; ++s)
    for (int64_t h = 0; h < width; ++h)
      EXPECT_EQ(y[s * width + h], table[ids[s] * width + h] * 2.0f);
  // A 16-bit table gives the float32 kernel's results on its widened values, bit for bit.
  for (dense::Storage storage : {dense::Storage::BF16, dense::Storage::F16}) {
    std::vector<uint16_t> bits(table.size());
    std::vector<float> widened(table.size()), y16(3 * width), y32(3 * width);
    dense::toStorage16(table.data(), bits.data(), bits.size(), storage);
    for (size_t i = 0; i < bits.size(); ++i)
      widened[i] = dense::fromStorage16(bits[i], storage);
    dense::embed(ids.data(), 3, widened.data(), vocab, width, 0.37f, y32.data());
    dense::embed(ids.data(), 3, bits.data(), storage, vocab, width, 0.37f, y16.data());
    for (size_t i = 0; i < y16.size(); ++i)
      ASSERT_EQ(y16[i], y32[i]) << dense::storageName(storage) << " " << i;
  }
  std::vector<float> b = randomVector(3 * width, rng), sum(3 * width);
  dense::addScaled(y.data(), width, b.data(), width, -0.5f, 3, width, sum.data(), width);
  for (size_t i = 0; i < sum.size(); ++i)
    EXPECT_FLOAT_EQ(sum[i], y[i] + b[i] * -0.5f);
}

} // namespace
