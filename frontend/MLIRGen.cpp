//===- MLIRGen.cpp - xf IR from a checked specification -------------------===//
#include "frontend/MLIRGen.h"

#include "dialect/XFOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;

static Location locationOf(MLIRContext &ctx, const llvm::SourceMgr &sm, llvm::SMLoc loc) {
  unsigned buffer = sm.FindBufferContainingLoc(loc);
  if (!buffer)
    return UnknownLoc::get(&ctx);
  auto [line, col] = sm.getLineAndColumn(loc, buffer);
  return FileLineColLoc::get(&ctx, sm.getMemoryBuffer(buffer)->getBufferIdentifier(), line, col);
}

namespace xf {
OwningOpRef<ModuleOp> generateModule(MLIRContext &ctx, const Spec &spec, const llvm::SourceMgr &sm) {
  ctx.loadDialect<func::FuncDialect, mlir::xf::XFDialect>();
  OpBuilder b(&ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  b.setInsertionPointToEnd(module->getBody());
  auto dim = [](const Extent &e) { return e.value ? *e.value : ShapedType::kDynamic; };
  for (const AttentionSpec &a : spec.attentions) {
    Location loc = locationOf(ctx, sm, a.loc);
    Type f32 = b.getF32Type();
    int64_t batch = dim(a.batch), seqQ = dim(a.seqQ), seqK = dim(a.seqK);
    auto qType = RankedTensorType::get({batch, a.heads, seqQ, a.headDim}, f32);
    auto kType = RankedTensorType::get({batch, a.kvHeads, seqK, a.headDim}, f32);
    auto vType = RankedTensorType::get({batch, a.kvHeads, seqK, a.headDimV}, f32);
    auto oType = RankedTensorType::get({batch, a.heads, seqQ, a.headDimV}, f32);
    auto func = func::FuncOp::create(b, loc, a.name, b.getFunctionType({qType, kType, vType, oType}, {oType}));
    func->setAttr("xf.kernel", b.getUnitAttr());
    Block *entry = func.addEntryBlock();
    OpBuilder body = OpBuilder::atBlockEnd(entry);
    auto attention = mlir::xf::AttentionOp::create(body, loc, entry->getArgument(0), entry->getArgument(1),
                                                   entry->getArgument(2), entry->getArgument(3), a.heads,
                                                   a.kvHeads, a.scale, a.causal, a.window);
    func::ReturnOp::create(body, loc, attention.getResult());
  }
  if (failed(verify(*module)))
    return nullptr;
  return module;
}
} // namespace xf
