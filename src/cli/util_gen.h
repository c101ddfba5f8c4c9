// util_gen.h — generation on top of the C API, shared by `f8 generate` and
// `f8 chat`: sampling flags, one sequence's token history in a context
// (prefill as one batched decode, prefix reuse), and the sample -> decode ->
// stream loop with stop strings, EOS, the context limit and interruption.
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "args.h"
#include "f8.h"
#include "util_run.h"

namespace f8cli {

struct SamplingFlags {
  double temp = 0.8, top_p = 0.95, min_p = 0.05;
  double repeat_penalty = 1.0, presence_penalty = 0.0, frequency_penalty = 0.0;
  int64_t top_k = 40, penalty_last_n = 64, seed = -1;
};
// --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n
// --presence-penalty --frequency-penalty --seed
void add_sampling_flags(ArgParser& p, SamplingFlags* f);
// Creates the sampler; prints the error and returns 2 (bad value) or 1.
int make_sampler(const SamplingFlags& f, int32_t n_vocab, f8_sampler** out);

// The tokens of sequence 0 that are in the KV cache, in order.
class Sequence {
 public:
  explicit Sequence(f8_context* ctx) : ctx_(ctx) {}
  ~Sequence() { f8_batch_free(&batch_); }
  const std::vector<int32_t>& tokens() const { return toks_; }
  int32_t n_past() const { return int32_t(toks_.size()); }
  f8_context* ctx() const { return ctx_; }

  // Makes the cache hold exactly `want`: keeps the longest common prefix,
  // removes the rest, decodes the new suffix in one batched call (the last
  // token's logits are then available). If `want` equals the cache, the last
  // token is re-decoded so fresh logits exist. all_logits: every new entry.
  f8_status sync(const std::vector<int32_t>& want, bool all_logits = false);
  // Appends one token (decode of a single entry with logits).
  f8_status push(int32_t token);
  // Appends tokens in one batched decode with logits for every entry
  // (speculative verification: row i of the last decode predicts after t[i]).
  f8_status push_all(const std::vector<int32_t>& t);
  // Keeps the first n tokens, removing the rest from the KV cache.
  f8_status truncate(size_t n);
  void clear();

 private:
  f8_status decode_range(const std::vector<int32_t>& t, size_t from, bool all_logits);
  f8_context* ctx_;
  f8_batch batch_{};
  std::vector<int32_t> toks_;
};

struct GenStats {
  int64_t n_gen = 0;
  double ms = 0;                   // sampling + decoding of generated tokens
  f8_stop_reason reason = F8_STOP_NONE;
  bool context_full = false;       // stopped because the context has no room
  bool interrupted = false;        // *stop_flag was raised
  std::vector<int32_t> tokens;     // generated ids (incl. the final EOS if any)
  // Speculative decoding (util_spec.h): target forwards, drafted tokens,
  // drafted tokens accepted. Acceptance rate = n_accepted / n_drafted.
  int64_t n_steps = 0, n_drafted = 0, n_accepted = 0;
};

// A decode's status in a generation loop: a full context and an abort end
// the loop as outcomes (g->context_full / g->interrupted, status F8_OK), not
// errors. True when the loop must stop (those two, or a real error in *st).
bool push_ends_loop(f8_status* st, GenStats* g);

// The end of a generation loop: unless it stopped on a stop string or end
// of sequence, the text the stopper held back for a possible stop string,
// then any bytes of an unfinished character, go to on_text; frees ds.
void finish_text(f8_stopper* stopper, f8_detok_stream* ds, f8_stop_reason reason,
                 const std::function<void(const char*, size_t)>& on_text);

// Samples from the last logits, streams text through on_text, decodes each
// accepted token, until the stopper says stop, the context is full, or
// *stop_flag becomes non-zero. max_tokens < 0: no limit besides the context.
f8_status generate(f8_model* model, int32_t n_vocab, Sequence& seq, f8_sampler* sampler, f8_stopper* stopper,
                   const std::function<void(const char*, size_t)>& on_text,
                   volatile std::sig_atomic_t* stop_flag, GenStats* out);

// The summary line of CLI.md on stderr:
// "prompt 12 tok 850 tok/s | gen 128 tok 160 tok/s 21.5 GB/s | load 35 ms"
void print_summary(int64_t n_prompt, double prompt_ms, const GenStats& g, const f8_model_info& info,
                   double load_ms);

// Reads a template: a built-in name (f8_chat_builtin_template) or a file.
bool resolve_template(const std::string& name_or_file, std::string* out, std::string* err);

// --chat-template-kwargs JSON (llama.cpp's flag): extra template variables
// such as {"enable_thinking": false}. False with *err when it is not a JSON
// object or sets a variable f8 passes itself.
bool check_template_kwargs(const std::string& json_object, std::string* err);
// The conversation JSON (a list of messages or {"messages": ...}) with
// "chat_template_kwargs" set, as f8_chat_render_json takes it; the text
// unchanged when kwargs is empty or the conversation is not valid JSON
// (the renderer then reports it).
std::string with_template_kwargs(const std::string& conversation_json, const std::string& kwargs_json);

}  // namespace f8cli
