//===- compute_peak.h - the CPU's arithmetic peak, measured -----------------===//
//
// What the cores' vector units can do at most, for reading the GEMM tables against: independent chains
// of one instruction (12 accumulators, enough to hide its latency), on `threads` threads at once.
//
//===----------------------------------------------------------------------===//

#ifndef XF_BENCH_COMPUTE_PEAK_H
#define XF_BENCH_COMPUTE_PEAK_H

namespace xf::bench {

struct ComputePeak {
  double fmaGflops = 0;  // 512-bit vfmadd231ps (float32 FMA), 32 flops each; 0 where not measured
  double bf16Gflops = 0; // 512-bit vdpbf16ps (bf16 pairs summed into float32), 64 flops each; 0 without AVX512-BF16
  double int8Gops = 0;   // 512-bit vpdpbusd (u8 x s8 quads summed into int32), 128 ops each; 0 without AVX512-VNNI
};

/// Measures each on `threads` threads, best of three (about 2 s in all). x86-64 with AVX-512 only; zeros
/// elsewhere.
ComputePeak measureComputePeak(unsigned threads);

} // namespace xf::bench

#endif
