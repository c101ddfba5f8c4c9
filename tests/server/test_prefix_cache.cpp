// The prefix cache (src/server/prefix_cache.h) and the scheduler using it,
// against a runtime that models the KV pool cell by cell: a cell holds one
// (position, token), sequences see cells (seq_cp shares them, nothing is
// copied), a cell is freed when no sequence sees it, and the "model" answers
// from exactly the cells a sequence sees. So a wrongly mapped block changes
// the text, a write into a shared cell or a pool overflow is an error, and
// texts with the cache must equal texts without it.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "server/prefix_cache.h"
#include "server/scheduler.h"

using namespace f8srv;

namespace {

constexpr int32_t kVocab = 50;
constexpr int32_t kEog = 49;

class PoolRuntime : public Runtime {
 public:
  explicit PoolRuntime(int32_t pool) : pool_(pool) {}

  struct Cell {
    int32_t pos, token;
    std::set<int32_t> seqs;
  };
  std::map<int32_t, Cell> cells;               // cell id -> contents (only used cells)
  std::map<int32_t, std::map<int32_t, int32_t>> seqs;  // seq -> pos -> cell
  std::string error;
  int64_t decoded = 0;  // batch entries decoded (prefill work)
  int32_t next_cell = 0;
  std::vector<float> out;

  bool decode(const std::vector<BatchEntry>& b, std::string* err) override {
    if (int32_t(b.size()) > kv_free()) {
      *err = "kv cache full";
      if (error.empty()) error = "decode of " + std::to_string(b.size()) + " with " + std::to_string(kv_free()) + " free";
      return false;
    }
    out.assign(b.size() * kVocab, 0.0f);
    for (size_t i = 0; i < b.size(); ++i) {
      auto& sp = seqs[b[i].seq];
      if (sp.count(b[i].pos) && error.empty()) error = "position written twice (a shared cell overwritten?)";
      if (!sp.empty() && sp.rbegin()->first != b[i].pos - 1 && error.empty())
        error = "seq " + std::to_string(b[i].seq) + " skips to position " + std::to_string(b[i].pos);
      if (sp.empty() && b[i].pos != 0 && error.empty()) error = "first position is not 0";
      const int32_t c = next_cell++;
      cells[c] = Cell{b[i].pos, b[i].token, {b[i].seq}};
      sp[b[i].pos] = c;
      ++decoded;
      // The next token: a hash of every (pos, token) the sequence sees.
      uint64_t h = 1469598103934665603ULL;
      for (auto& [p, cell] : sp) h = (h ^ uint64_t(cells[cell].token * 131 + p)) * 1099511628211ULL;
      out[i * kVocab + (h % (kVocab - 1))] = 10.0f;
    }
    return true;
  }
  const float* logits(int32_t i) override { return out.data() + size_t(i) * kVocab; }
  void seq_clear(int32_t seq) override {
    for (auto& [p, c] : seqs[seq]) {
      cells[c].seqs.erase(seq);
      if (cells[c].seqs.empty()) cells.erase(c);
    }
    seqs.erase(seq);
  }
  bool seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) override {
    for (auto& [p, c] : seqs[src])
      if (p >= p0 && (p1 < 0 || p < p1)) {
        cells[c].seqs.insert(dst);
        seqs[dst][p] = c;
      }
    return true;
  }
  int32_t kv_free() const override { return pool_ - int32_t(cells.size()); }
  bool is_eog(int32_t t) const override { return t == kEog; }
  std::unique_ptr<TokenSampler> new_sampler(const GenParams&, uint64_t, std::string*) override {
    struct Greedy : TokenSampler {
      bool sample(const float* l, int32_t* t, std::string*) override {
        *t = int32_t(std::max_element(l, l + kVocab) - l);
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

 private:
  int32_t pool_;
};

std::vector<int32_t> tokens(int32_t n, int32_t seed) {
  std::vector<int32_t> v;
  for (int32_t i = 0; i < n; ++i) v.push_back(int32_t((i * 7 + seed * 13) % (kVocab - 1)));
  return v;
}

std::shared_ptr<Task> task(std::vector<int32_t> prompt, int32_t max_tokens) {
  auto t = std::make_shared<Task>();
  t->prompt = std::move(prompt);
  t->params.max_tokens = max_tokens;
  t->params.ignore_eos = true;
  return t;
}

std::string text(Task& t) {
  std::string s;
  t.wait(&s, 0);
  return s;
}

}  // namespace

TEST(PrefixCache, ChainDependsOnEveryEarlierBlock) {
  auto a = tokens(200, 1), b = a;
  b[10] += 1;  // block 0 differs: every later hash differs
  auto ha = PrefixCache::chain(a.data(), 200), hb = PrefixCache::chain(b.data(), 200);
  ASSERT_EQ(ha.size(), 3u);  // whole blocks only
  for (size_t i = 0; i < 3; ++i) EXPECT_NE(ha[i], hb[i]);
  auto c = a;
  c[150] += 1;  // block 2 differs: blocks 0, 1 equal
  auto hc = PrefixCache::chain(c.data(), 200);
  EXPECT_EQ(ha[0], hc[0]);
  EXPECT_EQ(ha[1], hc[1]);
  EXPECT_NE(ha[2], hc[2]);
}

TEST(PrefixCache, KeepsWholeBlocksAndMapsTheLongestPrefix) {
  PoolRuntime rt(1000);
  PrefixCache pc(&rt, {10, 11, 12});
  auto a = tokens(150, 1);
  std::vector<BatchEntry> b;
  for (int32_t i = 0; i < 150; ++i) b.push_back({a[size_t(i)], i, 0, false});
  std::string err;
  ASSERT_TRUE(rt.decode(b, &err));
  pc.keep(0, a, 150);  // 2 blocks kept, the 22-token tail freed
  EXPECT_EQ(pc.entries(), 1);
  EXPECT_EQ(pc.cached_blocks(), 2);
  EXPECT_EQ(rt.cells.size(), 128u);
  EXPECT_TRUE(rt.seqs[0].empty());
  // Same first block, different second: one block mapped.
  auto c = a;
  c[100] += 1;
  EXPECT_EQ(pc.map(c, 149, 1), 64);
  EXPECT_EQ(rt.seqs[1].size(), 64u);
  // max_tokens inside a block cuts there.
  EXPECT_EQ(pc.map(a, 100, 2), 100);
  EXPECT_EQ(pc.map(a, 149, 3), 128);
  EXPECT_EQ(rt.cells.size(), 128u);  // shared, not copied
  // Nothing shared with a different start.
  EXPECT_EQ(pc.map(tokens(150, 2), 149, 4), 0);
  EXPECT_EQ(pc.stats().lookups, 4);
  EXPECT_EQ(pc.stats().hits, 3);
  EXPECT_EQ(pc.stats().cached_tokens, 64 + 100 + 128);
}

TEST(PrefixCache, LongerEntryReplacesItsPrefixAndLruEvicts) {
  PoolRuntime rt(10000);
  PrefixCache pc(&rt, {10, 11});
  auto fill = [&](int32_t seq, const std::vector<int32_t>& t, int32_t from) {
    std::vector<BatchEntry> b;
    for (int32_t i = from; i < int32_t(t.size()); ++i) b.push_back({t[size_t(i)], i, seq, false});
    std::string err;
    ASSERT_TRUE(rt.decode(b, &err));
  };
  auto a = tokens(128, 1);
  fill(0, a, 0);
  pc.keep(0, a, 128);
  auto a2 = a;
  for (int32_t t : tokens(64, 5)) a2.push_back(t);
  ASSERT_EQ(pc.map(a2, 191, 1), 128);
  fill(1, a2, 128);
  pc.keep(1, a2, 192);  // extends the entry of a: that one is dropped
  EXPECT_EQ(pc.entries(), 1);
  EXPECT_EQ(pc.cached_blocks(), 3);
  EXPECT_EQ(rt.cells.size(), 192u);
  auto b = tokens(64, 2), c = tokens(64, 3);
  fill(0, b, 0);
  pc.keep(0, b, 64);
  EXPECT_EQ(pc.entries(), 2);
  fill(0, c, 0);
  pc.keep(0, c, 64);  // no id left: the least recently used (a2) goes
  EXPECT_EQ(pc.entries(), 2);
  EXPECT_EQ(pc.map(a2, 191, 2), 0);
  EXPECT_EQ(pc.map(b, 63, 3), 63);
  EXPECT_EQ(pc.stats().evictions, 1);
  rt.seq_clear(3);
  EXPECT_TRUE(pc.evict_lru());  // c (b was just used)
  EXPECT_EQ(pc.map(b, 63, 3), 63);
  EXPECT_EQ(rt.cells.size(), 64u);
}

namespace {

// Runs the tasks (submitted at the given steps) and returns their texts.
struct CacheRun {
  std::vector<std::string> texts;
  std::vector<int32_t> cached;
  int64_t decoded = 0;
  std::string error;
  int64_t preemptions = 0, evictions = 0;
};

CacheRun run(bool cache, int32_t pool, int32_t n_slots, const std::vector<std::vector<int32_t>>& prompts,
        const std::vector<int32_t>& start_step, int32_t max_tokens) {
  PoolRuntime rt(pool);
  Metrics m;
  SchedulerConfig cfg{n_slots, std::min(512, pool), 64, 48, pool};
  cfg.prefix_cache = cache;
  cfg.max_seq = n_slots + 6;
  Scheduler s(&rt, cfg, &m);
  std::vector<std::shared_ptr<Task>> ts;
  for (auto& p : prompts) ts.push_back(task(p, max_tokens));
  size_t next = 0;
  for (int step = 0; step < 50000; ++step) {
    while (next < ts.size() && start_step[next] <= step) s.submit(ts[next++]);
    if (!s.step() && next == ts.size()) break;
  }
  CacheRun r;
  for (auto& t : ts) {
    EXPECT_TRUE(t->done);
    r.texts.push_back(text(*t));
    r.cached.push_back(t->n_cached);
  }
  r.decoded = rt.decoded;
  r.error = rt.error;
  std::string prom = m.prometheus(n_slots, true, false, 0);
  auto value = [&](const std::string& name) {
    size_t at = prom.find("\n" + name + " ");
    return at == std::string::npos ? int64_t(-1) : std::stoll(prom.substr(at + name.size() + 2));
  };
  r.preemptions = value("f8_preemptions_total");
  r.evictions = value("f8_prefix_cache_evictions_total");
  return r;
}

}  // namespace

// A conversation: each turn's prompt is the last prompt + its answer + a new
// message. With the cache the later turns decode only the new part, and the
// texts are the same as without it.
TEST(SchedulerPrefixCache, NextTurnReusesTheConversation) {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<int32_t> conv = tokens(300, 1);
  // Turns run one after another (start steps far apart), so each sees the
  // previous one's kept blocks; the "answer" part is the fake model's output,
  // unknown here, so each turn appends a fixed message instead.
  for (int turn = 0; turn < 3; ++turn) {
    prompts.push_back(conv);
    for (int32_t t : tokens(40, 7 + turn)) conv.push_back(t);
  }
  const std::vector<int32_t> starts = {0, 1000, 2000};
  CacheRun off = run(false, 2048, 2, prompts, starts, 20);
  CacheRun on = run(true, 2048, 2, prompts, starts, 20);
  EXPECT_TRUE(off.error.empty()) << off.error;
  EXPECT_TRUE(on.error.empty()) << on.error;
  EXPECT_EQ(on.texts, off.texts);
  EXPECT_EQ(on.cached, (std::vector<int32_t>{0, 256, 320}));
  EXPECT_EQ(off.cached, (std::vector<int32_t>{0, 0, 0}));
  EXPECT_LT(on.decoded, off.decoded - 500);
}

// Interleaved requests sharing a long system prompt, in a pool so small that
// requests are preempted and cache entries evicted: texts equal the run
// without the cache, the pool never overflows, no shared cell is written.
TEST(SchedulerPrefixCache, InterleavedPreemptionAndEvictionMatchNoCache) {
  const auto system = tokens(200, 3);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<int32_t> starts;
  for (int i = 0; i < 10; ++i) {
    auto p = system;
    for (int32_t t : tokens(10 + 17 * i, 20 + i)) p.push_back(t);
    if (i % 3 == 2) p = tokens(90 + i, 40 + i);  // unrelated prompts in between
    prompts.push_back(p);
    starts.push_back(i * 7);
  }
  for (int32_t pool : {2048, 700, 420}) {
    CacheRun off = run(false, pool, 3, prompts, starts, 60);
    CacheRun on = run(true, pool, 3, prompts, starts, 60);
    EXPECT_TRUE(off.error.empty()) << pool << ": " << off.error;
    EXPECT_TRUE(on.error.empty()) << pool << ": " << on.error;
    EXPECT_EQ(on.texts, off.texts) << "pool " << pool;
    EXPECT_LT(on.decoded, off.decoded) << "pool " << pool;
    if (pool == 420) {
      EXPECT_GT(on.preemptions, 0);
      EXPECT_GT(on.evictions, 0);
    }
  }
}
