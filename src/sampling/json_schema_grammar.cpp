// json_schema_grammar.cpp — JSON Schema -> GBNF (json_schema.h): types,
// objects, arrays, combinators and references. Strings' contents are in
// json_schema_strings.cpp, number ranges in json_schema_numbers.cpp.
#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "sampling/grammar.h"
#include "sampling/json_schema.h"

namespace f8::sampling {

namespace {

using json = nlohmann::ordered_json;

struct Fail {
  bool unsupported;
  std::string message;
};

// Keywords that only describe (ignored), and those f8 knows it cannot enforce.
const std::set<std::string> kAnnotations = {"title", "description", "default", "examples", "$schema", "$id",
                                            "$comment", "deprecated", "readOnly", "writeOnly", "$defs",
                                            "definitions", "contentEncoding", "contentMediaType", "$anchor"};
const std::set<std::string> kSupported = {"type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref",
                                          "properties", "required", "additionalProperties", "items", "prefixItems",
                                          "additionalItems", "minItems", "maxItems", "uniqueItems", "minLength",
                                          "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
                                          "exclusiveMaximum"};

std::string gbnf_literal(const std::string& bytes) {
  std::string s = "\"";
  for (char c : bytes) {
    uint8_t b = uint8_t(c);
    if (c == '"') s += "\\\"";
    else if (c == '\\') s += "\\\\";
    else if (c == '\n') s += "\\n";
    else if (c == '\r') s += "\\r";
    else if (c == '\t') s += "\\t";
    else if (b < 0x20 || b == 0x7F) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02X", b);
      s += buf;
    } else {
      s += c;
    }
  }
  return s + "\"";
}

std::string dump(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::strict); }

std::string pointer_escape(const std::string& key) {
  std::string s;
  for (char c : key) {
    if (c == '~') s += "~0";
    else if (c == '/') s += "~1";
    else s += c;
  }
  return s;
}

class Converter {
 public:
  Converter(const json& root, std::string prefix) : root_(root), prefix_(std::move(prefix)) {}

  std::string run() {
    int32_t root_index = reserve(prefix_, /*exact=*/true);
    rules_[size_t(root_index)].second = visit(root_, "");
    std::string out;
    for (const auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& path, bool unsupported, const std::string& msg) {
    throw Fail{unsupported, "schema" + (path.empty() ? std::string() : " at '" + path + "'") + ": " + msg};
  }

  static std::string sanitize(const std::string& hint) {
    std::string s;
    for (char c : hint) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      s += ok ? c : '-';
      if (s.size() >= 32) break;
    }
    return s.empty() ? "x" : s;
  }

  int32_t reserve(const std::string& name, bool exact = false) {
    std::string n = exact ? name : prefix_ + "-" + sanitize(name);
    if (!exact && names_.count(n)) {
      int k = 2;
      while (names_.count(n + "-" + std::to_string(k))) ++k;
      n += "-" + std::to_string(k);
    }
    names_.insert(n);
    rules_.push_back({n, ""});
    return int32_t(rules_.size() - 1);
  }

  std::string add_rule(const std::string& hint, const std::string& body) {
    int32_t i = reserve(hint);
    rules_[size_t(i)].second = body;
    return rules_[size_t(i)].first;
  }

  // Shared building blocks, added on first use.
  std::string prim(const std::string& p) {
    std::string name = prefix_ + "." + p;  // '.' never appears in other generated names
    if (prims_.count(p)) return name;
    prims_.insert(p);
    names_.insert(name);
    size_t slot = rules_.size();
    rules_.push_back({name, ""});
    std::string body;
    if (p == "ws") body = "| \" \" | \"\\n\" [ \\t]{0,20}";
    else if (p == "char")
      body = "[^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2}))";
    else if (p == "string") body = "\"\\\"\" " + prim("char") + "* \"\\\"\"";
    else if (p == "number") body = "\"-\"? (\"0\" | [1-9] [0-9]{0,15}) (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?";
    else if (p == "integer") body = "\"-\"? (\"0\" | [1-9] [0-9]{0,15})";
    else if (p == "boolean") body = "\"true\" | \"false\"";
    else if (p == "null") body = "\"null\"";
    else if (p == "value")
      body = prim("object") + " | " + prim("array") + " | " + prim("string") + " | " + prim("number") + " | " +
             prim("boolean") + " | " + prim("null");
    else if (p == "object") {
      std::string ws = prim("ws"), kv = prim("string") + " " + ws + " \":\" " + ws + " " + prim("value");
      body = "\"{\" " + ws + " (" + kv + " (" + ws + " \",\" " + ws + " " + kv + ")*)? " + ws + " \"}\"";
    } else if (p == "array") {
      std::string ws = prim("ws"), v = prim("value");
      body = "\"[\" " + ws + " (" + v + " (" + ws + " \",\" " + ws + " " + v + ")*)? " + ws + " \"]\"";
    } else if (p == "kchar")  // a key character with one spelling only (extra keys; see not_in_keys)
      body = "[^\"\\\\\\x00-\\x1F] | \"\\\\\" [\"\\\\bfnrt]";
    rules_[slot].second = body;
    return name;
  }

  std::string sep() { return prim("ws") + " \",\" " + prim("ws"); }

  void check_keywords(const json& s, const std::string& path) {
    for (auto it = s.begin(); it != s.end(); ++it) {
      const std::string& k = it.key();
      if (kAnnotations.count(k) || kSupported.count(k)) continue;
      static const std::set<std::string> known_unsupported = {
          "multipleOf", "not", "if", "then", "else", "patternProperties", "propertyNames", "minProperties",
          "maxProperties", "dependentRequired", "dependentSchemas", "dependencies", "unevaluatedProperties",
          "unevaluatedItems", "contains", "minContains", "maxContains", "$dynamicRef", "$recursiveRef",
          "$dynamicAnchor", "$recursiveAnchor"};
      if (known_unsupported.count(k)) fail(path, true, "'" + k + "' is not supported");
      fail(path, true, "unknown keyword '" + k + "' (f8 refuses keywords it cannot enforce)");
    }
    if (s.contains("uniqueItems") && !(s["uniqueItems"].is_boolean() && !s["uniqueItems"].get<bool>()))
      fail(path, true, "'uniqueItems' is not supported");
  }

  // Only annotations may sit next to `key` (no intersection semantics).
  void alone(const json& s, const std::string& key, const std::string& path) {
    for (auto it = s.begin(); it != s.end(); ++it)
      if (it.key() != key && !kAnnotations.count(it.key()))
        fail(path, true, "'" + key + "' together with '" + it.key() + "' is not supported");
  }

  std::string visit(const json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (s.get<bool>()) return prim("value");
      fail(path, false, "the schema 'false' can never be satisfied");
    }
    if (!s.is_object()) fail(path, false, "a schema must be an object or a boolean");
    check_keywords(s, path);
    if (s.contains("$ref")) {
      alone(s, "$ref", path);
      return ref(s["$ref"], path);
    }
    if (s.contains("const")) {
      alone(s, "const", path);
      return value_literal(s["const"]);
    }
    if (s.contains("enum")) {
      const json& e = s["enum"];
      if (!e.is_array() || e.empty()) fail(path + "/enum", false, "'enum' must be a non-empty array");
      for (auto it = s.begin(); it != s.end(); ++it)  // a type next to enum only narrows what enum lists
        if (it.key() != "enum" && it.key() != "type" && !kAnnotations.count(it.key()))
          fail(path, true, "'enum' together with '" + it.key() + "' is not supported");
      std::string alts;
      for (const json& v : e) alts += (alts.empty() ? "" : " | ") + value_literal(v);
      return "(" + alts + ")";
    }
    for (const char* comb : {"anyOf", "oneOf"}) {
      if (!s.contains(comb)) continue;
      alone(s, comb, path);
      const json& a = s[comb];
      if (!a.is_array() || a.empty()) fail(path + "/" + comb, false, std::string("'") + comb + "' must be a non-empty array");
      std::string alts;
      for (size_t i = 0; i < a.size(); ++i)
        alts += (i ? " | " : "") + visit(a[i], path + "/" + comb + "/" + std::to_string(i));
      return "(" + alts + ")";
    }
    if (s.contains("allOf")) {
      alone(s, "allOf", path);
      const json& a = s["allOf"];
      if (!a.is_array() || a.empty()) fail(path + "/allOf", false, "'allOf' must be a non-empty array");
      if (a.size() != 1) fail(path, true, "'allOf' with more than one schema is not supported");
      return visit(a[0], path + "/allOf/0");
    }
    std::vector<std::string> types;
    if (s.contains("type")) {
      const json& t = s["type"];
      if (t.is_string()) types.push_back(t.get<std::string>());
      else if (t.is_array() && !t.empty())
        for (const json& x : t) {
          if (!x.is_string()) fail(path + "/type", false, "'type' entries must be strings");
          types.push_back(x.get<std::string>());
        }
      else fail(path + "/type", false, "'type' must be a string or a non-empty array of strings");
    } else {
      // No type: what the other keywords describe (anything else is valid too,
      // but generating the described kind keeps the model on the schema).
      if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")) types = {"object"};
      else if (s.contains("items") || s.contains("prefixItems") || s.contains("minItems") || s.contains("maxItems"))
        types = {"array"};
      else if (s.contains("pattern") || s.contains("format") || s.contains("minLength") || s.contains("maxLength"))
        types = {"string"};
      else if (s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") ||
               s.contains("exclusiveMaximum"))
        types = {"number"};
      else return prim("value");
    }
    std::string alts;
    for (const std::string& t : types) {
      std::string e;
      if (t == "object") e = object(s, path);
      else if (t == "array") e = array(s, path);
      else if (t == "string") e = string(s, path);
      else if (t == "number" || t == "integer") e = number(s, path, t == "integer");
      else if (t == "boolean") e = prim("boolean");
      else if (t == "null") e = prim("null");
      else fail(path + "/type", false, "unknown type '" + t + "'");
      alts += (alts.empty() ? "" : " | ") + e;
    }
    return types.size() == 1 ? alts : "(" + alts + ")";
  }

  // A const / enum value: scalars exactly as JSON writes them; arrays and
  // objects member by member with the usual whitespace between tokens.
  std::string value_literal(const json& v) {
    if (v.is_array()) {
      std::string body = "\"[\" " + prim("ws");
      for (size_t i = 0; i < v.size(); ++i) body += (i ? " " + sep() + " " : " ") + value_literal(v[i]);
      return "(" + body + " " + prim("ws") + " \"]\")";
    }
    if (v.is_object()) {
      std::string body = "\"{\" " + prim("ws");
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it, first = false)
        body += (first ? " " : " " + sep() + " ") + gbnf_literal(dump(json(it.key()))) + " " + prim("ws") + " \":\" " +
                prim("ws") + " " + value_literal(it.value());
      return "(" + body + " " + prim("ws") + " \"}\")";
    }
    return gbnf_literal(dump(v));
  }

  std::string ref(const json& r, const std::string& path) {
    if (!r.is_string()) fail(path + "/$ref", false, "'$ref' must be a string");
    std::string target = r.get<std::string>();
    auto known = ref_rules_.find(target);
    if (known != ref_rules_.end()) return known->second;
    if (target.empty() || target[0] != '#')
      fail(path + "/$ref", true, "only local references ('#...') are supported, got '" + target + "'");
    // Resolve the JSON pointer.
    const json* node = &root_;
    std::string ptr = target.substr(1);
    if (!ptr.empty() && ptr[0] != '/') fail(path + "/$ref", true, "anchors ('" + target + "') are not supported");
    size_t p = ptr.empty() ? std::string::npos : 1;
    std::string last = "root";
    while (p != std::string::npos && p <= ptr.size()) {
      size_t q = ptr.find('/', p);
      std::string tok = ptr.substr(p, q == std::string::npos ? std::string::npos : q - p);
      std::string key;
      for (size_t i = 0; i < tok.size(); ++i) {
        if (tok[i] == '~' && i + 1 < tok.size() && (tok[i + 1] == '0' || tok[i + 1] == '1')) {
          key += tok[i + 1] == '0' ? '~' : '/';
          ++i;
        } else {
          key += tok[i];
        }
      }
      if (node->is_object() && node->contains(key)) node = &(*node)[key];
      else if (node->is_array() && !key.empty() && key.find_first_not_of("0123456789") == std::string::npos &&
               std::stoul(key) < node->size())
        node = &(*node)[std::stoul(key)];
      else fail(path + "/$ref", false, "'" + target + "' does not resolve");
      last = key;
      p = q == std::string::npos ? std::string::npos : q + 1;
    }
    int32_t i = reserve("ref-" + last);
    std::string name = rules_[size_t(i)].first;
    ref_rules_[target] = name;  // before visiting: recursive schemas refer back to it
    std::string body = visit(*node, target.substr(1));
    rules_[size_t(i)].second = body;
    return name;
  }

  std::string object(const json& s, const std::string& path) {
    struct Prop {
      std::string key;
      const json* schema;
      bool required;
    };
    static const json any = true;
    std::vector<Prop> props;
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) fail(path + "/required", false, "'required' must be an array of strings");
      for (const json& r : s["required"]) {
        if (!r.is_string()) fail(path + "/required", false, "'required' must be an array of strings");
        required.insert(r.get<std::string>());
      }
    }
    bool has_props = s.contains("properties");
    if (has_props) {
      const json& p = s["properties"];
      if (!p.is_object()) fail(path + "/properties", false, "'properties' must be an object");
      for (auto it = p.begin(); it != p.end(); ++it) props.push_back({it.key(), &it.value(), required.count(it.key()) > 0});
    }
    for (const std::string& r : required) {
      bool found = false;
      for (const Prop& p : props) found |= p.key == r;
      if (!found) props.push_back({r, &any, true});
    }
    // Extra members: absent = none when properties are listed (strict
    // outputs), any when they are not ({"type": "object"} = any object).
    const json* extra = has_props || !required.empty() ? nullptr : &any;
    if (s.contains("additionalProperties")) {
      const json& a = s["additionalProperties"];
      if (a.is_boolean()) extra = a.get<bool>() ? &any : nullptr;
      else extra = &a;
    }
    std::vector<std::string> values;
    for (const Prop& p : props)
      values.push_back(visit(*p.schema, path + "/properties/" + pointer_escape(p.key)));
    std::string extra_kv;
    if (extra) {
      std::set<std::string> keys;
      for (const Prop& p : props) keys.insert(p.key);
      extra_kv = not_in_keys(keys) + " " + prim("ws") + " \":\" " + prim("ws") + " " +
                 visit(*extra, path + "/additionalProperties");
    }
    // rest(k, first): members k.. given whether one was written already.
    std::map<std::pair<size_t, bool>, std::string> memo;
    std::string base = path.empty() ? "root" : path.substr(path.rfind('/') + 1);
    std::function<std::string(size_t, bool)> rest = [&](size_t k, bool first) -> std::string {
      auto key = std::make_pair(k, first);
      auto it = memo.find(key);
      if (it != memo.end()) return it->second;
      std::string body;
      if (k == props.size()) {
        if (extra_kv.empty()) body = "\"\"";
        else if (first) body = "(" + extra_kv + " (" + sep() + " " + extra_kv + ")*)?";
        else body = "(" + sep() + " " + extra_kv + ")*";
      } else {
        std::string kv = gbnf_literal(dump(json(props[k].key))) + " " + prim("ws") + " \":\" " + prim("ws") + " " + values[k];
        std::string with = (first ? "" : sep() + " ") + kv + " " + rest(k + 1, false);
        body = props[k].required ? with : with + " | " + rest(k + 1, first);
      }
      std::string name = add_rule(base + "-" + std::to_string(k) + (first ? "f" : ""), body);
      memo[key] = name;
      return name;
    };
    std::string inner = rest(0, true);
    return add_rule(base, "\"{\" " + prim("ws") + " " + inner + " " + prim("ws") + " \"}\"");
  }

  // A JSON-encoded key that is none of `keys`. Characters with a single
  // spelling only (kchar: no \u or \/ escapes), so two spellings of one
  // decoded key cannot slip past the comparison; a trie of the keys'
  // spellings, one rule per node.
  std::string not_in_keys(const std::set<std::string>& keys) {
    struct Node {
      std::map<std::string, int> kids;  // unit -> node
      bool terminal = false;
    };
    std::vector<Node> trie(1);
    for (const std::string& k : keys) {
      std::string enc = dump(json(k));
      enc = enc.substr(1, enc.size() - 2);
      if (enc.find("\\u") != std::string::npos) continue;  // cannot be spelled by kchar anyway
      int n = 0;
      for (size_t i = 0; i < enc.size();) {
        size_t len = enc[i] == '\\' ? 2 : (uint8_t(enc[i]) < 0x80 ? 1 : (uint8_t(enc[i]) >> 5) == 6 ? 2 : (uint8_t(enc[i]) >> 4) == 14 ? 3 : 4);
        std::string unit = enc.substr(i, len);
        i += len;
        auto it = trie[size_t(n)].kids.find(unit);
        if (it == trie[size_t(n)].kids.end()) {
          trie.push_back({});
          int id = int(trie.size() - 1);
          trie[size_t(n)].kids[unit] = id;
          n = id;
        } else {
          n = it->second;
        }
      }
      trie[size_t(n)].terminal = true;
    }
    std::string kchar = prim("kchar");
    std::string free_rest = kchar + "*";
    std::function<std::string(int)> rule = [&](int n) -> std::string {
      const Node& node = trie[size_t(n)];
      std::vector<std::string> alts;
      if (!node.terminal) alts.push_back("\"\"");
      std::string raw_excl = "\"\\\\\\x00-\\x1F";  // [^"\\\x00-\x1F ...]: what kchar writes raw
      std::string esc_left = "\"\\bfnrt";           // escapes kchar writes: \" \\ \b \f \n \r \t
      for (const auto& [unit, child] : node.kids) {
        alts.push_back(gbnf_literal(unit) + " " + rule(child));
        if (unit[0] == '\\') {
          esc_left.erase(std::remove(esc_left.begin(), esc_left.end(), unit[1]), esc_left.end());
          continue;
        }
        uint8_t c0 = uint8_t(unit[0]);
        size_t len = unit.size();
        uint32_t cp = len == 1 ? c0 : len == 2 ? (c0 & 0x1F) : len == 3 ? (c0 & 0x0F) : (c0 & 0x07);
        for (size_t i = 1; i < len; ++i) cp = (cp << 6) | (uint8_t(unit[i]) & 0x3F);
        char buf[16];
        snprintf(buf, sizeof buf, cp <= 0xFFFF ? "\\u%04X" : "\\U%08X", cp);
        raw_excl += buf;
      }
      alts.push_back("[^" + raw_excl + "] " + free_rest);
      std::string cls;
      for (char c : esc_left) cls += c == '\\' ? std::string("\\\\") : std::string(1, c);
      if (!esc_left.empty()) alts.push_back("\"\\\\\" [" + cls + "] " + free_rest);
      std::string body;
      for (size_t i = 0; i < alts.size(); ++i) body += (i ? " | " : "") + alts[i];
      return add_rule("key", body);
    };
    return "\"\\\"\" " + rule(0) + " \"\\\"\"";
  }

  int64_t count(const json& s, const char* key, const std::string& path, int64_t dflt) {
    if (!s.contains(key)) return dflt;
    const json& v = s[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      fail(path + "/" + key, false, std::string("'") + key + "' must be a non-negative integer");
    int64_t n = v.get<int64_t>();
    if (n > kMaxRepeat)
      fail(path + "/" + key, true, std::string("'") + key + "' above " + std::to_string(kMaxRepeat) + " is not supported");
    return n;
  }

  static std::string rep(const std::string& x, int64_t lo, int64_t hi) {
    if (hi == 0) return "";
    if (lo == 0 && hi < 0) return "(" + x + ")*";
    if (lo == 1 && hi < 0) return "(" + x + ")+";
    return "(" + x + "){" + std::to_string(lo) + (hi == lo ? "" : "," + (hi < 0 ? "" : std::to_string(hi))) + "}";
  }

  std::string array(const json& s, const std::string& path) {
    std::vector<std::string> prefix;
    const json* items = nullptr;
    static const json any = true;
    bool tuple = false;
    const char* prefix_key = s.contains("prefixItems") ? "prefixItems" : (s.contains("items") && s["items"].is_array()) ? "items" : nullptr;
    if (prefix_key) {
      tuple = true;
      const json& p = s[prefix_key];
      if (!p.is_array()) fail(path + "/" + prefix_key, false, std::string("'") + prefix_key + "' must be an array");
      for (size_t i = 0; i < p.size(); ++i)
        prefix.push_back(visit(p[i], path + "/" + prefix_key + "/" + std::to_string(i)));
      const char* more = std::string(prefix_key) == "items" ? "additionalItems" : "items";
      if (s.contains(more)) items = &s[more];
    } else if (s.contains("items")) {
      items = &s["items"];
    } else {
      items = &any;
    }
    if (items && items->is_boolean() && !items->get<bool>()) items = nullptr;
    int64_t mn = count(s, "minItems", path, 0), mx = count(s, "maxItems", path, -1);
    int64_t k = int64_t(prefix.size());
    if (mx >= 0 && mx < mn) fail(path, false, "'maxItems' is smaller than 'minItems'");
    if (tuple && mx >= 0 && mx < k) fail(path, true, "'maxItems' smaller than the number of prefix items is not supported");
    int64_t emin = std::max<int64_t>(0, mn - k), emax = mx < 0 ? -1 : mx - k;
    if (!items && emin > 0) fail(path, false, "'minItems' needs more items than the schema allows");
    std::string ws = prim("ws");
    std::string item = items ? visit(*items, path + "/items") : "";
    std::string body;
    if (k == 0) {
      if (!items || emax == 0) body = "\"[\" " + ws + " \"]\"";
      else if (emin == 0)
        body = "\"[\" " + ws + " (" + item + " " + rep(sep() + " " + item, 0, emax < 0 ? -1 : emax - 1) + ")? " + ws + " \"]\"";
      else
        body = "\"[\" " + ws + " " + item + " " + rep(sep() + " " + item, emin - 1, emax < 0 ? -1 : emax - 1) + " " + ws + " \"]\"";
    } else {
      body = "\"[\" " + ws;
      for (int64_t i = 0; i < k; ++i) body += (i ? " " + sep() + " " : " ") + prefix[size_t(i)];
      if (items) body += " " + rep(sep() + " " + item, emin, emax);
      body += " " + ws + " \"]\"";
    }
    std::string base = path.empty() ? "root" : path.substr(path.rfind('/') + 1);
    return add_rule(base + "-array", body);
  }

  std::string string(const json& s, const std::string& path) {
    bool has_len = s.contains("minLength") || s.contains("maxLength");
    int64_t mn = count(s, "minLength", path, 0), mx = count(s, "maxLength", path, -1);
    if (mx >= 0 && mx < mn) fail(path, false, "'maxLength' is smaller than 'minLength'");
    std::string q = "\"\\\"\"";
    if (s.contains("format")) {
      if (!s["format"].is_string()) fail(path + "/format", false, "'format' must be a string");
      std::string f = s["format"].get<std::string>();
      std::string g = format_gbnf(f);
      if (g.empty())
        fail(path + "/format", true, "format '" + f + "' is not supported (date, time, date-time, uuid, email, ipv4)");
      if (has_len || s.contains("pattern")) fail(path, true, "'format' together with a length or 'pattern' is not supported");
      return add_rule("format-" + f, q + " " + g + " " + q);
    }
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) fail(path + "/pattern", false, "'pattern' must be a string");
      if (has_len) fail(path, true, "'pattern' together with 'minLength'/'maxLength' is not supported");
      std::string g, err;
      if (!regex_to_gbnf(s["pattern"].get<std::string>(), &g, &err)) fail(path + "/pattern", true, "pattern: " + err);
      return add_rule("pattern", q + " " + g + " " + q);
    }
    if (!has_len) return prim("string");
    return add_rule("string", q + " " + rep(prim("char"), mn, mx) + " " + q);
  }

  std::optional<NumBound> bound(const json& s, const char* key, const char* excl_key, bool lower,
                                const std::string& path) {
    std::optional<NumBound> b;
    auto take = [&](const json& v, bool inclusive, const char* k) {
      if (!v.is_number()) fail(path + "/" + k, false, std::string("'") + k + "' must be a number");
      auto d = Decimal::parse(dump(v));
      if (!d) fail(path + "/" + k, false, std::string("'") + k + "' is not a finite number");
      if (d->int_part.size() > 18) fail(path + "/" + k, true, std::string("'") + k + "' beyond 18 integer digits is not supported");
      NumBound nb{*d, inclusive};
      if (!b) {
        b = nb;
        return;
      }
      int c = compare(nb.value, b->value);
      bool stricter = lower ? (c > 0 || (c == 0 && !inclusive)) : (c < 0 || (c == 0 && !inclusive));
      if (stricter) b = nb;
    };
    bool draft4_excl = s.contains(excl_key) && s[excl_key].is_boolean() && s[excl_key].get<bool>();
    if (s.contains(key)) take(s[key], !draft4_excl, key);
    if (s.contains(excl_key) && !s[excl_key].is_boolean()) take(s[excl_key], false, excl_key);
    return b;
  }

  std::string number(const json& s, const std::string& path, bool integer) {
    auto lo = bound(s, "minimum", "exclusiveMinimum", true, path);
    auto hi = bound(s, "maximum", "exclusiveMaximum", false, path);
    if (!lo && !hi) return prim(integer ? "integer" : "number");
    std::string g;
    if (integer) {
      // Integer bounds: the smallest / largest integer inside.
      auto to_int = [](const NumBound& b, bool lower) -> int64_t {
        int64_t ip = int64_t(std::stoll(b.value.int_part));
        int64_t v = b.value.neg ? -ip : ip;
        bool has_frac = !b.value.frac.empty();
        if (lower) {
          if (has_frac) return b.value.neg ? v : v + 1;  // ceil
          return b.inclusive ? v : v + 1;
        }
        if (has_frac) return b.value.neg ? v - 1 : v;  // floor
        return b.inclusive ? v : v - 1;
      };
      std::optional<int64_t> ilo, ihi;
      if (lo) ilo = to_int(*lo, true);
      if (hi) ihi = to_int(*hi, false);
      g = integer_range_gbnf(ilo, ihi);
    } else {
      try {
        g = number_range_gbnf(lo, hi);
      } catch (const std::invalid_argument& e) {
        fail(path, true, e.what());
      }
    }
    if (g.empty()) fail(path, false, "no number satisfies the bounds");
    return add_rule(integer ? "integer" : "number", g);
  }

  const json& root_;
  std::string prefix_;
  std::vector<std::pair<std::string, std::string>> rules_;
  std::set<std::string> names_, prims_;
  std::map<std::string, std::string> ref_rules_;
};

}  // namespace

bool json_schema_to_gbnf(const std::string& schema_json, const std::string& root_name, std::string* gbnf,
                         SchemaError* err) {
  // nlohmann's parser recurses per nesting level: bound it first.
  int depth = 0;
  bool in_str = false, esc = false;
  for (char c : schema_json) {
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == '[' || c == '{') {
      if (++depth > 128) {
        *err = {false, "the schema is nested deeper than 128 levels"};
        return false;
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  json schema = json::parse(schema_json, nullptr, /*allow_exceptions=*/false);
  if (schema.is_discarded()) {
    *err = {false, "the schema is not valid JSON"};
    return false;
  }
  try {
    Converter c(schema, root_name.empty() ? "root" : root_name);
    *gbnf = c.run();
  } catch (const Fail& f) {
    *err = {f.unsupported, f.message};
    return false;
  } catch (const nlohmann::json::exception& e) {
    *err = {false, std::string("schema: ") + e.what()};
    return false;
  }
  // The text must compile (limits on repetition, etc.).
  Grammar g;
  std::string perr = parse_grammar(*gbnf, root_name.empty() ? "root" : root_name, &g);
  if (!perr.empty()) {
    *err = {true, "schema: the grammar it needs is not supported: " + perr};
    return false;
  }
  return true;
}

}  // namespace f8::sampling
