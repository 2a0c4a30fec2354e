//===- AST.h - the .xf syntax tree ----------------------------------------===//
//
// What the parser produces: blocks of `key = expression` fields and nested blocks, constants, and the
// files they came from. Nothing here has meaning yet; Sema (Sema.h) checks it and builds the Spec
// (ModelSpec.h).
//
//===----------------------------------------------------------------------===//
#ifndef XF_FRONTEND_AST_H
#define XF_FRONTEND_AST_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xf {

/// An expression as written. Field values, constants and score/mask expressions are all expressions;
/// a bare word (`none`, `rms`, `yarn`) is a Name that Sema reads as a keyword where one is expected.
struct Expr {
  enum class Kind {
    Integer, // integer
    Float,   // number
    Bool,    // boolean
    String,  // text (without quotes)
    Name,    // text
    Array,   // operands: the elements
    Unary,   // text: "-" or "!"; operands: [x]
    Binary,  // text: the operator; operands: [lhs, rhs]
    Ternary, // operands: [condition, then, else]
    Call,    // text: the callee; operands: the arguments
    Index,   // operands: [array, index]
  };
  Kind kind = Kind::Integer;
  llvm::SMLoc loc; // the first character of the expression (the operator for Binary and Ternary)
  std::string text;
  int64_t integer = 0;
  double number = 0.0;
  bool boolean = false;
  std::vector<std::unique_ptr<Expr>> operands;
  unsigned height = 1; // of the tree; the parser bounds it so that recursive walks cannot overflow
};
using ExprPtr = std::unique_ptr<Expr>;

/// The start of an expression, for diagnostics that point at the whole value.
llvm::SMLoc startLoc(const Expr &e);

struct Field {
  std::string key;
  llvm::SMLoc keyLoc;
  ExprPtr value;
};

/// `first..last step s` (inclusive), or a single layer (first == last).
struct LayerRange {
  int64_t first = 0, last = 0, step = 1;
  llvm::SMLoc loc;
};

/// `kind [name | layer-set] [{ entries }]`: top-level `attention NAME`, `model NAME`, `variant NAME`;
/// nested `attention`, `rope`, `mlp`, `norm`, `layers 0..3`, `variant NAME`.
struct Block {
  std::string kind;
  llvm::SMLoc loc;
  std::string name; // empty when the block has none
  llvm::SMLoc nameLoc;
  std::vector<LayerRange> layers; // for `layers` blocks
  bool hasBody = true;            // false for `variant NAME` without braces
  std::vector<Field> fields;
  std::vector<Block> blocks;
};

struct ConstDecl {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr value;
};

/// A parsed file with its includes spliced in where they appear.
struct SpecFile {
  std::vector<Block> blocks;
  std::vector<ConstDecl> consts;
};

void printExpr(const Expr &e, llvm::raw_ostream &os);
void printAST(const SpecFile &file, llvm::raw_ostream &os);

} // namespace xf

#endif // XF_FRONTEND_AST_H
