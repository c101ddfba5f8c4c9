// routes_generate.cpp — POST /v1/chat/completions and /v1/completions:
// validate, tokenize, check the context, queue a Task, then answer with one
// JSON body or an SSE stream of chunks ending in "data: [DONE]".
#include <httplib.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "server/server_state.h"

namespace f8srv {

using nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Everything one response needs after the handler returns (the SSE provider
// runs later, on the same connection thread).
struct Job {
  ServerState* st;
  std::shared_ptr<Task> task;
  bool chat;
  bool include_usage;
  std::string id;
  std::string model;
  int64_t created;
  bool sent_role = false;
  bool finished = false;
};

json usage_json(const Task& t) {
  return {{"prompt_tokens", t.n_prompt},
          {"completion_tokens", t.n_gen},
          {"total_tokens", t.n_prompt + t.n_gen}};
}

json chunk(const Job& j, const json& choice) {
  return {{"id", j.id},
          {"object", j.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", j.created},
          {"model", j.model},
          {"system_fingerprint", std::string("f8-") + f8_version()},
          {"choices", json::array({choice})}};
}

json text_choice(const Job& j, const std::string& text, const json& finish) {
  if (j.chat) {
    json delta = json::object();
    if (!text.empty()) delta["content"] = text;
    return {{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", finish}};
  }
  return {{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish}};
}

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
    json c = chunk(j, {{"index", 0},
                       {"delta", {{"role", "assistant"}, {"content", ""}}},
                       {"logprobs", nullptr},
                       {"finish_reason", nullptr}});
    if (!write_event(sink, dump(c))) return false;
    return true;
  }
  std::string text;
  bool done = j.task->wait(&text, 200);
  if (!text.empty() && !write_event(sink, dump(chunk(j, text_choice(j, text, nullptr))))) return false;
  if (!done) return true;

  j.finished = true;
  std::string reason;
  {
    std::lock_guard<std::mutex> lk(j.task->mu);
    reason = j.task->finish_reason;
  }
  if (reason == "stop" || reason == "length") {
    if (!write_event(sink, dump(chunk(j, text_choice(j, "", reason))))) return false;
    if (j.include_usage) {
      json u = chunk(j, json());
      u["choices"] = json::array();
      std::lock_guard<std::mutex> lk(j.task->mu);
      u["usage"] = usage_json(*j.task);
      if (!write_event(sink, dump(u))) return false;
    }
  } else {
    // Headers are gone: report the failure in-band, as OpenAI does.
    std::string msg = reason == "error" ? j.task->error : "request cancelled: server shutting down";
    ApiError e{reason == "error" ? 500 : 503, msg, "server_error", "", ""};
    if (!write_event(sink, error_json(e))) return false;
  }
  if (!write_event(sink, "[DONE]")) return false;
  sink.done();
  return true;
}

}  // namespace

void handle_generate(ServerState& st, const httplib::Request& req, httplib::Response& res, bool chat) {
  ParsedRequest pr;
  ApiError err;
  if (!parse_generation_request(req.body, chat, &pr, &err)) return reply_error(res, err);
  if (!st.ready) return reply_error(res, {503, "model is loading", "server_error", "", "model_loading"});

  std::vector<int32_t> prompt;
  if (chat) {
    if (!st.text->chat_prompt(pr.messages, pr.chat_template_kwargs, &prompt, &err)) return reply_error(res, err);
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

  auto task = std::make_shared<Task>();
  task->prompt = std::move(prompt);
  task->params = pr.gen;
  task->seed = pr.gen.seed ? *pr.gen.seed : F8_SEED_RANDOM;
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
  char idbuf[32];
  snprintf(idbuf, sizeof idbuf, "%016llx", static_cast<unsigned long long>(st.next_id++));
  job->id = std::string(chat ? "chatcmpl-" : "cmpl-") + idbuf;
  job->model = st.model_name;
  job->created = static_cast<int64_t>(std::time(nullptr));

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
  std::string text;
  while (!task->wait(&text, 1000)) {
  }
  st.in_flight--;
  std::lock_guard<std::mutex> lk(task->mu);
  if (task->finish_reason == "error")
    return reply_error(res, {500, task->error, "server_error", "", ""});
  if (task->finish_reason != "stop" && task->finish_reason != "length")
    return reply_error(res, {503, "request cancelled: server shutting down", "server_error", "", ""});
  json choice;
  if (chat)
    choice = {{"index", 0},
              {"message", {{"role", "assistant"}, {"content", text}}},
              {"logprobs", nullptr},
              {"finish_reason", task->finish_reason}};
  else
    choice = {{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", task->finish_reason}};
  json body = {{"id", job->id},
               {"object", chat ? "chat.completion" : "text_completion"},
               {"created", job->created},
               {"model", job->model},
               {"system_fingerprint", std::string("f8-") + f8_version()},
               {"choices", json::array({choice})},
               {"usage", usage_json(*task)}};
  res.set_content(dump(body), "application/json");
}

}  // namespace f8srv
