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
#include "server/tool_scan.h"

namespace f8srv {

namespace {

using nlohmann::json;
using namespace toolscan;

// ------------------------------------------------ group A: calls as JSON objects
struct JsonSyntax {
  std::vector<std::string> starts;  // markers that open the calls (any of them)
  std::string end;                  // closes a block / the list ("" = none)
  bool array = false;               // the block holds a JSON array of calls
  bool array_or_object = false;     // hermes: an object, or an array of them (as SmolLM2 writes)
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
    size_t v = skip_ws(t, p);
    if (g.array || (g.array_or_object && v < t.size() && t[v] == '[')) {
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
    case ToolFormat::SeedOss: return "seed-oss";
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
  else if (has("<seed:tool_call>")) *f = ToolFormat::SeedOss;
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
    const std::string open = f == ToolFormat::SeedOss ? "<seed:think>" : "<think>";
    const std::string close = f == ToolFormat::SeedOss ? "</seed:think>" : "</think>";
    size_t p = skip_ws(text, 0);
    if (at(text, p, open)) {
      size_t e = text.find(close, p);
      if (e == npos) {
        if (!final) return {};
      } else {
        reasoning = trim(text.substr(p + open.size(), e - p - open.size()));
        t = text.substr(skip_ws(text, e + close.size()));
      }
    } else if (!final && prefix_of(text, p, open)) {
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
      g.array_or_object = true;
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
    case ToolFormat::SeedOss: r = parse_xml_calls(false, t, final, opt, "<seed:tool_call>", "</seed:tool_call>"); break;
  }
  if (!reasoning.empty()) r.reasoning = reasoning + (r.reasoning.empty() ? "" : "\n" + r.reasoning);
  if (!opt.parallel && r.calls.size() > 1) r.calls.resize(1);
  if (opt.forced) r.content.clear();
  if (final && !r.calls.empty()) r.content = trim(r.content);
  return r;
}

}  // namespace f8srv