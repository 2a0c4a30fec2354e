//===- DenseOps.cpp - the CPU dense path: Halide kernels behind plain calls ===//
#include "runtime/cpu/DenseOps.h"
#include "runtime/src/Float16.h"

#include "HalideRuntime.h"
#include "xf_add_scaled.h"
#include "xf_clamped_swiglu.h"
#include "xf_embed.h"
#include "xf_gelu_gate.h"
#include "xf_gelu_tanh_gate.h"
#include "xf_relu2_gate.h"
#include "xf_relu_gate.h"
#include "xf_gemm.h"
#include "xf_gemm_bf16.h"
#if defined(__x86_64__)
#include "xf_gemm_bf16dot.h"
#include "xf_gemm_bf16dot_paired.h"
#include "xf_gemv_bf16_paired.h"
#include "xf_gemm_i8dot.h"
#include "xf_gemm_i8dot_rows.h"
#include "xf_gemv_i8dot.h"
#include <cpuid.h>
#include <immintrin.h>
#endif
#include "xf_gemm_f16.h"
#include "xf_gemm_mxfp4.h"
#include "xf_gemm_skinny.h"
#include "xf_gemm_skinny_bf16.h"
#include "xf_gemm_skinny_f16.h"
#include "xf_gemv.h"
#include "xf_gemv_bf16.h"
#include "xf_gemv_f16.h"
#include "xf_rms_norm.h"
#include "xf_rope.h"
#include "xf_silu_gate.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>

using namespace xf::rt;
using namespace xf::rt::dense;

namespace {

thread_local ThreadPool *currentPool = nullptr;

/// Runs body(begin, end) over [0, count) on the current context's pool, else on this thread.
void forRange(int64_t count, const std::function<void(int64_t, int64_t)> &body) {
  if (currentPool && currentPool->numThreads() > 1 && count > 1)
    currentPool->parallelFor(count, 1, body);
  else
    body(0, count);
}

/// Halide's parallel loops, on the pool of the context that is running the model. Without one (a caller
/// outside ScopedPool) the loop runs serially on the calling thread.
int doParFor(void *userContext, halide_task_t task, int min, int size, uint8_t *closure) {
  ThreadPool *pool = currentPool;
  if (!pool || size <= 1 || pool->numThreads() == 1) {
    for (int i = 0; i < size; ++i)
      if (int result = task(userContext, min + i, closure))
        return result;
    return 0;
  }
  std::atomic<int> failed{0};
  pool->parallelFor(size, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      if (int result = task(userContext, min + static_cast<int>(i), closure))
        failed.store(result);
  });
  return failed.load();
}

/// A halide_buffer_t over caller memory; dims are (extent, stride) pairs, innermost first.
template <typename T>
struct View {
  halide_buffer_t buffer{};
  halide_dimension_t dims[4]{};

  View(const T *data, std::initializer_list<std::pair<int64_t, int64_t>> shape,
       halide_type_t type = halide_type_of<T>()) {
    int d = 0;
    for (auto [extent, stride] : shape)
      dims[d++] = halide_dimension_t(0, static_cast<int32_t>(extent), static_cast<int32_t>(stride));
    buffer.host = reinterpret_cast<uint8_t *>(const_cast<T *>(data));
    buffer.type = type;
    buffer.dimensions = d;
    buffer.dim = dims;
  }
  halide_buffer_t *get() { return &buffer; }
};
using F = View<float>;

void check(int result, const char *kernel) {
  if (result != 0)
    throw std::runtime_error(std::string("dense kernel ") + kernel + " failed (Halide error " +
                             std::to_string(result) + ")");
}

/// One product kernel per weight storage (GEMV, skinny GEMM, GEMM): x, weights, bias, out.
using ProductKernel = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
struct ProductKernels {
  ProductKernel f32, bf16, f16;
  const char *names[3];
};
constexpr ProductKernels kGemv{xf_gemv, xf_gemv_bf16, xf_gemv_f16, {"xf_gemv", "xf_gemv_bf16", "xf_gemv_f16"}};
constexpr ProductKernels kSkinnyGemm{xf_gemm_skinny, xf_gemm_skinny_bf16, xf_gemm_skinny_f16,
                                     {"xf_gemm_skinny", "xf_gemm_skinny_bf16", "xf_gemm_skinny_f16"}};
constexpr ProductKernels kGemm{xf_gemm, xf_gemm_bf16, xf_gemm_f16, {"xf_gemm", "xf_gemm_bf16", "xf_gemm_f16"}};

/// Runs the kernel of `kernels` for `storage` (F32, BF16 or F16; MXFP4 has kernels of its own).
void runProduct(const ProductKernels &kernels, Storage storage, halide_buffer_t *x, halide_buffer_t *wt,
                halide_buffer_t *bias, halide_buffer_t *out) {
  if (storage == Storage::MXFP4)
    throw std::logic_error("dense::linear: MXFP4 weights have kernels of their own");
  const int i = storage == Storage::F32 ? 0 : storage == Storage::BF16 ? 1 : 2;
  check((i == 0 ? kernels.f32 : i == 1 ? kernels.bf16 : kernels.f16)(x, wt, bias, out), kernels.names[i]);
}

} // namespace

ScopedPool::ScopedPool(ThreadPool &pool) : previous(currentPool) {
  static const bool installed = [] {
    halide_set_custom_do_par_for(doParFor);
    return true;
  }();
  (void)installed;
  currentPool = &pool;
}

ScopedPool::~ScopedPool() { currentPool = previous; }

const char *dense::storageName(Storage storage) {
  switch (storage) {
  case Storage::F32:
    return "f32";
  case Storage::BF16:
    return "bf16";
  case Storage::F16:
    return "f16";
  case Storage::MXFP4:
    return "mxfp4";
  case Storage::I8:
    return "int8";
  }
  return "?";
}

std::optional<Storage> dense::storageNamed(const std::string &name) {
  for (Storage storage : {Storage::F32, Storage::BF16, Storage::F16})
    if (name == storageName(storage))
      return storage;
  return std::nullopt;
}

const char *dense::dotName(Dot dot) { return dot == Dot::BF16 ? "bf16" : dot == Dot::I8 ? "int8" : "f32"; }

std::optional<Dot> dense::dotNamed(const std::string &name) {
  for (Dot dot : {Dot::F32, Dot::BF16, Dot::I8})
    if (name == dotName(dot))
      return dot;
  return std::nullopt;
}

bool dense::bf16DotSupported() {
#if defined(__x86_64__)
  static const bool cpu = [] {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
      return false;
    // The OS saves SSE, AVX and the three AVX-512 register states (XCR0 bits 1, 2, 5, 6, 7).
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6u) != 0xe6u)
      return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1)
      return false;
    const unsigned ebx = bit_AVX512F | bit_AVX512DQ | bit_AVX512IFMA | bit_AVX512CD | bit_AVX512BW | bit_AVX512VL;
    const unsigned ecx = bit_AVX512VBMI | bit_AVX512VNNI;
    if ((b & ebx) != ebx || (c & ecx) != ecx)
      return false;
    __get_cpuid_count(7, 1, &a, &b, &c, &d);
    return (a & bit_AVX512BF16) != 0;
  }();
  const char *disabled = std::getenv("XF_CPU_NO_AVX512BF16");
  return cpu && !(disabled && *disabled && std::string(disabled) != "0");
#else
  return false;
#endif
}

bool dense::int8DotSupported() { return bf16DotSupported(); }

uint16_t dense::toStorage16(float value, Storage storage) {
  if (storage == Storage::F16) {
    _Float16 half = static_cast<_Float16>(value);
    uint16_t bits;
    std::memcpy(&bits, &half, sizeof(bits));
    return bits;
  }
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40u); // NaN stays a (quiet) NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);                 // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

#if defined(__x86_64__)
/// float32 to IEEE half 8 at a time with F16C's vcvtps2ph, rounding to nearest even as the scalar
/// conversion does (which the baseline x86-64 build compiles to a library call per element).
__attribute__((target("avx,f16c"))) static void toHalfF16C(const float *src, uint16_t *dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i)
    dst[i] = dense::toStorage16(src[i], Storage::F16);
}
#endif

void dense::toStorage16(const float *src, uint16_t *dst, size_t n, Storage storage) {
#if defined(__x86_64__)
  static const bool f16c = __builtin_cpu_supports("f16c");
  if (storage == Storage::F16 && f16c)
    return toHalfF16C(src, dst, n);
#endif
  for (size_t i = 0; i < n; ++i)
    dst[i] = toStorage16(src[i], storage);
}

float dense::fromStorage16(uint16_t bits, Storage storage) {
  return storage == Storage::F16 ? halfToFloat(bits) : bfloat16ToFloat(bits);
}

namespace {

constexpr int64_t kTile = 64; // inputs per tile: a multiple of an MXFP4 group

/// Fills the panels of an [out, in] weight, one panel per task, every element written (padding columns
/// zero) so that uninitialized storage is first touched by the thread that fills it. rows(n, k0, kn, dst)
/// writes inputs [k0, k0 + kn) of row n, in the stored type, to dst; they go through a tile of kPanel rows
/// x kTile inputs and out a panel row (kPanel contiguous elements) at a time.
template <typename T, typename Rows>
void fillPanels(T *panels, int64_t out, int64_t in, int64_t outPadded, const Rows &rows) {
  forRange(outPadded / kPanel, [&](int64_t p0, int64_t p1) {
    T tile[kPanel * kTile];
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * kPanel, width = std::max<int64_t>(0, std::min(kPanel, out - n0));
      T *panel = panels + n0 * in;
      for (int64_t k0 = 0; k0 < in; k0 += kTile) {
        const int64_t kn = std::min(kTile, in - k0);
        for (int64_t j = 0; j < width; ++j)
          rows(n0 + j, k0, kn, tile + j * kTile);
        for (int64_t kk = 0; kk < kn; ++kk) {
          T *dst = panel + (k0 + kk) * kPanel;
          for (int64_t j = 0; j < width; ++j)
            dst[j] = tile[j * kTile + kk];
          std::fill(dst + width, dst + kPanel, T(0));
        }
      }
    }
  });
}

/// The same for a [in, out] weight, whose rows are already panel rows.
template <typename T, typename Convert>
void fillPanelsTransposed(T *panels, const float *w, int64_t out, int64_t in, int64_t outPadded,
                          const Convert &convert) {
  forRange(outPadded / kPanel, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * kPanel, width = std::max<int64_t>(0, std::min(kPanel, out - n0));
      T *panel = panels + n0 * in;
      for (int64_t k = 0; k < in; ++k) {
        convert(w + k * out + n0, width, panel + k * kPanel);
        std::fill(panel + k * kPanel + width, panel + (k + 1) * kPanel, T(0));
      }
    }
  });
}

} // namespace

void Linear::reset(int64_t outFeatures, int64_t inFeatures, Storage kind, const float *b) {
  in = inFeatures;
  out = outFeatures;
  outPadded = paddedCols(out);
  storage = kind;
  paired = false;
  wt.clear();
  wt16.clear();
  codes.clear();
  scales.clear();
  q8.clear();
  q8Scale.clear();
  q8Offset.clear();
  if (storage == Storage::F32)
    wt.resize(static_cast<size_t>(in * outPadded));
  else if (storage != Storage::MXFP4)
    wt16.resize(static_cast<size_t>(in * outPadded));
  bias.assign(static_cast<size_t>(outPadded), 0.0f);
  if (b)
    std::memcpy(bias.data(), b, sizeof(float) * out);
}

void Linear::assign(const float *w, int64_t outFeatures, int64_t inFeatures, bool transposed, const float *b,
                    Storage kind) {
  reset(outFeatures, inFeatures, kind, b);
  auto copy = [](const float *src, int64_t n, float *dst) { std::copy(src, src + n, dst); };
  auto narrow = [&](const float *src, int64_t n, uint16_t *dst) { toStorage16(src, dst, static_cast<size_t>(n), storage); };
  if (transposed) {
    if (storage == Storage::F32)
      fillPanelsTransposed(wt.data(), w, out, in, outPadded, copy);
    else
      fillPanelsTransposed(wt16.data(), w, out, in, outPadded, narrow);
  } else if (storage == Storage::F32) {
    fillPanels(wt.data(), out, in, outPadded,
               [&](int64_t n, int64_t k0, int64_t kn, float *dst) { copy(w + n * in + k0, kn, dst); });
  } else {
    fillPanels(wt16.data(), out, in, outPadded,
               [&](int64_t n, int64_t k0, int64_t kn, uint16_t *dst) { narrow(w + n * in + k0, kn, dst); });
  }
}

void Linear::assignRows16(const std::function<const uint8_t *(int64_t)> &row, int64_t outFeatures,
                          int64_t inFeatures, const float *b, Storage kind) {
  if (kind != Storage::BF16 && kind != Storage::F16)
    throw std::invalid_argument("assignRows16 takes bf16 or f16 rows");
  reset(outFeatures, inFeatures, kind, b);
  fillPanels(wt16.data(), out, in, outPadded, [&](int64_t n, int64_t k0, int64_t kn, uint16_t *dst) {
    const uint8_t *src = row(n) + 2 * k0; // little-endian, perhaps unaligned
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    std::memcpy(dst, src, static_cast<size_t>(2 * kn));
#else
    for (int64_t k = 0; k < kn; ++k)
      dst[k] = static_cast<uint16_t>(src[2 * k] | src[2 * k + 1] << 8);
#endif
  });
}

namespace {

/// e2m1: sign, 2 exponent bits, 1 mantissa bit.
constexpr float kE2m1[16] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
                             -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};


/// Rows [0, rows) of panel p: y[m] = x[m] W^T + b, the codes looked up per (input pair, output) and the
/// group's scale applied once per 32 inputs (even and odd inputs summed apart, then together).
void gemvMxfp4Portable(const Linear &l, const float *x, int64_t ldx, int64_t rows, float *y, int64_t ldy,
                       int64_t p) {
  const int64_t groups = l.in / 32;
  for (int64_t m = 0; m < rows; ++m) {
    const float *xm = x + m * ldx;
    float acc[kPanel];
    std::memcpy(acc, l.bias.data() + p * kPanel, sizeof(acc));
    for (int64_t g = 0; g < groups; ++g) {
      float even[kPanel] = {}, odd[kPanel] = {};
      for (int64_t b = 0; b < 16; ++b) {
        const int64_t kp = g * 16 + b;
        const uint8_t *code = l.codes.data() + (p * (l.in / 2) + kp) * kPanel;
        for (int64_t j = 0; j < kPanel; ++j) {
          even[j] += xm[2 * kp] * kE2m1[code[j] & 0xf];
          odd[j] += xm[2 * kp + 1] * kE2m1[code[j] >> 4];
        }
      }
      const float *scale = l.scales.data() + (p * groups + g) * kPanel;
      for (int64_t j = 0; j < kPanel; ++j)
        acc[j] += (even[j] + odd[j]) * scale[j];
    }
    std::memcpy(y + m * ldy + p * kPanel, acc, sizeof(acc));
  }
}

#if defined(__x86_64__)
/// The same with AVX-512 for R rows at once: each 16 codes are widened and looked up (vpermps in the
/// 16-entry table) once for all R rows; that decoding is two thirds of the one-row GEMV's instructions.
/// Per row and output the sums are the one-row kernel's, in the same order, bit for bit. One row keeps
/// the panel's 4 vectors of outputs in registers; more rows take the panel in two halves of 2 vectors,
/// so that the 3 accumulators per (row, vector) fit in the 32 zmm.
template <int R>
__attribute__((target("avx512f"))) void gemvMxfp4Avx512(const Linear &l, const float *x, int64_t ldx, float *y,
                                                         int64_t ldy, int64_t p) {
  constexpr int C = R == 1 ? 4 : 2;
  const int64_t groups = l.in / 32;
  const __m512 table = _mm512_loadu_ps(kE2m1);
  for (int c0 = 0; c0 < 4; c0 += C) {
    __m512 acc[C][R];
    for (int c = 0; c < C; ++c)
      for (int m = 0; m < R; ++m)
        acc[c][m] = _mm512_loadu_ps(l.bias.data() + p * kPanel + 16 * (c0 + c));
    for (int64_t g = 0; g < groups; ++g) {
      __m512 even[C][R], odd[C][R];
      for (int c = 0; c < C; ++c)
        for (int m = 0; m < R; ++m)
          even[c][m] = odd[c][m] = _mm512_setzero_ps();
      for (int64_t b = 0; b < 16; ++b) {
        const int64_t kp = g * 16 + b;
        const uint8_t *code = l.codes.data() + (p * (l.in / 2) + kp) * kPanel + 16 * c0;
        for (int c = 0; c < C; ++c) {
          __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(code + 16 * c)));
          // vpermps reads only the low 4 bits of each index: the low nibble needs no mask.
          const __m512 we = _mm512_permutexvar_ps(v, table),
                       wo = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
          for (int m = 0; m < R; ++m) {
            even[c][m] = _mm512_fmadd_ps(_mm512_set1_ps(x[m * ldx + 2 * kp]), we, even[c][m]);
            odd[c][m] = _mm512_fmadd_ps(_mm512_set1_ps(x[m * ldx + 2 * kp + 1]), wo, odd[c][m]);
          }
        }
      }
      const float *scale = l.scales.data() + (p * groups + g) * kPanel + 16 * c0;
      for (int c = 0; c < C; ++c) {
        const __m512 s = _mm512_loadu_ps(scale + 16 * c);
        for (int m = 0; m < R; ++m)
          acc[c][m] = _mm512_fmadd_ps(_mm512_add_ps(even[c][m], odd[c][m]), s, acc[c][m]);
      }
    }
    for (int c = 0; c < C; ++c)
      for (int m = 0; m < R; ++m)
        _mm512_storeu_ps(y + m * ldy + p * kPanel + 16 * (c0 + c), acc[c][m]);
  }
}
#endif

/// y[m] = x[m] W^T + b for m < rows (fewer than kMxfp4GemmRows): each task takes whole panels and runs every
/// row through them, in tiles of up to 4 rows of balanced heights (5 rows: 3 + 2), so the panel's codes are
/// read from DRAM once and decoded once per tile.
void gemvMxfp4(const Linear &l, const float *x, int64_t ldx, int64_t rows, float *y, int64_t ldy) {
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512)
    return forRange(l.outPadded / kPanel, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p)
        for (int64_t m = 0; m < rows;) {
          const int64_t left = rows - m, tile = (left + (left + 3) / 4 - 1) / ((left + 3) / 4);
          const float *xm = x + m * ldx;
          float *ym = y + m * ldy;
          switch (tile) {
          case 1: gemvMxfp4Avx512<1>(l, xm, ldx, ym, ldy, p); break;
          case 2: gemvMxfp4Avx512<2>(l, xm, ldx, ym, ldy, p); break;
          case 3: gemvMxfp4Avx512<3>(l, xm, ldx, ym, ldy, p); break;
          default: gemvMxfp4Avx512<4>(l, xm, ldx, ym, ldy, p); break;
          }
          m += tile;
        }
    });
#endif
  forRange(l.outPadded / kPanel, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p)
      gemvMxfp4Portable(l, x, ldx, rows, y, ldy, p);
  });
}

} // namespace

/// 2^(s - 127) for each E8M0 scale byte s, exact (s = 0 is the subnormal 2^-127); s = 255 is NaN and
/// refused before a layer is built.
static const std::array<float, 256> &e8m0Scales() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int s = 0; s < 256; ++s)
      t[static_cast<size_t>(s)] = std::ldexp(1.0f, s - 127);
    return t;
  }();
  return table;
}

void Linear::assignMxfp4Values(const uint8_t *blocks, const uint8_t *scaleBits, int64_t outFeatures,
                              int64_t inFeatures, const float *b, Storage kind) {
  if (inFeatures % 32 != 0)
    throw std::invalid_argument("MXFP4 weights need a multiple of 32 inputs");
  if (kind == Storage::MXFP4)
    throw std::invalid_argument("assignMxfp4Values dequantizes: use assignMxfp4 to keep the codes");
  reset(outFeatures, inFeatures, kind, b);
  const int64_t groups = in / 32;
  const std::array<float, 256> &scaleOf = e8m0Scales();
  // Inputs [k0, k0 + kn) of output n, whole groups (fillPanels' tiles are a multiple of 32 inputs). A code
  // times 2^(s - 127) is exact in float, subnormals included; s = 255 (NaN) was refused when the tensor
  // was found.
  auto values = [&](int64_t n, int64_t k0, int64_t kn, float *dst) {
    for (int64_t g = k0 / 32; g < (k0 + kn) / 32; ++g) {
      const float scale = scaleOf[scaleBits[n * groups + g]];
      const uint8_t *bytes = blocks + (n * groups + g) * 16;
      float *d = dst + (g * 32 - k0);
      for (int64_t i = 0; i < 16; ++i) {
        d[2 * i] = kE2m1[bytes[i] & 0xf] * scale;
        d[2 * i + 1] = kE2m1[bytes[i] >> 4] * scale;
      }
    }
  };
  if (storage == Storage::F32) {
    fillPanels(wt.data(), out, in, outPadded, values);
  } else {
    fillPanels(wt16.data(), out, in, outPadded, [&](int64_t n, int64_t k0, int64_t kn, uint16_t *dst) {
      float tile[kTile];
      values(n, k0, kn, tile);
      toStorage16(tile, dst, static_cast<size_t>(kn), storage);
    });
  }
}

void Linear::assignMxfp4(const uint8_t *blocks, const uint8_t *scaleBits, int64_t outFeatures, int64_t inFeatures,
                         const float *b) {
  if (inFeatures % 32 != 0)
    throw std::invalid_argument("MXFP4 weights need a multiple of 32 inputs");
  reset(outFeatures, inFeatures, Storage::MXFP4, b);
  const int64_t groups = in / 32;
  codes.resize(static_cast<size_t>(outPadded * in / 2));
  scales.resize(static_cast<size_t>(outPadded * groups));
  const std::array<float, 256> &scaleOf = e8m0Scales();
  // A panel per task, every element written (padding columns: zero codes and scales), as fillPanels; per
  // group, the 64 outputs' 16 bytes are gathered into a tile and written out as 16 whole 64-byte rows.
  forRange(outPadded / kPanel, [&](int64_t p0, int64_t p1) {
    uint8_t tile[kPanel][16];
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t g = 0; g < groups; ++g) {
        float *scale = scales.data() + (p * groups + g) * kPanel;
        for (int64_t j = 0; j < kPanel; ++j) {
          const int64_t n = p * kPanel + j;
          if (n < out) {
            std::memcpy(tile[j], blocks + (n * groups + g) * 16, 16);
            scale[j] = scaleOf[scaleBits[n * groups + g]];
          } else {
            std::memset(tile[j], 0, 16);
            scale[j] = 0.0f;
          }
        }
        // Bytes of a group: inputs 32 g + 2 b (low nibble) and 32 g + 2 b + 1 (high), the same packing.
        uint8_t *row = codes.data() + (p * (in / 2) + g * 16) * kPanel;
        for (int64_t byte = 0; byte < 16; ++byte)
          for (int64_t j = 0; j < kPanel; ++j)
            row[byte * kPanel + j] = tile[j][byte];
      }
  });
}

void Linear::pairForDot() {
  dot = Dot::BF16;
#if defined(__x86_64__)
  if (paired || storage != Storage::BF16 || in % 2 != 0)
    return;
#else
  return; // the bf16 dot runs on x86-64 only
#endif
  PanelVector<uint16_t> pairs(wt16.size());
  for (int64_t p = 0; p < outPadded / kPanel; ++p)
    for (int64_t k = 0; k < in; ++k)
      for (int64_t j = 0; j < kPanel; ++j)
        pairs[static_cast<size_t>(((p * (in / 2) + k / 2) * kPanel + j) * 2 + k % 2)] =
            wt16[static_cast<size_t>((p * in + k) * kPanel + j)];
  wt16 = std::move(pairs);
  paired = true;
}

namespace {

int64_t quads(int64_t in) { return (in + 3) / 4; }

#if defined(__x86_64__)
/// quantizeRows for one row: max|x| by 16 lanes, then x / scale rounded to nearest even, clamped, + 128.
__attribute__((target("avx512f,avx512bw"))) void quantizeRowAvx512(const float *x, int64_t in, uint8_t *q,
                                                                   float *scale) {
  __m512 amax = _mm512_setzero_ps();
  __mmask16 nan = 0; // vmaxps drops NaNs
  for (int64_t k = 0; k < in; k += 16) {
    const __mmask16 mask = in - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (in - k)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(mask, x + k);
    amax = _mm512_max_ps(amax, _mm512_abs_ps(v));
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  }
  const float a = nan ? std::numeric_limits<float>::quiet_NaN() : _mm512_reduce_max_ps(amax);
  // A non-finite activation makes the row's outputs NaN (the float32 product would give inf or NaN too).
  const float s = !std::isfinite(a) ? std::numeric_limits<float>::quiet_NaN() : a > 0 ? a / 127.0f : 1.0f;
  *scale = s;
  const __m512 divisor = _mm512_set1_ps(std::isfinite(s) ? s : 1.0f);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127), bias = _mm512_set1_epi32(128);
  for (int64_t k = 0; k < in; k += 16) {
    const __mmask16 mask = in - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (in - k)) - 1);
    __m512i v = _mm512_cvt_roundps_epi32(_mm512_div_ps(_mm512_maskz_loadu_ps(mask, x + k), divisor),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v, lo), hi), bias);
    _mm512_mask_cvtepi32_storeu_epi8(q + k, mask, v);
  }
}
#endif

/// The same without AVX-512 (and the definition the vector form follows).
void quantizeRowPortable(const float *x, int64_t in, uint8_t *q, float *scale) {
  float a = 0.0f;
  for (int64_t k = 0; k < in; ++k)
    a = std::isnan(x[k]) || std::isnan(a) ? x[k] + a : std::max(a, std::fabs(x[k]));
  const float s = !std::isfinite(a) ? std::numeric_limits<float>::quiet_NaN() : a > 0 ? a / 127.0f : 1.0f;
  *scale = s;
  const float divisor = std::isfinite(s) ? s : 1.0f;
  for (int64_t k = 0; k < in; ++k) {
    const float v = std::nearbyint(x[k] / divisor);
    q[k] = static_cast<uint8_t>(std::clamp(std::isnan(v) ? 0.0f : v, -127.0f, 127.0f) + 128.0f);
  }
}

} // namespace

void dense::quantizeRows(const float *x, int64_t ldx, int64_t rows, int64_t in, uint8_t *xq, int64_t ldq,
                         float *scale) {
  const int64_t in4 = 4 * quads(in);
  auto body = [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      uint8_t *q = xq + m * ldq;
#if defined(__x86_64__)
      static const bool avx512 = __builtin_cpu_supports("avx512bw");
      if (avx512)
        quantizeRowAvx512(x + m * ldx, in, q, scale + m);
      else
#endif
        quantizeRowPortable(x + m * ldx, in, q, scale + m);
      std::fill(q + in, q + in4, uint8_t(128)); // zero
    }
  };
  // Parallel only where a row block outweighs a hand-off (a prefill's rows; not decode's one).
  if (rows >= 32)
    forRange((rows + 15) / 16, [&](int64_t b0, int64_t b1) { body(16 * b0, std::min(rows, 16 * b1)); });
  else
    body(0, rows);
}

namespace {

#if defined(__x86_64__)
/// quantizePanel with AVX-512: per vector of 16 outputs, max |w| over the rows, then 4 rows' codes at a time
/// packed into one int32 per output (byte kk = row 4 kq + kk), the k-quad layout.
__attribute__((target("avx512f,avx512bw"))) void quantizePanelAvx512(const float *w, int64_t in, int64_t in4,
                                                                     int8_t *codes, float *scale,
                                                                     int32_t *offset) {
  constexpr int C = kPanel / 16;
  const __m512 inf = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  __m512 amax[C], divisor[C];
  __mmask16 bad[C]; // rows (outputs) with a NaN or an infinity
  for (int c = 0; c < C; ++c) {
    amax[c] = _mm512_setzero_ps();
    bad[c] = 0;
  }
  for (int64_t k = 0; k < in; ++k)
    for (int c = 0; c < C; ++c) {
      const __m512 v = _mm512_abs_ps(_mm512_loadu_ps(w + k * kPanel + 16 * c));
      amax[c] = _mm512_max_ps(amax[c], v);
      bad[c] |= _mm512_cmp_ps_mask(v, inf, _CMP_NLT_UQ); // not below infinity: inf or NaN
    }
  for (int c = 0; c < C; ++c) {
    const __m512 s = _mm512_div_ps(amax[c], _mm512_set1_ps(127.0f));
    _mm512_storeu_ps(scale + 16 * c, _mm512_mask_mov_ps(s, bad[c], _mm512_set1_ps(std::nanf(""))));
    const __mmask16 usable = ~bad[c] & _mm512_cmp_ps_mask(amax[c], _mm512_setzero_ps(), _CMP_GT_OQ);
    divisor[c] = _mm512_mask_mov_ps(_mm512_set1_ps(1.0f), usable, s);
  }
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127), byte = _mm512_set1_epi32(0xff);
  __m512i sum[C];
  for (int c = 0; c < C; ++c)
    sum[c] = _mm512_setzero_si512();
  for (int64_t kq = 0; kq < in4 / 4; ++kq)
    for (int c = 0; c < C; ++c) {
      __m512i packed = _mm512_setzero_si512();
      for (int kk = 0; kk < 4; ++kk) {
        const int64_t k = 4 * kq + kk;
        if (k >= in)
          break;
        const __m512 v = _mm512_loadu_ps(w + k * kPanel + 16 * c);
        const __mmask16 finite = _mm512_cmp_ps_mask(_mm512_abs_ps(v), inf, _CMP_LT_OQ);
        __m512i q = _mm512_maskz_cvt_roundps_epi32(finite, _mm512_div_ps(v, divisor[c]),
                                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
        sum[c] = _mm512_add_epi32(sum[c], q);
        packed = _mm512_or_si512(packed, _mm512_slli_epi32(_mm512_and_si512(q, byte), 8 * kk));
      }
      _mm512_storeu_si512(codes + (kq * kPanel + 16 * c) * 4, packed);
    }
  for (int c = 0; c < C; ++c)
    _mm512_storeu_si512(offset + 16 * c, _mm512_mullo_epi32(sum[c], _mm512_set1_epi32(-128)));
}
#endif

/// Quantizes one panel's weights, w [in][kPanel] (row k: input k of the panel's outputs), into its k-quads
/// (codes [in4 / 4][kPanel][4], zeros beyond `in`), scales and offsets (kPanel each). Per output: scale =
/// max |w| / 127, codes round(w / scale) (nearest even) clamped to [-127, 127], offset -128 * sum of codes; an
/// all-zero output has scale 0 and zero codes; one with a NaN or an infinity has scale NaN (its outputs are
/// NaN, as float32 products would give inf or NaN) and zero codes in their place.
void quantizePanel(const float *w, int64_t in, int64_t in4, int8_t *codes, float *scale, int32_t *offset) {
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512bw");
  if (avx512)
    return quantizePanelAvx512(w, in, in4, codes, scale, offset);
#endif
  float amax[kPanel] = {}, divisor[kPanel];
  bool bad[kPanel] = {};
  for (int64_t k = 0; k < in; ++k)
    for (int64_t j = 0; j < kPanel; ++j) {
      const float v = std::fabs(w[k * kPanel + j]);
      bad[j] |= !(v < std::numeric_limits<float>::infinity());
      amax[j] = std::max(amax[j], v);
    }
  for (int64_t j = 0; j < kPanel; ++j) {
    scale[j] = bad[j] ? std::numeric_limits<float>::quiet_NaN() : amax[j] / 127.0f;
    divisor[j] = !bad[j] && amax[j] > 0 ? amax[j] / 127.0f : 1.0f;
  }
  int32_t sum[kPanel] = {};
  for (int64_t k = 0; k < in4; ++k)
    for (int64_t j = 0; j < kPanel; ++j) {
      const float v = k < in ? w[k * kPanel + j] : 0.0f;
      const float code = std::fabs(v) < std::numeric_limits<float>::infinity()
                             ? std::clamp(std::nearbyint(v / divisor[j]), -127.0f, 127.0f)
                             : 0.0f;
      codes[((k / 4) * kPanel + j) * 4 + k % 4] = static_cast<int8_t>(code);
      sum[j] += static_cast<int32_t>(code);
    }
  for (int64_t j = 0; j < kPanel; ++j)
    offset[j] = -128 * sum[j];
}

} // namespace

void Linear::quantizeForDot() {
  dot = Dot::I8;
  if (storage == Storage::MXFP4 || storage == Storage::I8)
    return;
  const int64_t in4 = 4 * quads(in), panels = outPadded / kPanel;
  PanelVector<int8_t> q(static_cast<size_t>(panels * in4 * kPanel));
  std::vector<float> scale(static_cast<size_t>(outPadded), 0.0f);
  std::vector<int32_t> offset(static_cast<size_t>(outPadded), 0);
  forRange(panels, [&](int64_t p0, int64_t p1) {
    std::vector<float> widened; // a 16-bit or k-paired panel as float32 rows
    for (int64_t p = p0; p < p1; ++p) {
      const float *w = nullptr;
      if (storage == Storage::F32 && !paired) {
        w = wt.data() + p * in * kPanel;
      } else {
        widened.resize(static_cast<size_t>(in * kPanel));
        if (paired) {
          for (int64_t k = 0; k < in; ++k)
            for (int64_t j = 0; j < kPanel; ++j)
              widened[static_cast<size_t>(k * kPanel + j)] = weight(p * kPanel + j, k);
        } else {
          const uint16_t *bits = wt16.data() + p * in * kPanel;
          for (int64_t i = 0; i < in * kPanel; ++i)
            widened[static_cast<size_t>(i)] = fromStorage16(bits[i], storage);
        }
        w = widened.data();
      }
      quantizePanel(w, in, in4, q.data() + p * in4 * kPanel, scale.data() + p * kPanel, offset.data() + p * kPanel);
    }
  });
  wt = PanelVector<float>();
  wt16 = PanelVector<uint16_t>();
  paired = false;
  q8 = std::move(q);
  q8Scale = std::move(scale);
  q8Offset = std::move(offset);
  storage = Storage::I8;
}

float Linear::weight(int64_t n, int64_t k) const {
  const int64_t p = n / kPanel, j = n % kPanel;
  if (storage == Storage::I8)
    return q8[static_cast<size_t>(((p * quads(in) + k / 4) * kPanel + j) * 4 + k % 4)] *
           q8Scale[static_cast<size_t>(n)];
  if (storage == Storage::MXFP4) {
    uint8_t code = codes[static_cast<size_t>((p * (in / 2) + k / 2) * kPanel + j)];
    return kE2m1[k % 2 ? code >> 4 : code & 0xf] * scales[static_cast<size_t>((p * (in / 32) + k / 32) * kPanel + j)];
  }
  size_t index = paired ? static_cast<size_t>(((p * (in / 2) + k / 2) * kPanel + j) * 2 + k % 2)
                        : static_cast<size_t>((p * in + k) * kPanel + j);
  return storage == Storage::F32 ? wt[index] : fromStorage16(wt16[index], storage);
}

void dense::linear(const Linear &layer, const float *x, int64_t ldx, int64_t rows, float *y, int64_t ldy) {
  const int64_t panels = layer.outPadded / kPanel;
  if (layer.storage == Storage::MXFP4) {
    if (rows < kMxfp4GemmRows)
      return gemvMxfp4(layer, x, ldx, rows, y, ldy);
    // Each task widens its panel (its rows amortize that) and runs the float32 micro-kernel.
    View<uint8_t> codes(layer.codes.data(), {{kPanel, 1}, {layer.in / 2, kPanel}, {panels, layer.in / 2 * kPanel}});
    F scales(layer.scales.data(), {{kPanel, 1}, {layer.in / 32, kPanel}, {panels, layer.in / 32 * kPanel}});
    F bias(layer.bias.data(), {{kPanel, 1}, {panels, kPanel}});
    F xv(x, {{layer.in, 1}, {rows, ldx}});
    F yv(y, {{kPanel, 1}, {panels, kPanel}, {rows, ldy}});
    return check(xf_gemm_mxfp4(xv.get(), codes.get(), scales.get(), bias.get(), yv.get()), "xf_gemm_mxfp4");
  }
  if (layer.storage == Storage::I8) {
    if (!int8DotSupported())
      throw std::runtime_error("int8 dot products need a CPU with AVX512-VNNI (vpdpbusd); this one has none");
#if defined(__x86_64__)
    const int64_t in4 = 4 * quads(layer.in);
    thread_local PanelVector<uint8_t> xq;
    thread_local std::vector<float> sx;
    xq.resize(static_cast<size_t>(rows * in4));
    sx.resize(static_cast<size_t>(rows));
    quantizeRows(x, ldx, rows, layer.in, xq.data(), in4, sx.data());
    View<int8_t> wt(layer.q8.data(), {{4 * kPanel, 1}, {in4 / 4, 4 * kPanel}, {panels, in4 * kPanel}});
    F scale(layer.q8Scale.data(), {{kPanel, 1}, {panels, kPanel}});
    View<int32_t> offset(layer.q8Offset.data(), {{kPanel, 1}, {panels, kPanel}});
    F bias(layer.bias.data(), {{kPanel, 1}, {panels, kPanel}});
    F sv(sx.data(), {{rows, 1}});
    if (rows == 1) {
      View<uint8_t> xv(xq.data(), {{in4, 1}});
      F yv(y, {{kPanel, 1}, {panels, kPanel}});
      return check(xf_gemv_i8dot(xv.get(), sv.get(), wt.get(), scale.get(), offset.get(), bias.get(), yv.get()),
                   "xf_gemv_i8dot");
    }
    View<uint8_t> xv(xq.data(), {{in4, 1}, {rows, in4}});
    F yv(y, {{kPanel, 1}, {panels, kPanel}, {rows, ldy}});
    if (rows < kMinRows)
      return check(
          xf_gemm_i8dot_rows(xv.get(), sv.get(), wt.get(), scale.get(), offset.get(), bias.get(), yv.get()),
          "xf_gemm_i8dot_rows");
    return check(xf_gemm_i8dot(xv.get(), sv.get(), wt.get(), scale.get(), offset.get(), bias.get(), yv.get()),
                 "xf_gemm_i8dot");
#endif
  }
  if (layer.dot == Dot::I8)
    throw std::logic_error("dense::linear: the int8 dot needs weights quantized by Linear::quantizeForDot");
  if (layer.paired) {
    if (layer.dot != Dot::BF16)
      throw std::logic_error("dense::linear: k-paired weights multiply only in the bf16 dot");
#if defined(__x86_64__)
    if (!bf16DotSupported())
      throw std::runtime_error("bf16 dot products need a CPU with AVX512-BF16 (vdpbf16ps); this one has none");
    View<uint16_t> pairs(layer.wt16.data(), {{2 * kPanel, 1}, {layer.in / 2, 2 * kPanel}, {panels, layer.in * kPanel}});
    F bias(layer.bias.data(), {{kPanel, 1}, {panels, kPanel}});
    if (rows == 1) {
      F xv(x, {{layer.in, 1}});
      F yv(y, {{kPanel, 1}, {panels, kPanel}});
      return check(xf_gemv_bf16_paired(xv.get(), pairs.get(), bias.get(), yv.get()), "xf_gemv_bf16_paired");
    }
    if (rows < kMinRows) {
      // A few rows (an expert's): copied into the dot GEMM's tile, zero rows below, and back.
      thread_local std::vector<float> xs, ys;
      xs.assign(static_cast<size_t>(kMinRows * layer.in), 0.0f);
      ys.resize(static_cast<size_t>(kMinRows * layer.outPadded));
      for (int64_t m = 0; m < rows; ++m)
        std::copy_n(x + m * ldx, layer.in, xs.data() + m * layer.in);
      F xv(xs.data(), {{layer.in, 1}, {kMinRows, layer.in}});
      F yv(ys.data(), {{kPanel, 1}, {panels, kPanel}, {kMinRows, layer.outPadded}});
      check(xf_gemm_bf16dot_paired(xv.get(), pairs.get(), bias.get(), yv.get()), "xf_gemm_bf16dot_paired");
      for (int64_t m = 0; m < rows; ++m)
        std::copy_n(ys.data() + m * layer.outPadded, layer.outPadded, y + m * ldy);
      return;
    }
    F xv(x, {{layer.in, 1}, {rows, ldx}});
    F yv(y, {{kPanel, 1}, {panels, kPanel}, {rows, ldy}});
    return check(xf_gemm_bf16dot_paired(xv.get(), pairs.get(), bias.get(), yv.get()), "xf_gemm_bf16dot_paired");
#else
    throw std::logic_error("dense::linear: k-paired weights exist only for the x86-64 bf16 dot");
#endif
  }
  const std::initializer_list<std::pair<int64_t, int64_t>> shape = {
      {kPanel, 1}, {layer.in, kPanel}, {panels, layer.in * kPanel}};
  F wt32(layer.wt.data(), shape);
  View<uint16_t> wt16(layer.wt16.data(), shape,
                      layer.storage == Storage::F16 ? halide_type_t(halide_type_float, 16)
                                                    : halide_type_of<uint16_t>());
  halide_buffer_t *wt = layer.storage == Storage::F32 ? wt32.get() : wt16.get();
  F bias(layer.bias.data(), {{kPanel, 1}, {panels, kPanel}});
  if (rows == 1) {
    F xv(x, {{layer.in, 1}});
    F yv(y, {{kPanel, 1}, {panels, kPanel}});
    return runProduct(kGemv, layer.storage, xv.get(), wt, bias.get(), yv.get());
  }
  if (rows < kSkinnyRows)
    throw std::logic_error("dense::linear: fewer rows than the skinny GEMM's tile");
  F xv(x, {{layer.in, 1}, {rows, ldx}});
  F yv(y, {{kPanel, 1}, {panels, kPanel}, {rows, ldy}});
  // An expert's few rows: 4-row tiles streaming the weights once (float32 arithmetic, as the GEMV).
  const bool dot = layer.dot == Dot::BF16 && layer.in % 2 == 0;
  if (rows < kMinRows || (!dot && runsSkinny(layer.storage, rows)))
    return runProduct(kSkinnyGemm, layer.storage, xv.get(), wt, bias.get(), yv.get());
  if (dot) {
    if (layer.storage != Storage::BF16)
      throw std::logic_error("dense::linear: bf16 dot products need bf16 weights");
    if (!bf16DotSupported())
      throw std::runtime_error("bf16 dot products need a CPU with AVX512-BF16 (vdpbf16ps); this one has none");
#if defined(__x86_64__)
    return check(xf_gemm_bf16dot(xv.get(), wt, bias.get(), yv.get()), "xf_gemm_bf16dot");
#endif
  }
  runProduct(kGemm, layer.storage, xv.get(), wt, bias.get(), yv.get());
}

void dense::rmsNorm(const float *x, int64_t ldx, int64_t rows, int64_t width, const float *w, float eps,
                    float offset, float *y, int64_t ldy) {
  F xv(x, {{width, 1}, {rows, ldx}});
  F wv(w, {{width, 1}});
  F yv(y, {{width, 1}, {rows, ldy}});
  check(xf_rms_norm(xv.get(), wv.get(), eps, offset, yv.get()), "xf_rms_norm");
}

void dense::gatedActivation(GateKind kind, const float *g, int64_t ldg, int64_t rows, int64_t inter, float *y,
                            int64_t ldy) {
  F gv(g, {{2 * inter, 1}, {rows, ldg}});
  F yv(y, {{inter, 1}, {rows, ldy}});
  switch (kind) {
  case GateKind::SiLU:
    return check(xf_silu_gate(gv.get(), yv.get()), "xf_silu_gate");
  case GateKind::GELUTanh:
    return check(xf_gelu_tanh_gate(gv.get(), yv.get()), "xf_gelu_tanh_gate");
  case GateKind::GELU:
    return check(xf_gelu_gate(gv.get(), yv.get()), "xf_gelu_gate");
  case GateKind::ReLU:
    return check(xf_relu_gate(gv.get(), yv.get()), "xf_relu_gate");
  case GateKind::ReLU2:
    return check(xf_relu2_gate(gv.get(), yv.get()), "xf_relu2_gate");
  }
}

void dense::clampedSwiGlu(const float *g, int64_t ldg, int64_t rows, int64_t inter, float limit, float alpha,
                          float *y, int64_t ldy) {
  F gv(g, {{2 * inter, 1}, {rows, ldg}});
  F yv(y, {{inter, 1}, {rows, ldy}});
  check(xf_clamped_swiglu(gv.get(), limit, alpha, yv.get()), "xf_clamped_swiglu");
}

void dense::rope(const float *x, int64_t tokens, int64_t sx, int64_t heads, int64_t hx, int64_t headDim,
                 const float *cosTable, const float *sinTable, int64_t half, float *y, int64_t sy, int64_t hy) {
  F xv(x, {{headDim, 1}, {heads, hx}, {tokens, sx}});
  F yv(y, {{headDim, 1}, {heads, hy}, {tokens, sy}});
  F cv(cosTable, {{half, 1}, {tokens, half}});
  F sv(sinTable, {{half, 1}, {tokens, half}});
  check(xf_rope(xv.get(), cv.get(), sv.get(), yv.get()), "xf_rope");
}

void dense::embed(const int32_t *ids, int64_t tokens, const float *table, int64_t vocab, int64_t width, float scale,
                  float *y) {
  View<int32_t> iv(ids, {{tokens, 1}});
  F tv(table, {{width, 1}, {vocab, width}});
  F yv(y, {{width, 1}, {tokens, width}});
  check(xf_embed(iv.get(), tv.get(), scale, yv.get()), "xf_embed");
}

void dense::embed(const int32_t *ids, int64_t tokens, const uint16_t *table, Storage storage, int64_t vocab,
                  int64_t width, float scale, float *y) {
  for (int64_t t = 0; t < tokens; ++t) {
    // Clamped as the float32 kernel does (callers check the ids first).
    const uint16_t *row = table + std::clamp<int64_t>(ids[t], 0, vocab - 1) * width;
    for (int64_t h = 0; h < width; ++h)
      y[t * width + h] = fromStorage16(row[h], storage) * scale;
  }
}

void dense::addScaled(const float *a, int64_t lda, const float *b, int64_t ldb, float scale, int64_t rows,
                      int64_t width, float *y, int64_t ldy) {
  F av(a, {{width, 1}, {rows, lda}});
  F bv(b, {{width, 1}, {rows, ldb}});
  F yv(y, {{width, 1}, {rows, ldy}});
  check(xf_add_scaled(av.get(), bv.get(), scale, yv.get()), "xf_add_scaled");
}
