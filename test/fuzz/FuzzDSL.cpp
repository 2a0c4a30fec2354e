//===- FuzzDSL.cpp - libFuzzer target for the .xf parser and Sema ---------===//
//
// Parses and analyzes arbitrary bytes as a .xf file. Besides crashes and sanitizer reports, it checks
// that whatever analyzes cleanly prints (--emit=spec) as text that analyzes again to the same text.
//
//===----------------------------------------------------------------------===//
#include "test/fuzz/FuzzCommon.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::SourceMgr sm;
  xf::fuzz::silence(sm);
  sm.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.xf"),
      llvm::SMLoc());
  xf::ParseOptions options;
  options.allowIncludes = false;
  std::optional<xf::SpecFile> file = xf::parseSpec(sm, sm.getMainFileID(), options);
  if (!file)
    return 0;
  std::string ast;
  llvm::raw_string_ostream os(ast);
  xf::printAST(*file, os);
  std::optional<xf::Spec> spec = xf::analyzeSpec(*file, sm);
  if (spec)
    xf::fuzz::checkRoundTrip(*spec);
  return 0;
}
