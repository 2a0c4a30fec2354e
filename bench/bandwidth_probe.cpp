//===- bandwidth_probe.cpp - decode attention against the memory bandwidth -===//
//
// xf-bandwidth-probe [--runs N] [--contexts T1,T2,...] [--module LIB.so] [--paired N]
//
// 1. Read bandwidth of this machine: 2 threads sum a 1 GiB float array (each its half), best of --runs; each
//    thread reads its half as 1 or 4 sequential streams side by side, with or without a software prefetch
//    1 KiB ahead (a plain one-stream sum leaves a third of the bandwidth unused here), and the best of the
//    four is the probe.
// 2. The decode attention kernel (the causal H=32 Hkv=8 D=128 kernel xfc compiles for xf-attention-bench,
//    run through libxfrt on a 2-thread context) at S = 1 query and long contexts T: achieved GB/s = bytes of
//    K and V per call (2 * Hkv * T * D * 4) / time, against the probe. Each call reads the next of several
//    K/V copies (>= 256 MiB in all), so K and V come from DRAM as they do when a decode step walks every
//    layer's cache. The same kernel at S = 32 (one full query block, same K/V bytes) shows how much of the
//    S = 1 time is the query block's fixed compute rather than memory; S = 8 is the largest S the CPU
//    lowering's decode form takes. --module times another build of the same kernel (e.g. one compiled
//    before the decode form, for before/after figures).
//    At S = 1 the same kernel compiled for a bf16 KV cache (attn_causal_kv16: bf16 K and V, rounded copies
//    of the same data, widened in registers, f32 arithmetic) reads half the bytes; its row gives its time,
//    its GB/s of bf16 bytes, and the speedup over the f32 kernel. Its results are checked against the
//    float64 reference on the rounded K and V.
// 3. For scale, a plain C++ GQA decode (not xf: each thread takes kv heads, reads K and V once for the 4
//    query heads that share them, one pass of scores, softmax, one pass of P V), same data, same threads.
//
// 4. --paired N: this machine's bandwidth moves between runs minutes apart (31 to 56 GB/s on the same VM in
//    one hour), so one probe figure at the start says little about the kernel's minutes later. N rounds of
//    (probe, kernel at S = 1) back to back, per context, give the kernel's share of the probe measured
//    within a second of each other, and their median.
//
// Results are checked against a float64 reference before anything is timed.
//
//===----------------------------------------------------------------------===//

#include "xfrt.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int64_t kHeads = 32, kKvHeads = 8, kHeadDim = 128, kGroup = kHeads / kKvHeads;
constexpr int kThreads = 2;
constexpr int64_t kProbeBytes = 1ll << 30;
constexpr int64_t kColdBytes = 256ll << 20;
constexpr double kTolerance = 1e-4;

using Clock = std::chrono::steady_clock;
using xfrt::messageOf;
using xfrt::tensorOf;

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "xf-bandwidth-probe: %s\n", message.c_str());
  std::exit(1);
}

void fillRandom(float *data, int64_t count, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < count; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    data[i] = static_cast<float>(static_cast<int32_t>(s >> 32)) * (1.0f / 2147483648.0f);
  }
}

/// 16 floats (one AVX-512 register when built for such a host; the compiler splits it otherwise).
typedef float Vec16 __attribute__((vector_size(64), aligned(4)));

/// Sum of data[0, n) read as `Streams` equal contiguous parts walked side by side (several sequential
/// streams keep more cache-line misses in flight than one), two vector accumulators per stream, so no add
/// chain limits the loop; with `Ahead` > 0 a software prefetch runs that many floats ahead of each stream.
template <int Streams, int Ahead>
float sumStreams(const float *data, int64_t n) {
  const int64_t part = n / Streams / 32 * 32;
  Vec16 acc[Streams][2] = {};
  for (int64_t i = 0; i < part; i += 32)
    for (int s = 0; s < Streams; ++s) {
      if (Ahead > 0)
        __builtin_prefetch(data + s * part + i + Ahead);
      acc[s][0] += *reinterpret_cast<const Vec16 *>(data + s * part + i);
      acc[s][1] += *reinterpret_cast<const Vec16 *>(data + s * part + i + 16);
    }
  float total = 0;
  for (int64_t i = Streams * part; i < n; ++i)
    total += data[i];
  for (int s = 0; s < Streams; ++s)
    for (int j = 0; j < 16; ++j)
      total += acc[s][0][j] + acc[s][1][j];
  return total;
}

struct ProbeKind {
  const char *name;
  float (*sum)(const float *, int64_t);
};
const ProbeKind kProbes[] = {
    {"1 stream per thread", sumStreams<1, 0>},
    {"4 streams per thread", sumStreams<4, 0>},
    {"1 stream, prefetch 1 KiB ahead", sumStreams<1, 256>},
    {"4 streams, prefetch 1 KiB ahead", sumStreams<4, 256>},
};

/// Best GB/s of `threads` threads each summing a contiguous share of `data` with `kind`.
double probe(const std::vector<float> &data, int threads, const ProbeKind &kind, int runs, float &sink) {
  double best = 0;
  const int64_t n = static_cast<int64_t>(data.size());
  for (int run = 0; run < runs + 1; ++run) {
    std::vector<float> partial(threads);
    std::vector<std::thread> pool;
    Clock::time_point start = Clock::now();
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        int64_t begin = n * t / threads, end = n * (t + 1) / threads;
        partial[t] = kind.sum(data.data() + begin, end - begin);
      });
    for (std::thread &th : pool)
      th.join();
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (float p : partial)
      sink += p;
    if (run > 0) // the first run is a warm-up
      best = std::max(best, double(n) * 4 / seconds * 1e-9);
  }
  return best;
}

/// Best seconds per call of body(i) over `runs` measurements of >= 50 ms each, after a warm-up.
double bestSeconds(int runs, const std::function<void(int64_t)> &body) {
  body(0);
  Clock::time_point start = Clock::now();
  body(1);
  double one = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t batch = std::max<int64_t>(1, static_cast<int64_t>(0.05 / std::max(one, 1e-9)));
  double best = INFINITY;
  int64_t call = 2;
  for (int run = 0; run < runs; ++run) {
    start = Clock::now();
    for (int64_t i = 0; i < batch; ++i)
      body(call++);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count() / batch);
  }
  return best;
}

/// Causal attention of the newest S of T positions, q [H, S, D], k/v [Hkv, T, D], in float64.
std::vector<double> reference(const float *q, const float *k, const float *v, int64_t S, int64_t T) {
  std::vector<double> out(kHeads * S * kHeadDim), z(T);
  const double scale = 1.0 / std::sqrt(double(kHeadDim));
  for (int64_t h = 0; h < kHeads; ++h)
    for (int64_t i = 0; i < S; ++i) {
      const float *qi = q + (h * S + i) * kHeadDim;
      const float *kh = k + (h / kGroup) * T * kHeadDim, *vh = v + (h / kGroup) * T * kHeadDim;
      int64_t visible = T - S + i + 1;
      double m = -INFINITY, l = 0;
      for (int64_t j = 0; j < visible; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < kHeadDim; ++d)
          dot += double(qi[d]) * kh[j * kHeadDim + d];
        z[j] = dot * scale;
        m = std::max(m, z[j]);
      }
      double *o = &out[(h * S + i) * kHeadDim];
      for (int64_t j = 0; j < visible; ++j) {
        double p = std::exp(z[j] - m);
        l += p;
        for (int64_t d = 0; d < kHeadDim; ++d)
          o[d] += p * vh[j * kHeadDim + d];
      }
      for (int64_t d = 0; d < kHeadDim; ++d)
        o[d] /= l;
    }
  return out;
}

double maxError(const std::vector<float> &got, const std::vector<double> &want) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double d = std::abs(double(got[i]) - want[i]);
    worst = std::max(worst, std::isnan(d) ? INFINITY : d);
  }
  return worst;
}

/// The plain decode (S = 1) for kv heads [begin, end): scores for the group's 4 query heads in one pass
/// over K, softmax, one pass over V.
void plainDecode(const float *q, const float *k, const float *v, int64_t T, float *out, int64_t begin,
                 int64_t end, std::vector<float> &scores) {
#pragma clang fp reassociate(on) // lets the dot products vectorize along d
  const float scale = 1.0f / std::sqrt(float(kHeadDim));
  scores.resize(kGroup * T);
  for (int64_t g = begin; g < end; ++g) {
    const float *kg = k + g * T * kHeadDim, *vg = v + g * T * kHeadDim;
    const float *qg = q + g * kGroup * kHeadDim;
    for (int64_t j = 0; j < T; ++j) {
      const float *kj = kg + j * kHeadDim;
      for (int64_t r = 0; r < kGroup; ++r) {
        float dot = 0;
        for (int64_t d = 0; d < kHeadDim; ++d)
          dot += qg[r * kHeadDim + d] * kj[d];
        scores[r * T + j] = dot * scale;
      }
    }
    float inv[kGroup];
    for (int64_t r = 0; r < kGroup; ++r) {
      float *s = &scores[r * T];
      float m = *std::max_element(s, s + T), l = 0;
      for (int64_t j = 0; j < T; ++j)
        l += s[j] = std::exp(s[j] - m);
      inv[r] = 1.0f / l;
    }
    float acc[kGroup][kHeadDim] = {};
    for (int64_t j = 0; j < T; ++j) {
      const float *vj = vg + j * kHeadDim;
      for (int64_t r = 0; r < kGroup; ++r) {
        float p = scores[r * T + j];
        for (int64_t d = 0; d < kHeadDim; ++d)
          acc[r][d] += p * vj[d];
      }
    }
    for (int64_t r = 0; r < kGroup; ++r)
      for (int64_t d = 0; d < kHeadDim; ++d)
        out[(g * kGroup + r) * kHeadDim + d] = acc[r][d] * inv[r];
  }
}

} // namespace

int main(int argc, char **argv) {
  int runs = 5;
  std::vector<int64_t> contexts{4096, 16384};
  std::string modulePath = XF_BENCH_MODULE;
  int paired = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--runs" && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--contexts" && i + 1 < argc) {
      contexts.clear();
      for (char *p = argv[++i]; *p;) {
        contexts.push_back(std::strtoll(p, &p, 10));
        if (*p == ',')
          ++p;
      }
    } else if (arg == "--module" && i + 1 < argc) {
      modulePath = argv[++i];
    } else if (arg == "--paired" && i + 1 < argc) {
      paired = std::max(0, std::atoi(argv[++i]));
    } else if (arg == "-h" || arg == "--help") {
      std::printf("usage: xf-bandwidth-probe [--runs N] [--contexts T1,T2,...] [--module LIB.so] [--paired N]\n");
      return 0;
    } else
      die("unknown argument '" + arg + "' (try --help)");
  }

  std::printf("read bandwidth probe: sum over a %lld MiB float array, each thread its contiguous half, read as "
              "1 or 4 sequential streams side by side, with and without software prefetch; best of %d after a "
              "warm-up\n",
              (long long)(kProbeBytes >> 20), runs);
  float sink = 0;
  double probe2 = 0;
  std::vector<float> data(kProbeBytes / 4);
  fillRandom(data.data(), static_cast<int64_t>(data.size()), 7);
  for (const ProbeKind &kind : kProbes) {
    double two = probe(data, kThreads, kind, runs, sink), one = probe(data, 1, kind, runs, sink);
    std::printf("  %-32s 2 threads %5.1f GB/s   (1 thread %5.1f GB/s)\n", kind.name, two, one);
    probe2 = std::max(probe2, two);
  }
  // The probe again, 2 threads only (a --paired round).
  auto probeNow = [&] {
    double best = 0;
    for (const ProbeKind &kind : kProbes)
      best = std::max(best, probe(data, kThreads, kind, runs, sink));
    return best;
  };
  if (!paired)
    data = std::vector<float>(); // the K/V copies need the memory more
  std::printf("  probe (best with 2 threads): %.1f GB/s   [checksum %g]\n\n", probe2, sink);

  xfrt_context *rawContext = nullptr;
  if (std::string m = messageOf(xfrt_context_create(kThreads, &rawContext)); !m.empty())
    die(m);
  xfrt::ContextPtr context(rawContext);
  xfrt_module *rawModule = nullptr;
  if (std::string m = messageOf(xfrt_module_open(modulePath.c_str(), &rawModule)); !m.empty())
    die(m);
  xfrt::ModulePtr module(rawModule);
  const char *kernel = "attn_causal";

  std::printf("decode attention: kernel %s of %s, H=%lld Hkv=%lld D=%lld causal fp32, %d threads, best of %d\n",
              kernel, modulePath.c_str(), (long long)kHeads, (long long)kKvHeads, (long long)kHeadDim, kThreads, runs);
  std::printf("bytes per call = K + V = 2*Hkv*T*D*4; each call reads the next of n K/V copies (>= %lld MiB)\n",
              (long long)(kColdBytes >> 20));
  std::printf("%7s %-26s %3s %6s %10s %8s %10s %10s\n", "T", "kernel", "S", "copies", "ms/call", "GB/s",
              "% probe", "max err");
  bool ok = true;
  for (int64_t T : contexts) {
    const int64_t kvFloats = kKvHeads * T * kHeadDim, kvBytes = 2 * kvFloats * 4;
    const int64_t copies = std::max<int64_t>(1, (kColdBytes + kvBytes - 1) / kvBytes);
    std::vector<std::vector<float>> ks(copies, std::vector<float>(kvFloats)), vs(copies, std::vector<float>(kvFloats));
    for (int64_t c = 0; c < copies; ++c) {
      fillRandom(ks[c].data(), kvFloats, 100 + 2 * c);
      fillRandom(vs[c].data(), kvFloats, 101 + 2 * c);
    }
    // The bf16 cache: the same rows rounded, as many copies (half the bytes each).
    std::vector<std::vector<uint16_t>> ks16(copies, std::vector<uint16_t>(kvFloats)),
        vs16(copies, std::vector<uint16_t>(kvFloats));
    std::vector<float> k16(kvFloats), v16(kvFloats); // copy 0 widened back, for the reference
    for (int64_t c = 0; c < copies; ++c)
      for (int64_t e = 0; e < kvFloats; ++e) {
        ks16[c][e] = xfrt::toBf16(ks[c][e]);
        vs16[c][e] = xfrt::toBf16(vs[c][e]);
        if (c == 0) {
          k16[e] = xfrt::fromBf16(ks16[c][e]);
          v16[e] = xfrt::fromBf16(vs16[c][e]);
        }
      }
    for (int64_t S : {int64_t(1), int64_t(8), int64_t(32)}) {
      std::vector<float> q(kHeads * S * kHeadDim), out(q.size(), NAN);
      fillRandom(q.data(), static_cast<int64_t>(q.size()), 5);
      // Scores of O(1): scale q up so the softmax is not flat (uniform [-1,1) entries give |q.k| ~ 4).
      for (float &x : q)
        x *= 2.0f;
      std::vector<int64_t> qShape{1, kHeads, S, kHeadDim}, kvShape{1, kKvHeads, T, kHeadDim};
      auto call = [&](int64_t i) {
        int64_t c = i % copies;
        xfrt_tensor operands[] = {tensorOf(q, qShape), tensorOf(ks[c], kvShape), tensorOf(vs[c], kvShape),
                                  tensorOf(out, qShape)};
        if (std::string m = messageOf(xfrt_kernel_run(context.get(), module.get(), kernel, operands, 4));
            !m.empty())
          die(m);
      };
      auto call16 = [&](int64_t i) {
        int64_t c = i % copies;
        xfrt_tensor operands[] = {tensorOf(q, qShape), tensorOf(ks16[c].data(), kvShape, XFRT_BF16),
                                  tensorOf(vs16[c].data(), kvShape, XFRT_BF16), tensorOf(out, qShape)};
        if (std::string m = messageOf(xfrt_kernel_run(context.get(), module.get(), "attn_causal_kv16", operands, 4));
            !m.empty())
          die(m);
      };
      call(0);
      double error = maxError(out, reference(q.data(), ks[0].data(), vs[0].data(), S, T));
      ok &= error <= kTolerance;
      double seconds = bestSeconds(runs, call);
      double gbs = double(kvBytes) / seconds * 1e-9;
      std::printf("%7lld %-26s %3lld %6lld %10.3f %8.1f %9.1f%% %10.2e\n", (long long)T, "xf attn_causal",
                  (long long)S, (long long)copies, seconds * 1e3, gbs, 100.0 * gbs / probe2, error);
      std::fflush(stdout);
      if (S == 1) {
        std::fill(out.begin(), out.end(), NAN);
        call16(0);
        double error16 = maxError(out, reference(q.data(), k16.data(), v16.data(), S, T));
        ok &= error16 <= kTolerance;
        double seconds16 = bestSeconds(runs, call16), gbs16 = double(kvBytes / 2) / seconds16 * 1e-9;
        std::printf("%7lld %-26s %3lld %6lld %10.3f %8.1f %9.1f%% %10.2e   %.2fx the f32 kernel\n", (long long)T,
                    "xf attn_causal_kv16 (bf16)", (long long)S, (long long)copies, seconds16 * 1e3, gbs16,
                    100.0 * gbs16 / probe2, error16, seconds / seconds16);
        std::fflush(stdout);
      }
      if (S == 1 && paired) {
        std::vector<double> shares;
        for (int round = 0; round < paired; ++round) {
          double now = probeNow(), kernelSeconds = bestSeconds(runs, call);
          double kernelGbs = double(kvBytes) / kernelSeconds * 1e-9;
          shares.push_back(100.0 * kernelGbs / now);
          double seconds16 = bestSeconds(runs, call16);
          std::printf("%7lld   paired round %-3d probe %5.1f GB/s, xf %5.1f GB/s: %5.1f%%; bf16 KV %.3f ms, %.2fx "
                      "the f32 kernel\n",
                      (long long)T, round + 1, now, kernelGbs, shares.back(), seconds16 * 1e3,
                      kernelSeconds / seconds16);
          std::fflush(stdout);
        }
        std::sort(shares.begin(), shares.end());
        std::printf("%7lld   paired median: %.1f%% of the probe (%d rounds, %.1f-%.1f%%)\n", (long long)T,
                    shares[shares.size() / 2], paired, shares.front(), shares.back());
      }

      if (S != 1)
        continue;
      // The plain C++ decode, same data, 2 threads of 4 kv heads each.
      std::vector<std::vector<float>> scratch(kThreads);
      auto plain = [&](int64_t i) {
        int64_t c = i % copies;
        std::thread helper([&] {
          plainDecode(q.data(), ks[c].data(), vs[c].data(), T, out.data(), kKvHeads / 2, kKvHeads, scratch[1]);
        });
        plainDecode(q.data(), ks[c].data(), vs[c].data(), T, out.data(), 0, kKvHeads / 2, scratch[0]);
        helper.join();
      };
      std::fill(out.begin(), out.end(), NAN);
      plain(0);
      error = maxError(out, reference(q.data(), ks[0].data(), vs[0].data(), S, T));
      ok &= error <= kTolerance;
      seconds = bestSeconds(runs, plain);
      gbs = double(kvBytes) / seconds * 1e-9;
      std::printf("%7lld %-26s %3lld %6lld %10.3f %8.1f %9.1f%% %10.2e\n", (long long)T,
                  "plain C++ GQA decode (ref)", (long long)S, (long long)copies, seconds * 1e3, gbs,
                  100.0 * gbs / probe2, error);
      std::fflush(stdout);
    }
  }
  std::printf("\nchecks (max |out - float64 reference| <= %g): %s\n", kTolerance, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
