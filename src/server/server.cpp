// server.cpp — run_server: bind, load, serve, drain on SIGTERM.
//
// Order matters: the port is bound before the model loads so GET /health
// can answer 503 "loading"; SIGTERM/SIGINT are blocked in every thread and
// taken synchronously with sigwait() by the main thread, so shutdown runs
// as ordinary code (no async-signal-safety games).
#include <httplib.h>
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "server/server_state.h"

namespace f8srv {

namespace {

std::string stem(const std::string& path) {
  size_t s = path.find_last_of('/');
  std::string base = s == std::string::npos ? path : path.substr(s + 1);
  size_t dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

int run_server(const ServerOptions& opt) {
  // Signals first, before any thread exists, so every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a vanished client must not kill the server

  ServerState st;
  st.opt = opt;
  st.model_name = opt.model_name.empty() ? stem(opt.model_path) : opt.model_name;

  if (!is_loopback(opt.host) && opt.api_key.empty())
    std::fprintf(stderr,
                 "f8 serve: warning: listening on %s without an API key; anyone who can reach this "
                 "address can use the model (set --api-key or --api-key-file)\n",
                 opt.host.c_str());

  httplib::Server svr;
  // Each open stream holds a worker thread: size the pool for every slot,
  // every queued request and a few quick requests (health, metrics) beside.
  const size_t workers = static_cast<size_t>(opt.slots + opt.max_queue + 8);
  svr.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  svr.set_payload_max_length(opt.max_body);
  // Reads are bounded tighter than writes: a client that stops sending mid
  // request must not hold a worker (and a SIGTERM drain) for long.
  const time_t to = static_cast<time_t>(opt.timeout_s < 1 ? 1 : opt.timeout_s);
  svr.set_read_timeout(std::min<time_t>(to, 30), 0);
  svr.set_write_timeout(to, 0);
  register_routes(svr, st);

  int port = opt.port;
  if (port == 0) {
    port = svr.bind_to_any_port(opt.host);
    if (port < 0) port = 0;
  } else if (!svr.bind_to_port(opt.host, port)) {
    port = 0;
  }
  if (port == 0) {
    std::fprintf(stderr, "f8: error: cannot listen on %s:%d (in use, or not a local address)\n",
                 opt.host.c_str(), opt.port);
    return 1;
  }
  std::thread http([&svr] { svr.listen_after_bind(); });
  std::fprintf(stderr, "f8 serve: listening on http://%s:%d (loading %s)\n", opt.host.c_str(), port,
               opt.model_path.c_str());

  auto shutdown_http = [&] {
    svr.stop();
    if (http.joinable()) http.join();
  };

  // ---- load
  f8_model* model = nullptr;
  f8_context* ctx = nullptr;
  f8_model_params mp = f8_model_default_params();
  auto t0 = std::chrono::steady_clock::now();
  if (f8_model_load(opt.model_path.c_str(), &mp, &model) != F8_OK) {
    std::fprintf(stderr, "f8: error: %s\n", f8_last_error());
    shutdown_http();
    return 1;
  }
  f8_model_info info{};
  info.struct_size = sizeof info;
  f8_model_get_info(model, &info);
  int slot_ctx = opt.slot_ctx > 0 ? opt.slot_ctx : std::min(info.n_ctx_train > 0 ? info.n_ctx_train : 4096, 4096);
  f8_context_params cp = opt.ctx_params;
  const int64_t pool = opt.kv_pool > 0 ? int64_t(opt.kv_pool) : int64_t(slot_ctx) * opt.slots;
  if (pool < slot_ctx) {
    std::fprintf(stderr, "f8: error: --kv-pool %lld is smaller than one request's context (-c %d)\n",
                 (long long)pool, slot_ctx);
    f8_model_free(model);
    shutdown_http();
    return 1;
  }
  cp.n_ctx = static_cast<uint32_t>(pool);
  if (f8_context_new(model, &cp, &ctx) != F8_OK) {
    std::fprintf(stderr, "f8: error: %s\n", f8_last_error());
    f8_model_free(model);
    shutdown_http();
    return 1;
  }
  // The draft model (--draft-model): its own context with the target's
  // parameters and pool size, so every slot's draft sequence fits
  // (draft_model.h).
  f8_model* dmodel = nullptr;
  f8_context* dctx = nullptr;
  if (!opt.draft_model_path.empty()) {
    bool usage = false;  // a wrong file is a usage error (2), a failed load a runtime one (1)
    std::string msg;
    if (f8_model_load(opt.draft_model_path.c_str(), &mp, &dmodel) != F8_OK) {
      msg = f8_last_error();
    } else if (f8_vocab_size(dmodel) != f8_vocab_size(model)) {
      usage = true;
      msg = "its vocabulary has " + std::to_string(f8_vocab_size(dmodel)) + " tokens, " + opt.model_path + "'s " +
            std::to_string(f8_vocab_size(model)) + " (the draft model needs the same tokenizer)";
    } else if (f8_context_new(dmodel, &cp, &dctx) != F8_OK) {
      msg = f8_last_error();
    }
    if (!msg.empty()) {
      std::fprintf(stderr, "f8: error: --draft-model %s: %s\n", opt.draft_model_path.c_str(), msg.c_str());
      if (dmodel) f8_model_free(dmodel);
      f8_context_free(ctx);
      f8_model_free(model);
      shutdown_http();
      return usage ? 2 : 1;
    }
  }
  st.slot_ctx = slot_ctx;
  st.text = std::make_unique<ModelText>(model);
  F8Runtime rt(model, ctx, opt.step_tokens);
  std::unique_ptr<F8Runtime> draft_rt;
  std::unique_ptr<DraftModel> drafter;
  if (dctx) {
    // A drafting decode carries one token per slot: at least `slots` entries.
    const int32_t cap = std::max(opt.step_tokens, opt.slots + 1);
    draft_rt = std::make_unique<F8Runtime>(dmodel, dctx, cap);
    drafter = std::make_unique<DraftModel>(draft_rt.get(), opt.slots, cap, rt.n_logits());
  }
  SchedulerConfig sc;
  sc.n_slots = opt.slots;
  sc.slot_ctx = slot_ctx;
  sc.max_queue = opt.max_queue;
  sc.step_tokens = opt.step_tokens;
  sc.kv_cells = static_cast<int32_t>(pool);
  sc.prefix_cache = opt.prefix_cache;
  sc.max_seq = F8_MAX_SEQ;
  sc.spec_lookup = opt.spec_lookup;
  sc.spec_ngram_min = opt.spec_ngram_min;
  sc.draft_max = opt.draft_max;
  Scheduler sched(&rt, sc, &st.metrics, drafter.get());
  sched.start();
  st.sched = &sched;
  st.ready = true;
  double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!opt.quiet)
    std::fprintf(stderr,
                 "f8 serve: ready: model %s (%s, %d layers), %d slots x %d tokens, KV pool %lld tokens "
                 "(%.1f MiB), prefix cache %s, %s%s, load %.0f ms\n",
                 st.model_name.c_str(), info.arch, info.n_layer, opt.slots, slot_ctx, (long long)pool,
                 f8_context_kv_bytes(ctx) / 1048576.0, sched.prefix_cache() ? "on" : "off",
                 dctx ? "draft model " : "no draft model", dctx ? opt.draft_model_path.c_str() : "", load_ms);

  // ---- serve until SIGTERM / SIGINT
  int sig = 0;
  sigwait(&sigs, &sig);
  std::fprintf(stderr, "f8 serve: %s: draining (up to %.0f s)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT",
               opt.timeout_s);
  st.draining = true;
  sched.begin_drain();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(opt.timeout_s);
  while ((!sched.idle() || st.in_flight > 0) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  bool clean = sched.idle() && st.in_flight == 0;
  sched.stop();  // fails whatever is left, so no handler waits forever
  // Let handlers of failed tasks write their last bytes before closing.
  auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (st.in_flight > 0 && std::chrono::steady_clock::now() < grace)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  shutdown_http();
  st.ready = false;
  st.sched = nullptr;
  f8_context_free(ctx);
  f8_model_free(model);
  if (dctx) f8_context_free(dctx);
  if (dmodel) f8_model_free(dmodel);
  if (!opt.quiet)
    std::fprintf(stderr, "f8 serve: stopped%s\n", clean ? "" : " (drain timed out; requests cancelled)");
  return 0;
}

}  // namespace f8srv
