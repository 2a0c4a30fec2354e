//===- Parser.h - lexer and parser of .xf files ---------------------------===//
#ifndef XF_FRONTEND_PARSER_H
#define XF_FRONTEND_PARSER_H

#include "frontend/AST.h"

#include "llvm/Support/SourceMgr.h"

namespace xf {

/// Parses the buffer `bufferId` of `sourceMgr`. Syntax errors are reported through `sourceMgr` with
/// file:line:col and a caret; parsing resumes at the next line so that several errors are reported in
/// one run. Returns nullopt if any error was reported.
std::optional<SpecFile> parseSpec(llvm::SourceMgr &sourceMgr, unsigned bufferId);

} // namespace xf

#endif // XF_FRONTEND_PARSER_H
