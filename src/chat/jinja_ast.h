// jinja_ast.h — tokens and syntax tree of f8's Jinja subset (internal to
// src/chat). The lexer reproduces jinja2's whitespace handling as
// transformers configures it (trim_blocks, lstrip_blocks, `-`/`+` markers,
// one trailing newline dropped, newlines normalized to \n).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat/jinja_value.h"

namespace f8::chat::jinja {

enum class Tok { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
  Tok type;
  std::string text;  // Data text, name, operator, or decoded string literal
  int64_t ival = 0;
  double fval = 0;
  int line = 0, col = 0;
};

// Throws Error naming line/column.
std::vector<Token> lex(const std::string& source);

struct Expr;
using ExprP = std::unique_ptr<Expr>;
struct Expr {
  enum T {
    Const, Name, GetAttr, GetItem, Slice, Call, Filter, Test, Neg, Pos, Not, Binary, Compare,
    And, Or, Cond, ListLit, TupleLit, DictLit
  } t;
  Value value;                   // Const
  std::string name;              // Name / GetAttr attr / Filter, Test name / Binary op
  std::vector<ExprP> kids;       // operands; Call/Filter/Test: kids[0] = callee/subject, then args
  std::vector<std::pair<std::string, ExprP>> kwargs;  // Call/Filter/Test keyword args
  std::vector<std::string> ops;  // Compare: ops between kids (==, !=, <, in, notin, ...)
  bool negate = false;           // Test: `is not`
  int line = 0, col = 0;
};

struct Node;
using NodeP = std::unique_ptr<Node>;
using Body = std::vector<NodeP>;
struct Node {
  enum T { Text, Output, If, For, Set, SetBlock, Break, Continue, Block, Macro, CallBlock, FilterBlock } t;
  std::string text;                                 // Text
  ExprP expr;                                       // Output value, For iterable, Set value
  std::vector<std::pair<ExprP, Body>> branches;     // If: (cond or null for else, body)
  std::vector<std::string> targets;                 // For/Set names (several = unpacking)
  ExprP ns;                                         // Set ns.attr: the namespace expression
  std::string attr;                                 //   and the attribute
  ExprP cond;                                       // For ... if cond
  std::vector<ExprP> filters;                       // SetBlock/FilterBlock: Filter exprs whose
                                                    //   kids[0] is null (the block's text)
  Body body, else_body;                             // For/SetBlock/Block/Macro/CallBlock bodies
  // Macro: `name`, parameters in `targets` with `defaults` (null = none).
  // CallBlock: the caller's parameters likewise; `expr` is the Call.
  std::string name;
  std::vector<ExprP> defaults;
  bool uses_caller = false, uses_varargs = false, uses_kwargs = false;  // Macro/CallBlock body reads them
  int line = 0, col = 0;
};

// Throws Error naming line/column for syntax errors and tags outside the subset.
Body parse(const std::vector<Token>& toks);

}  // namespace f8::chat::jinja
