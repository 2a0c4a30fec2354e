//===- Float16.h - exact widening of 16-bit floats ----------------------------===//
//
// The one place that turns float16 and bfloat16 bits into float: the safetensors reader widens checkpoint
// elements with it, and the dense kernels' 16-bit weight storage reads weights back with it.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_SRC_FLOAT16_H
#define XF_RUNTIME_SRC_FLOAT16_H

#include "llvm/ADT/bit.h"

#include <cstdint>
#include <cstring>

namespace xf::rt {

/// IEEE half bits to float, exactly (subnormals, infinities and NaN payloads included).
inline float halfToFloat(uint16_t half) {
  uint32_t sign = uint32_t(half & 0x8000) << 16;
  uint32_t exponent = (half >> 10) & 0x1f;
  uint32_t mantissa = half & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) { // inf, or NaN with its payload kept
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else { // subnormal: mantissa * 2^-24, normal as a float
    int shift = llvm::countl_zero(mantissa) - (32 - 11); // brings the leading 1 to bit 10
    mantissa = (mantissa << shift) & 0x3ff;
    bits = sign | (uint32_t(127 - 15 + 1 - shift) << 23) | (mantissa << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

/// bfloat16 bits to float: the upper half of the float's bits.
inline float bfloat16ToFloat(uint16_t bfloat) {
  uint32_t bits = uint32_t(bfloat) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

} // namespace xf::rt

#endif // XF_RUNTIME_SRC_FLOAT16_H
