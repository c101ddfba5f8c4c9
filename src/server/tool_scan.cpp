// tool_scan.cpp — scanning helpers of the tool-call parsers (tool_scan.h).
#include "server/tool_scan.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace f8srv::toolscan {

using nlohmann::json;

size_t skip_ws(const std::string& t, size_t p) {
  while (p < t.size() && is_ws(t[p])) ++p;
  return p;
}
// t[p..] is a proper prefix of m (the marker may still be coming).
bool prefix_of(const std::string& t, size_t p, const std::string& m) {
  size_t n = t.size() - std::min(p, t.size());
  return n < m.size() && m.compare(0, n, t, p, n) == 0;
}
// Length of the longest suffix of t that is a proper prefix of some marker.
size_t held_tail(const std::string& t, const std::vector<std::string>& markers) {
  size_t best = 0;
  for (const std::string& m : markers)
    for (size_t k = std::min(t.size(), m.size() - 1); k > best; --k)
      if (t.compare(t.size() - k, k, m, 0, k) == 0) {
        best = k;
        break;
      }
  return best;
}
std::string rtrim(std::string s) {
  while (!s.empty() && is_ws(s.back())) s.pop_back();
  return s;
}
std::string trim(const std::string& s) {
  size_t b = skip_ws(s, 0);
  return rtrim(s.substr(b));
}

// One JSON value at t[p..] (after whitespace): structure only (strings,
// nesting); the complete text is checked by nlohmann afterwards.
Scan scan_value(const std::string& t, size_t p, bool final, size_t* end) {
  p = skip_ws(t, p);
  if (p >= t.size()) return final ? Scan::Bad : Scan::More;
  char c = t[p];
  if (c == '{' || c == '[' || c == '"') {
    std::string stack;
    bool in_str = false, esc = false;
    for (size_t i = p; i < t.size(); ++i) {
      char x = t[i];
      if (in_str) {
        if (esc) esc = false;
        else if (x == '\\') esc = true;
        else if (x == '"') {
          in_str = false;
          if (stack.empty()) {
            *end = i + 1;
            return Scan::Done;
          }
        }
        continue;
      }
      if (x == '"') in_str = true;
      else if (x == '{' || x == '[') stack += x;
      else if (x == '}' || x == ']') {
        if (stack.empty() || (x == '}') != (stack.back() == '{')) return Scan::Bad;
        stack.pop_back();
        if (stack.empty()) {
          *end = i + 1;
          return Scan::Done;
        }
      }
    }
    return final ? Scan::Bad : Scan::More;
  }
  if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
    size_t i = p;
    while (i < t.size() && (std::isalnum(uint8_t(t[i])) || t[i] == '.' || t[i] == '+' || t[i] == '-')) ++i;
    if (i == t.size() && !final) return Scan::More;
    *end = i;
    return Scan::Done;
  }
  return Scan::Bad;
}

// A complete JSON value's text -> the arguments string: an object as
// written; a string holding JSON is decoded (quoted arguments). "" = invalid.
std::string arguments_of(const std::string& raw) {
  json v = json::parse(raw, nullptr, false);
  if (v.is_discarded()) return "";
  if (v.is_object()) return trim(raw);
  if (v.is_string()) {
    std::string inner = v.get<std::string>();
    json w = json::parse(inner, nullptr, false);
    if (!w.is_discarded() && w.is_object()) return inner;
  }
  return "";
}

ObjCall scan_call_object(const std::string& t, size_t p, const std::vector<std::string>& name_keys,
                         const std::vector<std::string>& arg_keys, bool final) {
  ObjCall r;
  auto more = [&]() {
    r.st = final ? Scan::Bad : Scan::More;
    return r;
  };
  p = skip_ws(t, p);
  if (p >= t.size()) return more();
  if (t[p] != '{') {
    r.st = Scan::Bad;
    return r;
  }
  ++p;
  for (;;) {
    p = skip_ws(t, p);
    if (p >= t.size()) return more();
    if (t[p] == '}') {
      r.st = Scan::Done;
      r.end = p + 1;
      return r;
    }
    if (t[p] != '"') {
      r.st = Scan::Bad;
      return r;
    }
    size_t ke;
    Scan s = scan_value(t, p, final, &ke);
    if (s != Scan::Done) {
      r.st = s;
      return r;
    }
    json key = json::parse(t.substr(p, ke - p), nullptr, false);
    if (!key.is_string()) {
      r.st = Scan::Bad;
      return r;
    }
    std::string k = key.get<std::string>();
    p = skip_ws(t, ke);
    if (p >= t.size()) return more();
    if (t[p] != ':') {
      r.st = Scan::Bad;
      return r;
    }
    size_t vb = skip_ws(t, p + 1);
    if (vb >= t.size()) return more();
    bool is_args = std::find(arg_keys.begin(), arg_keys.end(), k) != arg_keys.end();
    bool is_name = std::find(name_keys.begin(), name_keys.end(), k) != name_keys.end();
    if (is_args) r.ab = vb;
    size_t ve;
    s = scan_value(t, vb, final, &ve);
    if (s == Scan::Bad) {
      r.st = Scan::Bad;
      return r;
    }
    if (s == Scan::More) return more();
    if (is_args) r.ae = ve;
    if (is_name) {
      json n = json::parse(t.substr(vb, ve - vb), nullptr, false);
      if (!n.is_string()) {
        r.st = Scan::Bad;
        return r;
      }
      r.name = n.get<std::string>();
      r.name_done = true;
    }
    p = skip_ws(t, ve);
    if (p >= t.size()) return more();
    if (t[p] == ',') {
      ++p;
    } else if (t[p] == '}') {
      r.st = Scan::Done;
      r.end = p + 1;
      return r;
    } else {
      r.st = Scan::Bad;
      return r;
    }
  }
}

// ObjCall -> ToolCallOut (partial or complete); false when a complete call is invalid.
bool to_call(const std::string& t, const ObjCall& o, ToolCallOut* c) {
  c->name = o.name;
  c->name_done = o.name_done;
  if (o.ab == npos) {
    c->arguments = o.st == Scan::Done ? "{}" : "";  // no arguments key: a call without arguments
    c->args_done = o.st == Scan::Done;
  } else {
    c->streamable = t[o.ab] == '{';
    if (o.ae == npos) {
      c->arguments = c->streamable ? rtrim(t.substr(o.ab)) : "";
    } else {
      c->arguments = arguments_of(t.substr(o.ab, o.ae - o.ab));
      c->args_done = true;
      if (c->arguments.empty()) return false;
    }
  }
  return o.st != Scan::Done || (o.name_done && !o.name.empty());
}

}  // namespace f8srv::toolscan
