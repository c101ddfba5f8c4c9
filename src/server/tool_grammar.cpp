// tool_grammar.cpp — GBNF forcing valid tool calls in a model's own syntax
// (tool_choice "required" or a named function; tool_calls.h).
//
//   root ::= PRE call (SEP call)* POST     (parallel calls where the format has them)
//   call ::= <call syntax around "name-0"> args-0 | <... "name-1"> args-1 | ...
// args-i: the function's parameters schema as rules (f8_json_schema_to_grammar),
// so a call always parses and validates. Markers that are one control token
// of the model (Mistral's [TOOL_CALLS], gpt-oss's <|channel|>, ...) are
// written <[ID]>; others as text. The layout (spaces, newlines) is the one
// the template renders, which is what the model was trained on.
// qwen3-coder and glm are forced into the hermes JSON form inside their
// <tool_call> (their parsers read it): their XML parameters carry no types;
// seed-oss the same inside <seed:tool_call>.
#include <nlohmann/json.hpp>

#include "server/tool_calls.h"

namespace f8srv {

namespace {

std::string lit(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out + "\"";
}

const std::string kDsCallsBegin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "begin\xEF\xBD\x9C>";
const std::string kDsCallsEnd = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "end\xEF\xBD\x9C>";
const std::string kDsCallBegin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "begin\xEF\xBD\x9C>";
const std::string kDsCallEnd = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "end\xEF\xBD\x9C>";
const std::string kDsSep = "<\xEF\xBD\x9Ctool\xE2\x96\x81sep\xEF\xBD\x9C>";

}  // namespace

bool tool_call_grammar(ToolFormat f, const std::vector<ToolSpec>& tools, const std::string& only, bool parallel,
                       const std::function<std::string(const std::string&)>& marker,
                       const std::function<bool(const std::string&, const std::string&, std::string*, std::string*)>&
                           schema_to_gbnf,
                       std::string* gbnf, std::string* err) {
  std::string rules, alts;
  int n = 0;
  for (size_t i = 0; i < tools.size(); ++i) {
    const ToolSpec& t = tools[i];
    if (!only.empty() && t.name != only) continue;
    std::string root = "args-" + std::to_string(i), g;
    if (!schema_to_gbnf(t.parameters.empty() ? "{\"type\":\"object\"}" : t.parameters, root, &g, err)) {
      *err = "tools[" + std::to_string(i) + "].function.parameters: " + *err;
      return false;
    }
    rules += g;
    std::string name = lit(t.name);
    std::string obj_name = "{\"name\": \"" + t.name + "\", \"";  // {"name": "NAME", "arguments": ...}
    std::string call;
    switch (f) {
      case ToolFormat::Hermes:
      case ToolFormat::Qwen3Coder:
      case ToolFormat::Glm:
        call = marker("<tool_call>") + " " + lit("\n" + obj_name + "arguments\": ") + " " + root + " " + lit("}\n") +
               " " + marker("</tool_call>");
        break;
      case ToolFormat::SeedOss:
        call = marker("<seed:tool_call>") + " " + lit("\n" + obj_name + "arguments\": ") + " " + root + " " +
               lit("}\n") + " " + marker("</seed:tool_call>");
        break;
      case ToolFormat::Llama3: call = lit(obj_name + "parameters\": ") + " " + root + " " + lit("}"); break;
      case ToolFormat::Mistral:  // Mistral's template also writes the call's id
        call = lit(obj_name + "arguments\": ") + " " + root + " (" + lit(", \"id\": \"") + " [A-Za-z0-9]{9} " + lit("\"") +
               ")? " + lit("}");
        break;
      case ToolFormat::Granite:
      case ToolFormat::Nemotron: call = lit(obj_name + "arguments\": ") + " " + root + " " + lit("}"); break;
      case ToolFormat::MistralV11:
        call = marker("[TOOL_CALLS]") + " " + name + " (" + marker("[CALL_ID]") + " [A-Za-z0-9]{9})? " + marker("[ARGS]") +
               " " + root;
        break;
      case ToolFormat::CommandR:  // the template indents its JSON by 4
        call = lit("{") + " tws " + lit("\"tool_name\": \"" + t.name + "\",") + " tws " + lit("\"parameters\": ") + " " +
               root + " tws " + lit("}");
        break;
      case ToolFormat::CommandR7B:
        call = lit("{\"tool_call_id\": \"") + " [0-9] " + lit("\", \"tool_name\": \"" + t.name + "\", \"parameters\": ") +
               " " + root + " " + lit("}");
        break;
      case ToolFormat::GptOss:
        call = marker("<|channel|>") + " " + lit("commentary to=functions." + t.name + " ") + " " +
               marker("<|constrain|>") + " " + lit("json") + " " + marker("<|message|>") + " " + root;
        break;
      case ToolFormat::DeepSeekV31:
        call = marker(kDsCallBegin) + " " + name + " " + marker(kDsSep) + " " + root + " " + marker(kDsCallEnd);
        break;
      case ToolFormat::DeepSeekR1:
        call = marker(kDsCallBegin) + " " + lit("function") + " " + marker(kDsSep) + " " + lit(t.name + "\n```json\n") +
               " " + root + " " + lit("\n```") + " " + marker(kDsCallEnd);
        break;
      case ToolFormat::KimiK2:
        call = marker("<|tool_call_begin|>") + " " + lit("functions." + t.name + ":") + " [0-9] " +
               marker("<|tool_call_argument_begin|>") + " " + root + " " + marker("<|tool_call_end|>");
        break;
      case ToolFormat::FunctionaryV31: call = lit("<function=" + t.name + ">") + " " + root + " " + lit("</function>"); break;
      case ToolFormat::FunctionaryV32: call = lit(t.name + "\n") + " " + root; break;
    }
    alts += (n++ ? " | " : "") + call;
  }
  if (n == 0) {
    *err = "no tool named '" + only + "'";
    return false;
  }
  std::string pre, sep, post;
  bool multi = parallel && only.empty();
  switch (f) {
    case ToolFormat::Hermes:
    case ToolFormat::Qwen3Coder:
    case ToolFormat::Glm:
    case ToolFormat::SeedOss: sep = lit("\n"); break;
    case ToolFormat::Llama3:
    case ToolFormat::GptOss: multi = false; break;  // one call per turn
    case ToolFormat::Mistral: pre = marker("[TOOL_CALLS]") + " " + lit("["), sep = lit(", "), post = lit("]"); break;
    case ToolFormat::Granite: pre = marker("<|tool_call|>") + " " + lit("["), sep = lit(", "), post = lit("]"); break;
    case ToolFormat::Nemotron:
      pre = marker("<TOOLCALL>") + " " + lit("["), sep = lit(", "), post = lit("]") + " " + marker("</TOOLCALL>");
      break;
    case ToolFormat::MistralV11: sep = "\"\""; break;
    case ToolFormat::CommandR: pre = lit("Action:\n```json\n[") + " tws", sep = "tws " + lit(",") + " tws", post = "tws " + lit("]```"); break;
    case ToolFormat::CommandR7B:
      pre = marker("<|START_ACTION|>") + " " + lit("[\n    "), sep = lit(",\n    "),
      post = lit("\n]") + " " + marker("<|END_ACTION|>");
      break;
    case ToolFormat::DeepSeekV31: pre = marker(kDsCallsBegin), sep = "\"\"", post = marker(kDsCallsEnd); break;
    case ToolFormat::DeepSeekR1: pre = marker(kDsCallsBegin), sep = lit("\n"), post = marker(kDsCallsEnd); break;
    case ToolFormat::KimiK2:
      pre = marker("<|tool_calls_section_begin|>"), sep = "\"\"", post = marker("<|tool_calls_section_end|>");
      break;
    case ToolFormat::FunctionaryV31: sep = "\"\""; break;
    case ToolFormat::FunctionaryV32: sep = lit(">>>"); break;
  }
  std::string root = pre.empty() ? "" : pre + " ";
  root += "call";
  if (multi) root += " (" + sep + " call)*";
  if (!post.empty()) root += " " + post;
  *gbnf = "root ::= " + root + "\ncall ::= " + alts + "\n" + rules;
  if (f == ToolFormat::CommandR) *gbnf += "tws ::= [ \\n]{0,24}\n";
  return true;
}

}  // namespace f8srv
