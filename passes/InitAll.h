//===- InitAll.h - everything an xf tool registers ------------------------===//
#ifndef XF_PASSES_INITALL_H
#define XF_PASSES_INITALL_H

#include "dialect/XFDialect.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"

namespace mlir {
namespace xf {

/// The dialects xf IR may contain at any stage, with their interface implementations.
void registerAllDialects(DialectRegistry &registry);
/// xf passes, the upstream passes xf pipelines use, and the named pipelines.
void registerAllPasses();

} // namespace xf
} // namespace mlir

#endif // XF_PASSES_INITALL_H
