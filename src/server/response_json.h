// response_json.h — OpenAI response bodies of the generation routes: the
// state of one response (Job) and its JSON pieces — whole choices, stream
// chunks, tool_calls, logprobs (chat shape and the legacy completions
// shape), usage. Internal to src/server.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/scheduler.h"
#include "server/tool_calls.h"

namespace f8srv {

using json = nlohmann::json;
struct ServerState;

// Everything one response needs after the handler returns (the SSE provider
// runs later, on the same connection thread).
struct Job {
  ServerState* st = nullptr;
  std::shared_ptr<Task> task;
  bool chat = false;
  bool include_usage = false;
  std::string id, model;
  int64_t created = 0;
  int32_t n = 1;
  int32_t top_logprobs = -1;      // -1: no logprobs
  bool tools = false;             // parse the output for tool calls
  ToolFormat format = ToolFormat::Hermes;
  ToolParseOptions topt;
  std::function<std::string(int)> make_id;                   // a tool call's id
  std::vector<std::unique_ptr<ToolStreamParser>> parsers;    // per choice (streaming tools)
  std::vector<size_t> text_offset;                           // per choice (legacy logprobs)
  bool sent_role = false;
  bool finished = false;
};

std::string dump(const json& j);
json usage_json(const Task& t);
// A stream chunk around one choice object.
json chunk(const Job& j, const json& choice);
// The first chunk of choice i of a chat stream: {"role": "assistant"}.
json role_chunk(const Job& j, int32_t i);
// The chunks for a piece of one choice's output (content, tool-call deltas,
// logprobs, and its finish_reason when it ended).
std::vector<json> stream_chunks(Job& j, ChoiceChunk& ch);
// A whole choice of a non-streamed response.
json full_choice(Job& j, int32_t i, const std::string& text, const std::vector<TokenLogprob>& lps,
                 const std::string& reason);

}  // namespace f8srv
