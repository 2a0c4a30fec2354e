//===- AttentionNumericsTest.cpp - compiled attention against the oracle --===//
//
// End to end: each case writes a spec (.xf, or .mlir for score/mask regions), compiles it with the real xfc,
// runs the library through libxfrt on two threads and compares the output with the double-precision oracle
// in test/reference. The cases aim at the shapes a tiled kernel gets wrong: lengths that are not multiples
// of a tile, S != T (the position offset T - S), every GQA group size, windows narrower and wider than a
// tile, and head dims that do not fill a vector.
//
//===----------------------------------------------------------------------===//

#include "test/reference/ReferenceAttention.h"
#include "test/unit/KernelHarness.h"
#include "xfrt.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace xf::test;
using xf::reference::AttentionProblem;

// fp32 accumulation over at most a few hundred keys stays well inside this; a wrong mask or offset does not.
constexpr double kTolerance = 1e-4;

//===----------------------------------------------------------------------===//
// The cases
//===----------------------------------------------------------------------===//

/// One numerics case: the problem (shapes, flags, and for .mlir cases the score/mask functions matching the
/// regions) plus how it is handed to xfc.
struct NumericsCase {
  std::string name;
  AttentionProblem problem;
  bool defaultScale = true;
  bool staticShapes = false; // batch/seq_q/seq_k spelled as integers in the spec
  std::string mlir;          // non-empty: compile this .mlir instead of a generated .xf spec
  xfrt_dtype queryDtype = XFRT_F32, kvDtype = XFRT_F32; // query and output; key and value
  bool tensorCores = false; // the tensor-core form: its CPU emulation on cpu, mma.sync on cuda
  int64_t splitMinKeys = -1; // >= 0: the tensor-core form's split-K threshold (xfc's default otherwise)
  int64_t mTiles = 0;        // > 0: the tensor-core form's m-tiles per warp (xfc's default otherwise)

  explicit NumericsCase(std::string name) : name(std::move(name)) {
    heads(4, 4).dims(64).seq(1, 1);
  }
  NumericsCase &heads(int64_t h, int64_t hkv) {
    problem.heads = h;
    problem.kvHeads = hkv;
    return *this;
  }
  NumericsCase &dims(int64_t d, int64_t dv = 0) {
    problem.headDim = d;
    problem.headDimV = dv ? dv : d;
    if (defaultScale)
      problem.scale = 1.0 / std::sqrt(double(d));
    return *this;
  }
  NumericsCase &seq(int64_t s, int64_t t) {
    problem.seqQ = s;
    problem.seqK = t;
    return *this;
  }
  NumericsCase &batch(int64_t b) {
    problem.batch = b;
    return *this;
  }
  NumericsCase &causal() {
    problem.causal = true;
    return *this;
  }
  NumericsCase &window(int64_t w) {
    problem.window = w;
    return *this;
  }
  NumericsCase &scale(double s) {
    problem.scale = s;
    defaultScale = false;
    return *this;
  }
  NumericsCase &dtypes(xfrt_dtype queryAndOutput, xfrt_dtype keyAndValue) {
    queryDtype = queryAndOutput;
    kvDtype = keyAndValue;
    return *this;
  }
  NumericsCase &onTensorCores(int64_t splitKeys = -1, int64_t tiles = 0) {
    tensorCores = true;
    splitMinKeys = splitKeys;
    mTiles = tiles;
    return *this;
  }
  NumericsCase &fixedShapes() {
    staticShapes = true;
    return *this;
  }
  NumericsCase &source(std::string text) {
    mlir = std::move(text);
    return *this;
  }
  NumericsCase &scoreMod(decltype(AttentionProblem::scoreMod) f) {
    problem.scoreMod = std::move(f);
    return *this;
  }
  NumericsCase &maskMod(decltype(AttentionProblem::maskMod) f) {
    problem.maskMod = std::move(f);
    return *this;
  }

  std::string spec() const {
    const AttentionProblem &p = problem;
    auto dim = [&](int64_t size) { return staticShapes ? std::to_string(size) : std::string("dynamic"); };
    std::ostringstream out;
    out << "attention attn {\n"
        << "  heads = " << p.heads << "\n"
        << "  kv_heads = " << p.kvHeads << "\n"
        << "  head_dim = " << p.headDim << "\n"
        << "  head_dim_v = " << p.headDimV << "\n"
        << "  causal = " << (p.causal ? "true" : "false") << "\n"
        << "  window = " << (p.window ? std::to_string(p.window) : "none") << "\n";
    if (defaultScale)
      out << "  scale = default\n";
    else
      out << "  scale = " << p.scale << "\n";
    out << "  batch = " << dim(p.batch) << "\n"
        << "  seq_q = " << dim(p.seqQ) << "\n"
        << "  seq_k = " << dim(p.seqK) << "\n"
        << "  dtype = " << xfrt_dtype_name(queryDtype) << "\n"
        << "  kv_dtype = " << xfrt_dtype_name(kvDtype) << "\n"
        << "}\n";
    return out.str();
  }
};

// gtest prints parameters when a case fails; the name says it all.
void PrintTo(const NumericsCase &c, std::ostream *os) { *os << c.name; }

// Gemma-2-style logit softcap with a chunked mask (Llama-4-style 16-key chunks), on top of causal.
// H=4, Hkv=2, D=64, scale 1/8.
const char *kSoftcapChunkedMlir = R"mlir(
func.func @attn(%q: tensor<?x4x?x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x64xf32>, %o: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> attributes {xf.kernel} {
  %r = xf.attention ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>) outs(%o : tensor<?x4x?x64xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.125 : f64, causal = true, window = 0}
  score {
  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant 20.0 : f32
    %t = arith.divf %z, %c : f32
    %th = math.tanh %t : f32
    %s = arith.mulf %th, %c : f32
    xf.yield %s : f32
  } mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c16 = arith.constant 16 : index
    %ci = arith.divui %i, %c16 : index
    %cj = arith.divui %j, %c16 : index
    %keep = arith.cmpi eq, %ci, %cj : index
    xf.yield %keep : i1
  } -> tensor<?x4x?x64xf32>
  return %r : tensor<?x4x?x64xf32>
}
)mlir";

// ALiBi-style bias z - (0.25 / (h+1)) * (i - j) with a prefix-LM mask (the first 16 keys are visible to every
// query, the rest causally), not causal by attribute. MQA: H=8, Hkv=1, D=64, scale 1/8.
const char *kAlibiPrefixLmMlir = R"mlir(
func.func @attn(%q: tensor<?x8x?x64xf32>, %k: tensor<?x1x?x64xf32>, %v: tensor<?x1x?x64xf32>, %o: tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32> attributes {xf.kernel} {
  %r = xf.attention ins(%q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x1x?x64xf32>, tensor<?x1x?x64xf32>) outs(%o : tensor<?x8x?x64xf32>) {num_heads = 8, num_kv_heads = 1, scale = 0.125 : f64, causal = false, window = 0}
  score {
  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
    %c1 = arith.constant 1 : index
    %h1 = arith.addi %h, %c1 : index
    %hi = arith.index_cast %h1 : index to i64
    %hf = arith.sitofp %hi : i64 to f32
    %d = arith.subi %i, %j : index
    %di = arith.index_cast %d : index to i64
    %df = arith.sitofp %di : i64 to f32
    %quarter = arith.constant 0.25 : f32
    %slope = arith.divf %quarter, %hf : f32
    %bias = arith.mulf %slope, %df : f32
    %s = arith.subf %z, %bias : f32
    xf.yield %s : f32
  } mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c16 = arith.constant 16 : index
    %prefix = arith.cmpi ult, %j, %c16 : index
    %past = arith.cmpi ule, %j, %i : index
    %keep = arith.ori %prefix, %past : i1
    xf.yield %keep : i1
  } -> tensor<?x8x?x64xf32>
  return %r : tensor<?x8x?x64xf32>
}
)mlir";

std::vector<NumericsCase> numericsCases() {
  using C = NumericsCase;
  return {
      // Odd lengths, S == T.
      C("len1_causal").heads(4, 4).seq(1, 1).causal(),
      C("len3_causal_gqa2").heads(4, 2).seq(3, 3).causal(),
      C("len17_full").heads(4, 2).seq(17, 17),
      C("len77_causal_gqa4").heads(8, 2).seq(77, 77).causal(),
      C("len129_causal_gqa8").heads(16, 2).seq(129, 129).causal(),
      C("len257_causal").heads(8, 2).seq(257, 257).causal(),
      C("len300_causal_gqa4").heads(16, 4).seq(300, 300).causal(),
      // S < T: decode and chunked prefill against a longer cache.
      C("decode_t257_causal_gqa8").heads(16, 2).dims(128).seq(1, 257).causal(),
      C("decode_t129_full_mqa").heads(8, 1).seq(1, 129),
      C("chunk_s17_t129_causal").heads(8, 2).seq(17, 129).causal(),
      C("decode_s3_t1500_window100").heads(4, 1).seq(3, 1500).causal().window(100),
      // 7 rows: the decode form's tuple of 4, then a pair and a single row.
      C("decode_t300_group7").heads(7, 1).seq(1, 300).causal(),
      // Empty operands: no queries, or no keys (every row sees nothing and must be zero).
      C("empty_queries").heads(2, 1).seq(0, 7).causal(),
      C("empty_keys_rows_zero").heads(2, 1).seq(5, 0),
      // S > T: with causal the first S - T rows see no key and must be zero.
      C("s77_t17_causal_leading_zero_rows").heads(4, 2).seq(77, 17).causal(),
      C("s33_t5_full").heads(4, 2).seq(33, 5),
      // Group sizes.
      C("mha_len77_full").heads(4, 4).seq(77, 77),
      C("mqa_len129_causal").heads(8, 1).seq(129, 129).causal(),
      // Sliding window.
      C("window1_causal").heads(4, 2).seq(77, 77).causal().window(1),
      C("window16_causal").heads(8, 2).seq(129, 129).causal().window(16),
      C("window_ge_t_causal").heads(4, 2).seq(257, 257).causal().window(300),
      C("window8_not_causal").heads(4, 2).seq(65, 65).window(8),
      C("window32_s17_t200_causal").heads(8, 4).seq(17, 200).causal().window(32),
      // Head dims.
      C("dim80_causal").heads(4, 2).dims(80).seq(77, 77).causal(),
      C("dim128_full").heads(4, 1).dims(128).seq(129, 129),
      C("dim128_dimv64_causal").heads(4, 2).dims(128, 64).seq(77, 77).causal(),
      C("dim64_dimv80_full").heads(4, 2).dims(64, 80).seq(33, 49),
      // Batch, scale, static shapes.
      C("batch3_causal_gqa2").batch(3).heads(4, 2).seq(33, 33).causal(),
      C("scale0p3_full").heads(4, 2).seq(65, 65).scale(0.3),
      C("static_b2_s17_t129_causal").batch(2).heads(8, 2).seq(17, 129).causal().fixedShapes(),
      C("static_len64_full").heads(4, 4).seq(64, 64).fixedShapes(),
      C("static_decode_b2_window8").batch(2).heads(8, 2).dims(128).seq(1, 100).causal().window(8).fixedShapes(),
      // 16-bit operands, computed in f32: a bf16 KV cache read by the decode form (tuples, pair, single row)
      // and by the block form; all-16-bit kernels; f16 with a window.
      C("bf16_kv_decode_t300_group7").heads(7, 1).seq(1, 300).causal().dtypes(XFRT_F32, XFRT_BF16),
      C("bf16_kv_decode_b2_d128").batch(2).heads(8, 2).dims(128).seq(1, 1000).causal().dtypes(XFRT_F32, XFRT_BF16),
      C("bf16_kv_prefill_s33_t100").heads(8, 2).seq(33, 100).causal().dtypes(XFRT_F32, XFRT_BF16),
      C("bf16_all_causal_77").heads(4, 2).dims(96).seq(77, 77).causal().dtypes(XFRT_BF16, XFRT_BF16),
      C("f16_all_decode_t129").heads(8, 2).dims(128).seq(1, 129).causal().dtypes(XFRT_F16, XFRT_F16),
      C("f16_kv_window_s40_t200").heads(4, 4).dims(64, 32).seq(40, 200).causal().window(48).dtypes(XFRT_F32, XFRT_F16),
      // The tensor-core form (its CPU emulation here): row blocks of 16 with ragged ends, GQA, windows,
      // decode, non-causal, head dims 16 to 128 and value dims of 8.
      C("mma_bf16_causal_s33_t100").heads(8, 2).seq(33, 100).causal().dtypes(XFRT_BF16, XFRT_BF16).onTensorCores(),
      C("mma_f16_window_s40_t200").heads(4, 4).dims(64, 32).seq(40, 200).causal().window(48).dtypes(XFRT_F16, XFRT_F16).onTensorCores(),
      C("mma_bf16_decode_t300_group7").heads(7, 1).seq(1, 300).causal().dtypes(XFRT_BF16, XFRT_BF16).onTensorCores(),
      C("mma_f16_full_b2_s17_t29").batch(2).heads(4, 2).dims(16, 8).seq(17, 29).dtypes(XFRT_F16, XFRT_F16).onTensorCores(),
      C("mma_bf16_d128_s64").heads(4, 1).dims(128).seq(64, 64).causal().window(20).dtypes(XFRT_BF16, XFRT_BF16).onTensorCores(),
      // An f32 query (a bf16 KV cache): rounded to bf16 for the multiply; the output stays f32.
      C("mma_f32q_bf16kv_decode_b2").batch(2).heads(8, 2).dims(128).seq(1, 150).causal().dtypes(XFRT_F32, XFRT_BF16).onTensorCores(),
      C("mma_f32q_f16kv_s20").heads(4, 4).dims(64).seq(20, 60).causal().window(30).dtypes(XFRT_F32, XFRT_F16).onTensorCores(),
      // A group of 3 packs rows of different heads into the tile's row g and row g + 8.
      C("mma_bf16_group3_s5").heads(6, 2).dims(32, 16).seq(5, 40).causal().dtypes(XFRT_BF16, XFRT_BF16).onTensorCores(),
      // Split-K: a row block's keys over several warps (15 splits of 64 keys; splits of one block, some
      // empty under the window; an uneven last split).
      C("mma_bf16_decode_split").heads(8, 2).seq(1, 1000).causal().dtypes(XFRT_BF16, XFRT_BF16).onTensorCores(64),
      C("mma_f16_window_split").heads(4, 4).dims(64, 32).seq(40, 700).causal().window(300).dtypes(XFRT_F16, XFRT_F16).onTensorCores(16),
      C("mma_bf16_full_split_b2").batch(2).heads(4, 2).dims(32).seq(20, 333).dtypes(XFRT_BF16, XFRT_BF16).onTensorCores(48),
      C("mma_f32q_bf16kv_decode_split_t0").heads(8, 2).seq(1, 0).dtypes(XFRT_F32, XFRT_BF16).onTensorCores(16),
      // One m-tile of 16 rows per warp where the head dim would get two, and two where it would get one.
      C("mma_bf16_d128_m2").heads(4, 2).dims(128).seq(40, 90).causal().dtypes(XFRT_BF16, XFRT_BF16).onTensorCores(-1, 2),
      C("mma_bf16_causal_m1").heads(8, 2).seq(45, 120).causal().dtypes(XFRT_BF16, XFRT_BF16).onTensorCores(-1, 1),
      C("mma_f16_window_split_m1").heads(4, 4).dims(64, 32).seq(40, 500).causal().window(200).dtypes(XFRT_F16, XFRT_F16).onTensorCores(32, 1),
      // Score and mask regions (.mlir input).
      C("mlir_softcap_chunked_causal")
          .batch(2)
          .heads(4, 2)
          .dims(64)
          .seq(77, 77)
          .causal()
          .source(kSoftcapChunkedMlir)
          .scoreMod([](double z, int64_t, int64_t, int64_t, int64_t) { return 20.0 * std::tanh(z / 20.0); })
          .maskMod([](int64_t, int64_t, int64_t i, int64_t j) { return i / 16 == j / 16; }),
      C("mlir_softcap_chunked_s33_t100")
          .heads(4, 2)
          .dims(64)
          .seq(33, 100)
          .causal()
          .source(kSoftcapChunkedMlir)
          .scoreMod([](double z, int64_t, int64_t, int64_t, int64_t) { return 20.0 * std::tanh(z / 20.0); })
          .maskMod([](int64_t, int64_t, int64_t i, int64_t j) { return i / 16 == j / 16; }),
      C("mlir_alibi_prefix_lm")
          .batch(2)
          .heads(8, 1)
          .dims(64)
          .seq(57, 57)
          .source(kAlibiPrefixLmMlir)
          .scoreMod([](double z, int64_t, int64_t h, int64_t i, int64_t j) {
            return z - 0.25 / double(h + 1) * double(i - j);
          })
          .maskMod([](int64_t, int64_t, int64_t i, int64_t j) { return j < 16 || j <= i; }),
  };
}

/// Compiles the case for `target` and compares a run with the oracle; skipped where the machine has no device
/// of the target's kind.
void checkCase(const NumericsCase &c, const std::string &target) {
  const AttentionProblem &p = c.problem;
  std::string skip;
  ContextPtr context = makeTargetContext(target, skip);
  if (!context)
    GTEST_SKIP() << "no " << target << " device: " << skip;

  fs::path library;
  std::string name = target == "cpu" ? c.name : c.name + "_" + target;
  std::string flags = "--target=" + target;
  if (c.tensorCores && target == "vulkan")
    GTEST_SKIP() << "the tensor-core form is CUDA's (and the CPU's emulation of it)";
  if (c.tensorCores)
    flags += tensorCoreFlags(target, c.splitMinKeys, c.mTiles);
  ASSERT_TRUE(c.mlir.empty() ? compile(name, "xf", c.spec(), library, flags)
                             : compile(name, "mlir", c.mlir, library, flags));
  ModulePtr module = openModule(library);
  ASSERT_TRUE(module);

  std::vector<int64_t> queryShape{p.batch, p.heads, p.seqQ, p.headDim};
  std::vector<int64_t> keyShape{p.batch, p.kvHeads, p.seqK, p.headDim};
  std::vector<int64_t> valueShape{p.batch, p.kvHeads, p.seqK, p.headDimV};
  std::vector<int64_t> outputShape{p.batch, p.heads, p.seqQ, p.headDimV};
  uint32_t seed = static_cast<uint32_t>(std::hash<std::string>()(c.name));
  std::vector<float> query = randomNormals(p.batch * p.heads * p.seqQ * p.headDim, seed);
  std::vector<float> key = randomNormals(p.batch * p.kvHeads * p.seqK * p.headDim, seed + 1);
  std::vector<float> value = randomNormals(p.batch * p.kvHeads * p.seqK * p.headDimV, seed + 2);
  // NaN, so an element the kernel never writes (a skipped empty row, say) cannot pass as zero.
  std::vector<float> output(p.batch * p.heads * p.seqQ * p.headDimV, NAN);

  // 16-bit operands: the kernel gets the rounded values, and so does the reference (it checks the kernel,
  // not the rounding). A 16-bit output starts as NaN too and is widened back after the run.
  std::vector<uint16_t> narrowed[4];
  auto operand = [&](int index, std::vector<float> &data, const std::vector<int64_t> &shape, xfrt_dtype dtype) {
    if (dtype == XFRT_F32)
      return tensorOf(data, shape);
    narrowed[index].resize(data.size());
    for (size_t i = 0; i < data.size(); ++i) {
      narrowed[index][i] = xfrt::toHalf(data[i], dtype);
      data[i] = xfrt::fromHalf(narrowed[index][i], dtype);
    }
    return tensorOf(narrowed[index].data(), shape, dtype);
  };
  // The tensor-core form rounds a query of another type to the keys' type; so does the reference input.
  if (c.tensorCores && c.queryDtype == XFRT_F32)
    for (float &x : query)
      x = xfrt::fromHalf(xfrt::toHalf(x, c.kvDtype), c.kvDtype);
  xfrt_tensor operands[] = {operand(0, query, queryShape, c.queryDtype), operand(1, key, keyShape, c.kvDtype),
                            operand(2, value, valueShape, c.kvDtype), operand(3, output, outputShape, c.queryDtype)};
  ASSERT_EQ(messageOf(xfrt_kernel_run(context.get(), module.get(), "attn", operands, 4)), "");
  for (size_t i = 0; i < narrowed[3].size(); ++i)
    output[i] = xfrt::fromHalf(narrowed[3][i], c.queryDtype);

  std::vector<double> expected = xf::reference::attention(p, query, key, value);
  ASSERT_EQ(expected.size(), output.size());
  if (output.empty())
    return;
  double worstError = -1;
  size_t worst = 0;
  // A 16-bit output is the f32 result rounded once: half an ulp, at most 2^-8 relative for bf16 (8
  // significant bits), 2^-11 for f16 (11).
  double rounding = c.queryDtype == XFRT_BF16 ? 0x1p-8 : c.queryDtype == XFRT_F16 ? 0x1p-11 : 0.0;
  // Tensor cores multiply P V with P rounded to the operand type: each probability off by at most that
  // relative rounding, so the output by at most rounding * max |v| (the probabilities sum to 1).
  double largestValue = 0;
  for (float x : value)
    largestValue = std::max(largestValue, double(std::abs(x)));
  double operandRounding = c.kvDtype == XFRT_BF16 ? 0x1p-8 : 0x1p-11; // P takes the keys' type
  double probabilityRounding = c.tensorCores ? operandRounding * largestValue : 0.0;
  for (size_t index = 0; index < output.size(); ++index) {
    double error = std::abs(double(output[index]) - expected[index]) - rounding * std::abs(expected[index]) -
                   probabilityRounding;
    if (std::isnan(error))
      error = INFINITY;
    if (error > worstError) {
      worstError = error;
      worst = index;
    }
  }
  size_t d = worst % p.headDimV, s = worst / p.headDimV % p.seqQ, h = worst / p.headDimV / p.seqQ % p.heads,
         b = worst / p.headDimV / p.seqQ / p.heads;
  EXPECT_LE(worstError, kTolerance) << "worst element " << worst << " = [b=" << b << ", h=" << h << ", s=" << s
                                    << ", d=" << d << "]: xf " << output[worst] << ", reference "
                                    << expected[worst] << "\nspec:\n"
                                    << (c.mlir.empty() ? c.spec() : c.mlir);
}

class AttentionNumerics : public testing::TestWithParam<NumericsCase> {};

TEST_P(AttentionNumerics, MatchesReference) { checkCase(GetParam(), "cpu"); }

INSTANTIATE_TEST_SUITE_P(Cases, AttentionNumerics, testing::ValuesIn(numericsCases()),
                         [](const testing::TestParamInfo<NumericsCase> &info) { return info.param.name; });

/// The 16-bit cases on the GPU targets: on CUDA 16-bit loads and stores are the PTX's own; on Vulkan f16 is
/// read from 16-bit storage buffers and bf16 as i16 words widened and rounded with integer ops.
std::vector<NumericsCase> sixteenBitCases() {
  std::vector<NumericsCase> cases;
  for (const NumericsCase &c : numericsCases())
    if (c.queryDtype != XFRT_F32 || c.kvDtype != XFRT_F32)
      cases.push_back(c);
  return cases;
}

class SixteenBitGpu : public testing::TestWithParam<NumericsCase> {};

TEST_P(SixteenBitGpu, MatchesReferenceOnVulkan) { checkCase(GetParam(), "vulkan"); }
TEST_P(SixteenBitGpu, MatchesReferenceOnCuda) { checkCase(GetParam(), "cuda"); }

INSTANTIATE_TEST_SUITE_P(Cases, SixteenBitGpu, testing::ValuesIn(sixteenBitCases()),
                         [](const testing::TestParamInfo<NumericsCase> &info) { return info.param.name; });

//===----------------------------------------------------------------------===//
// Errors through the runtime
//===----------------------------------------------------------------------===//

TEST(AttentionRuntimeErrors, WrongKeyHeadsNamesTheOperand) {
  NumericsCase c = NumericsCase("wrong_key_heads").heads(8, 8).seq(5, 5).causal();
  fs::path library;
  ASSERT_TRUE(compile(c.name, "xf", c.spec(), library));
  ModulePtr module = openModule(library);
  ASSERT_TRUE(module);
  ContextPtr context = makeContext(2);

  std::vector<float> query(8 * 5 * 64, 1.0f), key(4 * 5 * 64, 1.0f), value(8 * 5 * 64, 1.0f),
      output(8 * 5 * 64, -7.0f);
  xfrt_tensor operands[] = {tensorOf(query, {1, 8, 5, 64}), tensorOf(key, {1, 4, 5, 64}),
                            tensorOf(value, {1, 8, 5, 64}), tensorOf(output, {1, 8, 5, 64})};
  std::string message = messageOf(xfrt_kernel_run(context.get(), module.get(), "attn", operands, 4));
  EXPECT_NE(message.find("'key'"), std::string::npos) << message;
  EXPECT_NE(message.find('4'), std::string::npos) << message;
  // Shapes are checked before anything runs.
  for (float element : output)
    ASSERT_EQ(element, -7.0f);
}

TEST(AttentionRuntimeErrors, StaticLengthMismatchNamesTheOperand) {
  NumericsCase c = NumericsCase("static_mismatch").heads(4, 2).seq(17, 33).fixedShapes();
  fs::path library;
  ASSERT_TRUE(compile(c.name, "xf", c.spec(), library));
  ModulePtr module = openModule(library);
  ASSERT_TRUE(module);
  ContextPtr context = makeContext(2);

  // The query is one position short of the compiled seq_q = 17.
  std::vector<float> query(4 * 16 * 64), key(2 * 33 * 64), value(2 * 33 * 64), output(4 * 16 * 64);
  xfrt_tensor operands[] = {tensorOf(query, {1, 4, 16, 64}), tensorOf(key, {1, 2, 33, 64}),
                            tensorOf(value, {1, 2, 33, 64}), tensorOf(output, {1, 4, 16, 64})};
  std::string message = messageOf(xfrt_kernel_run(context.get(), module.get(), "attn", operands, 4));
  EXPECT_NE(message.find("'query'"), std::string::npos) << message;
  EXPECT_NE(message.find("17"), std::string::npos) << message;
}

TEST(AttentionRuntimeErrors, WrongDtypeNamesTheOperand) {
  NumericsCase c = NumericsCase("wrong_dtype").heads(4, 2).seq(3, 3).dtypes(XFRT_F32, XFRT_BF16);
  fs::path library;
  ASSERT_TRUE(compile(c.name, "xf", c.spec(), library));
  ModulePtr module = openModule(library);
  ASSERT_TRUE(module);
  ContextPtr context = makeContext(2);
  EXPECT_EQ(xfrt_kernel_operand_dtype(module.get(), "attn", 0), XFRT_F32);
  EXPECT_EQ(xfrt_kernel_operand_dtype(module.get(), "attn", 1), XFRT_BF16);
  EXPECT_EQ(xfrt_kernel_operand_dtype(module.get(), "attn", 4), -1);

  // float32 keys for the bf16 key operand.
  std::vector<float> query(4 * 3 * 64), key(2 * 3 * 64), output(4 * 3 * 64, -7.0f);
  std::vector<uint16_t> value(2 * 3 * 64);
  xfrt_tensor operands[] = {tensorOf(query, {1, 4, 3, 64}), tensorOf(key, {1, 2, 3, 64}),
                            tensorOf(value.data(), {1, 2, 3, 64}, XFRT_BF16), tensorOf(output, {1, 4, 3, 64})};
  EXPECT_EQ(messageOf(xfrt_kernel_run(context.get(), module.get(), "attn", operands, 4)),
            "kernel 'attn': operand 'key' is f32, but the kernel was compiled for bf16");
  operands[1].dtype = static_cast<xfrt_dtype>(9);
  EXPECT_EQ(messageOf(xfrt_kernel_run(context.get(), module.get(), "attn", operands, 4)),
            "kernel 'attn': operand 'key' is an unknown dtype (9), but the kernel was compiled for bf16");
  for (float element : output)
    ASSERT_EQ(element, -7.0f);
}

TEST(AttentionRuntimeErrors, MissingLibraryFailsCleanly) {
  fs::path missing = ScratchDirectory::path() / "no-such-dir" / "libmissing.so";
  xfrt_module *module = nullptr;
  std::string message = messageOf(xfrt_module_open(missing.c_str(), &module));
  EXPECT_EQ(module, nullptr);
  EXPECT_NE(message.find(missing.string()), std::string::npos) << message;
}

} // namespace
