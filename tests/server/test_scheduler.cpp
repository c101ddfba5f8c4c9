// The scheduler's slot logic against a scripted runtime (a test double):
// every step is one batch over all active slots, long prompts are chunked,
// cancelled slots are freed within one step, positions stay contiguous.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <set>

#include "server/scheduler.h"

using namespace f8srv;

namespace {

constexpr int32_t kVocab = 100;
constexpr int32_t kEog = 99;

// "Model": the next token after t is (t + 1) % kVocab, except that the
// token after `eog_after` is kEog. Text of token t is "<t>".
class FakeRuntime : public Runtime {
 public:
  std::vector<std::vector<BatchEntry>> batches;
  std::map<int32_t, int32_t> next_pos;  // seq -> expected next position
  std::vector<int32_t> cleared;
  std::string position_error;
  int32_t eog_after = -1;
  std::vector<float> out;  // logits per batch entry, kVocab each
  int32_t pool = 0;                // > 0: the KV pool; a batch that overflows it is an error
  std::map<int32_t, int32_t> held; // seq -> cells held
  int32_t max_held = 0;

  bool decode(const std::vector<BatchEntry>& b, std::string*) override {
    batches.push_back(b);
    out.assign(b.size() * kVocab, 0.0f);
    for (size_t i = 0; i < b.size(); ++i) {
      int32_t& np = next_pos[b[i].seq];
      if (b[i].pos != np && position_error.empty())
        position_error = "seq " + std::to_string(b[i].seq) + " got pos " + std::to_string(b[i].pos) +
                         ", expected " + std::to_string(np);
      np = b[i].pos + 1;
      held[b[i].seq] += 1;
      int32_t next = b[i].token == eog_after ? kEog : (b[i].token + 1) % kVocab;
      out[i * kVocab + static_cast<size_t>(next)] = 10.0f;
    }
    int32_t total = 0;
    for (auto& [sq, n] : held) total += n;
    max_held = std::max(max_held, total);
    if (pool > 0 && total > pool && position_error.empty())
      position_error = "KV pool overflow: " + std::to_string(total) + " cells > " + std::to_string(pool);
    return true;
  }
  const float* logits(int32_t i) override { return out.data() + static_cast<size_t>(i) * kVocab; }
  void seq_clear(int32_t seq) override {
    cleared.push_back(seq);
    next_pos[seq] = 0;
    held[seq] = 0;
  }
  bool is_eog(int32_t t) const override { return t == kEog; }
  std::unique_ptr<TokenSampler> new_sampler(const GenParams&, uint64_t, std::string*) override {
    struct Greedy : TokenSampler {
      bool sample(const float* l, int32_t* t, std::string*) override {
        *t = static_cast<int32_t>(std::max_element(l, l + kVocab) - l);
        return true;
      }
      void accept(int32_t) override {}
    };
    return std::make_unique<Greedy>();
  }
  std::unique_ptr<TextStream> new_text_stream(bool) override {
    struct S : TextStream {
      std::string push(int32_t t) override { return "<" + std::to_string(t) + ">"; }
      std::string flush() override { return ""; }
    };
    return std::make_unique<S>();
  }
};

std::shared_ptr<Task> make_task(std::vector<int32_t> prompt, int32_t max_tokens) {
  auto t = std::make_shared<Task>();
  t->prompt = std::move(prompt);
  t->params.max_tokens = max_tokens;
  t->params.temperature = 0;
  return t;
}

std::string take(Task& t) {
  std::string s;
  t.wait(&s, 0);
  return s;
}

void run_until_idle(Scheduler& s, int max_steps = 1000) {
  for (int i = 0; i < max_steps && s.step(); ++i) {
  }
}

}  // namespace

TEST(Scheduler, GeneratesUntilMaxTokens) {
  FakeRuntime rt;
  Metrics m;
  Scheduler s(&rt, {2, 64, 4, 16}, &m);
  auto t = make_task({1, 2, 3}, 4);
  ASSERT_EQ(s.submit(t), Scheduler::Submit::Ok);
  run_until_idle(s);
  EXPECT_TRUE(t->done);
  EXPECT_EQ(t->finish_reason, "length");
  EXPECT_EQ(take(*t), "<4><5><6><7>");
  EXPECT_EQ(t->n_prompt, 3);
  EXPECT_EQ(t->n_gen, 4);
  EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
  EXPECT_TRUE(s.idle());
  EXPECT_EQ(rt.cleared, (std::vector<int32_t>{0}));
}

TEST(Scheduler, StopsAtEogAndStopString) {
  FakeRuntime rt;
  rt.eog_after = 6;
  Scheduler s(&rt, {2, 64, 4, 16}, nullptr);
  auto a = make_task({4}, 50);
  auto b = make_task({10}, 50);
  b->params.stop = {"<13"};
  s.submit(a);
  s.submit(b);
  run_until_idle(s);
  EXPECT_EQ(a->finish_reason, "stop");
  EXPECT_EQ(take(*a), "<5><6>");  // the EOG token prints nothing
  EXPECT_EQ(b->finish_reason, "stop");
  EXPECT_EQ(take(*b), "<11><12>");  // nothing of the stop string shows
}

TEST(Scheduler, EverySlotDecodesInOneBatchPerStep) {
  FakeRuntime rt;
  Scheduler s(&rt, {3, 64, 8, 32}, nullptr);
  std::vector<std::shared_ptr<Task>> ts;
  for (int i = 0; i < 3; ++i) ts.push_back(make_task({i * 10 + 1, i * 10 + 2}, 5));
  for (auto& t : ts) s.submit(t);
  run_until_idle(s);
  // Step 1 prefills all three prompts together; steps 2..5 carry one token
  // per slot.
  ASSERT_EQ(rt.batches.size(), 5u);
  EXPECT_EQ(rt.batches[0].size(), 6u);
  for (size_t i = 1; i < rt.batches.size(); ++i) EXPECT_EQ(rt.batches[i].size(), 3u) << "step " << i;
  for (auto& t : ts) EXPECT_EQ(t->n_gen, 5);
  EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
}

TEST(Scheduler, LongPromptIsChunkedWithoutStallingStreams) {
  FakeRuntime rt;
  const int32_t step = 8;
  Scheduler s(&rt, {2, 256, 8, step}, nullptr);
  auto running = make_task({1}, 40);
  s.submit(running);
  s.step();  // prefill; running now generates
  std::vector<int32_t> long_prompt(50);
  for (int i = 0; i < 50; ++i) long_prompt[static_cast<size_t>(i)] = 20 + i % 50;
  auto late = make_task(long_prompt, 3);
  s.submit(late);
  size_t before = rt.batches.size();
  std::string got;
  int steps_while_prefilling = 0;
  while (!late->started || late->n_gen == 0) {
    ASSERT_TRUE(s.step());
    const auto& b = rt.batches.back();
    EXPECT_LE(static_cast<int32_t>(b.size()), step);
    bool has_running = false;
    for (const BatchEntry& e : b) has_running |= e.seq == 0;
    EXPECT_TRUE(has_running) << "the running stream skipped a step";
    ++steps_while_prefilling;
    if (steps_while_prefilling > 20) break;
  }
  // 50 prompt tokens at 7 per step (one entry goes to the running slot).
  EXPECT_EQ(steps_while_prefilling, 8);
  EXPECT_GT(rt.batches.size(), before);
  run_until_idle(s);
  EXPECT_EQ(late->finish_reason, "length");
  EXPECT_EQ(late->n_gen, 3);
  EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
}

TEST(Scheduler, CancelledTaskFreesItsSlotWithinOneStep) {
  FakeRuntime rt;
  Scheduler s(&rt, {1, 64, 4, 16}, nullptr);
  auto a = make_task({1}, 1000);
  auto b = make_task({2}, 2);
  s.submit(a);
  s.submit(b);
  for (int i = 0; i < 3; ++i) s.step();
  EXPECT_EQ(s.busy_slots(), 1);
  EXPECT_FALSE(b->started);  // one slot: b waits
  a->cancel = true;
  s.step();  // frees a's slot and admits b in the same step
  EXPECT_TRUE(a->done);
  EXPECT_EQ(a->finish_reason, "cancelled");
  EXPECT_EQ(rt.cleared.front(), 0);
  EXPECT_TRUE(b->started);
  run_until_idle(s);
  EXPECT_EQ(b->finish_reason, "length");
  EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
}

TEST(Scheduler, ContextFullEndsWithLength) {
  FakeRuntime rt;
  Scheduler s(&rt, {1, 10, 4, 16}, nullptr);
  auto t = make_task({1, 2, 3, 4, 5}, -1);
  s.submit(t);
  run_until_idle(s);
  EXPECT_EQ(t->finish_reason, "length");
  EXPECT_LE(t->n_prompt + t->n_gen, 10);
  EXPECT_GE(t->n_gen, 1);
}

TEST(Scheduler, QueueLimitAndDrain) {
  FakeRuntime rt;
  Scheduler s(&rt, {1, 64, 1, 16}, nullptr);
  EXPECT_EQ(s.submit(make_task({1}, 5)), Scheduler::Submit::Ok);
  EXPECT_EQ(s.submit(make_task({1}, 5)), Scheduler::Submit::QueueFull);
  s.step();  // admitted: the queue has room again
  EXPECT_EQ(s.submit(make_task({1}, 5)), Scheduler::Submit::Ok);
  s.begin_drain();
  EXPECT_EQ(s.submit(make_task({1}, 5)), Scheduler::Submit::Draining);
  run_until_idle(s);
  EXPECT_TRUE(s.idle());
}

TEST(Scheduler, ThreadedStopFailsWaitingTasks) {
  FakeRuntime rt;
  Scheduler s(&rt, {1, 100000, 8, 16}, nullptr);
  auto a = make_task({1}, -1);  // runs until stopped
  a->params.ignore_eos = true;
  auto b = make_task({1}, 5);
  s.submit(a);
  s.submit(b);
  s.start();
  std::string text;
  while (text.size() < 20) a->wait(&text, 100);
  s.stop();
  EXPECT_TRUE(a->done);
  EXPECT_TRUE(b->done);
  EXPECT_EQ(a->finish_reason, "error");
}

// A KV pool smaller than what the requests grow to: the newest running
// request is preempted (cells dropped), waits, replays its prompt and the
// tokens it had generated, and continues: every request's text equals an
// unconstrained run, the pool never overflows, positions stay contiguous.
TEST(Scheduler, SmallKvPoolPreemptsAndRecomputes) {
  auto run = [](int32_t kv_cells, FakeRuntime* rt, Metrics* m) {
    SchedulerConfig cfg{4, 64, 8, 32, kv_cells};
    Scheduler s(rt, cfg, m);
    std::vector<std::shared_ptr<Task>> ts;
    for (int i = 0; i < 4; ++i) ts.push_back(make_task({i * 10 + 1, i * 10 + 2, i * 10 + 3, i * 10 + 4, i * 10 + 5}, 40));
    for (auto& t : ts) s.submit(t);
    run_until_idle(s, 5000);
    std::vector<std::string> out;
    for (auto& t : ts) {
      EXPECT_TRUE(t->done);
      EXPECT_EQ(t->finish_reason, "length");
      EXPECT_EQ(t->n_gen, 40);
      out.push_back(take(*t));
    }
    return out;
  };
  FakeRuntime free_rt;
  const auto want = run(0, &free_rt, nullptr);  // pool = 4 x 64: never short
  FakeRuntime rt;
  rt.pool = 80;  // the 4 requests grow to 4 x 45 = 180 cells
  Metrics m;
  const auto got = run(80, &rt, &m);
  EXPECT_EQ(got, want);
  EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
  EXPECT_LE(rt.max_held, 80);
  EXPECT_GT(rt.max_held, 60);  // the pool is really used
  const std::string prom = m.prometheus(4, true, false, 0.0);
  EXPECT_NE(prom.find("f8_preemptions_total"), std::string::npos);
  EXPECT_EQ(prom.find("f8_preemptions_total 0\n"), std::string::npos) << "no preemption happened";
  EXPECT_NE(prom.find("f8_kv_cells_total 80"), std::string::npos);
}

// Uneven request lengths (slots free up while others still run, so
// preempted requests resume next to running ones) and replays chunked over
// several steps by a small step budget, at three pool sizes: every text
// equals an unconstrained run, the pool never overflows.
TEST(Scheduler, SmallPoolUnevenRequestsMatch) {
  auto run = [](int32_t kv_cells, int32_t step_tokens, FakeRuntime* rt) {
    Scheduler s(rt, SchedulerConfig{5, 64, 8, step_tokens, kv_cells}, nullptr);
    std::vector<std::shared_ptr<Task>> ts;
    const int32_t max_tokens[5] = {50, 12, 40, 20, 45};  // uneven: slots free up while others still run
    for (int i = 0; i < 5; ++i) ts.push_back(make_task({i * 10 + 1, i * 10 + 2, i * 10 + 3}, max_tokens[i]));
    for (auto& t : ts) s.submit(t);
    run_until_idle(s, 20000);
    std::vector<std::string> out;
    for (auto& t : ts) {
      EXPECT_TRUE(t->done);
      out.push_back(take(*t));
    }
    return out;
  };
  FakeRuntime free_rt;
  const auto want = run(0, 32, &free_rt);
  for (int32_t pool : {64, 80, 100}) {
    FakeRuntime rt;
    rt.pool = pool;
    EXPECT_EQ(run(pool, 6, &rt), want) << "pool " << pool;
    EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
  }
}

// A new request waits while the pool cannot hold its prompt next to the
// running one; it never preempts a request that fits alone.
TEST(Scheduler, AdmissionWaitsForPoolRoom) {
  FakeRuntime rt;
  rt.pool = 40;
  Metrics m;
  Scheduler s(&rt, {2, 40, 8, 64, 40}, &m);
  std::vector<int32_t> p(25);
  for (int i = 0; i < 25; ++i) p[i] = i;
  auto a = make_task(p, 10), b = make_task(p, 10);
  s.submit(a);
  s.submit(b);
  run_until_idle(s);
  EXPECT_TRUE(a->done && b->done);
  EXPECT_EQ(take(*a), take(*b));
  EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
  EXPECT_LE(rt.max_held, 40);
  // One request at a time: no batch mixes the two, and nothing was preempted.
  for (const auto& batch : rt.batches)
    for (const auto& e : batch) EXPECT_EQ(e.seq, batch.front().seq);
  EXPECT_NE(m.prometheus(2, true, false, 0.0).find("f8_preemptions_total 0\n"), std::string::npos);
}

namespace {

// A runtime that can share a sequence's cells (as f8_kv_seq_cp does).
class SharingRuntime : public FakeRuntime {
 public:
  std::vector<std::array<int32_t, 4>> copies;  // src, dst, p0, p1
  bool seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) override {
    copies.push_back({src, dst, p0, p1});
    if (next_pos[src] < p1 && position_error.empty()) position_error = "seq_cp of positions the source does not hold";
    next_pos[dst] = p1;
    return true;
  }
};

size_t prompt_entries(const FakeRuntime& rt, const std::vector<int32_t>& prompt) {
  size_t n = 0;
  for (const auto& b : rt.batches)
    for (const BatchEntry& e : b)
      if (e.pos < int32_t(prompt.size()) && e.token == prompt[size_t(e.pos)]) ++n;
  return n;
}

}  // namespace

TEST(Scheduler, ChoicesShareThePrompt) {
  SharingRuntime rt;
  Scheduler s(&rt, {4, 64, 8, 32}, nullptr);
  std::vector<int32_t> prompt = {1, 2, 3, 4, 5};
  auto t = make_task(prompt, 3);
  t->n = 3;
  s.submit(t);
  run_until_idle(s);
  ASSERT_TRUE(t->done);
  EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
  // The prompt was decoded once; each other choice shared all but its last
  // token and decoded only that one.
  ASSERT_EQ(rt.copies.size(), 2u);
  for (const auto& c : rt.copies) {
    EXPECT_EQ(c[0], 0);
    EXPECT_EQ(c[2], 0);
    EXPECT_EQ(c[3], 4);
  }
  EXPECT_EQ(prompt_entries(rt, prompt), 5u + 2u);
  std::vector<ChoiceChunk> chunks;
  t->wait_choices(&chunks, 0);
  std::map<int32_t, std::string> text, reason;
  for (auto& ch : chunks) {
    text[ch.index] += ch.text;
    if (ch.finished) reason[ch.index] = ch.finish_reason;
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(text[i], "<6><7><8>") << i;
    EXPECT_EQ(reason[i], "length") << i;
  }
  EXPECT_EQ(t->n_gen, 9);
  EXPECT_EQ(t->finish_reason, "length");
}

TEST(Scheduler, MoreChoicesThanSlots) {
  SharingRuntime rt;
  Scheduler s(&rt, {2, 64, 8, 32}, nullptr);
  auto t = make_task({7, 8, 9}, 4);
  t->n = 5;
  auto other = make_task({20}, 2);
  s.submit(t);
  s.submit(other);  // waits behind the choices that have no slot yet
  run_until_idle(s);
  ASSERT_TRUE(t->done && other->done);
  EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
  std::vector<ChoiceChunk> chunks;
  t->wait_choices(&chunks, 0);
  std::map<int32_t, std::string> text;
  int ended = 0;
  for (auto& ch : chunks) {
    text[ch.index] += ch.text;
    ended += ch.finished;
  }
  EXPECT_EQ(ended, 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(text[i], "<10><11><12><13>") << i;
  EXPECT_EQ(t->n_gen, 20);
  EXPECT_EQ(take(*other), "<21><22>");
  EXPECT_TRUE(s.idle());
}

TEST(Scheduler, CancelWithChoicesStillQueued) {
  SharingRuntime rt;
  Scheduler s(&rt, {1, 64, 8, 32}, nullptr);
  auto t = make_task({1, 2}, 50);
  t->n = 3;
  s.submit(t);
  s.step();
  s.step();
  t->cancel = true;
  run_until_idle(s);
  EXPECT_TRUE(t->done);
  EXPECT_EQ(t->finish_reason, "cancelled");
  EXPECT_TRUE(s.idle());
}

TEST(Scheduler, ChoicesInASmallPoolArePreemptedAndMatch) {
  SharingRuntime rt;
  rt.pool = 24;
  Metrics m;
  Scheduler s(&rt, {3, 20, 8, 32, 24}, &m);
  auto t = make_task({1, 2, 3, 4, 5}, 10);
  t->n = 3;
  s.submit(t);
  run_until_idle(s, 5000);
  ASSERT_TRUE(t->done);
  EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
  std::vector<ChoiceChunk> chunks;
  t->wait_choices(&chunks, 0);
  std::map<int32_t, std::string> text;
  for (auto& ch : chunks) text[ch.index] += ch.text;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(text[i], "<6><7><8><9><10><11><12><13><14><15>") << i;
  EXPECT_LE(rt.max_held, 24);
  EXPECT_EQ(m.prometheus(3, true, false, 0.0).find("f8_preemptions_total 0\n"), std::string::npos)
      << "no preemption happened";
}

// Speculative decoding in the batch: a runtime whose drafter proposes the
// next two tokens right and the third wrong; the output is the plain one,
// in fewer steps, with contiguous positions (the rejected drafts' cells are
// trimmed) and never beyond max_tokens.
namespace {
class SpecRuntime : public FakeRuntime {
 public:
  int32_t trims = 0;
  std::vector<int32_t> draft_lookup(const std::vector<int32_t>& h, int32_t, int32_t, int32_t n) override {
    std::vector<int32_t> d;
    for (int32_t i = 1; i <= n; ++i) d.push_back(i == 3 ? 42 : (h.back() + i) % kVocab);
    return d;
  }
  bool seq_trim(int32_t seq, int32_t p0) override {
    ++trims;
    held[seq] -= next_pos[seq] - p0;
    next_pos[seq] = p0;
    return true;
  }
  std::unique_ptr<TokenSampler> new_sampler(const GenParams&, uint64_t, std::string*) override {
    struct Greedy : TokenSampler {
      static int32_t argmax(const float* l) { return static_cast<int32_t>(std::max_element(l, l + kVocab) - l); }
      bool sample(const float* l, int32_t* t, std::string*) override {
        *t = argmax(l);
        return true;
      }
      void accept(int32_t) override {}
      bool verify(const std::vector<const float*>& rows, const std::vector<int32_t>& d,
                  const std::vector<const float*>&, std::vector<int32_t>* out, std::string*) override {
        out->clear();
        for (size_t i = 0; i < rows.size(); ++i) {
          out->push_back(argmax(rows[i]));
          if (i == d.size() || out->back() != d[i]) break;
        }
        return true;
      }
    };
    return std::make_unique<Greedy>();
  }
};
}  // namespace

TEST(Scheduler, SpeculativeDraftsAreVerifiedInTheBatch) {
  SpecRuntime rt;
  rt.pool = 64;
  Metrics m;
  SchedulerConfig cfg{2, 32, 4, 16, 64};
  cfg.spec_lookup = 3;
  cfg.draft_max = 3;
  Scheduler s(&rt, cfg, &m);
  auto a = make_task({1, 2, 3}, 8);
  auto b = make_task({50}, 5);
  b->params.spec_lookup = 0;  // this request: no drafts
  s.submit(a);
  s.submit(b);
  run_until_idle(s);
  EXPECT_EQ(take(*a), "<4><5><6><7><8><9><10><11>");
  EXPECT_EQ(a->finish_reason, "length");
  EXPECT_EQ(take(*b), "<51><52><53><54><55>");
  EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
  EXPECT_GT(rt.trims, 0);
  // Prefill step + 3 tokens per later step for `a` (2 drafts accepted + the
  // model's own), while `b` takes one per step: at most 1 + 5 batches.
  EXPECT_LE(rt.batches.size(), 6u);
  size_t drafts_of_b = 0;
  for (const auto& batch : rt.batches)
    for (const auto& e : batch) drafts_of_b += e.seq == 1 && e.pos > 1;
  EXPECT_LE(drafts_of_b, 4u);  // b's entries: its own tokens only
  // Context limit: a 12-position slot ends with "length" at the same token
  // as without drafts.
  std::string texts[2];
  for (int spec = 0; spec < 2; ++spec) {
    SpecRuntime rt2;
    rt2.pool = 12;
    SchedulerConfig c2{1, 12, 4, 16, 12};
    c2.spec_lookup = spec ? 3 : 0;
    c2.draft_max = 3;
    Scheduler s2(&rt2, c2, nullptr);
    auto c = make_task({1, 2, 3}, -1);
    s2.submit(c);
    run_until_idle(s2);
    texts[spec] = take(*c);
    EXPECT_EQ(c->finish_reason, "length");
    EXPECT_TRUE(rt2.position_error.empty()) << rt2.position_error;
  }
  EXPECT_EQ(texts[1], texts[0]);
  EXPECT_EQ(texts[0], "<4><5><6><7><8><9><10><11><12>");
}

// ------------------------------------------------------------ draft model
// f8 serve --draft-model (draft_model.h): the draft "model" is a second
// scripted runtime that agrees with the target (next = t + 1) except after
// tokens t with t % 4 == 3, where it predicts 42 — so some drafts are
// rejected and the draft context must be trimmed. Its decode checks, like
// the target's, that every sequence's positions stay contiguous (catch-up
// after trims, drops and preemptions) and that its pool never overflows.
namespace {

int64_t prom_value(Metrics& m, const std::string& name) {
  const std::string p = m.prometheus(4, true, false, 0.0);
  const size_t at = p.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stoll(p.substr(at + name.size() + 2));
}

class DraftRuntime : public SpecRuntime {
 public:
  bool fail_next = false;  // the next decode fails (cache unchanged)
  int32_t kv_free() const override {
    if (pool <= 0) return -1;
    int32_t total = 0;
    for (auto& [sq, n] : held) total += n;
    return pool - total;
  }
  bool decode(const std::vector<BatchEntry>& b, std::string* err) override {
    if (fail_next) {
      fail_next = false;
      *err = "scripted failure";
      return false;
    }
    FakeRuntime::decode(b, err);
    for (size_t i = 0; i < b.size(); ++i)
      if (b[i].token % 4 == 3) {
        std::fill_n(out.begin() + ptrdiff_t(i * kVocab), kVocab, 0.0f);
        out[i * kVocab + 42] = 10.0f;
      }
    return true;
  }
  std::unique_ptr<TokenSampler> new_sampler(const GenParams& p, uint64_t, std::string*) override {
    // Draft samplers: argmax; sample_probs also gives its point mass.
    struct S : TokenSampler {
      bool sample(const float* l, int32_t* t, std::string*) override {
        *t = static_cast<int32_t>(std::max_element(l, l + kVocab) - l);
        return true;
      }
      void accept(int32_t) override {}
      bool sample_probs(const float* l, int32_t* t, std::vector<float>* probs, std::string* e) override {
        sample(l, t, e);
        probs->assign(kVocab, 0.0f);
        (*probs)[size_t(*t)] = 1.0f;
        return true;
      }
    };
    (void)p;
    return std::make_unique<S>();
  }
};

// The target: greedy verify (SpecRuntime) and shared prompts for choices.
class DraftTargetRuntime : public SpecRuntime {
 public:
  int32_t q_rows = 0;  // draft distributions handed to verify
  bool seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) override {
    if (next_pos[src] < p1 && position_error.empty()) position_error = "seq_cp of positions the source does not hold";
    next_pos[dst] = p1;
    held[dst] = p1 - p0;
    return true;
  }
  std::unique_ptr<TokenSampler> new_sampler(const GenParams&, uint64_t, std::string*) override {
    struct V : TokenSampler {
      DraftTargetRuntime* rt;
      explicit V(DraftTargetRuntime* r) : rt(r) {}
      static int32_t argmax(const float* l) { return static_cast<int32_t>(std::max_element(l, l + kVocab) - l); }
      bool sample(const float* l, int32_t* t, std::string*) override {
        *t = argmax(l);
        return true;
      }
      void accept(int32_t) override {}
      bool verify(const std::vector<const float*>& rows, const std::vector<int32_t>& d,
                  const std::vector<const float*>& q, std::vector<int32_t>* out, std::string* err) override {
        if (!q.empty() && q.size() != d.size()) {
          *err = "q rows do not match the drafts";
          return false;
        }
        for (size_t i = 0; i < q.size(); ++i)
          if (q[i][size_t(d[i])] != 1.0f) {
            *err = "q row is not the draft's distribution";
            return false;
          }
        rt->q_rows += static_cast<int32_t>(q.size());
        out->clear();
        for (size_t i = 0; i < rows.size(); ++i) {
          out->push_back(argmax(rows[i]));
          if (i == d.size() || out->back() != d[i]) break;
        }
        return true;
      }
    };
    return std::make_unique<V>(this);
  }
};

std::string plain_text(int32_t last_prompt, int32_t n) {
  std::string s;
  for (int32_t i = 1; i <= n; ++i) s += "<" + std::to_string((last_prompt + i) % kVocab) + ">";
  return s;
}

}  // namespace

TEST(DraftModel, CatchUpDraftTrimAndDrop) {
  DraftRuntime drt;
  DraftModel dm(&drt, 2, 8, kVocab);
  GenParams p;
  p.temperature = 0;
  std::string err;
  ASSERT_TRUE(dm.start(0, p, 1, &err)) << err;
  std::vector<DraftModel::Drafts> out;
  // History 8 9 (9 pending): catch-up decodes both, drafts 10 11 then 42
  // (the draft model is wrong after 11); the last draft is not decoded.
  std::vector<int32_t> h = {8, 9};
  dm.draft({{0, &h, 3}}, &out, &err);
  EXPECT_TRUE(err.empty()) << err;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{10, 11, 42}));
  EXPECT_TRUE(out[0].q.empty());  // greedy: point masses
  EXPECT_EQ(dm.held(0), (std::vector<int32_t>{8, 9, 10, 11}));
  ASSERT_EQ(drt.batches.size(), 3u);  // catch-up, then one decode per further draft
  EXPECT_EQ(drt.batches[0].size(), 2u);
  EXPECT_FALSE(drt.batches[0][0].logits);
  EXPECT_TRUE(drt.batches[0][1].logits);
  // The target took 10 and chose 12 itself: 8 9 10 stay in its cache.
  dm.trim(0, 3);
  EXPECT_EQ(dm.held(0), (std::vector<int32_t>{8, 9, 10}));
  h = {8, 9, 10, 12};
  dm.draft({{0, &h, 2}}, &out, &err);
  EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{13, 14}));
  EXPECT_EQ(drt.batches[3].size(), 1u);  // only the new token 12 was caught up
  EXPECT_EQ(drt.batches[3][0].pos, 3);
  // A history that differs earlier (a rebuilt slot): cut to the shared prefix.
  h = {8, 9, 5, 6};
  dm.draft({{0, &h, 1}}, &out, &err);
  EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{7}));
  EXPECT_EQ(dm.held(0), h);
  // The whole history already held: its last token is decoded again for its logits.
  dm.draft({{0, &h, 1}}, &out, &err);
  EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{7}));
  EXPECT_EQ(drt.batches.back().size(), 1u);
  EXPECT_EQ(drt.batches.back()[0].pos, 3);
  // A long catch-up (20 tokens, capacity 8) is spread over steps, one
  // decode per step; a slot already in step (slot 1) goes first and drafts
  // in every one of them.
  std::vector<int32_t> longh;
  for (int32_t i = 0; i < 20; ++i) longh.push_back(i * 4 % 97);  // no token % 4 == 3
  ASSERT_TRUE(dm.start(1, p, 1, &err)) << err;
  std::vector<int32_t> h1 = {40};  // 40 41 42: the draft model is right after each
  for (int step = 0; step < 3; ++step) {
    const size_t before = drt.batches.size();
    dm.draft({{0, &longh, 1}, {1, &h1, 1}}, &out, &err);
    EXPECT_EQ(drt.batches.size() - before, 1u) << step;  // one catch-up decode, no further drafts (n = 1)
    EXPECT_LE(drt.batches.back().size(), 8u);
    EXPECT_EQ(out[1].tokens, (std::vector<int32_t>{h1.back() + 1})) << step;
    EXPECT_EQ(out[0].tokens.empty(), step < 2) << step;  // drafts once caught up
    h1.push_back(h1.back() + 1);
  }
  EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{(19 * 4 % 97) + 1}));
  EXPECT_EQ(dm.held(0), longh);
  EXPECT_TRUE(drt.position_error.empty()) << drt.position_error;
  dm.drop(0);
  EXPECT_TRUE(dm.held(0).empty());
  EXPECT_EQ(drt.held[0], 0);
  // A failed decode costs the drafts only: no drafts, the sequence dropped.
  drt.fail_next = true;
  dm.draft({{0, &h, 2}}, &out, &err);
  EXPECT_NE(err.find("scripted failure"), std::string::npos) << err;
  EXPECT_TRUE(out[0].tokens.empty());
  EXPECT_TRUE(dm.held(0).empty());
  dm.draft({{0, &h, 1}}, &out, &err);  // rebuilt at the next catch-up
  EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{7}));
  EXPECT_TRUE(drt.position_error.empty()) << drt.position_error;
}

TEST(DraftModel, SamplingRequestsHandTheirDistributions) {
  DraftRuntime drt;
  DraftModel dm(&drt, 1, 8, kVocab);
  GenParams p;
  p.temperature = 0.7f;
  std::string err;
  ASSERT_TRUE(dm.start(0, p, 1, &err)) << err;
  std::vector<int32_t> h = {20, 21};
  std::vector<DraftModel::Drafts> out;
  dm.draft({{0, &h, 2}}, &out, &err);
  ASSERT_EQ(out[0].tokens, (std::vector<int32_t>{22, 23}));
  ASSERT_EQ(out[0].q.size(), 2u);
  EXPECT_EQ(out[0].q[0].size(), size_t(kVocab));
  EXPECT_EQ(out[0].q[1][23], 1.0f);
}

TEST(Scheduler, DraftModelDraftsForAllSlotsInOneDecodePerPosition) {
  DraftTargetRuntime rt;
  DraftRuntime drt;
  DraftModel dm(&drt, 3, 32, kVocab);
  Metrics m;
  SchedulerConfig cfg{3, 64, 8, 32};
  cfg.draft_max = 3;
  Scheduler s(&rt, cfg, &m, &dm);
  auto a = make_task({1, 2, 4}, 12);
  auto b = make_task({50}, 8);
  auto c = make_task({20, 21}, 6);
  c->params.spec_draft_model = 0;  // this request: no drafts
  auto d = make_task({60}, 6);
  d->params.temperature = 0.7f;  // sampling: q rows go to verify
  for (auto& t : {a, b, c, d}) s.submit(t);
  run_until_idle(s);
  EXPECT_EQ(take(*a), plain_text(4, 12));
  EXPECT_EQ(take(*b), plain_text(50, 8));
  EXPECT_EQ(take(*c), plain_text(21, 6));
  EXPECT_EQ(take(*d), plain_text(60, 6));
  EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
  EXPECT_TRUE(drt.position_error.empty()) << drt.position_error;
  EXPECT_GT(rt.q_rows, 0);
  const int64_t drafted = prom_value(m, "f8_spec_draft_tokens_total");
  const int64_t accepted = prom_value(m, "f8_spec_accepted_tokens_total");
  EXPECT_GT(accepted, 0);
  EXPECT_GT(drafted, accepted);  // the draft model is wrong after ...3
  EXPECT_GT(rt.trims, 0);
  // c never reached the draft model; a and b drafted in shared decodes.
  bool shared = false;
  for (const auto& batch : drt.batches) {
    std::set<int32_t> seqs;
    for (const BatchEntry& e : batch) {
      EXPECT_NE(e.seq, 2) << "a request without draft_model was drafted";
      seqs.insert(e.seq);
    }
    shared |= seqs.size() > 1;
  }
  EXPECT_TRUE(shared) << "no draft decode carried two slots";
  // Every slot released: the draft sequences are kept (for a next turn),
  // each as the draft context holds it.
  for (int32_t i = 0; i < 3; ++i) EXPECT_EQ(int32_t(dm.held(i).size()), drt.held[i]) << i;
  EXPECT_FALSE(dm.held(0).empty());
}

// The next turn of a conversation (its prompt = the last prompt + reply +
// new tokens) goes to the slot that kept its draft sequence, and the draft
// model catches up only the new tokens, for two conversations at once and
// whichever order their next turns come in. Texts as without drafts.
TEST(Scheduler, DraftModelNextTurnCatchesUpOnlyItsNewTokens) {
  DraftTargetRuntime rt;
  DraftRuntime drt;
  DraftModel dm(&drt, 3, 64, kVocab);
  Metrics m;
  SchedulerConfig cfg{3, 128, 8, 64};
  cfg.draft_max = 3;
  Scheduler s(&rt, cfg, &m, &dm);
  std::vector<int32_t> px, py;
  for (int32_t i = 0; i < 24; ++i) px.push_back((i * 5) % 90), py.push_back((i * 7 + 1) % 90);
  auto x = make_task(px, 10), y = make_task(py, 10);
  s.submit(x);
  s.submit(y);
  run_until_idle(s);
  ASSERT_EQ(take(*x), plain_text(px.back(), 10));
  ASSERT_EQ(take(*y), plain_text(py.back(), 10));
  auto next_turn = [](std::vector<int32_t> p) {
    for (int32_t i = 1; i <= 10; ++i) p.push_back((p.back() + 1) % kVocab);  // the reply
    p.push_back(80);  // the new message
    p.push_back(81);
    return p;
  };
  const std::vector<int32_t> px2 = next_turn(px), py2 = next_turn(py);
  // The slots' kept sequences: each conversation's prompt and the reply as
  // far as the draft model went (the last steps, at max_tokens, draft nothing).
  int32_t slot_x = -1, slot_y = -1;
  for (int32_t i = 0; i < 3; ++i) {
    if (dm.shared_prefix(i, px2) > px.size()) slot_x = i;
    if (dm.shared_prefix(i, py2) > py.size()) slot_y = i;
  }
  ASSERT_GE(slot_x, 0);
  ASSERT_GE(slot_y, 0);
  ASSERT_NE(slot_x, slot_y);
  const size_t kept_x = dm.held(slot_x).size(), kept_y = dm.held(slot_y).size();
  EXPECT_EQ(dm.shared_prefix(slot_x, px2), kept_x);
  EXPECT_EQ(dm.shared_prefix(slot_y, py2), kept_y);
  const size_t before = drt.batches.size();
  auto y2 = make_task(py2, 6), x2 = make_task(px2, 6);  // y's turn first: slot order would give it x's slot
  s.submit(y2);
  s.submit(x2);
  run_until_idle(s);
  EXPECT_EQ(take(*x2), plain_text(81, 6));
  EXPECT_EQ(take(*y2), plain_text(81, 6));
  // Each slot's first draft decode after the new turns: its catch-up, what
  // it did not keep of its history (prompt + the first generated token,
  // pending), at the positions that follow what it kept: 5 tokens, not 37.
  ASSERT_GT(drt.batches.size(), before);
  for (const auto& [slot, kept, prompt] :
       {std::tuple{slot_x, kept_x, &px2}, std::tuple{slot_y, kept_y, &py2}}) {
    int32_t n = 0;
    for (size_t b = before; b < drt.batches.size() && n == 0; ++b)
      for (const BatchEntry& e : drt.batches[b])
        if (e.seq == slot) {
          ++n;
          EXPECT_GE(e.pos, int32_t(kept)) << "slot " << slot;
        }
    EXPECT_EQ(n, int32_t(prompt->size() + 1 - kept)) << "slot " << slot;
    EXPECT_LE(n, 5) << "slot " << slot;
  }
  EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
  EXPECT_TRUE(drt.position_error.empty()) << drt.position_error;
}

// A kept sequence gives its cells back when a step needs them: finished
// requests' sequences first, least recently used first.
TEST(DraftModel, KeptSequencesMakeRoomLeastRecentlyUsedFirst) {
  DraftRuntime drt;
  drt.pool = 24;
  DraftModel dm(&drt, 3, 16, kVocab);
  GenParams p;
  p.temperature = 0;
  std::string err;
  std::vector<DraftModel::Drafts> out;
  std::vector<int32_t> h0, h1, h2;
  for (int32_t i = 0; i < 10; ++i) h0.push_back(i * 4), h1.push_back(i * 4 + 1), h2.push_back(i * 4 + 2);
  for (int32_t slot : {0, 1}) {
    ASSERT_TRUE(dm.start(slot, p, 1, &err)) << err;
    dm.draft({{slot, slot == 0 ? &h0 : &h1, 1}}, &out, &err);
    ASSERT_TRUE(err.empty()) << err;
    dm.release(slot);
  }
  EXPECT_EQ(dm.held(0).size(), 10u);
  EXPECT_EQ(dm.held(1).size(), 10u);
  EXPECT_EQ(drt.kv_free(), 4);
  // Slot 2 needs 10 + 2 cells: slot 0's sequence (the older) goes, slot 1's stays.
  ASSERT_TRUE(dm.start(2, p, 1, &err)) << err;
  dm.draft({{2, &h2, 3}}, &out, &err);
  EXPECT_TRUE(err.empty()) << err;
  EXPECT_EQ(out[0].tokens.size(), 3u);
  EXPECT_TRUE(dm.held(0).empty());
  EXPECT_EQ(dm.held(1).size(), 10u);
  EXPECT_EQ(dm.held(2).size(), 12u);
  EXPECT_TRUE(drt.position_error.empty()) << drt.position_error;
  // A running request's own sequence is kept over a finished one's: slot 1
  // (finished) goes before slot 2 (running, not drafting in this step).
  ASSERT_TRUE(dm.start(0, p, 1, &err)) << err;
  dm.draft({{0, &h0, 2}}, &out, &err);
  EXPECT_TRUE(dm.held(1).empty());
  EXPECT_EQ(dm.held(2).size(), 12u);
  EXPECT_EQ(dm.held(0).size(), 11u);
  EXPECT_TRUE(drt.position_error.empty()) << drt.position_error;
}

// Preemption in a small pool and choices sharing a prompt: the draft
// context is dropped with the target's cells and rebuilt by catch-up; the
// texts equal plain decoding and the draft context (the same pool size)
// never overflows.
TEST(Scheduler, DraftModelSurvivesPreemptionAndChoices) {
  auto run = [](int32_t kv_cells, bool with_draft, Metrics* m, DraftRuntime* drt) {
    DraftTargetRuntime rt;
    rt.pool = kv_cells;
    drt->pool = kv_cells;
    DraftModel dm(drt, 4, 32, kVocab);
    SchedulerConfig cfg{4, 64, 8, 32, kv_cells};
    cfg.draft_max = 4;
    Scheduler s(&rt, cfg, m, with_draft ? &dm : nullptr);
    std::vector<std::shared_ptr<Task>> ts;
    for (int i = 0; i < 3; ++i)
      ts.push_back(make_task({i * 10 + 1, i * 10 + 2, i * 10 + 4, i * 10 + 5, i * 10 + 6}, 40));
    auto multi = make_task({70, 71, 72}, 10);
    multi->n = 2;
    ts.push_back(multi);
    for (auto& t : ts) s.submit(t);
    run_until_idle(s, 5000);
    std::vector<std::string> out;
    for (auto& t : ts) {
      EXPECT_TRUE(t->done);
      EXPECT_TRUE(t->finish_reason == "length") << t->finish_reason << " " << t->error;
      if (t->n == 1) {
        out.push_back(take(*t));
        continue;
      }
      std::vector<ChoiceChunk> chunks;
      t->wait_choices(&chunks, 0);
      std::map<int32_t, std::string> text;
      for (auto& ch : chunks) text[ch.index] += ch.text;
      for (auto& [i, tx] : text) out.push_back(tx);
    }
    EXPECT_TRUE(rt.position_error.empty()) << rt.position_error;
    return out;
  };
  DraftRuntime free_drt;
  const auto want = run(0, false, nullptr, &free_drt);
  ASSERT_EQ(want.size(), 5u);
  EXPECT_EQ(want[4], plain_text(72, 10));
  DraftRuntime drt;
  Metrics m;
  EXPECT_EQ(run(90, true, &m, &drt), want);
  EXPECT_TRUE(drt.position_error.empty()) << drt.position_error;
  EXPECT_LE(drt.max_held, 90);
  EXPECT_GT(prom_value(m, "f8_preemptions_total"), 0) << "no preemption happened";
  EXPECT_GT(prom_value(m, "f8_spec_accepted_tokens_total"), 0);
}
