//===- Lexer.h - tokens of .xf files --------------------------------------===//
#ifndef XF_FRONTEND_LEXER_H
#define XF_FRONTEND_LEXER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

namespace xf {

struct Token {
  enum Kind {
    Ident, Integer, Float, String,
    LBrace, RBrace, LParen, RParen, LBracket, RBracket,
    Comma, Equal, Semi, Colon, Question, DotDot, Newline,
    Plus, Minus, Star, Slash, Percent, Bang,
    AndAnd, OrOr, EqEq, NotEq, Less, LessEq, Greater, GreaterEq,
    Eof, Error
  };
  Kind kind = Eof;
  /// The spelling; for strings it includes the quotes, for an unterminated string it runs to the end of
  /// the line.
  llvm::StringRef text;
  llvm::SMLoc loc() const { return llvm::SMLoc::getFromPointer(text.data()); }
  bool is(Kind k) const { return kind == k; }
};

/// Splits a buffer into tokens. Newlines are tokens (they end a `key = value` line); `#` comments are
/// skipped. A number runs over any letters glued to it (`1x` is one malformed number, not `1` `x`), so
/// that the parser can say which spelling is wrong; `..` ends a number (`0..3`).
class Lexer {
public:
  explicit Lexer(llvm::StringRef buffer) : cur(buffer.begin()), end(buffer.end()) {}
  Token next();

private:
  const char *cur, *end;
};

} // namespace xf

#endif // XF_FRONTEND_LEXER_H
