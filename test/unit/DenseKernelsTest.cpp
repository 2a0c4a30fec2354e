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
    ASSERT_TRUE(compile("dense_" + target, "mlir", "module {}\n", library,
                        "--variant=xf-add-dense-kernels --target=" + target));
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

// The weight is [K, N] (nn.Linear's W transposed).
TEST_P(DenseKernels, Matmul) {
  const int64_t M = 7, K = 93, N = 45;
  std::vector<float> x = randomNormals(M * K, 1), w = randomNormals(K * N, 2), y(M * N, std::nanf(""));
  ASSERT_EQ(run("xf_dense_matmul", {tensorOf(x, {M, K}), tensorOf(w, {K, N}), tensorOf(y, {M, N})}), "");
  std::vector<double> expected(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        expected[m * N + n] += double(x[m * K + k]) * w[k * N + n];
  EXPECT_LE(worstError(y, expected), 1e-4);
}

// bf16 weights [ceil(K/2), N], word (p, n) holding the weights of inputs 2p (low half) and 2p + 1 (high half)
// for output n; an odd K so the last row of words has one. The expected values use the bf16 weights widened
// independently (bf16 bits are the top half of an f32).
TEST_P(DenseKernels, MatmulOnBf16Pairs) {
  const int64_t M = 6, K = 93, N = 45, W = (K + 1) / 2;
  std::vector<float> x = randomNormals(M * K, 5), w = randomNormals(K * N, 6), y(M * N, std::nanf(""));
  std::vector<uint16_t> bits(K * N); // [K, N]
  for (int64_t i = 0; i < K * N; ++i) {
    uint32_t word;
    std::memcpy(&word, &w[i], sizeof(word));
    bits[i] = static_cast<uint16_t>(word >> 16); // truncation: any bf16 value will do
  }
  std::vector<float> packed(W * N);
  for (int64_t p = 0; p < W; ++p)
    for (int64_t n = 0; n < N; ++n) {
      uint32_t word = bits[2 * p * N + n] | (2 * p + 1 < K ? uint32_t(bits[(2 * p + 1) * N + n]) << 16 : 0u);
      std::memcpy(&packed[p * N + n], &word, sizeof(word));
    }
  ASSERT_EQ(run("xf_dense_matmul_bf16", {tensorOf(x, {M, K}), tensorOf(packed, {W, N}), tensorOf(y, {M, N})}), "");
  std::vector<double> expected(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        uint32_t wide = uint32_t(bits[k * N + n]) << 16;
        float weight;
        std::memcpy(&weight, &wide, sizeof(weight));
        expected[m * N + n] += double(x[m * K + k]) * weight;
      }
  EXPECT_LE(worstError(y, expected), 1e-4);
  std::vector<float> wrong(K * N);
  EXPECT_NE(run("xf_dense_matmul_bf16", {tensorOf(x, {M, K}), tensorOf(wrong, {K, N}), tensorOf(y, {M, N})})
                .find("expected ceil(K/2)"),
            std::string::npos);
}

TEST_P(DenseKernels, MatmulRejectsMismatchedInnerSizes) {
  std::vector<float> x(3 * 8), w(9 * 5), y(3 * 5);
  EXPECT_NE(run("xf_dense_matmul", {tensorOf(x, {3, 8}), tensorOf(w, {9, 5}), tensorOf(y, {3, 5})})
                .find("'weight' has 9 rows but 'input' has 8 columns"),
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

INSTANTIATE_TEST_SUITE_P(Targets, DenseKernels, testing::Values("cpu", "vulkan"),
                         [](const testing::TestParamInfo<std::string> &info) { return info.param; });

} // namespace
