// routes_generate.cpp — POST /v1/chat/completions and /v1/completions:
// validate, build the prompt (and the grammar of a response_format or a
// required tool call), check the context, queue a Task, then answer with
// one JSON body or an SSE stream of chunks ending in "data: [DONE]".
// Response bodies (choices, tool_calls, logprobs) are in response_json.cpp.
#include <httplib.h>

#include <chrono>
#include <ctime>
#include <random>

#include "server/response_json.h"
#include "server/server_state.h"

namespace f8srv {

namespace {

bool write_event(httplib::DataSink& sink, const std::string& data) {
  std::string ev = "data: " + data + "\n\n";
  return sink.write(ev.data(), ev.size());
}

// Called repeatedly by httplib while the stream is open. Returns false to
// abort the connection (the client went away).
bool stream_step(Job& j, httplib::DataSink& sink) {
  if (j.finished) return false;
  if (j.chat && !j.sent_role) {
    j.sent_role = true;
    for (int32_t i = 0; i < j.n; ++i)
      if (!write_event(sink, dump(role_chunk(j, i)))) return false;
    return true;
  }
  std::vector<ChoiceChunk> chunks;
  bool done = j.task->wait_choices(&chunks, 200);
  for (ChoiceChunk& ch : chunks)
    for (const json& c : stream_chunks(j, ch))
      if (!write_event(sink, dump(c))) return false;
  if (!done) return true;

  j.finished = true;
  std::string reason, error;
  {
    std::lock_guard<std::mutex> lk(j.task->mu);
    reason = j.task->finish_reason;
    error = j.task->error;
  }
  if (reason == "error" || reason == "cancelled") {
    // Headers are gone: report the failure in-band, as OpenAI does.
    std::string msg = reason == "error" ? error : "request cancelled: server shutting down";
    ApiError e{reason == "error" ? 500 : 503, msg, "server_error", "", ""};
    if (!write_event(sink, error_json(e))) return false;
  } else if (j.include_usage) {
    json u = chunk(j, json());
    u["choices"] = json::array();
    std::lock_guard<std::mutex> lk(j.task->mu);
    u["usage"] = usage_json(*j.task);
    if (!write_event(sink, dump(u))) return false;
  }
  if (!write_event(sink, "[DONE]")) return false;
  sink.done();
  return true;
}

// The grammar a request asks for (response_format, tool_choice required or
// named), as GBNF; "" = none. False with *err (400, naming the field).
bool constraint_gbnf(ServerState& st, const ParsedRequest& pr, bool tools_on, ToolFormat fmt, std::string* gbnf,
                     ApiError* err) {
  auto schema = [&](const std::string& s, const std::string& root, std::string* g, std::string* e) {
    return st.text->schema_gbnf(s, root, g, e);
  };
  auto marker = [&](const std::string& m) { return st.text->marker(m); };
  std::string e;
  bool forced = tools_on && (pr.tool_choice == ToolChoice::Required || pr.tool_choice == ToolChoice::Named);
  if (forced) {
    if (!tool_call_grammar(fmt, pr.tools, pr.tool_choice == ToolChoice::Named ? pr.tool_choice_name : "",
                           pr.parallel_tool_calls, marker, schema, gbnf, &e)) {
      *err = bad_request(e, "tools");
      return false;
    }
    return true;
  }
  if (pr.response_format.empty()) return true;
  std::string s = pr.response_format == "json_object" ? "{\"type\": \"object\"}" : pr.json_schema;
  std::string resp;
  if (!schema(s, tools_on ? "resp" : "root", &resp, &e)) {
    *err = bad_request("response_format.json_schema.schema: " + e, "response_format");
    return false;
  }
  if (!tools_on) {
    *gbnf = resp;
    return true;
  }
  // tool_choice auto with a response format: the answer is either JSON of
  // the format or tool calls.
  std::string calls;
  if (!tool_call_grammar(fmt, pr.tools, "", pr.parallel_tool_calls, marker, schema, &calls, &e)) {
    *err = bad_request(e, "tools");
    return false;
  }
  calls.replace(0, 4, "calls");  // "root ::= ..." -> "calls ::= ..."
  *gbnf = "root ::= resp | calls\n" + resp + calls;
  return true;
}

std::string random_id(std::mt19937_64& rng, size_t n) {
  static const char* a = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += a[rng() % 62];
  return s;
}

}  // namespace

void handle_generate(ServerState& st, const httplib::Request& req, httplib::Response& res, bool chat) {
  ParsedRequest pr;
  ApiError err;
  if (!parse_generation_request(req.body, chat, &pr, &err)) return reply_error(res, err);
  if (!st.ready) return reply_error(res, {503, "model is loading", "server_error", "", "model_loading"});

  bool tools_on = chat && !pr.tools.empty() && pr.tool_choice != ToolChoice::None;
  ToolFormat fmt = tools_on ? st.text->tool_format() : ToolFormat::Hermes;
  std::vector<int32_t> prompt;
  if (chat) {
    static const std::vector<ToolSpec> none;
    if (!st.text->chat_prompt(pr.messages, pr.chat_template_kwargs, tools_on ? pr.tools : none,
                              tools_on ? pr.tools_json : "", &prompt, &err))
      return reply_error(res, err);
  } else if (pr.prompt_is_tokens) {
    int32_t nv = st.text->n_vocab();
    for (size_t i = 0; i < pr.prompt_tokens.size(); ++i)
      if (pr.prompt_tokens[i] >= nv)
        return reply_error(res, bad_request("prompt token " + std::to_string(pr.prompt_tokens[i]) +
                                                " at index " + std::to_string(i) + " is out of range [0, " +
                                                std::to_string(nv) + ")",
                                            "prompt"));
    prompt = std::move(pr.prompt_tokens);
  } else {
    // As `f8 generate -p`: the model's BOS, special-token text stays text.
    if (!st.text->tokenize(pr.prompt, /*add_special=*/true, /*parse_special=*/false, &prompt, &err))
      return reply_error(res, err);
  }
  if (prompt.empty())
    return reply_error(res, bad_request("the prompt is empty (0 tokens)", chat ? "messages" : "prompt"));
  if (static_cast<int64_t>(prompt.size()) >= st.slot_ctx)
    return reply_error(res, bad_request("the prompt has " + std::to_string(prompt.size()) +
                                            " tokens but the context is " + std::to_string(st.slot_ctx) +
                                            " tokens (prompt and completion must fit)",
                                        chat ? "messages" : "prompt", "context_length_exceeded"));
  for (const auto& [tok, bias] : pr.gen.logit_bias)
    if (tok >= st.text->n_logits())
      return reply_error(res, bad_request("'logit_bias' token " + std::to_string(tok) + " is outside the vocabulary [0, " +
                                              std::to_string(st.text->n_logits()) + ")",
                                          "logit_bias"));
  std::string gbnf;
  if (!constraint_gbnf(st, pr, tools_on, fmt, &gbnf, &err)) return reply_error(res, err);
  if (!gbnf.empty() && !st.text->compile_grammar(gbnf, &pr.gen.grammar, &err)) return reply_error(res, err);
  pr.gen.special_text = tools_on;

  auto task = std::make_shared<Task>();
  task->prompt = std::move(prompt);
  task->params = pr.gen;
  task->seed = pr.gen.seed ? *pr.gen.seed : F8_SEED_RANDOM;
  task->n = pr.n;
  switch (st.sched->submit(task)) {
    case Scheduler::Submit::Ok: break;
    case Scheduler::Submit::QueueFull:
      return reply_error(res, {503, "server busy: " + std::to_string(st.opt.max_queue) +
                                        " requests are already waiting; retry later",
                               "server_error", "", "queue_full"});
    case Scheduler::Submit::Draining:
      return reply_error(res, {503, "server is shutting down", "server_error", "", "shutting_down"});
  }

  auto job = std::make_shared<Job>();
  job->st = &st;
  job->task = task;
  job->chat = chat;
  job->include_usage = pr.include_usage;
  uint64_t serial = st.next_id++;
  char idbuf[32];
  snprintf(idbuf, sizeof idbuf, "%016llx", static_cast<unsigned long long>(serial));
  job->id = std::string(chat ? "chatcmpl-" : "cmpl-") + idbuf;
  job->model = st.model_name;
  job->created = static_cast<int64_t>(std::time(nullptr));
  job->n = pr.n;
  job->top_logprobs = pr.gen.top_logprobs;
  job->tools = tools_on;
  job->format = fmt;
  job->topt.parallel = pr.parallel_tool_calls;
  job->topt.forced = tools_on && (pr.tool_choice == ToolChoice::Required || pr.tool_choice == ToolChoice::Named);
  for (const ToolSpec& t : pr.tools) {
    json params = json::parse(t.parameters.empty() ? "{}" : t.parameters, nullptr, false);
    if (params.is_object() && params.contains("properties") && params["properties"].is_object())
      for (auto it = params["properties"].begin(); it != params["properties"].end(); ++it)
        if (it.value().is_object() && it.value().contains("type") && it.value()["type"].is_string())
          job->topt.param_types[t.name][it.key()] = it.value()["type"].get<std::string>();
  }
  auto rng = std::make_shared<std::mt19937_64>(serial * 0x9E3779B97F4A7C15ull ^ uint64_t(job->created));
  job->make_id = [rng](int) { return "call_" + random_id(*rng, 24); };
  job->text_offset.assign(size_t(pr.n), 0);
  if (tools_on)
    for (int32_t i = 0; i < pr.n; ++i) job->parsers.push_back(std::make_unique<ToolStreamParser>(fmt, job->topt, job->make_id));

  if (pr.stream) {
    st.in_flight++;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream", [job](size_t, httplib::DataSink& sink) { return stream_step(*job, sink); },
        [job](bool) {
          // Runs when the response ends for any reason: a client that left
          // mid-stream frees its slot at the next scheduler step.
          job->task->cancel = true;
          job->st->in_flight--;
        });
    return;
  }

  st.in_flight++;
  std::vector<std::string> texts(size_t(pr.n));
  std::vector<std::vector<TokenLogprob>> lps(size_t(pr.n));
  std::vector<std::string> reasons(size_t(pr.n));
  for (bool done = false; !done;) {
    std::vector<ChoiceChunk> chunks;
    done = task->wait_choices(&chunks, 1000);
    for (ChoiceChunk& ch : chunks) {
      texts[size_t(ch.index)] += ch.text;
      for (TokenLogprob& lp : ch.logprobs) lps[size_t(ch.index)].push_back(std::move(lp));
      if (ch.finished) reasons[size_t(ch.index)] = ch.finish_reason;
    }
  }
  st.in_flight--;
  std::lock_guard<std::mutex> lk(task->mu);
  if (task->finish_reason == "error")
    return reply_error(res, {500, task->error, "server_error", "", ""});
  if (task->finish_reason == "cancelled")
    return reply_error(res, {503, "request cancelled: server shutting down", "server_error", "", ""});
  json choices = json::array();
  for (int32_t i = 0; i < pr.n; ++i)
    choices.push_back(full_choice(*job, i, texts[size_t(i)], lps[size_t(i)], reasons[size_t(i)]));
  json body = {{"id", job->id},
               {"object", chat ? "chat.completion" : "text_completion"},
               {"created", job->created},
               {"model", job->model},
               {"system_fingerprint", std::string("f8-") + f8_version()},
               {"choices", choices},
               {"usage", usage_json(*task)}};
  res.set_content(dump(body), "application/json");
}

}  // namespace f8srv
