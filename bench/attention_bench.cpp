//===- attention_bench.cpp - xf attention against its CPU peers -----------===//
//
// xf-attention-bench [--runs N] [--budget SECONDS] [--max-seq N] [--no-torch]
//
// One table, one process: for B=1 H=32 Hkv=8 D=128 and S = T in {512, 1024, 2048, 4096}, causal and not,
// the xf kernel (compiled from a spec by xfc at build time, run through libxfrt on 2 threads) against
// PyTorch's unfused eager attention (bench/torch_attention.py, 2 threads), with OpenBLAS SGEMM on 2 threads
// as the compute ceiling. Throughput uses the FlashAttention convention, 4*B*H*S*T*D FLOPs, halved when
// causal, so numbers compare with published ones; the unfused peer does the same useful work plus waste.
//
// Timings are the best of up to --runs runs after a warm-up, stopping early once --budget seconds of timed
// runs have passed (the long shapes take seconds per run). At S = 512 both outputs are compared so the
// table never times a kernel that computes garbage; without torch a slice is checked against the oracle.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/Npy.h"
#include "test/reference/ReferenceAttention.h"
#include "xfrt.hpp"

#include <cblas.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr int64_t kBatch = 1, kHeads = 32, kKvHeads = 8, kHeadDim = 128;
constexpr int32_t kThreads = 2;
constexpr int64_t kGemmSize = 2048; // M = N = K: 17 GFLOP, the order of one mid-sized attention call
constexpr int64_t kCheckSeq = 512;
constexpr double kCheckTolerance = 1e-3;

struct Options {
  int runs = 5;
  double budgetSeconds = 10;
  int64_t maxSeq = 4096;
  bool torch = true;
};

using xfrt::messageOf;
using xfrt::tensorOf;

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "xf-attention-bench: %s\n", message.c_str());
  std::exit(1);
}

Options parseOptions(int argc, char **argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die("missing value after " + arg);
      return argv[++i];
    };
    if (arg == "--runs")
      options.runs = std::max(1, std::atoi(value().c_str()));
    else if (arg == "--budget")
      options.budgetSeconds = std::atof(value().c_str());
    else if (arg == "--max-seq")
      options.maxSeq = std::atoll(value().c_str());
    else if (arg == "--no-torch")
      options.torch = false;
    else if (arg == "-h" || arg == "--help") {
      std::printf("usage: xf-attention-bench [--runs N] [--budget SECONDS] [--max-seq N] [--no-torch]\n");
      std::exit(0);
    } else
      die("unknown argument '" + arg + "' (try --help)");
  }
  return options;
}

/// Best wall time in ms of `body` over up to options.runs runs after one warm-up.
double bestMilliseconds(const Options &options, const std::function<void()> &body) {
  using Clock = std::chrono::steady_clock;
  body();
  double best = INFINITY, spent = 0;
  for (int run = 0; run < options.runs && spent < options.budgetSeconds; ++run) {
    Clock::time_point start = Clock::now();
    body();
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::min(best, seconds);
    spent += seconds;
  }
  return best * 1e3;
}

std::vector<float> randomNormals(int64_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(count);
  for (float &value : values)
    value = normal(generator);
  return values;
}

double sgemmGflops(const Options &options) {
  openblas_set_num_threads(kThreads);
  const int n = static_cast<int>(kGemmSize);
  std::vector<float> a = randomNormals(kGemmSize * kGemmSize, 1), b = randomNormals(kGemmSize * kGemmSize, 2),
                     c(kGemmSize * kGemmSize);
  double ms = bestMilliseconds(options, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(),
                n);
  });
  return 2.0 * n * n * n / (ms * 1e6);
}

/// What one torch_attention.py run reported.
struct TorchResult {
  std::optional<double> ms;
  std::string problem; // why there is no time: "unavailable (...)" or the script's output
};

TorchResult runTorch(const Options &options, int64_t seq, bool causal, const std::string &inputs,
                     const std::string &output) {
  std::string command = std::string("'" XF_BENCH_PYTHON "' '" XF_BENCH_TORCH_SCRIPT "'") +
                        " --batch " + std::to_string(kBatch) + " --heads " + std::to_string(kHeads) +
                        " --kv-heads " + std::to_string(kKvHeads) + " --head-dim " + std::to_string(kHeadDim) +
                        " --seq-q " + std::to_string(seq) + " --seq-k " + std::to_string(seq) + " --causal " +
                        (causal ? "1" : "0") + " --runs " + std::to_string(options.runs) + " --budget " +
                        std::to_string(options.budgetSeconds) + " --threads " + std::to_string(kThreads);
  if (!inputs.empty())
    command += " --inputs '" + inputs + "' --output '" + output + "'";
  command += " 2>&1";
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe)
    return {std::nullopt, std::string("unavailable (popen: ") + std::strerror(errno) + ")"};
  std::string text;
  char line[4096];
  TorchResult result;
  while (std::fgets(line, sizeof(line), pipe)) {
    text += line;
    if (std::strncmp(line, "torch_ms=", 9) == 0)
      result.ms = std::atof(line + 9);
    else if (std::strncmp(line, "torch: unavailable", 18) == 0)
      result.problem = std::string(line + 7, std::strcspn(line + 7, "\n"));
  }
  int status = pclose(pipe);
  if (!result.ms && result.problem.empty())
    result.problem = "failed (status " + std::to_string(status) + "):\n" + text;
  return result;
}

/// Max |a - b| over all elements, NaN counting as infinite.
double maxAbsDifference(const std::vector<float> &a, const std::vector<float> &b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double difference = std::abs(double(a[i]) - double(b[i]));
    worst = std::max(worst, std::isnan(difference) ? INFINITY : difference);
  }
  return worst;
}

/// Query heads 0..3 of batch 0 read kv head 0 (group 4), so they form a self-contained H=4 Hkv=1 problem.
double maxDifferenceFromOracleSlice(const std::vector<float> &q, const std::vector<float> &k,
                                    const std::vector<float> &v, const std::vector<float> &out, int64_t seq,
                                    bool causal) {
  xf::reference::AttentionProblem problem;
  problem.heads = kHeads / kKvHeads;
  problem.kvHeads = 1;
  problem.seqQ = problem.seqK = seq;
  problem.headDim = problem.headDimV = kHeadDim;
  problem.scale = 1.0 / std::sqrt(double(kHeadDim));
  problem.causal = causal;
  int64_t querySlice = problem.heads * seq * kHeadDim, keySlice = seq * kHeadDim;
  std::vector<double> expected =
      xf::reference::attention(problem, std::vector<float>(q.begin(), q.begin() + querySlice),
                               std::vector<float>(k.begin(), k.begin() + keySlice),
                               std::vector<float>(v.begin(), v.begin() + keySlice));
  double worst = 0;
  for (int64_t i = 0; i < querySlice; ++i) {
    double difference = std::abs(double(out[i]) - expected[i]);
    worst = std::max(worst, std::isnan(difference) ? INFINITY : difference);
  }
  return worst;
}

} // namespace

int main(int argc, char **argv) {
  Options options = parseOptions(argc, argv);

  xfrt_context *context = nullptr;
  if (std::string message = messageOf(xfrt_context_create(kThreads, &context)); !message.empty())
    die(message);
  xfrt_module *module = nullptr;
  if (std::string message = messageOf(xfrt_module_open(XF_BENCH_MODULE, &module)); !message.empty())
    die(message);

  std::string scratchPattern = (fs::temp_directory_path() / "xf-attention-bench-XXXXXX").string();
  if (!mkdtemp(scratchPattern.data()))
    die("mkdtemp failed: " + std::string(std::strerror(errno)));
  fs::path scratch = scratchPattern;

  std::printf("xf attention: B=%lld H=%lld Hkv=%lld D=%lld fp32, %d threads, best of up to %d runs after a "
              "warm-up (at most %.0f s of runs per cell)\n",
              (long long)kBatch, (long long)kHeads, (long long)kKvHeads, (long long)kHeadDim, kThreads,
              options.runs, options.budgetSeconds);
  double sgemm = sgemmGflops(options);
  std::printf("OpenBLAS SGEMM %lldx%lldx%lld (%s kernels), %d threads: %.1f GFLOP/s (the ceiling for 'xf %% "
              "SGEMM')\n",
              (long long)kGemmSize, (long long)kGemmSize, (long long)kGemmSize, openblas_get_corename(), kThreads,
              sgemm);
  // OpenBLAS picks its kernels by CPU unless this forces them; a forced older core lowers the ceiling.
  if (const char *core = std::getenv("OPENBLAS_CORETYPE"))
    std::printf("note: OPENBLAS_CORETYPE=%s is set in the environment (torch's BLAS follows it too)\n", core);
  std::printf("FLOPs = 4*B*H*S*T*D, halved when causal; torch = PyTorch unfused eager attention\n\n");
  std::printf("%6s %7s %10s %11s %10s %14s %9s %10s\n", "S", "causal", "xf ms", "xf GFLOP/s", "torch ms",
              "torch GFLOP/s", "xf/torch", "xf %SGEMM");
  std::fflush(stdout);

  bool torchAvailable = options.torch;
  std::vector<std::string> notes;
  if (!options.torch)
    notes.push_back("torch: skipped (--no-torch)");
  bool checksPassed = true;

  for (int64_t seq : {512, 1024, 2048, 4096}) {
    if (seq > options.maxSeq)
      continue;
    std::vector<int64_t> queryShape{kBatch, kHeads, seq, kHeadDim}, keyShape{kBatch, kKvHeads, seq, kHeadDim};
    std::vector<float> query = randomNormals(kBatch * kHeads * seq * kHeadDim, 11),
                       key = randomNormals(kBatch * kKvHeads * seq * kHeadDim, 12),
                       value = randomNormals(kBatch * kKvHeads * seq * kHeadDim, 13),
                       output(query.size(), NAN);
    xfrt_tensor operands[] = {tensorOf(query, queryShape), tensorOf(key, keyShape), tensorOf(value, keyShape),
                              tensorOf(output, queryShape)};
    for (bool causal : {true, false}) {
      const char *kernel = causal ? "attn_causal" : "attn_full";
      std::string failure;
      double xfMs = bestMilliseconds(options, [&] {
        if (failure.empty())
          failure = messageOf(xfrt_kernel_run(context, module, kernel, operands, 4));
      });
      if (!failure.empty())
        die(failure);

      // At the check length torch reads our inputs and writes its output for comparison.
      bool check = seq == kCheckSeq;
      std::string inputs, torchOutput;
      if (check && torchAvailable) {
        inputs = scratch.string();
        torchOutput = (scratch / "torch_output.npy").string();
        const char *names[] = {"query", "key", "value"};
        const std::vector<float> *arrays[] = {&query, &key, &value};
        const std::vector<int64_t> *shapes[] = {&queryShape, &keyShape, &keyShape};
        for (int i = 0; i < 3; ++i)
          if (std::string error = xf::npy::write((scratch / (std::string(names[i]) + ".npy")).string(),
                                                 arrays[i]->data(), *shapes[i]);
              !error.empty())
            die(error);
      }
      TorchResult torch;
      if (torchAvailable) {
        torch = runTorch(options, seq, causal, inputs, torchOutput);
        if (!torch.ms) {
          torchAvailable = false;
          notes.push_back("torch: " + torch.problem);
        }
      }
      if (check) {
        double difference;
        const char *against;
        if (torch.ms) {
          xf::npy::ReadResult torchResult = xf::npy::read(torchOutput);
          if (!torchResult)
            die(torchResult.error);
          if (torchResult.array.shape != queryShape)
            die(torchOutput + ": torch's output has the wrong shape");
          difference = maxAbsDifference(output, torchResult.array.data);
          against = "torch";
        } else {
          difference = maxDifferenceFromOracleSlice(query, key, value, output, seq, causal);
          against = "oracle (heads 0-3)";
        }
        char line[256];
        std::snprintf(line, sizeof(line), "check S=%lld causal=%d: max |xf - %s| = %.3g (%s, tolerance %g)",
                      (long long)seq, causal, against, difference,
                      difference <= kCheckTolerance ? "ok" : "FAILED", kCheckTolerance);
        notes.push_back(line);
        checksPassed &= difference <= kCheckTolerance;
      }

      double flops = 4.0 * kBatch * kHeads * seq * seq * kHeadDim * (causal ? 0.5 : 1.0);
      double xfGflops = flops / (xfMs * 1e6);
      std::printf("%6lld %7s %10.2f %11.1f", (long long)seq, causal ? "yes" : "no", xfMs, xfGflops);
      if (torch.ms)
        std::printf(" %10.2f %14.1f %8.2fx", *torch.ms, flops / (*torch.ms * 1e6), *torch.ms / xfMs);
      else
        std::printf(" %10s %14s %9s", "-", "-", "-");
      std::printf(" %9.1f%%\n", 100.0 * xfGflops / sgemm);
      std::fflush(stdout);
    }
  }

  std::printf("\n");
  for (const std::string &note : notes)
    std::printf("%s\n", note.c_str());
  std::error_code ignored;
  fs::remove_all(scratch, ignored);
  xfrt_module_close(module);
  xfrt_context_destroy(context);
  return checksPassed ? 0 : 1;
}
