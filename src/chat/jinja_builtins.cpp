// jinja_builtins.cpp — the filters, tests and Python str/dict methods of
// f8's Jinja subset, each matching jinja2 3.1 / CPython behaviour (the
// docstring of the jinja2 filter is the spec; e.g. `round` is Python's
// banker's rounding, `title` splits on [-\s({\[<]+, `length` counts code
// points). transformers replaces `tojson` with json.dumps(ensure_ascii=False).
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "chat/jinja.h"
#include "chat/jinja_interp.h"

namespace f8::chat::jinja {
namespace {

std::string need_str(Interp& in, const Expr& at, const Value* v, const char* what) {
  if (!v || v->kind != Kind::String) in.fail(at, std::string(what) + " expects a string argument");
  return v->s;
}
int64_t opt_int(Interp& in, const Expr& at, const Value* v, int64_t def, const char* what) {
  if (!v || v->kind == Kind::None) return def;
  if (v->kind != Kind::Int && v->kind != Kind::Bool) in.fail(at, std::string(what) + " expects an integer argument");
  return v->kind == Kind::Int ? v->i : v->b;
}
size_t cp_len(const std::string& s) { return utf8_decode(s).size(); }

Value length_of(Interp& in, const Expr& at, const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return Value::integer(0);
    case Kind::String: return Value::integer(int64_t(cp_len(v.s)));
    case Kind::List:
      if (v.is_generator) in.fail(at, "object of type 'generator' has no len()");
      return Value::integer(int64_t(v.list->size()));
    case Kind::Dict:
    case Kind::Namespace: return Value::integer(int64_t(v.dict->items.size()));
    default: in.fail(at, std::string("object of type '") + kind_name(v) + "' has no len()");
  }
}

std::vector<std::string> py_split(const std::string& s, const std::string* sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw Error("empty separator");
    size_t start = 0;
    while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
      size_t p = s.find(*sep, start);
      if (p == std::string::npos) break;
      out.push_back(s.substr(start, p - start));
      start = p + sep->size();
    }
    out.push_back(s.substr(start));
    return out;
  }
  std::vector<uint32_t> cps = utf8_decode(s);
  size_t k = 0, n = cps.size();
  while (true) {
    while (k < n && py_isspace(cps[k])) ++k;
    if (k >= n) break;
    if (maxsplit >= 0 && int64_t(out.size()) >= maxsplit) {
      size_t e = n;
      while (e > k && py_isspace(cps[e - 1])) --e;
      out.push_back(utf8_encode(std::vector<uint32_t>(cps.begin() + k, cps.begin() + e)));
      break;
    }
    size_t b = k;
    while (k < n && !py_isspace(cps[k])) ++k;
    out.push_back(utf8_encode(std::vector<uint32_t>(cps.begin() + b, cps.begin() + k)));
  }
  return out;
}

std::vector<std::string> py_splitlines(const std::string& s) {
  std::vector<uint32_t> cps = utf8_decode(s);
  std::vector<std::string> out;
  std::vector<uint32_t> cur;
  for (size_t k = 0; k < cps.size(); ++k) {
    uint32_t c = cps[k];
    bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
               c == 0x2028 || c == 0x2029;
    if (!brk) {
      cur.push_back(c);
      continue;
    }
    if (c == '\r' && k + 1 < cps.size() && cps[k + 1] == '\n') ++k;
    out.push_back(utf8_encode(cur));
    cur.clear();
  }
  if (!cur.empty()) out.push_back(utf8_encode(cur));
  return out;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  if (from.empty()) {
    // Python inserts `to` between every character (and at both ends).
    std::vector<uint32_t> cps = utf8_decode(s);
    std::string out;
    int64_t done = 0;
    for (size_t k = 0; k <= cps.size(); ++k) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      if (k < cps.size()) utf8_append(out, cps[k]);
    }
    return out;
  }
  std::string out;
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t p = s.find(from, start);
    if (p == std::string::npos) break;
    out.append(s, start, p - start);
    out += to;
    start = p + from.size();
    ++done;
  }
  out.append(s, start, std::string::npos);
  return out;
}

std::string capitalize(const std::string& s) {
  std::vector<uint32_t> cps = utf8_decode(s);
  if (cps.empty()) return s;
  std::string first, rest;
  utf8_append(first, cps[0]);
  rest = utf8_encode(std::vector<uint32_t>(cps.begin() + 1, cps.end()));
  return py_upper(first) + py_lower(rest);
}

bool is_word_split(uint32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c); }

// jinja2's do_title: capitalize each chunk between [-\s({\[<]+ runs.
std::string jinja_title(const std::string& s) {
  std::vector<uint32_t> cps = utf8_decode(s);
  std::string out;
  size_t k = 0;
  while (k < cps.size()) {
    size_t b = k;
    bool sep = is_word_split(cps[k]);
    while (k < cps.size() && is_word_split(cps[k]) == sep) ++k;
    std::string chunk = utf8_encode(std::vector<uint32_t>(cps.begin() + b, cps.begin() + k));
    out += sep ? chunk : capitalize(chunk);
  }
  return out;
}

// Python str.title(): uppercase after any non-letter (cased) character.
std::string py_title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (uint32_t c : utf8_decode(s)) {
    std::string ch;
    utf8_append(ch, c);
    std::string up = py_upper(ch), lo = py_lower(ch);
    bool cased = up != lo;
    out += cased ? (prev_cased ? lo : up) : ch;
    prev_cased = cased;
  }
  return out;
}

double py_round(double x, int64_t digits) {
  if (!std::isfinite(x)) return x;
  double m = std::pow(10.0, double(digits));
  double r = std::nearbyint(x * m) / m;  // ties to even, like Python's round()
  return std::isfinite(r) ? r : x;
}

}  // namespace

// ---------------------------------------------------------------- filters
Value apply_filter(Interp& in, const std::string& name, Value v, Args& a, const Expr& at) {
  auto arg = [&](size_t k, const char* n) { return a.get(k, n); };
  auto s_of = [&](const Value& x) { return py_str(x); };
  if (name == "trim") {
    const Value* c = arg(0, "chars");
    std::string chars = c && c->kind == Kind::String ? c->s : std::string();
    return Value::str(py_strip(s_of(v), true, true, c && c->kind == Kind::String ? &chars : nullptr));
  }
  if (name == "length" || name == "count") return length_of(in, at, v);
  if (name == "upper") return Value::str(py_upper(s_of(v)));
  if (name == "lower") return Value::str(py_lower(s_of(v)));
  if (name == "capitalize") return Value::str(capitalize(s_of(v)));
  if (name == "title") return Value::str(jinja_title(s_of(v)));
  if (name == "string") return Value::str(s_of(v));
  if (name == "safe") {
    Value r = Value::str(s_of(v));
    r.is_markup = true;
    return r;
  }
  if (name == "default" || name == "d") {
    const Value* d = arg(0, "default_value");
    const Value* b = arg(1, "boolean");
    bool use = v.is_undefined() || (b && b->truthy() && !v.truthy());
    return use ? (d ? *d : Value::str("")) : v;
  }
  if (name == "tojson") {
    const Value* ind = arg(0, "indent");
    const Value* ea = a.get(99, "ensure_ascii");
    const Value* sep = a.get(99, "separators");
    const Value* sk = a.get(99, "sort_keys");
    int indent = -1;
    if (ind && ind->kind != Kind::None) {
      if (ind->kind != Kind::Int) in.fail(at, "tojson indent must be an integer");
      indent = int(std::clamp<int64_t>(ind->i, 0, 64));
    }
    std::string isep = indent >= 0 ? "," : ", ", ksep = ": ";
    if (sep && sep->kind == Kind::List && sep->list->size() == 2 && (*sep->list)[0].kind == Kind::String &&
        (*sep->list)[1].kind == Kind::String) {
      isep = (*sep->list)[0].s;
      ksep = (*sep->list)[1].s;
    } else if (sep && sep->kind != Kind::None) {
      in.fail(at, "tojson separators must be a pair of strings");
    }
    try {
      std::string j = to_json(v, indent, isep, ksep, sk && sk->truthy(), ea && ea->truthy());
      in.check_size(at, j.size());
      return Value::str(std::move(j));
    } catch (const Error& e) {
      in.fail(at, e.what());
    }
  }
  if (name == "join") {
    const Value* d = arg(0, "d");
    const Value* attr = arg(1, "attribute");
    std::string sep = d ? s_of(*d) : std::string(), out;
    bool first = true;
    for (const Value& x : in.iterate(at, v)) {
      if (!first) out += sep;
      first = false;
      out += s_of(attr ? in.getattr(at, x, s_of(*attr)) : x);
      in.check_size(at, out.size());
    }
    return Value::str(out);
  }
  if (name == "first" || name == "last") {
    if (name == "last" && v.is_generator) in.fail(at, "'generator' object is not reversible");
    std::vector<Value> items = in.iterate(at, v);
    if (items.empty()) return Value::undefined("No " + name + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") return Value::array(in.iterate(at, v));
  if (name == "reverse") {
    if (v.kind == Kind::String) {
      std::vector<uint32_t> cps = utf8_decode(v.s);
      std::reverse(cps.begin(), cps.end());
      return Value::str(utf8_encode(cps));
    }
    std::vector<Value> items = in.iterate(at, v);
    std::reverse(items.begin(), items.end());
    return Value::array(std::move(items));
  }
  if (name == "replace") {
    const Value* o = arg(0, "old");
    const Value* n = arg(1, "new");
    if (!o || !n) in.fail(at, "replace expects (old, new)");
    return Value::str(replace_all(s_of(v), s_of(*o), s_of(*n), opt_int(in, at, arg(2, "count"), -1, "replace")));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::array();
    if (!v.is_mapping()) in.fail(at, "items filter expects a mapping");
    List l;
    for (const auto& kv : v.dict->items) {
      Value t = Value::array({dict_key_value(kv.first), kv.second});
      t.is_tuple = true;
      l.push_back(t);
    }
    return Value::array(std::move(l));
  }
  if (name == "int") {
    const Value* d = arg(0, "default");
    Value def = d ? *d : Value::integer(0);
    if (v.kind == Kind::Int) return v;
    if (v.kind == Kind::Bool) return Value::integer(v.b);
    if (v.kind == Kind::Float) return std::isfinite(v.f) ? Value::integer(int64_t(v.f)) : def;
    if (v.kind == Kind::String) {
      std::string s = py_strip(v.s, true, true, nullptr);
      char* end = nullptr;
      errno = 0;
      long long x = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && end && *end == 0 && errno == 0) return Value::integer(x);
      double f = std::strtod(s.c_str(), &end);
      if (!s.empty() && end && *end == 0 && std::isfinite(f)) return Value::integer(int64_t(f));
    }
    return def;
  }
  if (name == "float") {
    const Value* d = arg(0, "default");
    Value def = d ? *d : Value::real(0.0);
    if (v.is_number()) return Value::real(v.as_double());
    if (v.kind == Kind::String) {
      std::string s = py_strip(v.s, true, true, nullptr);
      char* end = nullptr;
      double f = std::strtod(s.c_str(), &end);
      if (!s.empty() && end && *end == 0) return Value::real(f);
    }
    return def;
  }
  if (name == "abs") {
    if (v.kind == Kind::Int) return Value::integer(v.i < 0 ? -v.i : v.i);
    if (v.is_number()) return Value::real(std::fabs(v.as_double()));
    in.fail(at, "abs expects a number");
  }
  if (name == "round") {
    if (!v.is_number()) in.fail(at, "round expects a number");
    int64_t p = opt_int(in, at, arg(0, "precision"), 0, "round");
    const Value* m = arg(1, "method");
    std::string method = m ? s_of(*m) : "common";
    double x = v.as_double(), s = std::pow(10.0, double(p));
    if (method == "common") return Value::real(py_round(x, p));
    if (method == "floor") return Value::real(std::floor(x * s) / s);
    if (method == "ceil") return Value::real(std::ceil(x * s) / s);
    in.fail(at, "round method must be common, floor or ceil");
  }
  if (name == "min" || name == "max" || name == "sum") {
    std::vector<Value> items = in.iterate(at, v);
    if (name == "sum") {
      const Value* st = arg(1, "start");
      Value acc = st ? *st : Value::integer(0);
      for (const auto& x : items) acc = in.binary(at, "+", acc, x);
      return acc;
    }
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    Value best = items[0];
    for (const auto& x : items) {
      int c;
      try {
        c = py_compare(x, best);
      } catch (const Error& e) {
        in.fail(at, e.what());
      }
      if (name == "min" ? c < 0 : c > 0) best = x;
    }
    return best;
  }
  if (name == "escape" || name == "e") {
    Value r = Value::str(v.is_markup ? v.s : html_escape(s_of(v)));
    r.is_markup = true;
    return r;
  }
  if (name == "indent") {
    const Value* w = arg(0, "width");
    std::string ind = w && w->kind == Kind::String ? w->s : std::string(size_t(std::clamp<int64_t>(opt_int(in, at, w, 4, "indent"), 0, 1024)), ' ');
    const Value* first = arg(1, "first");
    const Value* blank = arg(2, "blank");
    std::vector<std::string> lines = py_splitlines(s_of(v) + "\n");
    std::string rv;
    if (blank && blank->truthy()) {
      for (size_t k = 0; k < lines.size(); ++k) rv += (k ? "\n" + ind : "") + lines[k];
    } else {
      rv = lines.empty() ? "" : lines[0];
      for (size_t k = 1; k < lines.size(); ++k) rv += "\n" + (lines[k].empty() ? "" : ind) + lines[k];
    }
    if (first && first->truthy()) rv = ind + rv;
    return Value::str(rv);
  }
  if (name == "attr") return in.getattr(at, v, need_str(in, at, arg(0, "name"), "attr"));
  if (name == "map" || name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    // jinja2 yields nothing for a false value (None, undefined, empty),
    // and returns a generator.
    std::vector<Value> items = v.truthy() ? in.iterate(at, v) : std::vector<Value>{};
    Value gen = Value::array();
    gen.is_generator = true;
    List& out = *gen.list;
    if (name == "map") {
      const Value* attr = a.get(99, "attribute");
      const Value* def = a.get(99, "default");
      for (auto& x : items) {
        if (attr) {
          Value r = in.getattr(at, x, s_of(*attr));
          out.push_back(r.is_undefined() && def ? *def : r);
        } else {
          if (a.pos.empty() || a.pos[0].kind != Kind::String) in.fail(at, "map expects a filter name or attribute=");
          Args rest;
          rest.pos.assign(a.pos.begin() + 1, a.pos.end());
          rest.kw = a.kw;
          out.push_back(apply_filter(in, a.pos[0].s, x, rest, at));
        }
      }
      return gen;
    }
    bool by_attr = name == "selectattr" || name == "rejectattr";
    bool want = name == "select" || name == "selectattr";
    size_t k0 = by_attr ? 1 : 0;
    if (by_attr && (a.pos.empty() || a.pos[0].kind != Kind::String)) in.fail(at, name + " expects an attribute name");
    for (auto& x : items) {
      Value subj = by_attr ? in.getattr(at, x, a.pos[0].s) : x;
      bool r;
      if (a.pos.size() > k0) {
        if (a.pos[k0].kind != Kind::String) in.fail(at, name + " expects a test name");
        Args rest;
        rest.pos.assign(a.pos.begin() + long(k0) + 1, a.pos.end());
        r = apply_test(in, a.pos[k0].s, subj, rest, at);
      } else {
        r = subj.truthy();
      }
      if (r == want) out.push_back(x);
    }
    return gen;
  }
  if (name == "unique") {
    List out;
    for (auto& x : in.iterate(at, v)) {
      bool seen = false;
      for (auto& y : out) seen = seen || py_equal(x, y);
      if (!seen) out.push_back(x);
    }
    return Value::array(std::move(out));
  }
  if (name == "dictsort" || name == "sort") return sort_filter(in, name, v, a, at);
  in.fail(at, "no filter named '" + name + "' (outside f8's Jinja subset)");
}

// ---------------------------------------------------------------- tests
bool apply_test(Interp& in, const std::string& name, const Value& v, Args& a, const Expr& at) {
  const Value* x = a.get(0, nullptr);
  auto need = [&]() -> const Value& {
    if (!x) in.fail(at, "test '" + name + "' expects an argument");
    return *x;
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.kind == Kind::None;
  if (name == "boolean") return v.kind == Kind::Bool;
  if (name == "true") return v.kind == Kind::Bool && v.b;
  if (name == "false") return v.kind == Kind::Bool && !v.b;
  if (name == "integer") return v.kind == Kind::Int;
  if (name == "float") return v.kind == Kind::Float;
  if (name == "number") return v.is_number();
  if (name == "string") return v.kind == Kind::String;
  if (name == "mapping") return v.kind == Kind::Dict;
  if (name == "iterable") return v.kind == Kind::String || v.kind == Kind::List || v.kind == Kind::Dict || v.is_undefined();
  if (name == "sequence") return v.kind == Kind::String || (v.kind == Kind::List && !v.is_generator) || v.kind == Kind::Dict;
  if (name == "callable") return v.kind == Kind::Function;
  if (name == "lower") return v.kind == Kind::String && py_lower(v.s) == v.s && py_upper(v.s) != v.s;
  if (name == "upper") return v.kind == Kind::String && py_upper(v.s) == v.s && py_lower(v.s) != v.s;
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (v.kind != Kind::Int) in.fail(at, "test '" + name + "' expects an integer");
    if (name == "divisibleby") {
      const Value& d = need();
      if (d.kind != Kind::Int || d.i == 0) in.fail(at, "divisibleby expects a non-zero integer");
      return v.i % d.i == 0;
    }
    return (v.i % 2 != 0) == (name == "odd");
  }
  if (name == "eq" || name == "equalto" || name == "==") return py_equal(v, need());
  if (name == "ne" || name == "!=") return !py_equal(v, need());
  if (name == "sameas") {
    const Value& o = need();
    if (v.kind != o.kind) return false;
    if (v.kind == Kind::None || v.kind == Kind::Undefined) return true;
    if (v.kind == Kind::Bool) return v.b == o.b;
    return v.list == o.list && v.dict == o.dict && v.fn == o.fn && v.kind >= Kind::List;
  }
  if (name == "in") return in.contains(at, need(), v);
  if (name == "lt" || name == "lessthan" || name == "<" || name == "le" || name == "<=" || name == "gt" ||
      name == "greaterthan" || name == ">" || name == "ge" || name == ">=") {
    int c;
    try {
      c = py_compare(v, need());
    } catch (const Error& e) {
      in.fail(at, e.what());
    }
    if (name == "lt" || name == "lessthan" || name == "<") return c < 0;
    if (name == "le" || name == "<=") return c <= 0;
    if (name == "gt" || name == "greaterthan" || name == ">") return c > 0;
    return c >= 0;
  }
  in.fail(at, "no test named '" + name + "' (outside f8's Jinja subset)");
}

// ---------------------------------------------------------------- methods
bool call_method(Interp& in, const Value& obj, const std::string& name, Args& a, const Expr& at, Value* out) {
  const Value* a0 = a.get(0, nullptr);
  if (obj.kind == Kind::String) {
    const std::string& s = obj.s;
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      std::string chars = a0 && a0->kind == Kind::String ? a0->s : std::string();
      bool has = a0 && a0->kind == Kind::String;
      *out = Value::str(py_strip(s, name != "rstrip", name != "lstrip", has ? &chars : nullptr));
      return true;
    }
    if (name == "upper") { *out = Value::str(py_upper(s)); return true; }
    if (name == "lower") { *out = Value::str(py_lower(s)); return true; }
    if (name == "title") { *out = Value::str(py_title(s)); return true; }
    if (name == "capitalize") { *out = Value::str(capitalize(s)); return true; }
    if (name == "startswith" || name == "endswith") {
      std::vector<std::string> cands;
      if (a0 && a0->kind == Kind::String) cands.push_back(a0->s);
      else if (a0 && a0->kind == Kind::List)
        for (const auto& x : *a0->list) cands.push_back(need_str(in, at, &x, name.c_str()));
      else in.fail(at, name + " expects a string or tuple of strings");
      bool r = false;
      for (const auto& c : cands)
        r = r || (c.size() <= s.size() &&
                  (name == "startswith" ? s.compare(0, c.size(), c) == 0 : s.compare(s.size() - c.size(), c.size(), c) == 0));
      *out = Value::boolean(r);
      return true;
    }
    if (name == "split") {
      const Value* sep = a.get(0, "sep");
      int64_t maxsplit = opt_int(in, at, a.get(1, "maxsplit"), -1, "split");
      std::string sp = sep && sep->kind == Kind::String ? sep->s : std::string();
      List l;
      try {
        for (auto& p : py_split(s, sep && sep->kind == Kind::String ? &sp : nullptr, maxsplit)) l.push_back(Value::str(p));
      } catch (const Error& e) {
        in.fail(at, e.what());
      }
      *out = Value::array(std::move(l));
      return true;
    }
    if (name == "rsplit") {
      const Value* sep = a.get(0, "sep");
      int64_t maxsplit = opt_int(in, at, a.get(1, "maxsplit"), -1, "rsplit");
      if (maxsplit < 0 || (sep && sep->kind == Kind::String && sep->s.empty())) {
        // Unlimited rsplit equals split; so does an empty separator's error.
        Args b;
        b.pos = a.pos;
        b.kw = a.kw;
        return call_method(in, obj, "split", b, at, out);
      }
      List l;
      if (sep && sep->kind == Kind::String) {
        std::string rest = s;
        std::vector<std::string> parts;
        while (int64_t(parts.size()) < maxsplit) {
          size_t p = rest.rfind(sep->s);
          if (p == std::string::npos) break;
          parts.push_back(rest.substr(p + sep->s.size()));
          rest.resize(p);
        }
        parts.push_back(rest);
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) l.push_back(Value::str(*it));
      } else {
        // Whitespace rsplit with a limit: split from the right on runs.
        std::vector<uint32_t> cps = utf8_decode(s);
        std::vector<std::string> parts;
        size_t e = cps.size();
        while (true) {
          while (e > 0 && py_isspace(cps[e - 1])) --e;
          if (e == 0) break;
          if (int64_t(parts.size()) >= maxsplit) {
            size_t b = 0;
            while (b < e && py_isspace(cps[b])) ++b;
            parts.push_back(utf8_encode(std::vector<uint32_t>(cps.begin() + long(b), cps.begin() + long(e))));
            break;
          }
          size_t b = e;
          while (b > 0 && !py_isspace(cps[b - 1])) --b;
          parts.push_back(utf8_encode(std::vector<uint32_t>(cps.begin() + long(b), cps.begin() + long(e))));
          e = b;
        }
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) l.push_back(Value::str(*it));
      }
      *out = Value::array(std::move(l));
      return true;
    }
    if (name == "removeprefix" || name == "removesuffix") {
      std::string x = need_str(in, at, a0, name.c_str());
      bool pre = name == "removeprefix";
      bool hit = x.size() <= s.size() && (pre ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0);
      *out = Value::str(!hit || x.empty() ? s : pre ? s.substr(x.size()) : s.substr(0, s.size() - x.size()));
      return true;
    }
    if (name == "format") {
      *out = Value::str(py_format(in, s, a, at));
      return true;
    }
    if (name == "splitlines") {
      List l;
      for (auto& p : py_splitlines(s)) l.push_back(Value::str(p));
      *out = Value::array(std::move(l));
      return true;
    }
    if (name == "replace") {
      if (a.pos.size() < 2) in.fail(at, "replace expects (old, new)");
      *out = Value::str(replace_all(s, need_str(in, at, &a.pos[0], "replace"), need_str(in, at, &a.pos[1], "replace"),
                                    opt_int(in, at, a.get(2, "count"), -1, "replace")));
      in.check_size(at, out->s.size());
      return true;
    }
    if (name == "join") {
      if (!a0) in.fail(at, "join expects an iterable");
      std::string r;
      bool first = true;
      for (const Value& x : in.iterate(at, *a0)) {
        if (!first) r += s;
        first = false;
        r += need_str(in, at, &x, "join");
        in.check_size(at, r.size());
      }
      *out = Value::str(r);
      return true;
    }
    if (name == "find" || name == "count") {
      std::string sub = need_str(in, at, a0, name.c_str());
      if (name == "count") {
        int64_t c = 0;
        if (sub.empty()) c = int64_t(cp_len(s)) + 1;
        else for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++c;
        *out = Value::integer(c);
      } else {
        size_t p = s.find(sub);
        *out = Value::integer(p == std::string::npos ? -1 : int64_t(cp_len(s.substr(0, p))));
      }
      return true;
    }
    if (name == "isdigit" || name == "isspace" || name == "isalpha") {
      std::vector<uint32_t> cps = utf8_decode(s);
      bool r = !cps.empty();
      for (uint32_t c : cps) {
        if (name == "isdigit") r = r && c >= '0' && c <= '9';
        else if (name == "isspace") r = r && py_isspace(c);
        else r = r && c < 0x80 && isalpha(int(c));
      }
      *out = Value::boolean(r);
      return true;
    }
    return false;
  }
  if (obj.kind == Kind::Dict) {
    if (name == "items" || name == "keys" || name == "values") {
      List l;
      for (const auto& kv : obj.dict->items) {
        if (name == "keys") l.push_back(dict_key_value(kv.first));
        else if (name == "values") l.push_back(kv.second);
        else {
          Value t = Value::array({dict_key_value(kv.first), kv.second});
          t.is_tuple = true;
          l.push_back(t);
        }
      }
      *out = Value::array(std::move(l));
      return true;
    }
    if (name == "copy") {
      *out = Value::object(*obj.dict);
      return true;
    }
    if (name == "get") {
      if (!a0) in.fail(at, "get expects a key");
      const Value* d = a.get(1, nullptr);
      std::string k;
      const Value* v = dict_key_of(*a0, &k) ? obj.dict->find(k) : nullptr;
      *out = v ? *v : d ? *d : Value::none();
      return true;
    }
    return false;
  }
  if (obj.kind == Kind::List && (name == "append" || name == "pop" || name == "extend" || name == "insert" ||
                                 name == "remove" || name == "clear" || name == "sort" || name == "reverse")) {
    in.fail(at, "the sandbox does not allow modifying a list (" + name + ")");
  }
  if (obj.kind == Kind::List && (name == "count" || name == "index")) {
    if (!a0) in.fail(at, name + " expects an argument");
    int64_t c = 0, first = -1;
    for (size_t k = 0; k < obj.list->size(); ++k)
      if (py_equal((*obj.list)[k], *a0)) {
        if (first < 0) first = int64_t(k);
        ++c;
      }
    if (name == "index" && first < 0) in.fail(at, py_repr(*a0) + " is not in list");
    *out = Value::integer(name == "count" ? c : first);
    return true;
  }
  if (obj.kind == Kind::List && name == "copy") {
    *out = Value::array(*obj.list);
    return true;
  }
  return false;
}

namespace {
// Python's method names per type, for attribute lookups that are not calls.
const char* const kStrMethods[] = {
    "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format",
    "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
    "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans",
    "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit",
    "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill"};
const char* const kDictMethods[] = {"copy", "fromkeys", "get", "items", "keys", "values"};
const char* const kDictMutators[] = {"clear", "pop", "popitem", "setdefault", "update"};
const char* const kListMethods[] = {"copy", "count", "index"};
const char* const kListMutators[] = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"};

template <size_t N>
bool listed(const char* const (&names)[N], const std::string& n) {
  for (const char* x : names)
    if (n == x) return true;
  return false;
}
}  // namespace

Value Interp::bound_method(const Value& obj, const std::string& name) {
  bool method = false, unsafe = false;
  const char* type = kind_name(obj);
  if (obj.kind == Kind::String) method = listed(kStrMethods, name);
  if (obj.kind == Kind::Dict) {
    method = listed(kDictMethods, name);
    unsafe = listed(kDictMutators, name);
  }
  if (obj.kind == Kind::List && !obj.is_tuple) {
    method = listed(kListMethods, name);
    unsafe = listed(kListMutators, name);
  }
  if (obj.kind == Kind::List && obj.is_tuple) method = name == "count" || name == "index";
  if (unsafe) return Value::undefined("access to attribute '" + name + "' of '" + type + "' object is unsafe.");
  if (!method) return Value::undefined();
  Interp* self = this;
  return Value::function(name, [self, obj, name](Args& a) -> Value {
    Expr at;  // no position: call_fn gives the error the call's
    Value out;
    if (call_method(*self, obj, name, a, at, &out)) return out;
    throw Error("method '" + name + "' of " + kind_name(obj) + " is outside f8's Jinja subset");
  });
}

}  // namespace f8::chat::jinja
