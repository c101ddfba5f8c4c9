// server_state.h — what the HTTP handlers share (internal to src/server).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "server/metrics.h"
#include "server/runtime_f8.h"
#include "server/scheduler.h"
#include "server/server.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace f8srv {

struct ServerState {
  ServerOptions opt;
  std::string model_name;
  std::atomic<bool> ready{false};      // model loaded, scheduler running
  std::atomic<bool> draining{false};   // SIGTERM seen: new requests get 503
  std::atomic<int> in_flight{0};       // generation responses not yet fully written
  std::atomic<uint64_t> next_id{1};
  int32_t slot_ctx = 0;
  Metrics metrics;
  std::unique_ptr<ModelText> text;     // set before ready
  Scheduler* sched = nullptr;          // set before ready
};

void register_routes(httplib::Server& svr, ServerState& st);
// POST /v1/chat/completions and /v1/completions (routes_generate.cpp).
void handle_generate(ServerState& st, const httplib::Request& req, httplib::Response& res, bool chat);
// Writes an OpenAI error body; 503s get Retry-After.
void reply_error(httplib::Response& res, const ApiError& e);

}  // namespace f8srv
