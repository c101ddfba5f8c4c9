// response_json.cpp — OpenAI response bodies (response_json.h).
//
// logprobs: the distribution each token was drawn from (after logit bias,
// penalties, a grammar, top-k/top-p/min-p and temperature; with temperature
// 0 the temperature-1 softmax after bias, penalties and grammar): see
// f8_sampler_last_logprobs. Chat: {"content": [{"token", "logprob", "bytes",
// "top_logprobs": [...]}], "refusal": null}; completions (legacy):
// {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}.
// A token's text is its bytes; one that ends inside a UTF-8 character shows
// U+FFFD in "token" and its exact bytes in "bytes".
#include "server/response_json.h"

#include "server/server_state.h"

namespace f8srv {

namespace {

json bytes_json(const std::string& b) {
  json a = json::array();
  for (char c : b) a.push_back(int(uint8_t(c)));
  return a;
}

json chat_logprobs(const Job& j, const std::vector<TokenLogprob>& lps) {
  json content = json::array();
  for (const TokenLogprob& lp : lps) {
    std::string b = j.st->text->token_bytes(lp.token);
    json top = json::array();
    for (const auto& [tok, l] : lp.top) {
      std::string tb = j.st->text->token_bytes(tok);
      top.push_back({{"token", tb}, {"logprob", l}, {"bytes", bytes_json(tb)}});
    }
    content.push_back({{"token", b}, {"logprob", lp.logprob}, {"bytes", bytes_json(b)}, {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

json legacy_logprobs(Job& j, int32_t i, const std::vector<TokenLogprob>& lps) {
  json tokens = json::array(), token_lps = json::array(), tops = json::array(), offsets = json::array();
  for (const TokenLogprob& lp : lps) {
    std::string b = j.st->text->token_bytes(lp.token);
    tokens.push_back(b);
    token_lps.push_back(lp.logprob);
    json top = json::object();
    for (const auto& [tok, l] : lp.top) top[j.st->text->token_bytes(tok)] = l;
    tops.push_back(top);
    offsets.push_back(j.text_offset[size_t(i)]);
    j.text_offset[size_t(i)] += b.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

json logprobs_json(Job& j, int32_t i, const std::vector<TokenLogprob>& lps) {
  if (j.top_logprobs < 0) return nullptr;
  return j.chat ? chat_logprobs(j, lps) : legacy_logprobs(j, i, lps);
}

json tool_call_delta(const ToolDelta& d) {
  json tc = {{"index", d.call_index}};
  if (!d.name.empty()) {
    tc["id"] = d.id;
    tc["type"] = "function";
    tc["function"] = {{"name", d.name}, {"arguments", d.arguments}};
  } else {
    tc["function"] = {{"arguments", d.arguments}};
  }
  return tc;
}

}  // namespace

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json usage_json(const Task& t) {
  // prompt_tokens_details.cached_tokens as OpenAI reports it: the prompt
  // tokens whose KV came from the prefix cache instead of being computed.
  return {{"prompt_tokens", t.n_prompt},
          {"completion_tokens", t.n_gen},
          {"total_tokens", t.n_prompt + t.n_gen},
          {"prompt_tokens_details", {{"cached_tokens", t.n_cached}}}};
}

json chunk(const Job& j, const json& choice) {
  return {{"id", j.id},
          {"object", j.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", j.created},
          {"model", j.model},
          {"system_fingerprint", std::string("f8-") + f8_version()},
          {"choices", json::array({choice})}};
}

json role_chunk(const Job& j, int32_t i) {
  return chunk(j, {{"index", i},
                   {"delta", {{"role", "assistant"}, {"content", ""}}},
                   {"logprobs", nullptr},
                   {"finish_reason", nullptr}});
}

std::vector<json> stream_chunks(Job& j, ChoiceChunk& ch) {
  std::vector<json> out;
  const int32_t i = ch.index;
  json lp = ch.logprobs.empty() ? json(nullptr) : logprobs_json(j, i, ch.logprobs);
  auto piece = [&](const json& delta_or_text) {
    json c = {{"index", i}, {"logprobs", lp}, {"finish_reason", nullptr}};
    if (j.chat) c["delta"] = delta_or_text;
    else c["text"] = delta_or_text;
    out.push_back(chunk(j, c));
    lp = nullptr;  // logprobs ride on the first chunk of the piece
  };
  if (j.chat && j.tools) {
    ToolStreamParser& p = *j.parsers[size_t(i)];
    std::vector<ToolDelta> ds = p.feed(ch.text);
    if (ch.finished) {
      std::vector<ToolDelta> rest = p.finish();
      ds.insert(ds.end(), rest.begin(), rest.end());
    }
    for (const ToolDelta& d : ds) {
      if (d.call_index < 0) piece({{"content", d.content}});
      else piece({{"tool_calls", json::array({tool_call_delta(d)})}});
    }
    if (!lp.is_null()) piece(json::object());
  } else if (!ch.text.empty() || !lp.is_null()) {
    json delta = json::object();
    if (!ch.text.empty()) delta["content"] = ch.text;
    piece(j.chat ? delta : json(ch.text));
  }
  // A choice that ended with the request ("error", "cancelled") gets no
  // finish chunk: the in-band error event of stream_step follows.
  if (ch.finished && (ch.finish_reason == "stop" || ch.finish_reason == "length")) {
    std::string reason = ch.finish_reason;
    if (j.tools && j.parsers[size_t(i)]->n_calls() > 0 && reason == "stop") reason = "tool_calls";
    json c = {{"index", i}, {"logprobs", nullptr}, {"finish_reason", reason}};
    if (j.chat) c["delta"] = json::object();
    else c["text"] = "";
    out.push_back(chunk(j, c));
  }
  return out;
}

json full_choice(Job& j, int32_t i, const std::string& text, const std::vector<TokenLogprob>& lps,
                 const std::string& reason) {
  json logprobs = logprobs_json(j, i, lps);
  if (!j.chat) return {{"index", i}, {"text", text}, {"logprobs", logprobs}, {"finish_reason", reason}};
  json msg = {{"role", "assistant"}, {"content", text}};
  std::string fr = reason;
  if (j.tools) {
    ToolParse p = parse_tool_output(j.format, text, true, j.topt);
    msg["content"] = p.content;
    if (!p.reasoning.empty()) msg["reasoning_content"] = p.reasoning;
    if (!p.calls.empty()) {
      json calls = json::array();
      for (size_t k = 0; k < p.calls.size(); ++k)
        calls.push_back({{"id", j.make_id(int(k))},
                         {"type", "function"},
                         {"function", {{"name", p.calls[k].name}, {"arguments", p.calls[k].arguments}}}});
      msg["tool_calls"] = calls;
      if (p.content.empty()) msg["content"] = nullptr;
      if (reason == "stop") fr = "tool_calls";
    }
  }
  return {{"index", i}, {"message", msg}, {"logprobs", logprobs}, {"finish_reason", fr}};
}

}  // namespace f8srv
