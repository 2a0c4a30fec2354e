//===- compute_peak.cpp - the CPU's arithmetic peak, measured ---------------===//

#include "compute_peak.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace xf::bench {
namespace {

constexpr long kIterations = 8'000'000; // of 12 instructions each, per thread
constexpr int kChains = 12;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) float fmaChains() {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i)
    acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-3f);
  for (long n = 0; n < kIterations; ++n)
    for (int i = 0; i < kChains; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], a, c);
  float sum = 0;
  for (int i = 0; i < kChains; ++i)
    sum += _mm512_reduce_add_ps(acc[i]);
  return sum;
}

__attribute__((target("avx512f,avx512bf16"))) float bf16Chains() {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i)
    acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3c00), y = (__m512bh)_mm512_set1_epi16(0x3c00); // 2^-7
  for (long n = 0; n < kIterations; ++n)
    for (int i = 0; i < kChains; ++i)
      acc[i] = _mm512_dpbf16_ps(acc[i], x, y);
  float sum = 0;
  for (int i = 0; i < kChains; ++i)
    sum += _mm512_reduce_add_ps(acc[i]);
  return sum;
}

__attribute__((target("avx512f,avx512vnni"))) float int8Chains() {
  __m512i acc[kChains];
  for (int i = 0; i < kChains; ++i)
    acc[i] = _mm512_set1_epi32(i);
  const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2);
  for (long n = 0; n < kIterations; ++n)
    for (int i = 0; i < kChains; ++i)
      acc[i] = _mm512_dpbusd_epi32(acc[i], x, y);
  int sum = 0;
  for (int i = 0; i < kChains; ++i)
    sum += _mm512_reduce_add_epi32(acc[i]);
  return static_cast<float>(sum);
}
#endif

/// GFLOP/s of `body` run on `threads` threads at once, `flops` per call and thread.
double timed(unsigned threads, float (*body)(), double flops) {
  std::vector<std::thread> workers;
  std::vector<float> sink(threads);
  auto start = std::chrono::steady_clock::now();
  for (unsigned t = 0; t < threads; ++t)
    workers.emplace_back([&, t] { sink[t] = body(); });
  for (auto &w : workers)
    w.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  volatile float keep = sink[0]; // the chains' results are used
  (void)keep;
  return threads * flops / seconds / 1e9;
}

} // namespace

ComputePeak measureComputePeak(unsigned threads) {
  ComputePeak peak;
#if defined(__x86_64__)
  __builtin_cpu_init();
  const double instructions = double(kIterations) * kChains;
  // Best of three: a thread that shares its core for a moment (another process, a library's spinning
  // threads) halves one measurement.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (__builtin_cpu_supports("avx512f"))
      peak.fmaGflops = std::max(peak.fmaGflops, timed(threads, fmaChains, instructions * 32));
    if (__builtin_cpu_supports("avx512bf16"))
      peak.bf16Gflops = std::max(peak.bf16Gflops, timed(threads, bf16Chains, instructions * 64));
    if (__builtin_cpu_supports("avx512vnni"))
      peak.int8Gops = std::max(peak.int8Gops, timed(threads, int8Chains, instructions * 128));
  }
#else
  (void)threads;
#endif
  return peak;
}

} // namespace xf::bench
