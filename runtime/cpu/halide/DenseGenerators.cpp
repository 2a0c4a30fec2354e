//===- DenseGenerators.cpp - Halide generators for the CPU dense path ----===//
//
// Built into an executable that runs at build time (add_halide_library) and emits one static library per
// generator, one object per target ISA with a runtime dispatcher. This file links Halide 14 (LLVM 14); it must
// never share a process with MLIR/LLVM 22.
//
// Conventions shared with runtime/cpu/DenseOps.cpp: Halide dimension 0 is the contiguous one, so a row-major
// [M, K] activation is x(k, m). A weight W [N, K] is stored in column panels of kPanel = 64 outputs,
// [N / 64][K][64]: wt(j, k, p) = W[64 p + j][k]. Both the GEMM and the GEMV give each task whole panels, so a
// task streams one contiguous block of K * 256 bytes; outputs are viewed the same way, out(j, p, m) with
// strides (1, 64, ldy), so no index needs a division. N is padded to a multiple of 64 and M to at least
// kMaxTileM (the runtime pads smaller operands), so no tail code is generated: the last tile shifts inwards.
//
//===----------------------------------------------------------------------===//
#include "Halide.h"

using namespace Halide;

namespace {

// Width of a weight panel, and the register tile of the GEMM micro-kernel: rows of x times vectors of a
// panel. Kept in sync with xf::rt::dense::kPanel / kMinRows.
constexpr int kPanel = 64;
constexpr int kMaxTileM = 6;

/// A stored weight as float32: bfloat16 is the upper half of a float32, float16 converts (F16C on x86).
Expr widen(Expr w) {
  if (w.type() == UInt(16))
    return reinterpret(Float(32), cast(UInt(32), w) << 16);
  return cast(Float(32), w);
}

// Rows of the skinny GEMM's tile (Gemm with `skinny`): an MoE expert's few rows.
constexpr int kSkinnyRows = 4;

/// The float32 GEMM's schedule, out(j, p, m) from acc with reduction r: each task one panel p, register tiles
/// of 6 rows x 64 outputs (4 x 3 vectors where vectors are 8 wide), the accumulator tile in registers.
/// `skinny`: tiles of kSkinnyRows rows (AVX-512: 4 x 4 zmm; AVX2: 4 x 2 ymm).
void scheduleGemm(Func out, Func acc, RDom r, Var j, Var p, Var m, int vec, bool skinny = false) {
  // AVX-512: 6 x 4 zmm accumulators of 32 registers (a whole panel); AVX2: 4 x 3 ymm of 16.
  const int tileN = vec >= 16 ? kPanel : skinny ? 2 * vec : 3 * vec;
  const int tileM = skinny ? kSkinnyRows : vec >= 16 ? 6 : 4;
  Var jo, ji, mo, mi;
  out.split(j, jo, ji, tileN)
      .split(m, mo, mi, tileM)
      .reorder(ji, mi, jo, mo, p)
      .vectorize(ji, vec)
      .unroll(ji)
      .unroll(mi)
      .parallel(p);
  acc.compute_at(out, jo).vectorize(j, vec).unroll(j).unroll(m);
  acc.update().reorder(j, m, r).vectorize(j, vec).unroll(j).unroll(m);
}

/// out(j, p, m) = bias(j, p) + sum_k x(k, m) * wt(j, k, p). For prefill-sized M: each task owns one panel
/// of wt (K * 256 contiguous bytes, kept in L2) and walks all row tiles; the accumulator tile lives in
/// registers. `skinny` (M of kSkinnyRows up to 5: an MoE expert's rows): 4-row tiles, the weights widened
/// as they stream instead of a panel at a time; the same sums in the same order.
class Gemm : public Generator<Gemm> {
public:
  GeneratorParam<bool> skinny{"skinny", false};
  Input<Buffer<float>> x{"x", 2};
  Input<Buffer<>> wt{"wt", 3};
  Input<Buffer<float>> bias{"bias", 2};
  Output<Buffer<float>> out{"out", 3};

  void generate() {
    r = RDom(0, x.dim(0).extent());
    wf(j, k, p) = widen(wt(j, k, p));
    acc(j, p, m) = bias(j, p);
    acc(j, p, m) += x(r, m) * wf(j, r, p);
    out(j, p, m) = acc(j, p, m);
  }

  void schedule() {
    const int vec = natural_vector_size<float>();
    scheduleGemm(out, acc, r, j, p, m, vec, skinny);
    // Narrow weights: a task widens its panel once (K * 256 bytes, L2-resident) and reuses it for every
    // row tile, so the micro-kernel is the float32 one. A skinny GEMM has one or two row tiles: it widens
    // each vector of weights as it loads it, as the GEMV does.
    if (wt.type() != Float(32) && !skinny)
      wf.compute_at(out, p).vectorize(j, vec);
    static_assert(kMaxTileM >= 6, "runtime padding must cover every tile");
    x.dim(0).set_min(0);
    wt.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel).dim(2).set_min(0);
    bias.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel);
    out.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel);
  }

private:
  Var j{"j"}, k{"k"}, p{"p"}, m{"m"};
  RDom r;
  Func acc{"acc"}, wf{"wf"};
};

/// The GEMM of Gemm on MXFP4 weights (gpt-oss's experts as published, dense::Linear::assignMxfp4): codes
/// [N / 64][K / 2][64] bytes (input 2i in the low nibble, 2i + 1 in the high one) and float scales
/// [N / 64][K / 32][64]. Each task widens its panel once, e2m1 decoded arithmetically and times its group's
/// scale (exact), then runs Gemm's float32 micro-kernel: the sums of the same values stored as f32.
class GemmMxfp4 : public Generator<GemmMxfp4> {
public:
  Input<Buffer<float>> x{"x", 2};
  Input<Buffer<uint8_t>> codes{"codes", 3};
  Input<Buffer<float>> scales{"scales", 3};
  Input<Buffer<float>> bias{"bias", 2};
  Output<Buffer<float>> out{"out", 3};

  void generate() {
    r = RDom(0, x.dim(0).extent());
    Expr byte = cast(Int(32), codes(j, k / 2, p));
    Expr code = select(k % 2 == 0, byte & 15, byte >> 4);
    // e2m1: magnitude t = code & 7 is 0, 0.5 for t < 2, else (1 + (t & 1) / 2) 2^((t >> 1) - 1), whose float
    // bits are (t + 252) << 22; the sign is bit 3.
    Expr t = code & 7;
    Expr magnitude = select(t < 2, cast(Float(32), t) * 0.5f, reinterpret(Float(32), cast(UInt(32), (t + 252) << 22)));
    wf(j, k, p) = select(code >= 8, -magnitude, magnitude) * scales(j, k / 32, p);
    acc(j, p, m) = bias(j, p);
    acc(j, p, m) += x(r, m) * wf(j, r, p);
    out(j, p, m) = acc(j, p, m);
  }

  void schedule() {
    const int vec = natural_vector_size<float>();
    scheduleGemm(out, acc, r, j, p, m, vec);
    wf.compute_at(out, p).vectorize(j, vec);
    x.dim(0).set_min(0);
    codes.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel).dim(2).set_min(0);
    scales.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel).dim(2).set_min(0);
    bias.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel);
    out.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel);
  }

private:
  Var j{"j"}, k{"k"}, p{"p"}, m{"m"};
  RDom r;
  Func acc{"acc"}, wf{"wf"};
};

/// The GEMM of Gemm multiplying in bfloat16 (opt-in, `xf-run --dot bf16`): out(j, p, m) = bias(j, p) +
/// sum_k bf16(x(k, m)) * wt(j, k, p) with float32 accumulation, for bf16 weights (bits as uint16) and an even
/// K. The activations are rounded to bf16 (to nearest even, as dense::toStorage16) once per call, a
/// compute_root stage; each task interleaves its weight panel into k pairs, [K / 2][64][2], the operand layout of
/// AVX512-BF16's vdpbf16ps, which adds two products per float32 lane. The products are exact in float32
/// (8-bit significands); only the order and rounding of the float32 sums differ from the float32 GEMM's.
/// The pair reduction is an atomic vectorized RVar of extent 2 inside the vectorized j: Halide forms
/// VectorReduce(Add, f32(bf16) * f32(bf16)) with a factor of 2, which its x86 backend maps to
/// vdpbf16ps when the target has avx512_sapphirerapids; vectorizing the pair and j separately (not fused)
/// keeps the activation pair one 32-bit broadcast per row and k pair (fused, LLVM assembles it from two
/// 16-bit broadcasts and three shuffles). Built for that target
/// only: the runtime calls it after checking the CPU (dense::bf16DotSupported).
class GemmBf16Dot : public Generator<GemmBf16Dot> {
public:
  /// The weights already k-paired, [N / 64][K / 2][64][2] (wt(2 j + kk, kp, p) = W[64 p + j][2 kp + kk]):
  /// no per-call interleave (dense::Linear::pairForDot stores them so).
  GeneratorParam<bool> paired{"paired", false};
  Input<Buffer<float>> x{"x", 2};
  Input<Buffer<uint16_t>> wt{"wt", 3};
  Input<Buffer<float>> bias{"bias", 2};
  Output<Buffer<float>> out{"out", 3};

  void generate() {
    // K is even (the runtime runs odd reductions on the float32 GEMM): pairs never straddle the end.
    Expr pairs = x.dim(0).extent() / 2;
    // Round to nearest even; NaN stays a quiet NaN.
    auto u32 = [](uint32_t value) { return Expr(value); };
    Expr bits = reinterpret(UInt(32), x(k, m));
    Expr nearest = cast(UInt(16), (bits + u32(0x7fff) + ((bits >> 16) & u32(1))) >> 16);
    Expr nan = cast(UInt(16), (bits >> 16) | u32(0x40));
    xb(k, m) = select((bits & u32(0x7fffffff)) > u32(0x7f800000), nan, nearest);
    if (paired)
      wpair(kk, j, kp, p) = wt(2 * j + kk, kp, p);
    else
      wpair(kk, j, kp, p) = wt(j, 2 * kp + kk, p);
    r = RDom(0, 2, 0, pairs);
    acc(j, p, m) = bias(j, p);
    acc(j, p, m) += bf16(xb(2 * r.y + r.x, m)) * bf16(wpair(r.x, j, r.y, p));
    out(j, p, m) = acc(j, p, m);
  }

  void schedule() {
    const int vec = natural_vector_size<float>();
    Var jo, ji, mo, mi, jj, jv, kj;
    out.split(j, jo, ji, kPanel)
        .split(m, mo, mi, kMaxTileM)
        .reorder(ji, mi, jo, mo, p)
        .vectorize(ji, vec)
        .unroll(ji)
        .unroll(mi)
        .parallel(p);
    acc.compute_at(out, jo).vectorize(j, vec).unroll(j).unroll(m);
    // 6 rows x 4 vectors of 16 lanes: 24 zmm accumulators, one vdpbf16ps per (row, vector) and k pair.
    acc.update()
        .split(j, jj, jv, vec)
        .atomic()
        .vectorize(r.x)
        .vectorize(jv)
        .reorder(r.x, jv, jj, m, r.y)
        .unroll(jj)
        .unroll(m);
    if (!paired)
      wpair.compute_at(out, p).fuse(kk, j, kj).vectorize(kj, 2 * vec);
    xb.compute_root().parallel(m).vectorize(k, 2 * vec, TailStrategy::GuardWithIf);
    x.dim(0).set_min(0);
    const int width = paired ? 2 * kPanel : kPanel;
    wt.dim(0).set_bounds(0, width).dim(1).set_min(0).set_stride(width).dim(2).set_min(0);
    bias.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel);
    out.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel);
  }

private:
  static Expr bf16(Expr bits) { return cast(Float(32), reinterpret(BFloat(16), bits)); }
  Var j{"j"}, k{"k"}, kk{"kk"}, kp{"kp"}, p{"p"}, m{"m"};
  RDom r;
  Func acc{"acc"}, xb{"xb"}, wpair{"wpair"};
};

/// The int8 dot's operand layouts, as the runtime passes them (GemmI8Dot, GemvI8Dot): whole k-quad panels,
/// per-output vectors of kPanel, outputs in panels.
template <typename G> void constrainInt8Operands(G &g) {
  g.xq.dim(0).set_min(0);
  g.sx.dim(0).set_min(0);
  g.wt.dim(0).set_bounds(0, 4 * kPanel).dim(1).set_min(0).set_stride(4 * kPanel).dim(2).set_min(0);
  for (auto *b : {&g.ws, &g.bias})
    b->dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel);
  g.offset.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel);
  g.out.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel);
}

/// The int8 dot (dense::Dot::I8): out(j, p, m) = f32(offset(j, p) + sum_k xq(k, m) * Wq[64 p + j][k]) * (sx(m) *
/// ws(j, p)) + bias(j, p), with xq the activations quantized per row to uint8 (value + 128, scale sx) and wt
/// the weights quantized per output to int8 (scale ws), k-quads [N / 64][K4 / 4][64][4] (wt(4 j + kk, kq, p)
/// = Wq[64 p + j][4 kq + kk]), the operand layout of AVX512-VNNI's vpdpbusd (unsigned bytes times signed
/// ones, four products per lane summed into int32). offset = -128 sum_k Wq[n][k] takes the + 128 back out.
/// The integer sums are exact, so every tile shape gives the same results bit for bit. `rows`: the register
/// tile's rows (6: 6 x 4 zmm accumulators, the prefill GEMM; 1: any M, each row streaming the weights, for a
/// few rows); the decode GEMV is GemvI8Dot. AVX512-VNNI only: the runtime checks the CPU first.
class GemmI8Dot : public Generator<GemmI8Dot> {
public:
  GeneratorParam<int> rows{"rows", kMaxTileM};
  Input<Buffer<uint8_t>> xq{"xq", 2};
  Input<Buffer<float>> sx{"sx", 1};
  Input<Buffer<int8_t>> wt{"wt", 3};
  Input<Buffer<float>> ws{"ws", 2};
  Input<Buffer<int32_t>> offset{"offset", 2};
  Input<Buffer<float>> bias{"bias", 2};
  Output<Buffer<float>> out{"out", 3};

  void generate() {
    r = RDom(0, 4, 0, xq.dim(0).extent() / 4);
    acc(j, p, m) = offset(j, p);
    acc(j, p, m) += cast<int32_t>(xq(4 * r.y + r.x, m)) * cast<int32_t>(wt(4 * j + r.x, r.y, p));
    out(j, p, m) = cast<float>(acc(j, p, m)) * (sx(m) * ws(j, p)) + bias(j, p);
  }

  void schedule() {
    const int vec = natural_vector_size<float>();
    Var jo, ji, mo, mi, jj, jv;
    if (rows > 1) {
      out.split(j, jo, ji, kPanel)
          .split(m, mo, mi, rows)
          .reorder(ji, mi, jo, mo, p)
          .vectorize(ji, vec)
          .unroll(ji)
          .unroll(mi)
          .parallel(p);
      acc.compute_at(out, jo).vectorize(j, vec).unroll(j).unroll(m);
    } else {
      out.split(j, jo, ji, kPanel).reorder(ji, jo, m, p).vectorize(ji, vec).unroll(ji).parallel(p);
      acc.compute_at(out, jo).vectorize(j, vec).unroll(j);
    }
    // Per k-quad: one 4-byte broadcast per row, 4 vectors of weights, rows x 4 vpdpbusd.
    acc.update()
        .split(j, jj, jv, vec)
        .atomic()
        .vectorize(r.x)
        .vectorize(jv)
        .reorder(r.x, jv, jj, m, r.y)
        .unroll(jj)
        .unroll(m);
    constrainInt8Operands(*this);
  }

private:
  Var j{"j"}, p{"p"}, m{"m"};
  RDom r;
  Func acc{"acc"};
};

/// GemmI8Dot for one row (decode): the k-quads in kStreams runs read side by side, as Gemv's quarters, for
/// more memory streams in flight; integer partial sums, so the result is GemmI8Dot's bit for bit.
class GemvI8Dot : public Generator<GemvI8Dot> {
public:
  Input<Buffer<uint8_t>> xq{"xq", 1};
  Input<Buffer<float>> sx{"sx", 1};
  Input<Buffer<int8_t>> wt{"wt", 3};
  Input<Buffer<float>> ws{"ws", 2};
  Input<Buffer<int32_t>> offset{"offset", 2};
  Input<Buffer<float>> bias{"bias", 2};
  Output<Buffer<float>> out{"out", 2};

  void generate() {
    Expr quads = xq.dim(0).extent() / 4, run = quads / kStreams;
    rq = RDom(0, 4, 0, run);
    Expr kq = st * run + rq.y;
    part(j, st, p) = 0;
    part(j, st, p) += cast<int32_t>(xq(4 * kq + rq.x)) * cast<int32_t>(wt(4 * j + rq.x, kq, p));
    // The quads the runs leave over.
    rt = RDom(0, 4, kStreams * run, quads - kStreams * run);
    rest(j, p) = offset(j, p);
    rest(j, p) += cast<int32_t>(xq(4 * rt.y + rt.x)) * cast<int32_t>(wt(4 * j + rt.x, rt.y, p));
    Expr sum = rest(j, p);
    for (int i = 0; i < kStreams; ++i)
      sum += part(j, i, p);
    out(j, p) = cast<float>(sum) * (sx(0) * ws(j, p)) + bias(j, p);
  }

  void schedule() {
    const int vec = natural_vector_size<float>();
    Var jj, jv;
    out.vectorize(j, vec).unroll(j).parallel(p);
    part.compute_at(out, p).bound(st, 0, kStreams).vectorize(j, vec).unroll(j).unroll(st);
    part.update().split(j, jj, jv, vec).atomic().vectorize(rq.x).vectorize(jv).reorder(rq.x, jv, jj, st, rq.y)
        .unroll(jj).unroll(st);
    rest.compute_at(out, p).vectorize(j, vec).unroll(j);
    rest.update().split(j, jj, jv, vec).atomic().vectorize(rt.x).vectorize(jv).reorder(rt.x, jv, jj, rt.y)
        .unroll(jj);
    constrainInt8Operands(*this);
  }

private:
  static constexpr int kStreams = 4;
  Var j{"j"}, st{"st"}, p{"p"};
  RDom rq, rt;
  Func part{"part"}, rest{"rest"};
};

/// out(j, p) = bias(j, p) + sum_k x(k) * wt(j, k, p) for one token (decode). Memory-bound: each task reads
/// one panel, split along k into kStreams quarters read side by side (several sequential streams per core
/// keep more DRAM requests in flight than one), each with its own accumulators, summed at the end.
class Gemv : public Generator<Gemv> {
public:
  /// bf16 weights k-paired as GemmBf16Dot's `paired` (an even K): the same sums in the same order.
  GeneratorParam<bool> paired{"paired", false};
  Input<Buffer<float>> x{"x", 1};
  Input<Buffer<>> wt{"wt", 3};
  Input<Buffer<float>> bias{"bias", 2};
  Output<Buffer<float>> out{"out", 2};

  void generate() {
    Expr K = x.dim(0).extent(), quarter = K / kStreams;
    if (paired) {
      // Whole pairs per step, both loads from one contiguous run of the panel: inputs 2 kp and 2 kp + 1
      // added in that order, as the unpaired form adds them.
      Expr pairs = K / 2, quarterPairs = pairs / kStreams;
      rq = RDom(0, quarterPairs);
      Expr kp = st * quarterPairs + rq;
      part(j, st, p) = 0.0f;
      part(j, st, p) = part(j, st, p) + x(2 * kp) * widen(wt(2 * j, kp, p)) + x(2 * kp + 1) * widen(wt(2 * j + 1, kp, p));
      rt = RDom(kStreams * quarterPairs, pairs - kStreams * quarterPairs);
      rest(j, p) = bias(j, p);
      rest(j, p) = rest(j, p) + x(2 * rt) * widen(wt(2 * j, rt, p)) + x(2 * rt + 1) * widen(wt(2 * j + 1, rt, p));
    } else {
      rq = RDom(0, quarter);
      part(j, st, p) = 0.0f;
      part(j, st, p) += x(st * quarter + rq) * widen(wt(j, st * quarter + rq, p));
      // The K % kStreams rows the quarters leave over.
      rt = RDom(kStreams * quarter, K - kStreams * quarter);
      rest(j, p) = bias(j, p);
      rest(j, p) += x(rt) * widen(wt(j, rt, p));
    }
    Expr sum = rest(j, p);
    for (int i = 0; i < kStreams; ++i)
      sum += part(j, i, p);
    out(j, p) = sum;
  }

  void schedule() {
    const int vec = natural_vector_size<float>();
    out.vectorize(j, vec).unroll(j).parallel(p);
    part.compute_at(out, p).bound(st, 0, kStreams).vectorize(j, vec).unroll(j).unroll(st);
    part.update().reorder(j, st, rq).vectorize(j, vec).unroll(j).unroll(st);
    rest.compute_at(out, p).vectorize(j, vec).unroll(j);
    rest.update().reorder(j, rt).vectorize(j, vec).unroll(j);
    x.dim(0).set_min(0);
    const int width = paired ? 2 * kPanel : kPanel;
    wt.dim(0).set_bounds(0, width).dim(1).set_min(0).set_stride(width).dim(2).set_min(0);
    bias.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel);
    out.dim(0).set_bounds(0, kPanel).dim(1).set_min(0).set_stride(kPanel);
  }

private:
  static constexpr int kStreams = 4;
  Var j{"j"}, st{"st"}, p{"p"};
  RDom rq, rt;
  Func part{"part"}, rest{"rest"};
};

/// RMSNorm over dimension 0: out = x * rsqrt(mean(x^2) + eps) * (w + offset); offset 1 for Gemma's
/// unit-offset weights.
class RmsNorm : public Generator<RmsNorm> {
public:
  Input<Buffer<float>> x{"x", 2};
  Input<Buffer<float>> w{"w", 1};
  Input<float> eps{"eps"};
  Input<float> offset{"offset"};
  Output<Buffer<float>> out{"out", 2};

  void generate() {
    r = RDom(0, x.dim(0).extent());
    sumsq(m) = 0.0f;
    sumsq(m) += x(r, m) * x(r, m);
    Expr inv = 1.0f / sqrt(sumsq(m) / cast<float>(x.dim(0).extent()) + eps);
    out(h, m) = x(h, m) * inv * (w(h) + offset);
  }

  void schedule() {
    const int vec = natural_vector_size<float>();
    out.parallel(m).vectorize(h, vec, TailStrategy::GuardWithIf);
    sumsq.compute_at(out, m);
    RVar ro, ri;
    sumsq.update().split(r, ro, ri, vec, TailStrategy::GuardWithIf);
    x.dim(0).set_min(0);
    w.dim(0).set_min(0);
  }

private:
  Var h{"h"}, m{"m"};
  RDom r;
  Func sumsq{"sumsq"};
};

/// Gated activations of the MLP on a fused [gate | up] projection g(2I, m):
///   kind 0: silu(gate) * up, kind 1: gelu_tanh(gate) * up, kind 2: gelu_erf(gate) * up.
/// gpt-oss's clamped, interleaved form is ClampedSwiGlu.
class GatedActivation : public Generator<GatedActivation> {
public:
  GeneratorParam<int> kind{"kind", 0};
  Input<Buffer<float>> g{"g", 2};
  Output<Buffer<float>> out{"out", 2};

  void generate() {
    Expr inter = g.dim(0).extent() / 2;
    Expr gate = g(i, m), up = g(i + inter, m);
    Expr act;
    const int k = kind;
    if (k == 0) {
      act = gate / (1.0f + exp(-gate));
    } else if (k == 1) {
      Expr u = 0.7978845608028654f * (gate + 0.044715f * gate * gate * gate);
      act = 0.5f * gate * (1.0f + tanh(u));
    } else if (k == 2) {
      act = 0.5f * gate * (1.0f + erf(gate * 0.7071067811865476f));
    } else {
      Expr r = max(gate, 0.0f);
      act = k == 3 ? r : r * r; // relu, relu2 (relu(x)^2)
    }
    out(i, m) = act * up;
  }

  void schedule() {
    out.parallel(m).vectorize(i, natural_vector_size<float>(), TailStrategy::GuardWithIf);
    g.dim(0).set_min(0);
  }

private:
  Var i{"i"}, m{"m"};
};

/// gpt-oss SwiGLU on an interleaved gate/up projection g(2I, m): gate = g(2i), up = g(2i + 1), gate clamped
/// above by limit, up to [-limit, limit], out = (up + 1) * gate * sigmoid(alpha * gate).
class ClampedSwiGlu : public Generator<ClampedSwiGlu> {
public:
  Input<Buffer<float>> g{"g", 2};
  Input<float> limit{"limit"};
  Input<float> alpha{"alpha"};
  Output<Buffer<float>> out{"out", 2};

  void generate() {
    Expr gate = min(g(2 * i, m), limit);
    Expr up = clamp(g(2 * i + 1, m), -limit, limit);
    out(i, m) = (up + 1.0f) * (gate / (1.0f + exp(-alpha * gate)));
  }

  void schedule() {
    out.parallel(m).vectorize(i, natural_vector_size<float>(), TailStrategy::GuardWithIf);
    g.dim(0).set_min(0);
  }

private:
  Var i{"i"}, m{"m"};
};

/// Rotary embedding in the half-split (rotate_half) convention on x(d, h, s): the first `rotary` = 2 *
/// cos.dim(0).extent() dims rotate, the rest pass through. cos and sin are per token (c, s) tables of
/// angle position * inv_freq[c], already multiplied by the attention factor. The output's strides are the
/// caller's: the runtime writes queries head-major and keys straight into the KV cache.
class Rope : public Generator<Rope> {
public:
  Input<Buffer<float>> x{"x", 3};
  Input<Buffer<float>> cosTable{"cos", 2};
  Input<Buffer<float>> sinTable{"sin", 2};
  Output<Buffer<float>> out{"out", 3};

  void generate() {
    Expr half = cosTable.dim(0).extent();
    Expr lo = d < half, rotated = d < 2 * half;
    Expr c = select(lo, d, d - half);
    Expr cc = cosTable(clamp(c, 0, half - 1), s), ss = sinTable(clamp(c, 0, half - 1), s);
    Expr partner = x(clamp(select(lo, d + half, d - half), 0, x.dim(0).extent() - 1), h, s);
    Expr rot = x(d, h, s) * cc + select(lo, -partner, partner) * ss;
    out(d, h, s) = select(rotated, rot, x(d, h, s));
  }

  void schedule() {
    out.parallel(s).vectorize(d, natural_vector_size<float>(), TailStrategy::GuardWithIf);
    x.dim(0).set_min(0);
    cosTable.dim(0).set_min(0);
    sinTable.dim(0).set_min(0);
  }

private:
  Var d{"d"}, h{"h"}, s{"s"};
};

/// out(h, s) = table(h, ids(s)) * scale. The runtime checks every id against the vocabulary first; the
/// clamp only keeps bounds inference finite.
class Embed : public Generator<Embed> {
public:
  Input<Buffer<int32_t>> ids{"ids", 1};
  Input<Buffer<float>> table{"table", 2};
  Input<float> scale{"scale"};
  Output<Buffer<float>> out{"out", 2};

  void generate() {
    Expr row = clamp(ids(s), 0, table.dim(1).extent() - 1);
    out(h, s) = table(h, row) * scale;
  }

  void schedule() {
    out.parallel(s).vectorize(h, natural_vector_size<float>(), TailStrategy::GuardWithIf);
    table.dim(0).set_min(0).dim(1).set_min(0);
  }

private:
  Var h{"h"}, s{"s"};
};

/// out = a + b * scale (residual adds, and the weighted sum of MoE expert outputs).
class AddScaled : public Generator<AddScaled> {
public:
  Input<Buffer<float>> a{"a", 2};
  Input<Buffer<float>> b{"b", 2};
  Input<float> scale{"scale"};
  Output<Buffer<float>> out{"out", 2};

  void generate() { out(h, s) = a(h, s) + b(h, s) * scale; }

  void schedule() {
    out.parallel(s).vectorize(h, natural_vector_size<float>(), TailStrategy::GuardWithIf);
  }

private:
  Var h{"h"}, s{"s"};
};

} // namespace

HALIDE_REGISTER_GENERATOR(Gemm, xf_gemm)
HALIDE_REGISTER_GENERATOR(GemmBf16Dot, xf_gemm_bf16dot)
HALIDE_REGISTER_GENERATOR(GemmI8Dot, xf_gemm_i8dot)
HALIDE_REGISTER_GENERATOR(GemvI8Dot, xf_gemv_i8dot)
HALIDE_REGISTER_GENERATOR(GemmMxfp4, xf_gemm_mxfp4)
HALIDE_REGISTER_GENERATOR(Gemv, xf_gemv)
HALIDE_REGISTER_GENERATOR(RmsNorm, xf_rms_norm)
HALIDE_REGISTER_GENERATOR(GatedActivation, xf_gated_activation)
HALIDE_REGISTER_GENERATOR(ClampedSwiGlu, xf_clamped_swiglu)
HALIDE_REGISTER_GENERATOR(Rope, xf_rope)
HALIDE_REGISTER_GENERATOR(Embed, xf_embed)
HALIDE_REGISTER_GENERATOR(AddScaled, xf_add_scaled)
