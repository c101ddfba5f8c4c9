// metrics.h — counters for GET /metrics (Prometheus text format 0.0.4).
//
// Updated from HTTP threads (requests by endpoint and status) and the
// scheduler thread (tokens, slots); everything is atomic or under one mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace f8srv {

class Metrics {
 public:
  void count_request(const std::string& endpoint, int status);
  void add_prompt_tokens(int64_t n) { prompt_tokens_ += n; }
  // Generated tokens of one scheduler step, for the total and the rate.
  void add_generated_tokens(int64_t n, double now_s);
  void set_queue(int64_t queued, int64_t busy_slots) {
    queue_len_ = queued;
    busy_slots_ = busy_slots;
  }
  void add_step(double seconds) {
    steps_ += 1;
    std::lock_guard<std::mutex> lk(mu_);
    step_seconds_ += seconds;
  }
  void count_finish(const std::string& reason);
  // A running request paused because the KV pool ran out (recomputed later).
  void count_preemption() { preemptions_ += 1; }
  // A new prompt looked up in the prefix cache; cached: positions mapped.
  void add_prefix_lookup(int64_t cached) {
    prefix_lookups_ += 1;
    if (cached > 0) prefix_hits_ += 1;
    prompt_tokens_cached_ += cached;
  }
  void set_prefix_cache(int64_t entries, int64_t tokens, int64_t evictions) {
    prefix_entries_ = entries;
    prefix_tokens_ = tokens;
    prefix_evictions_ = evictions;
  }
  // Speculative decoding: tokens drafted and accepted in one verification.
  void add_speculative(int64_t drafted, int64_t accepted) {
    spec_drafted_ += drafted;
    spec_accepted_ += accepted;
  }
  void set_kv(int64_t used, int64_t pool) {
    kv_used_ = used;
    kv_pool_ = pool;
  }

  int64_t busy_slots() const { return busy_slots_; }
  int64_t queue_len() const { return queue_len_; }

  // Generated tokens per second over the last `window_s` seconds.
  double tokens_per_second(double now_s, double window_s = 10.0);
  std::string prometheus(int64_t n_slots, bool ready, bool draining, double now_s);

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;  // (endpoint, status) -> count
  std::map<std::string, int64_t> finishes_;                   // finish_reason -> count
  std::deque<std::pair<double, int64_t>> recent_;             // (time s, tokens) per step
  double step_seconds_ = 0;
  std::atomic<int64_t> prompt_tokens_{0}, gen_tokens_{0}, queue_len_{0}, busy_slots_{0}, steps_{0};
  std::atomic<int64_t> preemptions_{0}, kv_used_{0}, kv_pool_{0};
  std::atomic<int64_t> prefix_lookups_{0}, prefix_hits_{0}, prompt_tokens_cached_{0};
  std::atomic<int64_t> prefix_entries_{0}, prefix_tokens_{0}, prefix_evictions_{0};
  std::atomic<int64_t> spec_drafted_{0}, spec_accepted_{0};
};

}  // namespace f8srv
