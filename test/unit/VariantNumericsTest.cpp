//===- VariantNumericsTest.cpp - attention variants against the oracle ----===//
//
// Each case compiles one kernel with xfc, stacking variants with --variant (the passes of VARIANTS.md),
// feeds every operand the kernel declares with seeded random data, and compares the output with the
// double-precision oracle configured from the same variant list. Variants run alone, in pairs and in
// triples, on random shapes (odd lengths, S != T, GQA groups, windows, head dims 64 and 80).
//
//===----------------------------------------------------------------------===//

#include "test/reference/ReferenceAttention.h"
#include "test/unit/KernelHarness.h"

#include <cmath>
#include <functional>
#include <map>

namespace {

namespace fs = std::filesystem;
using namespace xf::test;
using xf::reference::AttentionProblem;

constexpr double kTolerance = 1e-4;

enum Variant {
  LearnedSinks, // xf-attention-sinks mode=learned
  Streaming,    // xf-attention-sinks mode=streaming: 3 sink tokens + the window
  Calibrated,   // xf-attention-sinks mode=calibrated: keys 1,2,5 on heads 0,3
  Gains,        // xf-head-modulation: heads 1,2 x 2
  Emphasis,     // xf-head-modulation: keys 0,4 get z + 0.7|z|
  MoH,          // per-token gates [B, H, S], sparse (as a router produces)
  Affine,       // xf-affine-scale activation=linear_clip
  Softcap,      // score region: 20 tanh(z / 20)
  ChunkMask,    // mask region: i / 16 == j / 16
  EmphasisLast, // xf-head-modulation: keys 0,4 get z + 0.7|z| on the last query row only
};
const char *const kVariantNames[] = {"sinks",  "streaming", "act",     "gains",    "emphasis",
                                     "moh",    "affine",    "softcap", "chunkmask", "emphasislast"};

struct VariantCase {
  std::string name;
  std::vector<Variant> variants;
  int64_t batch, heads, kvHeads, seqQ, seqK, headDim;
  bool causal;
  int64_t window;
  bool bf16Cache = false; // key and value bf16 (a 16-bit KV cache), the rest f32
  bool tensorCores = false; // query, key and value bf16, the tensor-core form (CPU: its emulation)
  int64_t splitMinKeys = -1; // >= 0: the tensor-core form's split-K threshold (else xfc's default)
  int64_t mTiles = 0;        // > 0: the tensor-core form's m-tiles per warp (else xfc's default, 2)
  bool has(Variant v) const { return std::find(variants.begin(), variants.end(), v) != variants.end(); }
};
void PrintTo(const VariantCase &c, std::ostream *os) { *os << c.name; }

std::string kernelSource(const VariantCase &c) {
  std::string o = "tensor<?x" + std::to_string(c.heads) + "x?x" + std::to_string(c.headDim) + "xf32>";
  std::string q = c.tensorCores ? "tensor<?x" + std::to_string(c.heads) + "x?x" + std::to_string(c.headDim) + "xbf16>" : o;
  std::string kv = "tensor<?x" + std::to_string(c.kvHeads) + "x?x" + std::to_string(c.headDim) +
                   (c.bf16Cache || c.tensorCores ? "xbf16>" : "xf32>");
  std::ostringstream os;
  os << "func.func @attn(%q: " << q << ", %k: " << kv << ", %v: " << kv << ", %o: " << o << ") -> " << o
     << " attributes {xf.kernel} {\n"
     << "  %r = xf.attention ins(%q, %k, %v : " << q << ", " << kv << ", " << kv << ") outs(%o : " << o
     << ") {num_heads = " << c.heads << ", num_kv_heads = " << c.kvHeads
     << ", scale = " << 1.0 / std::sqrt(double(c.headDim)) << " : f64, causal = " << (c.causal ? "true" : "false")
     << ", window = " << c.window << "}\n";
  if (c.has(Softcap))
    os << "  score {\n  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):\n"
          "    %c = arith.constant 20.0 : f32\n    %t = arith.divf %z, %c : f32\n"
          "    %th = math.tanh %t : f32\n    %s = arith.mulf %th, %c : f32\n    xf.yield %s : f32\n  }\n";
  if (c.has(ChunkMask))
    os << "  mask {\n  ^bb0(%b: index, %h: index, %i: index, %j: index):\n"
          "    %c16 = arith.constant 16 : index\n    %ci = arith.divui %i, %c16 : index\n"
          "    %cj = arith.divui %j, %c16 : index\n    %keep = arith.cmpi eq, %ci, %cj : index\n"
          "    xf.yield %keep : i1\n  }\n";
  os << "  -> " << o << "\n  return %r : " << o << "\n}\n";
  return os.str();
}

/// The xfc flags that apply the case's variants (score/mask regions are in the source). MoH's gates come
/// from a router kernel in a model; here the attention kernel gets them as an operand.
std::string variantFlags(const VariantCase &c) {
  std::string flags;
  if (c.has(Calibrated))
    flags += " '--variant=xf-attention-sinks{mode=calibrated keys=1,2,5 heads=0,3 beta=0.4}'";
  if (c.has(LearnedSinks))
    flags += " '--variant=xf-attention-sinks{mode=learned}'";
  if (c.has(Streaming))
    flags += " '--variant=xf-attention-sinks{mode=streaming sink-tokens=3}'";
  if (c.has(Gains) && c.has(Emphasis))
    flags += " '--variant=xf-head-modulation{heads=1,2 gain=2.0 emphasis-keys=0,4 emphasis=0.7}'";
  else if (c.has(Gains))
    flags += " '--variant=xf-head-modulation{heads=1,2 gain=2.0}'";
  else if (c.has(Emphasis))
    flags += " '--variant=xf-head-modulation{emphasis-keys=0,4 emphasis=0.7}'";
  if (c.has(EmphasisLast))
    flags += " '--variant=xf-head-modulation{emphasis-keys=0,4 emphasis=0.7 emphasis-rows=last}'";
  if (c.has(MoH))
    flags += " '--variant=xf-mixture-of-heads{shared-heads=1 top-k=2 hidden=16}'";
  if (c.has(Affine))
    flags += " '--variant=xf-affine-scale{activation=linear_clip}'";
  return flags;
}

class VariantNumerics : public testing::TestWithParam<VariantCase> {};

/// Compiles the case for `target` (cpu, vulkan or cuda), runs it on random operands and compares with the
/// oracle. Skipped, with the runtime's reason, where the machine has no device of the target's kind.
void checkVariantRun(const VariantCase &c, const xfrt_module *module, xfrt_context *context);

void checkVariantCase(const VariantCase &c, const std::string &target) {
  std::string skip;
  ContextPtr context = makeTargetContext(target, skip);
  if (!context)
    GTEST_SKIP() << "no " << target << " device: " << skip;
  std::string flags = variantFlags(c) + " --target=" + target;
  if (c.tensorCores && target == "vulkan")
    GTEST_SKIP() << "the tensor-core form is CUDA's (and the CPU's emulation of it)";
  if (c.tensorCores)
    flags += tensorCoreFlags(target, c.splitMinKeys, c.mTiles);
  fs::path library;
  ASSERT_TRUE(compile(c.name + "_" + target, "mlir", kernelSource(c), library, flags));
  ModulePtr module = openModule(library);
  ASSERT_TRUE(module);
  // Both loop nests of the kernel: few query rows take the decode form (CPU) or the subgroup form (GPU),
  // more take the block form.
  int64_t other = c.seqQ <= 8 ? std::min<int64_t>(33, c.seqK) : 3;
  for (int64_t seqQ : {c.seqQ, other}) {
    SCOPED_TRACE("S = " + std::to_string(seqQ));
    VariantCase run = c;
    run.seqQ = seqQ;
    checkVariantRun(run, module.get(), context.get());
  }
}

void checkVariantRun(const VariantCase &c, const xfrt_module *module, xfrt_context *context) {
  std::map<std::string, std::vector<float>> data;
  std::map<std::string, std::vector<uint16_t>> narrowed;
  std::vector<xfrt_tensor> operands;
  int64_t n = xfrt_kernel_num_operands(module, "attn");
  ASSERT_GT(n, 3);
  uint32_t seed = std::hash<std::string>{}(c.name) & 0xffff;
  std::mt19937 rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    std::string name = xfrt_kernel_operand_name(module, "attn", i);
    std::vector<int64_t> shape;
    if (name == "query" || name == "output")
      shape = {c.batch, c.heads, c.seqQ, c.headDim};
    else if (name == "key" || name == "value")
      shape = {c.batch, c.kvHeads, c.seqK, c.headDim};
    else if (name == "sinks" || name == "alpha_ma")
      shape = {c.heads};
    else if (name == "gates" || name == "alpha")
      shape = {c.batch, c.heads, c.seqQ};
    else
      FAIL() << "unexpected operand '" << name << "'";
    size_t count = 1;
    for (int64_t d : shape)
      count *= d;
    std::vector<float> &values = data[name];
    values = randomNormals(count, seed + i);
    if (name == "sinks")
      for (float &v : values)
        v *= 2.0f;
    if (name == "alpha")
      for (float &v : values)
        v *= 5.0f; // linear clipping saturates on some tokens
    if (name == "alpha_ma")
      for (float &v : values)
        v = 0.5f + 0.4f * std::tanh(v);
    if (name == "gates") {
      // A router activates few heads per token; some (row block, head) pairs are inactive throughout.
      std::bernoulli_distribution active(0.4);
      for (size_t e = 0; e < count; ++e) {
        int64_t h = (e / c.seqQ) % c.heads;
        values[e] = (h == 0 || (active(rng) && h % 4 != 3)) ? std::fabs(values[e]) + 0.1f : 0.0f;
      }
    }
    if (name == "output")
      values.assign(count, std::nanf(""));
    if ((c.bf16Cache && (name == "key" || name == "value")) ||
        (c.tensorCores && (name == "query" || name == "key" || name == "value"))) {
      // The kernel reads the rounded values, and so does the reference below.
      std::vector<uint16_t> &words = narrowed[name];
      words.resize(count);
      for (size_t e = 0; e < count; ++e) {
        words[e] = xfrt::toBf16(values[e]);
        values[e] = xfrt::fromBf16(words[e]);
      }
      operands.push_back(tensorOf(words.data(), shape, XFRT_BF16));
      continue;
    }
    operands.push_back(tensorOf(values, shape));
  }
  ASSERT_EQ(messageOf(xfrt_kernel_run(context, module, "attn", operands.data(), n)), "");

  AttentionProblem p;
  p.batch = c.batch;
  p.heads = c.heads;
  p.kvHeads = c.kvHeads;
  p.seqQ = c.seqQ;
  p.seqK = c.seqK;
  p.headDim = p.headDimV = c.headDim;
  p.scale = 1.0 / std::sqrt(double(c.headDim));
  p.causal = c.causal;
  p.window = c.window;
  if (c.has(LearnedSinks))
    p.sinks = data["sinks"];
  if (c.has(Streaming))
    p.sinkTokens = 3;
  if (c.has(Calibrated)) {
    p.calibratedKeys = {1, 2, 5};
    p.calibratedHeads = {0, 3};
    p.beta = 0.4;
  }
  if (c.has(Gains)) {
    p.headGains.assign(c.heads, 1.0);
    p.headGains[1] = p.headGains[2] = 2.0;
  }
  if (c.has(MoH))
    p.gates = data["gates"];
  if (c.has(Affine)) {
    p.alpha = data["alpha"];
    p.alphaMa = data["alpha_ma"];
    p.alphaActivation = AttentionProblem::Activation::LinearClip;
  }
  bool softcap = c.has(Softcap), emphasis = c.has(Emphasis), emphasisLast = c.has(EmphasisLast);
  int64_t lastRow = c.seqK - 1;
  if (softcap || emphasis || emphasisLast)
    p.scoreMod = [=](double z, int64_t, int64_t, int64_t i, int64_t j) {
      if (softcap)
        z = 20.0 * std::tanh(z / 20.0);
      if (emphasis && (j == 0 || j == 4))
        z += 0.7 * std::fabs(z);
      if (emphasisLast && i == lastRow && (j == 0 || j == 4))
        z += 0.7 * std::fabs(z);
      return z;
    };
  if (c.has(ChunkMask))
    p.maskMod = [](int64_t, int64_t, int64_t i, int64_t j) { return i / 16 == j / 16; };

  std::vector<double> reference = xf::reference::attention(p, data["query"], data["key"], data["value"]);
  const std::vector<float> &out = data["output"];
  double worstError = 0.0;
  size_t worst = 0;
  for (size_t e = 0; e < out.size(); ++e) {
    double error = std::fabs(double(out[e]) - reference[e]);
    if (!(error <= worstError)) { // NaN counts as worst
      worstError = std::isnan(error) ? INFINITY : error;
      worst = e;
    }
  }
  // Tensor cores multiply P V with P rounded to bf16: each probability off by at most 2^-8 of itself, the
  // output by at most 2^-8 max |v| (the probabilities sum to 1; a sink only lowers them).
  double tolerance = kTolerance;
  if (c.tensorCores)
    for (float x : data["value"])
      tolerance = std::max(tolerance, kTolerance + 0x1p-8 * std::fabs(x));
  EXPECT_LE(worstError, tolerance) << "worst element " << worst << ": xf " << out[worst] << ", reference "
                                    << reference[worst] << "\nshape: B=" << c.batch << " H=" << c.heads
                                    << " Hkv=" << c.kvHeads << " S=" << c.seqQ << " T=" << c.seqK
                                    << " D=" << c.headDim << " causal=" << c.causal << " window=" << c.window
                                    << "\nflags:" << variantFlags(c);
}

TEST_P(VariantNumerics, MatchesReference) { checkVariantCase(GetParam(), "cpu"); }

/// The same kernels through the Vulkan pipeline, on the runtime's Vulkan device (lavapipe in CI).
TEST_P(VariantNumerics, MatchesReferenceOnVulkan) { checkVariantCase(GetParam(), "vulkan"); }

/// The same kernels through the CUDA pipeline (PTX, one query row per thread) on CUDA device 0.
TEST_P(VariantNumerics, MatchesReferenceOnCuda) { checkVariantCase(GetParam(), "cuda"); }

std::vector<VariantCase> variantCases() {
  // Every variant alone, then pairs and triples on one kernel.
  std::vector<std::vector<Variant>> sets = {
      {LearnedSinks}, {Streaming}, {Calibrated}, {Gains}, {Emphasis}, {MoH}, {Affine}, {Softcap}, {ChunkMask},
      {LearnedSinks, Streaming}, {LearnedSinks, Calibrated}, {LearnedSinks, Gains}, {LearnedSinks, MoH},
      {LearnedSinks, Affine}, {LearnedSinks, Softcap}, {Streaming, Calibrated}, {Streaming, Affine},
      {Streaming, MoH}, {Calibrated, Gains}, {Calibrated, Softcap}, {Calibrated, MoH}, {Gains, Emphasis},
      {Gains, Affine}, {MoH, Affine}, {Affine, Softcap}, {Emphasis, Softcap}, {ChunkMask, LearnedSinks},
      {ChunkMask, Affine}, {MoH, ChunkMask},
      {LearnedSinks, Softcap, Gains}, {LearnedSinks, Streaming, Calibrated}, {MoH, Affine, LearnedSinks},
      {Gains, Emphasis, Affine}, {Streaming, Calibrated, MoH}, {Softcap, ChunkMask, Calibrated},
      {LearnedSinks, Streaming, Affine}, {Emphasis, Softcap, MoH}, {Gains, MoH}, {Gains, MoH, Calibrated},
      {Calibrated, Affine}, {Calibrated, Affine, LearnedSinks}, {Calibrated, Affine, ChunkMask},
      {EmphasisLast}, {EmphasisLast, Softcap}, {EmphasisLast, Calibrated, ChunkMask},
  };
  std::mt19937 rng(2026);
  auto pick = [&](std::initializer_list<int64_t> options) {
    std::vector<int64_t> o(options);
    return o[std::uniform_int_distribution<size_t>(0, o.size() - 1)(rng)];
  };
  std::vector<VariantCase> cases;
  for (const std::vector<Variant> &set : sets) {
    VariantCase c;
    c.variants = set;
    for (Variant v : set)
      c.name += std::string(c.name.empty() ? "" : "_") + kVariantNames[v];
    c.batch = pick({1, 2});
    c.heads = 8;
    c.kvHeads = pick({1, 2, 4, 8});
    c.seqK = pick({37, 77, 130, 201});
    c.seqQ = pick({1, 3, 33, c.seqK});
    c.headDim = pick({64, 80});
    c.causal = pick({0, 1, 1}) != 0;
    // Streaming needs a window; others get one at random.
    c.window = c.has(Streaming) ? pick({9, 20, 50}) : pick({0, 0, 24, 100});
    cases.push_back(c);
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Stacked, VariantNumerics, testing::ValuesIn(variantCases()),
                         [](const testing::TestParamInfo<VariantCase> &info) { return info.param.name; });

/// Stacked variants on a bf16 KV cache: the decode form reads bf16 rows as de-interleaved chunk pairs where
/// the head dim allows (64, 128) and in plain order where it does not (80); the sink-column (ACT) and
/// value-sum (affine) accumulators take that order too.
class Bf16CacheVariantNumerics : public testing::TestWithParam<VariantCase> {};

TEST_P(Bf16CacheVariantNumerics, MatchesReference) { checkVariantCase(GetParam(), "cpu"); }
TEST_P(Bf16CacheVariantNumerics, MatchesReferenceOnVulkan) { checkVariantCase(GetParam(), "vulkan"); }
TEST_P(Bf16CacheVariantNumerics, MatchesReferenceOnCuda) { checkVariantCase(GetParam(), "cuda"); }

/// One case per variant set, named `prefix` + the set, on shapes drawn from `seed`: kv heads and S from the
/// options given (0 for S = T), head dims taken in turn from `headDims`.
std::vector<VariantCase> drawCases(const std::vector<std::vector<Variant>> &sets, uint32_t seed,
                                   const std::string &prefix, std::vector<int64_t> kvHeads,
                                   std::vector<int64_t> seqQ, std::vector<int64_t> headDims,
                                   const std::function<void(VariantCase &)> &mark) {
  std::mt19937 rng(seed);
  auto pick = [&](const std::vector<int64_t> &options) {
    return options[std::uniform_int_distribution<size_t>(0, options.size() - 1)(rng)];
  };
  std::vector<VariantCase> cases;
  for (size_t i = 0; i < sets.size(); ++i) {
    VariantCase c;
    c.variants = sets[i];
    for (Variant v : sets[i])
      c.name += std::string(c.name.empty() ? "" : "_") + kVariantNames[v];
    c.name = prefix + c.name;
    c.batch = pick({1, 2});
    c.heads = 8;
    c.kvHeads = pick(kvHeads);
    c.seqK = pick({37, 77, 130, 201});
    c.seqQ = pick(seqQ);
    if (c.seqQ == 0)
      c.seqQ = c.seqK;
    c.headDim = headDims[i % headDims.size()];
    c.causal = pick({0, 1, 1}) != 0;
    c.window = c.has(Streaming) ? pick({9, 20, 50}) : pick({0, 0, 24, 100});
    mark(c);
    cases.push_back(c);
  }
  return cases;
}

std::vector<VariantCase> bf16CacheCases() {
  return drawCases({{Softcap}, {LearnedSinks, Streaming}, {Calibrated, Affine, LearnedSinks}, {MoH, Affine},
                    {Streaming, Calibrated, MoH}, {Gains, Emphasis, Affine}, {EmphasisLast, Calibrated, ChunkMask},
                    {Calibrated, Affine, ChunkMask}},
                   2027, "kv16_", {1, 2, 4}, {1, 3, 8}, {64, 128, 80}, [](VariantCase &c) { c.bf16Cache = true; });
}

INSTANTIATE_TEST_SUITE_P(Stacked, Bf16CacheVariantNumerics, testing::ValuesIn(bf16CacheCases()),
                         [](const testing::TestParamInfo<VariantCase> &info) { return info.param.name; });

/// Every variant on the tensor-core form, bf16 query, key and value: its CPU emulation here, mma.sync on
/// CUDA.
class TensorCoreVariantNumerics : public testing::TestWithParam<VariantCase> {};

TEST_P(TensorCoreVariantNumerics, MatchesReference) { checkVariantCase(GetParam(), "cpu"); }
TEST_P(TensorCoreVariantNumerics, MatchesReferenceOnCuda) { checkVariantCase(GetParam(), "cuda"); }

std::vector<VariantCase> tensorCoreCases() {
  return drawCases({{LearnedSinks}, {Softcap}, {ChunkMask}, {Emphasis}, {EmphasisLast, Softcap},
                    {LearnedSinks, Softcap}, {ChunkMask, LearnedSinks}, {Emphasis, Softcap, ChunkMask},
                    {Streaming}, {Gains}, {MoH}, {Affine}, {LearnedSinks, Streaming}, {Gains, Emphasis, Affine},
                    {MoH, Affine, LearnedSinks}, {Streaming, MoH}, {Affine, Softcap}, {ChunkMask, Affine},
                    {Calibrated}, {Calibrated, Affine}, {LearnedSinks, Calibrated}, {Streaming, Calibrated, MoH},
                    {Calibrated, Affine, ChunkMask}, {EmphasisLast, Calibrated, ChunkMask}, {Calibrated, Gains},
                    {Calibrated, Affine, LearnedSinks}},
                   2028, "tc_", {1, 2, 8}, {1, 3, 33, 0}, {64, 128, 32}, [](VariantCase &c) {
                     c.tensorCores = true;
                     // Every other case splits its keys over warps of at least 32 keys each; every fourth
                     // takes the m-tiles per warp its head dim does not get by default (two up to 96, else
                     // one).
                     static int drawn = 0;
                     if (drawn % 2) {
                       c.splitMinKeys = 32;
                       c.name += "_split";
                     }
                     if (drawn % 4 == 2) {
                       c.mTiles = c.headDim <= 96 ? 1 : 2;
                       c.name += "_m" + std::to_string(c.mTiles);
                     }
                     ++drawn;
                   });
}

INSTANTIATE_TEST_SUITE_P(Stacked, TensorCoreVariantNumerics, testing::ValuesIn(tensorCoreCases()),
                         [](const testing::TestParamInfo<VariantCase> &info) { return info.param.name; });

/// The router kernel that MoH adds, against the oracle's gate formula.
class MoHRouterNumerics : public testing::TestWithParam<std::string> {};

TEST_P(MoHRouterNumerics, MatchesReference) {
  const std::string target = GetParam();
  const std::string source = R"mlir(
func.func @attn(%q: tensor<?x8x?x32xf32>, %k: tensor<?x2x?x32xf32>, %v: tensor<?x2x?x32xf32>, %o: tensor<?x8x?x32xf32>) -> tensor<?x8x?x32xf32> attributes {xf.kernel} {
  %r = xf.attention ins(%q, %k, %v : tensor<?x8x?x32xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>) outs(%o : tensor<?x8x?x32xf32>) {num_heads = 8, num_kv_heads = 2, scale = 0.17677669529663687 : f64, causal = true} -> tensor<?x8x?x32xf32>
  return %r : tensor<?x8x?x32xf32>
}
)mlir";
  for (int64_t hidden : {48, 37}) { // vector and scalar dot products
    std::string skip;
    ContextPtr context = makeTargetContext(target, skip);
    if (!context)
      GTEST_SKIP() << "no " << target << " device: " << skip;
    fs::path library;
    std::string name = "router_" + std::to_string(hidden) + "_" + target;
    ASSERT_TRUE(compile(name, "mlir", source, library,
                        "'--variant=xf-mixture-of-heads{shared-heads=2 top-k=3 hidden=" + std::to_string(hidden) +
                            "}' --target=" + target));
    ModulePtr module = openModule(library);
    ASSERT_TRUE(module);
    const int64_t B = 2, S = 45, H = 8, shared = 2, routed = 6;
    std::vector<float> x = randomNormals(B * S * hidden, 1), wr = randomNormals(routed * hidden, 2),
                       ws = randomNormals(shared * hidden, 3), wh = randomNormals(2 * hidden, 4),
                       gates(B * H * S, std::nanf(""));
    xfrt_tensor operands[] = {tensorOf(x, {B, S, hidden}), tensorOf(wr, {routed, hidden}),
                              tensorOf(ws, {shared, hidden}), tensorOf(wh, {2, hidden}), tensorOf(gates, {B, H, S})};
    ASSERT_EQ(messageOf(xfrt_kernel_run(context.get(), module.get(), "attn_router", operands, 5)), "");
    std::vector<double> reference = xf::reference::mohRouter(x, wr, ws, wh, B, S, hidden, shared, routed, 3);
    int64_t activeRouted = 0;
    for (size_t e = 0; e < gates.size(); ++e) {
      ASSERT_NEAR(gates[e], reference[e], 1e-5) << "gate " << e;
      activeRouted += (e / S) % H >= static_cast<size_t>(shared) && gates[e] != 0.0f;
    }
    EXPECT_EQ(activeRouted, B * S * 3) << "top-3 of the routed heads must be active on every token";
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, MoHRouterNumerics, testing::Values("cpu", "vulkan", "cuda"),
                         [](const testing::TestParamInfo<std::string> &info) { return info.param; });

} // namespace
