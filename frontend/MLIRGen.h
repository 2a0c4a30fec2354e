//===- MLIRGen.h - xf IR from a checked specification ---------------------===//
#ifndef XF_FRONTEND_MLIRGEN_H
#define XF_FRONTEND_MLIRGEN_H

#include "frontend/AST.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace xf {

/// One public function per attention block, `@name(query, key, value, output) -> output` on tensors,
/// marked `xf.kernel`, holding one xf.attention. Locations point into `fileName`.
mlir::OwningOpRef<mlir::ModuleOp> generateModule(mlir::MLIRContext &context, const Spec &spec,
                                                 const llvm::SourceMgr &sourceMgr);

} // namespace xf

#endif // XF_FRONTEND_MLIRGEN_H
