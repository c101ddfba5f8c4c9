// tool_formats.cpp — recognizing a template's tool-call syntax and parsing
// model output in it (tool_calls.h has the formats).
//
// Parsers share one shape: content up to the first call marker, then the
// calls, then whatever follows (content again). With final = false the text
// is a prefix of the output: a marker cut in half is held back, a call that
// is still being written is reported with what is certain (its name once the
// name is complete, its arguments as the raw JSON prefix), and nothing is
// turned into content that could still become part of a call.
#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "server/tool_calls.h"

namespace f8srv {

namespace {

using nlohmann::json;
constexpr size_t npos = std::string::npos;

enum class Scan { Done, More, Bad };

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
size_t skip_ws(const std::string& t, size_t p) {
  while (p < t.size() && is_ws(t[p])) ++p;
  return p;
}
bool at(const std::string& t, size_t p, const std::string& m) { return t.compare(p, m.size(), m) == 0; }
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

// A call written as a JSON object {"<name key>": "...", "<args key>": {...}, ...}.
struct ObjCall {
  Scan st = Scan::More;
  size_t end = 0;
  std::string name;
  bool name_done = false;
  size_t ab = npos, ae = npos;  // the arguments value
};

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

// ------------------------------------------------ group A: calls as JSON objects
struct JsonSyntax {
  std::vector<std::string> starts;  // markers that open the calls (any of them)
  std::string end;                  // closes a block / the list ("" = none)
  bool array = false;               // the block holds a JSON array of calls
  bool repeat_blocks = false;       // several blocks, each start..end
  std::vector<std::string> name_keys = {"name"}, arg_keys = {"arguments"};
  bool at_text_start = false;       // llama3: the call is the whole output (or after <|python_tag|>)
};

ToolParse parse_json_calls(const JsonSyntax& g, const std::string& t, bool final) {
  ToolParse out;
  size_t first = npos, mlen = 0;
  if (g.at_text_start) {
    size_t p = skip_ws(t, 0);
    for (const std::string& m : g.starts) {
      if (!m.empty() && at(t, p, m)) first = p, mlen = m.size();
      else if (!final && !m.empty() && prefix_of(t, p, m)) return out;  // undecided
    }
    if (first == npos && p < t.size() && t[p] == '{') first = p, mlen = 0;
    if (first == npos && !final && p >= t.size()) return out;
  } else {
    for (const std::string& m : g.starts) {
      size_t i = t.find(m);
      if (i != npos && i < first) first = i, mlen = m.size();
    }
  }
  if (first == npos) {
    out.content = final ? t : rtrim(t.substr(0, t.size() - held_tail(t, g.starts)));
    return out;
  }
  out.content = rtrim(t.substr(0, first));
  size_t p = first + mlen;
  size_t block = first;  // where the current block (or array) starts
  size_t keep = 0;       // calls before it
  bool failed = false;
  // Final: the block that does not parse is text, the calls before it stay.
  auto fail_here = [&]() {
    if (final) {
      failed = true;
      std::string rest = trim(t.substr(block));
      if (!rest.empty()) out.content += (out.content.empty() ? "" : "\n") + rest;
      out.calls.resize(keep);
    }
  };
  for (;;) {
    if (g.array) {
      p = skip_ws(t, p);
      if (g.starts.size() && g.starts[0] == "Action:") {  // command-r: ```json fence
        for (const char* f : {"```json", "```"})
          if (at(t, p, f)) {
            p += strlen(f);
            break;
          }
        p = skip_ws(t, p);
      }
      if (p >= t.size()) {
        if (final) fail_here();
        break;
      }
      if (t[p] != '[') {
        fail_here();
        break;
      }
      ++p;
      bool closed = false;
      for (;;) {
        p = skip_ws(t, p);
        if (p >= t.size()) break;
        if (t[p] == ']') {
          ++p;
          closed = true;
          break;
        }
        ObjCall o = scan_call_object(t, p, g.name_keys, g.arg_keys, final);
        ToolCallOut c;
        bool ok = to_call(t, o, &c);
        if (o.st == Scan::Bad || !ok) {
          fail_here();
          return out;
        }
        out.calls.push_back(c);
        if (o.st == Scan::More) return out;
        p = skip_ws(t, o.end);
        if (p < t.size() && t[p] == ',') ++p;
      }
      if (!closed) {
        if (final) fail_here();
        break;
      }
    } else {
      ObjCall o = scan_call_object(t, p, g.name_keys, g.arg_keys, final);
      ToolCallOut c;
      bool ok = to_call(t, o, &c);
      if (o.st == Scan::Bad || !ok) {
        fail_here();
        if (!final && o.st == Scan::Bad) out.content = rtrim(t.substr(0, first));
        return out;
      }
      out.calls.push_back(c);
      if (o.st == Scan::More) return out;
      p = o.end;
    }
    // The block's end marker.
    size_t q = skip_ws(t, p);
    if (g.starts.size() && g.starts[0] == "Action:" && at(t, q, "```")) q = skip_ws(t, q + 3);
    if (!g.end.empty()) {
      if (at(t, q, g.end)) q += g.end.size();
      else if (!final && prefix_of(t, q, g.end)) return out;
      else if (final && q < t.size()) {  // something else where the end marker belongs
        fail_here();
        return out;
      }
    }
    p = q;
    // Another block, or another llama3 object after ';'.
    size_t r = skip_ws(t, p);
    if (g.at_text_start && r < t.size() && t[r] == ';') {
      p = r + 1;
      block = r;
      keep = out.calls.size();
      continue;
    }
    bool again = false;
    if (g.repeat_blocks) {
      for (const std::string& m : g.starts) {
        if (!m.empty() && at(t, r, m)) {
          block = r;
          keep = out.calls.size();
          p = r + m.size();
          again = true;
          break;
        }
        if (!final && !m.empty() && prefix_of(t, r, m)) return out;
      }
    }
    if (!again) break;
  }
  if (final && !failed) {
    std::string rest = trim(t.substr(std::min(p, t.size())));
    if (!rest.empty()) out.content += (out.content.empty() ? "" : "\n") + rest;
  }
  return out;
}

// ------------------------------------------------ group B: name, then JSON arguments
struct NameArgsSyntax {
  std::string section_begin, call_begin;
  std::vector<std::string> name_ends;  // the name runs up to the first of these
  std::string id_end;                  // mistral-v11: after [CALL_ID], the id runs up to this
  std::string args_begin;              // optional marker before the arguments ("```json")
  std::string args_close;              // optional marker after the arguments ("```")
  std::string call_end, section_end;
  bool kimi_names = false;             // "functions.NAME:IDX" -> NAME
};

ToolParse parse_name_args(const NameArgsSyntax& g, const std::string& t, bool final) {
  ToolParse out;
  const std::string& opener = g.section_begin.empty() ? g.call_begin : g.section_begin;
  size_t first = t.find(opener);
  if (first == npos) {
    out.content = final ? t : rtrim(t.substr(0, t.size() - held_tail(t, {opener})));
    return out;
  }
  out.content = rtrim(t.substr(0, first));
  size_t p = first + g.section_begin.size();
  auto fail_here = [&](size_t from) {
    if (final) {
      out.content += t.substr(from);
      out.calls.clear();
    }
  };
  for (;;) {
    size_t call_at = skip_ws(t, p);
    if (!at(t, call_at, g.call_begin)) {
      if (!final && prefix_of(t, call_at, g.call_begin)) return out;
      break;
    }
    size_t q = call_at + g.call_begin.size();
    size_t ne = npos, nl = 0;
    for (const std::string& m : g.name_ends) {
      size_t i = t.find(m, q);
      if (i != npos && i < ne) ne = i, nl = m.size();
    }
    ToolCallOut c;
    if (ne == npos) {  // the name is still being written
      if (final) fail_here(call_at);
      else out.calls.push_back(c);
      return out;
    }
    c.name = trim(t.substr(q, ne - q));
    if (g.kimi_names) {
      if (c.name.rfind("functions.", 0) == 0) c.name = c.name.substr(10);
      size_t colon = c.name.rfind(':');
      if (colon != npos) c.name = c.name.substr(0, colon);
    }
    c.name_done = !c.name.empty();
    q = ne + nl;
    if (!g.id_end.empty() && nl && t.compare(ne, nl, g.id_end) != 0) {  // [CALL_ID]id[ARGS]
      size_t ie = t.find(g.id_end, q);
      if (ie == npos) {
        if (final) fail_here(call_at);
        else out.calls.push_back(c);
        return out;
      }
      q = ie + g.id_end.size();
    }
    if (!g.args_begin.empty()) {
      size_t a = skip_ws(t, q);
      if (at(t, a, g.args_begin)) q = a + g.args_begin.size();
      else if (!final && prefix_of(t, a, g.args_begin)) {
        out.calls.push_back(c);
        return out;
      }
    }
    size_t ab = skip_ws(t, q), ae;
    Scan s = scan_value(t, ab, final, &ae);
    if (s == Scan::Bad || !c.name_done) {
      fail_here(call_at);
      if (!final) out.calls.push_back(c);
      return out;
    }
    c.streamable = ab < t.size() && t[ab] == '{';
    if (s == Scan::More) {
      c.arguments = c.streamable ? rtrim(t.substr(ab)) : "";
      out.calls.push_back(c);
      return out;
    }
    c.arguments = arguments_of(t.substr(ab, ae - ab));
    c.args_done = true;
    if (c.arguments.empty()) {
      fail_here(call_at);
      return out;
    }
    out.calls.push_back(c);
    p = skip_ws(t, ae);
    if (!g.args_close.empty() && at(t, p, g.args_close)) p = skip_ws(t, p + g.args_close.size());
    if (!g.call_end.empty()) {
      if (at(t, p, g.call_end)) p += g.call_end.size();
      else if (!final && prefix_of(t, p, g.call_end)) return out;
    }
  }
  size_t r = skip_ws(t, p);
  if (!g.section_end.empty() && at(t, r, g.section_end)) p = r + g.section_end.size();
  if (final) {
    std::string rest = trim(t.substr(std::min(p, t.size())));
    if (!rest.empty()) out.content += (out.content.empty() ? "" : "\n") + rest;
  }
  return out;
}

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

// ------------------------------------------------ XML-style parameters (qwen3-coder, glm)
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
    obj[k] = type == "string" || parsed.is_discarded() ? nlohmann::ordered_json(v) : parsed;
  }
  return obj.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

ToolParse parse_xml_calls(bool glm, const std::string& t, bool final, const ToolParseOptions& opt) {
  ToolParse out;
  const std::string open = "<tool_call>", close = "</tool_call>";
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

}  // namespace

const char* tool_format_name(ToolFormat f) {
  switch (f) {
    case ToolFormat::Hermes: return "hermes";
    case ToolFormat::Llama3: return "llama3";
    case ToolFormat::Mistral: return "mistral";
    case ToolFormat::MistralV11: return "mistral-v11";
    case ToolFormat::CommandR: return "command-r";
    case ToolFormat::CommandR7B: return "command-r7b";
    case ToolFormat::Granite: return "granite";
    case ToolFormat::GptOss: return "gpt-oss";
    case ToolFormat::DeepSeekV31: return "deepseek-v3.1";
    case ToolFormat::DeepSeekR1: return "deepseek-r1";
    case ToolFormat::KimiK2: return "kimi-k2";
    case ToolFormat::Nemotron: return "nemotron";
    case ToolFormat::FunctionaryV31: return "functionary-v3.1";
    case ToolFormat::FunctionaryV32: return "functionary-v3.2";
    case ToolFormat::Qwen3Coder: return "qwen3-coder";
    case ToolFormat::Glm: return "glm";
  }
  return "hermes";
}

namespace {
bool detect(const std::string& s, ToolFormat* f) {
  auto has = [&](const char* x) { return s.find(x) != npos; };
  if (has("<|channel|>") && has("<|call|>")) *f = ToolFormat::GptOss;
  else if (has("<|START_ACTION|>")) *f = ToolFormat::CommandR7B;
  else if (has("Action:") && has("tool_name") && has("```json")) *f = ToolFormat::CommandR;
  else if (has("[TOOL_CALLS]") && has("[ARGS]")) *f = ToolFormat::MistralV11;
  else if (has("[TOOL_CALLS]")) *f = ToolFormat::Mistral;
  else if (has("<|tool_call|>")) *f = ToolFormat::Granite;
  else if (has("tool\xE2\x96\x81sep") && has("```json")) *f = ToolFormat::DeepSeekR1;
  else if (has("tool\xE2\x96\x81sep")) *f = ToolFormat::DeepSeekV31;
  else if (has("<|tool_calls_section_begin|>")) *f = ToolFormat::KimiK2;
  else if (has("<TOOLCALL>")) *f = ToolFormat::Nemotron;
  else if (has("<parameter=") && has("<function=")) *f = ToolFormat::Qwen3Coder;
  else if (has("<arg_key>")) *f = ToolFormat::Glm;
  else if (has("<function=")) *f = ToolFormat::FunctionaryV31;
  else if (has(">>>") && has("all")) *f = ToolFormat::FunctionaryV32;
  else if (has("<tool_call>")) *f = ToolFormat::Hermes;
  else if (has("<|start_header_id|>") && (has("<|python_tag|>") || has("\"parameters\""))) *f = ToolFormat::Llama3;
  else return false;
  return true;
}
}  // namespace

ToolFormat detect_tool_format(const std::string& tmpl) {
  ToolFormat f = ToolFormat::Hermes;
  detect(tmpl, &f);
  return f;
}

bool tool_format_recognized(const std::string& tmpl) {
  ToolFormat f;
  return detect(tmpl, &f);
}

ToolParse parse_tool_output(ToolFormat f, const std::string& text, bool final, const ToolParseOptions& opt) {
  // A leading thinking block is reasoning, not content.
  std::string reasoning, t = text;
  if (f != ToolFormat::GptOss) {
    size_t p = skip_ws(text, 0);
    if (at(text, p, "<think>")) {
      size_t e = text.find("</think>", p);
      if (e == npos) {
        if (!final) return {};
      } else {
        reasoning = trim(text.substr(p + 7, e - p - 7));
        t = text.substr(skip_ws(text, e + 8));
      }
    } else if (!final && prefix_of(text, p, "<think>")) {
      return {};
    }
  }
  ToolParse r;
  switch (f) {
    case ToolFormat::Hermes: {
      JsonSyntax g;
      g.starts = {"<tool_call>"};
      g.end = "</tool_call>";
      g.repeat_blocks = true;
      r = parse_json_calls(g, t, final);
      break;
    }
    case ToolFormat::Llama3: {
      JsonSyntax g;
      g.starts = {"<|python_tag|>"};
      g.at_text_start = true;
      g.arg_keys = {"parameters", "arguments"};
      r = parse_json_calls(g, t, final);
      break;
    }
    case ToolFormat::Mistral:
    case ToolFormat::Granite:
    case ToolFormat::Nemotron:
    case ToolFormat::CommandR:
    case ToolFormat::CommandR7B: {
      JsonSyntax g;
      g.array = true;
      if (f == ToolFormat::Mistral) g.starts = {"[TOOL_CALLS]"};
      if (f == ToolFormat::Granite) g.starts = {"<|tool_call|>"};
      if (f == ToolFormat::Nemotron) g.starts = {"<TOOLCALL>"}, g.end = "</TOOLCALL>";
      if (f == ToolFormat::CommandR) g.starts = {"Action:"};
      if (f == ToolFormat::CommandR7B) g.starts = {"<|START_ACTION|>"}, g.end = "<|END_ACTION|>";
      if (f == ToolFormat::CommandR || f == ToolFormat::CommandR7B) g.name_keys = {"tool_name"}, g.arg_keys = {"parameters"};
      r = parse_json_calls(g, t, final);
      break;
    }
    case ToolFormat::MistralV11: {
      NameArgsSyntax g;
      g.call_begin = "[TOOL_CALLS]";
      g.name_ends = {"[ARGS]", "[CALL_ID]"};
      g.id_end = "[ARGS]";
      r = parse_name_args(g, t, final);
      break;
    }
    case ToolFormat::DeepSeekV31:
    case ToolFormat::DeepSeekR1: {
      NameArgsSyntax g;
      g.section_begin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "begin\xEF\xBD\x9C>";
      g.call_begin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "begin\xEF\xBD\x9C>";
      std::string sep = "<\xEF\xBD\x9Ctool\xE2\x96\x81sep\xEF\xBD\x9C>";
      g.call_end = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "end\xEF\xBD\x9C>";
      g.section_end = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "end\xEF\xBD\x9C>";
      if (f == ToolFormat::DeepSeekR1) {
        g.call_begin += "function" + sep;
        g.name_ends = {"\n"};
        g.args_begin = "```json";
        g.args_close = "```";
      } else {
        g.name_ends = {sep};
      }
      r = parse_name_args(g, t, final);
      break;
    }
    case ToolFormat::KimiK2: {
      NameArgsSyntax g;
      g.section_begin = "<|tool_calls_section_begin|>";
      g.call_begin = "<|tool_call_begin|>";
      g.name_ends = {"<|tool_call_argument_begin|>"};
      g.call_end = "<|tool_call_end|>";
      g.section_end = "<|tool_calls_section_end|>";
      g.kimi_names = true;
      r = parse_name_args(g, t, final);
      break;
    }
    case ToolFormat::FunctionaryV31: {
      NameArgsSyntax g;
      g.call_begin = "<function=";
      g.name_ends = {">"};
      g.call_end = "</function>";
      r = parse_name_args(g, t, final);
      break;
    }
    case ToolFormat::FunctionaryV32: r = parse_functionary_v32(t, final); break;
    case ToolFormat::GptOss: r = parse_harmony(t, final); break;
    case ToolFormat::Qwen3Coder: r = parse_xml_calls(false, t, final, opt); break;
    case ToolFormat::Glm: r = parse_xml_calls(true, t, final, opt); break;
  }
  if (!reasoning.empty()) r.reasoning = reasoning + (r.reasoning.empty() ? "" : "\n" + r.reasoning);
  if (!opt.parallel && r.calls.size() > 1) r.calls.resize(1);
  if (opt.forced) r.content.clear();
  if (final && !r.calls.empty()) r.content = trim(r.content);
  return r;
}

}  // namespace f8srv
