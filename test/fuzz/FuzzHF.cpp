//===- FuzzHF.cpp - libFuzzer target for the config.json importer ---------===//
//
// Imports arbitrary bytes as a Hugging Face config.json. Besides crashes and sanitizer reports, it
// checks that an imported model prints (--emit=spec) as .xf text that analyzes to the same text.
//
//===----------------------------------------------------------------------===//
#include "test/fuzz/FuzzCommon.h"

#include "frontend/hf/ConfigImporter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::SourceMgr sm;
  xf::fuzz::silence(sm);
  sm.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(llvm::StringRef(reinterpret_cast<const char *>(data), size), "config.json"),
      llvm::SMLoc());
  std::optional<xf::ModelSpec> model = xf::importHFConfig(sm, sm.getMainFileID());
  if (!model)
    return 0;
  xf::Spec spec;
  spec.models.push_back(std::move(*model));
  xf::fuzz::checkRoundTrip(spec);
  return 0;
}
