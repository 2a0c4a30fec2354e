//===- LowerAttention.cpp - xf.attention to a fused online-softmax loop nest ===//
//
// The loop nest keeps every vector along query rows: the query block is packed transposed, scores are
// accumulated as outer products (broadcast key element x query vector), so the per-row running max and
// denominator are plain vectors and no horizontal reduction is needed anywhere in the hot loops.
//
//===----------------------------------------------------------------------===//
#include "dialect/XFOps.h"
#include "passes/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <limits>

namespace mlir::xf {
#define GEN_PASS_DEF_XFLOWERATTENTION
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {

struct Tiling {
  int64_t vectorWidth, blockQ, blockK, keyRegs, valueRegs;
  int64_t queryVectors() const { return blockQ / vectorWidth; }
};

/// Emits the loop nest of one xf.attention. Names follow VARIANTS.md: `m`, `l`, `acc`; `z` are scores.
class AttentionEmitter {
public:
  AttentionEmitter(xf::AttentionOp op, const Tiling &tiling)
      : op(op), t(tiling), b(op.getLoc(), op), f32(b.getF32Type()),
        vec(VectorType::get({tiling.vectorWidth}, b.getF32Type())) {}

  void emit();

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f32Const(double v) { return arith::ConstantOp::create(b, b.getF32FloatAttr(v)); }
  Value vecConst(double v) {
    return arith::ConstantOp::create(b, DenseElementsAttr::get(vec, b.getF32FloatAttr(v)));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value minI(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
  Value maxI(Value x, Value y) { return arith::MaxSIOp::create(b, x, y); }
  Value cmpI(arith::CmpIPredicate p, Value x, Value y) { return arith::CmpIOp::create(b, p, x, y); }

  /// Inlines a modifier region with `args` bound to its block arguments; returns the yielded value.
  Value inlineRegion(Region &region, ValueRange args) {
    IRMapping map;
    map.map(region.front().getArguments(), args);
    for (Operation &inner : region.front().without_terminator())
      b.clone(inner, map);
    return map.lookup(cast<xf::YieldOp>(region.front().getTerminator()).getValues()[0]);
  }

  void packQuery();
  void emitScores(Value j0, Value lastKey);
  void emitScoreRegion(Value j0, Value numKeys);
  void emitMask(Value j0, Value keyEnd, Value numKeys);
  SmallVector<Value> emitSoftmax(ValueRange mOld, ValueRange lOld);
  void emitValueAccumulate(Value j0, Value numKeys, ValueRange alpha);
  void emitEpilogue(ValueRange l);

  xf::AttentionOp op;
  Tiling t;
  ImplicitLocOpBuilder b;
  Type f32;
  VectorType vec;

  // Values of the current work item.
  Value batch, head, kvHead, rowBegin, numRows, firstPos, lastPos;
  Value qT, pT, accT, lBuf; // transposed query, probabilities, accumulator; denominators
};

void AttentionEmitter::emit() {
  int64_t numHeads = op.getNumHeads();
  int64_t group = numHeads / op.getNumKvHeads();
  int64_t nc = t.queryVectors();
  Value q = op.getQuery(), k = op.getKey();

  Value batches = memref::DimOp::create(b, q, 0);
  Value seqQ = memref::DimOp::create(b, q, 2);
  Value seqK = memref::DimOp::create(b, k, 2);
  Value qBlocks = arith::CeilDivUIOp::create(b, seqQ, idx(t.blockQ));
  Value perBatch = mul(idx(numHeads), qBlocks);
  Value items = mul(batches, perBatch);

  auto par = scf::ParallelOp::create(b, ValueRange{idx(0)}, ValueRange{items}, ValueRange{idx(1)});
  // scf.parallel is an automatic allocation scope: the scratch tiles below live for one work item.
  b.setInsertionPointToStart(par.getBody());

  Value w = par.getInductionVars()[0];
  batch = arith::DivUIOp::create(b, w, perBatch);
  Value rem = arith::RemUIOp::create(b, w, perBatch);
  head = arith::DivUIOp::create(b, rem, qBlocks);
  Value qBlock = arith::RemUIOp::create(b, rem, qBlocks);
  kvHead = group == 1 ? head : arith::DivUIOp::create(b, head, idx(group)).getResult();
  rowBegin = mul(qBlock, idx(t.blockQ));
  numRows = minI(idx(t.blockQ), sub(seqQ, rowBegin));

  auto alloc = [&](int64_t rows, int64_t cols) -> Value {
    auto type = MemRefType::get(cols ? ArrayRef<int64_t>{rows, cols} : ArrayRef<int64_t>{rows}, f32);
    return memref::AllocaOp::create(b, type, ValueRange{}, b.getI64IntegerAttr(64));
  };
  qT = alloc(op.getHeadDim(), t.blockQ);
  pT = alloc(t.blockK, t.blockQ);
  accT = alloc(op.getValueHeadDim(), t.blockQ);
  lBuf = alloc(t.blockQ, 0);

  packQuery();
  Value zero = vecConst(0.0);
  scf::ForOp::create(b, idx(0), idx(op.getValueHeadDim()), idx(1), ValueRange{},
                     [&](OpBuilder &, Location, Value dv, ValueRange) {
                       for (int64_t c = 0; c < nc; ++c)
                         vector::StoreOp::create(b, zero, accT, ValueRange{dv, idx(c * t.vectorWidth)});
                       scf::YieldOp::create(b);
                     });

  // Query row r sits at position T - S + r; the key range [keyBegin, keyEnd) is what causal and window
  // leave visible to any row of this block, so key blocks outside it are never visited.
  firstPos = add(sub(seqK, seqQ), rowBegin);
  lastPos = sub(add(firstPos, numRows), idx(1));
  Value keyBegin = idx(0), keyEnd = seqK;
  if (int64_t window = op.getWindow())
    keyBegin = maxI(idx(0), add(sub(firstPos, idx(window)), idx(1)));
  if (op.getCausal())
    keyEnd = minI(seqK, add(lastPos, idx(1)));

  SmallVector<Value> init(nc, vecConst(-std::numeric_limits<double>::infinity()));
  init.append(nc, zero);
  auto keyLoop = scf::ForOp::create(
      b, keyBegin, keyEnd, idx(t.blockK), init,
      [&](OpBuilder &, Location, Value j0, ValueRange ml) {
        Value numKeys = minI(idx(t.blockK), sub(keyEnd, j0));
        emitScores(j0, sub(keyEnd, idx(1)));
        if (op.hasScoreModifier())
          emitScoreRegion(j0, numKeys);
        emitMask(j0, keyEnd, numKeys);
        SmallVector<Value> next = emitSoftmax(ml.take_front(nc), ml.drop_front(nc));
        emitValueAccumulate(j0, numKeys, ArrayRef<Value>(next).drop_front(2 * nc));
        next.resize(2 * nc);
        scf::YieldOp::create(b, next);
      });
  emitEpilogue(keyLoop.getResults().drop_front(nc));
}

void AttentionEmitter::packQuery() {
  Value scale = f32Const(op.getScale().convertToDouble());
  Value zero = f32Const(0.0);
  int64_t d = op.getHeadDim();
  scf::ForOp::create(b, idx(0), idx(t.blockQ), idx(1), ValueRange{},
                     [&](OpBuilder &, Location, Value r, ValueRange) {
                       Value valid = cmpI(arith::CmpIPredicate::slt, r, numRows);
                       Value row = minI(add(rowBegin, r), add(rowBegin, sub(numRows, idx(1))));
                       scf::ForOp::create(b, idx(0), idx(d), idx(1), ValueRange{},
                                          [&](OpBuilder &, Location, Value dd, ValueRange) {
                                            Value x = memref::LoadOp::create(
                                                b, op.getQuery(), ValueRange{batch, head, row, dd});
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
        auto dLoop = scf::ForOp::create(
            b, idx(0), idx(op.getHeadDim()), idx(1), zeros,
            [&](OpBuilder &, Location, Value d, ValueRange acc) {
              SmallVector<Value> qv, next;
              for (int64_t c = 0; c < nc; ++c)
                qv.push_back(vector::LoadOp::create(b, vec, qT, ValueRange{d, idx(c * t.vectorWidth)}));
              for (int64_t r = 0; r < kr; ++r) {
                Value kx = memref::LoadOp::create(b, op.getKey(), ValueRange{batch, kvHead, keyRow[r], d});
                Value kb = vector::BroadcastOp::create(b, vec, kx);
                for (int64_t c = 0; c < nc; ++c)
                  next.push_back(vector::FMAOp::create(b, kb, qv[c], acc[r * nc + c]));
              }
              scf::YieldOp::create(b, next);
            });
        for (int64_t r = 0; r < kr; ++r)
          for (int64_t c = 0; c < nc; ++c)
            vector::StoreOp::create(b, dLoop.getResult(r * nc + c), pT,
                                    ValueRange{add(jj, idx(r)), idx(c * t.vectorWidth)});
        scf::YieldOp::create(b);
      });
}

void AttentionEmitter::emitScoreRegion(Value j0, Value numKeys) {
  scf::ForOp::create(b, idx(0), numKeys, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value jj, ValueRange) {
    Value j = add(j0, jj);
    scf::ForOp::create(b, idx(0), numRows, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value r, ValueRange) {
      Value z = memref::LoadOp::create(b, pT, ValueRange{jj, r});
      Value modified = inlineRegion(op.getScore(), {z, batch, head, add(firstPos, r), j});
      memref::StoreOp::create(b, modified, pT, ValueRange{jj, r});
      scf::YieldOp::create(b);
    });
    scf::YieldOp::create(b);
  });
}

void AttentionEmitter::emitMask(Value j0, Value keyEnd, Value numKeys) {
  int64_t nc = t.queryVectors(), vw = t.vectorWidth, window = op.getWindow();
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

  auto ifOp = scf::IfOp::create(b, arith::XOrIOp::create(b, full, arith::ConstantIntOp::create(b, 1, 1)),
                                /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  Type i64 = b.getI64Type();
  auto ivec = VectorType::get({vw}, i64);
  SmallVector<int64_t> lanes(vw);
  for (int64_t l = 0; l < vw; ++l)
    lanes[l] = l;
  Value iota = arith::ConstantOp::create(b, DenseElementsAttr::get(ivec, ArrayRef<int64_t>(lanes)));
  Value ninf = vecConst(-std::numeric_limits<double>::infinity());
  Value firstPos64 = arith::IndexCastOp::create(b, i64, firstPos);
  scf::ForOp::create(b, idx(0), idx(t.blockK), idx(1), ValueRange{}, [&](OpBuilder &, Location, Value jj, ValueRange) {
    Value j = add(j0, jj);
    Value j64 = arith::IndexCastOp::create(b, i64, j);
    Value jVec = vector::BroadcastOp::create(b, ivec, j64);
    auto boolVec = VectorType::get({vw}, b.getI1Type());
    Value inRange = vector::BroadcastOp::create(b, boolVec, cmpI(arith::CmpIPredicate::slt, j, keyEnd));
    for (int64_t c = 0; c < nc; ++c) {
      Value base = arith::AddIOp::create(b, firstPos64, arith::ConstantIntOp::create(b, i64, c * vw));
      Value pos = arith::AddIOp::create(b, vector::BroadcastOp::create(b, ivec, base), iota);
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
    }
    scf::YieldOp::create(b);
  });
  if (op.hasMaskModifier()) {
    Value ninfScalar = f32Const(-std::numeric_limits<double>::infinity());
    scf::ForOp::create(b, idx(0), numKeys, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value jj, ValueRange) {
      Value j = add(j0, jj);
      scf::ForOp::create(b, idx(0), numRows, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value r, ValueRange) {
        Value keep = inlineRegion(op.getMask(), {batch, head, add(firstPos, r), j});
        Value z = memref::LoadOp::create(b, pT, ValueRange{jj, r});
        memref::StoreOp::create(b, arith::SelectOp::create(b, keep, z, ninfScalar), pT, ValueRange{jj, r});
        scf::YieldOp::create(b);
      });
      scf::YieldOp::create(b);
    });
  }
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
  int64_t nc = t.queryVectors(), dv = op.getValueHeadDim();
  int64_t vr = std::min(t.valueRegs, dv);
  while (dv % vr)
    --vr;
  scf::ForOp::create(b, idx(0), idx(dv), idx(vr), ValueRange{}, [&](OpBuilder &, Location, Value d0, ValueRange) {
    // The running accumulator is rescaled by alpha as it is loaded: one pass over it per key block.
    SmallVector<Value> init;
    for (int64_t r = 0; r < vr; ++r)
      for (int64_t c = 0; c < nc; ++c) {
        Value a = vector::LoadOp::create(b, vec, accT, ValueRange{add(d0, idx(r)), idx(c * t.vectorWidth)});
        init.push_back(arith::MulFOp::create(b, a, alpha[c]));
      }
    auto jLoop = scf::ForOp::create(b, idx(0), numKeys, idx(1), init, [&](OpBuilder &, Location, Value jj, ValueRange acc) {
      SmallVector<Value> p, next;
      for (int64_t c = 0; c < nc; ++c)
        p.push_back(vector::LoadOp::create(b, vec, pT, ValueRange{jj, idx(c * t.vectorWidth)}));
      Value j = add(j0, jj);
      for (int64_t r = 0; r < vr; ++r) {
        Value vx = memref::LoadOp::create(b, op.getValue(), ValueRange{batch, kvHead, j, add(d0, idx(r))});
        Value vb = vector::BroadcastOp::create(b, vec, vx);
        for (int64_t c = 0; c < nc; ++c)
          next.push_back(vector::FMAOp::create(b, vb, p[c], acc[r * nc + c]));
      }
      scf::YieldOp::create(b, next);
    });
    for (int64_t r = 0; r < vr; ++r)
      for (int64_t c = 0; c < nc; ++c)
        vector::StoreOp::create(b, jLoop.getResult(r * nc + c), accT,
                                ValueRange{add(d0, idx(r)), idx(c * t.vectorWidth)});
    scf::YieldOp::create(b);
  });
}

void AttentionEmitter::emitEpilogue(ValueRange l) {
  for (int64_t c = 0; c < t.queryVectors(); ++c)
    vector::StoreOp::create(b, l[c], lBuf, ValueRange{idx(c * t.vectorWidth)});
  Value zero = f32Const(0.0), one = f32Const(1.0);
  scf::ForOp::create(b, idx(0), numRows, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value r, ValueRange) {
    Value lr = memref::LoadOp::create(b, lBuf, ValueRange{r});
    // A row that saw no key has l = 0 and yields zeros.
    Value sawKey = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, lr, zero);
    Value inv = arith::SelectOp::create(b, sawKey, arith::DivFOp::create(b, one, lr), zero);
    Value row = add(rowBegin, r);
    scf::ForOp::create(b, idx(0), idx(op.getValueHeadDim()), idx(1), ValueRange{},
                       [&](OpBuilder &, Location, Value d, ValueRange) {
                         Value a = memref::LoadOp::create(b, accT, ValueRange{d, r});
                         memref::StoreOp::create(b, arith::MulFOp::create(b, a, inv), op.getOutput(),
                                                 ValueRange{batch, head, row, d});
                         scf::YieldOp::create(b);
                       });
    scf::YieldOp::create(b);
  });
}

/// Records which function arguments are the attention's operands, so the runtime can name them.
static void nameOperands(xf::AttentionOp op) {
  auto func = op->getParentOfType<func::FuncOp>();
  SmallVector<Attribute> names;
  for (unsigned i = 0; i < func.getNumArguments(); ++i)
    names.push_back(StringAttr::get(op.getContext(), "arg" + Twine(i)));
  StringRef roles[] = {"query", "key", "value", "output"};
  for (auto [operand, role] : llvm::zip(op->getOperands(), roles))
    if (auto arg = dyn_cast<BlockArgument>(operand); arg && arg.getOwner()->isEntryBlock())
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
    return success();
  }

  void runOnOperation() override {
    if (failed(validateOptions()))
      return signalPassFailure();
    Tiling tiling{vectorWidth, blockQ, blockK, keyRegs, valueRegs};
    SmallVector<xf::AttentionOp> ops;
    getOperation().walk([&](xf::AttentionOp op) { ops.push_back(op); });
    for (xf::AttentionOp op : ops) {
      if (op.hasTensorSemantics()) {
        op.emitOpError("must be bufferized before xf-lower-attention (run one-shot-bufferize)");
        return signalPassFailure();
      }
      if (!op.getQueryType().getElementType().isF32()) {
        op.emitOpError("xf-lower-attention supports f32 only, got ")
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
          attrs.getNamedAttr("scale", op.getScaleAttr()),
          attrs.getNamedAttr("block_q", attrs.getI64IntegerAttr(blockQ)),
      };
      getOperation()->setAttr("xf.attention_info", attrs.getDictionaryAttr(info));
      nameOperands(op);
      AttentionEmitter(op, tiling).emit();
      op.erase();
    }
  }
};

} // namespace
