//===- Parser.h - parser of .xf files -------------------------------------===//
#ifndef XF_FRONTEND_PARSER_H
#define XF_FRONTEND_PARSER_H

#include "frontend/AST.h"

#include "llvm/Support/SourceMgr.h"

#include <optional>

namespace xf {

struct ParseOptions {
  /// `include "file.xf"` reads files relative to the including file. Off in the fuzzer, which must not
  /// read the file system.
  bool allowIncludes = true;
};

/// Parses the buffer `bufferId` of `sourceMgr` and, recursively, the files it includes (each is added to
/// `sourceMgr` with the include as its include location, read once even if included again; a cycle is
/// an error). Syntax errors are reported through `sourceMgr` with file:line:col and a caret; parsing
/// resumes at the next line so that several errors are reported in one run. Returns nullopt if any
/// error was reported.
std::optional<SpecFile> parseSpec(llvm::SourceMgr &sourceMgr, unsigned bufferId,
                                  const ParseOptions &options = {});

} // namespace xf

#endif // XF_FRONTEND_PARSER_H
