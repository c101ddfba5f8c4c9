// chat.h — render a conversation with a model's chat template (f8_chat).
//
// Two engines give the same bytes:
//  - built-in renderers for the common families (ChatML as in SmolLM2 and
//    Qwen2, Llama 2, Llama 3, Mistral), used when the template text is
//    recognized as one of the published templates of that family;
//  - the Jinja subset interpreter (jinja.h) for everything else.
// Both match Python jinja2 as transformers' apply_chat_template runs it.
#pragma once

#include <string>
#include <vector>

#include "chat/jinja.h"

namespace f8::chat {

struct Message {
  std::string role;
  std::string content;
};

enum class Family { Unknown, ChatML, Llama2, Llama3, Mistral };
const char* family_name(Family f);  // "chatml", "llama2", "llama3", "mistral", ""

// What recognize() learned about a template text.
struct Recognized {
  Family family = Family::Unknown;
  std::string default_system;  // ChatML: system turn injected when the first message is not
                               //   a system message ("" = none)
  bool mistral_eos_space = false;  // Mistral v0.1 variant: eos_token + ' ' after assistant turns
  bool llama2_system_turns = false;  // Llama 2 default variant: later system turns become <<SYS>> blocks
};
// Recognizes the published templates of each family (exact text, modulo one
// trailing newline, which jinja2 drops anyway).
Recognized recognize(const std::string& tmpl);

enum class Engine { Auto, Builtin, Jinja };
const char* engine_name(Engine e);

struct Options {
  bool add_generation_prompt = true;
  std::string bos_token;  // as the template sees `bos_token`
  std::string eos_token;  // as the template sees `eos_token`
  // More template variables, as transformers' apply_chat_template(**kwargs)
  // and vLLM's chat_template_kwargs pass them: enable_thinking,
  // reasoning_effort, tools, documents, ... (see parse_template_kwargs).
  // Any of them makes Engine::Auto use the Jinja interpreter.
  jinja::Dict vars;
  int64_t now = -1;  // strftime_now's clock (unix seconds, UTC); -1 = local time (tests fix it)
  jinja::Limits limits;
};

// Parses a JSON object of template variables (`--chat-template-kwargs`,
// the server's `chat_template_kwargs`) and adds them to *vars. False with
// *err naming the problem when the text is not a JSON object or sets a
// variable f8 passes itself (messages, add_generation_prompt, bos_token,
// eos_token: use their own options).
bool parse_template_kwargs(const std::string& json_object, jinja::Dict* vars, std::string* err);

enum class ErrorKind { None, Template, InvalidArgument, Unsupported };
struct Result {
  ErrorKind error_kind = ErrorKind::None;
  std::string text;   // the rendered prompt when ok()
  std::string error;  // the message otherwise (names line/column for template errors)
  Engine engine = Engine::Auto;  // which engine rendered it
  bool ok() const { return error_kind == ErrorKind::None; }
};

// Renders plain role/content messages. Engine::Auto uses the built-in
// renderer when the template is recognized, else the interpreter;
// Engine::Builtin fails (Unsupported) for an unrecognized template.
Result render(const std::string& tmpl, const std::vector<Message>& messages, const Options& opt,
              Engine engine = Engine::Auto);

// Renders a conversation given as JSON: an OpenAI-style {"messages": [...]}
// object or a bare list of messages. Message fields may be any JSON
// (tool_calls, content parts, ...); they reach the template as they are.
// The object form may also carry "tools" and "documents" (the template's
// `tools`/`documents`) and "chat_template_kwargs" (an object of more
// variables, over opt.vars); other keys are ignored. The built-in engine is
// used only when every message is plain {"role": str, "content": str} and
// there are no tools, documents or other variables.
Result render_json(const std::string& tmpl, const std::string& conversation_json, const Options& opt,
                   Engine engine = Engine::Auto);

// Renders with arbitrary top-level variables given as a JSON object (for
// tests and for templates that read extra variables, e.g. date_string).
Result render_vars_json(const std::string& tmpl, const std::string& vars_json,
                        const jinja::Limits& limits = {});

// Built-in template texts by name ("chatml", "smollm2", "qwen2", "llama2",
// "llama2-default", "llama3", "mistral", "mistral-v0.1"); nullptr when unknown.
const char* builtin_template(const std::string& name);
std::vector<std::string> builtin_template_names();

// The built-in renderers (exposed for tests). Returns false with *err set
// where the template would raise.
bool render_builtin(const Recognized& r, const std::vector<Message>& messages, const Options& opt,
                    std::string* out, std::string* err);

}  // namespace f8::chat
