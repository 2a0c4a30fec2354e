//===- dense_bench.cpp - the Halide dense kernels against OpenBLAS ---------===//
//
// xf-dense-bench [--runs N] [--budget SECONDS] [--only 100m|8b|moe] [--no-hot] [--no-dot | --dot-only]
//                [--xf-weights f32|bf16|f16|mxfp4] [--rows M]
//
// One process, one table per kernel: xf's GEMM (M = 512 tokens, prefill) and GEMV (M = 1, decode) from
// runtime/cpu/DenseOps.cpp (the Halide kernels libxfrt runs, compiled into this program from the same
// sources and static kernel libraries) against OpenBLAS cblas_sgemm / cblas_sgemv on the same buffers, at the
// linear-layer shapes of a ~100M llama-style model and of Llama-3-8B, and at the expert shapes of gpt-oss-20b and
// Mixtral-8x7B and Qwen3-30B-A3B (--only moe; their GEMMs take an expert's share of the 512 tokens). Both peers get 2 threads: xf its
// ThreadPool under dense::ScopedPool, OpenBLAS openblas_set_num_threads(2) (its default on this 2-core
// machine; the program prints what OpenBLAS reports).
//
// Data layout: xf keeps a weight W [N, K] in column panels, [Np / 64][K][64] (DenseOps.h). OpenBLAS gets the
// same values as wt = W^T, [K, Np] row-major: GEMM y = x * wt (RowMajor, NoTrans, NoTrans), GEMV y = wt^T x
// (RowMajor, Trans). The GEMV table also times OpenBLAS on the nn.Linear layout W [N, K] (RowMajor, NoTrans:
// one dot product per output), the layout PyTorch feeds it.
//
// GEMV is memory bound, and the 100M shapes fit the 32 MiB L3: the main GEMV table cycles through enough
// copies of the weights (>= 256 MiB in all) that every call streams its matrix from DRAM, as a decode step
// through a whole model does; a second table repeats one copy (weights hot in L3) for the matrices under
// 16 MiB. GB/s counts the minimum traffic: weights + x + y once, 4 bytes each.
//
// --xf-weights bf16 (or f16) stores xf's weights 16-bit: the values are rounded to that type first and OpenBLAS
// gets the same values in float32, so both compute the same product; xf's GB/s then counts 2 bytes per weight.
// --xf-weights mxfp4 stores them as gpt-oss's experts are published (random e2m1 codes, group exponents
// 2^-9 .. 2^-3; Linear::assignMxfp4): 0.625 bytes per weight (half a byte of code, a float scale per 32).
// --xf-weights int8 stores them as --dot int8 does (dense::Linear::quantizeForDot: per-row int8 codes and scales),
// OpenBLAS getting the stored values (codes times scales) in float32: only the per-call quantization of the
// activations separates the results (checked against 5e-2); 1 byte per weight.
//
// The dot table (not with --no-dot; --dot-only prints it alone; skipped on CPUs without AVX512-BF16) times the
// prefill GEMM four ways, measured in turns (a round of one measurement each, repeated), on weights rounded to
// bf16: xf's float32 GEMM on them stored bf16 (what a bf16 checkpoint runs by default), xf's bf16-dot GEMM
// (dense::Dot::BF16, xf-run --dot bf16: activations rounded to bf16, vdpbf16ps), xf's int8-dot GEMM
// (dense::Dot::I8, xf-run --dot int8: those weights quantized per row to int8, the activations per row per call,
// vpdpbusd) and OpenBLAS sgemm on the bf16 values in float32. Its rel.errs are against OpenBLAS: the bf16
// dot's, the rounding of the activations (2^-9 relative each), checked against 2e-2; the int8 dot's, the
// quantization of both operands (half a step of max/127 each), checked against 5e-2.
//
// --rows M (at least kSkinnyRows; dense::runsSkinny says whether the skinny GEMM or the GEMM runs them) gives
// every GEMM M rows instead of its shape's: an expert's share of a shorter prompt.
//
// Every result is checked against OpenBLAS before it is timed (max |xf - blas| / max |blas|).
// Timings: best of up to --runs measurements after a warm-up; a measurement repeats the call until it
// spans at least 20 ms.
//
//===----------------------------------------------------------------------===//

#include "compute_peak.h"
#include "runtime/cpu/DenseOps.h"
#include "runtime/cpu/ThreadPool.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace xf::rt;

constexpr unsigned kThreads = 2;
constexpr int64_t kPrefillRows = 512;
constexpr double kTolerance = 1e-4;
constexpr double kDotTolerance = 2e-2;
constexpr double kInt8Tolerance = 5e-2;
constexpr int64_t kColdBytes = 256ll << 20; // >= 8x the L3
constexpr int64_t kHotMaxBytes = 16ll << 20;

struct Options {
  int runs = 5;
  double budgetSeconds = 8;
  std::string only;
  bool hot = true;
  bool dot = true, dotOnly = false;
  dense::Storage xfWeights = dense::Storage::F32;
  int64_t rows = 0; // --rows: M of every GEMM instead of the shape's
};

struct Shape {
  const char *model, *name;
  int64_t in, out;                 // K, N
  int64_t rows = kPrefillRows;     // M of the prefill GEMM
};

const Shape kShapes[] = {
    {"100m", "qkv 768->1280", 768, 1280},
    {"100m", "o 768->768", 768, 768},
    {"100m", "gate/up 768->4096", 768, 4096},
    {"100m", "down 2048->768", 2048, 768},
    {"100m", "lm_head 768->32000", 768, 32000},
    {"8b", "q/o 4096->4096", 4096, 4096},
    {"8b", "qkv 4096->6144", 4096, 6144},
    {"8b", "gate/up 4096->28672", 4096, 28672},
    {"8b", "down 14336->4096", 14336, 4096},
    // MoE experts: a prefill GEMM takes the rows routed to one expert, 512 tokens x top-k / experts on
    // average (gpt-oss-20b: hidden and expert width 2880, 32 experts, top-4; Mixtral-8x7B: 4096 -> 14336,
    // 8 experts, top-2; Qwen3-30B-A3B: 2048 -> 768, 128 experts, top-8); a decode step runs each chosen
    // expert as a GEMV.
    {"moe", "gpt-oss gate/up 2880->5760", 2880, 5760, kPrefillRows * 4 / 32},
    {"moe", "gpt-oss down 2880->2880", 2880, 2880, kPrefillRows * 4 / 32},
    {"moe", "Mixtral gate/up 4096->28672", 4096, 28672, kPrefillRows * 2 / 8},
    {"moe", "Mixtral down 14336->4096", 14336, 4096, kPrefillRows * 2 / 8},
    {"moe", "Qwen3-MoE gate/up 2048->1536", 2048, 1536, kPrefillRows * 8 / 128},
    {"moe", "Qwen3-MoE down 768->2048", 768, 2048, kPrefillRows * 8 / 128},
};

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "xf-dense-bench: %s\n", message.c_str());
  std::exit(1);
}

Options parseOptions(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die("missing value after " + arg);
      return argv[++i];
    };
    if (arg == "--runs")
      o.runs = std::max(1, std::atoi(value().c_str()));
    else if (arg == "--budget")
      o.budgetSeconds = std::atof(value().c_str());
    else if (arg == "--only")
      o.only = value();
    else if (arg == "--no-hot")
      o.hot = false;
    else if (arg == "--no-dot")
      o.dot = false;
    else if (arg == "--dot-only")
      o.dotOnly = true;
    else if (arg == "--xf-weights") {
      std::string name = value();
      std::optional<dense::Storage> storage = name == "mxfp4"  ? dense::Storage::MXFP4
                                               : name == "int8" ? dense::Storage::I8
                                                                : dense::storageNamed(name);
      if (!storage)
        die("--xf-weights takes f32, bf16, f16, mxfp4 or int8");
      o.xfWeights = *storage;
    }
    else if (arg == "--rows") {
      o.rows = std::atoll(value().c_str());
      if (o.rows < dense::kSkinnyRows)
        die("--rows takes at least " + std::to_string(dense::kSkinnyRows) + " rows (the skinny GEMM tile's height)");
    } else if (arg == "-h" || arg == "--help") {
      std::printf("usage: xf-dense-bench [--runs N] [--budget SECONDS] [--only 100m|8b|moe] [--no-hot] [--no-dot | "
                  "--dot-only] [--xf-weights f32|bf16|f16|mxfp4|int8] [--rows M]\n");
      std::exit(0);
    } else
      die("unknown argument '" + arg + "' (try --help)");
  }
  if (o.dotOnly && !o.dot)
    die("--dot-only and --no-dot exclude each other");
  if (o.xfWeights == dense::Storage::I8 && !dense::int8DotSupported())
    die("--xf-weights int8 needs a CPU with AVX512-VNNI (the int8 dot's kernels)");
  if (!o.only.empty() && o.only != "100m" && o.only != "8b" && o.only != "moe")
    die("--only takes 100m, 8b or moe");
  return o;
}

/// Uniform values in [-1, 1) from a 64-bit LCG (fast enough for a 470 MB matrix).
void fillRandom(float *data, int64_t count, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < count; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    data[i] = static_cast<float>(static_cast<int32_t>(s >> 32)) * (1.0f / 2147483648.0f);
  }
}

/// Seconds per call: best over up to `runs` measurements (after a warm-up call) of the mean of a batch of
/// calls that spans at least 20 ms. `body(i)` is call number i (the GEMV rotates weight copies by i).
double bestSeconds(const Options &o, const std::function<void(int64_t)> &body) {
  using Clock = std::chrono::steady_clock;
  body(0);
  Clock::time_point start = Clock::now();
  body(1);
  double one = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t batch = std::max<int64_t>(1, static_cast<int64_t>(0.02 / std::max(one, 1e-9)));
  double best = INFINITY, spent = 0;
  int64_t call = 2;
  for (int run = 0; run < o.runs && (run == 0 || spent < o.budgetSeconds); ++run) {
    start = Clock::now();
    for (int64_t i = 0; i < batch; ++i)
      body(call++);
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    spent += seconds;
    best = std::min(best, seconds / batch);
  }
  return best;
}

/// OpenBLAS's threads spin a while after a call; let them go to sleep before timing xf's.
void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(300)); }

/// bestSeconds for several peers measured in turns (one measurement of each per round, every one after a
/// settle), so a machine whose speed drifts (a shared VM) slows all of them alike.
std::vector<double> bestSecondsInterleaved(const Options &o, const std::vector<std::function<void(int64_t)>> &bodies) {
  using Clock = std::chrono::steady_clock;
  std::vector<int64_t> batch;
  for (const auto &body : bodies) {
    body(0);
    Clock::time_point start = Clock::now();
    body(1);
    double one = std::chrono::duration<double>(Clock::now() - start).count();
    batch.push_back(std::max<int64_t>(1, static_cast<int64_t>(0.02 / std::max(one, 1e-9))));
  }
  std::vector<double> best(bodies.size(), INFINITY);
  double spent = 0;
  for (int run = 0; run < o.runs && (run == 0 || spent < o.budgetSeconds * bodies.size()); ++run)
    for (size_t b = 0; b < bodies.size(); ++b) {
      settle();
      Clock::time_point start = Clock::now();
      for (int64_t i = 0; i < batch[b]; ++i)
        bodies[b](2 + i);
      double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      spent += seconds;
      best[b] = std::min(best[b], seconds / batch[b]);
    }
  return best;
}

double relativeError(const float *a, const float *b, int64_t rows, int64_t cols, int64_t lda, int64_t ldb) {
  double worst = 0, scale = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      double d = std::abs(double(a[r * lda + c]) - double(b[r * ldb + c]));
      worst = std::max(worst, std::isnan(d) ? INFINITY : d);
      scale = std::max(scale, std::abs(double(b[r * ldb + c])));
    }
  return worst / std::max(scale, 1e-30);
}

/// One weight in the three layouts: xf's panels, OpenBLAS's wt [K, Np] (padding columns zero) and W [N, K].
struct Weight {
  dense::Linear xf;
  std::vector<float> kn, nk;
};

/// OpenBLAS's y [M, N] = x [M, K] * w.kn [K, N] (N the panel-padded width), the GEMM peer of both tables.
void blasGemm(const Weight &w, const float *x, int64_t M, int64_t K, int64_t N, float *y) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(N), int(K), 1.0f, x, int(K), w.kn.data(), int(N),
              0.0f, y, int(N));
}

Weight makeWeight(const Shape &s, uint64_t seed, bool withNK, dense::Storage storage) {
  Weight w;
  const int64_t K = s.in, N = s.out, Np = dense::paddedCols(N);
  w.kn.resize(static_cast<size_t>(K * Np));
  if (storage == dense::Storage::MXFP4) {
    // Random codes and exponents as Hugging Face packs them; OpenBLAS gets the values xf stores.
    const int64_t groups = K / 32;
    std::vector<uint8_t> blocks(static_cast<size_t>(N * groups * 16)), scales(static_cast<size_t>(N * groups));
    std::mt19937_64 rng(seed);
    for (uint8_t &b : blocks)
      b = static_cast<uint8_t>(rng());
    for (uint8_t &s : scales)
      s = static_cast<uint8_t>(118 + rng() % 7);
    w.xf.assignMxfp4(blocks.data(), scales.data(), N, K, nullptr);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < Np; ++n)
        w.kn[static_cast<size_t>(k * Np + n)] = w.xf.weight(n, k);
  } else {
    fillRandom(w.kn.data(), K * Np, seed);
  }
  if (storage == dense::Storage::I8) {
    // Quantized as --dot int8 stores them; OpenBLAS gets the values xf stores (codes times scales), so that
    // only the activations' per-call quantization separates the two.
    w.xf.assign(w.kn.data(), Np, K, /*transposed=*/true, nullptr, dense::Storage::F32);
    w.xf.quantizeForDot();
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < Np; ++n)
        w.kn[static_cast<size_t>(k * Np + n)] = w.xf.weight(n, k);
  }
  if (storage == dense::Storage::BF16 || storage == dense::Storage::F16)
    for (float &v : w.kn)
      v = dense::fromStorage16(dense::toStorage16(v, storage), storage);
  for (int64_t k = 0; k < K; ++k) // zero the padding columns (none at these shapes)
    std::fill(w.kn.begin() + k * Np + N, w.kn.begin() + (k + 1) * Np, 0.0f);
  // Linear::assign takes [in, out] with row stride `out`: give it the padded width, then fix the sizes.
  if (storage != dense::Storage::MXFP4 && storage != dense::Storage::I8)
    w.xf.assign(w.kn.data(), Np, K, /*transposed=*/true, nullptr, storage);
  w.xf.out = N;
  if (withNK) {
    w.nk.resize(static_cast<size_t>(N * K));
    constexpr int64_t B = 64;
    for (int64_t k0 = 0; k0 < K; k0 += B)
      for (int64_t n0 = 0; n0 < N; n0 += B)
        for (int64_t k = k0; k < std::min(k0 + B, K); ++k)
          for (int64_t n = n0; n < std::min(n0 + B, N); ++n)
            w.nk[n * K + k] = w.kn[k * Np + n];
  }
  return w;
}

struct Row {
  std::string name;
  double xf = 0, blas = 0, blasNK = 0; // seconds per call
  double flops = 0, bytes = 0, xfBytes = 0, error = 0;
};

void printHeader(bool withNK) {
  std::printf("%-31s %5s %9s %9s %8s %9s %9s %8s %9s", "shape (K->N)", "M", "xf ms", "xf GF/s", "xf GB/s",
              "blas ms", "blas GF/s", "blas GB/s", "xf %blas");
  if (withNK)
    std::printf(" %10s %8s %10s", "blasNK ms", "NK GB/s", "xf %blasNK");
  std::printf(" %9s\n", "rel.err");
}

void printRow(const Row &r, int64_t m, bool withNK) {
  std::printf("%-31s %5lld %9.3f %9.1f %8.1f %9.3f %9.1f %8.1f %8.1f%%", r.name.c_str(), (long long)m, r.xf * 1e3,
              r.flops / r.xf * 1e-9, r.xfBytes / r.xf * 1e-9, r.blas * 1e3, r.flops / r.blas * 1e-9,
              r.bytes / r.blas * 1e-9, 100.0 * r.blas / r.xf);
  if (withNK)
    std::printf(" %10.3f %8.1f %9.1f%%", r.blasNK * 1e3, r.bytes / r.blasNK * 1e-9, 100.0 * r.blasNK / r.xf);
  std::printf(" %9.2e\n", r.error);
  std::fflush(stdout);
}

bool selected(const Options &o, const Shape &s) { return o.only.empty() || o.only == s.model; }

} // namespace

int main(int argc, char **argv) {
  Options o = parseOptions(argc, argv);
  // The ceiling the GEMM tables are read against (compute_peak.h), measured before any pool's threads exist
  // (OpenBLAS's spin after their first job and would share the cores).
  xf::bench::ComputePeak peak = xf::bench::measureComputePeak(kThreads);
  ThreadPool pool(kThreads);
  dense::ScopedPool scoped(pool);
  int defaultBlasThreads = openblas_get_num_threads();
  openblas_set_num_threads(kThreads);

  std::printf("xf dense kernels (Halide, runtime/cpu/DenseOps.cpp) vs OpenBLAS %s (%s kernels), fp32\n",
              OPENBLAS_VERSION, openblas_get_corename());
  std::printf("threads: xf ThreadPool %u; OpenBLAS %d (its default here: %d)\n", pool.numThreads(),
              openblas_get_num_threads(), defaultBlasThreads);
  if (const char *core = std::getenv("OPENBLAS_CORETYPE"))
    std::printf("note: OPENBLAS_CORETYPE=%s is set: OpenBLAS runs a forced, older kernel\n", core);
  std::printf("best of up to %d measurements (each >= 20 ms of back-to-back calls) after a warm-up\n", o.runs);
  if (peak.fmaGflops > 0) {
    std::printf("instruction peak on %u threads (12 independent chains each): vfmadd231ps zmm %.1f GF/s", kThreads,
                peak.fmaGflops);
    if (peak.bf16Gflops > 0)
      std::printf(", vdpbf16ps zmm %.1f GF/s", peak.bf16Gflops);
    if (peak.int8Gops > 0)
      std::printf(", vpdpbusd zmm %.1f GOP/s", peak.int8Gops);
    std::printf("\n");
  }
  const double weightBytes = o.xfWeights == dense::Storage::F32     ? 4.0
                             : o.xfWeights == dense::Storage::MXFP4 ? 0.625
                             : o.xfWeights == dense::Storage::I8    ? 1.0
                                                                    : 2.0;
  // int8 weights: the activations are quantized per call, which the comparison with OpenBLAS sees.
  const double tolerance = o.xfWeights == dense::Storage::I8 ? kInt8Tolerance : kTolerance;
  if (!o.dotOnly) {
    std::printf("xf weights stored as %s%s\n", dense::storageName(o.xfWeights),
                o.xfWeights == dense::Storage::F32 ? "" : " (OpenBLAS: the same values in f32)");
    std::printf("GF/s = 2*M*K*N / time; GB/s = (%g*K*N (xf), 4*K*N (blas) + 4*(M*K + M*N)) / time; xf %%blas = "
                "blas time / xf time\n",
                weightBytes);
  }
  bool ok = true;

  // GEMM, M = 512.
  if (!o.dotOnly) {
    if (o.rows)
      std::printf("\nGEMM, M = %lld for every shape (--rows), same weights: xf in its 64-column panels (%s), "
                  "OpenBLAS as [K, N]\n",
                  (long long)o.rows,
                  o.xfWeights == dense::Storage::MXFP4
                      ? (o.rows < dense::kMxfp4GemmRows ? "the MXFP4 GEMV, tiles of up to 4 rows" : "the MXFP4 GEMM")
                  : o.xfWeights == dense::Storage::I8
                      ? (o.rows < dense::kMinRows ? "the int8 GEMM's 1-row form" : "the int8 GEMM's 6-row tiles")
                  : dense::runsSkinny(o.xfWeights, o.rows) ? "the skinny GEMM's 4-row tiles"
                                                           : "the GEMM's 6-row tiles");
    else
      std::printf("\nGEMM, M = %lld (prefill; an MoE expert: its share of %lld tokens), same weights: xf in its "
                  "64-column panels, OpenBLAS as [K, N]\n",
                  (long long)kPrefillRows, (long long)kPrefillRows);
    printHeader(false);
  }
  for (const Shape &s : kShapes) {
    if (!selected(o, s) || o.dotOnly)
      continue;
    Weight w = makeWeight(s, 1, false, o.xfWeights);
    const dense::Linear &l = w.xf;
    const int64_t M = o.rows ? o.rows : s.rows, K = s.in, N = l.outPadded;
    std::vector<float> x(static_cast<size_t>(M * K)), y(static_cast<size_t>(M * N)), yb(y.size());
    fillRandom(x.data(), M * K, 2);
    auto xf = [&](int64_t) { dense::linear(l, x.data(), K, M, y.data(), N); };
    auto blas = [&](int64_t) { blasGemm(w, x.data(), M, K, N, yb.data()); };
    xf(0);
    blas(0);
    Row r;
    r.name = s.name;
    r.error = relativeError(y.data(), yb.data(), M, s.out, N, N);
    ok &= r.error <= tolerance;
    r.flops = 2.0 * M * K * s.out;
    r.bytes = 4.0 * (double(K) * s.out + M * K + M * s.out);
    r.xfBytes = weightBytes * double(K) * s.out + 4.0 * (M * K + M * s.out);
    r.blas = bestSeconds(o, blas);
    settle();
    r.xf = bestSeconds(o, xf);
    printRow(r, M, false);
  }

  // GEMM, M = 512, multiplying in bf16.
  if (o.dot && !dense::bf16DotSupported()) {
    std::printf("\nGEMM with bf16 and int8 dot products: skipped, this CPU has no AVX512-BF16\n");
  } else if (o.dot) {
    std::printf("\nGEMM, M = %lld%s, weights rounded to bf16: xf float32 GEMM on them stored bf16 (f32), xf "
                "bf16-dot GEMM (dot: --dot bf16), xf int8-dot GEMM on them quantized (i8: --dot int8), OpenBLAS "
                "sgemm on the bf16 values (blas)\n",
                (long long)(o.rows ? o.rows : kPrefillRows),
                o.rows ? " for every shape (--rows)" : " (prefill; an MoE expert: its share)");
    std::printf("the four measured in turns (each round: blas, f32, dot, i8), best of up to %d rounds\n", o.runs);
    std::printf("GF/s = 2*M*K*N / time (i8: operations on int8 codes); dot/blas and i8/blas = time ratios "
                "(speedups over OpenBLAS); rel.err = max |xf - blas| / max |blas| (dot; i8)\n");
    std::printf("%-31s %5s %9s %9s %9s %9s %9s %9s %9s %9s %8s %8s %9s %9s\n", "shape (K->N)", "M", "f32 ms",
                "f32 GF/s", "dot ms", "dot GF/s", "i8 ms", "i8 GF/s", "blas ms", "blas GF/s", "dot/blas", "i8/blas",
                "dot err", "i8 err");
    for (const Shape &s : kShapes) {
      if (!selected(o, s))
        continue;
      Weight w = makeWeight(s, 1, false, dense::Storage::BF16);
      dense::Linear dot = w.xf;
      dot.pairForDot(); // as the model runtime stores them for --dot bf16
      dense::Linear int8 = w.xf;
      int8.quantizeForDot(); // and for --dot int8
      const int64_t M = o.rows ? o.rows : s.rows, K = s.in, N = w.xf.outPadded;
      std::vector<float> x(static_cast<size_t>(M * K)), y(static_cast<size_t>(M * N)), yd(y.size()), yb(y.size());
      fillRandom(x.data(), M * K, 2);
      auto f32 = [&](int64_t) { dense::linear(w.xf, x.data(), K, M, y.data(), N); };
      auto bf16 = [&](int64_t) { dense::linear(dot, x.data(), K, M, yd.data(), N); };
      std::vector<float> yi(y.size());
      auto i8 = [&](int64_t) { dense::linear(int8, x.data(), K, M, yi.data(), N); };
      auto blas = [&](int64_t) { blasGemm(w, x.data(), M, K, N, yb.data()); };
      f32(0);
      bf16(0);
      i8(0);
      blas(0);
      const double error = relativeError(yd.data(), yb.data(), M, s.out, N, N);
      const double error8 = relativeError(yi.data(), yb.data(), M, s.out, N, N);
      ok &= error <= kDotTolerance && error8 <= kInt8Tolerance &&
            relativeError(y.data(), yb.data(), M, s.out, N, N) <= kTolerance;
      const double flops = 2.0 * M * K * s.out;
      const std::vector<double> t = bestSecondsInterleaved(o, {blas, f32, bf16, i8});
      const double tb = t[0], tf = t[1], td = t[2], ti = t[3];
      std::printf("%-31s %5lld %9.3f %9.1f %9.3f %9.1f %9.3f %9.1f %9.3f %9.1f %7.2fx %7.2fx %9.2e %9.2e\n", s.name,
                  (long long)M, tf * 1e3, flops / tf * 1e-9, td * 1e3, flops / td * 1e-9, ti * 1e3,
                  flops / ti * 1e-9, tb * 1e3, flops / tb * 1e-9, tb / td, tb / ti, error, error8);
      std::fflush(stdout);
    }
  }

  // GEMV, M = 1: weights from DRAM (rotating copies), then hot.
  for (bool hot : {false, true}) {
    if ((hot && !o.hot) || o.dotOnly)
      continue;
    if (!hot)
      std::printf("\nGEMV, M = 1 (decode), weights from DRAM: each call reads the next of n copies (>= %lld MiB "
                  "in all)\n",
                  (long long)(kColdBytes >> 20));
    else
      std::printf("\nGEMV, M = 1, one copy of the weights repeated (hot in the 32 MiB L3), matrices < %lld MiB\n",
                  (long long)(kHotMaxBytes >> 20));
    std::printf("blasNK = OpenBLAS on W [N, K] (nn.Linear layout, RowMajor NoTrans), same values\n");
    printHeader(true);
    for (const Shape &s : kShapes) {
      if (!selected(o, s))
        continue;
      const int64_t K = s.in, N = dense::paddedCols(s.out);
      const int64_t bytes = static_cast<int64_t>(weightBytes * double(K) * N); // xf's copy: the cold set is for it
      if (hot && bytes >= kHotMaxBytes)
        continue;
      const int64_t copies = hot ? 1 : std::max<int64_t>(1, (kColdBytes + bytes - 1) / bytes);
      std::vector<Weight> ws;
      for (int64_t c = 0; c < copies; ++c)
        ws.push_back(makeWeight(s, 10 + c, true, o.xfWeights));
      std::vector<float> x(static_cast<size_t>(K)), y(static_cast<size_t>(N)), yb(y.size()), yn(y.size());
      fillRandom(x.data(), K, 3);
      auto xf = [&](int64_t i) { dense::linear(ws[i % copies].xf, x.data(), K, 1, y.data(), N); };
      auto blas = [&](int64_t i) {
        cblas_sgemv(CblasRowMajor, CblasTrans, int(K), int(N), 1.0f, ws[i % copies].kn.data(), int(N), x.data(), 1,
                    0.0f, yb.data(), 1);
      };
      auto blasNK = [&](int64_t i) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, int(s.out), int(K), 1.0f, ws[i % copies].nk.data(), int(K),
                    x.data(), 1, 0.0f, yn.data(), 1);
      };
      Row r;
      r.name = s.name;
      for (int64_t c = 0; c < copies; ++c) {
        xf(c);
        blas(c);
        blasNK(c);
        r.error = std::max({r.error, relativeError(y.data(), yb.data(), 1, s.out, N, N),
                            relativeError(yn.data(), yb.data(), 1, s.out, N, N)});
      }
      ok &= r.error <= tolerance;
      r.flops = 2.0 * K * s.out;
      r.bytes = 4.0 * (double(K) * s.out + K + s.out);
      r.xfBytes = weightBytes * double(K) * s.out + 4.0 * (K + s.out);
      r.blas = bestSeconds(o, blas);
      r.blasNK = bestSeconds(o, blasNK);
      settle();
      r.xf = bestSeconds(o, xf);
      r.name += hot ? "" : " x" + std::to_string(copies);
      printRow(r, 1, true);
    }
  }
  // The fixed cost every parallel Halide loop pays: handing the job to the worker and waiting for it. Back to
  // back, the worker is still spinning from the previous call; after a pause longer than its spin window
  // (ThreadPool::kSpinMicros) it sleeps and has to be woken, as every call did before it spun.
  if (!o.dotOnly) {
    std::atomic<int64_t> items{0};
    auto call = [&] { pool.parallelFor(kThreads, 1, [&](int64_t begin, int64_t end) { items += end - begin; }); };
    double seconds = bestSeconds(o, [&](int64_t) { call(); });
    std::printf("\nThreadPool::parallelFor over %u items of no work: %.2f us per call back to back (worker spinning)\n",
                kThreads, seconds * 1e6);
    using Clock = std::chrono::steady_clock;
    double best = INFINITY;
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(std::chrono::microseconds(10 * ThreadPool::kSpinMicros));
      Clock::time_point start = Clock::now();
      call();
      best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
    }
    std::printf("ThreadPool::parallelFor over %u items of no work: %.2f us per call after a %lld us pause (wakes "
                "the sleeping worker), best of 50\n",
                kThreads, best * 1e6, (long long)(10 * ThreadPool::kSpinMicros));
  }
  std::printf("\nchecks (rel.err <= %g before timing; bf16 dot <= %g, int8 dot <= %g): %s\n", tolerance,
              kDotTolerance, kInt8Tolerance, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
