//===- Sema.h - semantic checks of .xf files ------------------------------===//
#ifndef XF_FRONTEND_SEMA_H
#define XF_FRONTEND_SEMA_H

#include "frontend/AST.h"
#include "frontend/ModelSpec.h"

#include "llvm/Support/SourceMgr.h"

#include <optional>

namespace xf {

/// Checks `file`, evaluates constants, type-checks score and mask expressions, applies defaults and
/// per-layer overrides. Every problem is reported through `sourceMgr` at the location of the offending
/// key or value, all of them, sorted by file (in the order files were read) and position; returns
/// nullopt if there was any.
std::optional<Spec> analyzeSpec(const SpecFile &file, llvm::SourceMgr &sourceMgr);

/// The names a .xf file may use for built-in variants (VARIANTS.md).
llvm::ArrayRef<llvm::StringRef> builtinVariantNames();

} // namespace xf

#endif // XF_FRONTEND_SEMA_H
