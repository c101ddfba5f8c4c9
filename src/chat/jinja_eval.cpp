// jinja_eval.cpp — tree-walking evaluation of the Jinja subset with jinja2's
// runtime semantics where templates can observe them:
//  - every for-loop iteration gets a fresh scope; `set` inside a loop body
//    is invisible after the iteration (hence namespace());
//  - a missing variable/key/index is Undefined: prints "", is falsy,
//    iterates empty, but attribute access on it or arithmetic with it fails;
//  - `and`/`or` return an operand, like Python.
#include <cmath>
#include <ctime>
#include <unordered_map>

#include "chat/jinja.h"
#include "chat/jinja_interp.h"

namespace f8::chat::jinja {

[[noreturn]] void Interp::fail(const Expr& at, const std::string& msg) const {
  throw Error(msg, at.line, at.col);
}
[[noreturn]] void Interp::fail_undefined(const Expr& at, const Value& u) const {
  fail(at, u.s.empty() ? std::string("value is undefined") : u.s);
}
void Interp::step(const Expr* at) {
  if (++steps > limits.max_steps) {
    if (at) fail(*at, "template exceeded the step limit");
    throw Error("template exceeded the step limit");
  }
}
void Interp::check_size(const Expr& at, size_t n) const {
  if (n > limits.max_output) fail(at, "string exceeds the size limit");
}
Value Interp::lookup(const std::string& name) const {
  for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
    auto f = it->find(name);
    if (f != it->end()) return f->second;
  }
  return Value::undefined("'" + name + "' is undefined");
}

// ------------------------------------------------------------ helpers
Value Interp::getattr(const Expr& at, const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(at, obj);
  if (!name.empty() && name[0] == '_') fail(at, "access to attribute '" + name + "' is unsafe");
  // jinja2 tries Python's getattr before the item: `d.items` is the dict
  // method even when d has an "items" key.
  Value m = bound_method(obj, name);
  if (!m.is_undefined() || !m.s.empty()) return m;
  if (obj.is_mapping()) {
    if (const Value* v = obj.dict->find(name)) return *v;
    return Value::undefined(std::string("'") + (obj.kind == Kind::Namespace ? "Namespace" : "dict object") +
                            "' has no attribute '" + name + "'");
  }
  return Value::undefined(std::string("'") + kind_name(obj) + " object' has no attribute '" + name + "'");
}

Value Interp::getitem(const Expr& at, const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(at, obj);
  if (obj.is_generator) return Value::undefined("'generator object' has no attribute '" + py_str(key) + "'");
  if (obj.is_mapping()) {
    if (key.kind == Kind::String) {
      if (const Value* v = obj.dict->find(key.s)) return *v;
      // jinja2 falls back to the attribute: d['get'] is the method.
      Value m = bound_method(obj, key.s);
      if (!m.is_undefined() || !m.s.empty()) return m;
    } else if (std::string k; dict_key_of(key, &k)) {
      if (const Value* v = obj.dict->find(k)) return *v;
    }
    return Value::undefined("'dict object' has no attribute '" + py_str(key) + "'");
  }
  if ((obj.kind == Kind::List || obj.kind == Kind::String) && (key.kind == Kind::Int || key.kind == Kind::Bool)) {
    int64_t k = key.kind == Kind::Int ? key.i : key.b;
    if (obj.kind == Kind::List) {
      int64_t n = int64_t(obj.list->size());
      if (k < 0) k += n;
      if (k < 0 || k >= n) return Value::undefined("list object has no element " + std::to_string(key.kind == Kind::Int ? key.i : key.b));
      return (*obj.list)[size_t(k)];
    }
    std::vector<uint32_t> cps = utf8_decode(obj.s);
    int64_t n = int64_t(cps.size());
    if (k < 0) k += n;
    if (k < 0 || k >= n) return Value::undefined("string index out of range");
    std::string out;
    utf8_append(out, cps[size_t(k)]);
    return Value::str(out);
  }
  if (key.kind == Kind::String) return getattr(at, obj, key.s);
  return Value::undefined(std::string("'") + kind_name(obj) + " object' has no item");
}

// Python slice semantics (start/stop/step, negatives, clamping).
Value Interp::slice(const Expr& at, const Value& obj, const Value* s0, const Value* s1, const Value* s2) {
  if (obj.is_undefined()) fail_undefined(at, obj);
  auto as_int = [&](const Value* v, int64_t* out) {
    if (!v || v->kind == Kind::None || v->is_undefined()) return false;
    if (v->kind != Kind::Int && v->kind != Kind::Bool) fail(at, "slice indices must be integers");
    *out = v->kind == Kind::Int ? v->i : v->b;
    return true;
  };
  int64_t step = 1;
  as_int(s2, &step);
  if (step == 0) fail(at, "slice step cannot be zero");
  std::vector<uint32_t> cps;
  int64_t n;
  if (obj.kind == Kind::List) n = int64_t(obj.list->size());
  else if (obj.kind == Kind::String) n = int64_t((cps = utf8_decode(obj.s)).size());
  else fail(at, std::string("cannot slice a ") + kind_name(obj));
  int64_t start, stop;
  auto norm = [&](int64_t v, bool is_stop) {
    (void)is_stop;
    if (v < 0) v += n;
    if (step > 0) return std::clamp<int64_t>(v, 0, n);
    return std::clamp<int64_t>(v, -1, n - 1);
  };
  if (!as_int(s0, &start)) start = step > 0 ? 0 : n - 1;
  else start = norm(start, false);
  if (!as_int(s1, &stop)) stop = step > 0 ? n : -1;
  else stop = norm(stop, true);
  std::vector<size_t> idx;
  for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) idx.push_back(size_t(k));
  if (obj.kind == Kind::List) {
    List out;
    for (size_t k : idx) out.push_back((*obj.list)[k]);
    Value v = Value::array(std::move(out));
    v.is_tuple = obj.is_tuple;
    return v;
  }
  std::string out;
  for (size_t k : idx) utf8_append(out, cps[k]);
  return Value::str(out);
}

std::vector<Value> Interp::iterate(const Expr& at, const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return {};
    case Kind::List: return *v.list;
    case Kind::Dict: {
      std::vector<Value> keys;
      for (const auto& kv : v.dict->items) keys.push_back(dict_key_value(kv.first));
      return keys;
    }
    case Kind::String: {
      std::vector<Value> out;
      for (uint32_t c : utf8_decode(v.s)) {
        std::string s;
        utf8_append(s, c);
        out.push_back(Value::str(s));
      }
      return out;
    }
    default: fail(at, std::string("'") + kind_name(v) + "' object is not iterable");
  }
}

bool Interp::contains(const Expr& at, const Value& container, const Value& item) {
  switch (container.kind) {
    case Kind::String:
      if (item.kind != Kind::String) fail(at, "'in <string>' requires string as left operand");
      return container.s.find(item.s) != std::string::npos;
    case Kind::List:
      for (const auto& x : *container.list)
        if (py_equal(x, item)) return true;
      return false;
    case Kind::Dict:
    case Kind::Namespace: {
      std::string k;
      return (container.kind == Kind::Dict || item.kind == Kind::String) && dict_key_of(item, &k) &&
             container.dict->find(k);
    }
    case Kind::Undefined: return false;
    default: fail(at, std::string("argument of type '") + kind_name(container) + "' is not iterable");
  }
}

static bool mul_overflow(int64_t a, int64_t b, int64_t* r) { return __builtin_mul_overflow(a, b, r); }

Value Interp::binary(const Expr& at, const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = py_str(a) + py_str(b);
    check_size(at, s.size());
    return Value::str(std::move(s));
  }
  if (a.is_undefined()) fail_undefined(at, a);
  if (b.is_undefined()) fail_undefined(at, b);
  auto type_error = [&]() {
    fail(at, "unsupported operand type(s) for " + op + ": '" + kind_name(a) + "' and '" + kind_name(b) + "'");
  };
  bool ints = (a.kind == Kind::Int || a.kind == Kind::Bool) && (b.kind == Kind::Int || b.kind == Kind::Bool);
  int64_t x = a.kind == Kind::Int ? a.i : a.b, y = b.kind == Kind::Int ? b.i : b.b;
  if (op == "+") {
    if (a.kind == Kind::String && b.kind == Kind::String) {
      if (a.is_markup || b.is_markup) {
        Value r = Value::str((a.is_markup ? a.s : html_escape(a.s)) + (b.is_markup ? b.s : html_escape(b.s)));
        check_size(at, r.s.size());
        r.is_markup = true;
        return r;
      }
      check_size(at, a.s.size() + b.s.size());
      return Value::str(a.s + b.s);
    }
    if (a.kind == Kind::List && b.kind == Kind::List && !a.is_generator && !b.is_generator) {
      List l = *a.list;
      l.insert(l.end(), b.list->begin(), b.list->end());
      Value v = Value::array(std::move(l));
      v.is_tuple = a.is_tuple && b.is_tuple;
      return v;
    }
    if (a.kind == Kind::String || b.kind == Kind::String) {
      if (a.kind == Kind::String)
        fail(at, std::string("can only concatenate str (not \"") + kind_name(b) + "\") to str");
      type_error();
    }
    if (!a.is_number() || !b.is_number()) type_error();
    int64_t r;
    if (ints && !__builtin_add_overflow(x, y, &r)) return Value::integer(r);
    if (ints) fail(at, "integer overflow");
    return Value::real(a.as_double() + b.as_double());
  }
  if (op == "-") {
    if (!a.is_number() || !b.is_number()) type_error();
    int64_t r;
    if (ints && !__builtin_sub_overflow(x, y, &r)) return Value::integer(r);
    if (ints) fail(at, "integer overflow");
    return Value::real(a.as_double() - b.as_double());
  }
  if (op == "*") {
    const Value* seq = a.kind == Kind::String || a.kind == Kind::List ? &a : b.kind == Kind::String || b.kind == Kind::List ? &b : nullptr;
    if (seq) {
      const Value& cnt = seq == &a ? b : a;
      if (cnt.kind != Kind::Int && cnt.kind != Kind::Bool) type_error();
      int64_t k = std::max<int64_t>(0, cnt.kind == Kind::Int ? cnt.i : cnt.b);
      size_t unit = seq->kind == Kind::String ? seq->s.size() : seq->list->size() * 16;
      if (unit && uint64_t(k) > limits.max_output / unit) fail(at, "repetition exceeds the size limit");
      if (seq->kind == Kind::String) {
        std::string s;
        for (int64_t j = 0; j < k; ++j) s += seq->s;
        return Value::str(s);
      }
      List l;
      for (int64_t j = 0; j < k; ++j) l.insert(l.end(), seq->list->begin(), seq->list->end());
      return Value::array(std::move(l));
    }
    if (!a.is_number() || !b.is_number()) type_error();
    int64_t r;
    if (ints && !mul_overflow(x, y, &r)) return Value::integer(r);
    if (ints) fail(at, "integer overflow");
    return Value::real(a.as_double() * b.as_double());
  }
  if (!a.is_number() || !b.is_number()) {
    if (op == "%" && a.kind == Kind::String) fail(at, "printf-style '%' formatting is outside f8's Jinja subset");
    type_error();
  }
  if (op == "/") {
    if (b.as_double() == 0) fail(at, "division by zero");
    return Value::real(a.as_double() / b.as_double());
  }
  if (op == "//" || op == "%") {
    if (ints) {
      if (y == 0) fail(at, "integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) fail(at, "integer overflow");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      return Value::integer(op == "//" ? q : m);
    }
    double p = a.as_double(), d = b.as_double();
    if (d == 0) fail(at, "float division or modulo by zero");
    double m = std::fmod(p, d);
    if (m != 0 && ((m < 0) != (d < 0))) m += d;
    if (op == "%") return Value::real(m);
    return Value::real(std::floor(p / d));
  }
  if (op == "**") {
    if (ints && y >= 0) {
      int64_t r = 1, base = x;
      for (int64_t e = y; e > 0; --e)
        if (mul_overflow(r, base, &r)) fail(at, "integer overflow");
      return Value::integer(r);
    }
    return Value::real(std::pow(a.as_double(), b.as_double()));
  }
  fail(at, "unknown operator " + op);
}

// Builtins throw Error without a position; give them the call's.
Value Interp::call_fn(const Expr& at, const Value& f, Args& a) {
  try {
    return (*f.fn)(a);
  } catch (const Error& err) {
    if (err.line) throw;
    fail(at, err.what());
  }
}

// ------------------------------------------------------------ expressions
Value Interp::eval_call(const Expr& e, const Value* caller) {
  const Expr& callee = *e.kids[0];
  if (callee.t == Expr::GetAttr) {
    Value obj = eval(*callee.kids[0]);
    if (obj.is_undefined()) fail_undefined(callee, obj);
    Args a = eval_args(e, 1);
    if (caller) a.kw.emplace_back("caller", *caller);
    Value out;
    if (call_method(*this, obj, callee.name, a, e, &out)) return out;
    Value f = getattr(callee, obj, callee.name);
    if (f.kind != Kind::Function) {
      if (f.is_undefined()) fail_undefined(callee, f);
      fail(e, std::string("'") + kind_name(f) + "' object is not callable");
    }
    return call_fn(e, f, a);
  }
  Value f = eval(callee);
  if (f.is_undefined()) fail_undefined(callee, f);
  if (f.kind != Kind::Function) fail(e, std::string("'") + kind_name(f) + "' object is not callable");
  Args a = eval_args(e, 1);
  if (caller) a.kw.emplace_back("caller", *caller);
  return call_fn(e, f, a);
}

Args Interp::eval_args(const Expr& e, size_t first) {
  Args a;
  for (size_t k = first; k < e.kids.size(); ++k) a.pos.push_back(eval(*e.kids[k]));
  for (const auto& kv : e.kwargs) a.kw.emplace_back(kv.first, eval(*kv.second));
  return a;
}

Value Interp::eval(const Expr& e) {
  step(&e);
  switch (e.t) {
    case Expr::Const: return e.value;
    case Expr::Name: return lookup(e.name);
    case Expr::GetAttr: return getattr(e, eval(*e.kids[0]), e.name);
    case Expr::GetItem: {
      Value obj = eval(*e.kids[0]);
      return getitem(e, obj, eval(*e.kids[1]));
    }
    case Expr::Slice: {
      Value obj = eval(*e.kids[0]);
      Value p[3];
      for (int k = 0; k < 3; ++k)
        if (e.kids[size_t(k) + 1]) p[k] = eval(*e.kids[size_t(k) + 1]);
      return slice(e, obj, e.kids[1] ? &p[0] : nullptr, e.kids[2] ? &p[1] : nullptr, e.kids[3] ? &p[2] : nullptr);
    }
    case Expr::Call: return eval_call(e, nullptr);
    case Expr::Filter: {
      Value v = eval(*e.kids[0]);
      Args a = eval_args(e, 1);
      return apply_filter(*this, e.name, std::move(v), a, e);
    }
    case Expr::Test: {
      Value v = eval(*e.kids[0]);
      Args a = eval_args(e, 1);
      return Value::boolean(apply_test(*this, e.name, v, a, e) != e.negate);
    }
    case Expr::Neg:
    case Expr::Pos: {
      Value v = eval(*e.kids[0]);
      if (v.is_undefined()) fail_undefined(e, v);
      if (!v.is_number()) fail(e, std::string("bad operand type for unary ") + (e.t == Expr::Neg ? "-" : "+") + ": '" + kind_name(v) + "'");
      if (e.t == Expr::Pos) return v.kind == Kind::Bool ? Value::integer(v.b) : v;
      if (v.kind == Kind::Float) return Value::real(-v.f);
      int64_t x = v.kind == Kind::Int ? v.i : v.b;
      if (x == INT64_MIN) fail(e, "integer overflow");
      return Value::integer(-x);
    }
    case Expr::Not: return Value::boolean(!eval(*e.kids[0]).truthy());
    case Expr::And: {
      Value a = eval(*e.kids[0]);
      return a.truthy() ? eval(*e.kids[1]) : a;
    }
    case Expr::Or: {
      Value a = eval(*e.kids[0]);
      return a.truthy() ? a : eval(*e.kids[1]);
    }
    case Expr::Binary: {
      Value a = eval(*e.kids[0]);
      Value b = eval(*e.kids[1]);
      return binary(e, e.name, a, b);
    }
    case Expr::Compare: {
      Value left = eval(*e.kids[0]);
      for (size_t k = 0; k < e.ops.size(); ++k) {
        Value right = eval(*e.kids[k + 1]);
        const std::string& op = e.ops[k];
        bool r;
        if (op == "==") r = py_equal(left, right);
        else if (op == "!=") r = !py_equal(left, right);
        else if (op == "in") r = contains(e, right, left);
        else if (op == "notin") r = !contains(e, right, left);
        else {
          if (left.is_undefined()) fail_undefined(e, left);
          if (right.is_undefined()) fail_undefined(e, right);
          int c;
          try {
            c = py_compare(left, right);
          } catch (const Error& err) {
            fail(e, err.what());
          }
          r = op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0;
        }
        if (!r) return Value::boolean(false);
        left = std::move(right);
      }
      return Value::boolean(true);
    }
    case Expr::Cond: {
      if (eval(*e.kids[0]).truthy()) return eval(*e.kids[1]);
      if (e.kids[2]) return eval(*e.kids[2]);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    }
    case Expr::ListLit:
    case Expr::TupleLit: {
      List l;
      for (const auto& k : e.kids) l.push_back(eval(*k));
      Value v = Value::array(std::move(l));
      v.is_tuple = e.t == Expr::TupleLit;
      return v;
    }
    case Expr::DictLit: {
      Dict d;
      for (size_t k = 0; k + 1 < e.kids.size(); k += 2) {
        Value key = eval(*e.kids[k]);
        std::string stored;
        if ((key.kind != Kind::String && key.kind != Kind::Int) || !dict_key_of(key, &stored))
          fail(*e.kids[k], "dict keys other than strings and integers are outside f8's Jinja subset");
        d.set(stored, eval(*e.kids[k + 1]));
      }
      return Value::object(std::move(d));
    }
  }
  fail(e, "unknown expression");
}

// ------------------------------------------------------------ statements
void Interp::emit(const Expr* at, const std::string& s) {
  if (out->size() + s.size() > limits.max_output) {
    if (at) fail(*at, "rendered output exceeds the size limit");
    throw Error("rendered output exceeds the size limit");
  }
  *out += s;
}

void Interp::assign(const Node& n, const Value& v) {
  if (n.targets.size() == 1) {
    scopes.back()[n.targets[0]] = v;
    return;
  }
  if (v.kind != Kind::List && v.kind != Kind::String)
    throw Error("cannot unpack a non-sequence", n.line, n.col);
  Expr at;
  at.line = n.line;
  at.col = n.col;
  std::vector<Value> items = iterate(at, v);
  if (items.size() != n.targets.size())
    throw Error("cannot unpack " + std::to_string(items.size()) + " values into " +
                    std::to_string(n.targets.size()) + " names", n.line, n.col);
  for (size_t k = 0; k < items.size(); ++k) scopes.back()[n.targets[k]] = items[k];
}

Interp::Flow Interp::exec(const Body& body) {
  for (const auto& np : body) {
    const Node& n = *np;
    step(nullptr);
    switch (n.t) {
      case Node::Text: emit(nullptr, n.text); break;
      case Node::Output: {
        Value v = eval(*n.expr);
        emit(n.expr.get(), py_str(v));
        break;
      }
      case Node::If:
        for (const auto& br : n.branches) {
          if (!br.first || eval(*br.first).truthy()) {
            Flow f = exec(br.second);
            if (f != Flow::Normal) return f;
            break;
          }
        }
        break;
      case Node::For: {
        Flow f = exec_for(n);
        if (f != Flow::Normal) return f;
        break;
      }
      case Node::Set: {
        Value v = eval(*n.expr);
        if (n.ns) {
          Value ns = eval(*n.ns);
          if (ns.kind != Kind::Namespace)
            throw Error("cannot assign attribute on non-namespace object", n.line, n.col);
          ns.dict->set(n.attr, v);
        } else {
          assign(n, v);
        }
        break;
      }
      case Node::SetBlock: {
        Flow f;
        std::string buf = capture(n.body, &f);
        if (f != Flow::Normal) return f;
        assign(n, apply_block_filters(n, Value::str(std::move(buf))));
        break;
      }
      case Node::FilterBlock: {
        Flow f;
        std::string buf = capture(n.body, &f);
        if (f != Flow::Normal) return f;
        emit(nullptr, py_str(apply_block_filters(n, Value::str(std::move(buf)))));
        break;
      }
      case Node::Macro: scopes.back()[n.name] = make_macro(n); break;
      case Node::CallBlock: {
        Value caller = make_macro(n);
        Value v = eval_call(*n.expr, &caller);
        emit(n.expr.get(), py_str(v));
        break;
      }
      case Node::Break:
      case Node::Continue:
        if (loop_depth == 0) throw Error("'break'/'continue' outside a loop", n.line, n.col);
        return n.t == Node::Break ? Flow::Break : Flow::Continue;
      case Node::Block: {
        Flow f = exec(n.body);
        if (f != Flow::Normal) return f;
        break;
      }
    }
  }
  return Flow::Normal;
}

std::string Interp::capture(const Body& body, Flow* flow) {
  std::string buf;
  std::string* saved = out;
  out = &buf;
  try {
    *flow = exec(body);
  } catch (...) {
    out = saved;
    throw;
  }
  out = saved;
  return buf;
}

Value Interp::apply_block_filters(const Node& n, Value v) {
  for (const auto& f : n.filters) {
    Args a = eval_args(*f, 1);
    v = apply_filter(*this, f->name, std::move(v), a, *f);
  }
  return v;
}

Interp::Flow Interp::exec_for(const Node& n) {
  Value seq = eval(*n.expr);
  std::vector<Value> items = iterate(*n.expr, seq);
  if (n.cond) {
    // The inline `if` filters before loop.* counts are computed.
    std::vector<Value> kept;
    for (auto& it : items) {
      scopes.emplace_back();
      Node tmp;
      tmp.targets = n.targets;
      tmp.line = n.line;
      tmp.col = n.col;
      assign(tmp, it);
      bool keep = eval(*n.cond).truthy();
      scopes.pop_back();
      if (keep) kept.push_back(std::move(it));
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec(n.else_body);
  size_t len = items.size();
  ++loop_depth;
  for (size_t k = 0; k < len; ++k) {
    step(nullptr);
    scopes.emplace_back();
    assign(n, items[k]);
    Dict loop;
    loop.set("index", Value::integer(int64_t(k) + 1));
    loop.set("index0", Value::integer(int64_t(k)));
    loop.set("revindex", Value::integer(int64_t(len - k)));
    loop.set("revindex0", Value::integer(int64_t(len - k - 1)));
    loop.set("first", Value::boolean(k == 0));
    loop.set("last", Value::boolean(k + 1 == len));
    loop.set("length", Value::integer(int64_t(len)));
    loop.set("depth", Value::integer(1));
    loop.set("depth0", Value::integer(0));
    loop.set("previtem", k > 0 ? items[k - 1] : Value::undefined("there is no previous item"));
    loop.set("nextitem", k + 1 < len ? items[k + 1] : Value::undefined("there is no next item"));
    loop.set("cycle", Value::function("cycle", [k](Args& a) -> Value {
               if (a.pos.empty()) throw Error("no items for cycling given");
               return a.pos[k % a.pos.size()];
             }));
    scopes.back()["loop"] = Value::object(std::move(loop));
    Flow f = exec(n.body);
    scopes.pop_back();
    if (f == Flow::Break) break;
  }
  --loop_depth;
  return Flow::Normal;
}

// ------------------------------------------------------------ Template
Template::Template(const std::string& source) { body_ = parse(lex(source)); }

std::string Template::render(const Dict& vars, const Limits& limits, int64_t now) const {
  Interp in;
  in.limits = limits;
  in.now = now;
  std::string result;
  in.out = &result;
  in.scopes.emplace_back();
  auto& g = in.scopes.back();
  g["raise_exception"] = Value::function("raise_exception", [](Args& a) -> Value {
    const Value* m = a.get(0, "message");
    throw Error("template raised an exception: " + (m ? py_str(*m) : std::string()));
  });
  g["namespace"] = Value::function("namespace", [](Args& a) -> Value {
    Value v = Value::object();
    v.kind = Kind::Namespace;
    for (const auto& p : a.pos) {
      if (!p.is_mapping()) throw Error("namespace() positional argument must be a mapping");
      for (const auto& kv : p.dict->items) v.dict->set(kv.first, kv.second);
    }
    for (const auto& kv : a.kw) v.dict->set(kv.first, kv.second);
    return v;
  });
  g["dict"] = Value::function("dict", [](Args& a) -> Value {
    Dict d;
    for (const auto& kv : a.kw) d.set(kv.first, kv.second);
    return Value::object(std::move(d));
  });
  g["range"] = Value::function("range", [](Args& a) -> Value {
    int64_t r[3] = {0, 0, 1};
    if (a.pos.empty() || a.pos.size() > 3) throw Error("range() expects 1 to 3 integer arguments");
    for (const auto& p : a.pos)
      if (p.kind != Kind::Int) throw Error("range() arguments must be integers");
    if (a.pos.size() == 1) r[1] = a.pos[0].i;
    else for (size_t k = 0; k < a.pos.size(); ++k) r[k] = a.pos[k].i;
    if (r[2] == 0) throw Error("range() arg 3 must not be zero");
    List l;
    for (int64_t x = r[0]; r[2] > 0 ? x < r[1] : x > r[1]; x += r[2]) {
      // jinja2's sandbox caps ranges at 100000 items (MAX_RANGE).
      if (l.size() >= 100000) throw Error("range too big; the sandbox allows at most 100000 items");
      l.push_back(Value::integer(x));
    }
    return Value::array(std::move(l));
  });
  g["strftime_now"] = Value::function("strftime_now", [now](Args& a) -> Value {
    const Value* f = a.get(0, "format");
    if (!f || f->kind != Kind::String) throw Error("strftime_now() expects a format string");
    std::tm tm{};
    if (now >= 0) {
      std::time_t t = std::time_t(now);
      gmtime_r(&t, &tm);
    } else {
      std::time_t t = std::time(nullptr);
      localtime_r(&t, &tm);
    }
    char buf[512];
    size_t n = std::strftime(buf, sizeof buf, f->s.c_str(), &tm);
    return Value::str(std::string(buf, n));
  });
  for (const auto& kv : vars.items) g[kv.first] = kv.second;
  in.exec(body_);
  return result;
}

}  // namespace f8::chat::jinja
