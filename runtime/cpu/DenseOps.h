//===- DenseOps.h - the CPU dense path: Halide kernels behind plain calls ---===//
//
// Row-major float32 activations. A weight matrix W [N, K] (nn.Linear layout) is stored in column panels of
// kPanel outputs, [Np / kPanel][K][kPanel] with Np = N rounded up to a multiple of kPanel: the kernels
// vectorize along outputs and never need tail code, and each of their tasks reads one panel, a contiguous
// K * kPanel floats (the decode GEMV streams memory instead of gathering 256-byte strips of rows N floats
// apart). Outputs are plain rows of Np floats. Activations feeding a GEMM have at least kMinRows rows (the
// caller sizes its scratch with paddedRows). Weights are stored as float32, bfloat16 or float16 and widened in
// registers (float32 arithmetic either way): a bf16 checkpoint kept as bf16 gives the same results as its
// float32 widening with half the bytes per decode step. Opt-in, a layer with Dot::BF16 runs its GEMM in bf16
// arithmetic instead (AVX512-BF16; see Dot), and one with Dot::I8 keeps int8 weights and multiplies in integers
// (AVX512-VNNI). Halide's parallel loops run on the calling context's thread
// pool (see ScopedPool).
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_CPU_DENSEOPS_H
#define XF_RUNTIME_CPU_DENSEOPS_H

#include "runtime/cpu/ThreadPool.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xf::rt::dense {

/// Smallest operand sizes the GEMM tiles accept (runtime/cpu/halide/DenseGenerators.cpp): kMinRows for the
/// prefill GEMM; kSkinnyRows for the skinny GEMM, which linear() runs for few rows (runsSkinny: an MoE
/// expert's share of a short prompt, whose weights stream once where 6-row tiles would compute padding).
inline constexpr int64_t kMinRows = 6;
inline constexpr int64_t kSkinnyRows = 4;
inline constexpr int64_t kPanel = 64;
inline int64_t paddedRows(int64_t m) { return m < kMinRows ? kMinRows : m; }
/// Below this many rows, 16-bit weights run the skinny GEMM: the GEMM widens a panel per task, which its few
/// rows do not amortize (bench/RESULTS.md, "Skinny GEMM": 4-row tiles win to 32 rows, tie at 48).
inline constexpr int64_t kSkinny16Rows = 48;
/// Output columns of a layer with n outputs: n rounded up to whole panels.
inline int64_t paddedCols(int64_t n) { return (n + kPanel - 1) / kPanel * kPanel; }

/// How a layer keeps its weights. MXFP4 only as gpt-oss's experts are published (Linear::assignMxfp4); I8
/// only as the int8 dot quantizes them (Linear::quantizeForDot).
enum class Storage { F32, BF16, F16, MXFP4, I8 };
const char *storageName(Storage storage);
/// The storage storageName gives `name` ("f32", "bf16", "f16"; not "mxfp4", which is taken only as
/// published, nor "int8", which only the int8 dot makes), if any.
std::optional<Storage> storageNamed(const std::string &name);

/// How the prefill GEMM (rows > 1) multiplies: F32 widens the stored weights and multiplies in float32;
/// BF16 (opt-in) rounds the activations to bfloat16 once per call and multiplies bf16 by bf16 weights with
/// float32 accumulation (AVX512-BF16 vdpbf16ps): the products are exact, the sums are float32 in another
/// order, the activations lose their low 16 bits. The decode GEMV multiplies in float32 either way.
/// I8 (opt-in) quantizes each weight row (output) to int8 once, at load, with a float32 scale max|w| / 127, and
/// each activation row to int8 per call, scale max|x| / 127, and sums the products exactly in int32 (AVX512-VNNI
/// vpdpbusd): y = sum * scale_x * scale_w + b. Prefill and decode alike (a row's result does not depend on the
/// others, nor on which kernel ran it), a quarter of float32's bytes per decode step.
enum class Dot { F32, BF16, I8 };
const char *dotName(Dot dot);
/// The dot dotName gives `name` ("f32", "bf16", "int8"), if any.
std::optional<Dot> dotNamed(const std::string &name);
/// Whether Dot::BF16 can run here: an x86-64 build whose CPU (and OS) has AVX-512 with BF16, VNNI, IFMA
/// and VBMI (what the kernel's Halide target, avx512_sapphirerapids, may use). XF_CPU_NO_AVX512BF16=1 in
/// the environment answers false, to exercise the error path on a machine that has it.
bool bf16DotSupported();
/// Whether Dot::I8 can run here: its kernels have the bf16 dot's Halide target, so the same CPU test
/// (XF_CPU_NO_AVX512BF16=1 answers false here too).
bool int8DotSupported();

/// An allocator whose resize leaves new elements uninitialized: weight panels are written in full by the
/// threads that fill them, so their pages are first touched (and zeroed by the kernel) in parallel rather
/// than by one value-initializing pass.
template <class T> struct UninitializedAllocator : std::allocator<T> {
  template <class U> struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U> UninitializedAllocator(const UninitializedAllocator<U> &) {}
  template <class U> void construct(U *p) { ::new (static_cast<void *>(p)) U; }
  template <class U, class... Args> void construct(U *p, Args &&...args) {
    ::new (static_cast<void *>(p)) U(std::forward<Args>(args)...);
  }
};
template <class T> using PanelVector = std::vector<T, UninitializedAllocator<T>>;

/// A linear layer y = x W^T + b with W stored in padded column panels.
struct Linear {
  int64_t in = 0, out = 0, outPadded = 0;
  Storage storage = Storage::F32;
  /// BF16 needs Storage::BF16. An odd `in` (no supported architecture has one) runs the F32 GEMM. I8 needs
  /// Storage::I8 (quantizeForDot).
  Dot dot = Dot::F32;
  PanelVector<float> wt;      // F32: [outPadded / kPanel][in][kPanel]; padding columns are zero
  PanelVector<uint16_t> wt16; // BF16 / F16: the same layout, the bits of each element (see `paired`)
  std::vector<float> bias;    // [outPadded], zeros when the layer has none
  /// wt16 k-paired, [outPadded / kPanel][in / 2][kPanel][2] (pairForDot): the operand layout of the bf16
  /// dot, so its GEMM does not interleave a panel per call; the decode GEMV reads it as well.
  bool paired = false;
  /// MXFP4: e2m1 codes two per byte, [outPadded / kPanel][in / 2][kPanel] (input 2i in the low nibble,
  /// 2i + 1 in the high one), and per output and group of 32 inputs the scale 2^(e - 127) as a float,
  /// [outPadded / kPanel][in / 32][kPanel]. Padding columns are zero codes.
  PanelVector<uint8_t> codes;
  PanelVector<float> scales;
  /// I8: int8 weights k-quadded, [outPadded / kPanel][in4 / 4][kPanel][4] with in4 = `in` rounded up to a
  /// multiple of 4 (zeros beyond `in` and in padding columns), the operand layout of vpdpbusd; per output the
  /// scale (zero for padding columns) and -128 times the row's sum of codes (the activations are stored
  /// + 128, as unsigned bytes).
  PanelVector<int8_t> q8;
  std::vector<float> q8Scale;
  std::vector<int32_t> q8Offset;

  /// Takes W as [out, in] row-major (`transposed` false) or as [in, out] (true: gpt-oss expert tensors),
  /// rounding to `storage` to nearest even (exact for values that came from that type). Panels are filled
  /// on the current pool's threads (ScopedPool), if any.
  void assign(const float *w, int64_t out, int64_t in, bool transposed, const float *b,
              Storage storage = Storage::F32);
  /// Takes W [out, in] stored as `storage` (BF16 or F16) already: row(n) gives row n's `in` values,
  /// little-endian and perhaps unaligned (a safetensors mapping), copied bit for bit into the panels.
  void assignRows16(const std::function<const uint8_t *(int64_t)> &row, int64_t out, int64_t in, const float *b,
                    Storage storage);
  /// Dot::BF16 on k-paired weights, where the layer can take it (bf16 storage, an even `in`, x86-64): the
  /// results are the unpaired layout's, bit for bit, without its GEMM's interleave per call. Otherwise only
  /// sets `dot`. For good: the paired layout has no F32 GEMM.
  void pairForDot();
  /// Dot::I8: the weights, whatever their storage (not MXFP4, which keeps its own 4-bit kernels and ignores
  /// the dot), quantized per output row to int8 (Storage::I8), the float weights freed. Panels on the current
  /// pool's threads (ScopedPool), if any.
  void quantizeForDot();
  /// Keeps one expert's MXFP4 weight packed: `blocks` [out][in / 32][16] bytes and `scaleBits` [out][in / 32]
  /// e8m0 exponents, as Hugging Face stores them (an expert's slice of NAME_blocks / NAME_scales), `in` a
  /// multiple of 32. The decode GEMV reads the codes (about 0.6 bytes per weight); the GEMM (xf_gemm_mxfp4)
  /// widens each panel once per task and runs the float32 micro-kernel, whose sums are then those of the
  /// same values stored as f32.
  void assignMxfp4(const uint8_t *blocks, const uint8_t *scaleBits, int64_t out, int64_t in, const float *b);
  /// The same MXFP4 weight dequantized into `storage` (F32, BF16 or F16): its values, e2m1 codes times
  /// powers of two, are exact in each (f16 rounds those outside its range).
  void assignMxfp4Values(const uint8_t *blocks, const uint8_t *scaleBits, int64_t out, int64_t in, const float *b,
                         Storage storage);
  /// Sets the sizes, the storage (uninitialized panels of `storage`'s type) and the bias.
  void reset(int64_t out, int64_t in, Storage storage, const float *b);
  /// The stored W[n][k] (n < outPadded), widened.
  float weight(int64_t n, int64_t k) const;
  /// Bytes of stored weights (what a decode step reads).
  int64_t weightBytes() const {
    if (storage == Storage::MXFP4)
      return static_cast<int64_t>(codes.size() + scales.size() * sizeof(float));
    if (storage == Storage::I8)
      return static_cast<int64_t>(q8.size() + q8Scale.size() * sizeof(float) + q8Offset.size() * sizeof(int32_t));
    return in * outPadded * (storage == Storage::F32 ? 4 : 2);
  }
};

/// Exact or round-to-nearest-even conversions between float32 and the 16-bit storage types.
uint16_t toStorage16(float value, Storage storage);
float fromStorage16(uint16_t bits, Storage storage);
/// toStorage16 over n values, the same bits (F16C's conversion for float16 where the CPU has it).
void toStorage16(const float *src, uint16_t *dst, size_t n, Storage storage);
/// Dot::I8's activations: per row m, scale[m] = max|x| / 127 (1 for a zero row) and xq[m][k] =
/// round(x / scale[m]) + 128 (clamped to [1, 255]; round to nearest even) for k < in, 128 up to `in` rounded up
/// to a multiple of 4 (row stride ldq). A row with a NaN or an infinity gets scale NaN (its products are NaN).
void quantizeRows(const float *x, int64_t ldx, int64_t rows, int64_t in, uint8_t *xq, int64_t ldq, float *scale);

/// While alive, Halide's parallel loops on this thread run on `pool`.
class ScopedPool {
public:
  explicit ScopedPool(ThreadPool &pool);
  ~ScopedPool();

private:
  ThreadPool *previous;
};

/// Below this many rows an MXFP4 layer runs its GEMV on tiles of up to 4 rows, each code decoded once per
/// tile, rather than the GEMM, whose tasks decode their panel once for every row but through memory: the
/// tiles are 1.36-1.73x faster at 6 and 8 rows and 1.05-1.15x at 16, the GEMM 1.08-1.17x faster at 24
/// (bench/RESULTS.md, "MXFP4 experts").
inline constexpr int64_t kMxfp4GemmRows = 20;

/// Whether linear() runs `rows` (>= kSkinnyRows) rows of an f32, bf16 or f16 layer outside the bf16 dot in the
/// skinny GEMM's 4-row tiles rather than the GEMM's 6-row ones: fewer than kMinRows; 16-bit weights below
/// kSkinny16Rows; float32 weights where 4-row tiles pad fewer rows (7, 8, 13-16, 19, 20), below 24.
inline bool runsSkinny(Storage storage, int64_t rows) {
  if (rows < kMinRows)
    return true;
  if (storage != Storage::F32)
    return rows < kSkinny16Rows;
  auto padded = [rows](int64_t tile) { return (rows + tile - 1) / tile * tile; };
  return rows < 24 && padded(kSkinnyRows) < padded(kMinRows);
}

/// y[m, 0:outPadded] (row stride ldy) = x[m, 0:in] (row stride ldx) W^T + b, for m < rows. `rows` == 1 runs
/// the GEMV; otherwise rows >= kSkinnyRows: fewer than kMinRows the skinny GEMM in float32 (k-paired weights:
/// the bf16-dot GEMM on a copy padded to its tile), more the GEMM that layer.dot says (Dot::BF16 throws where
/// bf16DotSupported() is false, before running anything), where runsSkinny() does not pick the skinny GEMM.
/// An MXFP4 layer takes any rows: fewer than kMxfp4GemmRows run its GEMV (tiles of up to 4 rows, each row's
/// sums those of the one-row GEMV, bit for bit). An I8 layer takes any rows too (int8DotSupported() must hold):
/// the activations are quantized per row, then 1 row runs the GEMV, fewer than kMinRows the 1-row GEMM, more
/// the 6-row GEMM, all with the same results per row.
void linear(const Linear &layer, const float *x, int64_t ldx, int64_t rows, float *y, int64_t ldy);

/// y = x * rsqrt(mean(x^2) + eps) * (w + offset) per row of `width` floats.
void rmsNorm(const float *x, int64_t ldx, int64_t rows, int64_t width, const float *w, float eps, float offset,
             float *y, int64_t ldy);

enum class GateKind { SiLU, GELUTanh, GELU, ReLU, ReLU2 };
/// y[m, i] = act(g[m, i]) * g[m, inter + i] for i < inter (a fused [gate | up] projection).
void gatedActivation(GateKind kind, const float *g, int64_t ldg, int64_t rows, int64_t inter, float *y,
                     int64_t ldy);
/// gpt-oss: gate = g[m, 2i] (clamped above by limit), up = g[m, 2i + 1] (clamped to +-limit),
/// y = (up + 1) * gate * sigmoid(alpha * gate).
void clampedSwiGlu(const float *g, int64_t ldg, int64_t rows, int64_t inter, float limit, float alpha, float *y,
                   int64_t ldy);

/// Rotates x (tokens x heads x headDim, strides sx and hx between tokens and heads) into y (strides sy, hy),
/// rotate-half convention, the first 2 * half dims of each head; cos/sin are [tokens, half].
void rope(const float *x, int64_t tokens, int64_t sx, int64_t heads, int64_t hx, int64_t headDim,
          const float *cosTable, const float *sinTable, int64_t half, float *y, int64_t sy, int64_t hy);

/// y[s, :] = table[ids[s], :] * scale (ids already checked against the vocabulary).
void embed(const int32_t *ids, int64_t tokens, const float *table, int64_t vocab, int64_t width, float scale,
           float *y);

/// The same from a table stored as bf16 or f16 bits, each row widened exactly.
void embed(const int32_t *ids, int64_t tokens, const uint16_t *table, Storage storage, int64_t vocab, int64_t width,
           float scale, float *y);

/// y = a + b * scale over rows x width (y may alias a).
void addScaled(const float *a, int64_t lda, const float *b, int64_t ldb, float scale, int64_t rows, int64_t width,
               float *y, int64_t ldy);

} // namespace xf::rt::dense

#endif // XF_RUNTIME_CPU_DENSEOPS_H
