// test_invariance.cpp — batch invariance of the whole forward pass
// (docs/runtime.md "Determinism"): the logits of one sequence A are
// bit-identical (memcmp) to those of A computed alone — one prefill, then one
// token per decode call, one thread, a fresh pool — however it is run:
//   - beside random other sequences of random lengths, whose prefills and
//     decodes share A's decode calls in random mixes;
//   - its prompt chunked by n_batch (1, 2, 3, 5, 16, 64) or fed in random
//     pieces;
//   - on 1, 2 or 3 threads;
//   - with its KV cells scattered through a pool fragmented by other
//     sequences (and one with no free page left);
//   - with its prefix computed earlier by another sequence and shared
//     (seq_cp: what a prefix cache does);
//   - removed half-way and recomputed in one prefill (what the server does
//     to a preempted request);
//   - under tensor parallel 2 (against A alone at tp 2; tp 1 and tp 2 split
//     the row-parallel sums differently, so they are not compared);
//   - with --emulate-gpu activations when deterministic (FP8 FMHA off).
// On cpu-ref and on cpu-simd with each kernel table this machine runs
// (cpu-simd:ISA for ISA in cpu_isas()), over synthetic Llama (E4M3 channel
// weights, FP8 KV), Qwen2 (biases, tied embeddings, odd K: the other gemm
// path) and Mistral (sliding window) models, and the DeepSeek-V3 fixture
// (converted from ~/.cache/f8/synthetic/deepseek-v3: multi-head latent
// attention over an FP8 latent cache, noaux_tc experts) in each MLA form
// alone and with --deterministic (the absorbed form for every chunk size: a
// prompt of 70 tokens in one chunk or in pieces). A kernel change that breaks
// the order of a sum fails here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>

#include "backend/backend.h"
#include "convert/converter.h"
#include "model/context.h"
#include "model/model.h"
#include "model_test_util.h"
#include "tiny_model.h"

namespace {

struct Rig {
  tiny::Spec spec;
  std::unique_ptr<ggf8::File> file;
  std::unique_ptr<f8model::Model> model;
};

std::unique_ptr<Rig> make(const tiny::Spec& s, const std::string& name) {
  auto r = std::make_unique<Rig>();
  r->spec = s;
  const std::string p = std::string(F8_BINARY_DIR) + "/tests_inv_" + name + ".f8";
  ggf8::Status ws = tiny::write(p, s, nullptr);
  EXPECT_TRUE(ws.ok()) << ws.message;
  ggf8::Status os = ggf8::File::open(p, &r->file);
  EXPECT_TRUE(os.ok()) << os.message;
  f8model::LoadOptions lo;
  f8model::Status st = f8model::Model::load(*r->file, lo, &r->model);
  EXPECT_TRUE(st.ok()) << st.message;
  return st.ok() ? std::move(r) : nullptr;
}

std::vector<std::string> backends() {
  std::vector<std::string> b = {"cpu-ref"};
  for (const std::string& isa : f8backend::cpu_isas()) b.push_back("cpu-simd:" + isa);
  return b;
}

struct RunSetup {
  std::string backend;
  int threads = 1, n_batch = 512, n_ctx = 512, tp = 1;
  ggf8::DType kv = ggf8::DType::E4M3;
  bool emulate = false, deterministic = false;
  int mla_form = 0;  // ContextParams::mla_form (0: by chunk size)
};

std::unique_ptr<f8model::Context> context(Rig& r, const RunSetup& su) {
  f8model::ContextParams cp;
  cp.backend = su.backend;
  cp.n_threads = su.threads * su.tp;
  cp.n_batch = su.n_batch;
  cp.n_ctx = su.n_ctx;
  cp.tp = su.tp;
  cp.kv_type = su.kv;
  cp.emulate_gpu = su.emulate;
  // avx512-amx is batch-invariant only as a deterministic stream (which
  // runs the avx512 table; docs/backend.md "Tiers").
  cp.deterministic = su.deterministic || su.backend.find("amx") != std::string::npos;
  cp.mla_form = su.mla_form;
  // FP8 KV: fixed per-layer scales, the same in every run.
  cp.k_scale.assign(r.model->hparams().n_layer, 0.05f);
  cp.v_scale.assign(r.model->hparams().n_layer, 0.04f);
  return f8test::create_context(*r.model, cp);
}

constexpr int kSeqA = 0;

// A's logits by position.
using Logits = std::map<int, std::vector<float>>;

// One decode call of entries (seq, pos, token); records every entry's logits
// for sequence `rec` (as A's) into *out.
struct Entry {
  int seq, pos, tok;
};
void decode(f8model::Context& c, const std::vector<Entry>& es, int rec, int vocab, Logits* out) {
  std::vector<int32_t> tok, pos, seq;
  std::vector<int8_t> lg;
  for (const Entry& e : es) tok.push_back(e.tok), pos.push_back(e.pos), seq.push_back(e.seq), lg.push_back(1);
  f8model::Status st = c.decode({int32_t(es.size()), tok.data(), pos.data(), seq.data(), lg.data()});
  ASSERT_TRUE(st.ok()) << st.message;
  for (size_t i = 0; i < es.size(); ++i) {
    if (es[i].seq != rec) continue;
    const float* l = c.logits(int32_t(i), &st);
    ASSERT_NE(l, nullptr) << st.message;
    (*out)[es[i].pos].assign(l, l + vocab);
  }
}

// A alone: the prompt in one call, then one token per call.
Logits reference(Rig& r, RunSetup su, const std::vector<int32_t>& toks, int prompt) {
  su.threads = 1;
  su.n_batch = 512;
  auto c = context(r, su);
  Logits out;
  if (!c) return out;
  std::vector<Entry> es;
  for (int p = 0; p < prompt; ++p) es.push_back({kSeqA, p, toks[p]});
  decode(*c, es, kSeqA, int(r.spec.vocab), &out);
  for (int p = prompt; p < int(toks.size()); ++p) decode(*c, {{kSeqA, p, toks[p]}}, kSeqA, int(r.spec.vocab), &out);
  return out;
}

void expect_same(const Logits& ref, const Logits& got, int n, const std::string& what) {
  ASSERT_EQ(int(got.size()), n) << what << ": logits for " << got.size() << " of A's " << n << " positions";
  for (const auto& [p, l] : got) {
    const auto it = ref.find(p);
    ASSERT_TRUE(it != ref.end()) << what;
    ASSERT_EQ(l.size(), it->second.size()) << what;
    ASSERT_EQ(std::memcmp(l.data(), it->second.data(), l.size() * sizeof(float)), 0)
        << what << ": A's logits at position " << p << " differ from A alone (first: "
        << [&] {
             for (size_t i = 0; i < l.size(); ++i)
               if (l[i] != it->second[i])
                 return std::to_string(i) + " " + std::to_string(l[i]) + " vs " + std::to_string(it->second[i]);
             return std::string("sign of zero");
           }()
        << ")";
  }
}

// Other sequences' tokens.
std::vector<int32_t> noise_tokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = int32_t(rng() % uint32_t(vocab));
  return t;
}

// A mixed with `others` random sequences: each call takes a random piece of
// A (none, one token, or a run of its remaining prompt) and of each other
// active sequence; every piece at most n_batch tokens in total per call is
// not required (the context chunks bigger calls itself).
Logits mixed(Rig& r, const RunSetup& su, const std::vector<int32_t>& toks, int prompt, int others, uint32_t seed,
             bool fragment) {
  auto c = context(r, su);
  Logits out;
  if (!c) return out;
  const int V = int(r.spec.vocab);
  std::mt19937 rng(seed);
  if (fragment) {  // fillers, some removed: A's cells land in the holes
    for (int f = 1; f <= 4; ++f) {
      std::vector<Entry> es;
      const auto ft = noise_tokens(20 + 7 * f, V, seed + f);
      for (int p = 0; p < int(ft.size()); ++p) es.push_back({10 + f, p, ft[p]});
      decode(*c, es, -1, V, &out);
    }
    EXPECT_TRUE(c->seq_rm(11, 0, -1).ok());
    EXPECT_TRUE(c->seq_rm(13, 5, -1).ok());
  }
  struct S {
    int id;
    std::vector<int32_t> t;
    int done = 0;
  };
  std::vector<S> seqs = {{kSeqA, toks}};
  for (int o = 1; o <= others; ++o)
    seqs.push_back({o, noise_tokens(5 + int(rng() % 60), V, seed * 31 + o)});
  while (seqs[0].done < int(toks.size())) {
    // Per sequence a piece (none, one token, or a run of what is left of
    // its prompt), interleaved at random (each sequence's own order kept).
    std::vector<std::vector<Entry>> pieces;
    for (S& s : seqs) {
      const int left = int(s.t.size()) - s.done;
      if (left == 0 || rng() % 4 == 0) continue;  // this sequence sits this call out
      const int pre = std::max(0, (s.id == kSeqA ? prompt : int(s.t.size()) / 2) - s.done);
      const int n = std::min(left, pre > 0 ? 1 + int(rng() % uint32_t(pre)) : 1);
      pieces.emplace_back();
      for (int i = 0; i < n; ++i, ++s.done) pieces.back().push_back({s.id, s.done, s.t[s.done]});
    }
    std::vector<Entry> batch;
    for (size_t left = pieces.size(); left > 0;) {
      auto& q = pieces[rng() % pieces.size()];
      if (q.empty()) continue;
      batch.push_back(q.front());
      q.erase(q.begin());
      if (q.empty()) --left;
    }
    if (batch.empty()) continue;
    decode(*c, batch, kSeqA, V, &out);
    if (testing::Test::HasFatalFailure()) return out;
    // Finished others leave (their cells freed for others to take).
    for (S& s : seqs)
      if (s.id != kSeqA && s.done == int(s.t.size()) && rng() % 2 == 0) {
        EXPECT_TRUE(c->seq_rm(s.id, 0, -1).ok());
        s.t = noise_tokens(5 + int(rng() % 40), V, rng());
        s.done = 0;
      }
  }
  return out;
}

// A's prefix computed by another sequence (beside a third), shared with A by
// seq_cp, then A's own tokens.
Logits prefix_shared(Rig& r, const RunSetup& su, const std::vector<int32_t>& toks, int k) {
  auto c = context(r, su);
  Logits out;
  if (!c) return out;
  const int V = int(r.spec.vocab), X = 9;
  const auto other = noise_tokens(23, V, 5);
  std::vector<Entry> es;
  for (int p = 0; p < 23; ++p) es.push_back({3, p, other[p]});
  for (int p = 0; p < k; ++p) es.push_back({X, p, toks[p]});
  decode(*c, es, X, V, &out);  // X's logits are A's for positions < k
  EXPECT_TRUE(c->seq_cp(X, kSeqA, 0, k).ok());
  EXPECT_TRUE(c->seq_rm(X, 0, -1).ok());
  for (int p = k; p < int(toks.size()); ++p) decode(*c, {{kSeqA, p, toks[p]}}, kSeqA, V, &out);
  return out;
}

// A computed up to position m, removed (preempted), recomputed in one call,
// then continued.
Logits recomputed(Rig& r, const RunSetup& su, const std::vector<int32_t>& toks, int prompt, int m) {
  auto c = context(r, su);
  Logits out, first;
  if (!c) return out;
  const int V = int(r.spec.vocab);
  std::vector<Entry> es;
  for (int p = 0; p < prompt; ++p) es.push_back({kSeqA, p, toks[p]});
  decode(*c, es, kSeqA, V, &first);
  for (int p = prompt; p < m; ++p) decode(*c, {{kSeqA, p, toks[p]}, {4, p, toks[0]}}, kSeqA, V, &first);
  EXPECT_TRUE(c->seq_rm(kSeqA, 0, -1).ok());
  es.clear();
  for (int p = 0; p < m; ++p) es.push_back({kSeqA, p, toks[p]});
  decode(*c, es, kSeqA, V, &out);
  for (int p = m; p < int(toks.size()); ++p) decode(*c, {{kSeqA, p, toks[p]}}, kSeqA, V, &out);
  for (const auto& [p, l] : first)  // the first computation must agree too
    EXPECT_EQ(std::memcmp(l.data(), out[p].data(), l.size() * 4), 0) << "recompute changed position " << p;
  return out;
}

void check_rig(Rig& rr, const std::string& name, int prompt, int gen, const RunSetup& proto = {}) {
  Rig* r = &rr;
  const tiny::Spec& s = rr.spec;
  const std::vector<int32_t> toks = f8test::tokens(prompt + gen, int(s.vocab), 11);
  const int n = prompt + gen;
  for (const std::string& be : backends()) {
    RunSetup base = proto;
    base.backend = be;
    const Logits ref = reference(*r, base, toks, prompt);
    ASSERT_EQ(int(ref.size()), n) << name << " " << be;
    const bool ref_backend = be == "cpu-ref";
    uint32_t seed = 1;
    for (int threads : {1, 2, 3}) {
      if (ref_backend && threads > 1) break;  // one thread whatever n_threads says
      for (int nb : {1, 2, 3, 5, 16, 64}) {
        RunSetup su = base;
        su.threads = threads;
        su.n_batch = nb;
        const std::string what = name + " " + be + " threads " + std::to_string(threads) + " n_batch " +
                                 std::to_string(nb);
        expect_same(ref, mixed(*r, su, toks, prompt, nb % 3 + 1, seed++, false), n, what + " mixed");
        if (testing::Test::HasFatalFailure()) return;
      }
      RunSetup su = base;
      su.threads = threads;
      su.n_ctx = 384;  // tight: 6 pages, few wholly free once the fillers and others took theirs
      expect_same(ref, mixed(*r, su, toks, prompt, 2, seed++, true), n,
                  name + " " + be + " threads " + std::to_string(threads) + " fragmented pool");
      expect_same(ref, prefix_shared(*r, su, toks, prompt / 2 + 3), n, name + " " + be + " shared prefix");
      expect_same(ref, recomputed(*r, su, toks, prompt, prompt + gen / 2), n, name + " " + be + " recomputed");
      if (testing::Test::HasFatalFailure()) return;
    }
  }
}

void check_model(const tiny::Spec& s, const std::string& name, int prompt, int gen) {
  auto r = make(s, name);
  ASSERT_TRUE(r);
  check_rig(*r, name, prompt, gen);
}

// A synthetic HF checkpoint of ~/.cache/f8/synthetic (scripts/fixtures.sh)
// converted as published; null (and the reason in *why) when it is missing.
std::unique_ptr<Rig> converted(const std::string& fixture, std::string* why) {
  const char* fc = std::getenv("F8_CACHE");
  const char* home = std::getenv("HOME");
  const std::string cache = fc && *fc ? fc : std::string(home ? home : "") + "/.cache/f8";
  const std::string src = cache + "/synthetic/" + fixture;
  if (!std::filesystem::exists(src + "/config.json")) {
    *why = "fixture " + src + " missing (bash scripts/fixtures.sh)";
    return nullptr;
  }
  f8conv::ConvertOptions o;
  o.model_dir = src;
  o.output = std::string(F8_BINARY_DIR) + "/tests_inv_" + fixture + ".f8";
  o.overwrite = true;
  o.threads = 1;
  f8conv::ConvertReport rep;
  ggf8::Status cs = f8conv::convert_checkpoint(o, &rep);
  EXPECT_TRUE(cs.ok()) << cs.message;
  if (!cs.ok()) return nullptr;
  auto r = std::make_unique<Rig>();
  ggf8::Status os = ggf8::File::open(o.output, &r->file);
  EXPECT_TRUE(os.ok()) << os.message;
  if (!os.ok()) return nullptr;
  f8model::LoadOptions lo;
  f8model::Status st = f8model::Model::load(*r->file, lo, &r->model);
  EXPECT_TRUE(st.ok()) << st.message;
  if (!st.ok()) return nullptr;
  r->spec.vocab = r->model->hparams().n_vocab;
  return r;
}

tiny::Spec llama_e4m3() {
  tiny::Spec s;
  s.vocab = 160;
  s.embd = 64;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 16;
  s.ff = 128;
  s.layers = 2;
  s.wtype = ggf8::DType::E4M3;
  s.scale = ggf8::ScaleKind::Channel;
  return s;
}

}  // namespace

TEST(Invariance, LlamaE4M3) { check_model(llama_e4m3(), "llama", 40, 30); }

TEST(Invariance, Qwen2BiasTiedOddK) {
  tiny::Spec s;  // embd 40: K % 32 != 0 (the other gemm path); E4M3 tensor scale
  s.arch = "qwen2";
  s.qkv_bias = true;
  s.tied = true;
  s.vocab = 96;
  s.embd = 40;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 10;
  s.ff = 72;
  s.wtype = ggf8::DType::E4M3;
  s.scale = ggf8::ScaleKind::Tensor;
  check_model(s, "qwen2", 33, 20);
}

TEST(Invariance, MistralSlidingWindow) {
  tiny::Spec s = llama_e4m3();
  s.arch = "mistral";
  s.window = 24;
  s.wtype = ggf8::DType::BF16;
  check_model(s, "mistral", 50, 30);
}

// Tensor parallel 2 on the CPU communicator: A beside others == A alone, both at tp 2.
TEST(Invariance, TensorParallel2) {
  auto r = make(llama_e4m3(), "llama_tp");
  ASSERT_TRUE(r);
  const int prompt = 30, n = 50;
  const auto toks = f8test::tokens(n, int(r->spec.vocab), 4);
  for (const std::string& be : backends()) {
    RunSetup su;
    su.backend = be;
    su.tp = 2;
    const Logits ref = reference(*r, su, toks, prompt);
    for (int nb : {3, 64}) {
      su.n_batch = nb;
      su.threads = be == "cpu-ref" ? 1 : 2;
      expect_same(ref, mixed(*r, su, toks, prompt, 2, uint32_t(nb), false), n, be + " tp 2 n_batch " + std::to_string(nb));
    }
  }
}

// --emulate-gpu with deterministic: FP8 activations, FP8 KV, and no FP8 FMHA
// (which long chunks would otherwise take): a prompt of 80 tokens in one
// chunk or in pieces gives the same logits.
TEST(Invariance, EmulateGpuDeterministic) {
  auto r = make(llama_e4m3(), "llama_emul");
  ASSERT_TRUE(r);
  const int prompt = 80, n = 100;
  const auto toks = f8test::tokens(n, int(r->spec.vocab), 9);
  for (const std::string& be : backends()) {
    RunSetup su;
    su.backend = be;
    su.emulate = true;
    su.deterministic = true;
    const Logits ref = reference(*r, su, toks, prompt);
    for (int nb : {7, 64}) {
      su.n_batch = nb;
      su.threads = be == "cpu-ref" ? 1 : 2;
      expect_same(ref, mixed(*r, su, toks, prompt, 2, uint32_t(nb), false), n,
                  be + " emulate-gpu deterministic n_batch " + std::to_string(nb));
    }
  }
}

// DeepSeek-V3 (multi-head latent attention over the FP8 latent cache): each
// MLA form invariant on its own (forced for every chunk size), and
// --deterministic (the absorbed form whatever the chunk's size) with a
// prompt of 70 tokens: one chunk of >= 65 tokens or pieces.
TEST(Invariance, DeepseekV3LatentAttention) {
  std::string why;
  auto r = converted("deepseek-v3", &why);
  if (!r && !HasFailure()) GTEST_SKIP() << why;
  ASSERT_TRUE(r);
  RunSetup su;
  su.mla_form = 2;
  check_rig(*r, "deepseek-v3 absorbed", 24, 8, su);  // (vocab 151936: kept short)
  if (HasFatalFailure()) return;
  su.mla_form = 1;
  check_rig(*r, "deepseek-v3 expanded", 24, 8, su);
  if (HasFatalFailure()) return;
  const int prompt = 70, n = 76;
  const auto toks = f8test::tokens(n, int(r->spec.vocab), 9);
  for (const std::string& be : backends()) {
    RunSetup d;
    d.backend = be;
    d.deterministic = true;
    const Logits ref = reference(*r, d, toks, prompt);  // the prompt in one chunk of 80
    for (int nb : {7, 64}) {
      d.n_batch = nb;
      d.threads = be == "cpu-ref" ? 1 : 2;
      expect_same(ref, mixed(*r, d, toks, prompt, 2, uint32_t(nb), false), n,
                  be + " deepseek-v3 deterministic n_batch " + std::to_string(nb));
    }
  }
}
