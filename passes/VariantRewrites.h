//===- VariantRewrites.h - the attention variants as rewrites -------------===//
//
// Each variant of VARIANTS.md as one function over an xf.attention on tensors in a kernel function. The
// variant passes (xf-attention-sinks, ...) and xf-apply-spec-variants (the variants a .xf spec declares)
// both call these, so a variant has one implementation. Each returns failure after emitting an error
// that names the variant.
//
//===----------------------------------------------------------------------===//
#ifndef XF_PASSES_VARIANTREWRITES_H
#define XF_PASSES_VARIANTREWRITES_H

#include "dialect/XFOps.h"

namespace mlir::xf {

/// 1a: a learned sink logit per query head, as the kernel operand `sinks` [H].
LogicalResult addLearnedSinks(AttentionOp op);
/// 1b: StreamingLLM, `sinkTokens` first keys kept besides a window (`window` 0: the op's own).
LogicalResult makeStreaming(AttentionOp op, int64_t sinkTokens, int64_t window);
/// 1c: ACT sink calibration of the key columns `keys` on `heads` with factor `beta`.
LogicalResult calibrateSinks(AttentionOp op, ArrayRef<int64_t> keys, ArrayRef<int64_t> heads, double beta);
/// 2: output gain `gain` on `heads`, as constant head gates.
LogicalResult addHeadGains(AttentionOp op, ArrayRef<int64_t> heads, double gain);
/// 2: token emphasis z' = z + a |z| on the key positions `keys`, on every query row or only the last.
void addKeyEmphasis(AttentionOp op, ArrayRef<int64_t> keys, double a, bool lastRowOnly);
/// 3: mixture of heads: per-token gates as the kernel operand `gates` and a router kernel next to it.
LogicalResult addMixtureOfHeads(AttentionOp op, int64_t sharedHeads, int64_t topK, int64_t hidden);
/// 4: affine scaling with the kernel operands `alpha`, `alpha_ma` and activation phi.
LogicalResult addAffineScale(AttentionOp op, StringRef activation);

} // namespace mlir::xf

#endif // XF_PASSES_VARIANTREWRITES_H
