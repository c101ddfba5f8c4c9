// scheduler.cpp — continuous batching over slots (see scheduler.h).
#include "server/scheduler.h"

#include <algorithm>
#include <chrono>

namespace f8srv {

namespace {
double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}
}  // namespace

bool Task::wait(std::string* text, int timeout_ms) {
  std::unique_lock<std::mutex> lk(mu);
  cv.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return done || (!out.empty() && !out[0].text.empty()); });
  if (!out.empty()) {
    text->append(out[0].text);
    out[0].text.clear();
    out[0].logprobs.clear();
  }
  return done;
}

bool Task::wait_choices(std::vector<ChoiceChunk>* chunks, int timeout_ms) {
  std::unique_lock<std::mutex> lk(mu);
  auto pending = [&] {
    for (const ChoiceOut& c : out)
      if (!c.text.empty() || !c.logprobs.empty() || (c.done && !c.reported)) return true;
    return false;
  };
  cv.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return done || pending(); });
  for (size_t i = 0; i < out.size(); ++i) {
    ChoiceOut& c = out[i];
    bool ends = c.done && !c.reported;
    if (c.text.empty() && c.logprobs.empty() && !ends) continue;
    ChoiceChunk ch;
    ch.index = int32_t(i);
    ch.text.swap(c.text);
    ch.logprobs.swap(c.logprobs);
    if (ends) {
      ch.finished = true;
      ch.finish_reason = c.finish_reason;
      c.reported = true;
    }
    chunks->push_back(std::move(ch));
  }
  return done;
}

Scheduler::Scheduler(Runtime* rt, SchedulerConfig cfg, Metrics* metrics, DraftModel* draft)
    : rt_(rt), draft_(draft), cfg_(cfg), metrics_(metrics), slots_(static_cast<size_t>(std::max(cfg.n_slots, 1))) {
  cfg_.step_tokens = std::max(cfg_.step_tokens, cfg_.n_slots + 1);
  std::vector<int32_t> ids;
  for (int32_t id = int32_t(slots_.size()); id < cfg_.max_seq; ++id) ids.push_back(id);
  if (cfg_.prefix_cache && !ids.empty()) cache_ = std::make_unique<PrefixCache>(rt_, std::move(ids));
}

Scheduler::~Scheduler() { stop(); }

Scheduler::Submit Scheduler::submit(std::shared_ptr<Task> t) {
  {
    std::lock_guard<std::mutex> tl(t->mu);
    t->n = std::max<int32_t>(t->n, 1);
    t->out.assign(size_t(t->n), ChoiceOut{});
  }
  {
    std::lock_guard<std::mutex> lk(qmu_);
    if (draining_ || stop_) return Submit::Draining;
    if (static_cast<int32_t>(queue_.size()) >= cfg_.max_queue) return Submit::QueueFull;
    queue_.push_back(std::move(t));
  }
  publish_gauges();
  qcv_.notify_all();
  return Submit::Ok;
}

void Scheduler::start() {
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lk(qmu_);
    stop_ = true;
  }
  qcv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Nothing may wait forever: fail whatever is left.
  for (Slot& s : slots_)
    if (s.state != State::Idle) finish(s, "error", "server stopped", "");
  std::deque<std::shared_ptr<Task>> rest;
  {
    std::lock_guard<std::mutex> lk(qmu_);
    rest.swap(queue_);
  }
  for (auto& t : rest) {
    std::lock_guard<std::mutex> lk(t->mu);
    t->done = true;
    t->finish_reason = "error";
    t->error = "server stopped";
    t->cv.notify_all();
  }
}

bool Scheduler::idle() {
  std::lock_guard<std::mutex> lk(qmu_);
  return queue_.empty() && busy_ == 0;
}

int32_t Scheduler::busy_slots() {
  std::lock_guard<std::mutex> lk(qmu_);
  return busy_;
}

int32_t Scheduler::queued() {
  std::lock_guard<std::mutex> lk(qmu_);
  return static_cast<int32_t>(queue_.size());
}

void Scheduler::publish_gauges() {
  std::lock_guard<std::mutex> lk(qmu_);
  if (metrics_) metrics_->set_queue(static_cast<int64_t>(queue_.size()), busy_);
}

void Scheduler::loop() {
  while (!stop_) {
    if (step()) continue;
    std::unique_lock<std::mutex> lk(qmu_);
    qcv_.wait_for(lk, std::chrono::milliseconds(50), [&] { return stop_ || !queue_.empty(); });
  }
}

int32_t Scheduler::pool() const {
  return cfg_.kv_cells > 0 ? cfg_.kv_cells : cfg_.n_slots * cfg_.slot_ctx;
}

int32_t Scheduler::cells_used() const {
  int32_t n = 0;
  for (const Slot& s : slots_)
    if (s.state == State::Prefill || s.state == State::Gen) n += s.n_past;
  return n;
}

int32_t Scheduler::cells_committed() const {
  int32_t n = cells_used();
  for (const Slot& s : slots_) {
    if (s.state == State::Prefill) n += static_cast<int32_t>(s.feed.size() - s.prompt_done);
    if (s.state == State::Gen) n += 1;  // its next token
    if (s.state == State::Follow) n += static_cast<int32_t>(s.task->prompt.size()) + 1;
  }
  return n;
}

// Drops the slot's cells; it resumes (admit) by decoding its prompt and the
// tokens generated so far again. The last generated token is still to be
// decoded (s.last), so it is not part of the replay.
void Scheduler::preempt(Slot& s) {
  release(s, true);  // kept: the replay maps what eviction has not taken by then
  s.feed = s.task->prompt;
  if (!s.gen.empty()) s.feed.insert(s.feed.end(), s.gen.begin(), s.gen.end() - 1);
  // Whatever state it was in (generating, or itself replaying after an
  // earlier preemption): once it has generated a token, s.last is pending and
  // the replay must not sample.
  s.resume = s.n_gen > 0;
  s.prompt_done = 0;
  s.n_past = 0;
  s.state = State::Preempted;
  if (metrics_) metrics_->count_preemption();
}

void Scheduler::admit() {
  // Preempted requests first, oldest first, each when its replay fits.
  std::vector<size_t> waiting;
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].state == State::Preempted) waiting.push_back(i);
  std::sort(waiting.begin(), waiting.end(), [&](size_t a, size_t b) { return slots_[a].order < slots_[b].order; });
  for (size_t i : waiting) {
    Slot& s = slots_[i];
    if (cells_committed() + static_cast<int32_t>(s.feed.size()) + 1 > pool()) return;  // keep the order
    s.state = s.feed.empty() ? State::Gen : State::Prefill;
    if (s.feed.empty()) s.resume = false;
    if (s.state == State::Prefill) map_prefix(s, i, /*fresh=*/false);
  }
  if (!waiting.empty() && slots_[waiting.back()].state == State::Preempted) return;
  // A free slot i takes the next request, or sends it to a better free slot
  // and is looked at again (each visit takes a request or returns).
  for (size_t i = 0; i < slots_.size(); i += slots_[i].state != State::Idle) {
    if (slots_[i].state != State::Idle) continue;
    std::shared_ptr<Task> t;
    int32_t choice = 0;
    {
      std::lock_guard<std::mutex> lk(qmu_);
      // A new request waits while the pool cannot hold its prompt next to
      // what the running ones will hold (it is admitted as they finish).
      if (!queue_.empty() && !queue_.front()->cancel &&
          cells_committed() + static_cast<int32_t>(queue_.front()->prompt.size()) + 1 > pool())
        return;
      while (!queue_.empty() && !t) {
        t = queue_.front();
        if (t->cancel) {  // client left while queued: its unstarted choices end here
          queue_.pop_front();
          t->queued = false;
          if (t->finished == t->admitted) {  // else its running choices close it
            std::lock_guard<std::mutex> tl(t->mu);
            t->done = true;
            if (t->finish_reason.empty()) t->finish_reason = "cancelled";
            t->cv.notify_all();
            if (metrics_ && t->admitted == 0) metrics_->count_finish("cancelled");
          }
          t.reset();
          continue;
        }
        choice = t->admitted++;
        if (t->admitted >= t->n) {  // every choice has a slot now
          queue_.pop_front();
          t->queued = false;
        }
      }
      if (!t) return;
      ++busy_;
    }
    // With a draft model: the free slot whose kept draft sequence shares the
    // most of the prompt (the next turn of a chat: its last prompt and
    // reply), so the draft model catches up only what is new (draft_model.h).
    size_t use = i;
    if (draft_ && t->params.spec_draft_model != 0) {
      size_t best = draft_->shared_prefix(static_cast<int32_t>(i), t->prompt);
      for (size_t j = i + 1; j < slots_.size(); ++j)
        if (slots_[j].state == State::Idle)
          if (const size_t m = draft_->shared_prefix(static_cast<int32_t>(j), t->prompt); m > best) best = m, use = j;
    }
    Slot& s = slots_[use];
    std::string err;
    uint64_t seed = t->seed == UINT64_MAX ? t->seed : t->seed + uint64_t(choice);
    s.sampler = rt_->new_sampler(t->params, seed, &err);
    s.task = t;
    s.choice = choice;
    s.state = State::Prefill;
    s.n_past = 0;
    s.feed = t->prompt;
    s.resume = false;
    s.gen.clear();
    s.prompt_done = 0;
    s.n_gen = 0;
    s.last = -1;
    s.order = admitted_++;
    if (!s.sampler) {
      finish(s, "error", "sampler: " + err, "");
      continue;
    }
    for (int32_t tok : t->prompt) s.sampler->accept(tok);
    {
      const GenParams& gp = t->params;
      s.spec_lookup = gp.spec_lookup >= 0 ? gp.spec_lookup : cfg_.spec_lookup;
      s.spec_ngram_min = gp.spec_ngram_min >= 0 ? gp.spec_ngram_min : cfg_.spec_ngram_min;
      s.draft_max = gp.draft_max >= 0 ? gp.draft_max : cfg_.draft_max;
      s.model_drafts = draft_ && gp.spec_draft_model != 0;
      // logprobs are per sampled row: such requests decode without drafts.
      if ((s.spec_lookup <= 0 && !s.model_drafts) || gp.top_logprobs >= 0) s.draft_max = 0;
      if (s.draft_max == 0) s.model_drafts = false;
      s.spec_ngram_min = std::min(s.spec_ngram_min, std::max(s.spec_lookup, 1));
      s.draft_len = s.draft_max;
    }
    // The draft sampler's own stream (reproducible with a seed, and not the
    // same numbers as any choice's target sampler).
    if (s.model_drafts &&
        !draft_->start(static_cast<int32_t>(use), t->params, seed == UINT64_MAX ? seed : seed ^ 0x9E3779B97F4A7C15ull,
                       &err)) {
      finish(s, "error", "draft model sampler: " + err, "");
      continue;
    }
    s.stream = rt_->new_text_stream(t->params.special_text);
    s.stop = std::make_unique<StopText>(t->params.stop);
    {
      std::lock_guard<std::mutex> tl(t->mu);
      t->started = true;
      t->n_prompt = static_cast<int32_t>(t->prompt.size());
    }
    if (choice == 0 && metrics_) metrics_->add_prompt_tokens(static_cast<int64_t>(t->prompt.size()));
    start_choice(s, use);
  }
}

// A choice's prompt: shared from a sibling that holds its positions (all but
// the last, whose logits this choice needs for itself), waited for while a
// sibling is still decoding it, else decoded here.
void Scheduler::start_choice(Slot& s, size_t index) {
  const int32_t share = static_cast<int32_t>(s.task->prompt.size()) - 1;
  if (share < 1 || s.task->n < 2) {
    s.state = State::Prefill;
    map_prefix(s, index, /*fresh=*/true);
    return;
  }
  bool sibling_prefilling = false;
  for (size_t j = 0; j < slots_.size(); ++j) {
    Slot& o = slots_[j];
    if (j == index || o.task != s.task) continue;
    if ((o.state == State::Prefill || o.state == State::Gen) && o.n_past >= share) {
      if (rt_->seq_cp(static_cast<int32_t>(j), static_cast<int32_t>(index), 0, share)) {
        s.state = State::Prefill;
        s.n_past = share;
        s.prompt_done = size_t(share);
        return;
      }
    }
    if (o.state == State::Prefill) sibling_prefilling = true;
  }
  s.state = sibling_prefilling ? State::Follow : State::Prefill;
  if (s.state == State::Prefill) map_prefix(s, index, /*fresh=*/true);
}

void Scheduler::map_prefix(Slot& s, size_t index, bool fresh) {
  if (!cache_ || s.n_past != 0 || s.feed.size() < 2) return;
  // The last feed token is always decoded: its logits (or, for a replay,
  // the positions up to the pending s.last) come from this slot's own step.
  const int32_t m = cache_->map(s.feed, static_cast<int32_t>(s.feed.size()) - 1, static_cast<int32_t>(index));
  s.n_past = m;
  s.prompt_done = size_t(m);
  if (!fresh) return;  // a replay: its prompt was counted when it was admitted
  if (metrics_) metrics_->add_prefix_lookup(m);
  if (s.choice == 0) {
    std::lock_guard<std::mutex> lk(s.task->mu);
    s.task->n_cached = m;
  }
}

void Scheduler::release(Slot& s, bool keep) {
  const int32_t seq = static_cast<int32_t>(&s - slots_.data());
  // The draft's sequence is kept for a later request (draft_model.h).
  if (draft_ && s.model_drafts) draft_->release(seq);
  if (!cache_ || !keep || s.n_past <= 0 || !s.task) {
    rt_->seq_clear(seq);
    return;
  }
  // What the slot's positions hold: the prompt, then the generated tokens
  // (a replay's feed is the same sequence).
  std::vector<int32_t> held = s.task->prompt;
  held.insert(held.end(), s.gen.begin(), s.gen.end());
  cache_->keep(seq, held, s.n_past);
}

void Scheduler::make_room(int32_t cells) {
  if (!cache_) return;
  for (int32_t f = rt_->kv_free(); f >= 0 && f < cells; f = rt_->kv_free())
    if (!cache_->evict_lru()) break;
}

void Scheduler::emit(Slot& s, const std::string& text) {
  std::lock_guard<std::mutex> lk(s.task->mu);
  ChoiceOut& c = s.task->out[size_t(s.choice)];
  s.task->n_gen += s.n_gen - c.n_gen;
  c.n_gen = s.n_gen;
  c.text += text;
  s.task->cv.notify_all();
}

void Scheduler::finish(Slot& s, const std::string& reason, const std::string& error, std::string tail) {
  if (s.state == State::Idle) return;
  // An error may leave the slot's last positions undefined: drop them.
  release(s, reason != "error");
  std::shared_ptr<Task> t = std::move(s.task);
  bool task_done = false;
  {
    std::lock_guard<std::mutex> lk(t->mu);
    ChoiceOut& c = t->out[size_t(s.choice)];
    c.text += tail;
    t->n_gen += s.n_gen - c.n_gen;
    c.n_gen = s.n_gen;
    c.done = true;
    c.finish_reason = reason;
    ++t->finished;
    if (reason == "error" || reason == "cancelled") {
      // One failed or cancelled choice ends the request: the others stop too.
      if (t->finish_reason != "error") t->finish_reason = reason;
      if (reason == "error") t->error = error;
      t->cancel = true;
    } else if (s.choice == 0 && t->finish_reason.empty()) {
      t->finish_reason = reason;
    }
    if (!t->queued && t->finished >= t->admitted) {
      t->done = task_done = true;
      if (t->finish_reason.empty()) t->finish_reason = reason;
    }
    t->cv.notify_all();
  }
  if (metrics_) metrics_->count_finish(reason);
  (void)task_done;
  s = Slot{};
  {
    std::lock_guard<std::mutex> lk(qmu_);
    --busy_;
  }
}

std::vector<int32_t> Scheduler::draft_for(const Slot& s, int32_t n) {
  // History = prompt + generated (the last of which, s.last, is pending).
  std::vector<int32_t> hist = s.task->prompt;
  hist.insert(hist.end(), s.gen.begin(), s.gen.end());
  return rt_->draft_lookup(hist, s.spec_ngram_min, s.spec_lookup, n);
}

bool Scheduler::on_token(Slot& s, int32_t tok) {
  ++s.n_gen;
  s.last = tok;
  s.gen.push_back(tok);
  const GenParams& p = s.task->params;
  bool eog = rt_->is_eog(tok);
  if (p.top_logprobs >= 0 && !(eog && !p.ignore_eos)) {
    TokenLogprob lp;
    if (s.sampler->logprobs(p.top_logprobs, &lp)) {
      std::lock_guard<std::mutex> lk(s.task->mu);
      s.task->out[size_t(s.choice)].logprobs.push_back(std::move(lp));
    }
  }
  if (!p.ignore_eos && eog) {
    bool hit = false;
    std::string tail = s.stop->feed(s.stream->flush(), &hit);
    tail += s.stop->flush();
    finish(s, "stop", "", tail);
    return true;
  }
  bool hit = false;
  std::string text = s.stop->feed(s.stream->push(tok), &hit);
  if (hit) {
    finish(s, "stop", "", text);
    return true;
  }
  // A grammar that nothing can extend would only allow end-of-generation
  // next: stop now instead of decoding one more token for it.
  if (s.sampler->grammar_done()) {
    std::string tail = s.stop->feed(s.stream->flush(), &hit);
    if (!hit) tail += s.stop->flush();
    finish(s, "stop", "", text + tail);
    return true;
  }
  bool at_max = p.max_tokens > 0 && s.n_gen >= p.max_tokens;
  bool ctx_full = s.n_past + 1 >= cfg_.slot_ctx;
  if (at_max || ctx_full) {
    std::string tail = s.stop->feed(s.stream->flush(), &hit);
    if (!hit) tail += s.stop->flush();
    finish(s, hit ? "stop" : "length", "", text + tail);
    return true;
  }
  if (!text.empty()) emit(s, text);
  return false;
}

bool Scheduler::step() {
  // Free the slots of clients that left first, so a waiting request can
  // take one in this same step.
  for (Slot& s : slots_)
    if (s.state != State::Idle && s.task->cancel) finish(s, "cancelled", "", "");
  admit();
  // Choices waiting for a sibling's prompt: share it once it is decoded.
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].state == State::Follow) start_choice(slots_[i], i);
  // Every generating slot needs one cell this step: preempt the newest
  // running requests until they fit (one request alone always fits: the
  // pool is at least one slot context).
  for (;;) {
    int32_t n_gen = 0;
    Slot* newest = nullptr;
    for (Slot& s : slots_) {
      if (s.state == State::Gen) ++n_gen;
      if ((s.state == State::Gen || s.state == State::Prefill) && (!newest || s.order > newest->order)) newest = &s;
    }
    if (cells_used() + n_gen <= pool() || !newest) break;
    preempt(*newest);
  }
  publish_gauges();
  if (metrics_) metrics_->set_kv(cells_used(), pool());  // slots_ is this thread's only
  if (metrics_ && cache_)  // as of the last step (entries kept at its end show at the next)
    metrics_->set_prefix_cache(cache_->entries(), int64_t(cache_->cached_blocks()) * PrefixCache::kBlock,
                               cache_->stats().evictions);

  // Batch: every generating slot's next token first, then prompt chunks
  // (as many as the pool's free cells allow).
  std::vector<BatchEntry> batch;
  std::vector<int32_t> owner;  // slot index per entry
  int32_t budget = cfg_.step_tokens;
  int32_t free_cells = pool() - cells_used();
  // Drafts take what is left after every generating slot's one token.
  int32_t n_gen_slots = 0;
  for (const Slot& s : slots_) n_gen_slots += s.state == State::Gen;
  int32_t spare = std::min(budget, free_cells) - n_gen_slots;
  // Drafts first: prompt lookup per slot, then the draft model for the
  // slots lookup left without (all of them in one DraftModel::draft call).
  std::vector<std::vector<int32_t>> drafts(slots_.size());
  std::vector<std::vector<std::vector<float>>> draft_q(slots_.size());  // model drafts of sampling requests
  std::vector<char> model_drafted(slots_.size(), 0);
  {
    std::vector<std::vector<int32_t>> hists(slots_.size());
    std::vector<DraftModel::Request> wants;
    for (size_t i = 0; i < slots_.size() && spare > 0; ++i) {
      Slot& s = slots_[i];
      if (s.state != State::Gen || s.draft_max <= 0) continue;
      // Within the slot's context and max_tokens: a step yields at most k + 1 tokens.
      int32_t k = std::min({s.draft_len, spare, cfg_.slot_ctx - s.n_past - 2});
      const GenParams& p = s.task->params;
      if (p.max_tokens > 0) k = std::min(k, p.max_tokens - s.n_gen - 1);
      if (k <= 0) continue;
      if (s.spec_lookup > 0) drafts[i] = draft_for(s, k);
      if (drafts[i].empty() && s.model_drafts) {
        // History = prompt + generated (the last of which, s.last, is pending).
        hists[i] = s.task->prompt;
        hists[i].insert(hists[i].end(), s.gen.begin(), s.gen.end());
        wants.push_back({static_cast<int32_t>(i), &hists[i], k});
        spare -= k;  // reserved: the draft model may return fewer
        continue;
      }
      spare -= static_cast<int32_t>(drafts[i].size());
    }
    if (!wants.empty()) {
      std::vector<DraftModel::Drafts> got;
      std::string derr;
      draft_->draft(wants, &got, &derr);  // a failure only costs its drafts (draft_model.h)
      for (size_t w = 0; w < wants.size(); ++w) {
        const size_t i = static_cast<size_t>(wants[w].slot);
        drafts[i] = std::move(got[w].tokens);
        draft_q[i] = std::move(got[w].q);
        model_drafted[i] = 1;
      }
    }
  }
  std::vector<size_t> first_entry(slots_.size(), 0);
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.state != State::Gen) continue;
    first_entry[i] = batch.size();
    batch.push_back({s.last, s.n_past, static_cast<int32_t>(i), true});
    owner.push_back(static_cast<int32_t>(i));
    --budget;
    --free_cells;
    for (size_t j = 0; j < drafts[i].size(); ++j) {
      batch.push_back({drafts[i][j], s.n_past + 1 + static_cast<int32_t>(j), static_cast<int32_t>(i), true});
      owner.push_back(static_cast<int32_t>(i));
    }
    const int32_t used = static_cast<int32_t>(drafts[i].size());
    budget -= used;
    free_cells -= used;
  }
  std::vector<size_t> pre;
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].state == State::Prefill) pre.push_back(i);
  std::sort(pre.begin(), pre.end(), [&](size_t a, size_t b) { return slots_[a].order < slots_[b].order; });
  std::vector<size_t> chunk_len(slots_.size(), 0);
  for (size_t i : pre) {
    if (budget <= 0 || free_cells <= 0) break;
    Slot& s = slots_[i];
    size_t left = s.feed.size() - s.prompt_done;
    size_t k = std::min({left, static_cast<size_t>(budget), static_cast<size_t>(free_cells)});
    for (size_t j = 0; j < k; ++j) {
      bool last = s.prompt_done + j + 1 == s.feed.size() && !s.resume;
      batch.push_back({s.feed[s.prompt_done + j], s.n_past + static_cast<int32_t>(j), static_cast<int32_t>(i), last});
      owner.push_back(static_cast<int32_t>(i));
    }
    chunk_len[i] = k;
    budget -= static_cast<int32_t>(k);
    free_cells -= static_cast<int32_t>(k);
  }
  if (batch.empty()) return false;
  make_room(static_cast<int32_t>(batch.size()));

  double t0 = now_s();
  std::string err;
  if (!rt_->decode(batch, &err)) {
    for (size_t i = 0; i < slots_.size(); ++i)
      if (std::find(owner.begin(), owner.end(), static_cast<int32_t>(i)) != owner.end())
        finish(slots_[i], "error", "decode failed: " + err, "");
    return true;
  }
  if (metrics_) metrics_->add_step(now_s() - t0);

  int64_t generated = 0;
  for (size_t e = 0; e < batch.size(); ++e) {
    if (!batch[e].logits) continue;
    const size_t si = static_cast<size_t>(owner[e]);
    Slot& s = slots_[si];
    if (s.state == State::Idle) continue;  // finished by an earlier entry of this step
    if (s.state == State::Gen && !drafts[si].empty()) {
      if (e != first_entry[si]) continue;  // a draft's row: verified with the slot's first entry
      // Speculative: rows e .. e + k verify the k drafts.
      const std::vector<int32_t>& d = drafts[si];
      std::vector<const float*> rows(d.size() + 1);
      for (size_t r = 0; r < rows.size(); ++r) rows[r] = rt_->logits(static_cast<int32_t>(e + r));
      std::vector<const float*> q;
      for (const std::vector<float>& row : draft_q[si]) q.push_back(row.data());
      std::vector<int32_t> outs;
      if (std::find(rows.begin(), rows.end(), nullptr) != rows.end() || !s.sampler->verify(rows, d, q, &outs, &err)) {
        finish(s, "error", "speculative verification failed: " + err, "");
        continue;
      }
      const int32_t base = s.n_past;
      const size_t accepted = outs.size() - 1;
      if (metrics_) metrics_->add_speculative(static_cast<int64_t>(d.size()), static_cast<int64_t>(accepted));
      if (accepted == 0) s.draft_len = std::max(1, s.draft_len / 2);
      if (accepted == d.size()) s.draft_len = std::min(s.draft_max, s.draft_len * 2);
      bool ended = false;
      for (size_t r = 0; r < outs.size() && !ended; ++r) {
        s.n_past = base + 1 + static_cast<int32_t>(r);  // row r's entry is in the cache
        ++generated;
        ended = on_token(s, outs[r]);
      }
      if (ended) continue;
      // The draft model's sequence keeps what the target accepted.
      if (model_drafted[si]) draft_->trim(static_cast<int32_t>(si), s.n_past);
      // The accepted drafts stay; the rejected ones' cells go.
      if (!rt_->seq_trim(static_cast<int32_t>(si), s.n_past)) finish(s, "error", "cannot drop rejected drafts", "");
      continue;
    }
    if (s.state == State::Prefill) {
      s.prompt_done += chunk_len[si];
      s.n_past += static_cast<int32_t>(chunk_len[si]);
      s.state = State::Gen;
    } else {
      s.n_past += 1;
    }
    const float* lg = rt_->logits(static_cast<int32_t>(e));
    int32_t tok = -1;
    if (!lg || !s.sampler->sample(lg, &tok, &err)) {
      finish(s, "error", lg ? "sampling failed: " + err : "no logits", "");
      continue;
    }
    ++generated;
    on_token(s, tok);
  }
  // Prefill slots whose prompt is not complete yet advance by their chunk.
  for (size_t i : pre) {
    Slot& s = slots_[i];
    if (s.state == State::Prefill && chunk_len[i] > 0) {
      s.prompt_done += chunk_len[i];
      s.n_past += static_cast<int32_t>(chunk_len[i]);
      if (s.resume && s.prompt_done == s.feed.size()) {  // replay done: continue with s.last
        s.resume = false;
        s.state = State::Gen;
      }
    }
  }
  if (metrics_ && generated) metrics_->add_generated_tokens(generated, now_s());
  return true;
}

}  // namespace f8srv
