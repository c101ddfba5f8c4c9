// metrics.cpp — see metrics.h.
#include "server/metrics.h"

#include <cstdio>

namespace f8srv {

void Metrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lk(mu_);
  requests_[{endpoint, status}] += 1;
}

void Metrics::count_finish(const std::string& reason) {
  std::lock_guard<std::mutex> lk(mu_);
  finishes_[reason] += 1;
}

void Metrics::add_generated_tokens(int64_t n, double now_s) {
  gen_tokens_ += n;
  std::lock_guard<std::mutex> lk(mu_);
  recent_.emplace_back(now_s, n);
  while (!recent_.empty() && recent_.front().first < now_s - 60.0) recent_.pop_front();
}

double Metrics::tokens_per_second(double now_s, double window_s) {
  std::lock_guard<std::mutex> lk(mu_);
  int64_t n = 0;
  for (auto& [t, k] : recent_)
    if (t >= now_s - window_s) n += k;
  return n / window_s;
}

std::string Metrics::prometheus(int64_t n_slots, bool ready, bool draining, double now_s) {
  double tps = tokens_per_second(now_s);
  std::string o;
  char buf[256];
  auto line = [&](const char* fmt, auto... a) {
    snprintf(buf, sizeof buf, fmt, a...);
    o += buf;
  };
  // One unlabelled counter or gauge: its HELP and TYPE lines, then its value.
  auto scalar = [&](const char* name, const char* type, const char* help, long long v) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    line("%s %lld\n", name, v);
  };
  o += "# HELP f8_requests_total HTTP requests by endpoint and status code.\n";
  o += "# TYPE f8_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& [k, v] : requests_)
      line("f8_requests_total{endpoint=\"%s\",code=\"%d\"} %lld\n", k.first.c_str(), k.second,
           (long long)v);
    o += "# HELP f8_completions_total Finished generations by finish reason.\n";
    o += "# TYPE f8_completions_total counter\n";
    for (auto& [k, v] : finishes_)
      line("f8_completions_total{finish_reason=\"%s\"} %lld\n", k.c_str(), (long long)v);
    o += "# HELP f8_decode_seconds_total Time spent in batched decode steps.\n";
    o += "# TYPE f8_decode_seconds_total counter\n";
    line("f8_decode_seconds_total %.6f\n", step_seconds_);
  }
  scalar("f8_decode_steps_total", "counter", "Batched decode steps.", (long long)steps_.load());
  scalar("f8_preemptions_total", "counter", "Requests paused (KV pool full) and recomputed later.", (long long)preemptions_.load());
  scalar("f8_spec_draft_tokens_total", "counter", "Tokens drafted for speculative decoding (prompt lookup).", (long long)spec_drafted_.load());
  scalar("f8_spec_accepted_tokens_total", "counter", "Drafted tokens the model accepted.", (long long)spec_accepted_.load());
  scalar("f8_kv_cells_used", "gauge", "KV cache cells held by running requests.", (long long)kv_used_.load());
  scalar("f8_kv_cells_total", "gauge", "KV cache cells in the pool shared by all slots.", (long long)kv_pool_.load());
  scalar("f8_prompt_tokens_total", "counter", "Prompt tokens processed.", (long long)prompt_tokens_.load());
  scalar("f8_prompt_tokens_cached_total", "counter", "Prompt tokens taken from the prefix cache (not decoded).", (long long)prompt_tokens_cached_.load());
  scalar("f8_prefix_cache_lookups_total", "counter", "New prompts looked up in the prefix cache.", (long long)prefix_lookups_.load());
  scalar("f8_prefix_cache_hits_total", "counter", "New prompts that found a cached prefix of at least one 64-token block.", (long long)prefix_hits_.load());
  scalar("f8_prefix_cache_evictions_total", "counter", "Prefix cache entries dropped to make room.", (long long)prefix_evictions_.load());
  scalar("f8_prefix_cache_entries", "gauge", "Cached prefixes (ended requests' sequences) in the KV pool.", (long long)prefix_entries_.load());
  scalar("f8_prefix_cache_tokens", "gauge", "Positions held by cache entries (a block shared by entries counts once per entry).", (long long)prefix_tokens_.load());
  scalar("f8_generated_tokens_total", "counter", "Tokens generated.", (long long)gen_tokens_.load());
  scalar("f8_queue_length", "gauge", "Requests waiting for a slot.", (long long)queue_len_.load());
  scalar("f8_slots_busy", "gauge", "Slots running a request.", (long long)busy_slots_.load());
  scalar("f8_slots_total", "gauge", "Slots (concurrent sequences).", (long long)n_slots);
  o += "# HELP f8_tokens_per_second Generated tokens per second over the last 10 s.\n";
  o += "# TYPE f8_tokens_per_second gauge\n";
  line("f8_tokens_per_second %.3f\n", tps);
  o += "# HELP f8_ready 1 when the model is loaded and requests are accepted.\n# TYPE f8_ready gauge\n";
  line("f8_ready %d\n", ready && !draining ? 1 : 0);
  return o;
}

}  // namespace f8srv
