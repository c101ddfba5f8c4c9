// draft_model.h — `f8 serve --draft-model`: a small model with the target's
// tokenizer drafts tokens for the scheduler's generating slots.
//
// The draft model has a context of its own (a second Runtime) whose
// sequence s mirrors slot s of the target: it holds a prefix of the slot's
// history (prompt + generated tokens). Each step, for the slots that want
// model drafts (scheduler.cpp):
//   1. catch-up: each slot's sequence is cut to the longest prefix it shares
//      with the slot's history (what it drafted and the target rejected
//      goes) and the rest of the history is decoded — all slots' catch-up
//      tokens in ONE decode of up to batch_capacity entries, shortest
//      catch-ups first; a slot whose catch-up does not fit (a long prompt)
//      takes what is left and drafts at a later step, so a step waits for at
//      most one catch-up chunk, as the target's prefill is chunked;
//   2. drafting: the logits after the last history token give draft 1; then
//      ONE batched decode per draft position carries every slot still
//      drafting (draft j decoded for draft j + 1), so k drafts for m slots
//      cost k - 1 decodes of m tokens, not m * (k - 1) decodes of one.
// Each slot's sampler has the request's temperature / top-k / top-p / min-p
// and logit bias, no penalties and no grammar (as `f8 generate
// --draft-model`, util_spec.cpp): greedy requests draft the argmax (q is a
// point mass), sampling ones draw and hand their distribution q to the
// target's verify (min(1, p/q)), so the output is distributed as without
// drafts either way.
//
// Kept sequences: a slot's draft sequence outlives its request, so the
// next request in that slot (the next turn of a chat: its prompt starts
// with the last prompt and reply) catches up only what is new; the
// scheduler admits a request to the free slot whose kept sequence shares
// the longest prefix with its prompt (shared_prefix). The draft context is
// only ever read through `held`, so a kept sequence stays right whatever
// happens to the target's cells. After a verification trim() cuts it to
// the accepted length. Room: the draft context has as many cells as the
// target's pool; the active slots' sequences never need more than the
// target holds for them (history + k - 1 drafts <= n_past + 1 + k), and
// before each step's decodes the kept sequences of finished requests go
// (least recently used first), then those of active slots not drafting in
// this step (rebuilt by their next catch-up), until the step's entries fit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/request.h"
#include "server/runtime.h"

namespace f8srv {

class DraftModel {
 public:
  // rt: the draft model's runtime (sequence id = slot index), used only by
  // the scheduler thread. batch_capacity: most entries per draft decode.
  // n_vocab: the target's logits width (q rows; a drafted id beyond it is a
  // padding row of a wider draft matrix, not a target token: drafting stops).
  DraftModel(Runtime* rt, int32_t n_slots, int32_t batch_capacity, int32_t n_vocab);

  // A request starts in `slot`: its draft sampler (seeded `seed`); the
  // slot's kept sequence stays (the first catch-up cuts it to what it
  // shares with the request's history). False with *err.
  bool start(int32_t slot, const GenParams& p, uint64_t seed, std::string* err);
  // The slot's request ended or was preempted (it resumes in the same
  // slot, sampler and all): its sequence is kept for a later request until
  // its cells are needed.
  void release(int32_t slot);
  // Forgets the slot's draft sequence (its cells go back to the pool).
  void drop(int32_t slot);
  // How many leading tokens of `tokens` the slot's sequence holds.
  size_t shared_prefix(int32_t slot, const std::vector<int32_t>& tokens) const;
  // Keeps the first n positions of the slot's draft sequence (after a
  // verification: the history the target accepted).
  void trim(int32_t slot, int32_t n);

  struct Request {
    int32_t slot;
    const std::vector<int32_t>* history;  // prompt + generated; the last is the target's pending token
    int32_t n;                            // most tokens to draft
  };
  struct Drafts {
    std::vector<int32_t> tokens;
    std::vector<std::vector<float>> q;  // per token, n_vocab floats (sampling requests); empty: point masses
  };
  // (*out)[i]: drafts for reqs[i] (possibly none: still catching up, or
  // the draft model sampled a padding id first). A failed draft decode is
  // not the request's failure — drafts only save time: the slots in that
  // decode draft no further (drafts already made stay valid) and their
  // sequences are dropped; *err says why (empty when every decode succeeded).
  void draft(const std::vector<Request>& reqs, std::vector<Drafts>* out, std::string* err);

  // What the slot's draft sequence holds: its positions 0..size-1.
  const std::vector<int32_t>& held(int32_t slot) const { return seqs_[size_t(slot)].held; }

 private:
  struct Seq {
    std::vector<int32_t> held;
    std::unique_ptr<TokenSampler> sampler;
    bool sampling = false;  // T > 0: keep q rows
    bool active = false;    // a request runs in the slot
    uint64_t last_use = 0;  // step of the last catch-up or start (least recently used goes first)
  };
  // Drops kept sequences until the runtime has `need` free cells (when it
  // can say): finished requests' first, least recently used first, then
  // active slots not in this step's requests.
  void make_room(const std::vector<Request>& reqs, int32_t need);
  // Samples the next draft of reqs[r] from logits row `row` of the last
  // decode; false when the slot stops drafting.
  bool take(const Request& rq, int32_t row, Drafts* d, std::string* err);

  Runtime* rt_;
  int32_t capacity_, n_vocab_;
  std::vector<Seq> seqs_;
  std::vector<float> probs_;
  uint64_t clock_ = 0;  // draft() calls and starts
};

}  // namespace f8srv
