//===- LowerAttention.cpp - xf.attention to a fused online-softmax loop nest ===//
//
// The loop nest keeps every vector along query rows: the query block is packed transposed, scores are
// accumulated as outer products (broadcast key element x query vector), so the per-row running max and
// denominator are plain vectors and no horizontal reduction is needed anywhere in the hot loops.
//
//===----------------------------------------------------------------------===//
#include "dialect/XFOps.h"
#include "passes/LowerAttentionMma.h"
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/Support/SaveAndRestore.h"

#include <limits>

namespace mlir::xf {
#define GEN_PASS_DEF_XFLOWERATTENTION
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {

/// The most rows of the decode form that share a pass over a key block (a GQA group of 4).
constexpr int64_t kDecodeTuple = 4;

struct Tiling {
  int64_t vectorWidth, blockQ, blockK, keyRegs, valueRegs;
  bool decodeForm = false; // also emit the decode form, taken when S <= decodeRows
  int64_t decodeRows = 0;
  int64_t decodeBlockK = 32; // keys per key block of the decode form
  int64_t workgroupRows = 0; // GPU: work items that share each key block of K and V in workgroup memory
  int64_t subgroupLanes = 0; // GPU: lanes per query row in the subgroup form (0: no subgroup form)
  int64_t subgroupRows = 0;  // the largest S that takes the subgroup form
  int64_t subgroupSplits = 1; // subgroups of one workgroup that split a subgroup-form row's keys
  int64_t subgroupGlobalSplits = 1; // CUDA: subgroups anywhere that split a row's keys, combined via scratch
  bool staticKeyLoops = false; // P V runs over every key of a block, a loop of constant trip count
  int64_t queryVectors() const { return blockQ / vectorWidth; }
};

/// Emits the loop nest of one xf.attention. Names follow VARIANTS.md: `m`, `l`, `acc`; `z` are scores.
class AttentionEmitter {
public:
  AttentionEmitter(xf::AttentionOp op, const Tiling &tiling)
      : op(op), t(tiling), b(op.getLoc(), op), f32(b.getF32Type()),
        vec(VectorType::get({tiling.vectorWidth}, b.getF32Type())), stagedRows(tiling.workgroupRows) {}

  void emit();

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value positionOf(Value r) {
    return arith::IndexCastOp::create(b, b.getIndexType(), memref::LoadOp::create(b, posBuf, ValueRange{r}));
  }
  Value f32Const(double v) { return arith::ConstantOp::create(b, b.getF32FloatAttr(v)); }
  Value vecConst(double v) {
    return arith::ConstantOp::create(b, DenseElementsAttr::get(vec, b.getF32FloatAttr(v)));
  }
  /// Element(s) at `at` of an operand as f32 (`type`: a vector along the last dimension). bf16 and f16
  /// operands are widened here, as they are loaded, so the kernel computes in f32 throughout.
  Value load(Value buffer, ValueRange at, VectorType type = {}) {
    Type stored = cast<MemRefType>(buffer.getType()).getElementType();
    Value x = type ? vector::LoadOp::create(b, VectorType::get(type.getShape(), stored), buffer, at).getResult()
                   : memref::LoadOp::create(b, buffer, at).getResult();
    return stored == f32 ? x : arith::ExtFOp::create(b, type ? Type(type) : f32, x).getResult();
  }
  /// Stores f32 element(s) (a scalar or a vector along the last dimension), rounded to the buffer's type.
  void store(Value x, Value buffer, ValueRange at) {
    Type stored = cast<MemRefType>(buffer.getType()).getElementType();
    auto vector = dyn_cast<VectorType>(x.getType());
    if (stored != f32)
      x = arith::TruncFOp::create(b, vector ? Type(VectorType::get(vector.getShape(), stored)) : stored, x);
    if (vector)
      vector::StoreOp::create(b, x, buffer, at);
    else
      memref::StoreOp::create(b, x, buffer, at);
  }
  static int64_t elementBytes(Value buffer) {
    return cast<MemRefType>(buffer.getType()).getElementTypeBitWidth() / 8;
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value minI(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
  Value maxI(Value x, Value y) { return arith::MaxSIOp::create(b, x, y); }
  Value cmpI(arith::CmpIPredicate p, Value x, Value y) { return arith::CmpIOp::create(b, p, x, y); }

  /// The region's arguments: `given`, then the key count T if the region takes it.
  SmallVector<Value> withKeyCount(Region &region, ValueRange given) {
    SmallVector<Value> args(given);
    if (region.front().getNumArguments() > args.size())
      args.push_back(keyCount);
    return args;
  }

  /// Whether a modifier region can run on vectors along query rows when the block arguments marked in
  /// `varying` are vectors: every op depending on them must be elementwise (arith, math); ops that depend
  /// only on uniform values (b, h, j, constants) stay scalar.
  static bool isVectorizable(Region &region, ArrayRef<bool> varying) {
    llvm::DenseSet<Value> vary;
    for (auto [arg, v] : llvm::zip(region.front().getArguments(), varying))
      if (v)
        vary.insert(arg);
    for (Operation &inner : region.front().without_terminator()) {
      if (llvm::none_of(inner.getOperands(), [&](Value x) { return vary.contains(x); }))
        continue;
      if (!isa<arith::ArithDialect, math::MathDialect>(inner.getDialect()) ||
          !inner.hasTrait<OpTrait::Elementwise>() || inner.getNumRegions() ||
          llvm::any_of(inner.getResultTypes(), [](Type t) { return !t.isIntOrIndexOrFloat(); }))
        return false;
      for (Value r : inner.getResults())
        vary.insert(r);
    }
    return true;
  }

  /// Inlines a vectorizable modifier region: `args` are vectors (varying) or scalars (uniform); returns
  /// the yielded value as a vector of `t.vectorWidth` lanes.
  Value inlineRegionVectorized(Region &region, ValueRange given) {
    SmallVector<Value> args = withKeyCount(region, given);
    IRMapping map;
    map.map(region.front().getArguments(), args);
    // Varying values are tracked by identity: a region may hold vectors of its own (lookup tables).
    llvm::DenseSet<Value> varying;
    for (auto [arg, value] : llvm::zip(region.front().getArguments(), args))
      if (isa<VectorType>(value.getType()))
        varying.insert(arg);
    auto widen = [&](Value original) -> Value {
      Value v = map.lookupOrDefault(original);
      if (varying.contains(original))
        return v;
      return vector::BroadcastOp::create(b, VectorType::get({t.vectorWidth}, v.getType()), v);
    };
    for (Operation &inner : region.front().without_terminator()) {
      if (llvm::none_of(inner.getOperands(), [&](Value x) { return varying.contains(x); })) {
        b.clone(inner, map);
        continue;
      }
      OperationState state(inner.getLoc(), inner.getName());
      for (Value x : inner.getOperands())
        state.addOperands(widen(x));
      for (Type type : inner.getResultTypes())
        state.addTypes(VectorType::get({t.vectorWidth}, type));
      state.propertiesAttr = inner.getPropertiesAsAttribute();
      state.addAttributes(inner.getDiscardableAttrDictionary().getValue());
      Operation *vectorized = b.create(state);
      map.map(inner.getResults(), vectorized->getResults());
      for (Value r : inner.getResults())
        varying.insert(r);
    }
    return widen(cast<xf::YieldOp>(region.front().getTerminator()).getValues()[0]);
  }

  /// The positions of the query rows of vector `c`, as index lanes.
  Value positionsOf(int64_t c) {
    auto i64s = VectorType::get({t.vectorWidth}, b.getI64Type());
    Value pos = vector::LoadOp::create(b, i64s, posBuf, ValueRange{idx(c * t.vectorWidth)});
    return arith::IndexCastOp::create(b, VectorType::get({t.vectorWidth}, b.getIndexType()), pos);
  }

  /// The register-blocked micro-kernel of both products: for iv in [0, extent), acc[r][c] +=
  /// broadcast(scalar(iv, r)) * vector(iv, c) for `regs` broadcast rows and every query vector c. The
  /// accumulators are loop-carried values, so LLVM keeps them in registers.
  scf::ForOp emitOuterProducts(Value extent, ValueRange init, int64_t regs,
                               function_ref<Value(Value, int64_t)> vectorAt,
                               function_ref<Value(Value, int64_t)> scalarAt) {
    int64_t nc = t.queryVectors();
    return scf::ForOp::create(b, idx(0), extent, idx(1), init, [&](OpBuilder &, Location, Value iv, ValueRange acc) {
      SmallVector<Value> vectors, next;
      for (int64_t c = 0; c < nc; ++c)
        vectors.push_back(vectorAt(iv, c));
      for (int64_t r = 0; r < regs; ++r) {
        Value broadcast = vector::BroadcastOp::create(b, vec, scalarAt(iv, r));
        for (int64_t c = 0; c < nc; ++c)
          next.push_back(vector::FMAOp::create(b, broadcast, vectors[c], acc[r * nc + c]));
      }
      scf::YieldOp::create(b, next);
    });
  }

  /// Inlines a modifier region with `args` bound to its block arguments; returns the yielded value.
  Value inlineRegion(Region &region, ValueRange given) {
    SmallVector<Value> args = withKeyCount(region, given);
    IRMapping map;
    map.map(region.front().getArguments(), args);
    for (Operation &inner : region.front().without_terminator())
      b.clone(inner, map);
    return map.lookup(cast<xf::YieldOp>(region.front().getTerminator()).getValues()[0]);
  }

  void emitBlockItem(Value w, Value seqQ, Value perBatch, Value qBlocks);
  void emitSubgroupItem(Value w, Value seqQ);
  /// Subgroup form: lane `subgroupLane` of `lanes` owns the head dims i * lanes + subgroupLane, i < dim / lanes.
  Value dimOf(Value i) { return lanes == 1 ? i : add(mul(i, idx(lanes)), subgroupLane); }
  int64_t headDims() { return op.getHeadDim() / lanes; }
  int64_t valueDims() { return op.getValueHeadDim() / lanes; }
  Value laneSum(Value x);
  void emitWorkItem(Value computes = Value());
  void stageKeyBlock(Value j0);
  /// Key row j, element d of this lane's share of the head dims (all of them outside the subgroup form).
  Value keyAt(Value j0, Value j, Value d) {
    if (kTile)
      return memref::LoadOp::create(b, kTile, ValueRange{sub(j, j0), d});
    return load(op.getKey(), ValueRange{batch, kvHead, j, dimOf(d)});
  }
  /// Value row j0 + jj, element d of this lane's share; `type` a vector type loads a vector along d.
  Value valueAt(Value j0, Value jj, Value d, Type type = Type()) {
    SmallVector<Value> at =
        vTile ? SmallVector<Value>{jj, d} : SmallVector<Value>{batch, kvHead, add(j0, jj), dimOf(d)};
    Value base = vTile ? vTile : op.getValue();
    return load(base, at, cast_or_null<VectorType>(type));
  }
  void storeZeroRow(Value row);
  /// `body` where `condition` holds; elsewhere the item's output rows are written as zeros.
  void emitOrZeroRows(Value condition, llvm::function_ref<void()> body);
  Value alloc(int64_t rows, int64_t cols, Type element) {
    auto type = MemRefType::get(cols ? ArrayRef<int64_t>{rows, cols} : ArrayRef<int64_t>{rows}, element);
    return memref::AllocaOp::create(b, type, ValueRange{}, b.getI64IntegerAttr(64));
  }

  // The decode form (few query rows): one work item per (batch, kv head) takes every query row of the
  // GQA group; head_dim is on the lanes of the products, the keys of a block on the lanes of the softmax.
  void emitDecodeItem(Value w, Value seqQ);
  void emitDecodeRowsBlock(ArrayRef<Value> rows, ArrayRef<Value> scores, Value j0, Value segmentEnd, Value numKeys,
                           bool sinkSegment);
  void emitDecodeEpilogue(Value n);
  Value decodeDot(Value n, Value j);
  Value decodePartialDot(Value n, Value j, int64_t chains);
  Value decodeChunk(Value buffer, bool split, Value row, int64_t c, VectorType type);
  Value transposedSums(ArrayRef<Value> parts);
  Value keyLanes(Value jStart);
  Value isCalibratedHead(Value h);
  struct DecodeRow {
    Value head, seq, pos; // query head, query row s, position T - S + s
  };
  DecodeRow decodeRow(Value n);
  SmallVector<Value> emitKeyBlock(Value j0, Value segmentEnd, bool sinkSegment, ValueRange carried);
  SmallVector<Value> emitVisibleKeyBlock(Value j0, Value segmentEnd, Value numKeys, bool sinkSegment,
                                         ValueRange carried);
  Value emitMaskRegionTile(Value j0, Value numKeys);
  void packQuery();
  void emitScores(Value j0, Value lastKey);
  void emitScoreRegion(Value j0, Value numKeys);
  Value emitMask(Value j0, Value keyEnd, Value numKeys, bool sinkSegment);
  SmallVector<Value> emitSoftmax(ValueRange mOld, ValueRange lOld);
  void emitValueAccumulate(Value j0, Value numKeys, ValueRange alpha);
  SmallVector<Value> emitValueSum(Value j0, Value numKeys, Value full, ValueRange count);
  void emitEpilogue(ValueRange m, ValueRange l, ValueRange count);
  void emitCalibratedColumns();
  Value inCalibratedColumns(Value j);
  void emitSplitCombine(SmallVectorImpl<Value> &state, llvm::function_ref<void()> finish);
  /// A split's partial state: m, l, the visible-key count, acc and (affine scaling) the value sums.
  int64_t splitPartialWords() { return 3 + op.getValueHeadDim() * (op.hasAffineScale() ? 2 : 1); }
  /// Split keys: whether this is the row's first split (the one that writes its output).
  Value isFirstSplit() { return cmpI(arith::CmpIPredicate::eq, splitIndex, idx(0)); }

  xf::AttentionOp op;
  Tiling t;
  ImplicitLocOpBuilder b;
  Type f32;
  VectorType vec;

  // Values of the current work item.
  Value batch, head, kvHead, numRows, firstPos, lastPos;
  Value keyCount; // T: the key range, and modifier regions that take it
  Value qT, pT, accT, lBuf; // transposed query, probabilities, accumulator; denominators
  Value gBuf;               // per-row head gates
  Value rowIds, posBuf;     // the item's query rows and their positions (rows may be gathered)
  Value isCalibrated;       // ACT: this head calibrates the sink columns
  Value mBuf, accSinkT, mSinkBuf, lSinkBuf; // ACT: row maxima and the split sink-column accumulators
  Value cntSinkBuf;                         // ACT with affine scaling: visible calibrated columns per row
  Value visT, vsumT, cntBuf, colSum; // affine scaling: visibility, value sums, counts, block column sums
  Value maskT;                // the mask region's verdict per (key, row) of a key block

  // Staged K/V (workgroup-rows > 0): the workgroup's tiles of one key block, this item's place in its
  // group, and the group's first and last query positions (its key range is the union of its rows').
  Value kTile, vTile, lane;
  Value groupFirstPos, groupLastPos, groupLive;

  // Subgroup form: this work item's lane and the lanes per query row (1: one thread per row); with split
  // keys, this subgroup's split of the row's key blocks and the splits per row (1: no split).
  Value subgroupLane, splitIndex;
  int64_t lanes = 1, splits = 1;
  // Global splits (CUDA): the scratch buffer of arrival counts and partial states, the item count, and
  // this subgroup's index among all of them.
  Value scratch, scratchItems, subgroupIndex;
  bool globalSplits = false;
  // Block form: the work items that stage each key block in workgroup memory together (0: none). The
  // tiling's workgroup-rows, except in the subgroup form's block items, which do not stage.
  int64_t stagedRows;

  // Decode form: slot n of the item's active rows (row r = g * S + s of the group) and its state.
  int64_t decodeGroup = 1, decodeRows = 0;
  int64_t dw = 1, dvw = 1;      // lanes of the head_dim and head_dim_v vectors (they divide the dims)
  bool splitK = false, splitV = false; // decode form: bf16 K / V rows taken as de-interleaved chunk pairs
  Value seqQAll;                // S
  Value dRows;                  // active slot -> row (only with gates or gains)
  Value dQ, dAcc, dM, dL, dGate; // scaled query rows, accumulators, running max and denominator, gates
  Value dVis, dMask;            // one row's block of visibility (affine) and mask verdicts
  SmallVector<Value, 4> dZ;     // the block's scores of each row that shares a pass
  Value dVsum, dCnt, dSinkAcc;  // affine: value sums and counts; ACT: the sink-column accumulator
};

void AttentionEmitter::emit() {
  int64_t numHeads = op.getNumHeads();
  Value q = op.getQuery(), k = op.getKey();

  Value batches = memref::DimOp::create(b, q, 0);
  Value seqQ = memref::DimOp::create(b, q, 2);
  Value seqK = memref::DimOp::create(b, k, 2);
  keyCount = seqK;
  Value qBlocks = arith::CeilDivUIOp::create(b, seqQ, idx(t.blockQ));
  // Staged K/V: the items of one workgroup must share (batch, head), so every (batch, head) gets a whole
  // number of workgroups; the items past its last query block only help load and meet the barriers.
  if (stagedRows)
    qBlocks = mul(arith::DivUIOp::create(b, add(qBlocks, idx(stagedRows - 1)), idx(stagedRows)),
                  idx(stagedRows));
  Value perBatch = mul(idx(numHeads), qBlocks);
  Value items = mul(batches, perBatch);
  Value isDecode;
  if (t.decodeForm) {
    // The decode form's scratch holds group * decode-rows query rows; keep it a few hundred KiB.
    decodeGroup = numHeads / op.getNumKvHeads();
    int64_t rowBytes = 4 * (op.getHeadDim() + 2 * op.getValueHeadDim());
    decodeRows = std::max<int64_t>(1, std::min(t.decodeRows, (256 << 10) / (decodeGroup * rowBytes)));
    isDecode = cmpI(arith::CmpIPredicate::ule, seqQ, idx(decodeRows));
    items = arith::SelectOp::create(b, isDecode, mul(batches, idx(op.getNumKvHeads())), items);
  }
  // The subgroup form: every query row of every (batch, head) gets `lanes` consecutive work items.
  Value isSubgroup;
  if (t.subgroupLanes) {
    isSubgroup = cmpI(arith::CmpIPredicate::ule, seqQ, idx(t.subgroupRows));
    Value rowLanes = mul(mul(batches, idx(numHeads)),
                         mul(seqQ, idx(t.subgroupLanes * t.subgroupSplits * t.subgroupGlobalSplits)));
    items = arith::SelectOp::create(b, isSubgroup, rowLanes, items);
  }
  if (t.subgroupLanes && t.subgroupGlobalSplits > 1) {
    // One zeroed word per item (a row's arrival count sits at its first item), then every subgroup's
    // partial state, a whole number of words per lane.
    int64_t perLane = llvm::divideCeil(splitPartialWords(), t.subgroupLanes);
    auto alloc = memref::AllocOp::create(b, MemRefType::get({ShapedType::kDynamic}, f32),
                                         ValueRange{mul(items, idx(1 + perLane))});
    alloc->setAttr("xf.scratch_words_per_item", b.getI64IntegerAttr(1 + perLane));
    alloc->setAttr("xf.scratch_zeroed_words_per_item", b.getI64IntegerAttr(1));
    scratch = alloc;
    scratchItems = items;
  }

  auto par = scf::ParallelOp::create(b, ValueRange{idx(0)}, ValueRange{items}, ValueRange{idx(1)});
  // scf.parallel is an automatic allocation scope: the scratch tiles below live for one work item.
  b.setInsertionPointToStart(par.getBody());

  Value w = par.getInductionVars()[0];
  Value isOtherForm = isDecode ? isDecode : isSubgroup;
  if (!isOtherForm) {
    emitBlockItem(w, seqQ, perBatch, qBlocks);
    return;
  }
  auto ifOther = scf::IfOp::create(b, isOtherForm, /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOther.thenBlock());
    if (isDecode)
      emitDecodeItem(w, seqQ);
    else
      emitSubgroupItem(w, seqQ);
    b.setInsertionPointToStart(ifOther.elseBlock());
    emitBlockItem(w, seqQ, perBatch, qBlocks);
  }
  // Scratch of either form moves to the top of the work item: scf.if is no allocation scope, and the
  // kernel ABI hoists only the work item's own static allocas out of its loop.
  Block *body = par.getBody();
  par.walk([&](memref::AllocaOp alloca) {
    if (alloca->getBlock() != body && alloca->getNumOperands() == 0)
      alloca->moveBefore(&body->front());
  });
}

/// The subgroup form: the block form with one query row per work item and `lanes` work items per row, the
/// head dims split across them. Scores are summed across the lanes by xor shuffles, so every lane holds
/// the same score and the mask, softmax and variant logic run unchanged and uniformly on all of them.
void AttentionEmitter::emitSubgroupItem(Value w, Value seqQ) {
  llvm::SaveAndRestore<int64_t> rowLanes(lanes, t.subgroupLanes), noStaging(stagedRows, 0),
      rowSplits(splits, t.subgroupSplits);
  llvm::SaveAndRestore<Value> rowLane(subgroupLane, arith::RemUIOp::create(b, w, idx(t.subgroupLanes)));
  Value row = arith::DivUIOp::create(b, w, idx(t.subgroupLanes));
  llvm::SaveAndRestore<Value> rowSplit(splitIndex, Value()), rowSubgroup(subgroupIndex, row);
  llvm::SaveAndRestore<bool> rowGlobal(globalSplits, t.subgroupGlobalSplits > 1);
  if (globalSplits)
    splits = t.subgroupGlobalSplits;
  if (splits > 1) {
    splitIndex = arith::RemUIOp::create(b, row, idx(splits));
    row = arith::DivUIOp::create(b, row, idx(splits));
  }
  emitBlockItem(row, seqQ, mul(idx(op.getNumHeads()), seqQ), seqQ);
}

/// The sum of `x` over the lanes of this work item's query row, in every lane. A butterfly of xor
/// shuffles adds the same two partial sums in each pair of lanes, so all lanes get bit-identical sums.
Value AttentionEmitter::laneSum(Value x) {
  if (lanes == 1)
    return x;
  auto vector = dyn_cast<VectorType>(x.getType());
  Value sum = vector ? vector::ExtractOp::create(b, x, ArrayRef<int64_t>{0}).getResult() : x;
  for (int64_t offset = lanes / 2; offset >= 1; offset /= 2) {
    Value other = gpu::ShuffleOp::create(b, sum, offset, lanes, gpu::ShuffleMode::XOR).getShuffleResult();
    sum = arith::AddFOp::create(b, sum, other);
  }
  return vector ? vector::BroadcastOp::create(b, vector, sum).getResult() : sum;
}

/// The block form: one work item per (batch, query head, block of block-q query rows).
void AttentionEmitter::emitBlockItem(Value w, Value seqQ, Value perBatch, Value qBlocks) {
  int64_t numHeads = op.getNumHeads();
  kTile = vTile = lane = Value();
  int64_t group = numHeads / op.getNumKvHeads();
  Value seqK = keyCount;
  batch = arith::DivUIOp::create(b, w, perBatch);
  Value rem = arith::RemUIOp::create(b, w, perBatch);
  head = arith::DivUIOp::create(b, rem, qBlocks);
  Value qBlock = arith::RemUIOp::create(b, rem, qBlocks);
  kvHead = group == 1 ? head : arith::DivUIOp::create(b, head, idx(group)).getResult();
  Value blockBegin = mul(qBlock, idx(t.blockQ));
  // Staged K/V: the group's first item and its first row (or active-row slot).
  Value groupBegin;
  if (stagedRows) {
    lane = arith::RemUIOp::create(b, qBlock, idx(stagedRows));
    groupBegin = mul(sub(qBlock, lane), idx(t.blockQ));
    kTile = memref::AllocOp::create(
        b, MemRefType::get({t.blockK, op.getHeadDim()}, f32, MemRefLayoutAttrInterface(),
                           gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup)));
    vTile = memref::AllocOp::create(
        b, MemRefType::get({t.blockK, op.getValueHeadDim()}, f32, MemRefLayoutAttrInterface(),
                           gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup)));
  }
  Value groupFirstRow, groupLastRow;

  qT = alloc(headDims(), t.blockQ, f32);
  pT = alloc(t.blockK, t.blockQ, f32);
  accT = alloc(valueDims(), t.blockQ, f32);
  lBuf = alloc(t.blockQ, 0, f32);
  rowIds = alloc(t.blockQ, 0, b.getIndexType());
  posBuf = alloc(t.blockQ, 0, b.getI64Type());
  if (auto heads = op.getCalibratedHeads()) {
    mBuf = alloc(t.blockQ, 0, f32);
    accSinkT = alloc(valueDims(), t.blockQ, f32);
    mSinkBuf = alloc(t.blockQ, 0, f32);
    lSinkBuf = alloc(t.blockQ, 0, f32);
    if (op.hasAffineScale())
      cntSinkBuf = alloc(t.blockQ, 0, f32);
    isCalibrated = arith::ConstantIntOp::create(b, 0, 1);
    for (int64_t h : *heads)
      isCalibrated = arith::OrIOp::create(b, isCalibrated, cmpI(arith::CmpIPredicate::eq, head, idx(h)));
  }
  if (op.hasMaskModifier())
    maskT = alloc(t.blockK, t.blockQ, f32);
  if (op.hasAffineScale()) {
    visT = alloc(t.blockK, t.blockQ, f32);
    vsumT = alloc(valueDims(), t.blockQ, f32);
    cntBuf = alloc(t.blockQ, 0, f32);
    colSum = alloc(valueDims(), 0, f32);
  }
  Value zeroF = f32Const(0.0);
  Value active;
  auto gatesType = op.getGates() ? cast<ShapedType>(op.getGates().getType()) : ShapedType();
  // Head gains are compile-time constants: this head's gain is one element of a constant vector.
  Value headGain;
  if (auto gains = op.getHeadGains()) {
    SmallVector<float> values(gains->begin(), gains->end());
    auto type = VectorType::get({static_cast<int64_t>(values.size())}, f32);
    Value all = arith::ConstantOp::create(b, DenseElementsAttr::get(type, ArrayRef<float>(values)));
    headGain = vector::ExtractOp::create(b, all, ArrayRef<OpFoldResult>{OpFoldResult(head)});
  }
  if (gatesType || headGain)
    gBuf = alloc(t.blockQ, 0, f32);

  if (gatesType && gatesType.getRank() == 3) {
    // Per-token gates (mixture of heads): this item takes the qBlock-th group of block_q rows whose gate
    // for this head is non-zero, so the work falls with the fraction of active (token, head) pairs. Rows
    // of the item's own contiguous range that are inactive are written as zeros here.
    // Staged K/V: the group's rows are the active slots [groupBegin, groupBegin + rows * block-q); the
    // scan also finds the first and last of them. Slot 0 gets a valid row even in an item without any.
    SmallVector<Value> scanInit{idx(0)};
    if (stagedRows) {
      memref::StoreOp::create(b, idx(0), rowIds, ValueRange{idx(0)});
      scanInit.append({idx(0), idx(0)});
    }
    Value groupSlotEnd = stagedRows ? add(groupBegin, idx(stagedRows * t.blockQ)) : Value();
    auto scan = scf::ForOp::create(
        b, idx(0), seqQ, idx(1), scanInit, [&](OpBuilder &, Location, Value row, ValueRange count) {
          Value g = memref::LoadOp::create(b, op.getGates(), ValueRange{batch, head, row});
          Value isActive = arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, g, zeroF);
          Value slot = sub(count[0], blockBegin);
          Value mine = arith::AndIOp::create(
              b, isActive,
              arith::AndIOp::create(b, cmpI(arith::CmpIPredicate::sge, slot, idx(0)),
                                    cmpI(arith::CmpIPredicate::slt, slot, idx(t.blockQ))));
          auto ifMine = scf::IfOp::create(b, mine, /*withElseRegion=*/false);
          {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(ifMine.thenBlock());
            memref::StoreOp::create(b, row, rowIds, ValueRange{slot});
            memref::StoreOp::create(b, headGain ? arith::MulFOp::create(b, g, headGain).getResult() : g, gBuf,
                                    ValueRange{slot});
          }
          Value inRange = arith::AndIOp::create(b, cmpI(arith::CmpIPredicate::sge, row, blockBegin),
                                                cmpI(arith::CmpIPredicate::slt, row, add(blockBegin, idx(t.blockQ))));
          auto ifIdle = scf::IfOp::create(
              b, arith::AndIOp::create(b, inRange, arith::XOrIOp::create(b, isActive, arith::ConstantIntOp::create(b, 1, 1))),
              /*withElseRegion=*/false);
          {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(ifIdle.thenBlock());
            storeZeroRow(row);
          }
          SmallVector<Value> next{arith::SelectOp::create(b, isActive, add(count[0], idx(1)), count[0])};
          if (stagedRows) {
            Value inGroup = arith::AndIOp::create(
                b, isActive,
                arith::AndIOp::create(b, cmpI(arith::CmpIPredicate::sge, count[0], groupBegin),
                                      cmpI(arith::CmpIPredicate::slt, count[0], groupSlotEnd)));
            Value isFirst = arith::AndIOp::create(b, isActive, cmpI(arith::CmpIPredicate::eq, count[0], groupBegin));
            next.push_back(arith::SelectOp::create(b, isFirst, row, count[1]));
            next.push_back(arith::SelectOp::create(b, inGroup, row, count[2]));
          }
          scf::YieldOp::create(b, next);
        });
    numRows = maxI(idx(0), minI(idx(t.blockQ), sub(scan.getResult(0), blockBegin)));
    active = cmpI(arith::CmpIPredicate::sgt, numRows, idx(0));
    if (headGain)
      active = arith::AndIOp::create(b, active, arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, headGain, zeroF));
    if (stagedRows) {
      groupFirstRow = scan.getResult(1);
      groupLastRow = scan.getResult(2);
      groupLive = cmpI(arith::CmpIPredicate::sgt, scan.getResult(0), groupBegin);
      if (headGain)
        groupLive =
            arith::AndIOp::create(b, groupLive, arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, headGain, zeroF));
    }
    // Padding slots repeat the last row, so every slot reads valid memory.
    Value last = memref::LoadOp::create(b, rowIds, ValueRange{maxI(idx(0), sub(numRows, idx(1)))});
    scf::ForOp::create(b, numRows, idx(t.blockQ), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value r, ValueRange) {
      memref::StoreOp::create(b, last, rowIds, ValueRange{r});
      memref::StoreOp::create(b, zeroF, gBuf, ValueRange{r});
      scf::YieldOp::create(b);
    });
  } else {
    numRows = minI(idx(t.blockQ), sub(seqQ, blockBegin));
    // Per-head gates and gains: a head whose factor is 0 contributes nothing; skip it.
    Value gate = gatesType ? memref::LoadOp::create(b, op.getGates(), ValueRange{head}).getResult() : Value();
    if (headGain)
      gate = gate ? arith::MulFOp::create(b, gate, headGain).getResult() : headGain;
    if (gate)
      active = arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, gate, zeroF);
    if (stagedRows) {
      // Items past the last query block have no rows; theirs point at the last row, so loads stay valid.
      numRows = maxI(idx(0), numRows);
      groupFirstRow = groupBegin;
      groupLastRow = sub(minI(seqQ, add(groupBegin, idx(stagedRows * t.blockQ))), idx(1));
      groupLive = active ? active : arith::ConstantIntOp::create(b, 1, 1).getResult();
    }
    Value lastRow = stagedRows ? sub(seqQ, idx(1)) : Value();
    scf::ForOp::create(b, idx(0), idx(t.blockQ), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value r, ValueRange) {
      Value row = add(blockBegin, minI(r, sub(numRows, idx(1))));
      if (stagedRows)
        row = minI(row, lastRow);
      memref::StoreOp::create(b, row, rowIds, ValueRange{r});
      if (gate)
        memref::StoreOp::create(b, gate, gBuf, ValueRange{r});
      scf::YieldOp::create(b);
    });
  }

  // Query row r sits at position T - S + r.
  Value offset = sub(seqK, seqQ);
  scf::ForOp::create(b, idx(0), idx(t.blockQ), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value r, ValueRange) {
    Value pos = add(offset, memref::LoadOp::create(b, rowIds, ValueRange{r}));
    memref::StoreOp::create(b, arith::IndexCastOp::create(b, b.getI64Type(), pos), posBuf, ValueRange{r});
    scf::YieldOp::create(b);
  });
  firstPos = add(offset, memref::LoadOp::create(b, rowIds, ValueRange{idx(0)}));
  lastPos = add(offset, memref::LoadOp::create(b, rowIds, ValueRange{maxI(idx(0), sub(numRows, idx(1)))}));

  if (stagedRows) {
    // Every item of the workgroup walks the same key blocks (barriers need uniform control flow); an
    // item computes only while it has rows and its factor is not 0.
    groupFirstPos = add(offset, groupFirstRow);
    groupLastPos = add(offset, groupLastRow);
    Value hasRows = cmpI(arith::CmpIPredicate::sgt, numRows, idx(0));
    emitWorkItem(active ? arith::AndIOp::create(b, active, hasRows).getResult() : hasRows);
    return;
  }
  if (!active) {
    emitWorkItem();
    return;
  }
  emitOrZeroRows(active, [&] { emitWorkItem(); });
}

void AttentionEmitter::emitOrZeroRows(Value condition, llvm::function_ref<void()> body) {
  auto ifOp = scf::IfOp::create(b, condition, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  body();
  b.setInsertionPointToStart(ifOp.elseBlock());
  scf::ForOp::create(b, idx(0), numRows, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value r, ValueRange) {
    storeZeroRow(memref::LoadOp::create(b, rowIds, ValueRange{r}));
    scf::YieldOp::create(b);
  });
}

void AttentionEmitter::storeZeroRow(Value row) {
  std::optional<OpBuilder::InsertionGuard> guard;
  if (splitIndex) { // the row's other splits would write the same zeros
    guard.emplace(b);
    b.setInsertionPointToStart(scf::IfOp::create(b, isFirstSplit(), /*withElseRegion=*/false).thenBlock());
  }
  Value zeroF = f32Const(0.0);
  scf::ForOp::create(b, idx(0), idx(valueDims()), idx(1), ValueRange{},
                     [&](OpBuilder &, Location, Value d, ValueRange) {
                       store(zeroF, op.getOutput(), ValueRange{batch, head, row, dimOf(d)});
                       scf::YieldOp::create(b);
                     });
}

void AttentionEmitter::emitWorkItem(Value computes) {
  int64_t nc = t.queryVectors();
  Value seqK = keyCount;
  if (computes) {
    auto ifComputes = scf::IfOp::create(b, computes, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifComputes.thenBlock());
    packQuery();
  } else {
    packQuery();
  }
  Value zero = vecConst(0.0);
  auto zeroRows = [&](Value buffer, int64_t rows) {
    scf::ForOp::create(b, idx(0), idx(rows), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value dv, ValueRange) {
      for (int64_t c = 0; c < nc; ++c)
        vector::StoreOp::create(b, zero, buffer, ValueRange{dv, idx(c * t.vectorWidth)});
      scf::YieldOp::create(b);
    });
  };
  zeroRows(accT, valueDims());
  if (op.hasAffineScale()) {
    zeroRows(vsumT, valueDims());
    Value zeroF = f32Const(0.0);
    scf::ForOp::create(b, idx(0), idx(valueDims()), idx(1), ValueRange{},
                       [&](OpBuilder &, Location, Value d, ValueRange) {
                         memref::StoreOp::create(b, zeroF, colSum, ValueRange{d});
                         scf::YieldOp::create(b);
                       });
  }

  // The key range [keyBegin, keyEnd) is what causal and window leave visible to any row of this block;
  // key blocks outside it are never visited. Streaming attention adds the sink prefix [0, sink_tokens)
  // as a second segment.
  auto keyRange = [&](Value first, Value last) -> std::pair<Value, Value> {
    Value begin = idx(0), end = seqK;
    if (int64_t window = op.getWindow())
      begin = maxI(idx(0), add(sub(first, idx(window)), idx(1)));
    if (op.getCausal())
      end = minI(seqK, add(last, idx(1)));
    return {begin, end};
  };
  auto [keyBegin, keyEnd] = keyRange(firstPos, lastPos);
  // Staged K/V: the workgroup walks the union of its items' ranges (rows are consecutive, so it is one
  // range), or nothing (neither segment) when no item computes.
  Value groupBegin, groupEnd;
  if (computes) {
    std::tie(groupBegin, groupEnd) = keyRange(groupFirstPos, groupLastPos);
    groupEnd = arith::SelectOp::create(b, groupLive, groupEnd, idx(0));
  }

  // Loop-carried state: m[nc], l[nc] and, for affine scaling, the visible-key counts cnt[nc]. A learned
  // sink starts every row at m = s[h], l = exp(s[h] - m) = 1: the sink is a key with no value.
  SmallVector<Value> state;
  if (op.getSinks()) {
    // Split keys: the sink belongs to the first split's state; the others start empty.
    Value s = memref::LoadOp::create(b, op.getSinks(), ValueRange{head});
    Value m0 = vector::BroadcastOp::create(b, vec, s), l0 = vecConst(1.0);
    if (splitIndex) {
      m0 = arith::SelectOp::create(b, isFirstSplit(), m0, vecConst(-std::numeric_limits<double>::infinity()));
      l0 = arith::SelectOp::create(b, isFirstSplit(), l0, zero);
    }
    state.append(nc, m0);
    state.append(nc, l0);
  } else {
    state.append(nc, vecConst(-std::numeric_limits<double>::infinity()));
    state.append(nc, zero);
  }
  if (op.hasAffineScale())
    state.append(nc, zero);

  auto keyLoop = [&](Value begin, Value end, bool sinkSegment, ValueRange init) {
    return scf::ForOp::create(b, begin, end, idx(t.blockK), init,
                              [&](OpBuilder &, Location, Value j0, ValueRange carried) {
                                scf::YieldOp::create(b, emitKeyBlock(j0, end, sinkSegment, carried));
                              })
        .getResults();
  };
  // Staged K/V: the workgroup's blocks [groupBegin, groupEnd); per block every item loads its share of
  // the tiles, all meet at a barrier, the items whose own range [begin, end) meets the block compute on
  // the tiles (masking drops the keys outside their range), and a second barrier guards the tiles
  // against the next block's loads.
  auto stagedKeyLoop = [&](Value groupBegin, Value groupEnd, Value begin, Value end, bool sinkSegment,
                           ValueRange init) {
    return scf::ForOp::create(
               b, groupBegin, groupEnd, idx(t.blockK), init,
               [&](OpBuilder &, Location, Value j0, ValueRange carried) {
                 stageKeyBlock(j0);
                 gpu::BarrierOp::create(b);
                 Value mine = arith::AndIOp::create(
                     b, computes,
                     arith::AndIOp::create(b, cmpI(arith::CmpIPredicate::slt, j0, end),
                                           cmpI(arith::CmpIPredicate::sgt, add(j0, idx(t.blockK)), begin)));
                 auto ifMine = scf::IfOp::create(b, TypeRange(carried), mine, /*withElseRegion=*/true);
                 {
                   OpBuilder::InsertionGuard guard(b);
                   b.setInsertionPointToStart(ifMine.thenBlock());
                   scf::YieldOp::create(b, emitKeyBlock(j0, end, sinkSegment, carried));
                   b.setInsertionPointToStart(ifMine.elseBlock());
                   scf::YieldOp::create(b, carried);
                 }
                 gpu::BarrierOp::create(b);
                 scf::YieldOp::create(b, ifMine.getResults());
               })
        .getResults();
  };
  SmallVector<Value> results(state);
  if (int64_t sinkTokens = op.getSinkTokens()) {
    Value prefixEnd = minI(idx(sinkTokens), keyEnd);
    if (splitIndex) // split keys: the first split takes the sink tokens
      prefixEnd = arith::SelectOp::create(b, isFirstSplit(), prefixEnd, idx(0));
    if (computes)
      results = llvm::to_vector_of<Value>(stagedKeyLoop(idx(0), minI(idx(sinkTokens), groupEnd), idx(0), prefixEnd,
                                                        /*sinkSegment=*/true, results));
    else
      results = llvm::to_vector_of<Value>(keyLoop(idx(0), prefixEnd, /*sinkSegment=*/true, results));
    keyBegin = maxI(keyBegin, idx(sinkTokens));
    if (computes)
      groupBegin = maxI(groupBegin, idx(sinkTokens));
  }
  if (splitIndex) {
    // Split keys: split p of P walks blocks [p n / P, (p + 1) n / P) of the segment's n key blocks.
    Value blocks = arith::DivUIOp::create(b, add(maxI(idx(0), sub(keyEnd, keyBegin)), idx(t.blockK - 1)),
                                          idx(t.blockK));
    auto boundary = [&](Value p) {
      Value first = arith::DivUIOp::create(b, mul(p, blocks), idx(splits));
      return minI(keyEnd, add(keyBegin, mul(first, idx(t.blockK))));
    };
    Value splitBegin = boundary(splitIndex);
    keyEnd = boundary(add(splitIndex, idx(1)));
    keyBegin = splitBegin;
  }
  if (computes)
    results = llvm::to_vector_of<Value>(
        stagedKeyLoop(groupBegin, groupEnd, keyBegin, keyEnd, /*sinkSegment=*/false, results));
  else
    results = llvm::to_vector_of<Value>(keyLoop(keyBegin, keyEnd, /*sinkSegment=*/false, results));
  auto finish = [&] {
    if (isCalibrated)
      emitCalibratedColumns();
    emitEpilogue(ArrayRef<Value>(results).slice(0, nc), ArrayRef<Value>(results).slice(nc, nc),
                 op.hasAffineScale() ? ArrayRef<Value>(results).slice(2 * nc, nc) : ArrayRef<Value>());
  };
  if (splitIndex) {
    emitSplitCombine(results, finish);
    return;
  }
  if (!computes) {
    finish();
    return;
  }
  emitOrZeroRows(computes, finish);
}

/// Split keys (subgroup form): every split leaves its state in the workgroup's buffer, and after a barrier
/// the first split combines them into `state`, `accT` and the value sums, then runs `finish` alone. With
/// global splits (CUDA) the states go to scratch instead, and the last split to arrive (an atomic count
/// per row, after a device-scope fence) combines them.
void AttentionEmitter::emitSplitCombine(SmallVectorImpl<Value> &state, llvm::function_ref<void()> finish) {
  bool affine = op.hasAffineScale();
  int64_t dvAll = op.getValueHeadDim(), dv = valueDims();
  int64_t words = splitPartialWords(); // m, l, visible keys; acc; value sums
  Value partials = scratch;
  Value firstOfRow = idx(0); // the row's split 0: its state's offset
  int64_t stride = words;    // words between the states of consecutive splits of a row
  Value rowSubgroup;         // global splits: the row's split 0 among all subgroups
  if (globalSplits) {
    stride = llvm::divideCeil(words, lanes) * lanes;
    rowSubgroup = sub(subgroupIndex, splitIndex);
    firstOfRow = add(scratchItems, mul(rowSubgroup, idx(stride)));
  } else {
    partials = memref::AllocOp::create(
        b, MemRefType::get({splits * words}, f32, MemRefLayoutAttrInterface(),
                           gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup)));
  }
  auto scalar = [&](Value v) { return vector::ExtractOp::create(b, v, ArrayRef<int64_t>{0}).getResult(); };
  auto word = [&](Value at) { return memref::LoadOp::create(b, partials, ValueRange{at}).getResult(); };
  Value zeroF = f32Const(0.0), ninf = f32Const(-std::numeric_limits<double>::infinity());
  Value base = add(firstOfRow, mul(splitIndex, idx(stride)));
  {
    // Every lane holds the same m, l and count; lane 0 writes them, each lane its own value columns.
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(
        scf::IfOp::create(b, cmpI(arith::CmpIPredicate::eq, subgroupLane, idx(0)), /*withElseRegion=*/false)
            .thenBlock());
    memref::StoreOp::create(b, scalar(state[0]), partials, ValueRange{base});
    memref::StoreOp::create(b, scalar(state[1]), partials, ValueRange{add(base, idx(1))});
    memref::StoreOp::create(b, affine ? scalar(state[2]) : zeroF, partials, ValueRange{add(base, idx(2))});
  }
  scf::ForOp::create(b, idx(0), idx(dv), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value d, ValueRange) {
    Value at = add(base, add(idx(3), dimOf(d)));
    memref::StoreOp::create(b, memref::LoadOp::create(b, accT, ValueRange{d, idx(0)}), partials, ValueRange{at});
    if (affine) {
      Value sum = arith::AddFOp::create(b, memref::LoadOp::create(b, vsumT, ValueRange{d, idx(0)}),
                                        memref::LoadOp::create(b, colSum, ValueRange{d}));
      memref::StoreOp::create(b, sum, partials, ValueRange{add(at, idx(dvAll))});
    }
    scf::YieldOp::create(b);
  });
  OpBuilder::InsertionGuard guard(b);
  if (globalSplits) {
    // Every lane's state is out before lane 0 counts this split in (__threadfence, then the atomic); the
    // split that brings the count to `splits` combines, after a fence of its own.
    NVVM::MembarOp::create(b, NVVM::MemScopeKind::GPU);
    NVVM::SyncWarpOp::create(b, arith::ConstantOp::create(b, b.getI32IntegerAttr(-1)));
    Value counter = mul(rowSubgroup, idx(lanes)); // the row's first item
    auto count = scf::IfOp::create(b, TypeRange{f32}, cmpI(arith::CmpIPredicate::eq, subgroupLane, idx(0)),
                                   /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(count.thenBlock());
      scf::YieldOp::create(b, memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addf, f32Const(1.0), partials,
                                                          ValueRange{counter})
                                  .getResult());
      b.setInsertionPointToStart(count.elseBlock());
      scf::YieldOp::create(b, zeroF);
    }
    Value arrived = gpu::ShuffleOp::create(b, count.getResult(0), 0, lanes, gpu::ShuffleMode::IDX).getShuffleResult();
    Value last = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, arith::AddFOp::create(b, arrived, f32Const(1.0)),
                                       f32Const(static_cast<double>(splits)));
    b.setInsertionPointToStart(scf::IfOp::create(b, last, /*withElseRegion=*/false).thenBlock());
    NVVM::MembarOp::create(b, NVVM::MemScopeKind::GPU); // the other splits' states, after their count
  } else {
    gpu::BarrierOp::create(b);
    b.setInsertionPointToStart(scf::IfOp::create(b, isFirstSplit(), /*withElseRegion=*/false).thenBlock());
  }
  Value m = scf::ForOp::create(b, idx(0), idx(splits), idx(1), ValueRange{ninf},
                               [&](OpBuilder &, Location, Value p, ValueRange acc) {
                                 Value mp = word(add(firstOfRow, mul(p, idx(stride))));
                                 scf::YieldOp::create(b, ValueRange{arith::MaximumFOp::create(b, acc[0], mp)});
                               })
                .getResult(0);
  // A row no split saw a key of has m = -inf and l = 0 everywhere: exponentiate against 0.
  Value mSafe = arith::SelectOp::create(b, arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, m, ninf), zeroF, m);
  scf::ForOp::create(b, idx(0), idx(dv), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value d, ValueRange) {
    memref::StoreOp::create(b, zeroF, accT, ValueRange{d, idx(0)});
    if (affine) {
      memref::StoreOp::create(b, zeroF, vsumT, ValueRange{d, idx(0)});
      memref::StoreOp::create(b, zeroF, colSum, ValueRange{d});
    }
    scf::YieldOp::create(b);
  });
  auto sums = scf::ForOp::create(
      b, idx(0), idx(splits), idx(1), ValueRange{zeroF, zeroF}, [&](OpBuilder &, Location, Value p, ValueRange acc) {
        Value pb = add(firstOfRow, mul(p, idx(stride)));
        Value scale = math::ExpOp::create(b, arith::SubFOp::create(b, word(pb), mSafe));
        Value l = math::FmaOp::create(b, word(add(pb, idx(1))), scale, acc[0]);
        Value count = arith::AddFOp::create(b, acc[1], word(add(pb, idx(2))));
        scf::ForOp::create(b, idx(0), idx(dv), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value d, ValueRange) {
          Value at = add(pb, add(idx(3), dimOf(d)));
          Value a = memref::LoadOp::create(b, accT, ValueRange{d, idx(0)});
          memref::StoreOp::create(b, math::FmaOp::create(b, word(at), scale, a), accT, ValueRange{d, idx(0)});
          if (affine) {
            Value vs = memref::LoadOp::create(b, vsumT, ValueRange{d, idx(0)});
            memref::StoreOp::create(b, arith::AddFOp::create(b, vs, word(add(at, idx(dvAll)))), vsumT,
                                    ValueRange{d, idx(0)});
          }
          scf::YieldOp::create(b);
        });
        scf::YieldOp::create(b, ValueRange{l, count});
      });
  state[0] = vector::BroadcastOp::create(b, vec, m);
  state[1] = vector::BroadcastOp::create(b, vec, sums.getResult(0));
  if (affine)
    state[2] = vector::BroadcastOp::create(b, vec, sums.getResult(1));
  finish();
}

/// Staged K/V: the workgroup's items load key block [j0, j0 + block-k) of K and V into the tiles
/// together, consecutive items taking consecutive elements; rows past the last key repeat it.
void AttentionEmitter::stageKeyBlock(Value j0) {
  Value lastKey = sub(keyCount, idx(1));
  std::pair<Value, Value> tiles[] = {{kTile, op.getKey()}, {vTile, op.getValue()}};
  for (auto [tileValue, sourceValue] : tiles) {
    Value tile = tileValue, source = sourceValue; // captured below (structured bindings cannot be, in C++17)
    int64_t dim = cast<MemRefType>(tile.getType()).getDimSize(1);
    scf::ForOp::create(b, lane, idx(t.blockK * dim), idx(stagedRows), ValueRange{},
                       [&](OpBuilder &, Location, Value e, ValueRange) {
                         Value jj = arith::DivUIOp::create(b, e, idx(dim));
                         Value d = arith::RemUIOp::create(b, e, idx(dim));
                         Value j = minI(add(j0, jj), lastKey);
                         Value x = load(source, ValueRange{batch, kvHead, j, d});
                         memref::StoreOp::create(b, x, tile, ValueRange{jj, d});
                         scf::YieldOp::create(b);
                       });
  }
}

SmallVector<Value> AttentionEmitter::emitKeyBlock(Value j0, Value segmentEnd, bool sinkSegment,
                                                  ValueRange carried) {
  Value numKeys = minI(idx(t.blockK), sub(segmentEnd, j0));
  if (!op.hasMaskModifier())
    return emitVisibleKeyBlock(j0, segmentEnd, numKeys, sinkSegment, carried);
  // A mask region cannot be analyzed, so it is evaluated first, per (key, row) of the block: a block it
  // hides from every row is skipped (no scores, no softmax update, no P V), as FlexAttention's block mask.
  Value any = emitMaskRegionTile(j0, numKeys);
  auto ifAny = scf::IfOp::create(b, TypeRange(carried), any, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifAny.thenBlock());
  scf::YieldOp::create(b, emitVisibleKeyBlock(j0, segmentEnd, numKeys, sinkSegment, carried));
  b.setInsertionPointToStart(ifAny.elseBlock());
  scf::YieldOp::create(b, carried);
  return llvm::to_vector_of<Value>(ifAny.getResults());
}

/// Fills the mask tile with 1 where the mask region keeps (key jj, row r), 0 elsewhere (also past the
/// block's keys and rows), and returns whether it kept anything.
Value AttentionEmitter::emitMaskRegionTile(Value j0, Value numKeys) {
  int64_t nc = t.queryVectors(), vw = t.vectorWidth;
  Value zero = vecConst(0.0), zeroF = f32Const(0.0), oneF = f32Const(1.0);
  scf::ForOp::create(b, idx(0), idx(t.blockK), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value jj, ValueRange) {
    for (int64_t c = 0; c < nc; ++c)
      vector::StoreOp::create(b, zero, maskT, ValueRange{jj, idx(c * vw)});
    scf::YieldOp::create(b);
  });
  Value none = arith::ConstantIntOp::create(b, 0, 1);
  Region &mask = op.getMask();
  if (isVectorizable(mask, {false, false, true, false})) {
    // Padding lanes repeat the last row's position, so they change no verdict.
    Value ones = vecConst(1.0);
    auto keys = scf::ForOp::create(
        b, idx(0), numKeys, idx(1), ValueRange{none}, [&](OpBuilder &, Location, Value jj, ValueRange anyKey) {
          Value j = add(j0, jj);
          Value any = anyKey[0];
          for (int64_t c = 0; c < nc; ++c) {
            Value keep = inlineRegionVectorized(mask, {batch, head, positionsOf(c), j});
            vector::StoreOp::create(b, arith::SelectOp::create(b, keep, ones, zero), maskT, ValueRange{jj, idx(c * vw)});
            any = arith::OrIOp::create(b, any, vector::ReductionOp::create(b, vector::CombiningKind::OR, keep));
          }
          scf::YieldOp::create(b, ValueRange{any});
        });
    return keys.getResult(0);
  }
  auto keys = scf::ForOp::create(
      b, idx(0), numKeys, idx(1), ValueRange{none}, [&](OpBuilder &, Location, Value jj, ValueRange anyKey) {
        Value j = add(j0, jj);
        auto rows = scf::ForOp::create(
            b, idx(0), numRows, idx(1), ValueRange{anyKey[0]}, [&](OpBuilder &, Location, Value r, ValueRange anyRow) {
              Value keep = inlineRegion(mask, {batch, head, positionOf(r), j});
              memref::StoreOp::create(b, arith::SelectOp::create(b, keep, oneF, zeroF), maskT, ValueRange{jj, r});
              scf::YieldOp::create(b, ValueRange{arith::OrIOp::create(b, anyRow[0], keep)});
            });
        scf::YieldOp::create(b, rows.getResults());
      });
  return keys.getResult(0);
}

SmallVector<Value> AttentionEmitter::emitVisibleKeyBlock(Value j0, Value segmentEnd, Value numKeys,
                                                         bool sinkSegment, ValueRange carried) {
  int64_t nc = t.queryVectors();
  emitScores(j0, sub(segmentEnd, idx(1)));
  if (op.hasScoreModifier())
    emitScoreRegion(j0, numKeys);
  Value full = emitMask(j0, segmentEnd, numKeys, sinkSegment);
  SmallVector<Value> next = emitSoftmax(carried.take_front(nc), carried.slice(nc, nc));
  emitValueAccumulate(j0, numKeys, ArrayRef<Value>(next).drop_front(2 * nc));
  next.resize(2 * nc);
  if (op.hasAffineScale())
    next.append(emitValueSum(j0, numKeys, full, carried.slice(2 * nc, nc)));
  return next;
}

void AttentionEmitter::packQuery() {
  Value scale = f32Const(op.getScale().convertToDouble());
  Value zero = f32Const(0.0);
  int64_t d = headDims();
  scf::ForOp::create(b, idx(0), idx(t.blockQ), idx(1), ValueRange{},
                     [&](OpBuilder &, Location, Value r, ValueRange) {
                       Value valid = cmpI(arith::CmpIPredicate::slt, r, numRows);
                       Value row = memref::LoadOp::create(b, rowIds, ValueRange{r});
                       scf::ForOp::create(b, idx(0), idx(d), idx(1), ValueRange{},
                                          [&](OpBuilder &, Location, Value dd, ValueRange) {
                                            Value x = load(op.getQuery(), ValueRange{batch, head, row, dimOf(dd)});
                                            Value scaled = arith::MulFOp::create(b, x, scale);
                                            Value v = arith::SelectOp::create(b, valid, scaled, zero);
                                            memref::StoreOp::create(b, v, qT, ValueRange{dd, r});
                                            scf::YieldOp::create(b);
                                          });
                       scf::YieldOp::create(b);
                     });
}

void AttentionEmitter::emitScores(Value j0, Value lastKey) {
  int64_t nc = t.queryVectors(), kr = t.keyRegs;
  scf::ForOp::create(
      b, idx(0), idx(t.blockK), idx(kr), ValueRange{}, [&](OpBuilder &, Location, Value jj, ValueRange) {
        // Keys past the end are clamped to the last one and masked later, so loads stay in bounds.
        SmallVector<Value> keyRow;
        for (int64_t r = 0; r < kr; ++r)
          keyRow.push_back(minI(add(add(j0, jj), idx(r)), lastKey));
        SmallVector<Value> zeros(kr * nc, vecConst(0.0));
        auto dLoop = emitOuterProducts(
            idx(headDims()), zeros, kr,
            [&](Value d, int64_t c) { return vector::LoadOp::create(b, vec, qT, ValueRange{d, idx(c * t.vectorWidth)}); },
            [&](Value d, int64_t r) { return keyAt(j0, keyRow[r], d); });
        for (int64_t r = 0; r < kr; ++r)
          for (int64_t c = 0; c < nc; ++c)
            vector::StoreOp::create(b, laneSum(dLoop.getResult(r * nc + c)), pT,
                                    ValueRange{add(jj, idx(r)), idx(c * t.vectorWidth)});
        scf::YieldOp::create(b);
      });
}

void AttentionEmitter::emitScoreRegion(Value j0, Value numKeys) {
  Region &score = op.getScore();
  // (z, b, h, i, j): the score and the query position vary along the rows of a vector.
  if (isVectorizable(score, {true, false, false, true, false})) {
    scf::ForOp::create(b, idx(0), numKeys, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value jj, ValueRange) {
      Value j = add(j0, jj);
      for (int64_t c = 0; c < t.queryVectors(); ++c) {
        SmallVector<Value, 2> at{jj, idx(c * t.vectorWidth)};
        Value z = vector::LoadOp::create(b, vec, pT, at);
        vector::StoreOp::create(b, inlineRegionVectorized(score, {z, batch, head, positionsOf(c), j}), pT, at);
      }
      scf::YieldOp::create(b);
    });
    return;
  }
  scf::ForOp::create(b, idx(0), numKeys, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value jj, ValueRange) {
    Value j = add(j0, jj);
    scf::ForOp::create(b, idx(0), numRows, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value r, ValueRange) {
      Value z = memref::LoadOp::create(b, pT, ValueRange{jj, r});
      Value modified = inlineRegion(score, {z, batch, head, positionOf(r), j});
      memref::StoreOp::create(b, modified, pT, ValueRange{jj, r});
      scf::YieldOp::create(b);
    });
    scf::YieldOp::create(b);
  });
}

/// Masks the scores of one key block with -inf and returns whether the block was entirely visible (then
/// nothing was masked). For affine scaling it also records each score's visibility (1 or 0).
Value AttentionEmitter::emitMask(Value j0, Value keyEnd, Value numKeys, bool sinkSegment) {
  int64_t nc = t.queryVectors(), vw = t.vectorWidth;
  // The sink prefix of streaming attention ignores the window.
  int64_t window = sinkSegment ? 0 : op.getWindow();
  bool causal = op.getCausal();
  // A block that is complete and entirely visible to every row skips masking.
  Value full = cmpI(arith::CmpIPredicate::eq, numKeys, idx(t.blockK));
  if (causal)
    full = arith::AndIOp::create(
        b, full, cmpI(arith::CmpIPredicate::sle, add(j0, idx(t.blockK - 1)), firstPos));
  if (window)
    full = arith::AndIOp::create(
        b, full, cmpI(arith::CmpIPredicate::sgt, j0, sub(lastPos, idx(window))));
  if (op.hasMaskModifier())
    full = arith::ConstantIntOp::create(b, 0, 1);
  if (isCalibrated) {
    // The sink columns of a calibrated head go to their own accumulators, not this loop's.
    ArrayRef<int64_t> keys = *op.getCalibratedKeys();
    Value overlaps = arith::AndIOp::create(b, cmpI(arith::CmpIPredicate::sle, j0, idx(keys.back())),
                                           cmpI(arith::CmpIPredicate::sgt, add(j0, idx(t.blockK)), idx(keys.front())));
    full = arith::AndIOp::create(
        b, full, arith::XOrIOp::create(b, arith::AndIOp::create(b, overlaps, isCalibrated),
                                       arith::ConstantIntOp::create(b, 1, 1)));
  }

  auto ifOp = scf::IfOp::create(b, arith::XOrIOp::create(b, full, arith::ConstantIntOp::create(b, 1, 1)),
                                /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  Type i64 = b.getI64Type();
  auto ivec = VectorType::get({vw}, i64);
  Value ninf = vecConst(-std::numeric_limits<double>::infinity());
  Value one = vecConst(1.0), zero = vecConst(0.0);
  scf::ForOp::create(b, idx(0), idx(t.blockK), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value jj, ValueRange) {
    Value j = add(j0, jj);
    Value j64 = arith::IndexCastOp::create(b, i64, j);
    Value jVec = vector::BroadcastOp::create(b, ivec, j64);
    auto boolVec = VectorType::get({vw}, b.getI1Type());
    Value inRangeScalar = cmpI(arith::CmpIPredicate::slt, j, keyEnd);
    if (isCalibrated)
      inRangeScalar = arith::AndIOp::create(
          b, inRangeScalar,
          arith::XOrIOp::create(b, arith::AndIOp::create(b, isCalibrated, inCalibratedColumns(j)),
                                arith::ConstantIntOp::create(b, 1, 1)));
    Value inRange = vector::BroadcastOp::create(b, boolVec, inRangeScalar);
    for (int64_t c = 0; c < nc; ++c) {
      Value pos = vector::LoadOp::create(b, ivec, posBuf, ValueRange{idx(c * vw)});
      Value keep = inRange;
      if (causal)
        keep = arith::AndIOp::create(b, keep, cmpI(arith::CmpIPredicate::sle, jVec, pos));
      if (window) {
        Value lo = arith::SubIOp::create(
            b, pos, vector::BroadcastOp::create(b, ivec, arith::ConstantIntOp::create(b, i64, window)));
        keep = arith::AndIOp::create(b, keep, cmpI(arith::CmpIPredicate::sgt, jVec, lo));
      }
      SmallVector<Value, 2> at{jj, idx(c * vw)};
      Value z = vector::LoadOp::create(b, vec, pT, at);
      vector::StoreOp::create(b, arith::SelectOp::create(b, keep, z, ninf), pT, at);
      if (visT)
        vector::StoreOp::create(b, arith::SelectOp::create(b, keep, one, zero), visT, at);
    }
    scf::YieldOp::create(b);
  });
  if (op.hasMaskModifier()) {
    // The mask region's verdicts were computed into the mask tile before the scores.
    scf::ForOp::create(b, idx(0), idx(t.blockK), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value jj, ValueRange) {
      for (int64_t c = 0; c < nc; ++c) {
        SmallVector<Value, 2> at{jj, idx(c * vw)};
        Value keep = arith::CmpFOp::create(b, arith::CmpFPredicate::ONE,
                                           vector::LoadOp::create(b, vec, maskT, at), zero);
        Value z = vector::LoadOp::create(b, vec, pT, at);
        vector::StoreOp::create(b, arith::SelectOp::create(b, keep, z, ninf), pT, at);
        if (visT) {
          Value v = vector::LoadOp::create(b, vec, visT, at);
          vector::StoreOp::create(b, arith::SelectOp::create(b, keep, v, zero), visT, at);
        }
      }
      scf::YieldOp::create(b);
    });
  }
  return full;
}

/// Affine scaling needs the plain sum of the visible values and their count per row. A fully visible
/// block adds its column sums to every row; a masked block weighs each value by its visibility.
SmallVector<Value> AttentionEmitter::emitValueSum(Value j0, Value numKeys, Value full, ValueRange count) {
  int64_t nc = t.queryVectors(), dv = valueDims(), vw = t.vectorWidth;
  SmallVector<Type> types(nc, vec);
  auto ifFull = scf::IfOp::create(b, types, full, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);

  b.setInsertionPointToStart(ifFull.thenBlock());
  // A fully visible block adds the same values to every row: accumulate its column sums once into the
  // work item's running column total (along the value rows, contiguous in d, in vectors when the value
  // head dim allows); the epilogue adds the total to every row.
  if (dv % vw == 0) {
    int64_t chunks = dv / vw;
    SmallVector<Value> init;
    for (int64_t k = 0; k < chunks; ++k)
      init.push_back(vector::LoadOp::create(b, vec, colSum, ValueRange{idx(k * vw)}));
    auto sums = scf::ForOp::create(b, idx(0), numKeys, idx(1), init,
                                   [&](OpBuilder &, Location, Value jj, ValueRange acc) {
                                     SmallVector<Value> next;
                                     for (int64_t k = 0; k < chunks; ++k) {
                                       Value x = valueAt(j0, jj, idx(k * vw), vec);
                                       next.push_back(arith::AddFOp::create(b, acc[k], x));
                                     }
                                     scf::YieldOp::create(b, next);
                                   });
    for (int64_t k = 0; k < chunks; ++k)
      vector::StoreOp::create(b, sums.getResult(k), colSum, ValueRange{idx(k * vw)});
  } else {
    scf::ForOp::create(b, idx(0), idx(dv), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value d, ValueRange) {
      Value total = memref::LoadOp::create(b, colSum, ValueRange{d});
      auto sum = scf::ForOp::create(b, idx(0), numKeys, idx(1), ValueRange{total},
                                    [&](OpBuilder &, Location, Value jj, ValueRange acc) {
                                      Value x = valueAt(j0, jj, d);
                                      scf::YieldOp::create(b, ValueRange{arith::AddFOp::create(b, acc[0], x)});
                                    });
      memref::StoreOp::create(b, sum.getResult(0), colSum, ValueRange{d});
      scf::YieldOp::create(b);
    });
  }
  Value n = vector::BroadcastOp::create(
      b, vec, arith::UIToFPOp::create(b, f32, arith::IndexCastUIOp::create(b, b.getI64Type(), numKeys)));
  SmallVector<Value> fullCount;
  for (int64_t c = 0; c < nc; ++c)
    fullCount.push_back(arith::AddFOp::create(b, count[c], n));
  scf::YieldOp::create(b, fullCount);

  b.setInsertionPointToStart(ifFull.elseBlock());
  scf::ForOp::create(b, idx(0), idx(dv), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value d, ValueRange) {
    SmallVector<Value> init;
    for (int64_t c = 0; c < nc; ++c)
      init.push_back(vector::LoadOp::create(b, vec, vsumT, ValueRange{d, idx(c * vw)}));
    auto loop = scf::ForOp::create(b, idx(0), numKeys, idx(1), init,
                                   [&](OpBuilder &, Location, Value jj, ValueRange acc) {
                                     Value xb = vector::BroadcastOp::create(b, vec, valueAt(j0, jj, d));
                                     SmallVector<Value> next;
                                     for (int64_t c = 0; c < nc; ++c) {
                                       Value vis = vector::LoadOp::create(b, vec, visT, ValueRange{jj, idx(c * vw)});
                                       next.push_back(vector::FMAOp::create(b, xb, vis, acc[c]));
                                     }
                                     scf::YieldOp::create(b, next);
                                   });
    for (int64_t c = 0; c < nc; ++c)
      vector::StoreOp::create(b, loop.getResult(c), vsumT, ValueRange{d, idx(c * vw)});
    scf::YieldOp::create(b);
  });
  auto countLoop = scf::ForOp::create(b, idx(0), numKeys, idx(1), count,
                                      [&](OpBuilder &, Location, Value jj, ValueRange acc) {
                                        SmallVector<Value> next;
                                        for (int64_t c = 0; c < nc; ++c) {
                                          Value vis = vector::LoadOp::create(b, vec, visT, ValueRange{jj, idx(c * vw)});
                                          next.push_back(arith::AddFOp::create(b, acc[c], vis));
                                        }
                                        scf::YieldOp::create(b, next);
                                      });
  scf::YieldOp::create(b, countLoop.getResults());
  return llvm::to_vector_of<Value>(ifFull.getResults());
}

/// Returns m_new[nc], l_new[nc], alpha[nc]; leaves exp(z - m_new) in the probability tile.
SmallVector<Value> AttentionEmitter::emitSoftmax(ValueRange mOld, ValueRange lOld) {
  int64_t nc = t.queryVectors();
  Value ninf = vecConst(-std::numeric_limits<double>::infinity());
  SmallVector<Value> init(nc, ninf);
  auto maxLoop = scf::ForOp::create(b, idx(0), idx(t.blockK), idx(1), init,
                                    [&](OpBuilder &, Location, Value jj, ValueRange acc) {
                                      SmallVector<Value> next;
                                      for (int64_t c = 0; c < nc; ++c) {
                                        Value z = vector::LoadOp::create(b, vec, pT, ValueRange{jj, idx(c * t.vectorWidth)});
                                        next.push_back(arith::MaximumFOp::create(b, acc[c], z));
                                      }
                                      scf::YieldOp::create(b, next);
                                    });
  SmallVector<Value> mNew, mSafe, alpha;
  Value zero = vecConst(0.0);
  for (int64_t c = 0; c < nc; ++c) {
    mNew.push_back(arith::MaximumFOp::create(b, mOld[c], maxLoop.getResult(c)));
    // While a row has seen only masked keys its max is -inf; exponentiate against 0 so exp(-inf) = 0.
    Value allMasked = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, mNew[c], ninf);
    mSafe.push_back(arith::SelectOp::create(b, allMasked, zero, mNew[c]));
    alpha.push_back(math::ExpOp::create(b, arith::SubFOp::create(b, mOld[c], mSafe[c])));
  }
  SmallVector<Value> zeros(nc, zero);
  auto sumLoop = scf::ForOp::create(b, idx(0), idx(t.blockK), idx(1), zeros,
                                    [&](OpBuilder &, Location, Value jj, ValueRange acc) {
                                      SmallVector<Value> next;
                                      for (int64_t c = 0; c < nc; ++c) {
                                        SmallVector<Value, 2> at{jj, idx(c * t.vectorWidth)};
                                        Value z = vector::LoadOp::create(b, vec, pT, at);
                                        Value p = math::ExpOp::create(b, arith::SubFOp::create(b, z, mSafe[c]));
                                        vector::StoreOp::create(b, p, pT, at);
                                        next.push_back(arith::AddFOp::create(b, acc[c], p));
                                      }
                                      scf::YieldOp::create(b, next);
                                    });
  SmallVector<Value> result = mNew;
  for (int64_t c = 0; c < nc; ++c)
    result.push_back(vector::FMAOp::create(b, lOld[c], alpha[c], sumLoop.getResult(c)));
  result.append(alpha);
  return result;
}

void AttentionEmitter::emitValueAccumulate(Value j0, Value numKeys, ValueRange alpha) {
  int64_t nc = t.queryVectors(), dv = valueDims();
  int64_t vr = std::min(t.valueRegs, dv);
  while (dv % vr)
    --vr;
  // With static key loops every key of the block takes part: padding keys were masked (p = 0) and read the
  // last key's row, so the loop has a constant trip count and a GPU target can unroll it.
  Value extent = t.staticKeyLoops ? idx(t.blockK) : numKeys;
  Value lastInBlock = t.staticKeyLoops ? sub(sub(keyCount, idx(1)), j0) : Value();
  scf::ForOp::create(b, idx(0), idx(dv), idx(vr), ValueRange{}, [&](OpBuilder &, Location, Value d0, ValueRange) {
    // The running accumulator is rescaled by alpha as it is loaded: one pass over it per key block.
    SmallVector<Value> init;
    for (int64_t r = 0; r < vr; ++r)
      for (int64_t c = 0; c < nc; ++c) {
        Value a = vector::LoadOp::create(b, vec, accT, ValueRange{add(d0, idx(r)), idx(c * t.vectorWidth)});
        init.push_back(arith::MulFOp::create(b, a, alpha[c]));
      }
    auto jLoop = emitOuterProducts(
        extent, init, vr,
        [&](Value jj, int64_t c) { return vector::LoadOp::create(b, vec, pT, ValueRange{jj, idx(c * t.vectorWidth)}); },
        [&](Value jj, int64_t r) {
          return valueAt(j0, lastInBlock ? minI(jj, lastInBlock) : jj, add(d0, idx(r)));
        });
    for (int64_t r = 0; r < vr; ++r)
      for (int64_t c = 0; c < nc; ++c)
        vector::StoreOp::create(b, jLoop.getResult(r * nc + c), accT,
                                ValueRange{add(d0, idx(r)), idx(c * t.vectorWidth)});
    scf::YieldOp::create(b);
  });
}

Value AttentionEmitter::inCalibratedColumns(Value j) {
  Value in = arith::ConstantIntOp::create(b, 0, 1);
  ArrayRef<int64_t> keys = *op.getCalibratedKeys();
  for (int64_t key : keys)
    in = arith::OrIOp::create(b, in, cmpI(arith::CmpIPredicate::eq, j, idx(key)));
  return in;
}

/// ACT: the sink columns S of a calibrated head, with their own max, denominator and accumulator. The
/// main loop left them out, so nothing is subtracted and no precision is lost when S holds most mass.
void AttentionEmitter::emitCalibratedColumns() {
  ArrayRef<int64_t> keys = *op.getCalibratedKeys();
  int64_t nc = t.queryVectors(), vw = t.vectorWidth, numKeys = keys.size();
  Value zero = vecConst(0.0), ninf = vecConst(-std::numeric_limits<double>::infinity());
  for (int64_t c = 0; c < nc; ++c) {
    vector::StoreOp::create(b, ninf, mSinkBuf, ValueRange{idx(c * vw)});
    vector::StoreOp::create(b, zero, lSinkBuf, ValueRange{idx(c * vw)});
    if (cntSinkBuf)
      vector::StoreOp::create(b, zero, cntSinkBuf, ValueRange{idx(c * vw)});
  }
  scf::ForOp::create(b, idx(0), idx(valueDims()), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value d, ValueRange) {
    for (int64_t c = 0; c < nc; ++c)
      vector::StoreOp::create(b, zero, accSinkT, ValueRange{d, idx(c * vw)});
    scf::YieldOp::create(b);
  });
  auto ifCalibrated = scf::IfOp::create(b, isCalibrated, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifCalibrated.thenBlock());

  Value seqK = keyCount;
  Value lastKey = sub(seqK, idx(1));
  Type i64 = b.getI64Type();
  auto ivec = VectorType::get({vw}, i64);
  // Scores of the sink columns into rows [0, |S|) of the probability tile.
  for (int64_t n = 0; n < numKeys; ++n) {
    int64_t key = keys[n];
    Value row = minI(idx(key), lastKey);
    auto dot = scf::ForOp::create(b, idx(0), idx(headDims()), idx(1), SmallVector<Value>(nc, zero),
                                  [&](OpBuilder &, Location, Value d, ValueRange acc) {
                                    Value kx = load(op.getKey(), ValueRange{batch, kvHead, row, dimOf(d)});
                                    Value kb = vector::BroadcastOp::create(b, vec, kx);
                                    SmallVector<Value> next;
                                    for (int64_t c = 0; c < nc; ++c)
                                      next.push_back(vector::FMAOp::create(
                                          b, kb, vector::LoadOp::create(b, vec, qT, ValueRange{d, idx(c * vw)}), acc[c]));
                                    scf::YieldOp::create(b, next);
                                  });
    for (int64_t c = 0; c < nc; ++c)
      vector::StoreOp::create(b, laneSum(dot.getResult(c)), pT, ValueRange{idx(n), idx(c * vw)});
  }
  if (op.hasScoreModifier())
    for (int64_t n = 0; n < numKeys; ++n) {
      int64_t key = keys[n];
      scf::ForOp::create(b, idx(0), numRows, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value r, ValueRange) {
        Value z = memref::LoadOp::create(b, pT, ValueRange{idx(n), r});
        memref::StoreOp::create(b, inlineRegion(op.getScore(), {z, batch, head, positionOf(r), idx(key)}), pT,
                                ValueRange{idx(n), r});
        scf::YieldOp::create(b);
      });
    }
  // Visibility of each sink column: it exists, and causal, window (unless a streaming sink token) and the
  // mask region keep it.
  for (int64_t n = 0; n < numKeys; ++n) {
    int64_t key = keys[n];
    Value exists = cmpI(arith::CmpIPredicate::slt, idx(key), seqK);
    Value keyVec = vector::BroadcastOp::create(b, ivec, arith::ConstantIntOp::create(b, i64, key));
    for (int64_t c = 0; c < nc; ++c) {
      Value pos = vector::LoadOp::create(b, ivec, posBuf, ValueRange{idx(c * vw)});
      Value keep = vector::BroadcastOp::create(b, VectorType::get({vw}, b.getI1Type()), exists);
      if (op.getCausal())
        keep = arith::AndIOp::create(b, keep, cmpI(arith::CmpIPredicate::sle, keyVec, pos));
      if (int64_t window = op.getWindow(); window && key >= static_cast<int64_t>(op.getSinkTokens())) {
        Value lo = arith::SubIOp::create(
            b, pos, vector::BroadcastOp::create(b, ivec, arith::ConstantIntOp::create(b, i64, window)));
        keep = arith::AndIOp::create(b, keep, cmpI(arith::CmpIPredicate::sgt, keyVec, lo));
      }
      SmallVector<Value, 2> at{idx(n), idx(c * vw)};
      Value z = vector::LoadOp::create(b, vec, pT, at);
      vector::StoreOp::create(b, arith::SelectOp::create(b, keep, z, ninf), pT, at);
      if (visT)
        vector::StoreOp::create(b, arith::SelectOp::create(b, keep, vecConst(1.0), zero), visT, at);
    }
    if (op.hasMaskModifier()) {
      Value ninfScalar = f32Const(-std::numeric_limits<double>::infinity());
      scf::ForOp::create(b, idx(0), numRows, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value r, ValueRange) {
        Value keepScalar = inlineRegion(op.getMask(), {batch, head, positionOf(r), idx(key)});
        Value z = memref::LoadOp::create(b, pT, ValueRange{idx(n), r});
        memref::StoreOp::create(b, arith::SelectOp::create(b, keepScalar, z, ninfScalar), pT, ValueRange{idx(n), r});
        if (visT) {
          Value v = memref::LoadOp::create(b, visT, ValueRange{idx(n), r});
          memref::StoreOp::create(b, arith::SelectOp::create(b, keepScalar, v, f32Const(0.0)), visT,
                                  ValueRange{idx(n), r});
        }
        scf::YieldOp::create(b);
      });
    }
  }
  // Affine scaling averages over every visible key, the calibrated columns included.
  if (visT) {
    for (int64_t c = 0; c < nc; ++c) {
      Value count = zero;
      for (int64_t n = 0; n < numKeys; ++n)
        count = arith::AddFOp::create(b, count, vector::LoadOp::create(b, vec, visT, ValueRange{idx(n), idx(c * vw)}));
      vector::StoreOp::create(b, count, cntSinkBuf, ValueRange{idx(c * vw)});
    }
    scf::ForOp::create(b, idx(0), idx(valueDims()), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value d, ValueRange) {
      for (int64_t c = 0; c < nc; ++c) {
        SmallVector<Value, 2> at{d, idx(c * vw)};
        Value sum = vector::LoadOp::create(b, vec, vsumT, at);
        for (int64_t n = 0; n < numKeys; ++n) {
          Value vx = load(op.getValue(), ValueRange{batch, kvHead, minI(idx(keys[n]), lastKey), dimOf(d)});
          sum = vector::FMAOp::create(b, vector::BroadcastOp::create(b, vec, vx),
                                      vector::LoadOp::create(b, vec, visT, ValueRange{idx(n), idx(c * vw)}), sum);
        }
        vector::StoreOp::create(b, sum, vsumT, at);
      }
      scf::YieldOp::create(b);
    });
  }
  // Their own softmax statistics and value accumulator.
  for (int64_t c = 0; c < nc; ++c) {
    Value m = ninf;
    for (int64_t n = 0; n < numKeys; ++n)
      m = arith::MaximumFOp::create(b, m, vector::LoadOp::create(b, vec, pT, ValueRange{idx(n), idx(c * vw)}));
    Value allMasked = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, m, ninf);
    Value mSafe = arith::SelectOp::create(b, allMasked, zero, m);
    Value l = zero;
    for (int64_t n = 0; n < numKeys; ++n) {
      SmallVector<Value, 2> at{idx(n), idx(c * vw)};
      Value p = math::ExpOp::create(b, arith::SubFOp::create(b, vector::LoadOp::create(b, vec, pT, at), mSafe));
      vector::StoreOp::create(b, p, pT, at);
      l = arith::AddFOp::create(b, l, p);
    }
    vector::StoreOp::create(b, m, mSinkBuf, ValueRange{idx(c * vw)});
    vector::StoreOp::create(b, l, lSinkBuf, ValueRange{idx(c * vw)});
  }
  scf::ForOp::create(b, idx(0), idx(valueDims()), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value d, ValueRange) {
    for (int64_t c = 0; c < nc; ++c) {
      Value acc = zero;
      for (int64_t n = 0; n < numKeys; ++n) {
    int64_t key = keys[n];
        Value vx = load(op.getValue(), ValueRange{batch, kvHead, minI(idx(key), lastKey), dimOf(d)});
        acc = vector::FMAOp::create(b, vector::BroadcastOp::create(b, vec, vx),
                                    vector::LoadOp::create(b, vec, pT, ValueRange{idx(n), idx(c * vw)}), acc);
      }
      vector::StoreOp::create(b, acc, accSinkT, ValueRange{d, idx(c * vw)});
    }
    scf::YieldOp::create(b);
  });
}

void AttentionEmitter::emitEpilogue(ValueRange m, ValueRange l, ValueRange count) {
  for (int64_t c = 0; c < t.queryVectors(); ++c) {
    vector::StoreOp::create(b, l[c], lBuf, ValueRange{idx(c * t.vectorWidth)});
    if (mBuf)
      vector::StoreOp::create(b, m[c], mBuf, ValueRange{idx(c * t.vectorWidth)});
    if (cntBuf)
      vector::StoreOp::create(b, count[c], cntBuf, ValueRange{idx(c * t.vectorWidth)});
  }
  Value zero = f32Const(0.0), one = f32Const(1.0);
  scf::ForOp::create(b, idx(0), numRows, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value r, ValueRange) {
    Value row = memref::LoadOp::create(b, rowIds, ValueRange{r});
    Value lr = memref::LoadOp::create(b, lBuf, ValueRange{r});
    // A row that saw no key has l = 0 and yields zeros.
    Value sawKey = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, lr, zero);
    Value accScale = arith::SelectOp::create(b, sawKey, arith::DivFOp::create(b, one, lr), zero);
    // ACT: with the rest (N) and the sink columns (S) rescaled to their common max,
    // O = beta acc_S / (l_S + l_N) + (1 - beta l_S / (l_S + l_N)) acc_N / l_N.
    Value sinkScale;
    if (mBuf) {
      Value ninf = f32Const(-std::numeric_limits<double>::infinity());
      Value mN = memref::LoadOp::create(b, mBuf, ValueRange{r});
      Value mS = memref::LoadOp::create(b, mSinkBuf, ValueRange{r});
      Value mMax = arith::MaximumFOp::create(b, mN, mS);
      auto factor = [&](Value mPart) -> Value {
        Value dead = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, mPart, ninf);
        return arith::SelectOp::create(b, dead, zero, math::ExpOp::create(b, arith::SubFOp::create(b, mPart, mMax)));
      };
      Value lS = arith::MulFOp::create(b, memref::LoadOp::create(b, lSinkBuf, ValueRange{r}), factor(mS));
      Value lTotal = arith::AddFOp::create(b, arith::MulFOp::create(b, lr, factor(mN)), lS);
      Value anyMass = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, lTotal, zero);
      Value beta = f32Const(op.getCalibrationBeta().convertToDouble());
      Value invTotal = arith::SelectOp::create(b, anyMass, arith::DivFOp::create(b, one, lTotal), zero);
      sinkScale = arith::MulFOp::create(b, arith::MulFOp::create(b, beta, factor(mS)), invTotal);
      Value restShare = arith::SubFOp::create(b, one, arith::MulFOp::create(b, arith::MulFOp::create(b, beta, lS), invTotal));
      accScale = arith::MulFOp::create(b, accScale, restShare);
    }
    // O = a * acc / l + (alpha_ma - a) * vsum / count, all times the row's gate.
    Value sumScale;
    if (op.hasAffineScale()) {
      Value a = memref::LoadOp::create(b, op.getAlpha(), ValueRange{batch, head, row});
      if (op.getAlphaActivation() == "linear_clip")
        a = arith::MinimumFOp::create(
            b, arith::MaximumFOp::create(b, math::FmaOp::create(b, a, f32Const(0.1), f32Const(0.5)), zero), one);
      else if (op.getAlphaActivation() == "sigmoid")
        a = arith::DivFOp::create(
            b, one, arith::AddFOp::create(b, one, math::ExpOp::create(b, arith::NegFOp::create(b, a))));
      Value ama = memref::LoadOp::create(b, op.getAlphaMa(), ValueRange{head});
      Value cr = memref::LoadOp::create(b, cntBuf, ValueRange{r});
      if (cntSinkBuf) // the calibrated columns are visible keys too
        cr = arith::AddFOp::create(b, cr, memref::LoadOp::create(b, cntSinkBuf, ValueRange{r}));
      Value anyVisible = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, cr, zero);
      accScale = arith::MulFOp::create(b, accScale, a);
      if (sinkScale)
        sinkScale = arith::MulFOp::create(b, sinkScale, a);
      sumScale = arith::SelectOp::create(
          b, anyVisible, arith::DivFOp::create(b, arith::SubFOp::create(b, ama, a), cr), zero);
    }
    if (gBuf) {
      Value g = memref::LoadOp::create(b, gBuf, ValueRange{r});
      accScale = arith::MulFOp::create(b, accScale, g);
      if (sumScale)
        sumScale = arith::MulFOp::create(b, sumScale, g);
      if (sinkScale)
        sinkScale = arith::MulFOp::create(b, sinkScale, g);
    }
    scf::ForOp::create(b, idx(0), idx(valueDims()), idx(1), ValueRange{},
                       [&](OpBuilder &, Location, Value d, ValueRange) {
                         Value a = memref::LoadOp::create(b, accT, ValueRange{d, r});
                         Value o = arith::MulFOp::create(b, a, accScale);
                         if (sumScale) {
                           Value vs = arith::AddFOp::create(b, memref::LoadOp::create(b, vsumT, ValueRange{d, r}),
                                                            memref::LoadOp::create(b, colSum, ValueRange{d}));
                           o = arith::AddFOp::create(b, o, arith::MulFOp::create(b, vs, sumScale));
                         }
                         if (sinkScale) {
                           Value as = memref::LoadOp::create(b, accSinkT, ValueRange{d, r});
                           o = arith::AddFOp::create(b, o, arith::MulFOp::create(b, as, sinkScale));
                         }
                         store(o, op.getOutput(), ValueRange{batch, head, row, dimOf(d)});
                         scf::YieldOp::create(b);
                       });
    scf::YieldOp::create(b);
  });
}

//===----------------------------------------------------------------------===//
// The decode form
//===----------------------------------------------------------------------===//

/// The largest vector width up to `lanes` that divides `dim` (row loads never cross a row's end).
static int64_t lanesFor(int64_t dim, int64_t lanes) {
  while (lanes > 1 && dim % lanes)
    lanes /= 2;
  return lanes;
}

AttentionEmitter::DecodeRow AttentionEmitter::decodeRow(Value n) {
  Value r = dRows ? memref::LoadOp::create(b, dRows, ValueRange{n}).getResult() : n;
  Value g = arith::DivUIOp::create(b, r, seqQAll);
  Value s = arith::RemUIOp::create(b, r, seqQAll);
  Value h = add(mul(kvHead, idx(decodeGroup)), g);
  return {h, s, add(sub(keyCount, seqQAll), s)};
}

Value AttentionEmitter::isCalibratedHead(Value h) {
  Value is = arith::ConstantIntOp::create(b, 0, 1);
  ArrayRef<int64_t> heads = *op.getCalibratedHeads();
  for (int64_t calibrated : heads)
    is = arith::OrIOp::create(b, is, cmpI(arith::CmpIPredicate::eq, h, idx(calibrated)));
  return is;
}

/// Keys jStart, jStart + 1, ... on the lanes of an i64 vector.
Value AttentionEmitter::keyLanes(Value jStart) {
  auto ivec = VectorType::get({t.vectorWidth}, b.getI64Type());
  SmallVector<int64_t> iota(t.vectorWidth);
  for (int64_t l = 0; l < t.vectorWidth; ++l)
    iota[l] = l;
  Value lanes = arith::ConstantOp::create(b, DenseElementsAttr::get(ivec, ArrayRef<int64_t>(iota)));
  Value start = arith::IndexCastOp::create(b, b.getI64Type(), jStart);
  return arith::AddIOp::create(b, vector::BroadcastOp::create(b, ivec, start), lanes);
}

/// Chunk c (`type`, f32 lanes) of K or V row `row`. A split bf16 operand is read as pairs of chunks
/// de-interleaved: chunk 2b holds the even elements of block b (its 2 * lanes elements), chunk 2b + 1 the
/// odd ones. Each then widens with one shift or mask of the block's 32-bit words (an even element is the
/// low half of its word), where the plain order needs a shuffle per chunk as well. The query rows (dQ) and
/// the accumulators take the same order; the epilogue interleaves the output back.
Value AttentionEmitter::decodeChunk(Value buffer, bool split, Value row, int64_t c, VectorType type) {
  int64_t lanes = type.getNumElements();
  if (!split)
    return load(buffer, ValueRange{batch, kvHead, row, idx(c * lanes)}, type);
  auto words = VectorType::get({lanes}, b.getI32Type());
  Value block = vector::LoadOp::create(b, VectorType::get({2 * lanes}, b.getBF16Type()), buffer,
                                       ValueRange{batch, kvHead, row, idx(c / 2 * 2 * lanes)});
  Value bits = vector::BitCastOp::create(b, words, block);
  auto splat = [&](uint32_t v) {
    return arith::ConstantOp::create(b, DenseElementsAttr::get(words, b.getI32IntegerAttr(static_cast<int32_t>(v))));
  };
  Value widened = c % 2 == 0 ? arith::ShLIOp::create(b, bits, splat(16)).getResult()
                             : arith::AndIOp::create(b, bits, splat(0xffff0000u)).getResult();
  return vector::BitCastOp::create(b, type, widened);
}

/// q[n] * k[j] summed into one vector of head_dim lanes, in `chains` (1 or 2) accumulator chains: two hide
/// the FMA latency of a lone dot product; where many keys' dot products interleave, one keeps their
/// accumulators in registers.
Value AttentionEmitter::decodePartialDot(Value n, Value j, int64_t chains) {
  auto dvec = VectorType::get({dw}, f32);
  int64_t chunks = op.getHeadDim() / dw;
  SmallVector<Value, 2> acc;
  for (int64_t c = 0; c < chunks; ++c) {
    Value qx = vector::LoadOp::create(b, dvec, dQ, ValueRange{n, idx(c * dw)});
    Value kx = decodeChunk(op.getKey(), splitK, j, c, dvec);
    if (c < chains)
      acc.push_back(arith::MulFOp::create(b, qx, kx));
    else
      acc[c % chains] = vector::FMAOp::create(b, qx, kx, acc[c % chains]);
  }
  return acc.size() > 1 ? arith::AddFOp::create(b, acc[0], acc[1]).getResult() : acc[0];
}

/// q[n] . k[j]: one horizontal sum.
Value AttentionEmitter::decodeDot(Value n, Value j) {
  return vector::ReductionOp::create(b, vector::CombiningKind::ADD, decodePartialDot(n, j, /*chains=*/2),
                                     arith::FastMathFlags::reassoc | arith::FastMathFlags::nsz);
}

/// The horizontal sums of `parts` (vector-width vectors of vector-width lanes) as one vector, lane k the
/// sum of parts[k]: each level adds the two halves of every segment of a pair of vectors, so vector-width
/// keys cost 2 (vector-width - 1) shuffles and vector-width - 1 adds instead of a reduction each.
Value AttentionEmitter::transposedSums(ArrayRef<Value> parts) {
  int64_t vw = t.vectorWidth;
  SmallVector<Value> current(parts);
  for (int64_t segment = vw; current.size() > 1; segment /= 2) {
    int64_t segments = vw / segment;
    SmallVector<int64_t> low, high;
    for (int64_t k = 0; k < 2 * segments; ++k) {
      int64_t base = k < segments ? k * segment : vw + (k - segments) * segment;
      for (int64_t l = 0; l < segment / 2; ++l) {
        low.push_back(base + l);
        high.push_back(base + segment / 2 + l);
      }
    }
    SmallVector<Value> next;
    for (size_t i = 0; i < current.size(); i += 2)
      next.push_back(arith::AddFOp::create(b, vector::ShuffleOp::create(b, current[i], current[i + 1], low),
                                           vector::ShuffleOp::create(b, current[i], current[i + 1], high)));
    current = std::move(next);
  }
  return current[0];
}

void AttentionEmitter::emitDecodeItem(Value w, Value seqQ) {
  int64_t numKv = op.getNumKvHeads(), maxRows = decodeGroup * decodeRows;
  int64_t d = op.getHeadDim(), dv = op.getValueHeadDim(), bk = t.decodeBlockK;
  dw = lanesFor(d, t.vectorWidth);
  dvw = lanesFor(dv, t.vectorWidth);
  auto isBf16 = [](Value v) { return cast<MemRefType>(v.getType()).getElementType().isBF16(); };
  splitK = isBf16(op.getKey()) && dw > 1 && d % (2 * dw) == 0;
  splitV = isBf16(op.getValue()) && dvw > 1 && dv % (2 * dvw) == 0;
  auto dvec = VectorType::get({dw}, f32), dvvec = VectorType::get({dvw}, f32);
  Value zeroDv = arith::ConstantOp::create(b, DenseElementsAttr::get(dvvec, b.getF32FloatAttr(0.0)));
  Value zeroF = f32Const(0.0), oneF = f32Const(1.0), ninfF = f32Const(-std::numeric_limits<double>::infinity());
  Value seqK = keyCount;
  seqQAll = seqQ;
  batch = arith::DivUIOp::create(b, w, idx(numKv));
  kvHead = arith::RemUIOp::create(b, w, idx(numKv));

  auto gatesType = op.getGates() ? cast<ShapedType>(op.getGates().getType()) : ShapedType();
  bool gated = gatesType || op.getHeadGains();
  dQ = alloc(maxRows, d, f32);
  dAcc = alloc(maxRows, dv, f32);
  dM = alloc(maxRows, 0, f32);
  dL = alloc(maxRows, 0, f32);
  // Without mask regions or affine scaling, up to kDecodeTuple rows go through a key block together: each
  // V row loaded for P V feeds all their accumulators (a quarter of the cache traffic of P V per row and key
  // in a GQA group of 4).
  bool shared = !op.hasMaskModifier() && !op.hasAffineScale();
  dZ.clear();
  for (int64_t r = 0; r < (shared ? kDecodeTuple : 1); ++r)
    dZ.push_back(alloc(bk, 0, f32));
  if (gated) {
    dRows = alloc(maxRows, 0, b.getIndexType());
    dGate = alloc(maxRows, 0, f32);
  }
  if (op.hasMaskModifier())
    dMask = alloc(bk, 0, f32);
  if (op.hasAffineScale()) {
    dVis = alloc(bk, 0, f32);
    dVsum = alloc(maxRows, dv, f32);
    dCnt = alloc(maxRows, 0, f32);
  }
  if (op.getCalibratedHeads())
    dSinkAcc = alloc(dv, 0, f32);

  // The active rows: a row whose gate (per-head or per-token, times the head's gain) is 0 is written
  // as zeros here and skipped.
  Value numRowsAll = mul(idx(decodeGroup), seqQ);
  Value numActive = numRowsAll;
  if (gated) {
    Value gains;
    if (auto g = op.getHeadGains()) {
      SmallVector<float> values(g->begin(), g->end());
      auto type = VectorType::get({static_cast<int64_t>(values.size())}, f32);
      gains = arith::ConstantOp::create(b, DenseElementsAttr::get(type, ArrayRef<float>(values)));
    }
    auto scan = scf::ForOp::create(
        b, idx(0), numRowsAll, idx(1), ValueRange{idx(0)}, [&](OpBuilder &, Location, Value r, ValueRange count) {
          Value h = add(mul(kvHead, idx(decodeGroup)), arith::DivUIOp::create(b, r, seqQ));
          Value s = arith::RemUIOp::create(b, r, seqQ);
          Value gate = oneF;
          if (gatesType)
            gate = gatesType.getRank() == 3
                       ? memref::LoadOp::create(b, op.getGates(), ValueRange{batch, h, s}).getResult()
                       : memref::LoadOp::create(b, op.getGates(), ValueRange{h}).getResult();
          if (gains)
            gate = arith::MulFOp::create(
                b, gate, vector::ExtractOp::create(b, gains, ArrayRef<OpFoldResult>{OpFoldResult(h)}));
          Value isActive = arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, gate, zeroF);
          auto ifActive = scf::IfOp::create(b, isActive, /*withElseRegion=*/true);
          {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(ifActive.thenBlock());
            memref::StoreOp::create(b, r, dRows, ValueRange{count[0]});
            memref::StoreOp::create(b, gate, dGate, ValueRange{count[0]});
            b.setInsertionPointToStart(ifActive.elseBlock());
            scf::ForOp::create(b, idx(0), idx(dv), idx(dvw), ValueRange{}, [&](OpBuilder &, Location, Value c, ValueRange) {
              store(zeroDv, op.getOutput(), ValueRange{batch, h, s, c});
              scf::YieldOp::create(b);
            });
          }
          scf::YieldOp::create(b, ValueRange{arith::SelectOp::create(b, isActive, add(count[0], idx(1)), count[0])});
        });
    numActive = scan.getResult(0);
  }

  // Pack the active rows' queries (times scale) and start their state: m = s[h], l = exp(s[h] - m) = 1
  // with a learned sink, else m = -inf, l = 0.
  Value scale = arith::ConstantOp::create(b, DenseElementsAttr::get(dvec, b.getF32FloatAttr(op.getScale().convertToDouble())));
  scf::ForOp::create(b, idx(0), numActive, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value n, ValueRange) {
    DecodeRow row = decodeRow(n);
    for (int64_t c = 0; c < d / dw; c += splitK ? 2 : 1) {
      Value x = load(op.getQuery(), ValueRange{batch, row.head, row.seq, idx(c * dw)}, dvec);
      if (!splitK) {
        vector::StoreOp::create(b, arith::MulFOp::create(b, x, scale), dQ, ValueRange{n, idx(c * dw)});
        continue;
      }
      // The keys' order (decodeChunk): even elements of the block, then odd ones.
      Value y = load(op.getQuery(), ValueRange{batch, row.head, row.seq, idx((c + 1) * dw)}, dvec);
      SmallVector<int64_t> even, odd;
      for (int64_t l = 0; l < dw; ++l) {
        even.push_back(2 * l);
        odd.push_back(2 * l + 1);
      }
      vector::StoreOp::create(b, arith::MulFOp::create(b, vector::ShuffleOp::create(b, x, y, even), scale), dQ,
                              ValueRange{n, idx(c * dw)});
      vector::StoreOp::create(b, arith::MulFOp::create(b, vector::ShuffleOp::create(b, x, y, odd), scale), dQ,
                              ValueRange{n, idx((c + 1) * dw)});
    }
    for (int64_t c = 0; c < dv / dvw; ++c) {
      vector::StoreOp::create(b, zeroDv, dAcc, ValueRange{n, idx(c * dvw)});
      if (dVsum)
        vector::StoreOp::create(b, zeroDv, dVsum, ValueRange{n, idx(c * dvw)});
    }
    if (op.getSinks()) {
      memref::StoreOp::create(b, memref::LoadOp::create(b, op.getSinks(), ValueRange{row.head}), dM, ValueRange{n});
      memref::StoreOp::create(b, oneF, dL, ValueRange{n});
    } else {
      memref::StoreOp::create(b, ninfF, dM, ValueRange{n});
      memref::StoreOp::create(b, zeroF, dL, ValueRange{n});
    }
    if (dCnt)
      memref::StoreOp::create(b, zeroF, dCnt, ValueRange{n});
    scf::YieldOp::create(b);
  });

  // The key range any row sees (rows sit at T - S .. T - 1); each key block is read for all rows.
  Value firstPos = sub(seqK, seqQ);
  Value keyBegin = idx(0), keyEnd = seqK;
  if (int64_t window = op.getWindow())
    keyBegin = maxI(idx(0), add(sub(firstPos, idx(window)), idx(1)));
  auto keyLoop = [&](Value begin, Value end, bool sinkSegment) {
    scf::ForOp::create(b, begin, end, idx(bk), ValueRange{}, [&](OpBuilder &, Location, Value j0, ValueRange) {
      Value numKeys = minI(idx(bk), sub(end, j0));
      // Tuples of kDecodeTuple rows, then at most one of each smaller power of two (without sharing, rows
      // one at a time).
      Value start = idx(0);
      for (int64_t size = static_cast<int64_t>(dZ.size()); size >= 1; size /= 2) {
        Value stop = add(start, mul(arith::DivUIOp::create(b, sub(numActive, start), idx(size)), idx(size)));
        scf::ForOp::create(b, start, stop, idx(size), ValueRange{}, [&](OpBuilder &, Location, Value n, ValueRange) {
          SmallVector<Value, 4> rows;
          for (int64_t r = 0; r < size; ++r)
            rows.push_back(add(n, idx(r)));
          emitDecodeRowsBlock(rows, ArrayRef<Value>(dZ).take_front(size), j0, end, numKeys, sinkSegment);
          scf::YieldOp::create(b);
        });
        start = stop;
      }
      scf::YieldOp::create(b);
    });
  };
  if (int64_t sinkTokens = op.getSinkTokens()) {
    keyLoop(idx(0), minI(idx(sinkTokens), keyEnd), /*sinkSegment=*/true);
    keyBegin = maxI(keyBegin, idx(sinkTokens));
  }
  keyLoop(keyBegin, keyEnd, /*sinkSegment=*/false);

  scf::ForOp::create(b, idx(0), numActive, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value n, ValueRange) {
    emitDecodeEpilogue(n);
    scf::YieldOp::create(b);
  });
}

/// One key block for one row, or up to kDecodeTuple rows (only without a mask region or affine scaling): each row's scores, score
/// region, masking and online softmax update, then one P V pass in which every V row loaded feeds all the
/// rows' accumulators. A row the block adds nothing to gets p = 0 and alpha = 1 (its m, l and acc stay).
void AttentionEmitter::emitDecodeRowsBlock(ArrayRef<Value> rows, ArrayRef<Value> scores, Value j0, Value segmentEnd,
                                           Value numKeys, bool sinkSegment) {
  int64_t vw = t.vectorWidth, bk = t.decodeBlockK, dv = op.getValueHeadDim();
  Value lastKey = sub(segmentEnd, idx(1));
  Value ninf = vecConst(-std::numeric_limits<double>::infinity());
  Value ninfF = f32Const(-std::numeric_limits<double>::infinity());
  Value zero = vecConst(0.0);
  Type i64 = b.getI64Type();
  auto ivec = VectorType::get({vw}, i64), indexVec = VectorType::get({vw}, b.getIndexType());
  bool grouped = dw == vw && llvm::isPowerOf2_64(vw);
  Value one = vecConst(1.0);
  OpBuilder::InsertionGuard guard(b);
  if (op.hasMaskModifier()) {
    assert(rows.size() == 1 && "a mask region takes the rows one at a time");
    Value n = rows[0];
    DecodeRow row = decodeRow(n);
    // The mask region first: a block it hides from this row is skipped for the row (no scores, no P V).
    Region &mask = op.getMask();
    Value any;
    if (isVectorizable(mask, {false, false, false, true})) {
      any = arith::ConstantIntOp::create(b, 0, 1);
      Value numKeysVec = vector::BroadcastOp::create(b, ivec, arith::IndexCastOp::create(b, i64, add(j0, numKeys)));
      for (int64_t c = 0; c < bk / vw; ++c) {
        Value jv = keyLanes(add(j0, idx(c * vw)));
        Value keep = inlineRegionVectorized(mask, {batch, row.head, row.pos, arith::IndexCastOp::create(b, indexVec, jv)});
        keep = arith::AndIOp::create(b, keep, cmpI(arith::CmpIPredicate::slt, jv, numKeysVec));
        vector::StoreOp::create(b, arith::SelectOp::create(b, keep, one, zero), dMask, ValueRange{idx(c * vw)});
        any = arith::OrIOp::create(b, any, vector::ReductionOp::create(b, vector::CombiningKind::OR, keep));
      }
    } else {
      Value none = arith::ConstantIntOp::create(b, 0, 1);
      auto keys = scf::ForOp::create(b, idx(0), idx(bk), idx(1), ValueRange{none}, [&](OpBuilder &, Location, Value jj, ValueRange acc) {
        Value j = add(j0, jj);
        Value keep = arith::AndIOp::create(b, inlineRegion(mask, {batch, row.head, row.pos, j}),
                                           cmpI(arith::CmpIPredicate::slt, jj, numKeys));
        memref::StoreOp::create(b, arith::SelectOp::create(b, keep, f32Const(1.0), f32Const(0.0)), dMask, ValueRange{jj});
        scf::YieldOp::create(b, ValueRange{arith::OrIOp::create(b, acc[0], keep)});
      });
      any = keys.getResult(0);
    }
    b.setInsertionPointToStart(scf::IfOp::create(b, any, /*withElseRegion=*/false).thenBlock());
  }

  auto prefetchNext = [&](Value jj) {
    Value next = minI(add(add(j0, idx(bk)), jj), sub(keyCount, idx(1)));
    for (auto [buffer, width] : {std::pair{op.getKey(), op.getHeadDim()}, std::pair{op.getValue(), dv}})
      for (int64_t line = 0; line < width; line += 64 / elementBytes(buffer))
        memref::PrefetchOp::create(b, buffer, ValueRange{batch, kvHead, next, idx(line)}, /*isWrite=*/false,
                                   /*localityHint=*/2, /*isDataCache=*/true);
  };
  // The item's first rows (rows[0] == 0) prefetch the next key block's K and V rows into L2, spread over
  // all their score loops so that the requests keep coming while the block computes: row i of the R rows
  // takes keys [i bk / R, (i + 1) bk / R), one at every R-th of its scores.
  int64_t numRows = static_cast<int64_t>(rows.size());
  int64_t spread = bk % numRows ? 1 : numRows;
  Value prefetching = cmpI(arith::CmpIPredicate::eq, rows[0], idx(0));
  auto prefetchAt = [&](Value jj, int64_t i, Value due) {
    auto ifDue = scf::IfOp::create(b, arith::AndIOp::create(b, prefetching, due), /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifDue.thenBlock());
    prefetchNext(add(idx(i * (bk / spread)), arith::DivUIOp::create(b, jj, idx(spread))));
  };
  auto scoreLoop = [&](Value n, Value z, int64_t i) {
    bool prefetches = i < spread;
    Value always = arith::ConstantIntOp::create(b, 1, 1);
    if (grouped) {
      scf::ForOp::create(b, idx(0), idx(bk), idx(vw), ValueRange{}, [&](OpBuilder &, Location, Value g0, ValueRange) {
        SmallVector<Value> parts;
        for (int64_t k = 0; k < vw; ++k) {
          Value jj = add(g0, idx(k));
          if (prefetches && k % spread == 0) // g0 is a multiple of vw, so jj % spread == k % spread
            prefetchAt(jj, i, always);
          parts.push_back(decodePartialDot(n, minI(add(j0, jj), lastKey), /*chains=*/1));
        }
        vector::StoreOp::create(b, transposedSums(parts), z, ValueRange{g0});
        scf::YieldOp::create(b);
      });
      return;
    }
    scf::ForOp::create(b, idx(0), idx(bk), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value jj, ValueRange) {
      if (prefetches)
        prefetchAt(jj, i, cmpI(arith::CmpIPredicate::eq, arith::RemUIOp::create(b, jj, idx(spread)), idx(0)));
      memref::StoreOp::create(b, decodeDot(n, minI(add(j0, jj), lastKey)), z, ValueRange{jj});
      scf::YieldOp::create(b);
    });
  };

  SmallVector<Value> alphas;
  for (size_t i = 0; i < rows.size(); ++i) {
    Value n = rows[i], z = scores[i];
    DecodeRow row = decodeRow(n);
    scoreLoop(n, z, static_cast<int64_t>(i));
    if (op.hasScoreModifier() && !isVectorizable(op.getScore(), {true, false, false, false, true}))
      scf::ForOp::create(b, idx(0), idx(bk), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value jj, ValueRange) {
        Value j = minI(add(j0, jj), lastKey);
        Value zj = memref::LoadOp::create(b, z, ValueRange{jj});
        memref::StoreOp::create(b, inlineRegion(op.getScore(), {zj, batch, row.head, row.pos, j}), z, ValueRange{jj});
        scf::YieldOp::create(b);
      });
    // Masking with the block's keys on the lanes, and the block's max.
    Value pos = vector::BroadcastOp::create(b, ivec, arith::IndexCastOp::create(b, i64, row.pos));
    Value end = vector::BroadcastOp::create(b, ivec, arith::IndexCastOp::create(b, i64, segmentEnd));
    int64_t window = sinkSegment ? 0 : op.getWindow();
    Value calibrated = op.getCalibratedHeads() ? isCalibratedHead(row.head) : Value();
    Value blockMax = ninf;
    for (int64_t c = 0; c < bk / vw; ++c) {
      Value jv = keyLanes(add(j0, idx(c * vw)));
      SmallVector<Value, 1> at{idx(c * vw)};
      Value zc = vector::LoadOp::create(b, vec, z, at);
      if (op.hasScoreModifier() && isVectorizable(op.getScore(), {true, false, false, false, true}))
        zc = inlineRegionVectorized(op.getScore(),
                                    {zc, batch, row.head, row.pos, arith::IndexCastOp::create(b, indexVec, jv)});
      Value keep = cmpI(arith::CmpIPredicate::slt, jv, end);
      if (op.getCausal())
        keep = arith::AndIOp::create(b, keep, cmpI(arith::CmpIPredicate::sle, jv, pos));
      if (window) {
        Value lo = arith::SubIOp::create(
            b, pos, vector::BroadcastOp::create(b, ivec, arith::ConstantIntOp::create(b, i64, window)));
        keep = arith::AndIOp::create(b, keep, cmpI(arith::CmpIPredicate::sgt, jv, lo));
      }
      if (calibrated) {
        // The sink columns of a calibrated head go to their own accumulators (the epilogue).
        auto bvec = VectorType::get({vw}, b.getI1Type());
        Value in = arith::ConstantOp::create(b, DenseElementsAttr::get(bvec, false));
        ArrayRef<int64_t> keys = *op.getCalibratedKeys();
        for (int64_t key : keys)
          in = arith::OrIOp::create(
              b, in,
              cmpI(arith::CmpIPredicate::eq, jv,
                   vector::BroadcastOp::create(b, ivec, arith::ConstantIntOp::create(b, i64, key))));
        Value skip = arith::AndIOp::create(b, in, vector::BroadcastOp::create(b, bvec, calibrated));
        keep = arith::AndIOp::create(
            b, keep, arith::XOrIOp::create(b, skip, arith::ConstantOp::create(b, DenseElementsAttr::get(bvec, true))));
      }
      if (dMask)
        keep = arith::AndIOp::create(b, keep, arith::CmpFOp::create(b, arith::CmpFPredicate::ONE,
                                                                    vector::LoadOp::create(b, vec, dMask, at), zero));
      zc = arith::SelectOp::create(b, keep, zc, ninf);
      vector::StoreOp::create(b, zc, z, at);
      if (dVis)
        vector::StoreOp::create(b, arith::SelectOp::create(b, keep, one, zero), dVis, at);
      blockMax = arith::MaximumFOp::create(b, blockMax, zc);
    }
    Value zMax = vector::ReductionOp::create(b, vector::CombiningKind::MAXIMUMF, blockMax);
    // The online softmax update; p replaces the scores.
    auto ifAny = scf::IfOp::create(b, TypeRange{f32}, arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, zMax, ninfF),
                                   /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifAny.thenBlock());
      Value mOld = memref::LoadOp::create(b, dM, ValueRange{n});
      Value mNew = arith::MaximumFOp::create(b, mOld, zMax);
      Value alpha = math::ExpOp::create(b, arith::SubFOp::create(b, mOld, mNew));
      Value mVec = vector::BroadcastOp::create(b, vec, mNew);
      Value sum = zero;
      for (int64_t c = 0; c < bk / vw; ++c) {
        SmallVector<Value, 1> at{idx(c * vw)};
        Value p = math::ExpOp::create(b, arith::SubFOp::create(b, vector::LoadOp::create(b, vec, z, at), mVec));
        vector::StoreOp::create(b, p, z, at);
        sum = arith::AddFOp::create(b, sum, p);
      }
      Value l = memref::LoadOp::create(b, dL, ValueRange{n});
      Value blockSum = vector::ReductionOp::create(b, vector::CombiningKind::ADD, sum, arith::FastMathFlags::reassoc);
      memref::StoreOp::create(b, math::FmaOp::create(b, l, alpha, blockSum), dL, ValueRange{n});
      memref::StoreOp::create(b, mNew, dM, ValueRange{n});
      scf::YieldOp::create(b, ValueRange{alpha});
      b.setInsertionPointToStart(ifAny.elseBlock());
      for (int64_t c = 0; c < bk / vw; ++c)
        vector::StoreOp::create(b, zero, z, ValueRange{idx(c * vw)});
      scf::YieldOp::create(b, ValueRange{f32Const(1.0)});
    }
    alphas.push_back(ifAny.getResult(0));
  }

  // acc_r = alpha_r acc_r + sum_j p_rj v_j, head_dim_v on the lanes; each V vector is loaded once for all
  // rows. Up to 16 accumulators in registers.
  auto dvvec = VectorType::get({dvw}, f32);
  int64_t chunks = dv / dvw, perPass = std::max<int64_t>(1, 16 / numRows);
  for (int64_t c0 = 0; c0 < chunks; c0 += perPass) {
    int64_t nc = std::min<int64_t>(perPass, chunks - c0);
    SmallVector<Value> init;
    for (int64_t r = 0; r < numRows; ++r) {
      Value alphaVec = vector::BroadcastOp::create(b, dvvec, alphas[r]);
      for (int64_t c = 0; c < nc; ++c)
        init.push_back(arith::MulFOp::create(
            b, vector::LoadOp::create(b, dvvec, dAcc, ValueRange{rows[r], idx((c0 + c) * dvw)}), alphaVec));
    }
    auto pv = scf::ForOp::create(b, idx(0), numKeys, idx(1), init, [&](OpBuilder &, Location, Value jj, ValueRange acc) {
      SmallVector<Value> p;
      for (int64_t r = 0; r < numRows; ++r)
        p.push_back(vector::BroadcastOp::create(b, dvvec, memref::LoadOp::create(b, scores[r], ValueRange{jj})));
      SmallVector<Value> next(acc.begin(), acc.end());
      for (int64_t c = 0; c < nc; ++c) {
        Value vx = decodeChunk(op.getValue(), splitV, add(j0, jj), c0 + c, dvvec);
        for (int64_t r = 0; r < numRows; ++r)
          next[r * nc + c] = vector::FMAOp::create(b, p[r], vx, acc[r * nc + c]);
      }
      scf::YieldOp::create(b, next);
    });
    for (int64_t r = 0; r < numRows; ++r)
      for (int64_t c = 0; c < nc; ++c)
        vector::StoreOp::create(b, pv.getResult(r * nc + c), dAcc, ValueRange{rows[r], idx((c0 + c) * dvw)});
  }
  if (dVsum) {
    // Affine scaling: the plain sum of the visible values and their count.
    auto dvvec = VectorType::get({dvw}, f32);
    int64_t chunks = dv / dvw;
    scf::ForOp::create(b, idx(0), numKeys, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value jj, ValueRange) {
      Value vis = memref::LoadOp::create(b, dVis, ValueRange{jj});
      Value visVec = vector::BroadcastOp::create(b, dvvec, vis);
      for (int64_t c = 0; c < chunks; ++c) {
        SmallVector<Value, 2> at{rows[0], idx(c * dvw)};
        Value vx = decodeChunk(op.getValue(), splitV, add(j0, jj), c, dvvec);
        vector::StoreOp::create(b, vector::FMAOp::create(b, visVec, vx, vector::LoadOp::create(b, dvvec, dVsum, at)), dVsum, at);
      }
      memref::StoreOp::create(b, arith::AddFOp::create(b, memref::LoadOp::create(b, dCnt, ValueRange{rows[0]}), vis), dCnt,
                              ValueRange{rows[0]});
      scf::YieldOp::create(b);
    });
  }
}

/// O = acc / l for one row, with the sink columns of ACT, affine scaling and the row's gate, as in the
/// block form's epilogue.
void AttentionEmitter::emitDecodeEpilogue(Value n) {
  int64_t dv = op.getValueHeadDim(), chunks = dv / dvw;
  auto dvvec = VectorType::get({dvw}, f32);
  DecodeRow row = decodeRow(n);
  Value zero = f32Const(0.0), one = f32Const(1.0), ninfF = f32Const(-std::numeric_limits<double>::infinity());
  Value zeroDv = arith::ConstantOp::create(b, DenseElementsAttr::get(dvvec, b.getF32FloatAttr(0.0)));
  Value lr = memref::LoadOp::create(b, dL, ValueRange{n});
  Value sawKey = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, lr, zero);
  Value accScale = arith::SelectOp::create(b, sawKey, arith::DivFOp::create(b, one, lr), zero);
  Value sinkScale, cntSink;
  if (auto heads = op.getCalibratedHeads()) {
    // ACT: the sink columns S with their own max, denominator and accumulator (zero for other heads).
    ArrayRef<int64_t> keys = *op.getCalibratedKeys();
    for (int64_t c = 0; c < chunks; ++c)
      vector::StoreOp::create(b, zeroDv, dSinkAcc, ValueRange{idx(c * dvw)});
    auto ifCal = scf::IfOp::create(b, TypeRange{f32, f32, f32}, isCalibratedHead(row.head), /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifCal.thenBlock());
      Value seqK = keyCount, lastKey = sub(keyCount, idx(1));
      SmallVector<Value> zs, vis, rows;
      for (int64_t key : keys) {
        Value kk = minI(idx(key), lastKey);
        rows.push_back(kk);
        Value z = decodeDot(n, kk);
        if (op.hasScoreModifier())
          z = inlineRegion(op.getScore(), {z, batch, row.head, row.pos, idx(key)});
        Value keep = cmpI(arith::CmpIPredicate::slt, idx(key), seqK);
        if (op.getCausal())
          keep = arith::AndIOp::create(b, keep, cmpI(arith::CmpIPredicate::sle, idx(key), row.pos));
        if (int64_t window = op.getWindow(); window && key >= static_cast<int64_t>(op.getSinkTokens()))
          keep = arith::AndIOp::create(b, keep, cmpI(arith::CmpIPredicate::sgt, idx(key), sub(row.pos, idx(window))));
        if (op.hasMaskModifier())
          keep = arith::AndIOp::create(b, keep, inlineRegion(op.getMask(), {batch, row.head, row.pos, idx(key)}));
        zs.push_back(arith::SelectOp::create(b, keep, z, ninfF));
        vis.push_back(arith::SelectOp::create(b, keep, one, zero));
      }
      Value m = ninfF;
      for (Value z : zs)
        m = arith::MaximumFOp::create(b, m, z);
      Value mSafe = arith::SelectOp::create(b, arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, m, ninfF), zero, m);
      Value l = zero, cnt = zero;
      SmallVector<Value> ps;
      for (auto [z, v] : llvm::zip(zs, vis)) {
        ps.push_back(math::ExpOp::create(b, arith::SubFOp::create(b, z, mSafe)));
        l = arith::AddFOp::create(b, l, ps.back());
        cnt = arith::AddFOp::create(b, cnt, v);
      }
      for (int64_t c = 0; c < chunks; ++c) {
        Value acc = zeroDv;
        Value vsum = dVsum ? vector::LoadOp::create(b, dvvec, dVsum, ValueRange{n, idx(c * dvw)}).getResult() : Value();
        for (size_t e = 0; e < keys.size(); ++e) {
          Value vx = decodeChunk(op.getValue(), splitV, rows[e], c, dvvec);
          acc = vector::FMAOp::create(b, vector::BroadcastOp::create(b, dvvec, ps[e]), vx, acc);
          if (vsum) // affine scaling averages over every visible key, the calibrated columns included
            vsum = vector::FMAOp::create(b, vector::BroadcastOp::create(b, dvvec, vis[e]), vx, vsum);
        }
        vector::StoreOp::create(b, acc, dSinkAcc, ValueRange{idx(c * dvw)});
        if (vsum)
          vector::StoreOp::create(b, vsum, dVsum, ValueRange{n, idx(c * dvw)});
      }
      scf::YieldOp::create(b, ValueRange{m, l, cnt});
      b.setInsertionPointToStart(ifCal.elseBlock());
      scf::YieldOp::create(b, ValueRange{ninfF, zero, zero});
    }
    // O = beta acc_S / (l_S + l_N) + (1 - beta l_S / (l_S + l_N)) acc_N / l_N at the common max.
    Value mN = memref::LoadOp::create(b, dM, ValueRange{n});
    Value mS = ifCal.getResult(0);
    Value mMax = arith::MaximumFOp::create(b, mN, mS);
    auto factor = [&](Value mPart) -> Value {
      Value dead = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, mPart, ninfF);
      return arith::SelectOp::create(b, dead, zero, math::ExpOp::create(b, arith::SubFOp::create(b, mPart, mMax)));
    };
    Value lS = arith::MulFOp::create(b, ifCal.getResult(1), factor(mS));
    Value lTotal = arith::AddFOp::create(b, arith::MulFOp::create(b, lr, factor(mN)), lS);
    Value anyMass = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, lTotal, zero);
    Value beta = f32Const(op.getCalibrationBeta().convertToDouble());
    Value invTotal = arith::SelectOp::create(b, anyMass, arith::DivFOp::create(b, one, lTotal), zero);
    sinkScale = arith::MulFOp::create(b, arith::MulFOp::create(b, beta, factor(mS)), invTotal);
    Value restShare = arith::SubFOp::create(b, one, arith::MulFOp::create(b, arith::MulFOp::create(b, beta, lS), invTotal));
    accScale = arith::MulFOp::create(b, accScale, restShare);
    cntSink = ifCal.getResult(2);
  }
  Value sumScale;
  if (op.hasAffineScale()) {
    Value a = memref::LoadOp::create(b, op.getAlpha(), ValueRange{batch, row.head, row.seq});
    if (op.getAlphaActivation() == "linear_clip")
      a = arith::MinimumFOp::create(
          b, arith::MaximumFOp::create(b, math::FmaOp::create(b, a, f32Const(0.1), f32Const(0.5)), zero), one);
    else if (op.getAlphaActivation() == "sigmoid")
      a = arith::DivFOp::create(b, one, arith::AddFOp::create(b, one, math::ExpOp::create(b, arith::NegFOp::create(b, a))));
    Value ama = memref::LoadOp::create(b, op.getAlphaMa(), ValueRange{row.head});
    Value cr = memref::LoadOp::create(b, dCnt, ValueRange{n});
    if (cntSink)
      cr = arith::AddFOp::create(b, cr, cntSink);
    Value anyVisible = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, cr, zero);
    accScale = arith::MulFOp::create(b, accScale, a);
    if (sinkScale)
      sinkScale = arith::MulFOp::create(b, sinkScale, a);
    sumScale = arith::SelectOp::create(b, anyVisible, arith::DivFOp::create(b, arith::SubFOp::create(b, ama, a), cr), zero);
  }
  if (dGate) {
    Value g = memref::LoadOp::create(b, dGate, ValueRange{n});
    accScale = arith::MulFOp::create(b, accScale, g);
    if (sumScale)
      sumScale = arith::MulFOp::create(b, sumScale, g);
    if (sinkScale)
      sinkScale = arith::MulFOp::create(b, sinkScale, g);
  }
  Value accScaleVec = vector::BroadcastOp::create(b, dvvec, accScale);
  Value evenChunk; // split V: chunk 2b waits for 2b + 1, then the two interleave back into the output's order
  for (int64_t c = 0; c < chunks; ++c) {
    Value o = arith::MulFOp::create(b, vector::LoadOp::create(b, dvvec, dAcc, ValueRange{n, idx(c * dvw)}), accScaleVec);
    if (sumScale)
      o = vector::FMAOp::create(b, vector::LoadOp::create(b, dvvec, dVsum, ValueRange{n, idx(c * dvw)}),
                                vector::BroadcastOp::create(b, dvvec, sumScale), o);
    if (sinkScale)
      o = vector::FMAOp::create(b, vector::LoadOp::create(b, dvvec, dSinkAcc, ValueRange{idx(c * dvw)}),
                                vector::BroadcastOp::create(b, dvvec, sinkScale), o);
    if (!splitV) {
      store(o, op.getOutput(), ValueRange{batch, row.head, row.seq, idx(c * dvw)});
      continue;
    }
    if (c % 2 == 0) {
      evenChunk = o;
      continue;
    }
    for (int64_t half = 0; half < 2; ++half) {
      SmallVector<int64_t> interleaved;
      for (int64_t l = half * dvw / 2; l < (half + 1) * dvw / 2; ++l) {
        interleaved.push_back(l);
        interleaved.push_back(dvw + l);
      }
      store(vector::ShuffleOp::create(b, evenChunk, o, interleaved), op.getOutput(),
            ValueRange{batch, row.head, row.seq, idx((c - 1 + half) * dvw)});
    }
  }
}

/// Records which function arguments are the attention's operands, so the runtime can name them.
static void nameOperands(xf::AttentionOp op) {
  auto func = op->getParentOfType<func::FuncOp>();
  SmallVector<Attribute> names;
  for (unsigned i = 0; i < func.getNumArguments(); ++i)
    names.push_back(StringAttr::get(op.getContext(), "arg" + Twine(i)));
  std::pair<Value, StringRef> roles[] = {{op.getQuery(), "query"}, {op.getKey(), "key"},
                                         {op.getValue(), "value"}, {op.getOutput(), "output"},
                                         {op.getSinks(), "sinks"},  {op.getGates(), "gates"},
                                         {op.getAlpha(), "alpha"},  {op.getAlphaMa(), "alpha_ma"}};
  for (auto [operand, role] : roles)
    if (auto arg = dyn_cast_or_null<BlockArgument>(operand); arg && arg.getOwner()->isEntryBlock())
      names[arg.getArgNumber()] = StringAttr::get(op.getContext(), role);
  func->setAttr("xf.operand_names", ArrayAttr::get(op.getContext(), names));
}

struct LowerAttentionPass : public xf::impl::XFLowerAttentionBase<LowerAttentionPass> {
  using Base::Base;

  LogicalResult validateOptions() {
    auto fail = [&](const Twine &msg) {
      return getOperation().emitError() << "xf-lower-attention: " << msg, failure();
    };
    if (vectorWidth <= 0 || blockQ <= 0 || blockK <= 0 || keyRegs <= 0 || valueRegs <= 0)
      return fail("all tile options must be positive");
    if (blockQ % vectorWidth)
      return fail("block-q (" + Twine(blockQ) + ") must be a multiple of vector-width (" +
                  Twine(vectorWidth) + ")");
    if (blockK % keyRegs)
      return fail("block-k (" + Twine(blockK) + ") must be a multiple of key-regs (" + Twine(keyRegs) + ")");
    if (decodeForm && (decodeBlockK <= 0 || decodeBlockK % vectorWidth))
      return fail("decode-block-k (" + Twine(decodeBlockK) + ") must be a positive multiple of vector-width (" +
                  Twine(vectorWidth) + ")");
    if (decodeForm && decodeRows <= 0)
      return fail("decode-rows must be positive");
    if (workgroupRows < 0 || workgroupRows > 1024)
      return fail("workgroup-rows must be in [0, 1024]");
    if (workgroupRows && decodeForm)
      return fail("workgroup-rows (staged K/V) and decode-form cannot be combined");
    if (subgroupLanes < 0 || subgroupLanes == 1 || subgroupLanes > 128 || (subgroupLanes & (subgroupLanes - 1)))
      return fail("subgroup-lanes must be 0 or a power of two in [2, 128], got " + Twine(subgroupLanes));
    if (subgroupLanes && (vectorWidth != 1 || blockQ != 1))
      return fail("subgroup-lanes needs vector-width=1 and block-q=1 (one query row per work item)");
    if (subgroupLanes && decodeForm)
      return fail("subgroup-lanes and decode-form cannot be combined");
    if (subgroupLanes && subgroupRows <= 0)
      return fail("subgroup-rows must be positive");
    if (subgroupSplits < 1 || (subgroupSplits > 1 && !subgroupLanes) || subgroupLanes * subgroupSplits > 1024)
      return fail("subgroup-splits must be 1, or with subgroup-lanes at most 1024 / subgroup-lanes, got " +
                  Twine(subgroupSplits));
    if (subgroupGlobalSplits < 1 || (subgroupGlobalSplits > 1 && (!subgroupLanes || subgroupSplits > 1)))
      return fail("subgroup-global-splits must be 1, or with subgroup-lanes and subgroup-splits=1, got " +
                  Twine(subgroupGlobalSplits));
    if (subgroupSplits > 1 && workgroupRows && workgroupRows != subgroupLanes * subgroupSplits)
      return fail("workgroup-rows (" + Twine(workgroupRows) + ") must be subgroup-lanes x subgroup-splits (" +
                  Twine(subgroupLanes * subgroupSplits) + "): both set the workgroup size");
    if (!mmaForm.empty() && mmaForm != "simt" && mmaForm != "emulate")
      return fail("mma-form must be simt, emulate or empty, got '" + mmaForm + "'");
    if (mmaMTiles < 0 || mmaMTiles > 2)
      return fail("mma-m-tiles must be 0 (by head dim), 1 or 2, got " + Twine(mmaMTiles));
    if (mmaSplitMinKeys < 0)
      return fail("mma-split-min-keys must be 0 (no split) or positive, got " + Twine(mmaSplitMinKeys));
    return success();
  }

  void runOnOperation() override {
    if (failed(validateOptions()))
      return signalPassFailure();
    Tiling tiling{vectorWidth,   blockQ,        blockK,       keyRegs,       valueRegs,
                  decodeForm,    decodeRows,    decodeBlockK, workgroupRows, subgroupLanes,
                  subgroupRows,  subgroupSplits, subgroupGlobalSplits, staticKeyLoops};
    SmallVector<xf::AttentionOp> ops;
    getOperation().walk([&](xf::AttentionOp op) { ops.push_back(op); });
    for (xf::AttentionOp op : ops) {
      if (op.hasTensorSemantics()) {
        op.emitOpError("must be bufferized before xf-lower-attention (run one-shot-bufferize)");
        return signalPassFailure();
      }
      if (!op.getComputeType().isF32()) {
        op.emitOpError("xf-lower-attention computes in f32: operands must be f32, bf16 or f16, got ")
            << op.getQueryType().getElementType();
        return signalPassFailure();
      }
      // The runtime describes kernels from this; it survives the op.
      Builder attrs(op.getContext());
      NamedAttribute info[] = {
          attrs.getNamedAttr("num_heads", op.getNumHeadsAttr()),
          attrs.getNamedAttr("num_kv_heads", op.getNumKvHeadsAttr()),
          attrs.getNamedAttr("head_dim", attrs.getI64IntegerAttr(op.getHeadDim())),
          attrs.getNamedAttr("head_dim_v", attrs.getI64IntegerAttr(op.getValueHeadDim())),
          attrs.getNamedAttr("causal", attrs.getBoolAttr(op.getCausal())),
          attrs.getNamedAttr("window", attrs.getI64IntegerAttr(op.getWindow())),
          attrs.getNamedAttr("sink_tokens", attrs.getI64IntegerAttr(op.getSinkTokens())),
          attrs.getNamedAttr("alpha_activation", op.getAlphaActivationAttr()),
          attrs.getNamedAttr("scale", op.getScaleAttr()),
          attrs.getNamedAttr("block_q", attrs.getI64IntegerAttr(blockQ)),
      };
      NamedAttrList infoList(info);
      if (auto gains = op.getHeadGainsAttr())
        infoList.set("head_gains", gains);
      getOperation()->setAttr("xf.attention_info", infoList.getDictionary(op.getContext()));
      nameOperands(op);
      if (!mmaForm.empty() && xf::mmaFormTakes(op)) {
        bool emulate = mmaForm == "emulate";
        auto func = op->getParentOfType<func::FuncOp>();
        if (!emulate) // a warp's lanes shuffle and multiply together
          func->setAttr("xf.subgroup_lanes", attrs.getI64IntegerAttr(32));
        if (!emulate && mmaStageKv && xf::mmaFormStages(op)) // the workgroup's warps share the staged K/V
          func->setAttr("xf.workgroup_size", attrs.getI64IntegerAttr(xf::kMmaStagedWorkgroupSize));
        xf::emitMmaAttention(op, emulate, mmaStageKv, mmaSplitMinKeys, mmaMTiles);
        op.erase();
        continue;
      }
      Tiling opTiling = tiling;
      // The decode form loads rows as vectors: every operand's innermost dimension must be unit-stride.
      if (opTiling.decodeForm)
        opTiling.decodeForm = llvm::all_of(op->getOperands(), [](Value v) {
          auto type = dyn_cast<MemRefType>(v.getType());
          return !type || type.isLastDimUnitStride();
        });
      if (opTiling.workgroupRows) {
        // The K and V tiles of one key block must fit the workgroup memory: block-k shrinks (in steps of
        // key-regs) until they do; a head too wide for even key-regs rows is not staged.
        int64_t rowBytes = 4 * (op.getHeadDim() + op.getValueHeadDim());
        int64_t fits = std::min<int64_t>(opTiling.blockK, workgroupMemory / rowBytes);
        opTiling.blockK = fits / keyRegs * keyRegs;
        if (opTiling.blockK == 0) {
          opTiling.blockK = blockK;
          opTiling.workgroupRows = 0;
        } else {
          // The work items of one workgroup share the tiles: xf-gpu-outline-kernels must use this size.
          op->getParentOfType<func::FuncOp>()->setAttr("xf.workgroup_size",
                                                       attrs.getI64IntegerAttr(opTiling.workgroupRows));
        }
      }
      // The subgroup form splits both head dims evenly across the lanes; other heads keep one thread per row.
      if (subgroupLanes && (op.getHeadDim() % subgroupLanes || op.getValueHeadDim() % subgroupLanes))
        opTiling.subgroupLanes = 0;
      // The splits' partial states must fit the workgroup memory budget too (it holds for the staged tiles).
      int64_t partialWords = 3 + op.getValueHeadDim() * (op.hasAffineScale() ? 2 : 1);
      if (4 * opTiling.subgroupSplits * partialWords > workgroupMemory)
        opTiling.subgroupSplits = 1;
      if (opTiling.subgroupLanes) {
        auto func = op->getParentOfType<func::FuncOp>();
        func->setAttr("xf.subgroup_lanes", attrs.getI64IntegerAttr(subgroupLanes));
        func->setAttr("xf.subgroup_rows", attrs.getI64IntegerAttr(subgroupRows));
        // A workgroup is one row's splits: they share its buffer of partial states.
        if (opTiling.subgroupSplits > 1)
          func->setAttr("xf.workgroup_size", attrs.getI64IntegerAttr(subgroupLanes * opTiling.subgroupSplits));
      } else {
        opTiling.subgroupSplits = 1;
        opTiling.subgroupGlobalSplits = 1;
      }
      AttentionEmitter(op, opTiling).emit();
      op.erase();
    }
  }
};

} // namespace
