// tool_calls.h — OpenAI tool calling over a model's own chat template:
// which call syntax the template's model writes (detect_tool_format), the
// model's output parsed back into OpenAI tool_calls (parse_tool_output,
// whole or as a stream: ToolStreamParser), and a grammar that forces a valid
// call in that syntax (tool_call_grammar, for tool_choice "required" or a
// named function).
//
// Formats (what the templates render for an assistant turn with tool_calls;
// tests/goldens/tool_calls has one golden per template):
//   hermes        <tool_call>\n{"name": .., "arguments": {..}}\n</tool_call>    Hermes 2/3, Qwen2.5, QwQ, Qwen3
//   llama3        {"name": .., "parameters": {..}} (optionally <|python_tag|>)  Llama 3.1 / 3.2 / 3.3
//   mistral       [TOOL_CALLS][{"name": .., "arguments": {..}, "id": ..}]       Mistral Nemo (v3 tokenizer)
//   mistral-v11   [TOOL_CALLS]name[CALL_ID]id[ARGS]{..}                          Mistral Small 3.2
//   command-r     Action:\n```json\n[{"tool_name": .., "parameters": {..}}]```  Command R / R+
//   command-r7b   <|START_ACTION|>[{"tool_call_id": .., "tool_name": .., "parameters": ..}]<|END_ACTION|>
//   granite       <|tool_call|>[{"name": .., "arguments": {..}}]                  Granite 3.x
//   gpt-oss       <|channel|>commentary to=functions.name <|constrain|>json<|message|>{..}   harmony
//   deepseek-v3.1 <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>name<｜tool▁sep｜>{..}<｜tool▁call▁end｜>...
//   deepseek-r1   ... <｜tool▁call▁begin｜>function<｜tool▁sep｜>name\n```json\n{..}\n```<｜tool▁call▁end｜>
//   kimi-k2       <|tool_calls_section_begin|><|tool_call_begin|>functions.name:0<|tool_call_argument_begin|>{..}<|tool_call_end|>..
//   nemotron      <TOOLCALL>[{"name": .., "arguments": {..}}]</TOOLCALL>
//   functionary-v3.1  <function=name>{..}</function>
//   functionary-v3.2  name\n{..}>>>name\n{..}   (the prompt ends with ">>>"; "all\n" starts text)
//   qwen3-coder   <tool_call>\n<function=name>\n<parameter=k>\nv\n</parameter>\n</function>\n</tool_call>
//   glm           <tool_call>name\n<arg_key>k</arg_key>\n<arg_value>v</arg_value>\n</tool_call>
//   seed-oss      <seed:tool_call>\n<function=name>\n<parameter=k>v</parameter>\n</function>\n</seed:tool_call>
//                 (ByteDance Seed-OSS; its <seed:think> block is reasoning)
// A template that shows none of these (SmolLM2's, Phi-3.5's, Gemma 2's) gets
// the Hermes syntax: the server adds a system prompt describing the tools
// and the <tool_call> format (tool_prompt.cpp), and parses <tool_call>.
//
// Arguments are the JSON text the model wrote for them (a string value is
// decoded: some models quote their arguments). A call whose JSON does not
// parse stays in the content, as text.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace f8srv {

enum class ToolFormat {
  Hermes, Llama3, Mistral, MistralV11, CommandR, CommandR7B, Granite, GptOss, DeepSeekV31, DeepSeekR1,
  KimiK2, Nemotron, FunctionaryV31, FunctionaryV32, Qwen3Coder, Glm, SeedOss,
};
const char* tool_format_name(ToolFormat f);
// The format of a template's model (Hermes when none is recognized: the fallback).
ToolFormat detect_tool_format(const std::string& template_text);
// Whether the format was recognized in the text (false = the Hermes fallback).
bool tool_format_recognized(const std::string& template_text);

struct ToolSpec {
  std::string name;
  std::string description;
  std::string parameters;  // JSON Schema text (an object schema)
};

// What parsing needs besides the text.
struct ToolParseOptions {
  bool parallel = true;  // false: at most the first call
  // The output was forced into calls by a grammar (tool_choice required or
  // named): it has no content; what is left of a call cut off by max_tokens
  // is dropped.
  bool forced = false;
  // For formats whose arguments are not JSON (qwen3-coder, glm, seed-oss): parameter
  // name -> JSON type of each function ("string" values stay strings).
  std::map<std::string, std::map<std::string, std::string>> param_types;
};

struct ToolCallOut {
  std::string name;
  bool name_done = false;
  std::string arguments;   // JSON text (complete when args_done; a prefix while streaming)
  bool args_done = false;
  bool streamable = true;  // arguments grow as raw JSON text (false: they appear whole)
};

struct ToolParse {
  std::string content;    // text outside the calls
  std::string reasoning;  // a leading <think>...</think> (and gpt-oss's analysis channel)
  std::vector<ToolCallOut> calls;
};

// final = true: the whole output (incomplete or malformed calls become
// content). final = false: a prefix of the output; content is what is certain
// to be content (text that may start a call marker is held back), calls are
// the ones begun so far.
ToolParse parse_tool_output(ToolFormat f, const std::string& text, bool final, const ToolParseOptions& opt);

// Streaming: feeds text and returns OpenAI delta events.
struct ToolDelta {
  std::string content;    // a content fragment (when not empty)
  int call_index = -1;    // a tool-call fragment (when >= 0)
  std::string id, name;   // the first fragment of a call carries id and name
  std::string arguments;  // argument fragment
};
class ToolStreamParser {
 public:
  ToolStreamParser(ToolFormat f, ToolParseOptions opt, std::function<std::string(int)> make_id);
  std::vector<ToolDelta> feed(const std::string& text);
  std::vector<ToolDelta> finish();
  int n_calls() const { return int(sent_.size()); }

 private:
  std::vector<ToolDelta> diff(const ToolParse& p, bool final);
  ToolFormat f_;
  ToolParseOptions opt_;
  std::function<std::string(int)> make_id_;
  std::string text_;
  size_t content_sent_ = 0;
  bool calls_started_ = false;
  struct Sent {
    bool header = false;
    size_t args = 0;
  };
  std::vector<Sent> sent_;
};

// GBNF that forces calls in format f: one call (or, when parallel, one or
// more) of the given functions (all of `tools`, or only `only` when not
// empty), each with arguments valid against its parameters schema.
// marker(text) spells a syntax marker for the grammar: a GBNF literal of the
// text, or <[ID]> when it is one control token of the model. schema_to_gbnf
// converts a parameters schema to rules named by its root name (false with
// *err naming the problem). Returns false with *err when a schema fails.
bool tool_call_grammar(ToolFormat f, const std::vector<ToolSpec>& tools, const std::string& only, bool parallel,
                       const std::function<std::string(const std::string&)>& marker,
                       const std::function<bool(const std::string& schema, const std::string& root, std::string* gbnf,
                                                std::string* err)>& schema_to_gbnf,
                       std::string* gbnf, std::string* err);

}  // namespace f8srv
