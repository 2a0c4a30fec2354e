//===- Parser.cpp - lexer and parser of .xf files -------------------------===//
//
//   file  := block*
//   block := IDENT IDENT '{' field* '}'
//   field := IDENT '=' value (newline | ';')
//   value := INTEGER | FLOAT | 'true' | 'false' | IDENT | STRING
//   comments run from '#' to the end of the line.
//
//===----------------------------------------------------------------------===//
#include "frontend/Parser.h"

#include "llvm/ADT/StringExtras.h"

#include <cctype>
#include <cstdlib>

using namespace xf;
using llvm::SMLoc;

namespace {

struct Token {
  enum Kind { Ident, Integer, Float, String, LBrace, RBrace, Equal, Newline, Semi, Eof, Error } kind;
  llvm::StringRef text;
  SMLoc loc() const { return SMLoc::getFromPointer(text.data()); }
};

class Lexer {
public:
  explicit Lexer(llvm::StringRef buffer) : cur(buffer.begin()), end(buffer.end()) {}

  Token next() {
    while (cur < end && (*cur == ' ' || *cur == '\t' || *cur == '\r' || *cur == '#')) {
      if (*cur == '#')
        while (cur < end && *cur != '\n')
          ++cur;
      else
        ++cur;
    }
    if (cur >= end)
      return {Token::Eof, llvm::StringRef(end, 0)};
    const char *start = cur;
    char c = *cur++;
    auto make = [&](Token::Kind kind) { return Token{kind, llvm::StringRef(start, cur - start)}; };
    switch (c) {
    case '\n':
      return make(Token::Newline);
    case '{':
      return make(Token::LBrace);
    case '}':
      return make(Token::RBrace);
    case '=':
      return make(Token::Equal);
    case ';':
      return make(Token::Semi);
    case '"':
      while (cur < end && *cur != '"' && *cur != '\n')
        ++cur;
      if (cur >= end || *cur != '"')
        return make(Token::Error);
      ++cur;
      return make(Token::String);
    default:
      break;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (cur < end && (std::isalnum(static_cast<unsigned char>(*cur)) || *cur == '_'))
        ++cur;
      return make(Token::Ident);
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.') {
      bool isFloat = c == '.';
      while (cur < end && (std::isalnum(static_cast<unsigned char>(*cur)) || *cur == '.' ||
                           ((*cur == '-' || *cur == '+') && (cur[-1] == 'e' || cur[-1] == 'E')))) {
        if (*cur == '.' || *cur == 'e' || *cur == 'E')
          isFloat = true;
        ++cur;
      }
      return make(isFloat ? Token::Float : Token::Integer);
    }
    return make(Token::Error);
  }

private:
  const char *cur, *end;
};

class Parser {
public:
  Parser(llvm::SourceMgr &sm, unsigned bufferId)
      : sm(sm), lexer(sm.getMemoryBuffer(bufferId)->getBuffer()) {
    advance();
  }

  std::optional<SpecFile> parse() {
    SpecFile file;
    while (true) {
      skipNewlines();
      if (tok.kind == Token::Eof)
        break;
      if (auto block = parseSection())
        file.blocks.push_back(std::move(*block));
      else
        recoverToNextBlock();
    }
    if (failed)
      return std::nullopt;
    return file;
  }

private:
  void advance() { tok = lexer.next(); }
  void skipNewlines() {
    while (tok.kind == Token::Newline || tok.kind == Token::Semi)
      advance();
  }
  void error(SMLoc loc, const llvm::Twine &msg) {
    sm.PrintMessage(loc, llvm::SourceMgr::DK_Error, msg);
    failed = true;
  }
  std::string describe(const Token &t) {
    switch (t.kind) {
    case Token::Eof:
      return "end of file";
    case Token::Newline:
      return "end of line";
    default:
      return "'" + t.text.str() + "'";
    }
  }
  void recoverToNextLine() {
    while (tok.kind != Token::Newline && tok.kind != Token::Semi && tok.kind != Token::Eof &&
           tok.kind != Token::RBrace)
      advance();
  }
  void recoverToNextBlock() {
    while (tok.kind != Token::RBrace && tok.kind != Token::Eof)
      advance();
    if (tok.kind == Token::RBrace)
      advance();
  }

  std::optional<Section> parseSection() {
    Section block;
    if (tok.kind != Token::Ident) {
      error(tok.loc(), "expected a block such as 'attention NAME {', found " + describe(tok));
      return std::nullopt;
    }
    block.kind = tok.text.str();
    block.loc = tok.loc();
    advance();
    if (tok.kind != Token::Ident) {
      error(tok.loc(), "expected a name after '" + block.kind + "', found " + describe(tok));
      return std::nullopt;
    }
    block.name = tok.text.str();
    block.nameLoc = tok.loc();
    advance();
    if (tok.kind != Token::LBrace) {
      error(tok.loc(), "expected '{' after '" + block.kind + " " + block.name + "', found " + describe(tok));
      return std::nullopt;
    }
    advance();
    while (true) {
      skipNewlines();
      if (tok.kind == Token::RBrace) {
        advance();
        return block;
      }
      if (tok.kind == Token::Eof) {
        error(block.loc, "block '" + block.name + "' is not closed: missing '}'");
        return std::nullopt;
      }
      if (auto field = parseField())
        block.fields.push_back(std::move(*field));
      else
        recoverToNextLine();
    }
  }

  std::optional<Field> parseField() {
    Field field;
    if (tok.kind != Token::Ident) {
      error(tok.loc(), "expected a key, found " + describe(tok));
      return std::nullopt;
    }
    field.key = tok.text.str();
    field.keyLoc = tok.loc();
    advance();
    if (tok.kind != Token::Equal) {
      error(tok.loc(), "expected '=' after '" + field.key + "', found " + describe(tok));
      return std::nullopt;
    }
    advance();
    Value &v = field.value;
    v.loc = tok.loc();
    v.text = tok.text.str();
    switch (tok.kind) {
    case Token::Integer:
      v.kind = Value::Kind::Integer;
      if (tok.text.getAsInteger(10, v.integer)) {
        error(tok.loc(), "'" + v.text + "' is not a valid integer");
        return std::nullopt;
      }
      v.number = static_cast<double>(v.integer);
      break;
    case Token::Float: {
      v.kind = Value::Kind::Float;
      char *endp = nullptr;
      std::string s = v.text;
      v.number = std::strtod(s.c_str(), &endp);
      if (endp != s.c_str() + s.size()) {
        error(tok.loc(), "'" + v.text + "' is not a valid number");
        return std::nullopt;
      }
      break;
    }
    case Token::Ident:
      if (tok.text == "true" || tok.text == "false") {
        v.kind = Value::Kind::Bool;
        v.boolean = tok.text == "true";
      } else {
        v.kind = Value::Kind::Word;
      }
      break;
    case Token::String:
      v.kind = Value::Kind::String;
      v.text = tok.text.drop_front().drop_back().str();
      break;
    default:
      error(tok.loc(), "expected a value after '" + field.key + " =', found " + describe(tok));
      return std::nullopt;
    }
    advance();
    if (tok.kind != Token::Newline && tok.kind != Token::Semi && tok.kind != Token::RBrace &&
        tok.kind != Token::Eof) {
      error(tok.loc(), "expected end of line after the value of '" + field.key + "', found " + describe(tok));
      return std::nullopt;
    }
    return field;
  }

  llvm::SourceMgr &sm;
  Lexer lexer;
  Token tok{Token::Eof, {}};
  bool failed = false;
};

} // namespace

std::optional<SpecFile> xf::parseSpec(llvm::SourceMgr &sourceMgr, unsigned bufferId) {
  return Parser(sourceMgr, bufferId).parse();
}

void xf::printAST(const SpecFile &file, llvm::raw_ostream &os) {
  for (const Section &block : file.blocks) {
    os << block.kind << " " << block.name << " {\n";
    for (const Field &field : block.fields) {
      os << "  " << field.key << " = ";
      if (field.value.kind == Value::Kind::String)
        os << '"' << field.value.text << '"';
      else
        os << field.value.text;
      os << "\n";
    }
    os << "}\n";
  }
}
