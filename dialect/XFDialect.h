//===- XFDialect.h - the xf dialect ---------------------------------------===//
#ifndef XF_DIALECT_XFDIALECT_H
#define XF_DIALECT_XFDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialect/XFOpsDialect.h.inc"

namespace mlir {
class DialectRegistry;
namespace xf {
/// Attaches the bufferization interface to xf ops (kept out of the dialect so that users of the dialect
/// alone do not depend on the bufferization dialect).
void registerBufferizableOpInterfaceExternalModels(DialectRegistry &registry);
} // namespace xf
} // namespace mlir

#endif // XF_DIALECT_XFDIALECT_H
