//===- AST.h - the .xf specification tree ---------------------------------===//
#ifndef XF_FRONTEND_AST_H
#define XF_FRONTEND_AST_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace xf {

/// A value as written: the parser keeps its spelling and kind; Sema gives it meaning.
struct Value {
  enum class Kind { Integer, Float, Bool, Word, String };
  Kind kind = Kind::Word;
  std::string text;
  int64_t integer = 0;
  double number = 0.0;
  bool boolean = false;
  llvm::SMLoc loc;
};

struct Field {
  std::string key;
  llvm::SMLoc keyLoc;
  Value value;
};

/// A `kind name { key = value ... }` block.
struct Section {
  std::string kind;
  std::string name;
  llvm::SMLoc loc, nameLoc;
  std::vector<Field> fields;
};

struct SpecFile {
  std::vector<Section> blocks;
};

void printAST(const SpecFile &file, llvm::raw_ostream &os);

/// A dimension that is either fixed at compile time or given per call.
struct Extent {
  std::optional<int64_t> value; // nullopt: dynamic
};

/// One attention block after semantic checks: everything MLIRGen needs, nothing left implicit.
struct AttentionSpec {
  std::string name;
  llvm::SMLoc loc;
  int64_t heads = 0, kvHeads = 0, headDim = 0, headDimV = 0;
  bool causal = false;
  int64_t window = 0; // 0: no window
  double scale = 0.0;
  Extent batch, seqQ, seqK;
};

struct Spec {
  std::vector<AttentionSpec> attentions;
};

} // namespace xf

#endif // XF_FRONTEND_AST_H
