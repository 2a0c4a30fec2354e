//===- Lexer.cpp - tokens of .xf files ------------------------------------===//
#include "frontend/Lexer.h"

#include <cctype>

using namespace xf;

static bool isIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
static bool isDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)); }

Token Lexer::next() {
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
  auto follows = [&](char n) {
    if (cur < end && *cur == n) {
      ++cur;
      return true;
    }
    return false;
  };
  switch (c) {
  case '\n':
    return make(Token::Newline);
  case '{':
    return make(Token::LBrace);
  case '}':
    return make(Token::RBrace);
  case '(':
    return make(Token::LParen);
  case ')':
    return make(Token::RParen);
  case '[':
    return make(Token::LBracket);
  case ']':
    return make(Token::RBracket);
  case ',':
    return make(Token::Comma);
  case ';':
    return make(Token::Semi);
  case ':':
    return make(Token::Colon);
  case '?':
    return make(Token::Question);
  case '+':
    return make(Token::Plus);
  case '-':
    return make(Token::Minus);
  case '*':
    return make(Token::Star);
  case '/':
    return make(Token::Slash);
  case '%':
    return make(Token::Percent);
  case '=':
    return make(follows('=') ? Token::EqEq : Token::Equal);
  case '!':
    return make(follows('=') ? Token::NotEq : Token::Bang);
  case '<':
    return make(follows('=') ? Token::LessEq : Token::Less);
  case '>':
    return make(follows('=') ? Token::GreaterEq : Token::Greater);
  case '&':
    return make(follows('&') ? Token::AndAnd : Token::Error);
  case '|':
    return make(follows('|') ? Token::OrOr : Token::Error);
  case '"':
    while (cur < end && *cur != '"' && *cur != '\n')
      ++cur;
    if (cur >= end || *cur != '"')
      return make(Token::Error);
    ++cur;
    return make(Token::String);
  case '.':
    if (follows('.'))
      return make(Token::DotDot);
    if (cur >= end || !isDigit(*cur))
      return make(Token::Error);
    break; // a number such as .5
  default:
    break;
  }
  if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
    while (cur < end && isIdentChar(*cur))
      ++cur;
    return make(Token::Ident);
  }
  if (!isDigit(c) && c != '.')
    return make(Token::Error);
  // digits [. digits] [e [+-] digits], then anything glued to it (which makes it malformed).
  bool isFloat = c == '.';
  auto digits = [&] {
    while (cur < end && isDigit(*cur))
      ++cur;
  };
  digits();
  if (!isFloat && cur < end && *cur == '.' && !(cur + 1 < end && cur[1] == '.')) {
    isFloat = true;
    ++cur;
    digits();
  }
  if (cur < end && (*cur == 'e' || *cur == 'E')) {
    const char *p = cur + 1;
    if (p < end && (*p == '+' || *p == '-'))
      ++p;
    if (p < end && isDigit(*p)) {
      isFloat = true;
      cur = p;
      digits();
    }
  }
  while (cur < end && (isIdentChar(*cur) || (*cur == '.' && !(cur + 1 < end && cur[1] == '.'))))
    ++cur;
  return make(isFloat ? Token::Float : Token::Integer);
}
