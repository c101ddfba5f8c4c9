// test_cuda_e2e.cpp — the CUDA backend end to end on the real
// SmolLM2-135M-Instruct (FP8 E4M3 per-channel .f8, FP8 KV cache), through the
// C API, against the CPU with --emulate-gpu (the GPU's data flow on the CPU:
// activations quantized to E4M3 the same way) and against a CPU "base" run
// (same FP8 weights, FP32 activations, F32 KV cache).
//
// Why the checks are statistical: with E4M3 activations and an FP8 KV cache,
// two correct implementations that differ only in FP32 summation order do
// not stay close — one flipped E4M3 rounding (12.5% of that element) makes
// later flips likely and the runs drift apart to the size of the FP8 noise
// itself. Measured on this fixture, cpu-simd vs cpu-ref (both emulating the
// GPU): KL 0.016-0.074 on the last prompt token, top token different on 2 of
// 4 prompts, greedy 64 tokens identical on 0 of 4; teacher-forced, the same
// top token at 59-61 of 64 positions, mean KL 0.013-0.040. So the test asserts that
// the GPU is no noisier than the CPU emulation against the base, and agrees
// with it teacher-forced; exact greedy agreement is printed and asserted only
// with F8_E2E_STRICT_GREEDY=1.
//
//   - last-token logits after each of 4 prompts (one prefill chunk): max
//     |dlogit|, KL(cpu-emu || cuda), KL(base || cpu-emu), KL(base || cuda);
//   - greedy 64 tokens one at a time (the CUDA-graph path) on both, and the
//     CPU's continuation fed to both teacher-forced: same-top-token rate and
//     mean KL over the 64 positions;
//   - the 4 prompts as 4 sequences in one batch on CUDA vs each alone.
// Model: $F8_E2E_MODEL, else ${F8_CACHE:-~/.cache/f8}/smollm2-135m-instruct-e4m3.f8
// (scripts/fixtures.sh smollm2 && f8 convert ~/.cache/f8/smollm2-135m-instruct
// -o ~/.cache/f8/smollm2-135m-instruct-e4m3.f8). Skips with the reason when
// the file or a CUDA device is missing. F8_E2E_BACKEND (default "cuda")
// names the backend under test; a CPU one (run with --emulate-gpu) checks
// the test itself on a machine without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "f8.h"

namespace {

std::string model_path() {
  if (const char* p = std::getenv("F8_E2E_MODEL"); p && *p) return p;
  std::string cache;
  if (const char* c = std::getenv("F8_CACHE"); c && *c) cache = c;
  else if (const char* h = std::getenv("HOME")) cache = std::string(h) + "/.cache/f8";
  return cache + "/smollm2-135m-instruct-e4m3.f8";
}

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

struct Prompt {
  const char* name;
  bool chat;
  const char* text;
};
const Prompt kPrompts[] = {
    {"capital", false, "The capital of France is"},
    {"code", false, "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"},
    {"chat-haiku", true, "Write a haiku about floating point numbers."},
    {"chat-explain", true, "Explain in two sentences why the sky is blue."},
};

// Log-softmax in double.
std::vector<double> log_softmax(const float* x, int n) {
  double mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, double(x[i]));
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(double(x[i]) - mx);
  const double lse = mx + std::log(s);
  std::vector<double> r(n);
  for (int i = 0; i < n; ++i) r[i] = double(x[i]) - lse;
  return r;
}

// KL(p || q) from logits.
double kl(const float* p, const float* q, int n) {
  const auto lp = log_softmax(p, n), lq = log_softmax(q, n);
  double k = 0;
  for (int i = 0; i < n; ++i) k += std::exp(lp[i]) * (lp[i] - lq[i]);
  return k;
}

int argmax(const float* x, int n) { return int(std::max_element(x, x + n) - x); }

class CudaE2E : public testing::Test {
 protected:
  void SetUp() override {
    path_ = model_path();
    if (!exists(path_))
      GTEST_SKIP() << "fixture " << path_ << " not found (set F8_E2E_MODEL, or run scripts/fixtures.sh smollm2 and "
                   << "f8 convert ~/.cache/f8/smollm2-135m-instruct -o " << path_ << ")";
    f8_model_params mp = f8_model_default_params();
    ASSERT_EQ(f8_model_load(path_.c_str(), &mp, &model_), F8_OK) << f8_last_error();
    info_.struct_size = sizeof info_;
    ASSERT_EQ(f8_model_get_info(model_, &info_), F8_OK) << f8_last_error();
    // The CPU context first: the FP8 KV scales are calibrated once per model
    // on the first context's backend and shared, so both use the same scales.
    cpu_ = context("cpu", true);
    ASSERT_NE(cpu_, nullptr) << f8_last_error();
    base_ = context("cpu", false, F8_KV_F32);
    ASSERT_NE(base_, nullptr) << f8_last_error();
    const char* be = std::getenv("F8_E2E_BACKEND");
    const std::string name = be && *be ? be : "cuda";
    cuda_ = context(name.c_str(), name.rfind("cpu", 0) == 0);
    if (!cuda_) GTEST_SKIP() << "no " << name << " context: " << f8_last_error();
  }
  void TearDown() override {
    f8_context_free(cuda_);
    f8_context_free(cpu_);
    f8_context_free(base_);
    f8_model_free(model_);
  }
  // F8_KV_FP8_LAYER: the scheme F8_KV_FP8 gives on CUDA (per-layer scales;
  // the CPU backends' F8_KV_FP8 is per-token), so both sides run the same one.
  f8_context* context(const char* backend, bool emulate, f8_kv_type kv = F8_KV_FP8_LAYER) {
    f8_context_params cp = f8_context_default_params();
    cp.kv_type = kv;
    cp.n_ctx = 1024;
    cp.n_batch = 256;
    cp.backend = backend;
    cp.emulate_gpu = emulate;
    f8_context* c = nullptr;
    return f8_context_new(model_, &cp, &c) == F8_OK ? c : nullptr;
  }
  std::vector<int32_t> tokens(const Prompt& p) {
    std::string text = p.text;
    if (p.chat) {
      f8_chat_message m = {"user", p.text};
      f8_chat_params cp = f8_chat_default_params();
      size_t len = 0;
      f8_chat_apply_template(model_, &m, 1, &cp, nullptr, 0, &len);
      std::string buf(len + 1, '\0');
      EXPECT_EQ(f8_chat_apply_template(model_, &m, 1, &cp, buf.data(), buf.size(), &len), F8_OK) << f8_last_error();
      buf.resize(len);
      text = buf;
    }
    size_t n = 0;
    f8_tokenize(model_, text.data(), text.size(), !p.chat, p.chat, nullptr, 0, &n);
    std::vector<int32_t> ids(n);
    EXPECT_EQ(f8_tokenize(model_, text.data(), text.size(), !p.chat, p.chat, ids.data(), n, &n), F8_OK)
        << f8_last_error();
    return ids;
  }
  // Decodes the prompt as sequence 0 of an empty cache; returns the last logits.
  std::vector<float> prefill(f8_context* c, const std::vector<int32_t>& ids) {
    f8_kv_clear(c);
    f8_batch b;
    EXPECT_EQ(f8_batch_init(int32_t(ids.size()), &b), F8_OK);
    for (size_t i = 0; i < ids.size(); ++i) f8_batch_add(&b, ids[i], int32_t(i), 0, i + 1 == ids.size());
    const f8_status s = f8_decode(c, &b);
    f8_batch_free(&b);
    EXPECT_EQ(s, F8_OK) << f8_last_error();
    const float* lg = nullptr;
    if (s != F8_OK || f8_get_logits_ith(c, -1, &lg) != F8_OK) return {};
    return std::vector<float>(lg, lg + info_.n_vocab);
  }
  // Greedy continuation of n tokens, one decode per token.
  std::vector<int32_t> greedy(f8_context* c, const std::vector<int32_t>& ids, int n) {
    std::vector<float> lg = prefill(c, ids);
    std::vector<int32_t> out;
    if (lg.empty()) return out;
    f8_batch b;
    EXPECT_EQ(f8_batch_init(1, &b), F8_OK);
    int32_t pos = int32_t(ids.size());
    int tok = argmax(lg.data(), info_.n_vocab);
    for (int i = 0; i < n; ++i) {
      out.push_back(tok);
      b.n_tokens = 0;
      f8_batch_add(&b, tok, pos++, 0, true);
      if (f8_decode(c, &b) != F8_OK) {
        ADD_FAILURE() << "decode: " << f8_last_error();
        break;
      }
      const float* l = nullptr;
      if (f8_get_logits_ith(c, -1, &l) != F8_OK) break;
      tok = argmax(l, info_.n_vocab);
    }
    f8_batch_free(&b);
    return out;
  }
  std::string text(const std::vector<int32_t>& ids) {
    size_t len = 0;
    f8_detokenize(model_, ids.data(), ids.size(), false, false, nullptr, 0, &len);
    std::string s(len + 1, '\0');
    if (f8_detokenize(model_, ids.data(), ids.size(), false, false, s.data(), s.size(), &len) != F8_OK) return "?";
    s.resize(len);
    for (char& ch : s)
      if (ch == '\n') ch = ' ';
    return s;
  }

  std::string path_;
  f8_model* model_ = nullptr;
  f8_model_info info_{};
  f8_context *cpu_ = nullptr, *cuda_ = nullptr, *base_ = nullptr;
};

TEST_F(CudaE2E, LastTokenLogitsMatchEmulatedCpu) {
  const int V = info_.n_vocab;
  for (const Prompt& p : kPrompts) {
    const auto ids = tokens(p);
    ASSERT_GT(ids.size(), 2u) << p.name;
    const auto a = prefill(cpu_, ids), b = prefill(cuda_, ids), base = prefill(base_, ids);
    ASSERT_EQ(a.size(), size_t(V));
    ASSERT_EQ(b.size(), size_t(V));
    ASSERT_EQ(base.size(), size_t(V));
    double maxd = 0;
    for (int i = 0; i < V; ++i) maxd = std::max(maxd, std::fabs(double(a[i]) - b[i]));
    const double k = kl(a.data(), b.data(), V), k_cpu = kl(base.data(), a.data(), V),
                 k_cuda = kl(base.data(), b.data(), V);
    std::printf("[ e2e  ] %-13s %3zu tokens: max|dlogit| %.4g  KL(cpu||cuda) %.3g  KL(base||cpu) %.3g  "
                "KL(base||cuda) %.3g  top base/cpu/cuda %d/%d/%d\n",
                p.name, ids.size(), maxd, k, k_cpu, k_cuda, argmax(base.data(), V), argmax(a.data(), V),
                argmax(b.data(), V));
    for (float f : b) ASSERT_TRUE(std::isfinite(f)) << p.name << ": non-finite CUDA logit";
    // The GPU is no noisier against the base than the CPU emulation (a wrong
    // scale, layout or mask gives KL of 1 and more), and near the emulation.
    EXPECT_LT(k_cuda, 2.0 * k_cpu + 0.08) << p.name;
    EXPECT_LT(k, 0.25) << p.name;
  }
}

TEST_F(CudaE2E, Greedy64TokensAndTeacherForced) {
  const int V = info_.n_vocab;
  const char* strict = std::getenv("F8_E2E_STRICT_GREEDY");
  int equal = 0;
  double agree_sum = 0;
  for (const Prompt& p : kPrompts) {
    const auto ids = tokens(p);
    const auto a = greedy(cpu_, ids, 64), b = greedy(cuda_, ids, 64);
    ASSERT_EQ(a.size(), 64u) << p.name;
    ASSERT_EQ(b.size(), 64u) << p.name;
    size_t first = 0;
    while (first < a.size() && a[first] == b[first]) ++first;
    if (first == a.size()) ++equal;
    std::printf("[ e2e  ] %-13s greedy: %zu/64 tokens before the first difference\n", p.name, first);
    std::printf("         cpu : %s\n", text(a).c_str());
    if (first < a.size()) std::printf("         cuda: %s\n", text(b).c_str());
    // Teacher-forced: prompt + the CPU's 64 tokens as one chunk on both;
    // compare the logits at the 64 positions that predicted those tokens.
    std::vector<int32_t> all = ids;
    all.insert(all.end(), a.begin(), a.end());
    const int n = int(all.size()), first_out = int(ids.size()) - 1;
    int same = 0;
    double kl_sum = 0;
    std::vector<std::vector<float>> la(64), lb(64);
    for (f8_context* c : {cpu_, cuda_}) {
      f8_kv_clear(c);
      f8_batch bt;
      ASSERT_EQ(f8_batch_init(n, &bt), F8_OK);
      for (int i = 0; i < n; ++i) f8_batch_add(&bt, all[i], i, 0, i >= first_out && i < first_out + 64);
      ASSERT_EQ(f8_decode(c, &bt), F8_OK) << f8_last_error();
      for (int j = 0; j < 64; ++j) {
        const float* lg = nullptr;
        ASSERT_EQ(f8_get_logits_ith(c, first_out + j, &lg), F8_OK) << f8_last_error();
        (c == cpu_ ? la : lb)[j].assign(lg, lg + V);
      }
      f8_batch_free(&bt);
    }
    for (int j = 0; j < 64; ++j) {
      same += argmax(la[j].data(), V) == argmax(lb[j].data(), V);
      kl_sum += kl(la[j].data(), lb[j].data(), V);
    }
    std::printf("[ e2e  ] %-13s teacher-forced 64 positions: same top token %d/64, mean KL(cpu||cuda) %.3g\n",
                p.name, same, kl_sum / 64);
    agree_sum += same / 64.0;
    EXPECT_GE(same, 48) << p.name;
    EXPECT_LT(kl_sum / 64, 0.15) << p.name;
  }
  std::printf("[ e2e  ] greedy 64 tokens identical on %d of 4 prompts; teacher-forced same top %.1f%%\n", equal,
              100.0 * agree_sum / 4);
  if (strict && *strict && std::string(strict) != "0") {
    EXPECT_GE(equal, 3);
  }
}

// The 4 prompts as sequences 0..3 of one batch (one prefill chunk with
// interleaved sequences, then 16 batched decode steps) on CUDA equal each
// prompt decoded alone on CUDA.
TEST_F(CudaE2E, BatchedSequencesEqualSingle) {
  const int V = info_.n_vocab;
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<float>> alone;
  size_t total = 0;
  for (const Prompt& p : kPrompts) {
    ids.push_back(tokens(p));
    total += ids.back().size();
    alone.push_back(prefill(cuda_, ids.back()));
  }
  f8_kv_clear(cuda_);
  f8_batch b;
  ASSERT_EQ(f8_batch_init(int32_t(total), &b), F8_OK);
  for (int s = 0; s < 4; ++s)
    for (size_t i = 0; i < ids[s].size(); ++i)
      f8_batch_add(&b, ids[s][i], int32_t(i), s, i + 1 == ids[s].size());
  ASSERT_EQ(f8_decode(cuda_, &b), F8_OK) << f8_last_error();
  std::vector<int32_t> next(4);
  for (int s = 0; s < 4; ++s) {
    // entries with logits, in batch order: sequence s is the s-th
    const float* lg = nullptr;
    int idx = -1;
    for (int i = 0, seen = 0; i < b.n_tokens; ++i)
      if (b.logits[i] && seen++ == s) idx = i;
    ASSERT_EQ(f8_get_logits_ith(cuda_, idx, &lg), F8_OK) << f8_last_error();
    const double k = kl(alone[s].data(), lg, V);
    std::printf("[ e2e  ] batched seq %d: KL(alone||batched) %.3g, top %d / %d\n", s, k, argmax(alone[s].data(), V),
                argmax(lg, V));
    // A different T may take another GEMM path (other summation order): the
    // FP8 drift described at the top applies, so this only catches real
    // mix-ups (sequence masks, row order), which give KL >> 1.
    EXPECT_LT(k, 0.25) << kPrompts[s].name;
    next[s] = argmax(lg, V);
  }
  // 16 batched decode steps vs 16 single-sequence steps: reported.
  std::vector<std::vector<int32_t>> gen(4);
  for (int step = 0; step < 16; ++step) {
    b.n_tokens = 0;
    for (int s = 0; s < 4; ++s) f8_batch_add(&b, next[s], int32_t(ids[s].size()) + step, s, true);
    ASSERT_EQ(f8_decode(cuda_, &b), F8_OK) << f8_last_error();
    for (int s = 0; s < 4; ++s) {
      gen[s].push_back(next[s]);
      const float* lg = nullptr;
      ASSERT_EQ(f8_get_logits_ith(cuda_, s, &lg), F8_OK);
      next[s] = argmax(lg, V);
    }
  }
  f8_batch_free(&b);
  int same = 0;
  for (int s = 0; s < 4; ++s) {
    const auto single = greedy(cuda_, ids[s], 16);
    ASSERT_EQ(single.size(), 16u);
    same += single == gen[s];
  }
  std::printf("[ e2e  ] batched decode of 4 sequences == alone (16 tokens) on %d of 4\n", same);
}

}  // namespace
