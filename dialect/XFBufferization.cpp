//===- XFBufferization.cpp - bufferization of xf ops ----------------------===//
//
// xf.attention is in destination-passing style, so one-shot bufferization writes its result into the
// buffer of its `output` operand and the op keeps its form, on memrefs.
//
//===----------------------------------------------------------------------===//
#include "dialect/XFDialect.h"
#include "dialect/XFOps.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::bufferization;

namespace {
/// Both xf ops are destination-style with one init; they bufferize by recreating the op on buffers.
template <typename OpTy>
struct DpsOpBufferization : public DstBufferizableOpInterfaceExternalModel<DpsOpBufferization<OpTy>, OpTy> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter, const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto concrete = cast<OpTy>(op);
    SmallVector<Value> buffers;
    for (Value operand : op->getOperands()) {
      FailureOr<Value> buffer = getBuffer(rewriter, operand, options, state);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
    }
    rewriter.setInsertionPoint(op);
    OperationState newState(op->getLoc(), op->getName());
    newState.addOperands(buffers);
    newState.propertiesAttr = op->getPropertiesAsAttribute();
    newState.addAttributes(op->getDiscardableAttrDictionary().getValue());
    for (unsigned i = 0; i < op->getNumRegions(); ++i)
      newState.addRegion();
    Operation *newOp = rewriter.create(newState);
    for (unsigned i = 0; i < op->getNumRegions(); ++i)
      rewriter.inlineRegionBefore(op->getRegion(i), newOp->getRegion(i), newOp->getRegion(i).end());
    replaceOpWithBufferizedValues(rewriter, op, buffers[concrete.getOutputMutable().getOperandNumber()]);
    return success();
  }
};
} // namespace

void mlir::xf::registerBufferizableOpInterfaceExternalModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, xf::XFDialect *dialect) {
    xf::AttentionOp::attachInterface<DpsOpBufferization<xf::AttentionOp>>(*ctx);
    xf::MoHRouterOp::attachInterface<DpsOpBufferization<xf::MoHRouterOp>>(*ctx);
  });
}
