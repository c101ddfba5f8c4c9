// request.h — OpenAI request bodies -> validated generation requests.
//
// Parsing is strict where the OpenAI API is strict (types, ranges) and
// lenient where clients differ (unknown fields are ignored, null means
// "default"), so that every malformed body becomes a 400 that names the
// field, never a 5xx. Nothing here touches the model: tokenizing and the
// context-length check happen after parsing (routes.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/tool_calls.h"

struct f8_grammar;  // include/f8.h

namespace f8srv {

// Sampling and stopping, as the scheduler needs them.
struct GenParams {
  int32_t max_tokens = -1;          // -1: until EOS or the slot's context is full
  float temperature = 1.0f;         // OpenAI default; 0 = greedy
  float top_p = 1.0f;               // [0, 1]
  int32_t top_k = 0;                // 0 = off (extension)
  float min_p = 0.0f;               // [0, 1] (extension)
  float presence_penalty = 0.0f;    // [-2, 2]
  float frequency_penalty = 0.0f;   // [-2, 2]
  float repeat_penalty = 1.0f;      // (0, 10] (extension; 1 = off)
  std::optional<uint64_t> seed;     // none: a fresh seed per request
  std::vector<std::string> stop;    // up to kMaxStop non-empty strings
  bool ignore_eos = false;          // (extension) keep going past EOS
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id, bias in [-100, 100]
  int32_t top_logprobs = -1;        // -1: no logprobs; k >= 0: the chosen token's and k alternatives
  // Constrained decoding (response_format, required tool calls): a grammar
  // compiled for the model by the HTTP handler; null = unconstrained.
  std::shared_ptr<f8_grammar> grammar;
  bool special_text = false;        // render control tokens in the text (tool-call markers)
  // (extension) "speculative": {"lookup": N, "ngram_min": M, "draft_max": K,
  // "draft_model": bool}: speculative decoding for this request; -1 = the
  // server's default (f8 serve --spec-lookup / --spec-ngram-min /
  // --draft-max; the draft model is used when the server has one).
  int32_t spec_lookup = -1, spec_ngram_min = -1, draft_max = -1;
  int32_t spec_draft_model = -1;    // 0: no draft-model drafts, 1: use it (when loaded), -1: default (use it)
};

struct ChatMessage {
  std::string role;     // system, developer, user, assistant, tool
  std::string content;  // text parts joined
  bool content_null = false;    // assistant turn with tool_calls and no content
  std::string tool_calls_json;  // assistant: its tool_calls (JSON array; arguments as objects when they parse)
  std::string tool_call_id;     // tool: the call it answers
  std::string name;             // tool: the function's name (optional)
};

enum class ToolChoice { Auto, None, Required, Named };

struct ParsedRequest {
  bool chat = false;                  // /v1/chat/completions vs /v1/completions
  std::string model;                  // as sent ("" when absent)
  std::vector<ChatMessage> messages;  // chat
  std::string chat_template_kwargs;   // chat: JSON object of template variables ("" = none), as vLLM
  bool prompt_is_tokens = false;      // completions: prompt given as token ids
  std::string prompt;                 // completions, text form
  std::vector<int32_t> prompt_tokens; // completions, token form
  GenParams gen;
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage
  int32_t n = 1;                      // choices, 1..kMaxChoices
  // response_format: "" (text), "json_object" or "json_schema" (schema in json_schema).
  std::string response_format;
  std::string json_schema;
  // Tools (chat): the functions, the array as sent (for the chat template),
  // tool_choice and parallel_tool_calls.
  std::vector<ToolSpec> tools;
  std::string tools_json;
  ToolChoice tool_choice = ToolChoice::Auto;
  std::string tool_choice_name;       // ToolChoice::Named
  bool parallel_tool_calls = true;
};

constexpr size_t kMaxStop = 16;
constexpr int64_t kMaxChoices = 16;
constexpr int64_t kMaxTopLogprobs = 20;
constexpr size_t kMaxLogitBias = 1024;
constexpr size_t kMaxTools = 128;
constexpr size_t kMaxStopBytes = 256;
constexpr int64_t kMaxTokensCap = 1 << 20;

// Parses a request body. On failure returns false with *err (always 400).
// `chat` selects the endpoint's shape.
bool parse_generation_request(const std::string& body, bool chat, ParsedRequest* out, ApiError* err);

// POST /tokenize {"content"|"prompt": str, "add_special": bool, "parse_special": bool}
struct TokenizeRequest {
  std::string text;
  bool add_special = true;
  bool parse_special = true;
  bool with_pieces = false;
};
bool parse_tokenize_request(const std::string& body, TokenizeRequest* out, ApiError* err);

// POST /detokenize {"tokens": [int...]}
bool parse_detokenize_request(const std::string& body, std::vector<int32_t>* tokens, ApiError* err);

}  // namespace f8srv
