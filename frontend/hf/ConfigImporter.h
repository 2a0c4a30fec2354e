//===- ConfigImporter.h - a ModelSpec from a Hugging Face config.json -----===//
#ifndef XF_FRONTEND_HF_CONFIGIMPORTER_H
#define XF_FRONTEND_HF_CONFIGIMPORTER_H

#include "frontend/ModelSpec.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/SourceMgr.h"

#include <optional>

namespace xf {

/// Reads the config.json in buffer `bufferId` of `sourceMgr` into a ModelSpec, as the Hugging Face
/// class named in `architectures` would build the model. Every field is either mapped, known not to
/// change the computation (token ids, dropout, training-only router losses, ...), or an error that names
/// it; so are unknown architectures, rope_scaling kinds and rope_scaling fields. Errors are reported
/// through `sourceMgr` at the offending value (file:line:col and a caret) with its JSON path, all of
/// them, in file order. Returns nullopt if there was any.
std::optional<ModelSpec> importHFConfig(llvm::SourceMgr &sourceMgr, unsigned bufferId);

/// The Hugging Face classes the importer maps.
llvm::ArrayRef<llvm::StringRef> supportedHFArchitectures();

} // namespace xf

#endif // XF_FRONTEND_HF_CONFIGIMPORTER_H
