// jinja_parser.cpp — tokens -> syntax tree, following jinja2's grammar and
// operator precedence (parser.py): cond-expr > or > and > not > compare >
// + - > ~ > * / // % > ** > unary/postfix/filters/tests.
//
// Supported statements: if/elif/else, for (with `if` filter and else),
// set (names, tuple unpacking, ns.attr, block set with filters), macro
// (defaults; varargs/kwargs/caller found by scanning the body, as jinja2
// does), call blocks, filter blocks, break/continue (transformers enables
// jinja2.ext.loopcontrols), generation (transformers' AssistantTracker tag;
// rendered as its body). Anything else (include, extends, import, block,
// do, recursive loops, ...) is a clear "outside the subset" error naming
// line and column.
#include "chat/jinja_ast.h"

namespace f8::chat::jinja {
namespace {

constexpr int kMaxDepth = 200;  // nesting of expressions/blocks

struct Parser {
  const std::vector<Token>& t;
  size_t i = 0;
  int depth = 0;

  explicit Parser(const std::vector<Token>& toks) : t(toks) {}

  const Token& cur() const { return t[i]; }
  const Token& peek(size_t n = 1) const { return t[std::min(i + n, t.size() - 1)]; }
  [[noreturn]] void fail(const Token& k, const std::string& msg) const { throw Error(msg, k.line, k.col); }
  bool is_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == Tok::Name && cur().text == n; }
  void expect_op(const char* op) {
    if (!is_op(op)) fail(cur(), std::string("expected '") + op + "', got " + describe(cur()));
    ++i;
  }
  static std::string describe(const Token& k) {
    switch (k.type) {
      case Tok::BlockEnd: return "end of block tag";
      case Tok::VarEnd: return "end of print statement";
      case Tok::Eof: return "end of template";
      case Tok::Data: return "template text";
      case Tok::String: return "string literal";
      default: return "'" + k.text + "'";
    }
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) fail(cur(), "expected a name, got " + describe(cur()));
    return t[i++].text;
  }
  void expect_block_end() {
    if (cur().type != Tok::BlockEnd) fail(cur(), "expected end of block tag, got " + describe(cur()));
    ++i;
  }
  struct DepthGuard {
    Parser& p;
    DepthGuard(Parser& pp, const Token& k) : p(pp) {
      if (++p.depth > kMaxDepth) p.fail(k, "template nested too deeply (limit 200)");
    }
    ~DepthGuard() { --p.depth; }
  };

  ExprP make(Expr::T type, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->t = type;
    e->line = at.line;
    e->col = at.col;
    return e;
  }

  // ------------------------------------------------------------ expressions
  ExprP expression(bool with_cond = true) {
    DepthGuard g(*this, cur());
    const Token& at = cur();
    ExprP e = or_expr();
    if (with_cond && is_name("if")) {
      ++i;
      auto c = make(Expr::Cond, at);
      ExprP test = or_expr();
      ExprP other;
      if (is_name("else")) {
        ++i;
        other = expression();
      }
      c->kids.push_back(std::move(test));
      c->kids.push_back(std::move(e));
      c->kids.push_back(std::move(other));  // may be null: undefined
      return c;
    }
    return e;
  }
  ExprP or_expr() {
    ExprP e = and_expr();
    while (is_name("or")) {
      auto n = make(Expr::Or, cur());
      ++i;
      n->kids.push_back(std::move(e));
      n->kids.push_back(and_expr());
      e = std::move(n);
    }
    return e;
  }
  ExprP and_expr() {
    ExprP e = not_expr();
    while (is_name("and")) {
      auto n = make(Expr::And, cur());
      ++i;
      n->kids.push_back(std::move(e));
      n->kids.push_back(not_expr());
      e = std::move(n);
    }
    return e;
  }
  ExprP not_expr() {
    if (is_name("not")) {
      DepthGuard g(*this, cur());
      auto n = make(Expr::Not, cur());
      ++i;
      n->kids.push_back(not_expr());
      return n;
    }
    return compare();
  }
  ExprP compare() {
    const Token& at = cur();
    ExprP e = math1();
    ExprP cmp;
    while (true) {
      std::string op;
      if (cur().type == Tok::Op &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" ||
           cur().text == "<=" || cur().text == ">=")) {
        op = cur().text;
        ++i;
      } else if (is_name("in")) {
        op = "in";
        ++i;
      } else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
        op = "notin";
        i += 2;
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(Expr::Compare, at);
        cmp->kids.push_back(std::move(e));
      }
      cmp->ops.push_back(op);
      cmp->kids.push_back(math1());
    }
    return cmp ? std::move(cmp) : std::move(e);
  }
  ExprP binary_chain(ExprP (Parser::*next)(), std::initializer_list<const char*> ops) {
    ExprP e = (this->*next)();
    while (cur().type == Tok::Op) {
      bool hit = false;
      for (const char* o : ops) hit = hit || cur().text == o;
      if (!hit) break;
      auto n = make(Expr::Binary, cur());
      n->name = cur().text;
      ++i;
      n->kids.push_back(std::move(e));
      n->kids.push_back((this->*next)());
      e = std::move(n);
    }
    return e;
  }
  ExprP math1() { return binary_chain(&Parser::concat, {"+", "-"}); }
  ExprP concat() { return binary_chain(&Parser::math2, {"~"}); }
  ExprP math2() { return binary_chain(&Parser::pow_expr, {"*", "/", "//", "%"}); }
  ExprP pow_expr() { return binary_chain(&Parser::unary_filtered, {"**"}); }
  ExprP unary_filtered() { return unary(true); }

  ExprP unary(bool with_filter) {
    DepthGuard g(*this, cur());
    ExprP e;
    if (is_op("-") || is_op("+")) {
      auto n = make(is_op("-") ? Expr::Neg : Expr::Pos, cur());
      ++i;
      n->kids.push_back(unary(false));
      e = std::move(n);
    } else {
      e = primary();
    }
    e = postfix(std::move(e));
    if (with_filter) e = filter_expr(std::move(e));
    return e;
  }

  ExprP primary() {
    const Token& k = cur();
    switch (k.type) {
      case Tok::Name: {
        ++i;
        auto e = make(Expr::Const, k);
        if (k.text == "true" || k.text == "True") e->value = Value::boolean(true);
        else if (k.text == "false" || k.text == "False") e->value = Value::boolean(false);
        else if (k.text == "none" || k.text == "None") e->value = Value::none();
        else {
          e->t = Expr::Name;
          e->name = k.text;
        }
        return e;
      }
      case Tok::String: {
        std::string s;
        while (cur().type == Tok::String) s += t[i++].text;  // adjacent literals join
        auto e = make(Expr::Const, k);
        e->value = Value::str(s);
        return e;
      }
      case Tok::Int: {
        ++i;
        auto e = make(Expr::Const, k);
        e->value = Value::integer(k.ival);
        return e;
      }
      case Tok::Float: {
        ++i;
        auto e = make(Expr::Const, k);
        e->value = Value::real(k.fval);
        return e;
      }
      case Tok::Op:
        if (k.text == "(") {
          ++i;
          if (is_op(")")) {
            ++i;
            return make(Expr::TupleLit, k);
          }
          ExprP first = expression();
          if (!is_op(",")) {
            expect_op(")");
            return first;
          }
          auto tup = make(Expr::TupleLit, k);
          tup->kids.push_back(std::move(first));
          while (is_op(",")) {
            ++i;
            if (is_op(")")) break;
            tup->kids.push_back(expression());
          }
          expect_op(")");
          return tup;
        }
        if (k.text == "[") {
          ++i;
          auto l = make(Expr::ListLit, k);
          while (!is_op("]")) {
            if (!l->kids.empty()) {
              expect_op(",");
              if (is_op("]")) break;
            }
            l->kids.push_back(expression());
          }
          ++i;
          return l;
        }
        if (k.text == "{") {
          ++i;
          auto d = make(Expr::DictLit, k);
          while (!is_op("}")) {
            if (!d->kids.empty()) {
              expect_op(",");
              if (is_op("}")) break;
            }
            d->kids.push_back(expression());
            expect_op(":");
            d->kids.push_back(expression());
          }
          ++i;
          return d;
        }
        break;
      default: break;
    }
    fail(k, "unexpected " + describe(k) + " in expression");
  }

  ExprP postfix(ExprP e) {
    while (true) {
      if (is_op(".")) {
        const Token& at = cur();
        ++i;
        if (cur().type == Tok::Int) {  // a.0 is a[0]
          auto n = make(Expr::GetItem, at);
          auto idx = make(Expr::Const, cur());
          idx->value = Value::integer(cur().ival);
          ++i;
          n->kids.push_back(std::move(e));
          n->kids.push_back(std::move(idx));
          e = std::move(n);
          continue;
        }
        auto n = make(Expr::GetAttr, at);
        n->name = expect_name();
        n->kids.push_back(std::move(e));
        e = std::move(n);
      } else if (is_op("[")) {
        e = subscript(std::move(e));
      } else if (is_op("(")) {
        e = call(std::move(e), Expr::Call);
      } else {
        return e;
      }
    }
  }

  ExprP subscript(ExprP obj) {
    const Token& at = cur();
    ++i;  // [
    ExprP parts[3];
    bool slice = false;
    int idx = 0;
    while (!is_op("]")) {
      if (is_op(":")) {
        slice = true;
        if (++idx > 2) fail(cur(), "too many ':' in slice");
        ++i;
        continue;
      }
      if (parts[idx]) fail(cur(), "expected ':' or ']' in subscript");
      parts[idx] = expression();
    }
    ++i;
    if (!slice) {
      if (!parts[0]) fail(at, "empty subscript");
      auto n = make(Expr::GetItem, at);
      n->kids.push_back(std::move(obj));
      n->kids.push_back(std::move(parts[0]));
      return n;
    }
    auto n = make(Expr::Slice, at);
    n->kids.push_back(std::move(obj));
    for (auto& p : parts) n->kids.push_back(std::move(p));  // null = omitted
    return n;
  }

  // Parses "(args)" after a callee; for Filter/Test, kids[0] is the subject.
  ExprP call(ExprP callee, Expr::T type) {
    const Token& at = cur();
    auto n = make(type, at);
    n->kids.push_back(std::move(callee));
    parse_args(n.get());
    return n;
  }
  void parse_args(Expr* n) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) {
        expect_op(",");
        if (is_op(")")) break;
      }
      first = false;
      if (is_op("*") || is_op("**")) fail(cur(), "*args/**kwargs are outside f8's Jinja subset");
      if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
        std::string key = t[i].text;
        i += 2;
        n->kwargs.emplace_back(key, expression());
      } else {
        if (!n->kwargs.empty()) fail(cur(), "positional argument after keyword argument");
        n->kids.push_back(expression());
      }
    }
    ++i;
  }

  ExprP filter_expr(ExprP e) {
    while (true) {
      if (is_op("|")) {
        ++i;
        const Token& at = cur();
        auto n = make(Expr::Filter, at);
        n->name = dotted_name();
        n->kids.push_back(std::move(e));
        if (is_op("(")) parse_args(n.get());
        e = std::move(n);
      } else if (is_name("is")) {
        ++i;
        const Token& at = cur();
        auto n = make(Expr::Test, at);
        if (is_name("not")) {
          ++i;
          n->negate = true;
        }
        n->name = dotted_name();
        n->kids.push_back(std::move(e));
        if (is_op("(")) {
          parse_args(n.get());
        } else if ((cur().type == Tok::Name && cur().text != "else" && cur().text != "or" &&
                    cur().text != "and") ||
                   cur().type == Tok::String || cur().type == Tok::Int || cur().type == Tok::Float ||
                   is_op("[") || is_op("{")) {
          // `x is divisibleby 3`, `x is sameas none`: one bare argument
          // (jinja2: a primary with postfix, any name but else/or/and).
          if (is_name("is")) fail(cur(), "you cannot chain multiple tests with 'is'");
          n->kids.push_back(postfix(primary()));
        }
        e = std::move(n);
      } else if (is_op("(")) {
        e = call(std::move(e), Expr::Call);
      } else {
        return e;
      }
    }
  }
  std::string dotted_name() {
    std::string n = expect_name();
    while (is_op(".") && peek().type == Tok::Name) {
      i += 1;
      n += "." + expect_name();
    }
    return n;
  }

  // ------------------------------------------------------------ statements
  // Parses nodes until one of `ends` block keywords (not consumed) or EOF.
  Body subparse(std::initializer_list<const char*> ends, std::string* found) {
    Body body;
    while (true) {
      const Token& k = cur();
      if (k.type == Tok::Eof) {
        if (ends.size()) fail(k, "unexpected end of template: missing '{% " + std::string(*ends.begin()) + " %}'");
        return body;
      }
      if (k.type == Tok::Data) {
        auto n = std::make_unique<Node>();
        n->t = Node::Text;
        n->text = k.text;
        n->line = k.line;
        n->col = k.col;
        body.push_back(std::move(n));
        ++i;
        continue;
      }
      if (k.type == Tok::VarBegin) {
        ++i;
        auto n = std::make_unique<Node>();
        n->t = Node::Output;
        n->line = k.line;
        n->col = k.col;
        n->expr = tuple_or_expr();
        if (cur().type != Tok::VarEnd) fail(cur(), "expected '}}', got " + describe(cur()));
        ++i;
        body.push_back(std::move(n));
        continue;
      }
      if (k.type != Tok::BlockBegin) fail(k, "unexpected " + describe(k));
      const Token& kw = peek();
      if (kw.type != Tok::Name) fail(kw, "expected a tag name after '{%'");
      for (const char* e : ends) {
        if (kw.text == e) {
          ++i;  // BlockBegin; caller consumes the keyword
          *found = e;
          return body;
        }
      }
      ++i;
      body.push_back(statement());
    }
  }

  // `a, b` in {{ }} or set values becomes a tuple, as in jinja2.
  ExprP tuple_or_expr() {
    const Token& at = cur();
    ExprP e = expression();
    if (!is_op(",")) return e;
    auto tup = make(Expr::TupleLit, at);
    tup->kids.push_back(std::move(e));
    while (is_op(",")) {
      ++i;
      if (cur().type == Tok::BlockEnd || cur().type == Tok::VarEnd) break;
      tup->kids.push_back(expression());
    }
    return tup;
  }

  NodeP statement() {
    DepthGuard g(*this, cur());
    const Token& kw = cur();
    auto n = std::make_unique<Node>();
    n->line = kw.line;
    n->col = kw.col;
    const std::string& w = kw.text;
    ++i;
    std::string found;
    if (w == "if") {
      n->t = Node::If;
      ExprP c = tuple_or_expr();
      expect_block_end();
      while (true) {
        Body b = subparse({"elif", "else", "endif"}, &found);
        n->branches.emplace_back(std::move(c), std::move(b));
        ++i;  // keyword
        if (found == "elif") {
          c = tuple_or_expr();
          expect_block_end();
        } else if (found == "else") {
          expect_block_end();
          Body eb = subparse({"endif"}, &found);
          ++i;
          expect_block_end();
          n->branches.emplace_back(nullptr, std::move(eb));
          break;
        } else {
          expect_block_end();
          break;
        }
      }
    } else if (w == "for") {
      n->t = Node::For;
      n->targets.push_back(expect_name());
      while (is_op(",")) {
        ++i;
        n->targets.push_back(expect_name());
      }
      if (!is_name("in")) fail(cur(), "expected 'in' in for loop, got " + describe(cur()));
      ++i;
      n->expr = expression(false);
      if (is_name("if")) {
        ++i;
        n->cond = expression(false);
      }
      if (is_name("recursive")) fail(cur(), "recursive loops are outside f8's Jinja subset");
      expect_block_end();
      n->body = subparse({"endfor", "else"}, &found);
      ++i;
      expect_block_end();
      if (found == "else") {
        n->else_body = subparse({"endfor"}, &found);
        ++i;
        expect_block_end();
      }
    } else if (w == "set") {
      std::string name = expect_name();
      if (is_op(".")) {
        ++i;
        n->t = Node::Set;
        auto nsref = make(Expr::Name, kw);
        nsref->name = name;
        n->ns = std::move(nsref);
        n->attr = expect_name();
      } else {
        n->targets.push_back(name);
        while (is_op(",")) {
          ++i;
          n->targets.push_back(expect_name());
        }
      }
      if (is_op("=")) {
        ++i;
        n->t = Node::Set;
        n->expr = tuple_or_expr();
        expect_block_end();
      } else {
        if (n->ns || n->targets.size() != 1) fail(cur(), "expected '=' in set");
        n->t = Node::SetBlock;
        while (is_op("|")) {
          ++i;
          n->filters.push_back(block_filter());
        }
        expect_block_end();
        n->body = subparse({"endset"}, &found);
        ++i;
        expect_block_end();
      }
    } else if (w == "break" || w == "continue") {
      n->t = w == "break" ? Node::Break : Node::Continue;
      expect_block_end();
    } else if (w == "generation") {
      n->t = Node::Block;
      expect_block_end();
      n->body = subparse({"endgeneration"}, &found);
      ++i;
      expect_block_end();
    } else if (w == "macro") {
      n->t = Node::Macro;
      n->name = expect_name();
      params(n.get(), true);
      expect_block_end();
      n->body = subparse({"endmacro"}, &found);
      ++i;
      expect_block_end();
      scan_special_names(*n);
    } else if (w == "call") {
      n->t = Node::CallBlock;
      n->name = "caller";
      if (is_op("(")) params(n.get(), false);
      const Token& at = cur();
      ExprP c = expression();
      if (c->t != Expr::Call) fail(at, "expected a call expression after '{% call %}'");
      n->expr = std::move(c);
      expect_block_end();
      n->body = subparse({"endcall"}, &found);
      ++i;
      expect_block_end();
      scan_special_names(*n);
    } else if (w == "filter") {
      n->t = Node::FilterBlock;
      n->filters.push_back(block_filter());
      while (is_op("|")) {
        ++i;
        n->filters.push_back(block_filter());
      }
      expect_block_end();
      n->body = subparse({"endfilter"}, &found);
      ++i;
      expect_block_end();
    } else {
      fail(kw, "tag '" + w + "' is outside f8's Jinja subset (supported: if, for, set, macro, call, "
                           "filter, break, continue, generation, raw)");
    }
    return n;
  }

  // `name(args)` of a block filter; the subject (kids[0]) is left null and
  // filled with the block's text at run time.
  ExprP block_filter() {
    const Token& at = cur();
    auto f = make(Expr::Filter, at);
    f->name = dotted_name();
    f->kids.push_back(nullptr);
    if (is_op("(")) parse_args(f.get());
    return f;
  }

  // `(a, b=default, ...)` of a macro or call block. jinja2 requires
  // parameters with defaults to come last.
  void params(Node* n, bool required) {
    if (!is_op("(")) {
      if (required) fail(cur(), "expected '(' after the macro name, got " + describe(cur()));
      return;
    }
    ++i;
    while (!is_op(")")) {
      if (!n->targets.empty()) {
        expect_op(",");
        if (is_op(")")) break;
      }
      const Token& at = cur();
      std::string p = expect_name();
      for (const auto& q : n->targets)
        if (q == p) fail(at, "duplicate parameter '" + p + "'");
      n->targets.push_back(p);
      if (is_op("=")) {
        ++i;
        n->defaults.push_back(expression());
      } else {
        if (!n->defaults.empty() && n->defaults.back()) fail(at, "non-default argument follows default argument");
        n->defaults.push_back(nullptr);
      }
    }
    ++i;
  }

  // jinja2 gives a macro `caller`, `varargs` and `kwargs` only when its body
  // reads those names (and does not define them as parameters).
  static void scan_expr(const Expr* e, Node& n) {
    if (!e) return;
    if (e->t == Expr::Name) {
      n.uses_caller = n.uses_caller || e->name == "caller";
      n.uses_varargs = n.uses_varargs || e->name == "varargs";
      n.uses_kwargs = n.uses_kwargs || e->name == "kwargs";
    }
    for (const auto& k : e->kids) scan_expr(k.get(), n);
    for (const auto& kv : e->kwargs) scan_expr(kv.second.get(), n);
  }
  static void scan_body(const Body& b, Node& n) {
    for (const auto& np : b) {
      const Node& c = *np;
      if (c.t == Node::Macro) continue;  // a nested macro has its own caller/varargs/kwargs
      scan_expr(c.expr.get(), n);
      scan_expr(c.ns.get(), n);
      scan_expr(c.cond.get(), n);
      for (const auto& f : c.filters) scan_expr(f.get(), n);
      for (const auto& d : c.defaults) scan_expr(d.get(), n);
      for (const auto& br : c.branches) {
        scan_expr(br.first.get(), n);
        scan_body(br.second, n);
      }
      scan_body(c.body, n);
      scan_body(c.else_body, n);
    }
  }
  static void scan_special_names(Node& n) {
    scan_body(n.body, n);
    for (const auto& d : n.defaults) scan_expr(d.get(), n);
    for (const auto& p : n.targets) {
      if (p == "caller") n.uses_caller = false;
      if (p == "varargs") n.uses_varargs = false;
      if (p == "kwargs") n.uses_kwargs = false;
    }
  }
};

}  // namespace

Body parse(const std::vector<Token>& toks) {
  Parser p(toks);
  std::string found;
  return p.subparse({}, &found);
}

}  // namespace f8::chat::jinja
