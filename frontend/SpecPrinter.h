//===- SpecPrinter.h - canonical .xf text of a Spec -----------------------===//
#ifndef XF_FRONTEND_SPECPRINTER_H
#define XF_FRONTEND_SPECPRINTER_H

#include "frontend/ModelSpec.h"

#include "llvm/Support/raw_ostream.h"

namespace xf {

/// Prints `spec` as .xf text that analyzes back to an equal Spec (`xfc --emit=spec`). The form is
/// canonical: every key has one spelling, defaults that do not depend on other keys are left out,
/// constants and user variants are inlined, and per-layer differences are printed as `layers` blocks
/// grouped by what they change. So printing what was parsed from printed text gives the same text.
void printSpec(const Spec &spec, llvm::raw_ostream &os);

} // namespace xf

#endif // XF_FRONTEND_SPECPRINTER_H
