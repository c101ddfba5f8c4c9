// jinja_sort.cpp — the `sort` and `dictsort` filters with jinja2 3.1's
// semantics: Python's stable sorted() (reverse=True keeps equal items in
// their original order), strings compared case-insensitively unless
// case_sensitive=true (jinja2 lowercases them for the key only), `sort`'s
// attribute= a dotted path or several comma-separated ones (compared as a
// tuple), `dictsort`'s by="key"|"value". Mixed types that Python cannot
// order are an error, as in Python.
#include <algorithm>

#include "chat/jinja.h"
#include "chat/jinja_interp.h"

namespace f8::chat::jinja {
namespace {

Value fold_case(const Value& v, bool case_sensitive) {
  if (case_sensitive || v.kind != Kind::String) return v;
  return Value::str(py_lower(v.s));
}

// attribute="a.b" -> v.a.b, "0" -> v[0]; jinja2's environment.getitem.
Value attr_path(Interp& in, const Expr& at, Value v, const std::string& path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (v.is_undefined()) return v;
    v = digits && part.size() < 10 ? in.getitem(at, v, Value::integer(std::stoll(part)))
                                   : in.getitem(at, v, Value::str(part));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return v;
}

void sort_by_key(Interp& in, const Expr& at, std::vector<std::pair<Value, Value>>& keyed, bool reverse) {
  try {
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      int c = py_compare(a.first, b.first);
      return reverse ? c > 0 : c < 0;
    });
  } catch (const Error& e) {
    in.fail(at, e.what());
  }
}

bool flag(const Args& a, size_t pos, const char* name) {
  const Value* v = a.get(pos, name);
  return v && v->truthy();
}

}  // namespace

Value sort_filter(Interp& in, const std::string& name, const Value& v, Args& a, const Expr& at) {
  std::vector<std::pair<Value, Value>> keyed;  // (sort key, item)
  bool reverse;
  if (name == "dictsort") {
    // dictsort(value, case_sensitive=False, by='key', reverse=False)
    if (!v.is_mapping()) in.fail(at, "dictsort expects a mapping, got " + std::string(kind_name(v)));
    bool cs = flag(a, 0, "case_sensitive");
    const Value* by = a.get(1, "by");
    std::string b = by ? py_str(*by) : "key";
    if (b != "key" && b != "value") in.fail(at, "dictsort: You can only sort by either 'key' or 'value'");
    reverse = flag(a, 2, "reverse");
    for (const auto& kv : v.dict->items) {
      Value item = Value::array({dict_key_value(kv.first), kv.second});
      item.is_tuple = true;
      keyed.emplace_back(fold_case(b == "key" ? dict_key_value(kv.first) : kv.second, cs), item);
    }
  } else {
    // sort(value, reverse=False, case_sensitive=False, attribute=None)
    reverse = flag(a, 0, "reverse");
    bool cs = flag(a, 1, "case_sensitive");
    const Value* attr = a.get(2, "attribute");
    std::vector<std::string> paths;
    if (attr && attr->kind == Kind::String) {
      size_t start = 0;
      while (true) {
        size_t comma = attr->s.find(',', start);
        paths.push_back(attr->s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (attr && attr->kind == Kind::Int) {
      paths.push_back(std::to_string(attr->i));
    }
    for (const Value& item : in.iterate(at, v)) {
      Value key;
      if (paths.empty()) {
        key = fold_case(item, cs);
      } else if (paths.size() == 1) {
        key = fold_case(attr_path(in, at, item, paths[0]), cs);
      } else {
        List parts;
        for (const auto& p : paths) parts.push_back(fold_case(attr_path(in, at, item, p), cs));
        key = Value::array(std::move(parts));
      }
      if (key.is_undefined()) in.fail(at, "sort: an item has no attribute '" + (attr ? py_str(*attr) : "") + "'");
      keyed.emplace_back(std::move(key), item);
    }
  }
  sort_by_key(in, at, keyed, reverse);
  List out;
  for (auto& kv : keyed) out.push_back(std::move(kv.second));
  return Value::array(std::move(out));
}

}  // namespace f8::chat::jinja
