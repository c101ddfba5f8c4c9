// draft_model.cpp — see draft_model.h.
#include "server/draft_model.h"

#include <algorithm>

namespace f8srv {

DraftModel::DraftModel(Runtime* rt, int32_t n_slots, int32_t batch_capacity, int32_t n_vocab)
    : rt_(rt), capacity_(std::max(batch_capacity, 1)), n_vocab_(n_vocab), seqs_(size_t(std::max(n_slots, 1))) {}

bool DraftModel::start(int32_t slot, const GenParams& p, uint64_t seed, std::string* err) {
  // The request's sampling chain without what depends on the target's own
  // history (penalties) or constrains it (grammar): q is whatever the draft
  // drew from, and the acceptance rule corrects for the difference.
  GenParams dp = p;
  dp.repeat_penalty = 1.0f;
  dp.frequency_penalty = dp.presence_penalty = 0.0f;
  dp.grammar.reset();
  dp.top_logprobs = -1;
  Seq& q = seqs_[size_t(slot)];
  q.sampler = rt_->new_sampler(dp, seed, err);
  q.sampling = p.temperature > 0;
  q.active = true;
  q.last_use = ++clock_;
  return q.sampler != nullptr;
}

void DraftModel::release(int32_t slot) { seqs_[size_t(slot)].active = false; }

void DraftModel::drop(int32_t slot) {
  rt_->seq_clear(slot);
  seqs_[size_t(slot)].held.clear();
}

size_t DraftModel::shared_prefix(int32_t slot, const std::vector<int32_t>& tokens) const {
  const std::vector<int32_t>& h = seqs_[size_t(slot)].held;
  const size_t n = std::min(h.size(), tokens.size());
  return size_t(std::mismatch(h.begin(), h.begin() + ptrdiff_t(n), tokens.begin()).first - h.begin());
}

void DraftModel::make_room(const std::vector<Request>& reqs, int32_t need) {
  int32_t free = rt_->kv_free();
  if (free < 0 || free >= need) return;
  std::vector<char> in_step(seqs_.size(), 0);
  for (const Request& r : reqs) in_step[size_t(r.slot)] = 1;
  std::vector<int32_t> order;
  for (size_t s = 0; s < seqs_.size(); ++s)
    if (!in_step[s] && !seqs_[s].held.empty()) order.push_back(int32_t(s));
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const Seq &x = seqs_[size_t(a)], &y = seqs_[size_t(b)];
    return x.active != y.active ? !x.active : x.last_use < y.last_use;
  });
  for (int32_t s : order) {
    drop(s);
    free = rt_->kv_free();
    if (free < 0 || free >= need) return;
  }
}

void DraftModel::trim(int32_t slot, int32_t n) {
  Seq& q = seqs_[size_t(slot)];
  if (n < 0 || size_t(n) >= q.held.size()) return;
  if (rt_->seq_trim(slot, n))
    q.held.resize(size_t(n));
  else
    drop(slot);  // the runtime cannot cut a tail: rebuild from the history instead
}

bool DraftModel::take(const Request& rq, int32_t row, Drafts* d, std::string* err) {
  Seq& q = seqs_[size_t(rq.slot)];
  const float* lg = rt_->logits(row);
  if (!lg) {
    *err = "draft model: no logits for row " + std::to_string(row);
    return false;
  }
  int32_t tok = -1;
  std::string e;
  if (!(q.sampling ? q.sampler->sample_probs(lg, &tok, &probs_, &e) : q.sampler->sample(lg, &tok, &e))) {
    *err = "draft model sampler: " + e;
    return false;
  }
  if (tok < 0 || tok >= n_vocab_) return false;  // a padding row of a wider draft matrix
  d->tokens.push_back(tok);
  if (q.sampling) {
    d->q.emplace_back(size_t(n_vocab_), 0.0f);
    std::copy_n(probs_.begin(), std::min(probs_.size(), size_t(n_vocab_)), d->q.back().begin());
  }
  return d->tokens.size() < size_t(rq.n);
}

void DraftModel::draft(const std::vector<Request>& reqs, std::vector<Drafts>* out, std::string* err) {
  out->assign(reqs.size(), Drafts{});
  err->clear();
  std::vector<char> live(reqs.size(), 0);  // still drafting
  std::vector<BatchEntry> batch;
  std::vector<size_t> owner;  // request per batch entry

  // Failed decode: the cache is as before; its slots stop drafting and
  // rebuild their sequences at their next catch-up.
  auto decode = [&]() {
    std::string e;
    if (rt_->decode(batch, &e)) return true;
    *err = "draft model decode: " + e;
    for (size_t o : owner) {
      drop(reqs[o].slot);
      live[o] = 0;
    }
    return false;
  };

  // 1. Catch-up: cut each sequence to what it shares with the history (the
  // last history token is always decoded again when held: its logits give
  // draft 1), then decode the rest — ONE decode of at most batch_capacity
  // entries per step for all slots, so a long prompt's catch-up is spread
  // over steps like the target's prefill (running streams wait at most one
  // chunk). Shortest catch-ups first: slots already in step draft now; a
  // slot whose catch-up does not fit takes what is left and drafts later.
  std::vector<size_t> order;
  std::vector<size_t> from(reqs.size(), 0);
  for (size_t r = 0; r < reqs.size(); ++r) {
    const Request& rq = reqs[r];
    const std::vector<int32_t>& h = *rq.history;
    Seq& q = seqs_[size_t(rq.slot)];
    if (h.empty() || rq.n <= 0 || !q.sampler) continue;
    const size_t n = std::min(q.held.size(), h.size() - 1);
    const size_t keep = size_t(std::mismatch(q.held.begin(), q.held.begin() + ptrdiff_t(n), h.begin()).first -
                               q.held.begin());
    trim(rq.slot, int32_t(keep));
    from[r] = q.held.size();
    order.push_back(r);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return reqs[a].history->size() - from[a] < reqs[b].history->size() - from[b];
  });
  {
    // This step's entries: the catch-up decode, then up to n - 1 drafting
    // positions per slot.
    size_t catch_up = 0, drafting = 0;
    ++clock_;
    for (size_t r : order) {
      catch_up += reqs[r].history->size() - from[r];
      drafting += size_t(std::max(reqs[r].n - 1, 0));
      seqs_[size_t(reqs[r].slot)].last_use = clock_;
    }
    make_room(reqs, int32_t(std::min(catch_up, size_t(capacity_)) + drafting));
  }
  batch.clear();
  owner.clear();
  size_t budget = size_t(capacity_);
  for (size_t r : order) {
    const std::vector<int32_t>& h = *reqs[r].history;
    const size_t need = h.size() - from[r], take_n = std::min(need, budget);
    for (size_t p = from[r]; p < from[r] + take_n; ++p) {
      batch.push_back({h[p], int32_t(p), reqs[r].slot, p + 1 == h.size()});
      owner.push_back(r);
    }
    budget -= take_n;
    live[r] = take_n == need;  // caught up: drafts this step
  }
  if (!batch.empty() && decode()) {
    for (size_t i = 0; i < batch.size(); ++i) {
      seqs_[size_t(batch[i].seq)].held.push_back(batch[i].token);
      if (batch[i].logits && !take(reqs[owner[i]], int32_t(i), &(*out)[owner[i]], err)) live[owner[i]] = 0;
    }
  }

  // 2. Drafting: one decode per draft position for every slot still going.
  for (;;) {
    batch.clear();
    owner.clear();
    for (size_t r = 0; r < reqs.size(); ++r) {
      if (!live[r] || (*out)[r].tokens.empty()) continue;
      const Seq& q = seqs_[size_t(reqs[r].slot)];
      batch.push_back({(*out)[r].tokens.back(), int32_t(q.held.size()), reqs[r].slot, true});
      owner.push_back(r);
    }
    if (batch.empty() || !decode()) break;
    for (size_t i = 0; i < batch.size(); ++i) {
      seqs_[size_t(batch[i].seq)].held.push_back(batch[i].token);
      if (!take(reqs[owner[i]], int32_t(i), &(*out)[owner[i]], err)) live[owner[i]] = 0;
    }
  }
}

}  // namespace f8srv
