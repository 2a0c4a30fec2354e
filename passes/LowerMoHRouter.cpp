//===- LowerMoHRouter.cpp - xf.moh_router to a loop over tokens -----------===//
#include "dialect/XFOps.h"
#include "passes/Passes.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <limits>

namespace mlir::xf {
#define GEN_PASS_DEF_XFLOWERMOHROUTER
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {

struct RouterEmitter {
  RouterEmitter(xf::MoHRouterOp op, int64_t vectorWidth) : op(op), b(op.getLoc(), op), vw(vectorWidth) {}

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f32(double v) { return arith::ConstantOp::create(b, b.getF32FloatAttr(v)); }
  void loop(Value lo, Value hi, function_ref<void(Value)> body) {
    scf::ForOp::create(b, lo, hi, idx(1), ValueRange{}, [&](OpBuilder &, Location, Value i, ValueRange) {
      body(i);
      scf::YieldOp::create(b);
    });
  }
  Value reduce(Value lo, Value hi, Value init, function_ref<Value(Value, Value)> body) {
    return scf::ForOp::create(b, lo, hi, idx(1), ValueRange{init},
                              [&](OpBuilder &, Location, Value i, ValueRange acc) {
                                scf::YieldOp::create(b, body(i, acc[0]));
                              })
        .getResult(0);
  }

  /// dot(input[batch, token, :], weights[row, :]), in vectors when the feature count allows.
  Value dot(Value weights, Value row) {
    int64_t features = cast<ShapedType>(op.getInput().getType()).getDimSize(2);
    Type f32Type = b.getF32Type();
    if (features % vw == 0) {
      auto vec = VectorType::get({vw}, f32Type);
      Value zero = arith::ConstantOp::create(b, DenseElementsAttr::get(vec, b.getF32FloatAttr(0.0)));
      auto acc = scf::ForOp::create(b, idx(0), idx(features), idx(vw), ValueRange{zero},
                                    [&](OpBuilder &, Location, Value c, ValueRange sum) {
                                      Value x = vector::LoadOp::create(b, vec, op.getInput(), ValueRange{batch, token, c});
                                      Value w = vector::LoadOp::create(b, vec, weights, ValueRange{row, c});
                                      scf::YieldOp::create(b, ValueRange{vector::FMAOp::create(b, x, w, sum[0])});
                                    });
      return vector::ReductionOp::create(b, vector::CombiningKind::ADD, acc.getResult(0));
    }
    return reduce(idx(0), idx(features), f32(0.0), [&](Value c, Value sum) -> Value {
      Value x = memref::LoadOp::create(b, op.getInput(), ValueRange{batch, token, c});
      Value w = memref::LoadOp::create(b, weights, ValueRange{row, c});
      return math::FmaOp::create(b, x, w, sum);
    });
  }

  /// buffer[offset + r] = scale * softmax_r(dot(weights[r], x)) for r < rows.
  void softmaxOfProjection(Value weights, int64_t rows, Value buffer, int64_t offset, double scale) {
    loop(idx(0), idx(rows), [&](Value r) {
      memref::StoreOp::create(b, dot(weights, r), buffer, ValueRange{add(r, offset)});
    });
    Value ninf = f32(-std::numeric_limits<double>::infinity());
    Value max = reduce(idx(0), idx(rows), ninf, [&](Value r, Value m) -> Value {
      return arith::MaximumFOp::create(b, m, memref::LoadOp::create(b, buffer, ValueRange{add(r, offset)}));
    });
    Value sum = reduce(idx(0), idx(rows), f32(0.0), [&](Value r, Value s) -> Value {
      Value e = math::ExpOp::create(
          b, arith::SubFOp::create(b, memref::LoadOp::create(b, buffer, ValueRange{add(r, offset)}), max));
      memref::StoreOp::create(b, e, buffer, ValueRange{add(r, offset)});
      return arith::AddFOp::create(b, s, e);
    });
    Value factor = arith::DivFOp::create(b, f32(scale), sum);
    loop(idx(0), idx(rows), [&](Value r) {
      Value e = memref::LoadOp::create(b, buffer, ValueRange{add(r, offset)});
      memref::StoreOp::create(b, arith::MulFOp::create(b, e, factor), buffer, ValueRange{add(r, offset)});
    });
  }
  Value add(Value v, int64_t c) { return c ? arith::AddIOp::create(b, v, idx(c)).getResult() : v; }

  void emit() {
    auto input = cast<ShapedType>(op.getInput().getType());
    int64_t routed = cast<ShapedType>(op.getWRouted().getType()).getDimSize(0);
    int64_t shared = op.getSharedHeads(), topK = op.getTopK();
    Value batches = memref::DimOp::create(b, op.getInput(), 0);
    Value tokens = memref::DimOp::create(b, op.getInput(), 1);
    Value items = arith::MulIOp::create(b, batches, tokens);
    (void)input;
    auto par = scf::ParallelOp::create(b, ValueRange{idx(0)}, ValueRange{items}, ValueRange{idx(1)});
    b.setInsertionPointToStart(par.getBody());
    Value t = par.getInductionVars()[0];
    batch = arith::DivUIOp::create(b, t, tokens);
    token = arith::RemUIOp::create(b, t, tokens);

    // probs: [0, routed) routed softmax, then shared, then the two head weights.
    auto bufType = MemRefType::get({routed + shared + 2}, b.getF32Type());
    Value probs = memref::AllocaOp::create(b, bufType);
    Value selected = memref::AllocaOp::create(b, MemRefType::get({routed}, b.getF32Type()));
    softmaxOfProjection(op.getWRouted(), routed, probs, 0, 1.0);
    softmaxOfProjection(op.getWShared(), shared, probs, routed, static_cast<double>(shared));
    softmaxOfProjection(op.getWHead(), 2, probs, routed + shared, 2.0);

    // top-k by repeated argmax; a strict comparison lets the lower head win ties.
    loop(idx(0), idx(routed), [&](Value r) { memref::StoreOp::create(b, f32(0.0), selected, ValueRange{r}); });
    loop(idx(0), idx(topK), [&](Value) {
      auto best = scf::ForOp::create(
          b, idx(0), idx(routed), idx(1), ValueRange{f32(-1.0), idx(0)},
          [&](OpBuilder &, Location, Value r, ValueRange acc) {
            Value p = memref::LoadOp::create(b, probs, ValueRange{r});
            Value taken = arith::CmpFOp::create(b, arith::CmpFPredicate::ONE,
                                                memref::LoadOp::create(b, selected, ValueRange{r}), f32(0.0));
            Value better = arith::AndIOp::create(
                b, arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, p, acc[0]),
                arith::XOrIOp::create(b, taken, arith::ConstantIntOp::create(b, 1, 1)));
            scf::YieldOp::create(b, ValueRange{arith::SelectOp::create(b, better, p, acc[0]),
                                               arith::SelectOp::create(b, better, r, acc[1])});
          });
      memref::StoreOp::create(b, f32(1.0), selected, ValueRange{best.getResult(1)});
    });
    Value kept = reduce(idx(0), idx(routed), f32(0.0), [&](Value r, Value s) -> Value {
      Value p = memref::LoadOp::create(b, probs, ValueRange{r});
      return math::FmaOp::create(b, p, memref::LoadOp::create(b, selected, ValueRange{r}), s);
    });
    Value denom = arith::MaximumFOp::create(b, kept, f32(op.getEps().convertToDouble()));
    Value routedScale = arith::DivFOp::create(b, f32(static_cast<double>(topK)), denom);
    Value a1 = memref::LoadOp::create(b, probs, ValueRange{idx(routed + shared)});
    Value a2 = memref::LoadOp::create(b, probs, ValueRange{idx(routed + shared + 1)});
    loop(idx(0), idx(shared), [&](Value h) {
      Value g = arith::MulFOp::create(b, a1, memref::LoadOp::create(b, probs, ValueRange{add(h, routed)}));
      memref::StoreOp::create(b, g, op.getOutput(), ValueRange{batch, h, token});
    });
    Value scaleRouted = arith::MulFOp::create(b, a2, routedScale);
    loop(idx(0), idx(routed), [&](Value r) {
      Value p = arith::MulFOp::create(b, memref::LoadOp::create(b, probs, ValueRange{r}),
                                      memref::LoadOp::create(b, selected, ValueRange{r}));
      memref::StoreOp::create(b, arith::MulFOp::create(b, p, scaleRouted), op.getOutput(),
                              ValueRange{batch, add(r, shared), token});
    });
  }

  xf::MoHRouterOp op;
  ImplicitLocOpBuilder b;
  int64_t vw;
  Value batch, token;
};

struct LowerMoHRouterPass : public xf::impl::XFLowerMoHRouterBase<LowerMoHRouterPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<xf::MoHRouterOp> ops;
    getOperation().walk([&](xf::MoHRouterOp op) { ops.push_back(op); });
    for (xf::MoHRouterOp op : ops) {
      if (op.hasTensorSemantics()) {
        op.emitOpError("must be bufferized before xf-lower-moh-router");
        return signalPassFailure();
      }
      Builder attrs(op.getContext());
      auto func = getOperation();
      NamedAttribute info[] = {
          attrs.getNamedAttr("kind", attrs.getStringAttr("moh_router")),
          attrs.getNamedAttr("num_heads", attrs.getI64IntegerAttr(cast<ShapedType>(op.getOutput().getType()).getDimSize(1))),
          attrs.getNamedAttr("shared_heads", op.getSharedHeadsAttr()),
          attrs.getNamedAttr("top_k", op.getTopKAttr()),
      };
      func->setAttr("xf.kernel_info", attrs.getDictionaryAttr(info));
      SmallVector<Attribute> names;
      for (unsigned i = 0; i < func.getNumArguments(); ++i)
        names.push_back(attrs.getStringAttr("arg" + Twine(i)));
      std::pair<Value, StringRef> roles[] = {{op.getInput(), "input"},       {op.getWRouted(), "w_routed"},
                                             {op.getWShared(), "w_shared"}, {op.getWHead(), "w_head"},
                                             {op.getOutput(), "gates"}};
      for (auto [operand, role] : roles)
        if (auto arg = dyn_cast<BlockArgument>(operand); arg && arg.getOwner()->isEntryBlock())
          names[arg.getArgNumber()] = attrs.getStringAttr(role);
      func->setAttr("xf.operand_names", attrs.getArrayAttr(names));
      RouterEmitter(op, vectorWidth).emit();
      op.erase();
    }
  }
};
} // namespace
