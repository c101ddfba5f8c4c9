// jinja_interp.h — interpreter state shared by jinja_eval.cpp and
// jinja_builtins.cpp (internal to src/chat).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "chat/jinja.h"

namespace f8::chat::jinja {

using Scope = std::unordered_map<std::string, Value>;

// Deepest macro/caller nesting; jinja2 is bounded by Python's recursion
// limit (about 1000 frames, a few per call), f8 by its C++ stack.
constexpr int kMaxCallDepth = 100;

struct Interp {
  enum class Flow { Normal, Break, Continue };

  Limits limits;
  int64_t now = -1;  // strftime_now's clock (unix seconds, UTC) when >= 0; else the local time
  uint64_t steps = 0;
  int loop_depth = 0;
  int call_depth = 0;
  std::string* out = nullptr;  // where text goes (a block-set, macro or filter block redirects it)
  std::vector<Scope> scopes;   // [0] = globals + render vars + top-level sets and macros

  [[noreturn]] void fail(const Expr& at, const std::string& msg) const;
  [[noreturn]] void fail_undefined(const Expr& at, const Value& u) const;
  void step(const Expr* at);
  void check_size(const Expr& at, size_t n) const;
  void emit(const Expr* at, const std::string& s);
  Value lookup(const std::string& name) const;

  Value eval(const Expr& e);
  Value eval_call(const Expr& e, const Value* caller);  // Call; `caller` = a call block's body
  Args eval_args(const Expr& e, size_t first);
  Value call_fn(const Expr& at, const Value& f, Args& a);
  Value getattr(const Expr& at, const Value& obj, const std::string& name);
  Value getitem(const Expr& at, const Value& obj, const Value& key);
  Value slice(const Expr& at, const Value& obj, const Value* s0, const Value* s1, const Value* s2);
  Value binary(const Expr& at, const std::string& op, const Value& a, const Value& b);
  std::vector<Value> iterate(const Expr& at, const Value& v);
  bool contains(const Expr& at, const Value& container, const Value& item);

  Flow exec(const Body& body);
  std::string capture(const Body& body, Flow* flow);  // renders body into a string
  Value apply_block_filters(const Node& n, Value v);  // SetBlock/FilterBlock filters, in order

  // Macros and call-block callers (jinja_macro.cpp).
  Value make_macro(const Node& n);
  Value invoke_macro(const Node& def, const std::vector<Scope>& captured, Args& a);
  // A Python method of a str/dict/list looked up without calling it
  // (`d.items`). Not a method of obj's type: Undefined with an empty name;
  // a method the immutable sandbox forbids (d.pop, l.append): Undefined
  // whose name says so.
  Value bound_method(const Value& obj, const std::string& name);
  Flow exec_for(const Node& n);
  void assign(const Node& n, const Value& v);
};

// The sort/dictsort filters (jinja_sort.cpp) and str.format (jinja_format.cpp).
Value sort_filter(Interp& in, const std::string& name, const Value& v, Args& a, const Expr& at);
std::string py_format(Interp& in, const std::string& fmt, Args& a, const Expr& at);

}  // namespace f8::chat::jinja
