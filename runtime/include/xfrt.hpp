/*===- xfrt.hpp - C++ conveniences over the xf runtime C API -----------------===*
 *
 * Header-only: owning handles for modules and contexts, a status turned into its message, and a tensor
 * view of a std::vector. Everything here is a thin layer over xfrt.h.
 *===--------------------------------------------------------------------------===*/
#ifndef XFRT_HPP
#define XFRT_HPP

#include "xfrt.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace xfrt {

struct ModuleDeleter {
  void operator()(xfrt_module *module) const { xfrt_module_close(module); }
};
struct ContextDeleter {
  void operator()(xfrt_context *context) const { xfrt_context_destroy(context); }
};
struct ModelDeleter {
  void operator()(xfrt_model *model) const { xfrt_model_free(model); }
};
struct SessionDeleter {
  void operator()(xfrt_session *session) const { xfrt_session_free(session); }
};
using ModulePtr = std::unique_ptr<xfrt_module, ModuleDeleter>;
using ContextPtr = std::unique_ptr<xfrt_context, ContextDeleter>;
using ModelPtr = std::unique_ptr<xfrt_model, ModelDeleter>;
using SessionPtr = std::unique_ptr<xfrt_session, SessionDeleter>;

/// The status's message, or "" for success; frees the status.
inline std::string messageOf(xfrt_status status) {
  if (!status)
    return "";
  std::string message = xfrt_status_message(status);
  xfrt_status_free(status);
  return message;
}

/// A dense row-major view of `data` with `shape` (rank <= XFRT_MAX_RANK).
inline xfrt_tensor tensorOf(float *data, const std::vector<int64_t> &shape) {
  xfrt_tensor tensor{};
  tensor.data = data;
  tensor.rank = static_cast<int32_t>(shape.size());
  std::copy(shape.begin(), shape.end(), tensor.shape);
  return tensor;
}
inline xfrt_tensor tensorOf(std::vector<float> &data, const std::vector<int64_t> &shape) {
  return tensorOf(data.data(), shape);
}
/// float32 to bf16, rounding to nearest even (NaN stays NaN).
inline uint16_t toBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1)) >> 16);
}
inline float fromBf16(uint16_t value) {
  uint32_t bits = static_cast<uint32_t>(value) << 16;
  float result;
  std::memcpy(&result, &bits, 4);
  return result;
}

/// float32 to IEEE binary16, rounding to nearest even: overflow gives infinity, tiny values subnormals.
inline uint16_t toF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  uint32_t sign = (bits >> 16) & 0x8000u, magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x47800000u) // |value| >= 65536, infinity or NaN
    return static_cast<uint16_t>(sign | (magnitude > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (magnitude < 0x38800000u) { // below 2^-14: a subnormal half (or zero)
    // Adding 0.5 puts the half's 2^-24 quanta in the low mantissa bits; the float add rounds to nearest even.
    float shifted;
    std::memcpy(&shifted, &magnitude, 4);
    shifted += 0.5f;
    uint32_t rounded;
    std::memcpy(&rounded, &shifted, 4);
    return static_cast<uint16_t>(sign | (rounded - 0x3f000000u));
  }
  // Rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even; a carry out of
  // the largest finite half gives infinity.
  uint32_t odd = (magnitude >> 13) & 1;
  return static_cast<uint16_t>(sign | ((magnitude - 0x38000000u + 0xfffu + odd) >> 13));
}
inline float fromF16(uint16_t value) {
  uint32_t sign = static_cast<uint32_t>(value & 0x8000u) << 16, exponent = (value >> 10) & 0x1f,
           mantissa = value & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) { // zero or subnormal: mantissa * 2^-24
    float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    std::memcpy(&bits, &magnitude, 4);
    bits |= sign;
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float result;
  std::memcpy(&result, &bits, 4);
  return result;
}

/// float32 to the 16-bit `dtype` (XFRT_BF16 or XFRT_F16) and back, rounding to nearest even.
inline uint16_t toHalf(float value, xfrt_dtype dtype) { return dtype == XFRT_BF16 ? toBf16(value) : toF16(value); }
inline float fromHalf(uint16_t value, xfrt_dtype dtype) {
  return dtype == XFRT_BF16 ? fromBf16(value) : fromF16(value);
}

/// A dense row-major view of 16-bit elements (`dtype` XFRT_BF16 or XFRT_F16).
inline xfrt_tensor tensorOf(uint16_t *data, const std::vector<int64_t> &shape, xfrt_dtype dtype) {
  xfrt_tensor tensor{};
  tensor.data = data;
  tensor.rank = static_cast<int32_t>(shape.size());
  std::copy(shape.begin(), shape.end(), tensor.shape);
  tensor.dtype = dtype;
  return tensor;
}

} // namespace xfrt

#endif /* XFRT_HPP */
