//===- DenseKernelsTest.cpp - xf-add-dense-kernels against double loops ----===//
//
// The dense kernels GPU targets run models with, compiled by xfc for the CPU and for Vulkan and called
// through xfrt on random operands with odd sizes; each output is compared with a double-precision loop.
//
//===----------------------------------------------------------------------===//

#include "test/unit/KernelHarness.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>

namespace {

using namespace xf::test;

class DenseKernels : public testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    const std::string target = GetParam();
    if (target == "vulkan") {
      std::string skip;
      context = makeVulkanContext(skip);
      if (!context)
        GTEST_SKIP() << "no Vulkan device: " << skip;
    } else {
      context = makeContext(2);
    }
    fs::path library;
    // On Vulkan the products take their subgroup form (8 lanes per output: lavapipe's subgroups), and the
    // workgroup-tiled products exist.
    ASSERT_TRUE(compile("dense_" + target, "mlir", "module {}\n", library,
                        std::string("'--variant=xf-add-dense-kernels") +
                            (target == "vulkan" ? "{subgroup-lanes=8 tiles=true}" : "") + "' --target=" + target));
    module = openModule(library);
    ASSERT_TRUE(module);
  }

  std::string run(const char *kernel, std::vector<xfrt_tensor> operands) {
    return messageOf(xfrt_kernel_run(context.get(), module.get(), kernel, operands.data(), operands.size()));
  }

  ContextPtr context;
  ModulePtr module;
};

double worstError(const std::vector<float> &actual, const std::vector<double> &expected) {
  double worst = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    double error = std::fabs(actual[i] - expected[i]);
    if (!(error <= worst))
      worst = std::isnan(error) ? INFINITY : error;
  }
  return worst;
}

/// w [N, K] as bf16 pairs [N, ceil(K/2)]: word (n, p) holds inputs 2p (low half) and 2p + 1 (high half), the
/// high half 0 past K; `bits` gets each weight's bf16 (truncated: any bf16 value will do).
std::vector<float> packBf16Pairs(const std::vector<float> &w, int64_t rows, int64_t K, std::vector<uint16_t> &bits) {
  const int64_t W = (K + 1) / 2;
  bits.resize(rows * K);
  for (int64_t i = 0; i < rows * K; ++i) {
    uint32_t word;
    std::memcpy(&word, &w[i], sizeof(word));
    bits[i] = static_cast<uint16_t>(word >> 16);
  }
  std::vector<float> packed(rows * W);
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t p = 0; p < W; ++p) {
      uint32_t word = bits[n * K + 2 * p] | (2 * p + 1 < K ? uint32_t(bits[n * K + 2 * p + 1]) << 16 : 0u);
      std::memcpy(&packed[n * W + p], &word, sizeof(word));
    }
  return packed;
}

float widenBf16(uint16_t bits) {
  uint32_t wide = uint32_t(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof(value));
  return value;
}

/// x [M, K] times W^T (W [N, K]) in double precision.
std::vector<double> productOf(const std::vector<float> &x, const std::vector<float> &w, int64_t M, int64_t K,
                              int64_t N) {
  std::vector<double> y(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        y[m * N + n] += double(x[m * K + k]) * w[n * K + k];
  return y;
}

// The weight is [N, K] (nn.Linear's layout); an odd K. M covers a decode row, a whole block of 4 rows, and
// blocks cut short (the GPU form gives each work item up to 4 rows of one output column).
TEST_P(DenseKernels, Matmul) {
  const int64_t K = 93, N = 45;
  for (int64_t M : {1, 4, 6, 7}) {
    std::vector<float> x = randomNormals(M * K, 1), w = randomNormals(N * K, 2), y(M * N, std::nanf(""));
    ASSERT_EQ(run("xf_dense_matmul", {tensorOf(x, {M, K}), tensorOf(w, {N, K}), tensorOf(y, {M, N})}), "");
    std::vector<double> expected = productOf(x, w, M, K, N);
    EXPECT_LE(worstError(y, expected), 1e-4) << "M = " << M;
  }
}

// bf16 pairs against the bf16 weights widened independently, and bit for bit against the f32 kernel on those
// widened weights (both take the same pairs in the same order).
TEST_P(DenseKernels, MatmulOnBf16Pairs) {
  const int64_t K = 93, N = 45, W = (K + 1) / 2;
  for (int64_t M : {1, 6}) {
    std::vector<float> x = randomNormals(M * K, 5), w = randomNormals(N * K, 6), y(M * N, std::nanf(""));
    std::vector<uint16_t> bits;
    std::vector<float> packed = packBf16Pairs(w, N, K, bits), widened(N * K), y32(M * N, std::nanf(""));
    for (int64_t i = 0; i < N * K; ++i)
      widened[i] = widenBf16(bits[i]);
    ASSERT_EQ(run("xf_dense_matmul_bf16", {tensorOf(x, {M, K}), tensorOf(packed, {N, W}), tensorOf(y, {M, N})}), "");
    ASSERT_EQ(run("xf_dense_matmul", {tensorOf(x, {M, K}), tensorOf(widened, {N, K}), tensorOf(y32, {M, N})}), "");
    std::vector<double> expected = productOf(x, widened, M, K, N);
    EXPECT_LE(worstError(y, expected), 1e-4) << "M = " << M;
    EXPECT_EQ(std::memcmp(y.data(), y32.data(), sizeof(float) * y.size()), 0) << "M = " << M;
  }
  std::vector<float> x(6 * K), wrong(N * K), y(6 * N);
  EXPECT_NE(run("xf_dense_matmul_bf16", {tensorOf(x, {6, K}), tensorOf(wrong, {N, K}), tensorOf(y, {6, N})})
                .find("expected ceil(K/2)"),
            std::string::npos);
}

// The workgroup-tiled products (64 x 64 output tiles, 16 inputs per step): rows, columns and inputs that
// end inside a tile, against double loops, and f32 against bf16 pairs bit for bit on the widened weights.
TEST_P(DenseKernels, MatmulTiled) {
  if (GetParam() == "cpu")
    GTEST_SKIP() << "the tiled products use workgroup memory and barriers: GPU targets only";
  for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{1, 16, 64}, {33, 93, 45}, {130, 40, 129}}) {
    std::vector<float> x = randomNormals(M * K, 21), w = randomNormals(N * K, 22), y(M * N, std::nanf("")),
                       y16(M * N, std::nanf(""));
    std::vector<uint16_t> bits;
    std::vector<float> packed = packBf16Pairs(w, N, K, bits), widened(N * K);
    for (int64_t i = 0; i < N * K; ++i)
      widened[i] = widenBf16(bits[i]);
    ASSERT_EQ(run("xf_dense_matmul_tiled", {tensorOf(x, {M, K}), tensorOf(widened, {N, K}), tensorOf(y, {M, N})}), "");
    ASSERT_EQ(run("xf_dense_matmul_tiled_bf16",
                  {tensorOf(x, {M, K}), tensorOf(packed, {N, (K + 1) / 2}), tensorOf(y16, {M, N})}),
              "");
    std::vector<double> expected = productOf(x, widened, M, K, N);
    EXPECT_LE(worstError(y, expected), 1e-4) << M << " x " << K << " x " << N;
    EXPECT_EQ(std::memcmp(y.data(), y16.data(), sizeof(float) * y.size()), 0) << M << " x " << K << " x " << N;
  }
}

/// f32 to bf16 bits as the runtime rounds bf16 weights: to nearest even, a NaN kept a quiet NaN.
uint16_t roundBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

float floatOfBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// The bf16 dot's two kernels: the rounding bit for bit, ties (even and odd), the largest float rounding up
// to infinity, infinities, NaNs of both signs (one whose payload would round away), an odd K (the last
// pair's high half 0); then the product of rounded pairs against a double loop on the same bf16 values.
TEST_P(DenseKernels, RoundBf16AndDot) {
  const int64_t M = 6, K = 37, N = 29, W = (K + 1) / 2;
  std::vector<float> x = randomNormals(M * K, 31), w = randomNormals(N * K, 32);
  const uint32_t specials[] = {0x3f808000u, 0x3f818000u, 0x3f80c000u, 0x7f7fffffu, 0x7f800000u, 0xff800000u,
                               0x7fc00000u, 0xffc00001u, 0x7f800001u, 0x00000001u, 0x80000000u, 0x3f80ffffu};
  for (size_t i = 0; i < std::size(specials); ++i)
    x[i] = floatOfBits(specials[i]);
  std::vector<float> pairs(M * W, std::nanf(""));
  ASSERT_EQ(run("xf_dense_round_bf16", {tensorOf(x, {M, K}), tensorOf(pairs, {M, W})}), "");
  for (int64_t m = 0; m < M; ++m)
    for (int64_t p = 0; p < W; ++p) {
      uint32_t word;
      std::memcpy(&word, &pairs[m * W + p], sizeof(word));
      uint32_t lo = roundBf16(x[m * K + 2 * p]), hi = 2 * p + 1 < K ? roundBf16(x[m * K + 2 * p + 1]) : 0u;
      ASSERT_EQ(word, lo | hi << 16) << "row " << m << ", pair " << p;
    }
  // The product on finite inputs: row 0's specials replaced.
  for (int64_t k = 0; k < K; ++k)
    x[k] = std::sin(0.3f * k);
  ASSERT_EQ(run("xf_dense_round_bf16", {tensorOf(x, {M, K}), tensorOf(pairs, {M, W})}), "");
  std::vector<uint16_t> bits;
  std::vector<float> packed = packBf16Pairs(w, N, K, bits), y(M * N, std::nanf(""));
  ASSERT_EQ(run("xf_dense_dot_bf16", {tensorOf(pairs, {M, W}), tensorOf(packed, {N, W}), tensorOf(y, {M, N})}), "");
  std::vector<float> xw(M * K), ww(N * K);
  for (int64_t i = 0; i < M * K; ++i)
    xw[i] = widenBf16(roundBf16(x[i]));
  for (int64_t i = 0; i < N * K; ++i)
    ww[i] = widenBf16(bits[i]);
  EXPECT_LE(worstError(y, productOf(xw, ww, M, K, N)), 1e-5);
  // Shapes: the pairs must agree, and the rounding's output is ceil(K/2) wide.
  std::vector<float> wide(N * (W + 1)), short_(M * (W - 1));
  EXPECT_NE(run("xf_dense_dot_bf16", {tensorOf(pairs, {M, W}), tensorOf(wide, {N, W + 1}), tensorOf(y, {M, N})})
                .find("'weight' has 20 bf16 pair columns but 'input' has 19"),
            std::string::npos);
  EXPECT_NE(run("xf_dense_round_bf16", {tensorOf(x, {M, K}), tensorOf(short_, {M, W - 1})})
                .find("'output' must be [6, 19] (bf16 pairs of the input's 37 columns)"),
            std::string::npos);
}

// The `_acc` products add to the output what the plain ones write (a residual in the product's epilogue):
// bit for bit the plain product followed by xf_dense_add, for every form (rows short of a block, odd K).
TEST_P(DenseKernels, AccumulatingProducts) {
  const int64_t K = 45, N = 29, W = (K + 1) / 2;
  std::vector<float> w = randomNormals(N * K, 61);
  std::vector<uint16_t> bits;
  std::vector<float> packed = packBf16Pairs(w, N, K, bits);
  std::vector<std::string> kernels = {"xf_dense_matmul", "xf_dense_matmul_bf16", "xf_dense_dot_bf16"};
  if (GetParam() != "cpu") {
    kernels.push_back("xf_dense_matmul_tiled");
    kernels.push_back("xf_dense_matmul_tiled_bf16");
  }
  for (int64_t M : {1, 6, 37})
    for (const std::string &kernel : kernels) {
      SCOPED_TRACE(kernel + ", M = " + std::to_string(M));
      const bool pairsIn = kernel == "xf_dense_dot_bf16", pairsW = kernel.find("bf16") != std::string::npos;
      std::vector<float> x = randomNormals(M * K, 62), residual = randomNormals(M * N, 63), product(M * N),
                         expected(M * N), accumulated = residual;
      std::vector<float> xPairs(M * W);
      if (pairsIn)
        ASSERT_EQ(run("xf_dense_round_bf16", {tensorOf(x, {M, K}), tensorOf(xPairs, {M, W})}), "");
      auto operands = [&](std::vector<float> &y) {
        return std::vector<xfrt_tensor>{pairsIn ? tensorOf(xPairs, {M, W}) : tensorOf(x, {M, K}),
                                        pairsW ? tensorOf(packed, {N, W}) : tensorOf(w, {N, K}), tensorOf(y, {M, N})};
      };
      ASSERT_EQ(run(kernel.c_str(), operands(product)), "");
      ASSERT_EQ(run("xf_dense_add", {tensorOf(residual, {M * N}), tensorOf(product, {M * N}), tensorOf(expected, {M * N})}),
                "");
      ASSERT_EQ(run((kernel + "_acc").c_str(), operands(accumulated)), "");
      EXPECT_EQ(std::memcmp(accumulated.data(), expected.data(), sizeof(float) * expected.size()), 0);
    }
}

// The `_norm` products RMS-normalize x's rows (gain with offset, eps) inside the product: against the
// norm kernel followed by the plain product, for a decode row and for blocks of rows, an odd K (the last
// pair's second input counted once), f32 and bf16 weights.
TEST_P(DenseKernels, NormalizingProducts) {
  const int64_t K = 45, N = 29, W = (K + 1) / 2;
  std::vector<float> w = randomNormals(N * K, 81), gain = randomNormals(K, 82), params = {1e-5f, 1.0f};
  std::vector<uint16_t> bits;
  std::vector<float> packed = packBf16Pairs(w, N, K, bits);
  for (int64_t M : {1, 6, 9})
    for (bool bf16 : {false, true}) {
      SCOPED_TRACE((bf16 ? "bf16, M = " : "f32, M = ") + std::to_string(M));
      std::vector<float> x = randomNormals(M * K, 83), h(M * K), expected(M * N), y(M * N, std::nanf(""));
      for (float &v : x)
        v *= 3.0f;
      xfrt_tensor weight = bf16 ? tensorOf(packed, {N, W}) : tensorOf(w, {N, K});
      ASSERT_EQ(run("xf_dense_rms_norm", {tensorOf(x, {M, K}), tensorOf(gain, {K}), tensorOf(params, {2}), tensorOf(h, {M, K})}),
                "");
      ASSERT_EQ(run(bf16 ? "xf_dense_matmul_bf16" : "xf_dense_matmul", {tensorOf(h, {M, K}), weight, tensorOf(expected, {M, N})}),
                "");
      ASSERT_EQ(run(bf16 ? "xf_dense_matmul_bf16_norm" : "xf_dense_matmul_norm",
                    {tensorOf(x, {M, K}), tensorOf(gain, {K}), tensorOf(params, {2}), weight, tensorOf(y, {M, N})}),
                "");
      double scale = 0;
      for (float v : expected)
        scale = std::max(scale, double(std::fabs(v)));
      EXPECT_LE(worstError(y, std::vector<double>(expected.begin(), expected.end())), 2e-6 * scale);
    }
  std::vector<float> x(2 * K), shortGain(K - 1), y(2 * N);
  EXPECT_NE(run("xf_dense_matmul_norm", {tensorOf(x, {2, K}), tensorOf(shortGain, {K - 1}), tensorOf(params, {2}),
                                         tensorOf(w, {N, K}), tensorOf(y, {2, N})})
                .find("'gain' has 44 entries but rows have 45"),
            std::string::npos);
}

TEST_P(DenseKernels, MatmulRejectsMismatchedInnerSizes) {
  std::vector<float> x(3 * 8), w(5 * 9), y(3 * 5);
  EXPECT_NE(run("xf_dense_matmul", {tensorOf(x, {3, 8}), tensorOf(w, {5, 9}), tensorOf(y, {3, 5})})
                .find("'weight' has 9 columns but 'input' has 8"),
            std::string::npos);
  std::vector<float> nine(9 * 8);
  EXPECT_NE(run("xf_dense_matmul", {tensorOf(x, {3, 8}), tensorOf(nine, {9, 8}), tensorOf(y, {3, 5})})
                .find("'output' must be [3, 9]"),
            std::string::npos);
}

TEST_P(DenseKernels, RmsNormWithGainOffset) {
  const int64_t M = 5, C = 77;
  std::vector<float> x = randomNormals(M * C, 3), w = randomNormals(C, 4), params = {1e-5f, 1.0f};
  std::vector<float> y(M * C, std::nanf(""));
  ASSERT_EQ(run("xf_dense_rms_norm",
                {tensorOf(x, {M, C}), tensorOf(w, {C}), tensorOf(params, {2}), tensorOf(y, {M, C})}),
            "");
  std::vector<double> expected(M * C);
  for (int64_t m = 0; m < M; ++m) {
    double ss = 0;
    for (int64_t c = 0; c < C; ++c)
      ss += double(x[m * C + c]) * x[m * C + c];
    double inv = 1.0 / std::sqrt(ss / C + 1e-5);
    for (int64_t c = 0; c < C; ++c)
      expected[m * C + c] = x[m * C + c] * inv * (w[c] + 1.0);
  }
  EXPECT_LE(worstError(y, expected), 1e-5);
}

// In place on a column span of each row (OLMo 2's q and k norms inside q | k | v): the span normalized,
// the columns around it untouched; a span past the rows is refused.
// Columns [first, first + N) of each row normed in place against a double-precision reference: RMSNorm
// (center 0) and LayerNorm without bias (center 1, the mean subtracted); the other columns untouched.
TEST_P(DenseKernels, RmsNormColumnSpanInPlace) {
  const int64_t M = 4, C = 53, first = 19, N = 23;
  for (float center : {0.0f, 1.0f}) {
    SCOPED_TRACE(center ? "LayerNorm" : "RMSNorm");
    std::vector<float> x = randomNormals(M * C, 6), w = randomNormals(N, 7),
                       params = {1e-6f, 0.0f, float(first), center};
    // A common shift, which only the LayerNorm removes.
    for (float &v : x)
      v += 0.5f;
    const std::vector<float> before = x;
    ASSERT_EQ(run("xf_dense_rms_norm_cols", {tensorOf(w, {N}), tensorOf(params, {4}), tensorOf(x, {M, C})}), "");
    std::vector<double> expected(before.begin(), before.end());
    for (int64_t m = 0; m < M; ++m) {
      double mean = 0, ss = 0;
      for (int64_t c = first; c < first + N; ++c)
        mean += before[m * C + c];
      mean = center ? mean / N : 0.0;
      for (int64_t c = first; c < first + N; ++c)
        ss += (before[m * C + c] - mean) * (before[m * C + c] - mean);
      double inv = 1.0 / std::sqrt(ss / N + 1e-6);
      for (int64_t c = first; c < first + N; ++c)
        expected[m * C + c] = (before[m * C + c] - mean) * inv * w[c - first];
    }
    EXPECT_LE(worstError(x, expected), 1e-5);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t c = 0; c < C; ++c)
        if (c < first || c >= first + N)
          ASSERT_EQ(x[m * C + c], before[m * C + c]) << "row " << m << ", column " << c;
  }
  std::vector<float> x = randomNormals(M * C, 6), w = randomNormals(N, 7);
  std::vector<float> late = {1e-6f, 0.0f, float(C - N + 1), 0.0f};
  EXPECT_NE(run("xf_dense_rms_norm_cols", {tensorOf(w, {N}), tensorOf(late, {4}), tensorOf(x, {M, C})})
                .find("columns [31, 54) are not within the rows' 53"),
            std::string::npos);
}

// out += sigmoid(gate[m]) * x[m, :] (Qwen2-MoE's gated shared expert), accumulated into what out holds;
// a gate that is not one column per row is refused.
TEST_P(DenseKernels, GatedRowsAccumulate) {
  const int64_t M = 5, N = 37;
  std::vector<float> x = randomNormals(M * N, 8), gate = randomNormals(M, 9), out = randomNormals(M * N, 10);
  for (float &g : gate)
    g *= 3.0f;
  std::vector<double> expected(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      expected[m * N + n] = out[m * N + n] + x[m * N + n] / (1.0 + std::exp(-double(gate[m])));
  ASSERT_EQ(run("xf_dense_gated_rows_acc", {tensorOf(x, {M, N}), tensorOf(gate, {M, 1}), tensorOf(out, {M, N})}), "");
  EXPECT_LE(worstError(out, expected), 1e-5);
  std::vector<float> wide(M * 2);
  EXPECT_NE(run("xf_dense_gated_rows_acc", {tensorOf(x, {M, N}), tensorOf(wide, {M, 2}), tensorOf(out, {M, N})})
                .find("'gate' must be [5, 1]"),
            std::string::npos);
}

// out += x (a shared expert without a gate), accumulated into what out holds; shapes must agree.
TEST_P(DenseKernels, RowsAccumulate) {
  const int64_t M = 5, N = 37;
  std::vector<float> x = randomNormals(M * N, 11), out = randomNormals(M * N, 12);
  std::vector<double> expected(M * N);
  for (int64_t i = 0; i < M * N; ++i)
    expected[i] = double(out[i]) + x[i];
  ASSERT_EQ(run("xf_dense_rows_acc", {tensorOf(x, {M, N}), tensorOf(out, {M, N})}), "");
  EXPECT_LE(worstError(out, expected), 1e-6);
  std::vector<float> narrow(M * (N - 1));
  EXPECT_NE(run("xf_dense_rows_acc", {tensorOf(x, {M, N}), tensorOf(narrow, {M, N - 1})}), "");
}

// nn.LayerNorm of each row: (x - mean) / sqrt(var + eps) * (offset + w) + b, var the mean squared deviation;
// offset 0, and 1 (Nemotron's LayerNorm1P).
TEST_P(DenseKernels, LayerNormWithBias) {
  for (float offset : {0.0f, 1.0f}) {
  SCOPED_TRACE(offset);
  const int64_t M = 4, C = 61;
  std::vector<float> x = randomNormals(M * C, 11), w = randomNormals(C, 12), b = randomNormals(C, 13),
                     params = {1e-5f, offset};
  for (float &v : x)
    v = 2.0f * v + 0.5f; // a mean far from 0
  std::vector<float> y(M * C, std::nanf(""));
  ASSERT_EQ(run("xf_dense_layer_norm",
                {tensorOf(x, {M, C}), tensorOf(w, {C}), tensorOf(b, {C}), tensorOf(params, {2}), tensorOf(y, {M, C})}),
            "");
  std::vector<double> expected(M * C);
  for (int64_t m = 0; m < M; ++m) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < C; ++c)
      mean += x[m * C + c];
    mean /= C;
    for (int64_t c = 0; c < C; ++c)
      var += (x[m * C + c] - mean) * (x[m * C + c] - mean);
    double inv = 1.0 / std::sqrt(var / C + 1e-5);
    for (int64_t c = 0; c < C; ++c)
      expected[m * C + c] = (x[m * C + c] - mean) * inv * (double(w[c]) + offset) + b[c];
  }
  EXPECT_LE(worstError(y, expected), 2e-5);
  std::vector<float> shortBias(C - 1);
  EXPECT_NE(run("xf_dense_layer_norm", {tensorOf(x, {M, C}), tensorOf(w, {C}), tensorOf(shortBias, {C - 1}),
                                        tensorOf(params, {2}), tensorOf(y, {M, C})})
                .find("'weight' and 'bias' must have the rows' 61 entries"),
            std::string::npos);
  }
}

// The activations of MLPs without a gate compute what the gated kernels do with up = 1, bit for bit, and
// match a double-precision loop.
TEST_P(DenseKernels, UngatedActivations) {
  const int64_t N = 203;
  std::vector<float> x = randomNormals(N, 14), ones(N, 1.0f);
  for (float &v : x)
    v *= 4.0f;
  // relu and relu2 (relu(x)^2, Arcee's) exactly, the others within float rounding of their functions.
  for (const std::string act : {"silu", "gelu_tanh", "gelu", "relu", "relu2"}) {
    SCOPED_TRACE(act);
    std::vector<float> y(N, std::nanf("")), gated(N, std::nanf(""));
    ASSERT_EQ(run(("xf_dense_" + act).c_str(), {tensorOf(x, {N}), tensorOf(y, {N})}), "");
    ASSERT_EQ(run(("xf_dense_" + act + "_gate").c_str(), {tensorOf(x, {N}), tensorOf(ones, {N}), tensorOf(gated, {N})}),
              "");
    EXPECT_EQ(0, std::memcmp(y.data(), gated.data(), sizeof(float) * N));
    std::vector<double> expected(N);
    for (int64_t i = 0; i < N; ++i) {
      const double v = x[i], r = std::max(x[i], 0.0f);
      expected[i] = act == "silu"        ? v / (1.0 + std::exp(-v))
                    : act == "gelu"      ? 0.5 * v * std::erfc(-v / std::sqrt(2.0))
                    : act == "gelu_tanh" ? 0.5 * v * (1.0 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))
                    : act == "relu"      ? r
                                         : static_cast<float>(r * r); // the kernel's float product
    }
    EXPECT_LE(worstError(y, expected), act.compare(0, 4, "relu") == 0 ? 0.0 : 2e-5);
  }
}

// Exact GELU without erf on the device (xf_dense_gelu: x Phi(x) from a Chebyshev fit of erfc), relative to
// each value over the whole range, both tails included (where x Phi(x) underflows toward 0 on the left and
// meets x on the right): within 2e-6 for |x| <= 4, and in the left tail within what a GPU's exp of
// -x^2 / 2 may miss by (Vulkan allows 3 + 2 |arg| ulps: about 1.2e-5 at x = -14).
TEST_P(DenseKernels, ExactGeluRelative) {
  std::vector<float> x;
  for (float v = -14.0f; v <= 14.0f; v += 0.0625f)
    x.push_back(v);
  for (float v : {1e-30f, -1e-30f, 1e-3f, -1e-3f, 30.0f, -30.0f, 0.0f})
    x.push_back(v);
  const int64_t N = static_cast<int64_t>(x.size());
  std::vector<float> y(N, std::nanf(""));
  ASSERT_EQ(run("xf_dense_gelu", {tensorOf(x, {N}), tensorOf(y, {N})}), "");
  for (int64_t i = 0; i < N; ++i) {
    const double v = x[i], expected = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
    if (std::fabs(expected) < 1e-37) {
      EXPECT_LE(std::fabs(y[i]), 1e-37) << "x = " << v;
      continue;
    }
    const double bound = std::fabs(v) <= 4 ? 2e-6 : 2e-6 + (3 + v * v) * std::ldexp(1.0, -24);
    EXPECT_LE(std::fabs(y[i] - expected) / std::fabs(expected), bound) << "x = " << v;
  }
}

TEST_P(DenseKernels, RopeRotateHalf) {
  const int64_t S = 6, H = 3, D = 10;
  std::vector<float> x = randomNormals(S * H * D, 5), cosines(S * D / 2), sines(S * D / 2), y(S * H * D, std::nanf(""));
  for (int64_t s = 0; s < S; ++s)
    for (int64_t i = 0; i < D / 2; ++i) {
      double angle = (s + 1000) * std::pow(10000.0, -2.0 * i / D);
      cosines[s * D / 2 + i] = float(std::cos(angle));
      sines[s * D / 2 + i] = float(std::sin(angle));
    }
  ASSERT_EQ(run("xf_dense_rope", {tensorOf(x, {S, H, D}), tensorOf(cosines, {S, D / 2}), tensorOf(sines, {S, D / 2}),
                                  tensorOf(y, {S, H, D})}),
            "");
  std::vector<double> expected(S * H * D);
  for (int64_t s = 0; s < S; ++s)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < D / 2; ++i) {
        double c = cosines[s * D / 2 + i], sn = sines[s * D / 2 + i];
        double a = x[(s * H + h) * D + i], b = x[(s * H + h) * D + i + D / 2];
        expected[(s * H + h) * D + i] = a * c - b * sn;
        expected[(s * H + h) * D + i + D / 2] = b * c + a * sn;
      }
  EXPECT_LE(worstError(y, expected), 1e-5);
}

TEST_P(DenseKernels, RopePartialRotary) {
  // Rotary dim 6 of head dim 10: pairs (i, i + 3) for i < 3 turn, dims 6..9 pass through.
  const int64_t S = 4, H = 2, D = 10, R = 6;
  std::vector<float> x = randomNormals(S * H * D, 12), cosines(S * R / 2), sines(S * R / 2), y(S * H * D, std::nanf(""));
  for (int64_t s = 0; s < S; ++s)
    for (int64_t i = 0; i < R / 2; ++i) {
      cosines[s * R / 2 + i] = float(std::cos(0.3 * (s + 1) * (i + 1)));
      sines[s * R / 2 + i] = float(std::sin(0.3 * (s + 1) * (i + 1)));
    }
  ASSERT_EQ(run("xf_dense_rope", {tensorOf(x, {S, H, D}), tensorOf(cosines, {S, R / 2}), tensorOf(sines, {S, R / 2}),
                                  tensorOf(y, {S, H, D})}),
            "");
  std::vector<double> expected(x.begin(), x.end());
  for (int64_t s = 0; s < S; ++s)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < R / 2; ++i) {
        double c = cosines[s * R / 2 + i], sn = sines[s * R / 2 + i];
        double a = x[(s * H + h) * D + i], b = x[(s * H + h) * D + i + R / 2];
        expected[(s * H + h) * D + i] = a * c - b * sn;
        expected[(s * H + h) * D + i + R / 2] = b * c + a * sn;
      }
  EXPECT_LE(worstError(y, expected), 1e-6);
  std::vector<float> wide(S * 6);
  EXPECT_NE(run("xf_dense_rope", {tensorOf(x, {S, H, D}), tensorOf(wide, {S, 6}), tensorOf(wide, {S, 6}),
                                  tensorOf(y, {S, H, D})})
                .find("with the rotary dim R at most the head dim 10"),
            std::string::npos);
}

TEST_P(DenseKernels, SiluGateAddEmbed) {
  const int64_t N = 301;
  std::vector<float> g = randomNormals(N, 6), u = randomNormals(N, 7), y(N, std::nanf("")), sum(N, std::nanf(""));
  ASSERT_EQ(run("xf_dense_silu_gate", {tensorOf(g, {N}), tensorOf(u, {N}), tensorOf(y, {N})}), "");
  ASSERT_EQ(run("xf_dense_add", {tensorOf(g, {N}), tensorOf(u, {N}), tensorOf(sum, {N})}), "");
  std::vector<double> gated(N), added(N);
  for (int64_t i = 0; i < N; ++i) {
    gated[i] = g[i] / (1.0 + std::exp(-double(g[i]))) * u[i];
    added[i] = double(g[i]) + u[i];
  }
  EXPECT_LE(worstError(y, gated), 1e-5);
  EXPECT_LE(worstError(sum, added), 1e-6);

  const int64_t V = 11, C = 9;
  std::vector<float> ids = {3, 0, 10, 3}, table = randomNormals(V * C, 8), rows(4 * C, std::nanf(""));
  ASSERT_EQ(run("xf_dense_embed", {tensorOf(ids, {4}), tensorOf(table, {V, C}), tensorOf(rows, {4, C})}), "");
  std::vector<double> expected(4 * C);
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t c = 0; c < C; ++c)
      expected[t * C + c] = table[int64_t(ids[t]) * C + c];
  EXPECT_EQ(worstError(rows, expected), 0.0);
  std::vector<float> bad = {3, 11};
  EXPECT_NE(run("xf_dense_embed", {tensorOf(bad, {2}), tensorOf(table, {V, C}), tensorOf(rows, {2, C})})
                .find("id 11 at position 1 is outside the table's 11 rows"),
            std::string::npos);
}

TEST_P(DenseKernels, GeluTanhGateBiasScale) {
  const int64_t M = 3, N = 41;
  // Gate values out to +-12 reach both ends of tanh.
  std::vector<float> g = randomNormals(M * N, 9), u = randomNormals(M * N, 10), bias = randomNormals(N, 11);
  for (float &v : g)
    v *= 4.0f;
  std::vector<float> gated(M * N, std::nanf("")), biased(M * N, std::nanf("")), scaled(M * N, std::nanf(""));
  std::vector<float> factor = {2.5f};
  ASSERT_EQ(run("xf_dense_gelu_tanh_gate", {tensorOf(g, {M * N}), tensorOf(u, {M * N}), tensorOf(gated, {M * N})}), "");
  ASSERT_EQ(run("xf_dense_bias_add", {tensorOf(u, {M, N}), tensorOf(bias, {N}), tensorOf(biased, {M, N})}), "");
  ASSERT_EQ(run("xf_dense_scale", {tensorOf(u, {M * N}), tensorOf(factor, {1}), tensorOf(scaled, {M * N})}), "");
  std::vector<double> expectGated(M * N), expectBiased(M * N), expectScaled(M * N);
  for (int64_t i = 0; i < M * N; ++i) {
    double a = g[i];
    expectGated[i] = 0.5 * a * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (a + 0.044715 * a * a * a))) * u[i];
    expectBiased[i] = double(u[i]) + bias[i % N];
    expectScaled[i] = 2.5 * u[i];
  }
  EXPECT_LE(worstError(gated, expectGated), 2e-5);
  EXPECT_LE(worstError(biased, expectBiased), 1e-6);
  EXPECT_LE(worstError(scaled, expectScaled), 1e-6);
  // gpt-oss's clamped SwiGLU with alpha 1.702 and limit 7 (the gate values above reach the clamps).
  std::vector<float> params = {1.702f, 7.0f}, clamped(M * N, std::nanf(""));
  std::vector<float> ups = g;
  ASSERT_EQ(run("xf_dense_clamped_swiglu",
                {tensorOf(g, {M * N}), tensorOf(ups, {M * N}), tensorOf(params, {2}), tensorOf(clamped, {M * N})}),
            "");
  std::vector<double> expectClamped(M * N);
  for (int64_t i = 0; i < M * N; ++i) {
    double gate = std::min(double(g[i]), 7.0), up = std::clamp(double(ups[i]), -7.0, 7.0);
    expectClamped[i] = (up + 1.0) * gate / (1.0 + std::exp(-1.702 * gate));
  }
  EXPECT_LE(worstError(clamped, expectClamped), 2e-5);
  std::vector<float> shortBias(N - 1);
  EXPECT_NE(run("xf_dense_bias_add", {tensorOf(u, {M, N}), tensorOf(shortBias, {N - 1}), tensorOf(biased, {M, N})})
                .find("'bias' has 40 entries but rows have 41"),
            std::string::npos);
}

// The gated activations over one product's stacked rows [gate | up] give what the flat kernels give on the
// two halves, bit for bit.
TEST_P(DenseKernels, StackedGatedActivations) {
  const int64_t S = 3, I = 37;
  std::vector<float> gu = randomNormals(S * 2 * I, 51), gate(S * I), up(S * I);
  for (int64_t r = 0; r < S; ++r)
    for (int64_t c = 0; c < I; ++c) {
      gate[r * I + c] = 3.0f * gu[r * 2 * I + c];
      gu[r * 2 * I + c] = gate[r * I + c];
      up[r * I + c] = gu[r * 2 * I + I + c];
    }
  for (const char *activation : {"xf_dense_silu_gate", "xf_dense_gelu_tanh_gate", "xf_dense_gelu_gate",
                                 "xf_dense_relu_gate", "xf_dense_relu2_gate"}) {
    std::vector<float> flat(S * I, std::nanf("")), stacked(S * I, std::nanf(""));
    ASSERT_EQ(run(activation, {tensorOf(gate, {S * I}), tensorOf(up, {S * I}), tensorOf(flat, {S * I})}), "");
    ASSERT_EQ(run((std::string(activation) + "_stacked").c_str(), {tensorOf(gu, {S, 2 * I}), tensorOf(stacked, {S, I})}),
              "");
    EXPECT_EQ(std::memcmp(flat.data(), stacked.data(), sizeof(float) * flat.size()), 0) << activation;
  }
  // gpt-oss's clamped SwiGLU (alpha 1.702, limit 2: the values above reach both clamps).
  std::vector<float> params = {1.702f, 2.0f}, flat(S * I, std::nanf("")), stacked(S * I, std::nanf(""));
  ASSERT_EQ(run("xf_dense_clamped_swiglu",
                {tensorOf(gate, {S * I}), tensorOf(up, {S * I}), tensorOf(params, {2}), tensorOf(flat, {S * I})}),
            "");
  ASSERT_EQ(run("xf_dense_clamped_swiglu_stacked", {tensorOf(gu, {S, 2 * I}), tensorOf(params, {2}), tensorOf(stacked, {S, I})}),
            "");
  EXPECT_EQ(std::memcmp(flat.data(), stacked.data(), sizeof(float) * flat.size()), 0) << "clamped SwiGLU";
  std::vector<float> wrong(S * (I + 1));
  EXPECT_NE(run("xf_dense_silu_gate_stacked", {tensorOf(gu, {S, 2 * I}), tensorOf(wrong, {S, I + 1})})
                .find("'input' [3, 74] must stack gate and up for 'output' [3, 38]"),
            std::string::npos);
}

// The layout kernels that keep a model's activations on the device: columns of a fused projection, and
// [A, B, C] to [B, A, C].
TEST_P(DenseKernels, SliceColumnsAndTranspose) {
  const int64_t M = 5, W = 17, C = 9;
  std::vector<float> x = randomNormals(M * W, 12), y(M * C, std::nanf("")), offset = {4};
  ASSERT_EQ(run("xf_dense_slice_cols", {tensorOf(x, {M, W}), tensorOf(offset, {1}), tensorOf(y, {M, C})}), "");
  std::vector<double> expected(M * C);
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c)
      expected[r * C + c] = x[r * W + 4 + c];
  EXPECT_EQ(worstError(y, expected), 0.0);
  std::vector<float> far = {9};
  EXPECT_NE(run("xf_dense_slice_cols", {tensorOf(x, {M, W}), tensorOf(far, {1}), tensorOf(y, {M, C})})
                .find("columns [9, 18) are not within the input's 17"),
            std::string::npos);

  const int64_t A = 3, B = 4, D = 5;
  std::vector<float> t = randomNormals(A * B * D, 13), u(A * B * D, std::nanf(""));
  ASSERT_EQ(run("xf_dense_transpose01", {tensorOf(t, {A, B, D}), tensorOf(u, {B, A, D})}), "");
  std::vector<double> moved(A * B * D);
  for (int64_t a = 0; a < A; ++a)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t d = 0; d < D; ++d)
        moved[(b * A + a) * D + d] = t[(a * B + b) * D + d];
  EXPECT_EQ(worstError(u, moved), 0.0);
  EXPECT_NE(run("xf_dense_transpose01", {tensorOf(t, {A, B, D}), tensorOf(u, {A, B, D})}).find("'output' must be [4, 3, 5]"),
            std::string::npos);
}

// Latent attention's q | k | v on the device: q as given, each head's keys the latent projection's R shared
// rotated dims then its own unrotated ones, the values after every head's keys in kv_b_proj's output.
TEST_P(DenseKernels, LatentQkvAssemblesHeads) {
  const int64_t S = 3, H = 2, D = 6, R = 2, nope = D - R, Dv = 3, rank = 5;
  std::vector<float> q = randomNormals(S * H * D, 16), c = randomNormals(S * (rank + R), 17),
                     kv = randomNormals(S * H * (nope + Dv), 18), params = {float(rank), float(D)};
  const int64_t width = 2 * H * D + H * Dv;
  std::vector<float> y(S * width, std::nanf(""));
  ASSERT_EQ(run("xf_dense_latent_qkv", {tensorOf(q, {S, H * D}), tensorOf(c, {S, rank + R}),
                                        tensorOf(kv, {S, H * (nope + Dv)}), tensorOf(params, {2}),
                                        tensorOf(y, {S, width})}),
            "");
  std::vector<double> expected(S * width);
  for (int64_t t = 0; t < S; ++t) {
    double *row = expected.data() + t * width;
    for (int64_t i = 0; i < H * D; ++i)
      row[i] = q[t * H * D + i];
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d)
        row[H * D + h * D + d] = d < R ? c[t * (rank + R) + rank + d] : kv[t * H * (nope + Dv) + h * nope + d - R];
    for (int64_t i = 0; i < H * Dv; ++i)
      row[2 * H * D + i] = kv[t * H * (nope + Dv) + H * nope + i];
  }
  EXPECT_EQ(worstError(y, expected), 0.0);
  std::vector<float> narrow(S * (width - 1));
  EXPECT_NE(run("xf_dense_latent_qkv", {tensorOf(q, {S, H * D}), tensorOf(c, {S, rank + R}),
                                        tensorOf(kv, {S, H * (nope + Dv)}), tensorOf(params, {2}),
                                        tensorOf(narrow, {S, width - 1})})
                .find("is not q | k | v for q [3, 12]"),
            std::string::npos);
}

// A KV cache's append on the device: rows [S, H, D] at rows [base, base + S) of [H, C, D], rounded to the
// cache's element type as the host rounds them; the other rows stay as they were.
TEST_P(DenseKernels, CacheStoreAppendsRoundedRows) {
  const int64_t S = 2, H = 3, C = 7, D = 5, base = 4;
  std::vector<float> rows = randomNormals(S * H * D, 14), at = {float(base)};
  std::vector<float> cache = randomNormals(H * C * D, 15), before = cache;
  ASSERT_EQ(run("xf_dense_cache_store", {tensorOf(rows, {S, H, D}), tensorOf(at, {1}), tensorOf(cache, {H, C, D})}), "");
  std::vector<uint16_t> bf16(H * C * D, 0x7fc0), f16(H * C * D, 0x7e00);
  std::vector<uint16_t> bf16Before = bf16, f16Before = f16;
  ASSERT_EQ(run("xf_dense_cache_store_bf16", {tensorOf(rows, {S, H, D}), tensorOf(at, {1}),
                                              tensorOf(bf16.data(), {H, C, D}, XFRT_BF16)}),
            "");
  ASSERT_EQ(run("xf_dense_cache_store_f16", {tensorOf(rows, {S, H, D}), tensorOf(at, {1}),
                                             tensorOf(f16.data(), {H, C, D}, XFRT_F16)}),
            "");
  for (int64_t h = 0; h < H; ++h)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t d = 0; d < D; ++d) {
        int64_t i = (h * C + c) * D + d;
        bool stored = c >= base && c < base + S;
        float value = stored ? rows[((c - base) * H + h) * D + d] : before[i];
        EXPECT_EQ(cache[i], value) << "f32 cache at " << h << ", " << c << ", " << d;
        EXPECT_EQ(bf16[i], stored ? xfrt::toBf16(value) : bf16Before[i]) << "bf16 cache at " << h << ", " << c;
        EXPECT_EQ(f16[i], stored ? xfrt::toF16(value) : f16Before[i]) << "f16 cache at " << h << ", " << c;
      }
  std::vector<float> late = {6};
  EXPECT_NE(run("xf_dense_cache_store", {tensorOf(rows, {S, H, D}), tensorOf(late, {1}), tensorOf(cache, {H, C, D})})
                .find("rows [6, 8) are not within the cache's 7"),
            std::string::npos);
}

// The fused attention inputs against the kernels they replace, bit for bit: slices of the stacked q | k | v,
// qk-norm (RMSNorm with gains shared by the heads, or LayerNorm with each head's own), RoPE on 2 x 3 of a
// head's 10 dims (partial rotary), the queries transposed to [H, S, D], keys and values appended to f32, bf16
// and f16 caches at rows [2, 5) of 7 (the other rows untouched).
TEST_P(DenseKernels, QkvMatchesTheSeparateKernels) {
  const int64_t S = 3, Hq = 4, Hkv = 2, D = 10, half = 3, W = (Hq + 2 * Hkv) * D, C = 7, base = 2;
  std::vector<float> qkv = randomNormals(S * W, 41), cosT = randomNormals(S * half, 42),
                     sinT = randomNormals(S * half, 43), qNorm = randomNormals(D, 44), kNorm = randomNormals(D, 45),
                     qHeadGains = randomNormals(Hq * D, 46), kHeadGains = randomNormals(Hkv * D, 47);
  std::vector<float> at = {float(base)}, normParams = {1e-6f, 1.0f};
  auto bytesOf = [](xfrt_dtype dtype) { return dtype == XFRT_F32 ? 4 : 2; };
  // Each head's rows [S, D] of x [S * H, D] through xf_dense_layer_norm with its own gains, no bias.
  auto layerNormHeads = [&](const std::vector<float> &x, const std::vector<float> &gains, int64_t H,
                            std::vector<float> &y) {
    std::vector<float> rows(S * D), normed(S * D), noBias(D, 0.0f), eps = {normParams[0], 0.0f};
    std::vector<float> gain(D);
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t t = 0; t < S; ++t)
        std::copy_n(x.begin() + (t * H + h) * D, D, rows.begin() + t * D);
      std::copy_n(gains.begin() + h * D, D, gain.begin());
      ASSERT_EQ(run("xf_dense_layer_norm", {tensorOf(rows, {S, D}), tensorOf(gain, {D}), tensorOf(noBias, {D}),
                                            tensorOf(eps, {2}), tensorOf(normed, {S, D})}),
                "");
      for (int64_t t = 0; t < S; ++t)
        std::copy_n(normed.begin() + t * D, D, y.begin() + (t * H + h) * D);
    }
  };
  enum class Norm { None, Rms, LayerHeads };
  for (Norm mode : {Norm::None, Norm::Rms, Norm::LayerHeads}) {
    const bool normed = mode != Norm::None, layer = mode == Norm::LayerHeads;
    SCOPED_TRACE(mode == Norm::None ? "no norm" : layer ? "LayerNorm, per-head gains" : "RMSNorm");
    // The separate kernels: slices, norms, ropes, the transpose, the cache stores.
    std::vector<float> q(S * Hq * D), k(S * Hkv * D), v(S * Hkv * D), qn(S * Hq * D), kn(S * Hkv * D),
        qr(S * Hq * D), kr(S * Hkv * D), queries(S * Hq * D);
    for (auto [out, from, width] : {std::tuple{&q, int64_t{0}, Hq * D}, {&k, Hq * D, Hkv * D}, {&v, (Hq + Hkv) * D, Hkv * D}}) {
      std::vector<float> offset = {float(from)};
      ASSERT_EQ(run("xf_dense_slice_cols", {tensorOf(qkv, {S, W}), tensorOf(offset, {1}), tensorOf(*out, {S, width})}), "");
    }
    std::vector<float> *qIn = &q, *kIn = &k;
    if (layer) {
      layerNormHeads(q, qHeadGains, Hq, qn);
      layerNormHeads(k, kHeadGains, Hkv, kn);
      qIn = &qn;
      kIn = &kn;
    } else if (normed) {
      ASSERT_EQ(run("xf_dense_rms_norm", {tensorOf(q, {S * Hq, D}), tensorOf(qNorm, {D}), tensorOf(normParams, {2}),
                                          tensorOf(qn, {S * Hq, D})}),
                "");
      ASSERT_EQ(run("xf_dense_rms_norm", {tensorOf(k, {S * Hkv, D}), tensorOf(kNorm, {D}), tensorOf(normParams, {2}),
                                          tensorOf(kn, {S * Hkv, D})}),
                "");
      qIn = &qn;
      kIn = &kn;
    }
    ASSERT_EQ(run("xf_dense_rope", {tensorOf(*qIn, {S, Hq, D}), tensorOf(cosT, {S, half}), tensorOf(sinT, {S, half}),
                                    tensorOf(qr, {S, Hq, D})}),
              "");
    ASSERT_EQ(run("xf_dense_rope", {tensorOf(*kIn, {S, Hkv, D}), tensorOf(cosT, {S, half}), tensorOf(sinT, {S, half}),
                                    tensorOf(kr, {S, Hkv, D})}),
              "");
    ASSERT_EQ(run("xf_dense_transpose01", {tensorOf(qr, {S, Hq, D}), tensorOf(queries, {Hq, S, D})}), "");
    // The fused kernels.
    const std::string norm = normed ? "_norm" : "";
    std::vector<float> fusedQ(S * Hq * D, std::nanf(""));
    // LayerNorm: no gain offset, center 1.
    const float offset = layer ? 0.0f : normParams[1], center = layer ? 1.0f : 0.0f;
    std::vector<float> qParams = {0.0f, normParams[0], offset}, kParams = {float(Hq * D), normParams[0], offset},
                       vParams = {float((Hq + Hkv) * D)};
    if (normed) {
      qParams.push_back(center);
      kParams.push_back(center);
    }
    const int64_t paramCount = static_cast<int64_t>(qParams.size());
    std::vector<xfrt_tensor> queryOperands = {tensorOf(qkv, {S, W}), tensorOf(cosT, {S, half}), tensorOf(sinT, {S, half})};
    if (normed)
      queryOperands.push_back(layer ? tensorOf(qHeadGains, {Hq, D}) : tensorOf(qNorm, {1, D}));
    queryOperands.push_back(tensorOf(qParams, {paramCount}));
    queryOperands.push_back(tensorOf(fusedQ, {Hq, S, D}));
    ASSERT_EQ(run(("xf_dense_qkv_query" + norm).c_str(), queryOperands), "");
    EXPECT_EQ(std::memcmp(fusedQ.data(), queries.data(), sizeof(float) * queries.size()), 0);
    for (auto [suffix, dtype] : {std::pair{"", XFRT_F32}, {"_bf16", XFRT_BF16}, {"_f16", XFRT_F16}}) {
      SCOPED_TRACE(suffix);
      const size_t bytes = size_t(Hkv * C * D) * bytesOf(dtype);
      std::vector<uint8_t> separateK(bytes, 0x5a), separateV(bytes, 0x5a), fusedK(bytes, 0x5a), fusedV(bytes, 0x5a);
      auto cache = [&, dtype = dtype](std::vector<uint8_t> &c) {
        xfrt_tensor t = tensorOf(reinterpret_cast<uint16_t *>(c.data()), {Hkv, C, D}, XFRT_BF16);
        t.dtype = dtype;
        return t;
      };
      const std::string store = std::string("xf_dense_cache_store") + suffix;
      ASSERT_EQ(run(store.c_str(), {tensorOf(kr, {S, Hkv, D}), tensorOf(at, {1}), cache(separateK)}), "");
      ASSERT_EQ(run(store.c_str(), {tensorOf(v, {S, Hkv, D}), tensorOf(at, {1}), cache(separateV)}), "");
      std::vector<xfrt_tensor> keyOperands = {tensorOf(qkv, {S, W}), tensorOf(cosT, {S, half}), tensorOf(sinT, {S, half})};
      if (normed)
        keyOperands.push_back(layer ? tensorOf(kHeadGains, {Hkv, D}) : tensorOf(kNorm, {1, D}));
      keyOperands.push_back(tensorOf(kParams, {paramCount}));
      keyOperands.push_back(tensorOf(at, {1}));
      keyOperands.push_back(cache(fusedK));
      ASSERT_EQ(run(("xf_dense_qkv_key" + norm + suffix).c_str(), keyOperands), "");
      EXPECT_EQ(fusedK, separateK);
      if (!normed) {
        ASSERT_EQ(run((std::string("xf_dense_qkv_value") + suffix).c_str(),
                      {tensorOf(qkv, {S, W}), tensorOf(vParams, {1}), tensorOf(at, {1}), cache(fusedV)}),
                  "");
        EXPECT_EQ(fusedV, separateV);
      }
    }
  }
  // Refusals: heads past the input's columns, rows past the cache, a norm of the wrong size.
  std::vector<float> cacheRows(Hkv * C * D), late = {5}, past = {float(W - Hkv * D + 1)}, shortNorm(3 * D),
                     params = {0.0f, 1e-6f, 0.0f, 0.0f};
  EXPECT_NE(run("xf_dense_qkv_value", {tensorOf(qkv, {S, W}), tensorOf(past, {1}), tensorOf(at, {1}),
                                        tensorOf(cacheRows, {Hkv, C, D})})
                .find("columns [61, 81) are not within the input's 80"),
            std::string::npos);
  std::vector<float> zero = {0};
  EXPECT_NE(run("xf_dense_qkv_value", {tensorOf(qkv, {S, W}), tensorOf(zero, {1}), tensorOf(late, {1}),
                                        tensorOf(cacheRows, {Hkv, C, D})})
                .find("rows [5, 8) are not within the cache's 7"),
            std::string::npos);
  std::vector<float> queries(S * Hq * D);
  EXPECT_NE(run("xf_dense_qkv_query_norm", {tensorOf(qkv, {S, W}), tensorOf(cosT, {S, half}), tensorOf(sinT, {S, half}),
                                             tensorOf(shortNorm, {3, D}), tensorOf(params, {4}),
                                             tensorOf(queries, {Hq, S, D})})
                .find("'norm' must be [1, 10] (gains shared by the heads) or [4, 10] (each head's own), got [3, 10]"),
            std::string::npos);
}

// MoE routing on the device: top-k with ties to the lower expert and a softmax over the chosen logits (or,
// without norm, over all of them), the chosen experts' products per (token, choice) row with their own
// biases, and the weighted sum per token.
TEST_P(DenseKernels, RoutedExperts) {
  const int64_t S = 3, E = 5, K = 2, H = 6, N = 4, R = S * K;
  std::vector<float> logits = randomNormals(S * E, 16);
  logits[1 * E + 3] = logits[1 * E + 1] = 4.0f; // a tie at the top: expert 1 first, then 3
  std::vector<float> routes(R * 2, std::nanf(""));
  std::vector<int64_t> chosen(R);
  for (bool norm : {false, true}) {
    std::vector<float> params = {float(K), norm ? 1.0f : 0.0f};
    ASSERT_EQ(run("xf_dense_topk_softmax", {tensorOf(logits, {S, E}), tensorOf(params, {2}), tensorOf(routes, {R, 2})}),
              "");
    for (int64_t t = 0; t < S; ++t) {
      std::vector<int64_t> order(E);
      for (int64_t e = 0; e < E; ++e)
        order[e] = e;
      const float *lg = logits.data() + t * E;
      std::sort(order.begin(), order.end(),
                [&](int64_t a, int64_t b) { return lg[a] > lg[b] || (lg[a] == lg[b] && a < b); });
      double sum = 0;
      for (int64_t j = 0; j < (norm ? K : E); ++j)
        sum += std::exp(double(lg[order[j]]) - lg[order[0]]);
      for (int64_t j = 0; j < K; ++j) {
        chosen[t * K + j] = order[j];
        EXPECT_EQ(routes[(t * K + j) * 2], float(order[j])) << "token " << t << " choice " << j;
        EXPECT_NEAR(routes[(t * K + j) * 2 + 1], std::exp(double(lg[order[j]]) - lg[order[0]]) / sum, 1e-6)
            << "token " << t << " choice " << j << (norm ? " (norm)" : " (all experts)");
      }
    }
    EXPECT_EQ(chosen[2], 1);
    EXPECT_EQ(chosen[3], 3);
  }

  // Expert weights [E, N, H].
  std::vector<float> x = randomNormals(S * H, 17), w = randomNormals(E * N * H, 18), bias = randomNormals(E * N, 19);
  std::vector<float> per = {float(K)}, y(R * N, std::nanf("")), yb(R * N, std::nanf("")), out(S * N, std::nanf(""));
  ASSERT_EQ(run("xf_dense_matmul_routed", {tensorOf(x, {S, H}), tensorOf(w, {E, N, H}), tensorOf(routes, {R, 2}),
                                           tensorOf(per, {1}), tensorOf(y, {R, N})}),
            "");
  ASSERT_EQ(run("xf_dense_bias_add_routed",
                {tensorOf(y, {R, N}), tensorOf(bias, {E, N}), tensorOf(routes, {R, 2}), tensorOf(yb, {R, N})}),
            "");
  ASSERT_EQ(run("xf_dense_moe_combine", {tensorOf(yb, {R, N}), tensorOf(routes, {R, 2}), tensorOf(out, {S, N})}), "");
  std::vector<double> product(R * N), combined(S * N, 0.0);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t n = 0; n < N; ++n) {
      double acc = bias[chosen[r] * N + n];
      for (int64_t i = 0; i < H; ++i)
        acc += double(x[(r / K) * H + i]) * w[(chosen[r] * N + n) * H + i];
      product[r * N + n] = acc;
      combined[(r / K) * N + n] += routes[r * 2 + 1] * acc;
    }
  EXPECT_LE(worstError(yb, product), 1e-5);
  EXPECT_LE(worstError(out, combined), 1e-5);
  // Added to a residual (`_acc`): bit for bit the combine followed by xf_dense_add.
  std::vector<float> residual = randomNormals(S * N, 71), added(S * N), accumulated = residual;
  ASSERT_EQ(run("xf_dense_add", {tensorOf(residual, {S * N}), tensorOf(out, {S * N}), tensorOf(added, {S * N})}), "");
  ASSERT_EQ(run("xf_dense_moe_combine_acc", {tensorOf(yb, {R, N}), tensorOf(routes, {R, 2}), tensorOf(accumulated, {S, N})}),
            "");
  EXPECT_EQ(std::memcmp(added.data(), accumulated.data(), sizeof(float) * added.size()), 0);
  // The bf16 pairs [E, N, ceil(H/2)] give the f32 kernel's bits on the widened weights.
  std::vector<uint16_t> bits;
  std::vector<float> packed = packBf16Pairs(w, E * N, H, bits), widened(E * N * H), y16(R * N, std::nanf("")),
                     y32(R * N, std::nanf(""));
  for (size_t i = 0; i < widened.size(); ++i)
    widened[i] = widenBf16(bits[i]);
  ASSERT_EQ(run("xf_dense_matmul_routed_bf16", {tensorOf(x, {S, H}), tensorOf(packed, {E, N, (H + 1) / 2}),
                                                tensorOf(routes, {R, 2}), tensorOf(per, {1}), tensorOf(y16, {R, N})}),
            "");
  ASSERT_EQ(run("xf_dense_matmul_routed", {tensorOf(x, {S, H}), tensorOf(widened, {E, N, H}), tensorOf(routes, {R, 2}),
                                           tensorOf(per, {1}), tensorOf(y32, {R, N})}),
            "");
  EXPECT_EQ(std::memcmp(y16.data(), y32.data(), sizeof(float) * y16.size()), 0);
  double widest = 0;
  for (int64_t r = 0; r < R; ++r)
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0;
      for (int64_t i = 0; i < H; ++i)
        acc += double(x[(r / K) * H + i]) * widened[(chosen[r] * N + n) * H + i];
      widest = std::max(widest, std::fabs(acc - y16[r * N + n]));
    }
  EXPECT_LE(widest, 1e-5);
  std::vector<float> one = {1}; // 6 rows would read 6 input rows, of 3
  EXPECT_NE(run("xf_dense_matmul_routed", {tensorOf(x, {S, H}), tensorOf(w, {E, N, H}), tensorOf(routes, {R, 2}),
                                           tensorOf(one, {1}), tensorOf(y, {R, N})})
                .find("1 output rows per input row do not match 3 input rows for 6 output rows"),
            std::string::npos);
  std::vector<float> six = {6, 1};
  EXPECT_NE(run("xf_dense_topk_softmax", {tensorOf(logits, {S, E}), tensorOf(six, {2}), tensorOf(routes, {R, 2})})
                .find("top-6 of 5 experts"),
            std::string::npos);
}

// Scored routing on the device (GLM-4.5, ERNIE 4.5): scores s = sigmoid(logit) or the softmax over all,
// choices c = s + bias; groups scored by their two best c, the experts outside the kept groups choosing with
// c = 0; the k best c (ties to the lower expert) weighed by s / max(sum + eps, floor) (or s) times the scale;
// against a double reference.
TEST_P(DenseKernels, ScoredRouting) {
  const int64_t S = 4, E = 8, K = 3, R = S * K;
  std::vector<float> logits = randomNormals(S * E, 41), bias = randomNormals(E, 42);
  // Token 2: every kept expert's choice below 0, so experts of dropped groups (c = 0) win, the lower first.
  for (int64_t e = 0; e < E; ++e)
    logits[2 * E + e] = -3.0f;
  logits[2 * E + 6] = logits[2 * E + 7] = 2.0f; // group 3 ranks first
  std::vector<float> negative(E, -0.9f);
  // Token 3: groups 0 and 1 tie; the lower group is kept.
  for (int64_t e = 0; e < 4; ++e)
    logits[3 * E + e] = e % 2 ? 1.0f : 0.5f;
  struct Case {
    int64_t groups, topGroups;
    bool norm;
    float scale;
    std::vector<float> *bias;
    bool softmax = false;
    float floor = 0.0f;
  };
  for (const Case &c : {Case{4, 2, true, 2.5f, &bias}, Case{4, 2, false, 1.0f, &bias}, Case{1, 1, true, 1.0f, &bias},
                        Case{4, 1, true, 1.5f, &negative}, Case{2, 1, true, 1.0f, &bias},
                        Case{1, 1, true, 1.0f, &bias, true, 1e-12f}, Case{1, 1, true, 1.0f, &bias, true, 0.99f},
                        Case{4, 2, false, 2.0f, &bias, true}}) {
    std::vector<float> params = {float(K), c.norm ? 1.0f : 0.0f, float(c.groups), float(c.topGroups), c.scale,
                                 c.softmax ? 1.0f : 0.0f, c.floor},
                       routes(R * 2, std::nanf(""));
    ASSERT_EQ(run("xf_dense_topk_scored", {tensorOf(logits, {S, E}), tensorOf(*c.bias, {E}), tensorOf(params, {7}),
                                           tensorOf(routes, {R, 2})}),
              "");
    const int64_t per = E / c.groups;
    bool floorBinds = false;
    for (int64_t t = 0; t < S; ++t) {
      std::vector<double> score(E), choice(E), groupScore(c.groups);
      double total = 0;
      for (int64_t e = 0; e < E; ++e)
        total += std::exp(double(logits[t * E + e]));
      for (int64_t e = 0; e < E; ++e) {
        score[e] = c.softmax ? std::exp(double(logits[t * E + e])) / total
                             : 1.0 / (1.0 + std::exp(-double(logits[t * E + e])));
        choice[e] = score[e] + (*c.bias)[e];
      }
      for (int64_t g = 0; g < c.groups; ++g) {
        std::vector<double> members(choice.begin() + g * per, choice.begin() + (g + 1) * per);
        std::sort(members.rbegin(), members.rend());
        groupScore[g] = members[0] + members[1];
      }
      for (int64_t g = 0; g < c.groups; ++g) {
        int64_t ahead = 0;
        for (int64_t h = 0; h < c.groups; ++h)
          ahead += groupScore[h] > groupScore[g] || (groupScore[h] == groupScore[g] && h < g);
        if (ahead >= c.topGroups)
          for (int64_t e = g * per; e < (g + 1) * per; ++e)
            choice[e] = 0.0;
      }
      std::vector<int64_t> order(E);
      for (int64_t e = 0; e < E; ++e)
        order[e] = e;
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return choice[a] > choice[b]; });
      double sum = 0;
      for (int64_t j = 0; j < K; ++j)
        sum += score[order[j]];
      for (int64_t j = 0; j < K; ++j) {
        const std::string where = "token " + std::to_string(t) + " choice " + std::to_string(j) + ", " +
                                  std::to_string(c.topGroups) + " of " + std::to_string(c.groups) + " groups";
        EXPECT_EQ(routes[(t * K + j) * 2], float(order[j])) << where;
        const double den = c.norm ? std::max(sum + (c.softmax ? 0.0 : 1e-20), double(c.floor)) : 1.0;
        EXPECT_NEAR(routes[(t * K + j) * 2 + 1], score[order[j]] / den * c.scale, 1e-6)
            << where << (c.softmax ? " (softmax)" : " (sigmoid)");
      }
      floorBinds |= sum < c.floor;
      if (c.bias == &negative && t == 2)
        // Only group 3 kept, and every kept choice negative: the dropped experts' zeros win, lowest first.
        for (int64_t j = 0; j < K; ++j)
          EXPECT_EQ(routes[(t * K + j) * 2], float(j));
    }
    if (c.floor > 0.5f)
      EXPECT_TRUE(floorBinds) << "the floor must bind for some token to test it";
  }
  // Refusals: more groups than the kept-group mask holds, more kept than there are, a bias per other experts.
  std::vector<float> routes(R * 2), shortBias(E - 1);
  std::vector<float> many = {float(K), 1, 64, 1, 1, 0, 0}, over = {float(K), 1, 4, 5, 1, 0, 0},
                     fine = {float(K), 1, 4, 2, 1, 0, 0};
  std::vector<float> wide(S * 64);
  EXPECT_NE(run("xf_dense_topk_scored", {tensorOf(wide, {S, 64}), tensorOf(wide, {64}), tensorOf(many, {7}),
                                          tensorOf(routes, {R, 2})})
                .find("1 of 64 expert groups (at most 32, dividing the 64 experts)"),
            std::string::npos);
  EXPECT_NE(run("xf_dense_topk_scored", {tensorOf(logits, {S, E}), tensorOf(bias, {E}), tensorOf(over, {7}),
                                          tensorOf(routes, {R, 2})})
                .find("5 of 4 expert groups"),
            std::string::npos);
  EXPECT_NE(run("xf_dense_topk_scored", {tensorOf(logits, {S, E}), tensorOf(shortBias, {E - 1}), tensorOf(fine, {7}),
                                          tensorOf(routes, {R, 2})})
                .find("'bias' must be [8] (one per expert)"),
            std::string::npos);
}

// SparseMixer routing on the device (Phi-3.5-MoE): the largest logit m weighed by the softmax over the experts
// not excluded by (m - l) / max(|l|, m) > 2 eps, then the same among the others; against a double reference,
// with tokens where the exclusion keeps one expert, several, and a tie.
TEST_P(DenseKernels, SparseMixerRouting) {
  const int64_t S = 5, E = 6, R = S * 2;
  std::vector<float> logits = randomNormals(S * E, 51);
  for (int64_t e = 0; e < E; ++e)
    logits[1 * E + e] = 2.0f + 0.01f * e; // token 1: every logit within 2 eps of the max
  logits[2 * E + 4] = logits[2 * E + 1] = 5.0f; // token 2: a tie at the top, expert 1 first
  logits[3 * E + 0] = 0.0f;                     // token 3: a zero logit
  for (float eps : {0.01f, 0.3f}) {
    std::vector<float> params = {eps}, routes(R * 2, std::nanf(""));
    ASSERT_EQ(
        run("xf_dense_topk_sparsemixer", {tensorOf(logits, {S, E}), tensorOf(params, {1}), tensorOf(routes, {R, 2})}),
        "");
    int64_t several = 0;
    for (int64_t t = 0; t < S; ++t) {
      const float *lg = logits.data() + t * E;
      int64_t skip = -1;
      for (int64_t j = 0; j < 2; ++j) {
        int64_t best = -1;
        for (int64_t e = 0; e < E; ++e)
          if (e != skip && (best < 0 || lg[e] > lg[best]))
            best = e;
        double m = lg[best], sum = 0;
        int64_t kept = 0;
        for (int64_t e = 0; e < E; ++e)
          if (e != skip && !((m - lg[e]) / std::max(std::fabs(double(lg[e])), m) > 2.0 * eps)) {
            sum += std::exp(lg[e] - m);
            ++kept;
          }
        several += kept > 1;
        const std::string where = "token " + std::to_string(t) + " choice " + std::to_string(j) + " eps " +
                                  std::to_string(eps);
        EXPECT_EQ(routes[(t * 2 + j) * 2], float(best)) << where;
        EXPECT_NEAR(routes[(t * 2 + j) * 2 + 1], 1.0 / sum, 1e-6) << where;
        skip = best;
      }
    }
    EXPECT_GT(several, 0) << "some choice must weigh over several experts";
    EXPECT_EQ(routes[(2 * 2) * 2], 1.0f);
    EXPECT_EQ(routes[(2 * 2 + 1) * 2], 4.0f);
  }
  std::vector<float> routes(R * 2), negative = {-1.0f}, small = {0.01f}, shortRoutes(S * 2);
  EXPECT_NE(
      run("xf_dense_topk_sparsemixer", {tensorOf(logits, {S, E}), tensorOf(negative, {1}), tensorOf(routes, {R, 2})})
          .find("the exclusion eps must be >= 0, got -1"),
      std::string::npos);
  EXPECT_NE(run("xf_dense_topk_sparsemixer", {tensorOf(logits, {S, E}), tensorOf(small, {1}), tensorOf(shortRoutes, {S, 2})})
                .find("'output' must have 5 x 2 rows (tokens x choices)"),
            std::string::npos);
}

// Prefill's MoE products on GPU targets: routes grouped by expert (count, then rows in order), and the
// grouped products (64-row tiles of one expert's rows, gathering their input rows) against double loops, for
// the experts' first products (an input row per token, `per` = K) and the last (an input row per route);
// bf16 pairs give the f32 kernel's bits on the widened weights.
// 600 tokens give expert 3 600 rows: 10 row tiles, more than the workgroups an expert and column tile get.
TEST_P(DenseKernels, GroupedExperts) {
  if (GetParam() == "cpu")
    GTEST_SKIP() << "the grouped products use workgroup memory and barriers: GPU targets only";
  for (int64_t S : {50, 600}) {
    const int64_t E = 5, K = 2, R = S * K, H = 37, N = 70;
    std::vector<float> logits = randomNormals(S * E, 31), k = {float(K), 1}, routes(R * 2, std::nanf("")),
                       groups(E * (R + 1), std::nanf(""));
    for (int64_t t = 0; t < std::min<int64_t>(S, S == 50 ? 20 : S); ++t)
      logits[t * E + 3] = 9.0f; // expert 3 takes more than a 64-row tile
    ASSERT_EQ(run("xf_dense_topk_softmax", {tensorOf(logits, {S, E}), tensorOf(k, {2}), tensorOf(routes, {R, 2})}), "");
    ASSERT_EQ(run("xf_dense_route_groups", {tensorOf(routes, {R, 2}), tensorOf(groups, {E, R + 1})}), "");
    std::vector<int64_t> expertOf(R);
    for (int64_t e = 0, listed = 0; e < E; ++e) {
      std::vector<int64_t> rows;
      for (int64_t r = 0; r < R; ++r)
        if (routes[r * 2] == float(e))
          rows.push_back(r);
      ASSERT_EQ(groups[e * (R + 1)], float(rows.size())) << "expert " << e;
      for (size_t j = 0; j < rows.size(); ++j) {
        EXPECT_EQ(groups[e * (R + 1) + 1 + j], float(rows[j])) << "expert " << e << " entry " << j;
        expertOf[rows[j]] = e;
      }
      listed += static_cast<int64_t>(rows.size());
      if (e == E - 1)
        EXPECT_EQ(listed, R);
    }
    for (auto [inRows, in, per] : {std::tuple<int64_t, int64_t, int64_t>{S, H, K}, {R, H, 1}}) {
      std::vector<float> x = randomNormals(inRows * in, 32), w = randomNormals(E * N * in, 33), widened(E * N * in),
                         y(R * N, std::nanf("")), y16(R * N, std::nanf("")), perV = {float(per)};
      std::vector<uint16_t> bits;
      std::vector<float> packed = packBf16Pairs(w, E * N, in, bits);
      for (size_t i = 0; i < widened.size(); ++i)
        widened[i] = widenBf16(bits[i]);
      ASSERT_EQ(run("xf_dense_matmul_grouped",
                    {tensorOf(x, {inRows, in}), tensorOf(widened, {E, N, in}), tensorOf(groups, {E, R + 1}),
                     tensorOf(perV, {1}), tensorOf(y, {R, N})}),
                "");
      ASSERT_EQ(run("xf_dense_matmul_grouped_bf16",
                    {tensorOf(x, {inRows, in}), tensorOf(packed, {E, N, (in + 1) / 2}), tensorOf(groups, {E, R + 1}),
                     tensorOf(perV, {1}), tensorOf(y16, {R, N})}),
                "");
      std::vector<double> expected(R * N);
      for (int64_t r = 0; r < R; ++r)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t i = 0; i < in; ++i)
            expected[r * N + n] += double(x[(r / per) * in + i]) * widened[(expertOf[r] * N + n) * in + i];
      EXPECT_LE(worstError(y, expected), 1e-4) << "S " << S << ", per " << per;
      EXPECT_EQ(std::memcmp(y.data(), y16.data(), sizeof(float) * y.size()), 0) << "S " << S << ", per " << per;
    }
    if (S != 50)
      continue;
    std::vector<float> x(S * H), w(E * N * H), y(R * N), one = {1}, shortGroups(E * R);
    EXPECT_NE(run("xf_dense_matmul_grouped", {tensorOf(x, {S, H}), tensorOf(w, {E, N, H}),
                                              tensorOf(shortGroups, {E, R}), tensorOf(k, {1}), tensorOf(y, {R, N})})
                  .find("'groups' must be [5, 101]"),
              std::string::npos);
    EXPECT_NE(run("xf_dense_matmul_grouped", {tensorOf(x, {S, H}), tensorOf(w, {E, N, H}), tensorOf(groups, {E, R + 1}),
                                              tensorOf(one, {1}), tensorOf(y, {R, N})})
                  .find("1 output rows per input row do not match 50 input rows for 100 output rows"),
              std::string::npos);
  }
}

// On a discrete GPU pinned arrays live in device-local memory, filled through staging (XF_VULKAN_STAGING=1
// forces it on any device): a 84 MB weight goes up in two chunks of the 64 MB staging buffer, which a
// product then reads in place.
TEST_P(DenseKernels, StagedPinInChunks) {
  if (GetParam() == "cpu")
    GTEST_SKIP() << "staging is a Vulkan device's";
  setenv("XF_VULKAN_STAGING", "1", 1);
  std::string skip;
  ContextPtr staged = makeVulkanContext(skip);
  unsetenv("XF_VULKAN_STAGING");
  ASSERT_TRUE(staged) << skip;
  const int64_t M = 1, K = 5120, N = 4096;
  std::vector<float> x = randomNormals(M * K, 41), w = randomNormals(N * K, 42), y(M * N, std::nanf(""));
  ASSERT_EQ(messageOf(xfrt_context_pin(staged.get(), w.data(), w.size() * sizeof(float))), "");
  std::vector<xfrt_tensor> operands = {tensorOf(x, {M, K}), tensorOf(w, {N, K}), tensorOf(y, {M, N})};
  EXPECT_EQ(messageOf(xfrt_kernel_run(staged.get(), module.get(), "xf_dense_matmul", operands.data(), operands.size())),
            "");
  EXPECT_LE(worstError(y, productOf(x, w, M, K, N)), 1e-3);
  xfrt_context_unpin(staged.get(), w.data());
}

INSTANTIATE_TEST_SUITE_P(Targets, DenseKernels, testing::Values("cpu", "vulkan"),
                         [](const testing::TestParamInfo<std::string> &info) { return info.param; });

} // namespace
