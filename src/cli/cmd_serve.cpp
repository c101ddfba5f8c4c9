// cmd_serve.cpp — `f8 serve`: flags -> f8srv::ServerOptions (src/server).
// Compiled only when src/server is built (F8_SERVER=ON defines F8_HAVE_SERVER).
#ifdef F8_HAVE_SERVER
#include <cstdio>
#include <fstream>
#include <sstream>

#include "args.h"
#include "command.h"
#include "server/server.h"
#include "util_pull.h"
#include "util_run.h"
#include "util_spec.h"

namespace {

// --draft-model must have the model's tokenizer: both vocabularies are
// loaded alone (no weights, fast) and compared before the server starts, by
// the check `f8 generate --draft-model` uses. 0, or the exit code.
int check_draft_model(const std::string& model, const std::string& draft) {
  using namespace f8cli;
  f8_model_params mp = f8_model_default_params();
  mp.vocab_only = true;
  f8_model* tm = nullptr;
  f8_model* dm = nullptr;
  int rc = 0;
  if (f8_model_load(model.c_str(), &mp, &tm) != F8_OK)
    rc = fail(1, f8_last_error());
  else if (f8_model_load(draft.c_str(), &mp, &dm) != F8_OK)
    rc = fail(1, "--draft-model " + draft + ": " + f8_last_error());
  else
    rc = check_draft_tokenizer(tm, dm, model, draft);
  if (dm) f8_model_free(dm);
  if (tm) f8_model_free(tm);
  return rc;
}

int cmd_serve(int argc, char** argv) {
  using namespace f8cli;
  ArgParser p("f8 serve", "-m MODEL.f8 [options]",
              "OpenAI-compatible HTTP server: /v1/chat/completions, /v1/completions (SSE streaming),\n"
              "/v1/models, /health, /tokenize, /detokenize, /metrics and a chat page at /.\n"
              "Requests share one KV cache through --slots concurrent sequences (continuous batching).");
  RunFlags rf;
  rf.batch = 256;
  add_run_flags(p, &rf);
  std::string host = "127.0.0.1", api_key, api_key_file, name;
  int64_t port = 8080, slots = 4, max_queue = 64, max_body = 4 << 20, kv_pool = 0;
  double timeout = 600;
  bool no_prefix_cache = false;
  int64_t spec_lookup = 0, spec_ngram_min = 1, draft_max = 4;
  std::string draft_model;
  p.option("--host", &host, "ADDR", "address to listen on (non-loopback without a key warns)");
  p.option("--port", &port, "N", "TCP port (0 = any free port, printed at start)");
  p.option("--slots", &slots, "N", "concurrent sequences; --ctx is per slot");
  p.option("--kv-pool", &kv_pool, "TOKENS",
           "KV cache tokens shared by all slots (0 = slots x ctx: every request can always reach --ctx; "
           "smaller: more slots per GiB, and when it runs out the newest request pauses and is recomputed)");
  p.flag("--no-prefix-cache", &no_prefix_cache,
         "do not keep ended requests' KV for reuse (default: a prompt starting with what an earlier request "
         "decoded reuses it in whole 64-token blocks; kept blocks are evicted least-recently-used)");
  p.option("--api-key", &api_key, "KEY", "require 'Authorization: Bearer KEY' (except /health and /)");
  p.option("--api-key-file", &api_key_file, "FILE", "read the key from the first line of FILE");
  p.option("--max-queue", &max_queue, "N", "requests waiting for a slot before 503 + Retry-After");
  p.option("--timeout", &timeout, "S", "socket read/write timeout and SIGTERM drain limit, seconds");
  p.option("--max-body", &max_body, "BYTES", "largest request body (larger: 413)");
  p.option("--name", &name, "ID", "model id in /v1/models and responses (default: file name)");
  p.option("--spec-lookup", &spec_lookup, "N",
           "speculative decoding with prompt lookup for every request (0 = off; a request's "
           "\"speculative\": {\"lookup\": N, \"ngram_min\": M, \"draft_max\": K} overrides): drafts what followed "
           "the last earlier occurrence of the last N..--spec-ngram-min tokens");
  p.option("--spec-ngram-min", &spec_ngram_min, "N", "shortest n-gram prompt lookup matches");
  p.option("--draft-model", &draft_model, "FILE",
           "speculative decoding with a small draft model with the same tokenizer (checked at start), in a "
           "context of its own with the same KV pool size; every request uses it unless it says "
           "\"speculative\": {\"draft_model\": false}; with --spec-lookup too, prompt lookup drafts first and "
           "the draft model only when lookup finds nothing");
  p.option("--draft-max", &draft_max, "N",
           "most tokens drafted per step and request (the length adapts: halved after a step that took no "
           "draft, doubled after one that took all)");
  p.epilog(
      "-c/--ctx is the context of ONE request (prompt + completion). The KV cache is one pool of\n"
      "--kv-pool tokens (default slots x ctx) in 64-token pages shared by all slots: a request\n"
      "holds only what it has decoded; a new one starts when the pool has room for its prompt,\n"
      "and when running ones outgrow the pool the newest pauses (its cache is dropped and\n"
      "recomputed when room returns). -b/--batch is the most tokens one batched step decodes: a longer\n"
      "prompt is prefilled over several steps so running streams keep flowing.\n"
      "Prefix cache: what a request decoded stays in the pool after it ends (64-token blocks, by a\n"
      "hash chain of the token ids); a later prompt with the same start (the next turn of a chat,\n"
      "the same system prompt) maps those blocks read-only and decodes only the rest. Kept blocks\n"
      "use no room a running request needs: they are evicted least-recently-used first.\n"
      "Speculative decoding (--spec-lookup, --draft-model): each step a generating request's token is\n"
      "followed in the batch by up to --draft-max drafted tokens, which the model verifies in that same\n"
      "forward (greedy output is unchanged; sampling keeps its distribution). --draft-model runs a small\n"
      "model next to this one: one batched draft forward per draft position for all requests. It pays\n"
      "only when the draft model is much cheaper than the target and agrees with it often.\n"
      "SIGTERM/SIGINT: new requests get 503, in-flight ones finish (up to --timeout), exit 0.\n\n"
      "examples:\n"
      "  f8 serve -m smollm2.f8 --slots 4 -c 2048\n"
      "  f8 serve -m llama.f8 --backend cuda --slots 64 -c 8192 --kv-pool 131072\n"
      "  f8 serve -m llama-70b.f8 --draft-model llama-1b.f8 --draft-max 4\n"
      "  curl http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \\\n"
      "       -d '{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":true}'");
  int rc = 0;
  if (!p.parse(argc, argv, &rc)) return rc;
  std::string repo;
  if (int e = resolve_model_flag(&rf.model, &repo)) return e;  // -m ORG/NAME: the pulled .f8
  if (name.empty()) name = repo;  // served under the repo's name, as vLLM does

  if (port < 0 || port > 65535) return fail(2, "--port " + std::to_string(port) + ": expected 0..65535");
  if (slots < 1 || slots > F8_MAX_SEQ)
    return fail(2, "--slots " + std::to_string(slots) + ": expected 1.." + std::to_string(F8_MAX_SEQ));
  if (max_queue < 0 || max_queue > 4096) return fail(2, "--max-queue " + std::to_string(max_queue) + ": expected 0..4096");
  if (!(timeout > 0 && timeout <= 86400)) return fail(2, "--timeout: expected seconds in (0, 86400]");
  if (max_body < 1024 || max_body > (int64_t(1) << 30)) return fail(2, "--max-body: expected 1024..1073741824 bytes");
  if (!api_key.empty() && !api_key_file.empty()) return fail(2, "give --api-key or --api-key-file, not both");
  if (!api_key_file.empty()) {
    std::ifstream in(api_key_file);
    if (!in) return fail(1, "--api-key-file " + api_key_file + ": cannot read");
    std::getline(in, api_key);
    while (!api_key.empty() && (api_key.back() == '\r' || api_key.back() == ' ')) api_key.pop_back();
    if (api_key.empty()) return fail(1, "--api-key-file " + api_key_file + ": the first line is empty");
  }
  if (spec_lookup < 0 || spec_lookup > 64) return fail(2, "--spec-lookup " + std::to_string(spec_lookup) + ": expected 0..64");
  if (spec_ngram_min < 1 || spec_ngram_min > 64)
    return fail(2, "--spec-ngram-min " + std::to_string(spec_ngram_min) + ": expected 1..64");
  if (draft_max < 1 || draft_max > 64) return fail(2, "--draft-max " + std::to_string(draft_max) + ": expected 1..64");
  if (!draft_model.empty())
    if (int e = check_draft_model(rf.model, draft_model)) return e;
  f8_context_params cp;
  std::string err;
  if (!context_params_from(rf, p, &cp, &err)) return fail(2, err);
  if (cp.tp_nodes > 1)
    return fail(2, "--tp-nodes: f8 serve runs on one node (its requests would have to reach every node); "
                   "use --tp over this node's GPUs");

  f8srv::ServerOptions o;
  o.model_path = rf.model;
  o.model_name = name;
  o.host = host;
  o.port = static_cast<int>(port);
  o.slots = static_cast<int>(slots);
  o.slot_ctx = static_cast<int>(rf.ctx);
  if (kv_pool < 0 || kv_pool > (int64_t(1) << 24))
    return fail(2, "--kv-pool " + std::to_string(kv_pool) + ": expected 0..16777216 tokens");
  o.kv_pool = static_cast<int>(kv_pool);
  o.api_key = api_key;
  o.max_queue = static_cast<int>(max_queue);
  o.timeout_s = timeout;
  o.max_body = static_cast<size_t>(max_body);
  o.step_tokens = static_cast<int>(rf.batch);
  o.prefix_cache = !no_prefix_cache;
  o.spec_lookup = static_cast<int>(spec_lookup);
  o.spec_ngram_min = static_cast<int>(spec_ngram_min);
  o.draft_max = static_cast<int>(draft_max);
  o.draft_model_path = draft_model;
  o.ctx_params = cp;  // cp.backend points into rf, which outlives the server
  return f8srv::run_server(o);
}

}  // namespace

F8_COMMAND("serve", "OpenAI-compatible HTTP server (streaming, continuous batching)", cmd_serve);

#endif  // F8_HAVE_SERVER
