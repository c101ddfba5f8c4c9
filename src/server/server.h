// server.h — `f8 serve`: an OpenAI-compatible HTTP server over the C API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "f8.h"

namespace f8srv {

struct ServerOptions {
  std::string model_path;
  std::string model_name;          // id in /v1/models and responses ("" = file stem)
  std::string host = "127.0.0.1";
  int port = 8080;
  int slots = 4;                   // concurrent sequences
  int slot_ctx = 0;                // positions per request (prompt + output); 0 = model's, <= 4096
  int kv_pool = 0;                 // KV cache tokens shared by the slots; 0 = slots * slot_ctx
  std::string api_key;             // "" = no auth
  int max_queue = 64;              // requests waiting for a slot before 503
  double timeout_s = 600;          // socket read/write timeout and SIGTERM drain limit
  size_t max_body = 4u << 20;      // bytes; larger bodies get 413
  int step_tokens = 256;           // batch entries per scheduler step (prefill chunk)
  bool prefix_cache = true;        // keep ended requests' KV blocks for reuse (--no-prefix-cache)
  // Speculative decoding default for requests without "speculative":
  // prompt lookup's longest / shortest n-gram (0 = off), drafts per step.
  int spec_lookup = 0, spec_ngram_min = 1, draft_max = 4;
  // --draft-model: a .f8 with the target's tokenizer ("" = none), loaded
  // next to the target with a context of its own (the same parameters and
  // KV pool size). Its drafts are used by every request unless it says
  // "speculative": {"draft_model": false}; with prompt lookup on too, lookup
  // drafts first (draft_model.h). The caller checks the tokenizer
  // (cmd_serve.cpp); run_server refuses a different vocabulary size.
  std::string draft_model_path;
  f8_context_params ctx_params{};  // n_ctx is set to the pool (kv_pool or slots * slot_ctx)
  bool quiet = false;
};

// Binds, loads the model (GET /health says 503 meanwhile), serves until
// SIGTERM/SIGINT, drains in-flight requests up to timeout_s. Returns the
// process exit code: 0 after a clean shutdown, 1 on a runtime failure
// (bind, load), with the reason on stderr.
int run_server(const ServerOptions& opt);

// Constant-time comparison of a presented key with the configured one:
// the time depends only on the configured key's length.
bool keys_equal(const std::string& presented, const std::string& secret);

// The built-in chat page (GET /): one self-contained HTML document.
const char* chat_page_html();

}  // namespace f8srv
