//===- Parser.cpp - parser of .xf files -----------------------------------===//
//
// The grammar is in docs/DSL.md. Expressions are parsed by precedence climbing; newlines end a field
// except inside parentheses and brackets and after a binary operator, so long lists and formulas can
// span lines.
//
//===----------------------------------------------------------------------===//
#include "frontend/Parser.h"

#include "frontend/Lexer.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

using namespace xf;
using llvm::SMLoc;

namespace {

constexpr int kMaxExprDepth = 200;
constexpr unsigned kMaxExprHeight = 400;
constexpr int kMaxBlockDepth = 32;
constexpr int kMaxIncludeDepth = 32;

/// State shared by the parsers of a file and the files it includes.
struct IncludeState {
  ParseOptions options;
  llvm::StringSet<> read;                 // real paths of files already parsed
  std::vector<std::string> stack;         // real paths of the files being parsed, outermost first
  bool failed = false;
};

class Parser {
public:
  Parser(llvm::SourceMgr &sm, unsigned bufferId, IncludeState &state, SpecFile &file)
      : sm(sm), bufferId(bufferId), state(state), file(file),
        lexer(sm.getMemoryBuffer(bufferId)->getBuffer()) {
    advance();
  }

  void parseFile() {
    while (true) {
      skipNewlines();
      if (tok.is(Token::Eof))
        break;
      if (tok.is(Token::Ident) && tok.text == "include") {
        parseInclude();
        continue;
      }
      if (tok.is(Token::Ident) && tok.text == "const") {
        parseConst();
        continue;
      }
      if (auto block = parseTopBlock())
        file.blocks.push_back(std::move(*block));
      else
        recoverToNextBlock();
    }
  }

private:
  //===--------------------------------------------------------------------===//
  // Tokens and errors
  //===--------------------------------------------------------------------===//
  void advance() {
    tok = lexer.next();
    while (nesting > 0 && tok.is(Token::Newline))
      tok = lexer.next();
  }
  Token peek() {
    Lexer copy = lexer;
    Token t = copy.next();
    while (nesting > 0 && t.is(Token::Newline))
      t = copy.next();
    return t;
  }
  Token peek2() {
    Lexer copy = lexer;
    copy.next();
    return copy.next();
  }
  void skipNewlines() {
    while (tok.is(Token::Newline) || tok.is(Token::Semi))
      advance();
  }
  void error(SMLoc loc, const llvm::Twine &msg) {
    sm.PrintMessage(loc, llvm::SourceMgr::DK_Error, msg);
    state.failed = true;
  }
  static std::string describe(const Token &t) {
    switch (t.kind) {
    case Token::Eof:
      return "end of file";
    case Token::Newline:
      return "end of line";
    default:
      return "'" + t.text.str() + "'";
    }
  }
  bool atLineEnd() const {
    return tok.is(Token::Newline) || tok.is(Token::Semi) || tok.is(Token::RBrace) || tok.is(Token::Eof);
  }
  /// Skips the rest of a broken entry: to the end of its line, or past the block it opened.
  void recoverToNextLine() {
    nesting = 0;
    int braces = 0;
    while (!tok.is(Token::Eof)) {
      if (tok.is(Token::LBrace)) {
        ++braces;
      } else if (tok.is(Token::RBrace)) {
        if (braces == 0)
          break;
        --braces;
      } else if (braces == 0 && (tok.is(Token::Newline) || tok.is(Token::Semi))) {
        break;
      }
      advance();
    }
  }
  void recoverToNextBlock() {
    nesting = 0;
    while (!tok.is(Token::RBrace) && !tok.is(Token::Eof))
      advance();
    if (tok.is(Token::RBrace))
      advance();
  }

  //===--------------------------------------------------------------------===//
  // Top level
  //===--------------------------------------------------------------------===//
  void parseInclude() {
    SMLoc loc = tok.loc();
    advance();
    if (!tok.is(Token::String)) {
      error(tok.loc(), "expected a file name in quotes after 'include', found " + describe(tok));
      recoverToNextLine();
      return;
    }
    std::string name = tok.text.drop_front().drop_back().str();
    SMLoc nameLoc = tok.loc();
    advance();
    if (!atLineEnd()) {
      error(tok.loc(), "expected end of line after the included file name, found " + describe(tok));
      recoverToNextLine();
      return;
    }
    if (!state.options.allowIncludes) {
      error(loc, "includes are disabled here");
      return;
    }
    llvm::SmallString<256> path(name);
    if (!llvm::sys::path::is_absolute(path)) {
      llvm::StringRef including = sm.getMemoryBuffer(bufferId)->getBufferIdentifier();
      llvm::SmallString<256> dir(including == "<stdin>" ? "" : llvm::sys::path::parent_path(including));
      llvm::sys::path::append(dir, name);
      path = dir;
    }
    llvm::SmallString<256> real;
    if (llvm::sys::fs::real_path(path, real) || llvm::sys::fs::is_directory(real)) {
      error(nameLoc, "cannot include '" + name + "': no such file (looked for '" + path + "')");
      return;
    }
    if (llvm::is_contained(state.stack, std::string(real))) {
      error(nameLoc, "include cycle: '" + name + "' is already being read");
      return;
    }
    if (!state.read.insert(real).second)
      return; // already read: a file is included once
    if (state.stack.size() >= kMaxIncludeDepth) {
      error(nameLoc, "includes nested deeper than " + llvm::Twine(kMaxIncludeDepth));
      return;
    }
    auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
    if (std::error_code ec = buffer.getError()) {
      error(nameLoc, "cannot include '" + name + "': " + ec.message());
      return;
    }
    unsigned id = sm.AddNewSourceBuffer(std::move(*buffer), loc);
    state.stack.push_back(std::string(real));
    Parser(sm, id, state, file).parseFile();
    state.stack.pop_back();
  }

  void parseConst() {
    advance();
    if (!tok.is(Token::Ident)) {
      error(tok.loc(), "expected a name after 'const', found " + describe(tok));
      recoverToNextLine();
      return;
    }
    ConstDecl decl;
    decl.name = tok.text.str();
    decl.loc = tok.loc();
    advance();
    if (!tok.is(Token::Equal)) {
      error(tok.loc(), "expected '=' after 'const " + decl.name + "', found " + describe(tok));
      recoverToNextLine();
      return;
    }
    advance();
    decl.value = parseValue(decl.name);
    if (!decl.value) {
      recoverToNextLine();
      return;
    }
    if (!atLineEnd()) {
      error(tok.loc(), "expected end of line after the value of '" + decl.name + "', found " + describe(tok));
      recoverToNextLine();
      return;
    }
    file.consts.push_back(std::move(decl));
  }

  std::optional<Block> parseTopBlock() {
    Block block;
    if (!tok.is(Token::Ident)) {
      error(tok.loc(), "expected a block such as 'attention NAME {', found " + describe(tok));
      return std::nullopt;
    }
    block.kind = tok.text.str();
    block.loc = tok.loc();
    advance();
    if (!tok.is(Token::Ident)) {
      error(tok.loc(), "expected a name after '" + block.kind + "', found " + describe(tok));
      return std::nullopt;
    }
    block.name = tok.text.str();
    block.nameLoc = tok.loc();
    advance();
    if (!tok.is(Token::LBrace)) {
      error(tok.loc(), "expected '{' after '" + block.kind + " " + block.name + "', found " + describe(tok));
      return std::nullopt;
    }
    advance();
    if (!parseBody(block, 1))
      return std::nullopt;
    return block;
  }

  //===--------------------------------------------------------------------===//
  // Blocks
  //===--------------------------------------------------------------------===//
  /// Parses entries up to and including the closing brace; false if the file ends first.
  bool parseBody(Block &block, int depth) {
    while (true) {
      skipNewlines();
      if (tok.is(Token::RBrace)) {
        advance();
        return true;
      }
      if (tok.is(Token::Eof)) {
        error(block.loc, "block '" + (block.name.empty() ? block.kind : block.name) +
                             "' is not closed: missing '}'");
        return false;
      }
      if (!parseEntry(block, depth))
        recoverToNextLine();
    }
  }

  bool parseEntry(Block &block, int depth) {
    if (!tok.is(Token::Ident)) {
      error(tok.loc(), "expected a key, found " + describe(tok));
      return false;
    }
    Token key = tok;
    Token next = peek();
    if (next.is(Token::Equal)) {
      Field field;
      field.key = key.text.str();
      field.keyLoc = key.loc();
      advance();
      advance();
      field.value = parseValue(field.key);
      if (!field.value)
        return false;
      if (!atLineEnd()) {
        error(tok.loc(), "expected end of line after the value of '" + field.key + "', found " + describe(tok));
        return false;
      }
      block.fields.push_back(std::move(field));
      return true;
    }
    bool layerKey = key.text == "layers" || key.text == "layer";
    bool layers = layerKey && next.is(Token::Integer);
    bool variant = key.text == "variant" && next.is(Token::Ident);
    bool unnamed = !layerKey && next.is(Token::LBrace);
    bool named = !layerKey && next.is(Token::Ident) && peek2().is(Token::LBrace);
    if (!layers && !variant && !unnamed && !named) {
      if (layerKey)
        error(next.loc(), "expected '=' or a layer selection such as '0..3' after '" + key.text + "', found " +
                              describe(next));
      else
        error(next.loc(), "expected '=' after '" + key.text + "', found " + describe(next));
      advance();
      return false;
    }
    if (depth >= kMaxBlockDepth) {
      error(key.loc(), "blocks nested deeper than " + llvm::Twine(kMaxBlockDepth));
      return false;
    }
    Block nested;
    nested.kind = key.text.str();
    nested.loc = key.loc();
    advance();
    if (layers) {
      nested.kind = "layers";
      if (!parseLayerSet(nested))
        return false;
    } else if (variant || named) {
      nested.name = tok.text.str();
      nested.nameLoc = tok.loc();
      advance();
    }
    if (variant && !tok.is(Token::LBrace)) {
      if (!atLineEnd()) {
        error(tok.loc(), "expected '{' or end of line after 'variant " + nested.name + "', found " + describe(tok));
        return false;
      }
      nested.hasBody = false;
      block.blocks.push_back(std::move(nested));
      return true;
    }
    if (!tok.is(Token::LBrace)) {
      error(tok.loc(), "expected '{' after the layer selection, found " + describe(tok));
      return false;
    }
    advance();
    if (!parseBody(nested, depth + 1))
      return false;
    block.blocks.push_back(std::move(nested));
    // The closing brace may be followed by more entries on the same line only after ';'.
    if (!atLineEnd()) {
      error(tok.loc(), "expected end of line after '}', found " + describe(tok));
      return false;
    }
    return true;
  }

  std::optional<int64_t> parseLayerNumber() {
    if (!tok.is(Token::Integer)) {
      error(tok.loc(), "expected a layer number, found " + describe(tok));
      return std::nullopt;
    }
    int64_t n;
    if (tok.text.getAsInteger(10, n)) {
      error(tok.loc(), "'" + tok.text + "' is not a valid layer number");
      return std::nullopt;
    }
    advance();
    return n;
  }

  /// layer-set := range (',' range)* ; range := INT ['..' INT] ['step' INT]
  bool parseLayerSet(Block &block) {
    while (true) {
      LayerRange range;
      range.loc = tok.loc();
      auto first = parseLayerNumber();
      if (!first)
        return false;
      range.first = range.last = *first;
      if (tok.is(Token::DotDot)) {
        advance();
        auto last = parseLayerNumber();
        if (!last)
          return false;
        range.last = *last;
        if (tok.is(Token::Ident) && tok.text == "step") {
          advance();
          auto step = parseLayerNumber();
          if (!step)
            return false;
          range.step = *step;
        }
      }
      block.layers.push_back(range);
      if (!tok.is(Token::Comma))
        return true;
      advance();
    }
  }

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//
  static bool startsExpression(const Token &t) {
    switch (t.kind) {
    case Token::Integer:
    case Token::Float:
    case Token::String:
    case Token::Ident:
    case Token::LParen:
    case Token::LBracket:
    case Token::Minus:
    case Token::Bang:
      return true;
    default:
      return false;
    }
  }

  /// The value of `key = ...`.
  ExprPtr parseValue(llvm::StringRef key) {
    if (!startsExpression(tok)) {
      error(tok.loc(), "expected a value after '" + key + " =', found " + describe(tok));
      return nullptr;
    }
    depth = 0;
    return parseExpr();
  }

  static int precedence(Token::Kind k) {
    switch (k) {
    case Token::OrOr:
      return 1;
    case Token::AndAnd:
      return 2;
    case Token::EqEq:
    case Token::NotEq:
      return 3;
    case Token::Less:
    case Token::LessEq:
    case Token::Greater:
    case Token::GreaterEq:
      return 4;
    case Token::Plus:
    case Token::Minus:
      return 5;
    case Token::Star:
    case Token::Slash:
    case Token::Percent:
      return 6;
    default:
      return 0;
    }
  }

  struct DepthGuard {
    int &d;
    explicit DepthGuard(int &d) : d(d) { ++d; }
    ~DepthGuard() { --d; }
  };

  /// Sets the height of `e` from its operands; an error if the tree is too tall to walk recursively.
  ExprPtr seal(ExprPtr e) {
    unsigned h = 0;
    for (const ExprPtr &o : e->operands)
      h = std::max(h, o->height);
    e->height = h + 1;
    if (e->height > kMaxExprHeight) {
      error(e->loc, "expression nested too deeply");
      return nullptr;
    }
    return e;
  }

  /// expr := binary ['?' expr ':' expr]
  ExprPtr parseExpr() {
    DepthGuard guard(depth);
    if (depth > kMaxExprDepth) {
      error(tok.loc(), "expression nested too deeply");
      return nullptr;
    }
    ExprPtr cond = parseBinary(1);
    if (!cond || !tok.is(Token::Question))
      return cond;
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::Ternary;
    e->loc = tok.loc();
    advanceOverOperator();
    ExprPtr a = parseExpr();
    if (!a)
      return nullptr;
    if (!tok.is(Token::Colon)) {
      error(tok.loc(), "expected ':' in 'condition ? a : b', found " + describe(tok));
      return nullptr;
    }
    advanceOverOperator();
    ExprPtr b = parseExpr();
    if (!b)
      return nullptr;
    e->operands.push_back(std::move(cond));
    e->operands.push_back(std::move(a));
    e->operands.push_back(std::move(b));
    return seal(std::move(e));
  }

  /// An operator may end a line; the expression continues on the next.
  void advanceOverOperator() {
    advance();
    while (tok.is(Token::Newline))
      advance();
  }

  ExprPtr parseBinary(int minPrecedence) {
    ExprPtr lhs = parseUnary();
    if (!lhs)
      return nullptr;
    while (true) {
      int p = precedence(tok.kind);
      if (p == 0 || p < minPrecedence)
        return lhs;
      auto e = std::make_unique<Expr>();
      e->kind = Expr::Kind::Binary;
      e->loc = tok.loc();
      e->text = tok.text.str();
      advanceOverOperator();
      ExprPtr rhs = parseBinary(p + 1);
      if (!rhs)
        return nullptr;
      e->operands.push_back(std::move(lhs));
      e->operands.push_back(std::move(rhs));
      lhs = seal(std::move(e));
      if (!lhs)
        return nullptr;
    }
  }

  ExprPtr parseUnary() {
    if (tok.is(Token::Minus) || tok.is(Token::Bang)) {
      DepthGuard guard(depth);
      if (depth > kMaxExprDepth) {
        error(tok.loc(), "expression nested too deeply");
        return nullptr;
      }
      auto e = std::make_unique<Expr>();
      e->kind = Expr::Kind::Unary;
      e->loc = tok.loc();
      e->text = tok.text.str();
      advance();
      ExprPtr x = parseUnary();
      if (!x)
        return nullptr;
      e->operands.push_back(std::move(x));
      return seal(std::move(e));
    }
    return parsePostfix();
  }

  ExprPtr parsePostfix() {
    ExprPtr e = parsePrimary();
    while (e && tok.is(Token::LBracket)) {
      auto index = std::make_unique<Expr>();
      index->kind = Expr::Kind::Index;
      index->loc = tok.loc();
      ++nesting;
      advance();
      ExprPtr i = parseExpr();
      if (!i)
        return nullptr;
      if (!tok.is(Token::RBracket)) {
        error(tok.loc(), "expected ']' after the index, found " + describe(tok));
        return nullptr;
      }
      --nesting;
      advance();
      index->operands.push_back(std::move(e));
      index->operands.push_back(std::move(i));
      e = seal(std::move(index));
    }
    return e;
  }

  /// Parses `item (',' item)* close` after the opening token; allows a trailing comma.
  bool parseList(std::vector<ExprPtr> &out, Token::Kind close, llvm::StringRef what) {
    if (tok.is(close))
      return true;
    while (true) {
      ExprPtr item = parseExpr();
      if (!item)
        return false;
      out.push_back(std::move(item));
      if (tok.is(Token::Comma)) {
        advance();
        if (tok.is(close))
          return true;
        continue;
      }
      if (tok.is(close))
        return true;
      error(tok.loc(), "expected ',' or '" + llvm::StringRef(close == Token::RParen ? ")" : "]") + "' in " +
                           what + ", found " + describe(tok));
      return false;
    }
  }

  ExprPtr parsePrimary() {
    auto e = std::make_unique<Expr>();
    e->loc = tok.loc();
    e->text = tok.text.str();
    switch (tok.kind) {
    case Token::Integer:
      e->kind = Expr::Kind::Integer;
      if (tok.text.getAsInteger(10, e->integer)) {
        error(tok.loc(), "'" + tok.text + "' is not a valid integer");
        return nullptr;
      }
      e->number = static_cast<double>(e->integer);
      advance();
      return e;
    case Token::Float: {
      e->kind = Expr::Kind::Float;
      char *endp = nullptr;
      errno = 0;
      e->number = std::strtod(e->text.c_str(), &endp);
      if (endp != e->text.c_str() + e->text.size()) {
        error(tok.loc(), "'" + tok.text + "' is not a valid number");
        return nullptr;
      }
      if (!std::isfinite(e->number)) {
        error(tok.loc(), "'" + tok.text + "' is out of range");
        return nullptr;
      }
      advance();
      return e;
    }
    case Token::String:
      e->kind = Expr::Kind::String;
      e->text = tok.text.drop_front().drop_back().str();
      advance();
      return e;
    case Token::Ident:
      if (tok.text == "true" || tok.text == "false") {
        e->kind = Expr::Kind::Bool;
        e->boolean = tok.text == "true";
        advance();
        return e;
      }
      e->kind = Expr::Kind::Name;
      advance();
      if (tok.is(Token::LParen)) {
        e->kind = Expr::Kind::Call;
        ++nesting;
        advance();
        if (!parseList(e->operands, Token::RParen, "the arguments of '" + e->text + "'"))
          return nullptr;
        --nesting;
        advance();
        return seal(std::move(e));
      }
      return e;
    case Token::LParen: {
      ++nesting;
      advance();
      ExprPtr inner = parseExpr();
      if (!inner)
        return nullptr;
      if (!tok.is(Token::RParen)) {
        error(tok.loc(), "expected ')', found " + describe(tok));
        return nullptr;
      }
      --nesting;
      advance();
      return inner;
    }
    case Token::LBracket:
      e->kind = Expr::Kind::Array;
      ++nesting;
      advance();
      if (!parseList(e->operands, Token::RBracket, "the list"))
        return nullptr;
      --nesting;
      advance();
      return seal(std::move(e));
    default:
      error(tok.loc(), "expected an expression, found " + describe(tok));
      return nullptr;
    }
  }

  llvm::SourceMgr &sm;
  unsigned bufferId;
  IncludeState &state;
  SpecFile &file;
  Lexer lexer;
  Token tok;
  int nesting = 0; // open parentheses and brackets: newlines inside them are not line ends
  int depth = 0;   // expression recursion depth
};

} // namespace

std::optional<SpecFile> xf::parseSpec(llvm::SourceMgr &sourceMgr, unsigned bufferId, const ParseOptions &options) {
  IncludeState state;
  state.options = options;
  llvm::StringRef name = sourceMgr.getMemoryBuffer(bufferId)->getBufferIdentifier();
  llvm::SmallString<256> real;
  if (!llvm::sys::fs::real_path(name, real)) {
    state.read.insert(real);
    state.stack.push_back(std::string(real));
  }
  SpecFile file;
  Parser(sourceMgr, bufferId, state, file).parseFile();
  if (state.failed)
    return std::nullopt;
  return file;
}

//===----------------------------------------------------------------------===//
// Printing the syntax tree (--emit=ast)
//===----------------------------------------------------------------------===//

SMLoc xf::startLoc(const Expr &e) {
  if ((e.kind == Expr::Kind::Binary || e.kind == Expr::Kind::Ternary || e.kind == Expr::Kind::Index) &&
      !e.operands.empty())
    return startLoc(*e.operands[0]);
  return e.loc;
}

static int exprPrecedence(const Expr &e) {
  if (e.kind == Expr::Kind::Ternary)
    return 0;
  if (e.kind != Expr::Kind::Binary)
    return 10;
  llvm::StringRef op = e.text;
  if (op == "||")
    return 1;
  if (op == "&&")
    return 2;
  if (op == "==" || op == "!=")
    return 3;
  if (op == "<" || op == "<=" || op == ">" || op == ">=")
    return 4;
  if (op == "+" || op == "-")
    return 5;
  return 6;
}

static void printOperand(const Expr &e, int minPrecedence, llvm::raw_ostream &os) {
  bool parens = exprPrecedence(e) < minPrecedence;
  if (parens)
    os << "(";
  printExpr(e, os);
  if (parens)
    os << ")";
}

void xf::printExpr(const Expr &e, llvm::raw_ostream &os) {
  switch (e.kind) {
  case Expr::Kind::Integer:
  case Expr::Kind::Float:
  case Expr::Kind::Bool:
  case Expr::Kind::Name:
    os << e.text;
    return;
  case Expr::Kind::String:
    os << '"' << e.text << '"';
    return;
  case Expr::Kind::Array:
  case Expr::Kind::Call:
    if (e.kind == Expr::Kind::Call)
      os << e.text << "(";
    else
      os << "[";
    for (size_t i = 0; i < e.operands.size(); ++i) {
      if (i)
        os << ", ";
      printExpr(*e.operands[i], os);
    }
    os << (e.kind == Expr::Kind::Call ? ")" : "]");
    return;
  case Expr::Kind::Unary:
    os << e.text;
    printOperand(*e.operands[0], 7, os);
    return;
  case Expr::Kind::Binary: {
    int p = exprPrecedence(e);
    printOperand(*e.operands[0], p, os);
    os << " " << e.text << " ";
    printOperand(*e.operands[1], p + 1, os);
    return;
  }
  case Expr::Kind::Ternary:
    printOperand(*e.operands[0], 1, os);
    os << " ? ";
    printExpr(*e.operands[1], os);
    os << " : ";
    printExpr(*e.operands[2], os);
    return;
  case Expr::Kind::Index:
    printOperand(*e.operands[0], 10, os);
    os << "[";
    printExpr(*e.operands[1], os);
    os << "]";
    return;
  }
}

static void printBlock(const Block &block, unsigned indent, llvm::raw_ostream &os) {
  os.indent(indent) << block.kind;
  if (!block.name.empty())
    os << " " << block.name;
  for (size_t i = 0; i < block.layers.size(); ++i) {
    const LayerRange &r = block.layers[i];
    os << (i ? ", " : " ") << r.first;
    if (r.last != r.first || r.step != 1)
      os << ".." << r.last;
    if (r.step != 1)
      os << " step " << r.step;
  }
  if (!block.hasBody) {
    os << "\n";
    return;
  }
  os << " {\n";
  for (const Field &field : block.fields) {
    os.indent(indent + 2) << field.key << " = ";
    printExpr(*field.value, os);
    os << "\n";
  }
  for (const Block &nested : block.blocks)
    printBlock(nested, indent + 2, os);
  os.indent(indent) << "}\n";
}

void xf::printAST(const SpecFile &file, llvm::raw_ostream &os) {
  for (const ConstDecl &c : file.consts) {
    os << "const " << c.name << " = ";
    printExpr(*c.value, os);
    os << "\n";
  }
  for (const Block &block : file.blocks)
    printBlock(block, 0, os);
}
