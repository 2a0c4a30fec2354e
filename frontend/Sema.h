//===- Sema.h - semantic checks of .xf files ------------------------------===//
#ifndef XF_FRONTEND_SEMA_H
#define XF_FRONTEND_SEMA_H

#include "frontend/AST.h"

#include "llvm/Support/SourceMgr.h"

namespace xf {

/// Checks `file` and resolves defaults. Every problem is reported through `sourceMgr` at the location of
/// the offending key or value, in source order; returns nullopt if there was any.
std::optional<Spec> analyzeSpec(const SpecFile &file, llvm::SourceMgr &sourceMgr);

} // namespace xf

#endif // XF_FRONTEND_SEMA_H
