//===- RopeBounds.h - phase bounds of rotary position embeddings ----------===//
//
// The bounds of VARIANTS.md §5 in one place. For context length L, depth N, rotary dims d, tolerance eps
// and angles computed with m mantissa bits:
//   aliasing:     L * base^(-(d-2)/d) < 2 pi         <=>  base > (L / (2 pi))^(d/(d-2))
//   DC stability: base >= (L / arccos(eps^(1/N)))^(d/(d-2))   (N = 1: without depth)
//   precision:    base < 2^m
// The constants come from a paper whose full text we could not check: they are parameters here.
//
//===----------------------------------------------------------------------===//
#ifndef XF_PASSES_ROPEBOUNDS_H
#define XF_PASSES_ROPEBOUNDS_H

#include <cstdint>
#include <string>

namespace mlir::xf {

struct RopeBoundsInput {
  int64_t rotaryDims = 128;   // d: dimensions that rotate (head_dim * partial_rotary_factor)
  int64_t contextLength = 0;  // L
  int64_t depth = 1;          // N: layers whose rotations compound
  double eps = 0.1;           // tolerance of the DC-stability bound (xf default)
  int64_t mantissaBits = 23;  // m of the angle dtype (fp32)
};

struct RopeBounds {
  double aliasingMin;   // base must exceed this
  double stabilityMin;  // base must be at least this
  double precisionMax;  // base must stay below this
  double lower() const { return aliasingMin > stabilityMin ? aliasingMin : stabilityMin; }
  bool feasible() const { return lower() < precisionMax; }

  /// The bounds `base` violates, as a readable list ("" when none).
  std::string violations(double base) const;
  /// The base `rope base = auto` picks: the geometric middle of the feasible interval (an xf choice: as
  /// far from aliasing and instability as from precision loss, on the log scale bases live on).
  double autoBase() const;
};

/// Returns the bounds; rotaryDims must be > 2 and even, contextLength and depth positive.
RopeBounds computeRopeBounds(const RopeBoundsInput &input);

} // namespace mlir::xf

#endif // XF_PASSES_ROPEBOUNDS_H
