// jinja_value.h — the dynamic value of f8's Jinja subset interpreter, with
// Python's semantics where a chat template can observe them: str()/repr()
// of None/True/floats/lists/dicts, truthiness, ==, ordering, and the JSON
// text transformers' `tojson` filter produces (json.dumps, ensure_ascii=False).
//
// Strings are UTF-8 bytes; operations whose result depends on characters
// (length, indexing, slicing) decode to code points like Python's str does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace f8::chat::jinja {

// Raised for every template error (syntax, outside the subset, runtime);
// line/col are 1-based positions in the template text, 0 when unknown.
struct Error : std::runtime_error {
  int line, col;
  Error(const std::string& msg, int l = 0, int c = 0)
      : std::runtime_error(msg), line(l), col(c) {}
};

struct Value;
using List = std::vector<Value>;
// Insertion-ordered mapping (Python dicts keep order). Keys are strings,
// or integers stored as int_dict_key's form (see below).
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(const std::string& k) const;
  Value* find(const std::string& k);
  void set(const std::string& k, Value v);
};
// A builtin callable (raise_exception, namespace, range, loop.cycle, ...).
struct Args;
using Fn = std::function<Value(Args&)>;

enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Function };

struct Value {
  Kind kind = Kind::Undefined;
  bool b = false;
  bool is_tuple = false;  // List printed as (a, b)
  // List standing for the generator jinja2's map/select/reject/selectattr/
  // rejectattr return: always true, no len(), not JSON, not subscriptable.
  // (Single use is not modelled: iterating it twice sees the items twice.)
  bool is_generator = false;
  // String that is markupsafe.Markup (from |safe or |escape): `+` with a
  // plain string HTML-escapes the plain one, as Markup.__add__ does.
  bool is_markup = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                // String; the name of an Undefined; Function name
  std::shared_ptr<List> list;   // List
  std::shared_ptr<Dict> dict;   // Dict, Namespace (namespace is mutable by `set ns.x`)
  std::shared_ptr<Fn> fn;       // Function

  static Value undefined(std::string name = {}) { Value v; v.s = std::move(name); return v; }
  static Value none() { Value v; v.kind = Kind::None; return v; }
  static Value boolean(bool x) { Value v; v.kind = Kind::Bool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.kind = Kind::Int; v.i = x; return v; }
  static Value real(double x) { Value v; v.kind = Kind::Float; v.f = x; return v; }
  static Value str(std::string x) { Value v; v.kind = Kind::String; v.s = std::move(x); return v; }
  static Value array(List x = {}) {
    Value v; v.kind = Kind::List; v.list = std::make_shared<List>(std::move(x)); return v;
  }
  static Value object(Dict x = {}) {
    Value v; v.kind = Kind::Dict; v.dict = std::make_shared<Dict>(std::move(x)); return v;
  }
  static Value function(std::string name, Fn f) {
    Value v; v.kind = Kind::Function; v.s = std::move(name);
    v.fn = std::make_shared<Fn>(std::move(f)); return v;
  }

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
  bool is_mapping() const { return kind == Kind::Dict || kind == Kind::Namespace; }
  double as_double() const { return kind == Kind::Float ? f : kind == Kind::Int ? double(i) : b ? 1 : 0; }
  bool truthy() const;
};

// Arguments of a call: positional then keyword (name=value).
struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  const Value* get(size_t idx, const char* name) const;  // positional idx or keyword name
};

// Integer dict keys ({0: 0, 512: 128}: ByteDance Seed-OSS's template) are
// stored as "\xff" + decimal: a byte no UTF-8 string holds, so an integer
// key never meets a string key (Python's 1 and '1' are different keys).
std::string int_dict_key(int64_t k);
bool is_int_dict_key(const std::string& k);
// A stored key as templates see it (a string, or the integer).
Value dict_key_value(const std::string& k);
// The stored form of a key for lookups: a string as it is; an int, a bool
// or an integral float as the integer (Python's 1 == True == 1.0 are one
// key). False for other kinds (no such key can be stored).
bool dict_key_of(const Value& key, std::string* out);

// Python-equivalent conversions.
std::string py_str(const Value& v);   // str(v); Undefined -> ""
std::string py_repr(const Value& v);  // repr(v) (inside containers)
std::string py_float(double d);       // repr(float)
// json.dumps(v, ensure_ascii, indent, separators, sort_keys) as
// transformers' tojson filter calls it (ensure_ascii=False unless the
// template asks). indent < 0 = None.
std::string to_json(const Value& v, int indent, const std::string& item_sep,
                    const std::string& key_sep, bool sort_keys, bool ensure_ascii = false);
const char* kind_name(const Value& v);  // "string", "list", ... for messages
bool py_equal(const Value& a, const Value& b);
// -1/0/1 for <; throws Error when Python would raise TypeError.
int py_compare(const Value& a, const Value& b);

// UTF-8 helpers (code point views of Python strings).
std::vector<uint32_t> utf8_decode(const std::string& s);  // invalid bytes -> U+FFFD
std::string utf8_encode(const std::vector<uint32_t>& cps);
void utf8_append(std::string& out, uint32_t cp);
bool py_isspace(uint32_t cp);  // str.isspace()
std::string py_strip(const std::string& s, bool left, bool right, const std::string* chars);
std::string py_upper(const std::string& s);
std::string py_lower(const std::string& s);
std::string html_escape(const std::string& s);  // markupsafe.escape: & < > " '


}  // namespace f8::chat::jinja
