//===- LowerAttentionMma.cpp - the tensor-core form of xf-lower-attention -===//
//
// One warp per 16 or 32 (query row, head) pairs of one kv head's group (one or two m-tiles); Q Kᵀ and P V
// are m16n8k16 multiplies on 16-bit operands with f32 accumulators (see the option `mma-form` in
// Passes.td). The same emitter writes the SIMT program (one lane per work item, nvvm.mma.sync) and its CPU
// emulation (one warp per work item, per-lane values as 32-lane vectors), so the fragment bookkeeping is
// tested where no GPU is.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerAttentionMma.h"
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <array>
#include <limits>

using namespace mlir;

namespace {

constexpr int64_t kWarp = 32;
constexpr int64_t kTileRows = 16; // the M of m16n8k16
constexpr int64_t kMaxMTiles = 2;  // m-tiles per warp (mma-m-tiles): every K and V fragment feeds each
constexpr int64_t kMaxLaneRows = 2 * kMaxMTiles; // a lane's rows: g and g + 8 of each m-tile
constexpr int64_t kKeys = 16; // keys per block: two 8-key S tiles, one K step of P V
constexpr int64_t kGroupWarps = mlir::xf::kMmaStagedWorkgroupSize / kWarp; // staged: warps sharing K/V blocks
// Split-K: enough warps to fill an H100/H200 (132 SMs, 8 warps each), at most 64 partials per row block.
constexpr int64_t kSplitTargetWarps = 1024;
constexpr int64_t kMaxSplits = 64;

/// A, B and C fragments of one m16n8k16 multiply: per lane 8, 4 and 4 values.
using FragA = std::array<Value, 8>;
using FragB = std::array<Value, 4>;
using FragC = std::array<Value, 4>;
/// A key block's scores (or visibility): per m-tile its two 8-key C fragments.
using Scores = std::array<std::array<FragC, 2>, kMaxMTiles>;

class MmaEmitter {
public:
  MmaEmitter(xf::AttentionOp op, bool emulate, bool stage, int64_t splitMinKeys, int64_t mTiles)
      : op(op), emulate(emulate), stage(stage), splitMinKeys(splitMinKeys), mTiles(mTiles), laneRows(2 * mTiles),
        rows(kTileRows * mTiles), b(op.getLoc(), op), f32(b.getF32Type()), index(b.getIndexType()),
        half(op.getKeyType().getElementType()) {}

  void emit();

private:
  xf::AttentionOp op;
  bool emulate, stage;
  int64_t splitMinKeys;
  int64_t mTiles, laneRows, rows; // m-tiles, rows per lane (g and g + 8 of each) and per warp
  ImplicitLocOpBuilder b;
  Type f32, index, half;
  Value batch, kvHead; // uniform over the warp

  // Values are uniform (scalars) or per lane: scalars in the SIMT program, 32-lane vectors in the emulation.
  Type laneType(Type element) { return emulate ? Type(VectorType::get({kWarp}, element)) : element; }
  Value perLane(Value uniform) {
    return emulate ? vector::BroadcastOp::create(b, laneType(uniform.getType()), uniform).getResult() : uniform;
  }
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value laneIdx(int64_t v) { return perLane(idx(v)); }
  Value laneF32(double v) { return perLane(arith::ConstantOp::create(b, b.getF32FloatAttr(v))); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value minI(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
  Value cmpI(arith::CmpIPredicate p, Value x, Value y) { return arith::CmpIOp::create(b, p, x, y); }

  /// `buffer[at]` per lane, `at` per-lane indices.
  Value load(Value buffer, ArrayRef<Value> at);
  /// `buffer[at] = x` in the lanes where `where` holds.
  void store(Value x, Value buffer, ArrayRef<Value> at, Value where);
  /// `x` of lane `lane ^ offset`.
  Value shuffleXor(Value x, int64_t offset);
  /// D = A B + C.
  FragC mma(const FragA &a, const FragB &bFrag, const FragC &c);
  /// Staged K/V: the warp copies key block [j0, j0 + 16) of `source` (rows past the last repeat it) into
  /// `tiles[slot, buffer]`, 16 bytes per copy, asynchronously on CUDA (cp.async) and plainly in the emulation.
  /// `thread` of `warps` warps (SIMT) copies its share of the 16-byte chunks.
  void copyBlock(Value source, Value tiles, Value slot, Value buffer, Value j0, Value lastK, Value thread,
                 int64_t warps);
  /// Where a staged tile row keeps its 8-element chunk `chunk`: XOR-swizzled by the row (rows' chunk
  /// counts that are powers of two), so the 8 rows an ldmatrix phase reads fall in distinct banks.
  Value swizzle(OpBuilder &at, Location loc, Value row, Value chunk, int64_t dim);
  /// ldmatrix .x4 (.trans with `transpose`) from `tiles[slot, buffer]`: lane l names row l mod 8 of matrix
  /// l / 8 as (`row`, logical chunk `chunk`); register i of lane 4 g + t then holds elements 2t and 2t + 1
  /// of row g of matrix i (transposed: rows 2t and 2t + 1 of column g). Returns [i][element].
  std::array<std::array<Value, 2>, 4> ldmatrix(Value tiles, Value slot, Value buffer, Value row, Value chunk,
                                               bool transpose, Value lane);
  /// The op's score or mask region on per-lane arguments (plus the key count where the region takes it).
  Value applyRegion(Region &region, SmallVector<Value> args, Value keyCount);
  /// Emulation: `scalar` (scalar code on one lane's values of `args`, yielding a `result`) run for every lane.
  Value eachLane(ArrayRef<Value> args, Type result,
                 function_ref<Value(ImplicitLocOpBuilder &, ValueRange)> scalar);
};

Value MmaEmitter::swizzle(OpBuilder &at, Location loc, Value row, Value chunk, int64_t dim) {
  int64_t chunks = dim / 8;
  if (!llvm::isPowerOf2_64(chunks) || chunks == 1)
    return chunk;
  auto mask = [&](int64_t v) -> Value {
    Value c = arith::ConstantIndexOp::create(at, loc, v);
    return isa<VectorType>(row.getType()) ? vector::BroadcastOp::create(at, loc, row.getType(), c).getResult() : c;
  };
  Value bits = arith::AndIOp::create(at, loc, row, mask(std::min<int64_t>(8, chunks) - 1));
  return arith::XOrIOp::create(at, loc, chunk, bits);
}

void MmaEmitter::copyBlock(Value source, Value tiles, Value slot, Value buffer, Value j0, Value lastK, Value thread,
                           int64_t warps) {
  int64_t dim = cast<MemRefType>(tiles.getType()).getDimSize(3), chunks = kKeys * dim / 8;
  // Chunk c: row c / (dim / 8), source column 8 (c mod dim / 8), and its swizzled column in the tile.
  auto place = [&](OpBuilder &at, Location loc, Value c) {
    ImplicitLocOpBuilder cb(loc, at);
    Value perRow = arith::ConstantIndexOp::create(cb, dim / 8), eight = arith::ConstantIndexOp::create(cb, 8);
    Value row = arith::DivUIOp::create(cb, c, perRow);
    Value chunk = arith::RemUIOp::create(cb, c, perRow);
    Value col = arith::MulIOp::create(cb, chunk, eight);
    Value tileCol = arith::MulIOp::create(cb, swizzle(at, loc, row, chunk, dim), eight);
    Value key = arith::MinSIOp::create(cb, arith::AddIOp::create(cb, j0, row), lastK);
    return std::array<Value, 4>{row, col, tileCol, key};
  };
  if (!emulate) {
    // Thread i copies chunks i, i + threads, ...: consecutive threads, consecutive 16 bytes of a row.
    int64_t threads = warps * kWarp;
    for (int64_t i = 0; i < static_cast<int64_t>(llvm::divideCeil(chunks, threads)); ++i) {
      Value c = add(thread, idx(i * threads));
      std::optional<OpBuilder::InsertionGuard> guard;
      if ((i + 1) * threads > chunks) {
        guard.emplace(b);
        b.setInsertionPointToStart(
            scf::IfOp::create(b, cmpI(arith::CmpIPredicate::ult, c, idx(chunks)), /*withElseRegion=*/false)
                .thenBlock());
      }
      auto [row, col, tileCol, key] = place(b, b.getLoc(), c);
      nvgpu::DeviceAsyncCopyOp::create(b, tiles, ValueRange{slot, buffer, row, tileCol}, source,
                                       ValueRange{batch, kvHead, key, col}, b.getIndexAttr(8), Value(),
                                       b.getUnitAttr());
    }
    return;
  }
  scf::ForOp::create(b, idx(0), idx(chunks), idx(1), ValueRange{},
                     [&](OpBuilder &nested, Location loc, Value c, ValueRange) {
                       auto [row, col, tileCol, key] = place(nested, loc, c);
                       ImplicitLocOpBuilder cb(loc, nested);
                       for (int64_t e = 0; e < 8; ++e) {
                         Value offset = arith::ConstantIndexOp::create(cb, e);
                         Value from = arith::AddIOp::create(cb, col, offset);
                         Value to = arith::AddIOp::create(cb, tileCol, offset);
                         Value x = memref::LoadOp::create(cb, source, ValueRange{batch, kvHead, key, from});
                         memref::StoreOp::create(cb, x, tiles, ValueRange{slot, buffer, row, to});
                       }
                       scf::YieldOp::create(cb);
                     });
}

std::array<std::array<Value, 2>, 4> MmaEmitter::ldmatrix(Value tiles, Value slot, Value buffer, Value row, Value chunk,
                                                         bool transpose, Value lane) {
  int64_t dim = cast<MemRefType>(tiles.getType()).getDimSize(3);
  Value col = mul(swizzle(b, b.getLoc(), row, chunk, dim), laneIdx(8));
  std::array<std::array<Value, 2>, 4> out;
  if (!emulate) {
    Value x = nvgpu::LdMatrixOp::create(b, VectorType::get({4, 2}, half), tiles, ValueRange{slot, buffer, row, col},
                                        transpose, 4);
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t e = 0; e < 2; ++e)
        out[i][e] = vector::ExtractOp::create(b, x, ArrayRef<int64_t>{i, e});
    return out;
  }
  // Each lane reads from the row address of the lane that names it, at its own offset in that row.
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t e = 0; e < 2; ++e) {
      SmallVector<int64_t> from, offset;
      for (int64_t l = 0; l < kWarp; ++l) {
        int64_t g = l / 4, t = l % 4;
        from.push_back(8 * i + (transpose ? 2 * t + e : g));
        offset.push_back(transpose ? g : 2 * t + e);
      }
      Value r = vector::ShuffleOp::create(b, row, row, from);
      Value c = vector::ShuffleOp::create(b, col, col, from);
      auto lanes = VectorType::get({kWarp}, index);
      c = add(c, arith::ConstantOp::create(b, DenseElementsAttr::get(lanes, ArrayRef<int64_t>(offset))));
      out[i][e] = load(tiles, {perLane(slot), perLane(buffer), r, c});
    }
  return out;
}

Value MmaEmitter::eachLane(ArrayRef<Value> args, Type result,
                           function_ref<Value(ImplicitLocOpBuilder &, ValueRange)> scalar) {
  Value init = arith::ConstantOp::create(b, DenseElementsAttr::get(cast<ShapedType>(laneType(result)),
                                                                   b.getZeroAttr(result)));
  auto body = [&](OpBuilder &nested, Location loc, Value l, ValueRange acc) {
    ImplicitLocOpBuilder lb(loc, nested);
    SmallVector<Value> values;
    for (Value v : args)
      values.push_back(vector::ExtractOp::create(lb, v, ArrayRef<OpFoldResult>{l}));
    Value x = scalar(lb, values);
    scf::YieldOp::create(lb, vector::InsertOp::create(lb, x, acc[0], ArrayRef<OpFoldResult>{l}).getResult());
  };
  return scf::ForOp::create(b, idx(0), idx(kWarp), idx(1), ValueRange{init}, body).getResult(0);
}

Value MmaEmitter::applyRegion(Region &region, SmallVector<Value> args, Value keyCount) {
  Block &body = region.front();
  if (body.getNumArguments() > args.size())
    args.push_back(perLane(keyCount));
  auto inlineOn = [&](ImplicitLocOpBuilder &at, ValueRange values) {
    IRMapping map;
    map.map(body.getArguments(), values);
    for (Operation &inner : body.without_terminator())
      at.clone(inner, map);
    return map.lookup(cast<xf::YieldOp>(body.getTerminator()).getValues()[0]);
  };
  if (!emulate)
    return inlineOn(b, args);
  // The region is scalar code: run it once per lane.
  return eachLane(args, cast<xf::YieldOp>(body.getTerminator()).getValues()[0].getType(), inlineOn);
}

Value MmaEmitter::load(Value buffer, ArrayRef<Value> at) {
  Type element = cast<MemRefType>(buffer.getType()).getElementType();
  if (!emulate)
    return memref::LoadOp::create(b, buffer, at);
  return eachLane(at, element, [&](ImplicitLocOpBuilder &lb, ValueRange indices) -> Value {
    return memref::LoadOp::create(lb, buffer, indices);
  });
}

void MmaEmitter::store(Value x, Value buffer, ArrayRef<Value> at, Value where) {
  Type element = cast<MemRefType>(buffer.getType()).getElementType();
  if (element != x.getType() && element != getElementTypeOrSelf(x.getType()))
    x = arith::TruncFOp::create(b, laneType(element), x);
  if (!emulate) {
    auto ifWhere = scf::IfOp::create(b, where, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifWhere.thenBlock());
    memref::StoreOp::create(b, x, buffer, at);
    return;
  }
  scf::ForOp::create(b, idx(0), idx(kWarp), idx(1), ValueRange{},
                     [&](OpBuilder &nested, Location loc, Value l, ValueRange) {
                       ImplicitLocOpBuilder lb(loc, nested);
                       auto lane = [&](Value v) { return vector::ExtractOp::create(lb, v, ArrayRef<OpFoldResult>{l}); };
                       auto ifWhere = scf::IfOp::create(lb, lane(where), /*withElseRegion=*/false);
                       lb.setInsertionPointToStart(ifWhere.thenBlock());
                       SmallVector<Value> scalar;
                       for (Value v : at)
                         scalar.push_back(lane(v));
                       memref::StoreOp::create(lb, lane(x), buffer, scalar);
                       lb.setInsertionPointAfter(ifWhere);
                       scf::YieldOp::create(lb);
                     });
}

Value MmaEmitter::shuffleXor(Value x, int64_t offset) {
  if (!emulate)
    return gpu::ShuffleOp::create(b, x, offset, kWarp, gpu::ShuffleMode::XOR).getShuffleResult();
  SmallVector<int64_t> mask;
  for (int64_t l = 0; l < kWarp; ++l)
    mask.push_back(l ^ offset);
  return vector::ShuffleOp::create(b, x, x, mask);
}

FragC MmaEmitter::mma(const FragA &a, const FragB &bFrag, const FragC &c) {
  if (!emulate) {
    // Registers hold element pairs, the lower index in the low half: vector<2xf16> for f16, i32 for bf16
    // (NVGPU's mma.sync has no bf16 lowering, so the NVVM op is built directly).
    auto pair = [&](Value lo, Value hi) -> Value {
      Value two = vector::FromElementsOp::create(b, VectorType::get({2}, half), ValueRange{lo, hi});
      if (half.isF16())
        return two;
      Value word = vector::BitCastOp::create(b, VectorType::get({1}, b.getI32Type()), two);
      return vector::ExtractOp::create(b, word, ArrayRef<int64_t>{0});
    };
    SmallVector<Value> aRegs, bRegs;
    for (int64_t r = 0; r < 4; ++r)
      aRegs.push_back(pair(a[2 * r], a[2 * r + 1]));
    for (int64_t r = 0; r < 2; ++r)
      bRegs.push_back(pair(bFrag[2 * r], bFrag[2 * r + 1]));
    NVVM::MMATypes type = half.isF16() ? NVVM::MMATypes::f16 : NVVM::MMATypes::bf16;
    auto result = LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    Value d = NVVM::MmaOp::create(b, result, aRegs, bRegs, ValueRange(c), ArrayRef<int64_t>{16, 8, 16},
                                  std::nullopt, std::nullopt, std::array<NVVM::MMATypes, 2>{type, type},
                                  std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
    FragC out;
    for (int64_t i = 0; i < 4; ++i)
      out[i] = LLVM::ExtractValueOp::create(b, d, ArrayRef<int64_t>{i});
    return out;
  }
  // Lane L = 4 g + t holds D[g + 8h][2t + i] in register 2h + i. A[r][k] sits in lane 4 (r mod 8) + (k mod 8) / 2,
  // register (k mod 2) + 2 (r / 8) + 4 (k / 8); B[k][n] in lane 4 n + (k mod 8) / 2, register (k mod 2) + 2 (k / 8).
  FragA aw;
  FragB bw;
  for (int64_t r = 0; r < 8; ++r)
    aw[r] = arith::ExtFOp::create(b, laneType(f32), a[r]);
  for (int64_t r = 0; r < 4; ++r)
    bw[r] = arith::ExtFOp::create(b, laneType(f32), bFrag[r]);
  FragC out;
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 2; ++i) {
      Value acc = c[2 * h + i];
      for (int64_t k = 0; k < 16; ++k) {
        SmallVector<int64_t> fromA, fromB;
        for (int64_t l = 0; l < kWarp; ++l) {
          fromA.push_back(4 * (l / 4) + (k % 8) / 2);
          fromB.push_back(4 * (2 * (l % 4) + i) + (k % 8) / 2);
        }
        Value av = aw[(k % 2) + 2 * h + 4 * (k / 8)], bv = bw[(k % 2) + 2 * (k / 8)];
        acc = math::FmaOp::create(b, vector::ShuffleOp::create(b, av, av, fromA),
                                  vector::ShuffleOp::create(b, bv, bv, fromB), acc);
      }
      out[2 * h + i] = acc;
    }
  return out;
}

void MmaEmitter::emit() {
  int64_t numHeads = op.getNumHeads(), group = numHeads / op.getNumKvHeads();
  int64_t d = op.getHeadDim(), dv = op.getValueHeadDim(), window = op.getWindow();
  bool causal = op.getCausal();
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue(), o = op.getOutput();
  Value batches = memref::DimOp::create(b, q, 0), seqQ = memref::DimOp::create(b, q, 2),
        seqK = memref::DimOp::create(b, k, 2);
  // A warp's rows are packed (query row, head) pairs of one kv head's group: packed row P is query row
  // P / group of head kvHead * group + P mod group. The group's heads share every K and V fragment, and a
  // decode step (S = 1) fills `group` rows of the tile instead of one.
  Value packedRows = mul(seqQ, idx(group));
  Value rowBlocks = arith::CeilDivUIOp::create(b, packedRows, idx(rows));
  // Staged K/V: the kGroupWarps warps of a workgroup take consecutive row blocks of one (batch, kv head) and
  // share every key block they copy; a kv head's row blocks are padded to whole workgroups.
  int64_t groupWarps = stage ? kGroupWarps : 1;
  Value paddedBlocks = mul(arith::CeilDivUIOp::create(b, rowBlocks, idx(groupWarps)), idx(groupWarps));
  Value perBatch = mul(idx(op.getNumKvHeads()), paddedBlocks);
  Value warps = mul(batches, perBatch); // row blocks, padded
  // Split-K: a row block's key blocks may be split over `splits` warps, so that a decode step (a few row
  // blocks over many keys) fills the GPU. Each writes its partial max, denominator and accumulator to
  // scratch; the last to finish (an atomic count) combines them. The emulation runs a row block's splits
  // one after another in its work item, through the same scratch layout. With affine scaling a partial
  // also holds the rows' visible-key counts and visible-value sums; ACT's calibrated columns are a pass of
  // their own, which the warp that combines runs.
  bool splittable = splitMinKeys > 0;
  Value splits = idx(1);
  if (splittable) {
    // The most keys a row block walks: all of them, or with a window (and no sink tokens, which keep the
    // first keys) the window plus the block's own positions and a block of alignment. Splits beyond that
    // would be empty.
    Value span = seqK;
    if (window && !op.getSinkTokens())
      span = minI(seqK, idx(window + groupWarps * rows + kKeys));
    Value blocks = arith::CeilDivUIOp::create(b, span, idx(kKeys));
    int64_t minBlocks = std::max<int64_t>(1, llvm::divideCeil(splitMinKeys, kKeys));
    Value byLength = arith::DivUIOp::create(b, blocks, idx(minBlocks));
    Value want = arith::CeilDivUIOp::create(b, idx(kSplitTargetWarps), arith::MaxUIOp::create(b, warps, idx(1)));
    splits = arith::MaxUIOp::create(b, idx(1), arith::MinUIOp::create(b, arith::MinUIOp::create(b, byLength, want),
                                                                        idx(kMaxSplits)));
  }
  Value launched = emulate ? warps : mul(warps, splits);
  Value items = emulate ? launched : mul(launched, idx(kWarp));
  // A partial: per row its max, denominator and dv accumulator columns (with affine scaling also its
  // visible-key count and dv visible-value sums); one per launched warp, a whole number of words per lane.
  bool affine = op.hasAffineScale();
  int64_t rowWords = 2 + dv + (affine ? 1 + dv : 0), partialWords = llvm::alignTo(rows * rowWords, kWarp);
  // GPU scratch: first one word per work item, which the runtime zeroes before each launch (the arrival
  // count of a row block at its first split's first thread), then the partials, written before they are read.
  Value scratch;
  if (splittable && !emulate) {
    auto alloc = memref::AllocOp::create(b, MemRefType::get({ShapedType::kDynamic}, f32),
                                         ValueRange{mul(items, idx(1 + partialWords / kWarp))});
    alloc->setAttr("xf.scratch_words_per_item", b.getI64IntegerAttr(1 + partialWords / kWarp));
    alloc->setAttr("xf.scratch_zeroed_words_per_item", b.getI64IntegerAttr(1));
    scratch = alloc;
  }
  auto par = scf::ParallelOp::create(b, ValueRange{idx(0)}, ValueRange{items}, ValueRange{idx(1)});
  b.setInsertionPointToStart(par.getBody());
  Value w = par.getInductionVars()[0];

  // SIMT: warp (global) = (row group * splits + split) * groupWarps + warp in the group, the row group's
  // warps taking row blocks row group * groupWarps + 0, 1, ... The emulation's work item is a row block.
  Value warp = emulate ? w : arith::DivUIOp::create(b, w, idx(kWarp)).getResult();
  Value rowBlock = warp, split, inGroup = idx(0);
  if (!emulate) {
    inGroup = arith::RemUIOp::create(b, warp, idx(groupWarps));
    Value workgroup = arith::DivUIOp::create(b, warp, idx(groupWarps));
    split = arith::RemUIOp::create(b, workgroup, splits);
    rowBlock = add(mul(arith::DivUIOp::create(b, workgroup, splits), idx(groupWarps)), inGroup);
  }
  Value lane;
  if (emulate) {
    SmallVector<int64_t> iota;
    for (int64_t l = 0; l < kWarp; ++l)
      iota.push_back(l);
    auto lanes = VectorType::get({kWarp}, index);
    lane = arith::ConstantOp::create(b, DenseElementsAttr::get(lanes, ArrayRef<int64_t>(iota)));
  } else {
    lane = arith::RemUIOp::create(b, w, idx(kWarp));
  }
  batch = arith::DivUIOp::create(b, rowBlock, perBatch);
  Value rem = arith::RemUIOp::create(b, rowBlock, perBatch);
  kvHead = arith::DivUIOp::create(b, rem, paddedBlocks);
  Value blockInHead = arith::RemUIOp::create(b, rem, paddedBlocks);
  Value p0 = mul(blockInHead, idx(rows)); // the warp's first packed row
  Value groupP0 = mul(arith::DivUIOp::create(b, blockInHead, idx(groupWarps)), idx(groupWarps * rows));
  Value offset = arith::SubIOp::create(b, seqK, seqQ); // query row r sits at position offset + r

  Value g = arith::DivUIOp::create(b, lane, laneIdx(4)), t = arith::RemUIOp::create(b, lane, laneIdx(4));
  Value twoT = mul(t, laneIdx(2));
  Value lastQ = arith::SubIOp::create(b, seqQ, idx(1)), lastK = arith::SubIOp::create(b, seqK, idx(1));
  // This lane's rows, lane row r = 2m + h being row g + 8h of m-tile m: packed row, query row (clamped for
  // loads; rows past the last are not stored), head and position. Register e of a C fragment of m-tile m
  // is lane row 2m + e / 2.
  Value bL = perLane(batch), kvL = perLane(kvHead);
  auto queryRow = [&](Value packed) { return arith::DivUIOp::create(b, packed, laneIdx(group)).getResult(); };
  auto headOf = [&](Value packed) {
    return add(mul(kvL, laneIdx(group)), arith::RemUIOp::create(b, packed, laneIdx(group)));
  };
  std::array<Value, kMaxLaneRows> packedR, rowR, rowRc, headR, posR;
  for (int64_t r = 0; r < laneRows; ++r) {
    packedR[r] = add(perLane(p0), add(g, laneIdx(kTileRows * (r / 2) + 8 * (r % 2))));
    rowR[r] = queryRow(packedR[r]);
    rowRc[r] = minI(rowR[r], perLane(lastQ));
    headR[r] = headOf(packedR[r]);
    posR[r] = add(perLane(offset), rowR[r]);
  }

  // Q as A fragments, per m-tile one per 16 head dims.
  std::array<SmallVector<FragA>, kMaxMTiles> qFrags;
  for (int64_t m = 0; m < mTiles; ++m)
    for (int64_t ks = 0; ks < d / 16; ++ks) {
      FragA a;
      for (int64_t r = 0; r < 8; ++r) {
        int64_t laneRow = 2 * m + (r % 4 < 2 ? 0 : 1); // registers 0, 1, 4, 5 hold row g, the others g + 8
        Value col = add(twoT, laneIdx(ks * 16 + 8 * (r / 4) + r % 2));
        a[r] = load(q, {bL, headR[laneRow], rowRc[laneRow], col});
        // A query of another type is rounded to the keys' type: the multiply takes one type.
        Type loaded = getElementTypeOrSelf(a[r].getType());
        if (loaded != half) {
          if (!loaded.isF32())
            a[r] = arith::ExtFOp::create(b, laneType(f32), a[r]);
          a[r] = arith::TruncFOp::create(b, laneType(half), a[r]);
        }
      }
      qFrags[m].push_back(a);
    }

  // The keys any row of `rows` packed rows from `first` sees: [begin, end).
  int64_t sinkTokens = op.getSinkTokens();
  auto keyRange = [&](Value first, int64_t rows) {
    Value firstRow = arith::DivUIOp::create(b, first, idx(group));
    Value lastRow = minI(arith::DivUIOp::create(b, add(first, idx(rows - 1)), idx(group)), lastQ);
    Value end = causal ? minI(seqK, add(add(offset, lastRow), idx(1))) : seqK;
    Value begin = idx(0);
    if (window && !sinkTokens) // streaming sink tokens keep the first keys: every block from 0 then
      begin = arith::MaxSIOp::create(b, idx(0), arith::SubIOp::create(b, add(offset, firstRow), idx(window - 1)));
    return std::pair{begin, end};
  };
  // The workgroup's warps go through the key blocks of all their rows together; a warp computes only on
  // those its own rows see.
  Value keyBegin, keyEnd;
  std::tie(keyBegin, keyEnd) = keyRange(groupP0, groupWarps * rows);
  Value blockBegin = mul(arith::DivUIOp::create(b, keyBegin, idx(kKeys)), idx(kKeys));
  Value ownBegin, ownEnd;
  if (groupWarps > 1)
    std::tie(ownBegin, ownEnd) = keyRange(p0, rows);

  int64_t dvTiles = dv / 8;
  double ninf = -std::numeric_limits<double>::infinity();
  // Carried: the lane rows' maxima and partial denominators, the P V accumulators (per m-tile 4 per value
  // tile); with affine scaling also the rows' visible-key counts (per-lane partials) and visible-value sums
  // (a second multiply, by the 0/1 visibility of the block).
  int64_t accWords = 4 * dvTiles; // accumulators of one m-tile
  int64_t lAt = laneRows, accAt = 2 * laneRows, affineAt = accAt + mTiles * accWords,
          vsumAt = affineAt + laneRows;
  SmallVector<Value> init(laneRows, laneF32(ninf));
  init.append(laneRows + mTiles * accWords + (affine ? laneRows + mTiles * accWords : 0), laneF32(0.0));
  Value scale = laneF32(op.getScale().convertToDouble());

  // Staged K/V: the workgroup double-buffers its key blocks in workgroup memory (a private buffer in the
  // emulation): the next block's copies are in flight while the warps compute on this one.
  Value kTiles, vTiles, slot;
  if (stage) {
    auto tilesOf = [&](int64_t dim) -> Value {
      if (emulate)
        return memref::AllocaOp::create(b, MemRefType::get({1, 2, kKeys, dim}, half));
      auto space = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
      return memref::AllocOp::create(b, MemRefType::get({1, 2, kKeys, dim}, half, MemRefLayoutAttrInterface(), space));
    };
    kTiles = tilesOf(d);
    vTiles = tilesOf(dv);
    slot = idx(0);
  }
  // The copying thread of the workgroup (SIMT); the emulation's warp copies whole blocks.
  Value copier = emulate ? lane : add(mul(inGroup, idx(kWarp)), lane);
  // ACT sink calibration: on the calibrated heads the main pass leaves the calibrated key columns out; a
  // second pass over just those columns (below) gives their own max, denominator and accumulator.
  ArrayRef<int64_t> calKeys, calHeads;
  if (op.getCalibratedKeys()) {
    calKeys = *op.getCalibratedKeys();
    calHeads = *op.getCalibratedHeads();
  }
  auto anyEqual = [&](Value x, ArrayRef<int64_t> values) {
    Value hit = perLane(arith::ConstantOp::create(b, b.getBoolAttr(false)));
    for (int64_t value : values)
      hit = arith::OrIOp::create(b, hit, cmpI(arith::CmpIPredicate::eq, x, laneIdx(value)));
    return hit;
  };
  // Scales and masks score tiles in place (register e of m-tile m's tile n: lane row 2m + e / 2, key
  // keyAt(n, e)); returns the 0/1 visibility. `calibrated` keeps the calibration pass's columns, else the
  // main pass's.
  Value ninfL = laneF32(ninf);
  auto maskScores = [&](Scores &s, function_ref<Value(int64_t, int64_t)> keyAt, std::optional<bool> calibrated,
                        function_ref<Value(int64_t, int64_t)> slotValid) {
    Scores visible;
    for (int64_t m = 0; m < mTiles; ++m)
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t e = 0; e < 4; ++e) {
        Value key = keyAt(n, e);
        Value pos = posR[2 * m + e / 2], hL = headR[2 * m + e / 2];
        Value keep = cmpI(arith::CmpIPredicate::slt, key, perLane(seqK));
        if (slotValid)
          keep = arith::AndIOp::create(b, keep, slotValid(n, e));
        Value z = arith::MulFOp::create(b, s[m][n][e], scale);
        if (op.hasScoreModifier()) // before masking, as the op says
          z = applyRegion(op.getScore(), {z, bL, hL, pos, key}, seqK);
        if (op.hasMaskModifier())
          keep = arith::AndIOp::create(b, keep, applyRegion(op.getMask(), {bL, hL, pos, key}, seqK));
        if (causal)
          keep = arith::AndIOp::create(b, keep, cmpI(arith::CmpIPredicate::sle, key, pos));
        if (window) {
          Value inWindow = cmpI(arith::CmpIPredicate::sgt, key, arith::SubIOp::create(b, pos, laneIdx(window)));
          if (sinkTokens)
            inWindow = arith::OrIOp::create(b, inWindow, cmpI(arith::CmpIPredicate::slt, key, laneIdx(sinkTokens)));
          keep = arith::AndIOp::create(b, keep, inWindow);
        }
        if (calibrated) {
          Value isCalibrated = anyEqual(hL, calHeads);
          if (*calibrated)
            keep = arith::AndIOp::create(b, keep, isCalibrated);
          else
            keep = arith::AndIOp::create(
                b, keep,
                arith::XOrIOp::create(b, arith::AndIOp::create(b, isCalibrated, anyEqual(key, calKeys)),
                                      perLane(arith::ConstantOp::create(b, b.getBoolAttr(true)))));
        }
        s[m][n][e] = arith::SelectOp::create(b, keep, z, ninfL);
        visible[m][n][e] = arith::SelectOp::create(b, keep, laneF32(1.0), laneF32(0.0));
      }
    return visible;
  };
  std::optional<bool> mainPass = calKeys.empty() ? std::nullopt : std::optional<bool>(false);

  // S = Q Kᵀ for 16 keys: per m-tile two 8-key tiles, kOf(n, ks, r) register r of tile n's B fragment at
  // head-dim step ks (loaded once for both m-tiles).
  auto scoreTiles = [&](function_ref<Value(int64_t, int64_t, int64_t)> kOf) {
    Scores tiles;
    for (int64_t m = 0; m < mTiles; ++m)
      for (int64_t n = 0; n < 2; ++n)
        tiles[m][n] = FragC{laneF32(0.0), laneF32(0.0), laneF32(0.0), laneF32(0.0)};
    // Head-dim step outermost: a step's K fragments are live only while its multiplies run.
    for (int64_t ks = 0; ks < d / 16; ++ks)
      for (int64_t n = 0; n < 2; ++n) {
        FragB kb;
        for (int64_t r = 0; r < 4; ++r)
          kb[r] = kOf(n, ks, r);
        for (int64_t m = 0; m < mTiles; ++m)
          tiles[m][n] = mma(qFrags[m][ks], kb, tiles[m][n]);
      }
    return tiles;
  };
  // Head-dim column of register r of a K fragment at step ks.
  auto kColumn = [&](int64_t ks, int64_t r) { return add(twoT, laneIdx(ks * 16 + 8 * (r / 2) + r % 2)); };

  // The online-softmax state of a lane's rows: maxima, partial denominators (summed over the row's 4
  // lanes at the end), the P V accumulators and, with affine scaling, partial visible-key counts and
  // visible-value sums.
  struct RowState {
    std::array<Value, kMaxLaneRows> m, l, count;
    SmallVector<Value> acc, vsum; // [m-tile * accWords + 4 * value tile + register]
  };
  // Folds one block of 16 keys into `st`: its masked score tiles `s` and their 0/1 visibility. The 4 lanes
  // of a row (same g) agree on its max through two xor shuffles; the two tiles' probabilities, rounded to
  // the operand type, are in order the A fragment of P V (keys 0-7, then 8-15). vOf(tile, r) is register r
  // of the block's V fragment for value columns [8 tile, 8 tile + 8).
  auto fold = [&](RowState &st, const Scores &s, const Scores &visible, function_ref<Value(int64_t, int64_t)> vOf) {
    std::array<Value, kMaxLaneRows> alpha, base;
    for (int64_t h = 0; h < laneRows; ++h) {
      const std::array<FragC, 2> &tiles = s[h / 2];
      int64_t e0 = 2 * (h % 2);
      Value blockMax = arith::MaximumFOp::create(b, arith::MaximumFOp::create(b, tiles[0][e0], tiles[0][e0 + 1]),
                                                 arith::MaximumFOp::create(b, tiles[1][e0], tiles[1][e0 + 1]));
      blockMax = arith::MaximumFOp::create(b, blockMax, shuffleXor(blockMax, 1));
      blockMax = arith::MaximumFOp::create(b, blockMax, shuffleXor(blockMax, 2));
      Value mNew = arith::MaximumFOp::create(b, st.m[h], blockMax);
      // While a row has seen no key its max is -inf: exponentiate against 0 (every term is 0 then).
      Value none = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, mNew, ninfL);
      base[h] = arith::SelectOp::create(b, none, laneF32(0.0), mNew);
      alpha[h] = math::ExpOp::create(b, arith::SubFOp::create(b, st.m[h], base[h]));
      st.m[h] = mNew;
      st.l[h] = arith::MulFOp::create(b, st.l[h], alpha[h]);
    }
    std::array<FragA, kMaxMTiles> p, seen; // seen: the visibility as an A fragment, exact in any 16-bit type
    for (int64_t m = 0; m < mTiles; ++m)
      for (int64_t n = 0; n < 2; ++n)
        for (int64_t e = 0; e < 4; ++e) {
          int64_t h = 2 * m + e / 2;
          Value x = math::ExpOp::create(b, arith::SubFOp::create(b, s[m][n][e], base[h]));
          st.l[h] = arith::AddFOp::create(b, st.l[h], x);
          p[m][4 * n + e] = arith::TruncFOp::create(b, laneType(half), x);
          if (affine) {
            st.count[h] = arith::AddFOp::create(b, st.count[h], visible[m][n][e]);
            seen[m][4 * n + e] = arith::TruncFOp::create(b, laneType(half), visible[m][n][e]);
          }
        }
    for (int64_t tile = 0; tile < dvTiles; ++tile) {
      FragB vb;
      for (int64_t r = 0; r < 4; ++r)
        vb[r] = vOf(tile, r);
      for (int64_t m = 0; m < mTiles; ++m) {
        int64_t at = m * accWords + 4 * tile;
        FragC acc;
        for (int64_t e = 0; e < 4; ++e)
          acc[e] = arith::MulFOp::create(b, st.acc[at + e], alpha[2 * m + e / 2]);
        FragC out = mma(p[m], vb, acc);
        std::copy(out.begin(), out.end(), st.acc.begin() + at);
        if (affine) {
          FragC sum{st.vsum[at], st.vsum[at + 1], st.vsum[at + 2], st.vsum[at + 3]};
          FragC summed = mma(seen[m], vb, sum);
          std::copy(summed.begin(), summed.end(), st.vsum.begin() + at);
        }
      }
    }
  };

  // The key blocks [begin, end) (block-aligned begin) through the online softmax; the loop's results.
  auto keyPass = [&](Value begin, Value end) -> scf::ForOp {
  if (stage) {
    // The first block, unless there is none (then T may be 0 and no row can be read).
    auto any = scf::IfOp::create(b, cmpI(arith::CmpIPredicate::slt, begin, end), /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(any.thenBlock());
    copyBlock(k, kTiles, slot, idx(0), begin, lastK, copier, groupWarps);
    copyBlock(v, vTiles, slot, idx(0), begin, lastK, copier, groupWarps);
    if (!emulate)
      NVVM::CpAsyncCommitGroupOp::create(b);
  }
  auto loop = scf::ForOp::create(b, begin, end, idx(kKeys), init, [&](OpBuilder &nested, Location loc,
                                                                      Value j0, ValueRange carried) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
    Value j0L = perLane(j0);
    Value buffer;
    if (stage) {
      // Block j0 is in buffer ((j0 - first) / 16) mod 2; the next one goes to the other buffer now (past the
      // last block it copies clamped rows, one wasted block, so every iteration commits one group).
      buffer = arith::RemUIOp::create(b, arith::DivUIOp::create(b, arith::SubIOp::create(b, j0, begin), idx(kKeys)),
                                      idx(2));
      Value other = arith::SubIOp::create(b, idx(1), buffer);
      copyBlock(k, kTiles, slot, other, add(j0, idx(kKeys)), lastK, copier, groupWarps);
      copyBlock(v, vTiles, slot, other, add(j0, idx(kKeys)), lastK, copier, groupWarps);
      if (!emulate) {
        NVVM::CpAsyncCommitGroupOp::create(b);
        NVVM::CpAsyncWaitGroupOp::create(b, 1); // all but the newest group: this thread's copies have landed
        gpu::BarrierOp::create(b);              // and every thread's
      }
    }
    // A warp whose rows see none of the block's keys passes it by (its group's other warps may not).
    scf::IfOp sees;
    std::optional<OpBuilder::InsertionGuard> seesGuard;
    if (ownEnd) {
      Value overlaps = arith::AndIOp::create(b, cmpI(arith::CmpIPredicate::slt, j0, ownEnd),
                                             cmpI(arith::CmpIPredicate::sgt, add(j0, idx(kKeys)), ownBegin));
      overlaps = arith::AndIOp::create(b, overlaps, cmpI(arith::CmpIPredicate::ult, p0, packedRows));
      sees = scf::IfOp::create(b, TypeRange(ValueRange(carried)), overlaps, /*withElseRegion=*/true);
      seesGuard.emplace(b);
      b.setInsertionPointToStart(sees.elseBlock());
      scf::YieldOp::create(b, carried);
      b.setInsertionPointToStart(sees.thenBlock());
    }
    // Staged: K fragments by ldmatrix when first asked for, per head-dim step both S tiles' (matrix i: keys
    // 8 (i / 2) to 8 (i / 2) + 7, chunk 2 ks + i mod 2).
    Value matrix = arith::DivUIOp::create(b, lane, laneIdx(8)), matrixRow = arith::RemUIOp::create(b, lane, laneIdx(8));
    SmallVector<std::optional<std::array<FragB, 2>>> kStaged(d / 16);
    auto stagedK = [&](int64_t ks) -> std::array<FragB, 2> & {
      if (!kStaged[ks]) {
        Value row = add(mul(arith::DivUIOp::create(b, matrix, laneIdx(2)), laneIdx(8)), matrixRow);
        Value chunk = add(arith::RemUIOp::create(b, matrix, laneIdx(2)), laneIdx(2 * ks));
        auto x = ldmatrix(kTiles, slot, buffer, row, chunk, /*transpose=*/false, lane);
        kStaged[ks] = {FragB{x[0][0], x[0][1], x[1][0], x[1][1]}, FragB{x[2][0], x[2][1], x[3][0], x[3][1]}};
      }
      return *kStaged[ks];
    };
    // S = Q Kᵀ: tile n's B fragment is K row j0 + 8n + g.
    Scores scores = scoreTiles([&](int64_t n, int64_t ks, int64_t r) -> Value {
      if (stage)
        return stagedK(ks)[n][r];
      return load(k, {bL, kvL, minI(add(j0L, add(g, laneIdx(8 * n))), perLane(lastK)), kColumn(ks, r)});
    });
    // Scale and mask: register e of tile n is key j0 + 8n + 2t + e mod 2.
    Scores visible = maskScores(
        scores, [&](int64_t n, int64_t e) { return add(j0L, add(twoT, laneIdx(8 * n + e % 2))); }, mainPass, nullptr);
    RowState st;
    for (int64_t h = 0; h < laneRows; ++h) {
      st.m[h] = carried[h];
      st.l[h] = carried[lAt + h];
      if (affine)
        st.count[h] = carried[affineAt + h];
    }
    st.acc.assign(carried.begin() + accAt, carried.begin() + affineAt);
    if (affine)
      st.vsum.assign(carried.begin() + vsumAt, carried.end());
    // Staged: V's fragments by ldmatrix .trans when first asked for, two value tiles at a time (matrix i:
    // keys 8 (i mod 2) to 8 (i mod 2) + 7, chunk tile + i / 2).
    SmallVector<std::optional<FragB>> vStaged(dvTiles);
    auto stagedV = [&](int64_t tile) -> FragB & {
      if (!vStaged[tile]) {
        int64_t pair = tile / 2 * 2;
        Value row = add(mul(arith::RemUIOp::create(b, matrix, laneIdx(2)), laneIdx(8)), matrixRow);
        Value chunk = add(arith::DivUIOp::create(b, matrix, laneIdx(2)), laneIdx(pair));
        auto x = ldmatrix(vTiles, slot, buffer, row, chunk, /*transpose=*/true, lane);
        vStaged[pair] = FragB{x[0][0], x[0][1], x[1][0], x[1][1]};
        vStaged[pair + 1] = FragB{x[2][0], x[2][1], x[3][0], x[3][1]};
      }
      return *vStaged[tile];
    };
    // V's B fragment: keys j0 + 2t (+1), j0 + 8 + 2t (+1), column 8 tile + g.
    fold(st, scores, visible, [&](int64_t tile, int64_t r) -> Value {
      if (stage)
        return stagedV(tile)[r];
      Value row = add(twoT, laneIdx(8 * (r / 2) + r % 2)), col = add(g, laneIdx(8 * tile));
      return load(v, {bL, kvL, minI(add(j0L, row), perLane(lastK)), col});
    });
    SmallVector<Value> next(st.m.begin(), st.m.begin() + laneRows);
    next.append(st.l.begin(), st.l.begin() + laneRows);
    next.append(st.acc);
    if (affine) {
      next.append(st.count.begin(), st.count.begin() + laneRows);
      next.append(st.vsum);
    }
    if (sees) {
      scf::YieldOp::create(b, next);
      seesGuard.reset();
      next.assign(sees.getResults().begin(), sees.getResults().end());
    }
    if (stage && !emulate) // every warp is done with this buffer before the next iteration refills it
      gpu::BarrierOp::create(b);
    scf::YieldOp::create(b, next);
  });
  if (stage && !emulate)
    NVVM::CpAsyncWaitGroupOp::create(b, 0); // no copy outlives the warp
  return loop;
  };

  // Per lane, in the loop's layout: its rows' maxima, denominators (summed over the row's 4 lanes) and
  // accumulators, and with affine scaling its rows' visible-key counts (summed likewise) and visible-value
  // sums; from one pass over the row block's keys or combined from the splits' partials.
  auto quadSum = [&](Value x) {
    x = arith::AddFOp::create(b, x, shuffleXor(x, 1));
    return arith::AddFOp::create(b, x, shuffleXor(x, 2)).getResult();
  };
  auto finish = [&](scf::ForOp loop) {
    SmallVector<Value> state;
    for (int64_t h = 0; h < laneRows; ++h)
      state.push_back(loop.getResult(h));
    for (int64_t h = 0; h < laneRows; ++h)
      state.push_back(quadSum(loop.getResult(lAt + h)));
    for (int64_t i = accAt; i < affineAt; ++i)
      state.push_back(loop.getResult(i));
    if (affine) {
      for (int64_t h = 0; h < laneRows; ++h)
        state.push_back(quadSum(loop.getResult(affineAt + h)));
      for (int64_t i = vsumAt; i < vsumAt + mTiles * accWords; ++i)
        state.push_back(loop.getResult(i));
    }
    return state;
  };
  // Scratch word of lane row h in the partial at `base`: its max (+1: its denominator, +2 + c: accumulator
  // column c; affine: +2 + dv its visible-key count, +3 + dv + c its visible-value sums).
  auto rowWord = [&](Value base, int64_t h) {
    Value row = add(g, laneIdx(kTileRows * (h / 2) + 8 * (h % 2)));
    return add(perLane(base), mul(row, laneIdx(rowWords)));
  };
  // Accumulator register e of value tile `tile`, m-tile m: its state index and scratch word.
  auto accIndex = [&](int64_t m, int64_t tile, int64_t e) { return accAt + m * accWords + 4 * tile + e; };
  auto accWord = [&](Value base, int64_t m, int64_t tile, int64_t e) {
    return add(rowWord(base, 2 * m + e / 2), add(twoT, laneIdx(2 + 8 * tile + e % 2)));
  };
  auto vsumWord = [&](Value base, int64_t m, int64_t tile, int64_t e) {
    return add(accWord(base, m, tile, e), laneIdx(1 + dv));
  };
  auto writePartial = [&](Value buffer, Value base, ArrayRef<Value> state) {
    Value first = cmpI(arith::CmpIPredicate::eq, t, laneIdx(0)); // one lane of four writes a row's max, sum
    Value all = perLane(arith::ConstantOp::create(b, b.getBoolAttr(true)));
    for (int64_t h = 0; h < laneRows; ++h) {
      store(state[h], buffer, {rowWord(base, h)}, first);
      store(state[lAt + h], buffer, {add(rowWord(base, h), laneIdx(1))}, first);
    }
    for (int64_t m = 0; m < mTiles; ++m)
      for (int64_t tile = 0; tile < dvTiles; ++tile)
        for (int64_t e = 0; e < 4; ++e) {
          store(state[accIndex(m, tile, e)], buffer, {accWord(base, m, tile, e)}, all);
          if (affine)
            store(state[accIndex(m, tile, e) - accAt + vsumAt], buffer, {vsumWord(base, m, tile, e)}, all);
        }
    for (int64_t h = 0; affine && h < laneRows; ++h)
      store(state[affineAt + h], buffer, {add(rowWord(base, h), laneIdx(2 + dv))}, first);
  };
  // Combines `count` partials, `stride` words apart from `first`: each rescaled to the running max (the
  // visible-key counts and value sums of affine scaling just add up).
  auto combine = [&](Value buffer, Value first, int64_t stride, Value count) {
    SmallVector<Value> start(laneRows, laneF32(ninf));
    start.append(laneRows + mTiles * accWords + (affine ? laneRows + mTiles * accWords : 0), laneF32(0.0));
    auto partials = scf::ForOp::create(b, idx(0), count, idx(1), start, [&](OpBuilder &nested, Location loc, Value s,
                                                                            ValueRange run) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
      Value base = add(first, mul(s, idx(stride)));
      SmallVector<Value> next(run.begin(), run.end());
      std::array<Value, kMaxLaneRows> keep, take;
      for (int64_t h = 0; h < laneRows; ++h) {
        Value m = load(buffer, {rowWord(base, h)});
        Value l = load(buffer, {add(rowWord(base, h), laneIdx(1))});
        Value top = arith::MaximumFOp::create(b, run[h], m);
        Value at = arith::SelectOp::create(b, arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, top, ninfL),
                                           laneF32(0.0), top);
        keep[h] = math::ExpOp::create(b, arith::SubFOp::create(b, run[h], at));
        take[h] = math::ExpOp::create(b, arith::SubFOp::create(b, m, at));
        next[h] = top;
        next[lAt + h] = math::FmaOp::create(b, l, take[h], arith::MulFOp::create(b, run[lAt + h], keep[h]));
      }
      for (int64_t m = 0; m < mTiles; ++m)
        for (int64_t tile = 0; tile < dvTiles; ++tile)
          for (int64_t e = 0; e < 4; ++e) {
            int64_t i = accIndex(m, tile, e), h = 2 * m + e / 2;
            Value x = load(buffer, {accWord(base, m, tile, e)});
            next[i] = math::FmaOp::create(b, x, take[h], arith::MulFOp::create(b, run[i], keep[h]));
            if (affine) {
              int64_t j = i - accAt + vsumAt;
              next[j] = arith::AddFOp::create(b, run[j], load(buffer, {vsumWord(base, m, tile, e)}));
            }
          }
      for (int64_t h = 0; affine && h < laneRows; ++h)
        next[affineAt + h] =
            arith::AddFOp::create(b, run[affineAt + h], load(buffer, {add(rowWord(base, h), laneIdx(2 + dv))}));
      scf::YieldOp::create(b, next);
    });
    return SmallVector<Value>(partials.getResults());
  };
  // The key range of split s of `splits`: whole key blocks, the last split possibly shorter or empty.
  auto splitRange = [&](Value s) {
    Value span = arith::MaxSIOp::create(b, arith::SubIOp::create(b, keyEnd, blockBegin), idx(0));
    Value per = mul(arith::CeilDivUIOp::create(b, arith::CeilDivUIOp::create(b, span, idx(kKeys)), splits),
                    idx(kKeys));
    Value begin = add(blockBegin, mul(s, per));
    return std::pair{begin, minI(keyEnd, add(begin, per))};
  };

  SmallVector<Value> state;     // as `finish` gives it
  Value owner;                  // with split-K on the GPU: whether this warp writes the output
  Value emulatedScratch;
  if (!splittable) {
    state = finish(keyPass(blockBegin, keyEnd));
  } else if (emulate) {
    emulatedScratch = memref::AllocOp::create(b, MemRefType::get({ShapedType::kDynamic}, f32),
                                              ValueRange{mul(splits, idx(partialWords))});
    scf::ForOp::create(b, idx(0), splits, idx(1), ValueRange{}, [&](OpBuilder &nested, Location loc, Value s,
                                                                   ValueRange) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
      auto [begin, end] = splitRange(s);
      writePartial(emulatedScratch, mul(s, idx(partialWords)), finish(keyPass(begin, end)));
      scf::YieldOp::create(b);
    });
    state = combine(emulatedScratch, idx(0), partialWords, splits);
  } else {
    auto [begin, end] = splitRange(split);
    SmallVector<Value> mine = finish(keyPass(begin, end));
    SmallVector<Type> types(mine.size(), laneType(f32));
    types.push_back(b.getI1Type());
    auto ifSplit =
        scf::IfOp::create(b, types, cmpI(arith::CmpIPredicate::ugt, splits, idx(1)), /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifSplit.thenBlock());
      auto partialAt = [&](Value warpIndex) { return add(items, mul(warpIndex, idx(partialWords))); };
      writePartial(scratch, partialAt(warp), mine);
      // Every lane's partial is out before lane 0 counts this split in (__threadfence, then the atomic).
      NVVM::MembarOp::create(b, NVVM::MemScopeKind::GPU);
      NVVM::SyncWarpOp::create(b, arith::ConstantOp::create(b, b.getI32IntegerAttr(-1)));
      // The row block's warps are groupWarps apart; its count is its first split's first thread's word.
      Value firstWarp = arith::SubIOp::create(b, warp, mul(split, idx(groupWarps)));
      Value counter = mul(firstWarp, idx(kWarp));
      auto count = scf::IfOp::create(b, TypeRange{f32}, cmpI(arith::CmpIPredicate::eq, lane, idx(0)),
                                     /*withElseRegion=*/true);
      {
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPointToStart(count.thenBlock());
        Value one = arith::ConstantOp::create(b, b.getF32FloatAttr(1.0));
        scf::YieldOp::create(b, memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addf, one, scratch,
                                                            ValueRange{counter})
                                    .getResult());
        b.setInsertionPointToStart(count.elseBlock());
        scf::YieldOp::create(b, arith::ConstantOp::create(b, b.getF32FloatAttr(0.0)).getResult());
      }
      Value arrived = gpu::ShuffleOp::create(b, count.getResult(0), 0, kWarp, gpu::ShuffleMode::IDX).getShuffleResult();
      Value splitsF = arith::UIToFPOp::create(b, f32, arith::IndexCastUIOp::create(b, b.getI32Type(), splits));
      Value arrivedNow = arith::AddFOp::create(b, arrived, arith::ConstantOp::create(b, b.getF32FloatAttr(1.0)));
      Value last = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, arrivedNow, splitsF);
      auto ifLast = scf::IfOp::create(b, TypeRange(types).drop_back(), last, /*withElseRegion=*/true);
      {
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPointToStart(ifLast.thenBlock());
        NVVM::MembarOp::create(b, NVVM::MemScopeKind::GPU); // the other splits' partials, after their count
        scf::YieldOp::create(b, combine(scratch, partialAt(firstWarp), groupWarps * partialWords, splits));
        b.setInsertionPointToStart(ifLast.elseBlock());
        scf::YieldOp::create(b, mine);
      }
      SmallVector<Value> out(ifLast.getResults());
      out.push_back(last);
      scf::YieldOp::create(b, out);
      b.setInsertionPointToStart(ifSplit.elseBlock());
      SmallVector<Value> whole = mine;
      whole.push_back(arith::ConstantOp::create(b, b.getBoolAttr(true)));
      scf::YieldOp::create(b, whole);
    }
    state.assign(ifSplit.getResults().begin(), std::prev(ifSplit.getResults().end()));
    owner = ifSplit.getResults().back();
  }

  // The calibration pass: the calibrated key columns in chunks of 16 (the last one padded with its last key,
  // masked), straight-line code with the same fragments and online softmax as a key block.
  RowState cal;
  cal.m.fill(laneF32(ninf));
  cal.l.fill(laneF32(0.0));
  cal.count.fill(laneF32(0.0));
  cal.acc.assign(mTiles * accWords, laneF32(0.0));
  cal.vsum.assign(mTiles * accWords, laneF32(0.0));
  auto fromTable = [&](Value lanePart, ArrayRef<int64_t> table) { // table[lanePart] per lane
    Value x = laneIdx(table[0]);
    for (size_t i = 1; i < table.size(); ++i)
      x = arith::SelectOp::create(b, cmpI(arith::CmpIPredicate::eq, lanePart, laneIdx(i)), laneIdx(table[i]), x);
    return x;
  };
  for (size_t first = 0; first < calKeys.size(); first += kKeys) {
    SmallVector<int64_t> chunk;
    for (size_t i = first; i < first + kKeys; ++i)
      chunk.push_back(calKeys[std::min(i, calKeys.size() - 1)]);
    int64_t count = static_cast<int64_t>(std::min<size_t>(kKeys, calKeys.size() - first));
    // Slot i of the chunk, i = base + 2t (+ 0 or 1): t picks from the 4 keys 2 apart from `base`.
    auto slotKeys = [&](int64_t base) {
      SmallVector<int64_t> keys;
      for (int64_t tt = 0; tt < 4; ++tt)
        keys.push_back(chunk[base + 2 * tt]);
      return fromTable(t, keys);
    };
    Scores scores = scoreTiles([&](int64_t n, int64_t ks, int64_t r) -> Value {
      Value keyRow = minI(fromTable(g, ArrayRef<int64_t>(chunk).slice(8 * n, 8)), perLane(lastK));
      return load(k, {bL, kvL, keyRow, kColumn(ks, r)});
    });
    auto slotValid = [&](int64_t n, int64_t e) {
      return cmpI(arith::CmpIPredicate::slt, add(twoT, laneIdx(8 * n + e % 2)), laneIdx(count));
    };
    Scores visible =
        maskScores(scores, [&](int64_t n, int64_t e) { return slotKeys(8 * n + e % 2); }, std::optional<bool>(true),
                   slotValid);
    fold(cal, scores, visible, [&](int64_t tile, int64_t r) -> Value {
      return load(v, {bL, kvL, minI(slotKeys(8 * (r / 2) + r % 2), perLane(lastK)), add(g, laneIdx(8 * tile))});
    });
  }

  // O = acc / l, l summed over the row's 4 lanes; a row that saw no key is 0. A learned sink adds
  // exp(sink - m) to l (m the row's max, or 0 while it has none, as in the loop).
  std::array<Value, kMaxLaneRows> inv, calScale;
  for (int64_t h = 0; h < laneRows; ++h) {
    Value sink = op.getSinks() ? load(op.getSinks(), {headR[h]}) : Value();
    Value l = state[lAt + h];
    if (sink) {
      Value m = state[h];
      Value none = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, m, laneF32(ninf));
      Value base = arith::SelectOp::create(b, none, laneF32(0.0), m);
      l = arith::AddFOp::create(b, l, math::ExpOp::create(b, arith::SubFOp::create(b, sink, base)));
    }
    Value any = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, l, laneF32(0.0));
    inv[h] = arith::SelectOp::create(b, any, arith::DivFOp::create(b, laneF32(1.0), l), laneF32(0.0));
    if (!calKeys.empty()) {
      // P'[j] = beta P[j] on the calibrated columns, P[j] (1 - beta S) / (1 - S) elsewhere, S their mass:
      // both parts at the larger of their bases.
      Value mN = state[h];
      Value baseN = arith::SelectOp::create(b, arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, mN, ninfL),
                                            laneF32(0.0), mN);
      Value baseS = arith::SelectOp::create(b, arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, cal.m[h], ninfL),
                                            laneF32(0.0), cal.m[h]);
      Value top = arith::MaximumFOp::create(b, baseN, baseS);
      Value shiftS = math::ExpOp::create(b, arith::SubFOp::create(b, baseS, top));
      Value massS = arith::MulFOp::create(b, quadSum(cal.l[h]), shiftS);
      Value total = arith::AddFOp::create(
          b, arith::MulFOp::create(b, l, math::ExpOp::create(b, arith::SubFOp::create(b, baseN, top))), massS);
      Value anyMass = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, total, laneF32(0.0));
      Value invTotal =
          arith::SelectOp::create(b, anyMass, arith::DivFOp::create(b, laneF32(1.0), total), laneF32(0.0));
      Value beta = laneF32(op.getCalibrationBeta().convertToDouble());
      Value share = arith::MulFOp::create(b, beta, arith::MulFOp::create(b, massS, invTotal));
      Value rest = arith::SubFOp::create(b, laneF32(1.0), share);
      inv[h] = arith::MulFOp::create(b, inv[h], rest);
      calScale[h] = arith::MulFOp::create(b, arith::MulFOp::create(b, beta, shiftS), invTotal);
    }
  }
  // Affine scaling: O = a acc / l + (alpha_ma - a) vsum / count (0 where no key is visible); gates and head
  // gains then scale the row (the SIMT form skips rows whose factor is 0; here they compute and store 0).
  std::array<Value, kMaxLaneRows> meanScale;
  for (int64_t h = 0; h < laneRows; ++h) {
    Value headL = headR[h], rowL = rowRc[h];
    Value factor = laneF32(1.0);
    if (op.getGates()) {
      bool perToken = cast<MemRefType>(op.getGates().getType()).getRank() == 3;
      factor = perToken ? load(op.getGates(), {bL, headL, rowL}) : load(op.getGates(), {headL});
    }
    if (auto gains = op.getHeadGains()) {
      Value gain = laneF32(1.0);
      for (auto [k, value] : llvm::enumerate(*gains))
        if (value != 1.0)
          gain = arith::SelectOp::create(b, cmpI(arith::CmpIPredicate::eq, headL, laneIdx(k)), laneF32(value), gain);
      factor = arith::MulFOp::create(b, factor, gain);
    }
    if (affine) {
      Value a = load(op.getAlpha(), {bL, headL, rowL});
      StringRef activation = op.getAlphaActivation();
      if (activation == "linear_clip")
        a = arith::MinimumFOp::create(
            b, arith::MaximumFOp::create(b, math::FmaOp::create(b, a, laneF32(0.1), laneF32(0.5)), laneF32(0.0)),
            laneF32(1.0));
      else if (activation == "sigmoid") {
        Value decay = math::ExpOp::create(b, arith::NegFOp::create(b, a));
        a = arith::DivFOp::create(b, laneF32(1.0), arith::AddFOp::create(b, laneF32(1.0), decay));
      }
      Value count = state[affineAt + h];
      if (!calKeys.empty()) // the calibrated columns are visible keys too
        count = arith::AddFOp::create(b, count, quadSum(cal.count[h]));
      Value any = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, count, laneF32(0.0));
      Value mean = arith::DivFOp::create(b, arith::SubFOp::create(b, load(op.getAlphaMa(), {headL}), a), count);
      meanScale[h] = arith::MulFOp::create(b, arith::SelectOp::create(b, any, mean, laneF32(0.0)), factor);
      factor = arith::MulFOp::create(b, factor, a);
    }
    inv[h] = arith::MulFOp::create(b, inv[h], factor);
    if (!calKeys.empty())
      calScale[h] = arith::MulFOp::create(b, calScale[h], factor);
  }
  std::array<Value, kMaxLaneRows> stores;
  for (int64_t h = 0; h < laneRows; ++h) {
    stores[h] = cmpI(arith::CmpIPredicate::slt, packedR[h], perLane(packedRows));
    if (owner)
      stores[h] = arith::AndIOp::create(b, stores[h], owner);
  }
  for (int64_t m = 0; m < mTiles; ++m)
    for (int64_t tile = 0; tile < dvTiles; ++tile)
      for (int64_t e = 0; e < 4; ++e) {
        int64_t h = 2 * m + e / 2, i = m * accWords + 4 * tile + e;
        Value x = arith::MulFOp::create(b, state[accAt + i], inv[h]);
        if (!calKeys.empty())
          x = math::FmaOp::create(b, cal.acc[i], calScale[h], x);
        if (affine) {
          Value vsum = state[vsumAt + i];
          if (!calKeys.empty())
            vsum = arith::AddFOp::create(b, vsum, cal.vsum[i]);
          x = math::FmaOp::create(b, vsum, meanScale[h], x);
        }
        Value col = add(twoT, laneIdx(8 * tile + e % 2));
        store(x, o, {bL, headR[h], rowRc[h], col}, stores[h]);
      }
  if (emulatedScratch)
    memref::DeallocOp::create(b, emulatedScratch);
}

} // namespace

bool mlir::xf::mmaFormTakes(AttentionOp op) {
  Type element = op.getKeyType().getElementType();
  if (!element.isBF16() && !element.isF16())
    return false;
  if (op.getValueType().getElementType() != element)
    return false;
  if (op.getHeadDim() % 16 || op.getValueHeadDim() % 8 || op.getHeadDim() > 256 || op.getValueHeadDim() > 256)
    return false;
  return true;
}

bool mlir::xf::mmaFormStages(AttentionOp op) {
  // 16-byte copies, a whole number per lane; two warps' double buffers within 48 KiB of workgroup memory.
  int64_t d = op.getHeadDim(), dv = op.getValueHeadDim();
  return d % 16 == 0 && dv % 16 == 0 && 2 * kKeys * (d + dv) * 2 <= 48 * 1024;
}

void mlir::xf::emitMmaAttention(AttentionOp op, bool emulate, bool stage, int64_t splitMinKeys, int64_t mTiles) {
  // Two m-tiles hold 2 x (head_dim / 16) Q fragments and 2 x head_dim_v / 2 accumulators per lane: past
  // head dims of 96 that no longer fits 255 registers without spills.
  if (mTiles == 0)
    mTiles = std::max(op.getHeadDim(), op.getValueHeadDim()) <= 96 ? 2 : 1;
  assert(mTiles >= 1 && mTiles <= kMaxMTiles && "mma-m-tiles is 0, 1 or 2");
  MmaEmitter(op, emulate, stage && mmaFormStages(op), splitMinKeys, mTiles).emit();
}
