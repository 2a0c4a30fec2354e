//===- variant_bench.cpp - attention variants against plain attention -----===//
//
// In one run: the plain causal kernel and every variant kernel on the same inputs (B=1 H=32 Hkv=8 D=128,
// S=T), best of N after a warm-up, then mixture-of-heads time against the fraction of active
// (token, head) pairs. Overhead = variant time / plain time - 1.
//
//===----------------------------------------------------------------------===//
#include "xfrt.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "xf-variant-bench: error: %s\n", message.c_str());
  std::exit(1);
}

void check(xfrt_status status, const std::string &what) {
  if (status) {
    std::string message = xfrt_status_message(status);
    xfrt_status_free(status);
    fail(what + ": " + message);
  }
}

struct Inputs {
  int64_t seq;
  std::map<std::string, std::vector<float>> data;
};

/// Runs `module`'s kernel `attn` on inputs shaped for it (creating variant operands on first use) and
/// returns the best time in seconds. `gateFraction` makes the MoH gates active on that share of pairs.
double timeKernel(xfrt_context *context, const std::string &module, Inputs &in, int runs, double gateFraction = 1.0) {
  xfrt_module *m = nullptr;
  check(xfrt_module_open(module.c_str(), &m), "opening " + module);
  const int64_t S = in.seq, H = 32;
  int64_t n = xfrt_kernel_num_operands(m, "attn");
  std::vector<xfrt_tensor> operands;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (int64_t i = 0; i < n; ++i) {
    std::string name = xfrt_kernel_operand_name(m, "attn", i);
    std::vector<int64_t> shape;
    if (name == "query" || name == "output")
      shape = {1, H, S, 128};
    else if (name == "key" || name == "value")
      shape = {1, 8, S, 128};
    else if (name == "sinks" || name == "alpha_ma")
      shape = {H};
    else
      shape = {1, H, S};
    size_t count = 1;
    for (int64_t d : shape)
      count *= d;
    std::string key = name == "gates" ? "gates" + std::to_string(gateFraction) : name;
    std::vector<float> &values = in.data[key];
    if (values.size() != count) {
      values.resize(count);
      for (float &v : values)
        v = 0.5f * normal(rng);
      if (name == "gates") {
        // Each (token, head) pair is active with probability gateFraction.
        std::bernoulli_distribution active(gateFraction);
        for (float &v : values)
          v = active(rng) ? 1.0f : 0.0f;
      }
    }
    xfrt_tensor t{};
    t.data = values.data();
    t.rank = static_cast<int32_t>(shape.size());
    std::copy(shape.begin(), shape.end(), t.shape);
    operands.push_back(t);
  }
  double best = 1e30;
  for (int r = 0; r < runs + 1; ++r) {
    auto start = std::chrono::steady_clock::now();
    check(xfrt_kernel_run(context, m, "attn", operands.data(), n), "running " + module);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r > 0)
      best = std::min(best, seconds);
  }
  xfrt_module_close(m);
  return best;
}

} // namespace

int main(int argc, char **argv) {
  int64_t seq = 2048;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seq") && i + 1 < argc)
      seq = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = std::atoi(argv[++i]);
    else
      fail(std::string("unknown argument '") + argv[i] + "' (use --seq N --runs N)");
  }
  xfrt_context *context = nullptr;
  check(xfrt_context_create(0, &context), "creating the context");
  std::printf("variants at B=1 H=32 Hkv=8 S=T=%lld D=128 causal, %d threads, best of %d\n", (long long)seq,
              xfrt_context_num_threads(context), runs);
  Inputs inputs{seq, {}};
  const std::string dir = XF_BENCH_MODULE_DIR;
  double flops = 4.0 * 32 * seq * seq * 128 * 0.5;
  double plain = timeKernel(context, dir + "/variant_plain.so", inputs, runs);
  std::printf("%-10s %9s %10s %9s\n", "variant", "ms", "GFLOP/s", "overhead");
  std::printf("%-10s %9.2f %10.1f %9s\n", "plain", plain * 1e3, flops / plain / 1e9, "-");
  for (const char *name : {"sinks", "streaming", "act", "gains", "emphasis", "affine", "softcap", "moh"}) {
    double t = timeKernel(context, dir + "/variant_" + name + ".so", inputs, runs);
    std::printf("%-10s %9.2f %10.1f %8.1f%%\n", name, t * 1e3, flops / t / 1e9, (t / plain - 1.0) * 100.0);
  }
  std::printf("\nmixture of heads: time against the active fraction of (token, head) pairs\n");
  std::printf("%-8s %9s %12s\n", "active", "ms", "vs plain");
  for (double fraction : {1.0, 0.5, 0.25, 0.125}) {
    double t = timeKernel(context, dir + "/variant_moh.so", inputs, runs, fraction);
    std::printf("%-8.3f %9.2f %11.2fx\n", fraction, t * 1e3, t / plain);
  }
  xfrt_context_destroy(context);
  return 0;
}
