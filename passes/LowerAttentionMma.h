//===- LowerAttentionMma.h - the tensor-core form of xf-lower-attention ---===//
#ifndef XF_PASSES_LOWERATTENTIONMMA_H
#define XF_PASSES_LOWERATTENTIONMMA_H

#include "dialect/XFOps.h"

namespace mlir::xf {

/// Threads per workgroup of the tensor-core form with staged K/V: four warps share each key block.
constexpr int64_t kMmaStagedWorkgroupSize = 128;

/// Whether the tensor-core form takes `op`: key and value of one 16-bit type (a query of another type is
/// rounded to it), head dims that are multiples of 16 (key) and 8 (value); every variant.
bool mmaFormTakes(AttentionOp op);

/// Whether the tensor-core form can stage `op`'s K/V blocks in workgroup memory (head dims multiples of 16,
/// the double buffer within 48 KiB).
bool mmaFormStages(AttentionOp op);

/// Emits the tensor-core loop nest of `op` (on memrefs) before it: the SIMT program with nvvm.mma.sync, or
/// with `emulate` its CPU emulation (one warp per work item, per-lane values as 32-lane vectors). With
/// `stage` (where mmaFormStages allows) K/V blocks go through double-buffered workgroup memory, copied
/// with cp.async; otherwise fragments load straight from global memory. With `splitMinKeys` > 0 a row
/// block's keys may be split over several warps whose partial results the last one to finish combines.
/// Each warp takes `mTiles` (1 or 2; 0: 2 for head dims up to 96, else 1) m-tiles of 16 rows.
void emitMmaAttention(AttentionOp op, bool emulate, bool stage, int64_t splitMinKeys, int64_t mTiles);

} // namespace mlir::xf

#endif // XF_PASSES_LOWERATTENTIONMMA_H
