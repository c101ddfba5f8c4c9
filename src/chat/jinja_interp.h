// jinja_interp.h — interpreter state shared by jinja_eval.cpp and
// jinja_builtins.cpp (internal to src/chat).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "chat/jinja.h"

namespace f8::chat::jinja {

struct Interp {
  enum class Flow { Normal, Break, Continue };

  Limits limits;
  uint64_t steps = 0;
  int loop_depth = 0;
  std::string* out = nullptr;  // where text goes (a block-set redirects it)
  std::vector<std::unordered_map<std::string, Value>> scopes;  // [0] = globals + render vars

  [[noreturn]] void fail(const Expr& at, const std::string& msg) const;
  [[noreturn]] void fail_undefined(const Expr& at, const Value& u) const;
  void step(const Expr* at);
  void check_size(const Expr& at, size_t n) const;
  void emit(const Expr* at, const std::string& s);
  Value lookup(const std::string& name) const;

  Value eval(const Expr& e);
  Args eval_args(const Expr& e, size_t first);
  Value call_fn(const Expr& at, const Value& f, Args& a);
  Value getattr(const Expr& at, const Value& obj, const std::string& name);
  Value getitem(const Expr& at, const Value& obj, const Value& key);
  Value slice(const Expr& at, const Value& obj, const Value* s0, const Value* s1, const Value* s2);
  Value binary(const Expr& at, const std::string& op, const Value& a, const Value& b);
  std::vector<Value> iterate(const Expr& at, const Value& v);
  bool contains(const Expr& at, const Value& container, const Value& item);

  Flow exec(const Body& body);
  Flow exec_for(const Node& n);
  void assign(const Node& n, const Value& v);
};

}  // namespace f8::chat::jinja
