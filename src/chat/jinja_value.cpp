// jinja_value.cpp — Python-equivalent str/repr/json/compare for Value, and
// UTF-8 helpers. Python's exact outputs are the spec (the goldens compare
// bytes with jinja2's renders).
#include "chat/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cwctype>
#include <locale.h>

namespace f8::chat::jinja {

const Value* Dict::find(const std::string& k) const {
  for (const auto& kv : items)
    if (kv.first == k) return &kv.second;
  return nullptr;
}
Value* Dict::find(const std::string& k) {
  for (auto& kv : items)
    if (kv.first == k) return &kv.second;
  return nullptr;
}
void Dict::set(const std::string& k, Value v) {
  if (Value* p = find(k)) *p = std::move(v);
  else items.emplace_back(k, std::move(v));
}

std::string int_dict_key(int64_t k) { return "\xff" + std::to_string(k); }
bool is_int_dict_key(const std::string& k) { return !k.empty() && k[0] == '\xff'; }
Value dict_key_value(const std::string& k) {
  return is_int_dict_key(k) ? Value::integer(std::strtoll(k.c_str() + 1, nullptr, 10)) : Value::str(k);
}
bool dict_key_of(const Value& key, std::string* out) {
  switch (key.kind) {
    case Kind::String: *out = key.s; return true;
    case Kind::Int: *out = int_dict_key(key.i); return true;
    case Kind::Bool: *out = int_dict_key(key.b); return true;
    case Kind::Float:
      if (!(std::fabs(key.f) < 9.2e18) || key.f != std::floor(key.f)) return false;
      *out = int_dict_key(int64_t(key.f));
      return true;
    default: return false;
  }
}

const Value* Args::get(size_t idx, const char* name) const {
  if (name)
    for (const auto& kv : kw)
      if (kv.first == name) return &kv.second;
  if (idx < pos.size()) return &pos[idx];
  return nullptr;
}

bool Value::truthy() const {
  switch (kind) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return b;
    case Kind::Int: return i != 0;
    case Kind::Float: return f != 0;
    case Kind::String: return !s.empty();
    case Kind::List: return is_generator || !list->empty();
    case Kind::Dict: return !dict->items.empty();
    case Kind::Namespace:
    case Kind::Function: return true;
  }
  return false;
}

const char* kind_name(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return "undefined";
    case Kind::None: return "none";
    case Kind::Bool: return "boolean";
    case Kind::Int: return "integer";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::List: return v.is_tuple ? "tuple" : "list";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "namespace";
    case Kind::Function: return "function";
  }
  return "?";
}

// ---------------------------------------------------------------- UTF-8
std::vector<uint32_t> utf8_decode(const std::string& s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned c = p[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > n) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

std::string utf8_encode(const std::vector<uint32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (uint32_t c : cps) utf8_append(out, c);
  return out;
}

// Python's str.isspace(): Unicode White_Space plus the ASCII separators
// 0x1C-0x1F that Python also counts.
bool py_isspace(uint32_t c) {
  if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) return true;
  switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F:
    case 0x205F: case 0x3000: return true;
    default: return c >= 0x2000 && c <= 0x200A;
  }
}

std::string py_strip(const std::string& s, bool left, bool right, const std::string* chars) {
  std::vector<uint32_t> cps = utf8_decode(s);
  std::vector<uint32_t> set;
  if (chars) set = utf8_decode(*chars);
  auto strip_it = [&](uint32_t c) {
    return chars ? std::find(set.begin(), set.end(), c) != set.end() : py_isspace(c);
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b])) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1])) --e;
  // Keep the original bytes when nothing needed decoding (invalid UTF-8
  // survives untouched in the common case).
  if (b == 0 && e == cps.size()) return s;
  return utf8_encode(std::vector<uint32_t>(cps.begin() + b, cps.begin() + e));
}

// Case mapping: the C.UTF-8 locale's simple mappings, plus the one common
// full mapping (ß -> SS) Python applies in upper().
static locale_t utf8_locale() {
  static locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  return loc;
}
static std::string map_case(const std::string& s, bool upper) {
  std::string out;
  out.reserve(s.size());
  locale_t loc = utf8_locale();
  for (uint32_t c : utf8_decode(s)) {
    if (c < 0x80) {
      out += char(upper ? (c >= 'a' && c <= 'z' ? c - 32 : c) : (c >= 'A' && c <= 'Z' ? c + 32 : c));
    } else if (upper && c == 0xDF) {
      out += "SS";
    } else if (loc) {
      utf8_append(out, uint32_t(upper ? towupper_l(wint_t(c), loc) : towlower_l(wint_t(c), loc)));
    } else {
      utf8_append(out, c);
    }
  }
  return out;
}
std::string py_upper(const std::string& s) { return map_case(s, true); }
std::string py_lower(const std::string& s) { return map_case(s, false); }

// ---------------------------------------------------------------- numbers
// repr(float): shortest round-trip digits; fixed notation when the decimal
// exponent is in [-4, 16), else d.ddde+XX; integral fixed values get ".0".
std::string py_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t epos = sci.find('e');
  std::string mant = sci.substr(0, epos);
  int exp = std::stoi(sci.substr(epos + 1));
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out = neg ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0." + std::string(size_t(-exp - 1), '0') + digits;
    } else if (size_t(exp) + 1 >= digits.size()) {
      out += digits + std::string(size_t(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, size_t(exp) + 1) + "." + digits.substr(size_t(exp) + 1);
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += e;
  }
  return out;
}

// ---------------------------------------------------------------- str/repr
static bool py_printable(uint32_t c) {
  if (c < 0x20 || c == 0x7F) return false;
  if (c >= 0x80 && c <= 0xA0) return false;
  if (c == 0xAD || c == 0x1680 || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
      (c >= 0x205F && c <= 0x2064) || c == 0x3000 || c == 0xFEFF || (c >= 0xD800 && c <= 0xDFFF) ||
      (c >= 0xE000 && c <= 0xF8FF) || (c >= 0xFFF9 && c <= 0xFFFB))
    return false;
  return true;
}

static std::string repr_string(const std::string& s) {
  bool has_sq = s.find('\'') != std::string::npos, has_dq = s.find('"') != std::string::npos;
  char q = has_sq && !has_dq ? '"' : '\'';
  std::string out(1, q);
  for (uint32_t c : utf8_decode(s)) {
    char buf[16];
    if (c == uint32_t(q) || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!py_printable(c)) {
      if (c < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", c);
      else if (c < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04x", c);
      else std::snprintf(buf, sizeof buf, "\\U%08x", c);
      out += buf;
    } else {
      utf8_append(out, c);
    }
  }
  out += q;
  return out;
}

std::string py_repr(const Value& v) {
  switch (v.kind) {
    case Kind::String: return repr_string(v.s);
    case Kind::List: {
      std::string out = v.is_tuple ? "(" : "[";
      for (size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += ", ";
        out += py_repr((*v.list)[k]);
      }
      if (v.is_tuple && v.list->size() == 1) out += ",";
      return out + (v.is_tuple ? ")" : "]");
    }
    case Kind::Dict:
    case Kind::Namespace: {
      std::string out = v.kind == Kind::Namespace ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& kv : v.dict->items) {
        if (!first) out += ", ";
        first = false;
        out += (is_int_dict_key(kv.first) ? kv.first.substr(1) : repr_string(kv.first)) + ": " + py_repr(kv.second);
      }
      return out + (v.kind == Kind::Namespace ? "}>" : "}");
    }
    case Kind::Undefined: return "Undefined";
    default: return py_str(v);
  }
}

std::string py_str(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return "";
    case Kind::None: return "None";
    case Kind::Bool: return v.b ? "True" : "False";
    case Kind::Int: return std::to_string(v.i);
    case Kind::Float: return py_float(v.f);
    case Kind::String: return v.s;
    case Kind::Function: return "<function " + v.s + ">";
    default: return py_repr(v);
  }
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------- json
static void json_string(std::string& out, const std::string& s, bool ascii) {
  out += '"';
  for (uint32_t c : utf8_decode(s)) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || (ascii && c > 0x7F)) {
          // ensure_ascii: astral code points become a UTF-16 surrogate pair.
          char buf[16];
          if (c > 0xFFFF)
            std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + ((c - 0x10000) >> 10),
                          0xDC00 + ((c - 0x10000) & 0x3FF));
          else
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          utf8_append(out, c);
        }
    }
  }
  out += '"';
}

static void json_rec(std::string& out, const Value& v, int indent, int depth, const std::string& isep,
                     const std::string& ksep, bool sort_keys, bool ascii) {
  if (depth > 256) throw Error("tojson: nesting deeper than 256 levels");
  auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(size_t(indent) * size_t(d), ' ');
  };
  switch (v.kind) {
    case Kind::None: out += "null"; return;
    case Kind::Bool: out += v.b ? "true" : "false"; return;
    case Kind::Int: out += std::to_string(v.i); return;
    case Kind::Float:
      if (std::isnan(v.f)) out += "NaN";
      else if (std::isinf(v.f)) out += v.f < 0 ? "-Infinity" : "Infinity";
      else out += py_float(v.f);
      return;
    case Kind::String: json_string(out, v.s, ascii); return;
    case Kind::List: {
      if (v.is_generator) throw Error("tojson: Object of type generator is not JSON serializable");
      if (v.list->empty()) { out += "[]"; return; }
      out += '[';
      for (size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += isep;
        newline(depth + 1);
        json_rec(out, (*v.list)[k], indent, depth + 1, isep, ksep, sort_keys, ascii);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Kind::Dict: {
      if (v.dict->items.empty()) { out += "{}"; return; }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.dict->items) items.push_back(&kv);
      if (sort_keys)  // integers by value (json.dumps sorts the keys before it makes them strings)
        std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) {
          if (is_int_dict_key(a->first) || is_int_dict_key(b->first))
            return py_compare(dict_key_value(a->first), dict_key_value(b->first)) < 0;
          return a->first < b->first;
        });
      out += '{';
      for (size_t k = 0; k < items.size(); ++k) {
        if (k) out += isep;
        newline(depth + 1);
        const std::string& key = items[k]->first;
        json_string(out, is_int_dict_key(key) ? key.substr(1) : key, ascii);
        out += ksep;
        json_rec(out, items[k]->second, indent, depth + 1, isep, ksep, sort_keys, ascii);
      }
      newline(depth);
      out += '}';
      return;
    }
    default:
      throw Error(std::string("tojson: Object of type ") + kind_name(v) + " is not JSON serializable");
  }
}

std::string to_json(const Value& v, int indent, const std::string& isep, const std::string& ksep,
                    bool sort_keys, bool ensure_ascii) {
  std::string out;
  json_rec(out, v, indent, 0, isep, ksep, sort_keys, ensure_ascii);
  return out;
}

// ---------------------------------------------------------------- compare
bool py_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind != Kind::Float && b.kind != Kind::Float)
      return (a.kind == Kind::Int ? a.i : a.b) == (b.kind == Kind::Int ? b.i : b.b);
    return a.as_double() == b.as_double();
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String: return a.s == b.s;
    case Kind::List:
      if (a.list->size() != b.list->size()) return false;
      for (size_t k = 0; k < a.list->size(); ++k)
        if (!py_equal((*a.list)[k], (*b.list)[k])) return false;
      return true;
    case Kind::Dict: {
      if (a.dict->items.size() != b.dict->items.size()) return false;
      for (const auto& kv : a.dict->items) {
        const Value* o = b.dict->find(kv.first);
        if (!o || !py_equal(kv.second, *o)) return false;
      }
      return true;
    }
    default: return a.dict == b.dict && a.fn == b.fn;
  }
}

int py_compare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind == Kind::Int && b.kind == Kind::Int) return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
    double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.kind == Kind::String && b.kind == Kind::String) {
    int c = a.s.compare(b.s);  // UTF-8 byte order == code point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.kind == Kind::List && b.kind == Kind::List) {
    size_t n = std::min(a.list->size(), b.list->size());
    for (size_t k = 0; k < n; ++k) {
      if (py_equal((*a.list)[k], (*b.list)[k])) continue;
      return py_compare((*a.list)[k], (*b.list)[k]);
    }
    return a.list->size() < b.list->size() ? -1 : a.list->size() > b.list->size() ? 1 : 0;
  }
  throw Error(std::string("'<' not supported between ") + kind_name(a) + " and " + kind_name(b));
}

}  // namespace f8::chat::jinja
