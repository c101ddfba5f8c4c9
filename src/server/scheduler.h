// scheduler.h — continuous batching of requests over the slots of one context.
//
// A slot = one sequence id of the shared KV cache. Each step():
//   1. admits queued tasks into free slots (FIFO),
//   2. frees slots whose client went away (Task::cancel) — so a disconnect
//      costs at most the step in flight,
//   3. builds ONE batch: one token for every generating slot, then prompt
//      chunks of prefilling slots (admission order) up to `step_tokens`
//      entries in all — a long prompt is spread over several steps, so
//      running streams wait at most one chunk,
//   4. decodes it, samples every slot that has logits, and hands the new
//      text to the task (Task::mu/cv), which an HTTP thread is waiting on.
// The scheduler thread is the only user of the Runtime.
//
// Speculative decoding (prompt lookup; per request "speculative" or the
// server's --spec-lookup): a generating slot's entry in the batch is
// followed by up to draft_max tokens drafted from its own prompt and output
// (Runtime::draft_lookup), all with logits, within the step's budget and
// the pool's free cells left after every generating slot's one token. The
// slot's sampler verifies them (TokenSampler::verify: the standard
// acceptance rule), the accepted ones and the target's own next token are
// handled one by one exactly like sampled tokens (stop strings, EOS,
// max_tokens, context), and the rejected drafts' cells are dropped
// (Runtime::seq_trim). Requests asking for logprobs decode without drafts.
// The draft length adapts per slot (1..draft_max): halved after a step that
// took no draft, doubled after one that took them all.
//
// Draft model (f8 serve --draft-model; draft_model.h): the slots that want
// model drafts in a step (all requests unless "speculative": {"draft_model":
// false}) are drafted together before the batch is built — one catch-up and
// one decode per draft position in the draft model's context for all of
// them — and verified like lookup drafts, with the draft's distributions q
// for sampling requests. With prompt lookup on as well, lookup goes first
// and the draft model drafts only when lookup finds nothing (as `f8 generate`
// does): a lookup hit costs no draft forward. A slot's draft sequence
// outlives its request (end, cancel, preemption), and a new request goes to
// the free slot whose kept sequence shares the most of its prompt, so the
// next turn of a chat catches up only its new tokens in the draft model.
//
// KV pool. The slots share one cache of `kv_cells` tokens (a position of a
// slot holds one cell); no slot reserves its --ctx. A request is admitted
// when the pool has room for its prompt next to what the running ones will
// hold; when generating slots need more cells than are free, the newest
// running request is preempted: its cells are dropped and it waits (ahead
// of new requests) until its prompt and the tokens it generated so far fit
// again, then they are decoded again (recomputation, vLLM's default) and it
// continues where it stopped. The client sees only a pause: the text already
// sent stays, sampling state is kept.
//
// Choices (n > 1). Each choice is a sequence in a slot of its own, with its
// own sampler seed (seed + index). The first choice admitted decodes the
// prompt; another choice of the same request admitted while a sibling holds
// the prompt's positions shares them (Runtime::seq_cp: the pool's cells are
// shared, not copied) and decodes only the last prompt token, for its own
// logits; admitted while the prompt is still being decoded, it waits for it
// (Follow) instead of decoding it again. The pool's count charges each
// choice its full length (an overestimate of shared cells: never an
// overflow). Choices that do not find a free slot wait in the queue.
//
// Prefix cache (prefix_cache.h, on unless SchedulerConfig::prefix_cache is
// false). A slot that ends (finished, cancelled or preempted) leaves its
// whole 64-position blocks in the pool as a cache entry; a slot that starts
// decoding a prompt (a new request, or a preempted one resuming) first maps
// the longest cached prefix and decodes only the rest. Entries are not
// charged to anyone: before each decode the least recently used entries are
// dropped until the pool has a free cell for every batch entry, which always
// succeeds since the slots' own counts keep them within the pool.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/draft_model.h"
#include "server/metrics.h"
#include "server/prefix_cache.h"
#include "server/request.h"
#include "server/runtime.h"
#include "server/stop_text.h"

namespace f8srv {

// What one choice has produced and the HTTP side has not taken yet.
struct ChoiceOut {
  std::string text;
  std::vector<TokenLogprob> logprobs;  // per sampled token (when asked for), not yet taken
  bool done = false;
  bool reported = false;               // the HTTP side has seen `done`
  std::string finish_reason;           // "stop", "length"
  int32_t n_gen = 0;
};

// A piece of one choice's output (Task::wait_choices).
struct ChoiceChunk {
  int32_t index = 0;
  std::string text;
  std::vector<TokenLogprob> logprobs;
  bool finished = false;  // the choice ended (with finish_reason)
  std::string finish_reason;
};

// One generation request, shared by the HTTP thread (reader) and the
// scheduler (writer). Fields below `mu` are guarded by it.
struct Task {
  std::vector<int32_t> prompt;  // tokens, 1 <= size < slot context
  GenParams params;
  uint64_t seed = 0;            // choice i uses seed + i (F8_SEED_RANDOM: each its own)
  int32_t n = 1;                // choices
  std::atomic<bool> cancel{false};  // set by the HTTP side: client gone

  std::mutex mu;
  std::condition_variable cv;
  std::vector<ChoiceOut> out; // per choice (sized n by Scheduler::submit)
  bool started = false;       // admitted into a slot
  bool done = false;
  std::string finish_reason;  // choice 0's "stop"/"length"; "cancelled"/"error" for the task
  std::string error;          // when finish_reason == "error"
  int32_t n_prompt = 0, n_gen = 0;  // n_gen: all choices together
  int32_t n_cached = 0;             // prompt tokens choice 0 took from the prefix cache

  // Scheduler thread only: choices given a slot / ended; still in the queue.
  int32_t admitted = 0, finished = 0;
  bool queued = true;

  // Waits until there is text or the task is done (or timeout). Moves
  // choice 0's pending text to *out. Returns done.
  bool wait(std::string* out, int timeout_ms);
  // Waits until some choice has output or an unreported end (or timeout);
  // moves it to *out. Returns done (every choice ended).
  bool wait_choices(std::vector<ChoiceChunk>* out, int timeout_ms);
};

struct SchedulerConfig {
  int32_t n_slots = 4;
  int32_t slot_ctx = 2048;     // positions per slot (prompt + generated)
  int32_t max_queue = 64;      // tasks waiting for a slot
  int32_t step_tokens = 256;   // batch entries per step (prefill chunk budget)
  int32_t kv_cells = 0;        // KV pool shared by all slots (tokens); 0 = n_slots * slot_ctx
  bool prefix_cache = true;    // keep ended requests' blocks for reuse (prefix_cache.h)
  int32_t max_seq = 64;        // sequence ids of the context (F8_MAX_SEQ); ids >= n_slots hold cache entries
  // Speculative decoding defaults for requests that do not say
  // (GenParams::spec_*): prompt lookup's longest n-gram (0 = off), shortest,
  // tokens drafted per step.
  int32_t spec_lookup = 0, spec_ngram_min = 1, draft_max = 4;
};

class Scheduler {
 public:
  // draft: the draft model's drafter (null: prompt lookup only); its
  // sequence ids are the slot indices.
  Scheduler(Runtime* rt, SchedulerConfig cfg, Metrics* metrics, DraftModel* draft = nullptr);
  ~Scheduler();

  enum class Submit { Ok, QueueFull, Draining };
  Submit submit(std::shared_ptr<Task> t);

  // Runs step() on a thread until stop().
  void start();
  void stop();
  // Reject new tasks (SIGTERM); in-flight ones continue.
  void begin_drain() { draining_ = true; }
  bool draining() const { return draining_; }
  // No task queued or in a slot.
  bool idle();

  // One scheduling step (public for tests). Returns false when there was
  // nothing to do.
  bool step();

  int32_t busy_slots();
  int32_t queued();
  const SchedulerConfig& config() const { return cfg_; }
  // Null when prefix caching is off (or no sequence id is left for it).
  const PrefixCache* prefix_cache() const { return cache_.get(); }

 private:
  enum class State { Idle, Prefill, Gen, Preempted, Follow };
  struct Slot {
    State state = State::Idle;
    std::shared_ptr<Task> task;
    int32_t choice = 0;       // which of the task's choices
    int32_t n_past = 0;       // positions in the cache (= its cells in the pool)
    std::vector<int32_t> feed;  // tokens to prefill: the prompt, or after a
                                // preemption the prompt + generated tokens but the last
    bool resume = false;      // feed replays a preempted request: no sampling at its end
    std::vector<int32_t> gen; // generated tokens (for a preemption's replay)
    size_t prompt_done = 0;   // feed tokens already decoded
    int32_t last = -1;        // last sampled token, next to decode
    int32_t n_gen = 0;
    uint64_t order = 0;       // admission order, for prefill fairness
    std::unique_ptr<TokenSampler> sampler;
    std::unique_ptr<TextStream> stream;
    std::unique_ptr<StopText> stop;
    int32_t spec_lookup = 0, spec_ngram_min = 1, draft_max = 0;  // resolved at admission (0: no drafts)
    bool model_drafts = false;  // the draft model drafts for it (when prompt lookup finds nothing)
    int32_t draft_len = 0;  // adaptive 1..draft_max: halved when no draft was taken, doubled when all were
  };
  void admit();
  void start_choice(Slot& s, size_t index);  // prompt sharing with a sibling, or a prefill of its own
  int32_t pool() const;
  int32_t cells_used() const;       // cells the slots hold now
  int32_t cells_committed() const;  // ... plus what prefilling slots still add
  void preempt(Slot& s);
  // A Prefill slot with nothing decoded takes the cached prefix; fresh: a
  // new prompt (counted in /metrics and usage), not a preempted one's replay.
  void map_prefix(Slot& s, size_t index, bool fresh);
  void release(Slot& s, bool keep);        // the slot's cells: kept as a cache entry, or dropped
  void make_room(int32_t cells);           // evicts cache entries until `cells` are free
  void finish(Slot& s, const std::string& reason, const std::string& error, std::string tail);
  void emit(Slot& s, const std::string& text);
  // A token chosen for the slot (sampled or verified): history, logprobs,
  // stop/EOS/limits, text. Returns true when the slot finished with it.
  bool on_token(Slot& s, int32_t tok);
  // Up to n drafted tokens for a generating slot (prompt lookup).
  std::vector<int32_t> draft_for(const Slot& s, int32_t n);
  void publish_gauges();
  void loop();

  Runtime* rt_;
  DraftModel* draft_;
  SchedulerConfig cfg_;
  Metrics* metrics_;
  std::vector<Slot> slots_;
  std::unique_ptr<PrefixCache> cache_;
  uint64_t admitted_ = 0;

  std::mutex qmu_;
  std::condition_variable qcv_;
  std::deque<std::shared_ptr<Task>> queue_;
  int32_t busy_ = 0;  // guarded by qmu_ (read by idle())

  std::atomic<bool> draining_{false}, stop_{false};
  std::thread thread_;
};

}  // namespace f8srv
