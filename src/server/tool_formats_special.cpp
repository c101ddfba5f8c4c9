// tool_formats_special.cpp — the tool-call formats with a shape of their
// own: gpt-oss's harmony messages, Functionary v3.2's ">>>" segments, and
// the XML parameters of Qwen3-Coder, GLM and Seed-OSS (tool_calls.h).
#include <nlohmann/json.hpp>

#include <cctype>
#include <cstring>

#include "server/tool_scan.h"

namespace f8srv::toolscan {

using nlohmann::json;

// ------------------------------------------------ gpt-oss (harmony messages)
ToolParse parse_harmony(const std::string& t, bool final) {
  ToolParse out;
  if (t.find("<|channel|>") == npos && t.find("to=functions.") == npos && t.find("<|message|>") == npos) {
    static const std::vector<std::string> markers = {"<|channel|>", "<|start|>", " to=functions."};
    out.content = final ? t : t.substr(0, t.size() - held_tail(t, markers));
    return out;
  }
  size_t p = 0;
  while (p < t.size()) {
    size_t next = t.find("<|start|>", p);
    std::string msg = t.substr(p, next == npos ? npos : next - p);
    bool last = next == npos;
    p = last ? t.size() : next + 9;
    size_t mb = msg.find("<|message|>");
    std::string header = msg.substr(0, mb);
    size_t to = header.find("to=functions.");
    if (mb == npos) {  // header still being written
      if (!final && to != npos) {
        out.calls.push_back({});
      } else if (final && trim(msg) != "" && to == npos && header.find("<|channel|>") == npos) {
        out.content += msg;
      }
      break;
    }
    std::string body = msg.substr(mb + 11);
    for (const char* e : {"<|end|>", "<|call|>", "<|return|>"}) {
      size_t i = body.find(e);
      if (i != npos) body = body.substr(0, i);
    }
    bool ended = msg.find("<|end|>", mb) != npos || msg.find("<|call|>", mb) != npos || !last;
    if (!final && last) body = body.substr(0, body.size() - held_tail(body, {"<|end|>", "<|call|>", "<|return|>"}));
    if (to != npos) {
      size_t ns = to + 13, ne = ns;
      while (ne < header.size() && !is_ws(header[ne]) && header[ne] != '<') ++ne;
      ToolCallOut c;
      c.name = header.substr(ns, ne - ns);
      c.name_done = !c.name.empty();
      size_t ae;
      Scan s = scan_value(body, 0, final || ended, &ae);
      c.streamable = true;
      if (s == Scan::Done) {
        c.arguments = arguments_of(body.substr(0, ae));
        c.args_done = true;
        if (c.arguments.empty()) {
          if (final) out.content += body;
          continue;
        }
      } else if (s == Scan::More) {
        c.arguments = rtrim(body);
      } else {
        if (final) out.content += body;
        continue;
      }
      out.calls.push_back(c);
      continue;
    }
    size_t ch = header.find("<|channel|>");
    std::string channel = ch == npos ? "" : trim(header.substr(ch + 11));
    if (channel.rfind("analysis", 0) == 0) out.reasoning += body;
    else if (out.calls.empty()) out.content += body;  // final channel (or none)
  }
  return out;
}

// ------------------------------------------------ functionary v3.2: name\n{..}>>>name\n{..}, "all\n" = text
ToolParse parse_functionary_v32(const std::string& t, bool final) {
  ToolParse out;
  size_t p = 0;
  while (p <= t.size()) {
    size_t next = t.find(">>>", p);
    std::string seg = t.substr(p, next == npos ? npos : next - p);
    bool last = next == npos;
    size_t nl = seg.find('\n');
    if (nl == npos) {
      if (final && !trim(seg).empty()) out.content += seg;
      break;
    }
    std::string head = trim(seg.substr(0, nl));
    std::string rest = seg.substr(nl + 1);
    if (head == "all") {
      if (!out.calls.empty()) {
        if (final) out.content += rest;
      } else {
        out.content += last && !final ? rest.substr(0, rest.size() - held_tail(rest, {">>>"})) : rest;
      }
    } else {
      ToolCallOut c;
      c.name = head;
      c.name_done = !head.empty();
      size_t ae;
      Scan s = scan_value(rest, 0, final || !last, &ae);
      if (s == Scan::Done) {
        c.arguments = arguments_of(rest.substr(0, ae));
        c.args_done = true;
      } else if (s == Scan::More) {
        c.arguments = rtrim(rest);
      }
      if (s == Scan::Bad || (c.args_done && c.arguments.empty())) {
        if (final) out.content += seg;
      } else {
        out.calls.push_back(c);
      }
    }
    if (last) break;
    p = next + 3;
  }
  return out;
}

// ------------------------------------------------ XML-style parameters (qwen3-coder, glm, seed-oss)
namespace {
// A Python literal of lists, tuples, dicts, strings, numbers, True / False /
// None as JSON text: what a template's `value | string` writes for a
// list or dict argument (Seed-OSS: "['a', 'b c']"). False if it is not one.
bool py_literal_json(const std::string& s, size_t& i, std::string* out, int depth = 0) {
  auto ws = [&]() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
  };
  ws();
  if (i >= s.size() || depth > 64) return false;
  const char c = s[i];
  if (c == '\'' || c == '"') {
    std::string v;
    for (++i; i < s.size() && s[i] != c; ++i) {
      if (s[i] != '\\') {
        v += s[i];
        continue;
      }
      if (++i >= s.size()) return false;
      switch (s[i]) {
        case 'n': v += '\n'; break;
        case 't': v += '\t'; break;
        case 'r': v += '\r'; break;
        case '\\': case '\'': case '"': v += s[i]; break;
        default: v += '\\', v += s[i];  // Python keeps an unknown escape as it is
      }
    }
    if (i >= s.size()) return false;
    ++i;
    *out += nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return true;
  }
  if (c == '[' || c == '(' || c == '{') {
    const char close = c == '[' ? ']' : c == '(' ? ')' : '}';
    *out += c == '{' ? '{' : '[';
    ++i;
    for (bool first = true;; first = false) {
      ws();
      if (i < s.size() && s[i] == close) break;
      if (!first) {
        if (i >= s.size() || s[i] != ',') return false;
        ++i;
        ws();
        if (i < s.size() && s[i] == close) break;  // a trailing comma
        *out += ',';
      }
      if (c == '{') {
        std::string key;
        if (!py_literal_json(s, i, &key, depth + 1) || key.empty() || key[0] != '"') return false;  // string keys
        *out += key;
        ws();
        if (i >= s.size() || s[i] != ':') return false;
        ++i;
        *out += ':';
      }
      if (!py_literal_json(s, i, out, depth + 1)) return false;
    }
    ++i;
    *out += c == '{' ? '}' : ']';
    return true;
  }
  for (const auto& [py, js] : {std::pair<const char*, const char*>{"True", "true"}, {"False", "false"}, {"None", "null"}})
    if (s.compare(i, std::strlen(py), py) == 0) {
      i += std::strlen(py);
      *out += js;
      return true;
    }
  size_t j = i;
  while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || std::strchr("+-.eE", s[j]))) ++j;
  if (j == i) return false;
  nlohmann::json num = nlohmann::json::parse(s.substr(i, j - i), nullptr, false);
  if (num.is_discarded() || !num.is_number()) return false;
  *out += num.dump();
  i = j;
  return true;
}
}  // namespace

std::string xml_args(const std::string& fn, const std::vector<std::pair<std::string, std::string>>& kv,
                     const ToolParseOptions& opt) {
  nlohmann::ordered_json obj = nlohmann::ordered_json::object();  // parameters in the order written
  auto types = opt.param_types.find(fn);
  for (const auto& [k, v0] : kv) {
    std::string v = v0;
    if (!v.empty() && v.front() == '\n') v.erase(0, 1);
    if (!v.empty() && v.back() == '\n') v.pop_back();
    std::string type;
    if (types != opt.param_types.end()) {
      auto it = types->second.find(k);
      if (it != types->second.end()) type = it->second;
    }
    nlohmann::ordered_json parsed = type == "string" ? nlohmann::ordered_json() : nlohmann::ordered_json::parse(v, nullptr, false);
    if (parsed.is_discarded() && (type == "array" || type == "object")) {
      std::string js;
      size_t i = 0;
      if (py_literal_json(v, i, &js) && v.find_first_not_of(" \n\t\r", i) == std::string::npos)
        parsed = nlohmann::ordered_json::parse(js, nullptr, false);
      if (!parsed.is_discarded() && !(type == "array" ? parsed.is_array() : parsed.is_object()))
        parsed = nlohmann::ordered_json(nlohmann::ordered_json::value_t::discarded);  // not the schema's type: a string
    }
    obj[k] = type == "string" || parsed.is_discarded() ? nlohmann::ordered_json(v) : parsed;
  }
  return obj.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

ToolParse parse_xml_calls(bool glm, const std::string& t, bool final, const ToolParseOptions& opt,
                          const std::string& open, const std::string& close) {
  ToolParse out;
  size_t first = t.find(open);
  if (first == npos) {
    out.content = final ? t : rtrim(t.substr(0, t.size() - held_tail(t, {open})));
    return out;
  }
  out.content = rtrim(t.substr(0, first));
  size_t p = first;
  while (at(t, p, open)) {
    size_t b = p + open.size();
    size_t e = t.find(close, b);
    std::string inner = t.substr(b, e == npos ? npos : e - b);
    size_t j = skip_ws(inner, 0);
    ToolCallOut c;
    c.streamable = false;
    if (j < inner.size() && inner[j] == '{') {  // JSON inside (the grammar for required calls writes this)
      ObjCall o = scan_call_object(inner, j, {"name"}, {"arguments", "parameters"}, final || e != npos);
      if (o.st == Scan::Bad || !to_call(inner, o, &c)) {
        if (final) {
          out.content += t.substr(p);
          out.calls.clear();
        }
        return out;
      }
      c.streamable = false;
      if (!c.args_done) c.arguments = "";
    } else if (glm) {
      size_t nl = inner.find_first_of("\n<", j);
      if (nl != npos || e != npos) {
        c.name = trim(inner.substr(j, nl == npos ? npos : nl - j));
        c.name_done = !c.name.empty();
      }
      if (e != npos) {
        std::vector<std::pair<std::string, std::string>> kv;
        size_t q = 0;
        while ((q = inner.find("<arg_key>", q)) != npos) {
          size_t ke = inner.find("</arg_key>", q);
          size_t vb = inner.find("<arg_value>", ke);
          size_t ve = inner.find("</arg_value>", vb);
          if (ke == npos || vb == npos || ve == npos) break;
          kv.push_back({inner.substr(q + 9, ke - q - 9), inner.substr(vb + 11, ve - vb - 11)});
          q = ve;
        }
        c.arguments = xml_args(c.name, kv, opt);
        c.args_done = true;
      }
    } else {
      size_t fb = inner.find("<function=");
      size_t fe = fb == npos ? npos : inner.find('>', fb);
      if (fe != npos) {
        c.name = trim(inner.substr(fb + 10, fe - fb - 10));
        c.name_done = !c.name.empty();
      }
      if (e != npos && fe != npos) {
        std::vector<std::pair<std::string, std::string>> kv;
        size_t q = fe;
        while ((q = inner.find("<parameter=", q)) != npos) {
          size_t ke = inner.find('>', q);
          size_t ve = inner.find("</parameter>", ke);
          if (ke == npos || ve == npos) break;
          kv.push_back({trim(inner.substr(q + 11, ke - q - 11)), inner.substr(ke + 1, ve - ke - 1)});
          q = ve;
        }
        c.arguments = xml_args(c.name, kv, opt);
        c.args_done = true;
      }
    }
    if (e == npos) {  // still being written
      if (final) {
        out.content += t.substr(p);
        out.calls.clear();
        return out;
      }
      out.calls.push_back(c);
      return out;
    }
    if (!c.name_done) {
      if (final) {
        out.content += t.substr(p);
        out.calls.clear();
      }
      return out;
    }
    out.calls.push_back(c);
    p = skip_ws(t, e + close.size());
    if (!final && prefix_of(t, p, open)) return out;
  }
  if (final) {
    std::string rest = trim(t.substr(std::min(p, t.size())));
    if (!rest.empty()) out.content += (out.content.empty() ? "" : "\n") + rest;
  }
  return out;
}

}  // namespace f8srv::toolscan
