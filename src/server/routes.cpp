// routes.cpp — HTTP routes other than generation, plus the cross-cutting
// parts: auth and draining (pre-routing), OpenAI error bodies for httplib's
// own errors (404, 413, ...), per-endpoint request counters.
#include <httplib.h>

#include <chrono>
#include <functional>
#include <ctime>
#include <nlohmann/json.hpp>

#include "server/server_state.h"

namespace f8srv {

using nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

const char* endpoint_label(const std::string& path) {
  static const char* known[] = {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health",
                                "/tokenize", "/detokenize", "/metrics", "/"};
  for (const char* k : known)
    if (path == k) return k;
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models";
  return "other";
}

// Bearer token from "Authorization: Bearer KEY" (or the x-api-key header).
std::string presented_key(const httplib::Request& req) {
  std::string h = req.get_header_value("Authorization");
  const std::string bearer = "Bearer ";
  if (h.size() > bearer.size() && std::equal(bearer.begin(), bearer.end(), h.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
      }))
    return h.substr(bearer.size());
  return req.get_header_value("x-api-key");
}

// Draining and auth, checked inside each handler rather than in httplib's
// pre-routing hook: by then httplib has read the request body, so a refused
// POST leaves no unread bytes on a keep-alive connection (which the next
// request-line read would block on until the read timeout).
bool admitted(ServerState& st, const httplib::Request& req, httplib::Response& res) {
  if (req.path == "/health") return true;
  if (st.draining && req.path != "/metrics") {
    reply_error(res, {503, "server is shutting down", "server_error", "", "shutting_down"});
    return false;
  }
  bool open = req.path == "/" && req.method == "GET";  // the page itself holds no data
  if (!st.opt.api_key.empty() && !open && !keys_equal(presented_key(req), st.opt.api_key)) {
    reply_error(res, {401, "missing or invalid API key (send 'Authorization: Bearer KEY')",
                      "authentication_error", "", "invalid_api_key"});
    return false;
  }
  return true;
}

bool require_ready(ServerState& st, httplib::Response& res) {
  if (st.ready) return true;
  reply_error(res, {503, "model is loading", "server_error", "", "model_loading"});
  return false;
}

json model_entry(ServerState& st) {
  return {{"id", st.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "f8"},
          {"meta", {{"n_ctx", st.slot_ctx}, {"slots", st.opt.slots}, {"path", st.opt.model_path}}}};
}

}  // namespace

void reply_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  if (e.status == 503) res.set_header("Retry-After", "1");
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  res.set_content(error_json(e), "application/json");
}

void register_routes(httplib::Server& svr, ServerState& st) {
  using Fn = std::function<void(const httplib::Request&, httplib::Response&)>;
  auto guard = [&st](Fn fn) -> httplib::Server::Handler {
    return [&st, fn](const httplib::Request& req, httplib::Response& res) {
      if (admitted(st, req, res)) fn(req, res);
    };
  };
  // httplib's own errors (unknown route 404, wrong method, body too large
  // 413, bad request line 400) get an OpenAI error body too.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([&st](const httplib::Request& req,
                                                                   httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    ApiError e{res.status, "", "invalid_request_error", "", ""};
    switch (res.status) {
      case 404: e.message = "unknown endpoint " + req.method + " " + req.path; e.code = "not_found"; break;
      case 405: e.message = "method not allowed"; break;
      case 413:
        e.message = "request body is larger than the limit of " + std::to_string(st.opt.max_body) + " bytes";
        e.code = "body_too_large";
        break;
      case 414: e.message = "request URI is too long"; break;
      default: e.message = "bad request"; break;
    }
    if (res.status >= 500) e.type = "server_error";
    res.set_content(error_json(e), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));

  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = std::string("internal error: ") + e.what();
    } catch (...) {
    }
    reply_error(res, {500, what, "server_error", "", ""});
  });

  svr.set_logger([&st](const httplib::Request& req, const httplib::Response& res) {
    st.metrics.count_request(endpoint_label(req.path), res.status);
  });

  svr.Get("/health", [&st](const httplib::Request&, httplib::Response& res) {
    const char* s = st.draining ? "draining" : st.ready ? "ok" : "loading";
    res.status = st.ready && !st.draining ? 200 : 503;
    if (res.status == 503) res.set_header("Retry-After", "1");
    res.set_content(dump({{"status", s}}), "application/json");
  });

  svr.Get("/v1/models", guard([&st](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump({{"object", "list"}, {"data", json::array({model_entry(st)})}}), "application/json");
  }));
  svr.Get(R"(/v1/models/(.+))", guard([&st](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] != st.model_name)
      return reply_error(res, {404, "model '" + std::string(req.matches[1]) + "' does not exist",
                               "invalid_request_error", "model", "model_not_found"});
    res.set_content(dump(model_entry(st)), "application/json");
  }));

  svr.Post("/v1/chat/completions", guard([&st](const httplib::Request& req, httplib::Response& res) {
    handle_generate(st, req, res, true);
  }));
  svr.Post("/v1/completions", guard([&st](const httplib::Request& req, httplib::Response& res) {
    handle_generate(st, req, res, false);
  }));

  svr.Post("/tokenize", guard([&st](const httplib::Request& req, httplib::Response& res) {
    TokenizeRequest tr;
    ApiError err;
    if (!parse_tokenize_request(req.body, &tr, &err)) return reply_error(res, err);
    if (!require_ready(st, res)) return;
    std::vector<int32_t> ids;
    if (!st.text->tokenize(tr.text, tr.add_special, tr.parse_special, &ids, &err)) return reply_error(res, err);
    json out = {{"tokens", ids}};
    if (tr.with_pieces) {
      json pieces = json::array();
      for (int32_t id : ids) pieces.push_back({{"id", id}, {"piece", st.text->piece(id)}});
      out["pieces"] = pieces;
    }
    res.set_content(dump(out), "application/json");
  }));

  svr.Post("/detokenize", guard([&st](const httplib::Request& req, httplib::Response& res) {
    std::vector<int32_t> ids;
    ApiError err;
    if (!parse_detokenize_request(req.body, &ids, &err)) return reply_error(res, err);
    if (!require_ready(st, res)) return;
    std::string text;
    if (!st.text->detokenize(ids, &text, &err)) return reply_error(res, err);
    res.set_content(dump({{"content", text}}), "application/json");
  }));

  svr.Get("/metrics", guard([&st](const httplib::Request&, httplib::Response& res) {
    res.set_content(st.metrics.prometheus(st.opt.slots, st.ready, st.draining, now_s()),
                    "text/plain; version=0.0.4; charset=utf-8");
  }));

  svr.Get("/", guard([](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'");
    res.set_content(chat_page_html(), "text/html; charset=utf-8");
  }));
}

}  // namespace f8srv
