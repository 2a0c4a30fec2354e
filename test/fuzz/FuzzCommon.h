//===- FuzzCommon.h - what the xf fuzz targets share ----------------------===//
#ifndef XF_TEST_FUZZ_FUZZCOMMON_H
#define XF_TEST_FUZZ_FUZZCOMMON_H

#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "frontend/SpecPrinter.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <string>

namespace xf::fuzz {

/// Diagnostics are expected; printing them would only slow the fuzzer down.
inline void silence(llvm::SourceMgr &sm) {
  sm.setDiagHandler([](const llvm::SMDiagnostic &, void *) {}, nullptr);
}

inline std::string print(const Spec &spec) {
  std::string s;
  llvm::raw_string_ostream os(s);
  printSpec(spec, os);
  return s;
}

/// The canonical text of `spec` must analyze cleanly and print back unchanged; aborts (a finding for
/// libFuzzer) with both texts and the diagnostics otherwise.
inline void checkRoundTrip(const Spec &spec) {
  std::string first = print(spec);
  llvm::SourceMgr sm;
  std::string diagnostics;
  sm.setDiagHandler(
      [](const llvm::SMDiagnostic &d, void *context) {
        llvm::raw_string_ostream os(*static_cast<std::string *>(context));
        d.print("", os);
      },
      &diagnostics);
  sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(first, "printed.xf"), llvm::SMLoc());
  ParseOptions options;
  options.allowIncludes = false;
  std::optional<SpecFile> file = parseSpec(sm, sm.getMainFileID(), options);
  std::optional<Spec> again = file ? analyzeSpec(*file, sm) : std::nullopt;
  std::string second = again ? print(*again) : std::string();
  if (again && second == first)
    return;
  llvm::errs() << "round trip failed\n--- printed:\n" << first << "--- diagnostics:\n" << diagnostics
               << "--- printed again:\n" << second;
  std::abort();
}

} // namespace xf::fuzz

#endif // XF_TEST_FUZZ_FUZZCOMMON_H
