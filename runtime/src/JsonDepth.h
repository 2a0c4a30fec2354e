//===- JsonDepth.h - bracket depth of a JSON text, before parsing it ------===//
//
// llvm::json parses recursively, so a hostile file (a config.json, a safetensors header) nested deeply
// enough overflows the stack. Readers measure the depth first and refuse such input. Header-only: the
// frontend and the runtime (which carries its own LLVMSupport) both include it.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_SRC_JSONDEPTH_H
#define XF_RUNTIME_SRC_JSONDEPTH_H

#include "llvm/ADT/StringRef.h"

#include <algorithm>

namespace xf {

/// The deepest nesting of brackets outside strings.
inline int jsonDepth(llvm::StringRef text) {
  int depth = 0, deepest = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

} // namespace xf

#endif // XF_RUNTIME_SRC_JSONDEPTH_H
