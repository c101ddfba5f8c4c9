// cmd_perplexity.cpp — `f8 perplexity -m M.f8 -f TEXT`: perplexity over
// non-overlapping chunks of --chunk tokens (each chunk starts with BOS when
// the model adds one; the first half of a chunk is context only and the
// second half is scored, as llama.cpp's perplexity does, so every scored
// token sees at least chunk/2 tokens of context). Error estimate: the
// standard error of the mean NLL, PPL * SE (delta method).
//
// --kl-base BASE: BASE is a reference .f8 (e.g. the BF16 conversion) run on
// the same tokens, or a logits file written by --save-logits. Reports
// KL(base || model) mean +/- SE, its 99th percentile, and the same-top-token
// rate +/- SE.
//
// Logits file (little-endian): "F8LOGIT1", u32 n_vocab, u32 chunk, u64
// n_tokens, i32 tokens[n_tokens], then per scored token: f32 min, f32 step,
// u16 q[n_vocab] with log p = min + q * step (0.0005-nat resolution over a
// 30-nat range; what llama.cpp's --kl-divergence-base also does).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "command.h"
#include "f8.h"
#include "util_pull.h"
#include "util_run.h"
#include "util_io.h"

namespace f8cli {
namespace {

void log_softmax(const float* x, int n, std::vector<double>* out) {
  out->resize(n);
  double mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, double(x[i]));
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(double(x[i]) - mx);
  const double lse = mx + std::log(s);
  for (int i = 0; i < n; ++i) (*out)[i] = double(x[i]) - lse;
}

struct MeanSE {
  double sum = 0, sum2 = 0;
  int64_t n = 0;
  void add(double v) { sum += v; sum2 += v * v; ++n; }
  double mean() const { return n ? sum / double(n) : 0; }
  double se() const {
    if (n < 2) return 0;
    double m = mean(), var = (sum2 - double(n) * m * m) / double(n - 1);
    return var > 0 ? std::sqrt(var / double(n)) : 0;
  }
};

// A reference: another model, or a logits file.
struct Base {
  std::unique_ptr<Loaded> model;
  std::ifstream file;
  uint32_t n_vocab = 0;
  std::vector<uint16_t> q;
  std::vector<double> lp;
  // Log-probs of scored token j of chunk c (model: decoded per chunk).
};

int run(int argc, char** argv) {
  RunFlags rf;
  std::string text_path, kl_base, save_logits;
  int64_t chunk = 512, max_chunks = 0;
  ArgParser p("f8 perplexity", "-m MODEL -f TEXT [options]",
              "Perplexity of a text (+/- standard error); with --kl-base also KL divergence and same-top-token rate.");
  add_run_flags(p, &rf);
  p.option("-f,--file", &text_path, "FILE", "UTF-8 text to score", true);
  p.option("--chunk", &chunk, "N", "tokens per chunk (second half scored)");
  p.option("--chunks", &max_chunks, "N", "score at most N chunks (0 = all)");
  p.option("--kl-base", &kl_base, "BASE", "reference: a .f8 model or a --save-logits file");
  p.option("--save-logits", &save_logits, "FILE", "write this model's log-probs for later --kl-base");
  p.epilog("example: f8 perplexity -m smollm2-fp8.f8 -f kjv.txt --kl-base smollm2-bf16.f8 --chunks 8");
  int rc;
  if (!p.parse(argc, argv, &rc)) return rc;
  if (int e = resolve_model_flag(&rf.model)) return e;  // -m ORG/NAME: the pulled .f8
  if (chunk < 16 || chunk > 65536) return fail(2, "--chunk " + std::to_string(chunk) + ": expected 16..65536");
  if (max_chunks < 0) return fail(2, "--chunks: expected >= 0");
  if (!p.given("--ctx")) rf.ctx = chunk;
  if (rf.ctx < chunk) return fail(2, "--ctx must be at least --chunk");
  if (!p.given("--batch")) rf.batch = chunk;

  std::string text;
  if (!read_file(text_path, &text)) return fail(1, "cannot read " + text_path);
  Loaded L;
  int e = load_model_and_context(rf, p, &L);
  if (e) return e;
  const int32_t V = L.info.n_vocab;

  // Tokenize (BOS only at chunk starts: add it ourselves).
  size_t n_ids = 0;
  f8_tokenize(L.model, text.data(), text.size(), false, false, nullptr, 0, &n_ids);
  std::vector<int32_t> toks(n_ids);
  if (f8_tokenize(L.model, text.data(), text.size(), false, false, toks.data(), toks.size(), &n_ids) != F8_OK)
    return fail(1, f8_last_error());
  const int32_t bos = f8_token_bos(L.model);
  const bool add_bos = bos >= 0;
  const int64_t per_chunk = add_bos ? chunk - 1 : chunk;
  int64_t n_chunks = int64_t(toks.size()) / per_chunk;
  if (max_chunks > 0) n_chunks = std::min(n_chunks, max_chunks);
  if (n_chunks < 1)
    return fail(1, text_path + ": " + std::to_string(toks.size()) + " tokens, need at least " +
                       std::to_string(per_chunk) + " for one chunk (use a smaller --chunk)");
  const int64_t first_scored = chunk / 2;
  const int64_t n_scored_per_chunk = chunk - 1 - first_scored;  // predict tokens first+1 .. chunk-1

  // Reference.
  Base base;
  bool have_base = !kl_base.empty();
  if (have_base) {
    char magic[8] = {0};
    std::ifstream probe(kl_base, std::ios::binary);
    if (!probe) return fail(1, "cannot read --kl-base " + kl_base);
    probe.read(magic, 8);
    if (std::memcmp(magic, "F8LOGIT1", 8) == 0) {
      base.file.open(kl_base, std::ios::binary);
      base.file.read(magic, 8);
      uint32_t bv = 0, bc = 0;
      uint64_t bn = 0;
      base.file.read(reinterpret_cast<char*>(&bv), 4);
      base.file.read(reinterpret_cast<char*>(&bc), 4);
      base.file.read(reinterpret_cast<char*>(&bn), 8);
      if (!base.file || bv != uint32_t(V) || bc != uint32_t(chunk) || bn > (1ull << 32))
        return fail(1, kl_base + ": logits file for n_vocab " + std::to_string(bv) + ", chunk " + std::to_string(bc) +
                           " does not match this run (n_vocab " + std::to_string(V) + ", chunk " +
                           std::to_string(chunk) + ")");
      std::vector<int32_t> bt(bn);
      base.file.read(reinterpret_cast<char*>(bt.data()), std::streamsize(bn * 4));
      if (!base.file) return fail(1, kl_base + ": truncated token list");
      if (bt.size() < size_t(n_chunks * per_chunk) ||
          !std::equal(toks.begin(), toks.begin() + n_chunks * per_chunk, bt.begin()))
        return fail(1, kl_base + ": was written for different text/tokens (or fewer chunks)");
      base.n_vocab = bv;
      base.q.resize(bv);
    } else {
      RunFlags bf = rf;
      bf.model = kl_base;
      bf.kv_type = "f32";  // the reference runs at full KV precision
      base.model = std::make_unique<Loaded>();
      e = load_model_and_context(bf, p, base.model.get(), true);
      if (e) return e;
      if (base.model->info.n_vocab != V)
        return fail(1, "--kl-base " + kl_base + " has n_vocab " + std::to_string(base.model->info.n_vocab) +
                           ", this model " + std::to_string(V));
    }
  }
  std::ofstream save;
  if (!save_logits.empty()) {
    save.open(save_logits, std::ios::binary | std::ios::trunc);
    if (!save) return fail(1, "cannot write " + save_logits);
    uint32_t v32 = uint32_t(V), c32 = uint32_t(chunk);
    uint64_t n64 = uint64_t(n_chunks * per_chunk);
    save.write("F8LOGIT1", 8);
    save.write(reinterpret_cast<const char*>(&v32), 4);
    save.write(reinterpret_cast<const char*>(&c32), 4);
    save.write(reinterpret_cast<const char*>(&n64), 8);
    save.write(reinterpret_cast<const char*>(toks.data()), std::streamsize(n64 * 4));
  }

  std::fprintf(stderr, "perplexity: %zu tokens, %lld chunks of %lld, scoring %lld tokens per chunk\n", toks.size(),
               (long long)n_chunks, (long long)chunk, (long long)n_scored_per_chunk);
  f8_batch b;
  if (f8_batch_init(int32_t(chunk), &b) != F8_OK) return fail(1, f8_last_error());
  MeanSE nll, kl, same;
  std::vector<double> kls;
  std::vector<double> lp, blp;
  std::vector<uint16_t> qbuf(V);
  const double t0 = now_ms();
  for (int64_t c = 0; c < n_chunks; ++c) {
    b.n_tokens = 0;
    std::vector<int32_t> ct;
    if (add_bos) ct.push_back(bos);
    ct.insert(ct.end(), toks.begin() + c * per_chunk, toks.begin() + (c + 1) * per_chunk);
    for (int64_t i = 0; i < chunk; ++i) f8_batch_add(&b, ct[i], int32_t(i), 0, i >= first_scored && i < chunk - 1);
    f8_kv_clear(L.ctx);
    if (f8_decode(L.ctx, &b) != F8_OK) {
      f8_batch_free(&b);
      return fail(1, f8_last_error());
    }
    if (base.model) {
      f8_kv_clear(base.model->ctx);
      if (f8_decode(base.model->ctx, &b) != F8_OK) {
        f8_batch_free(&b);
        return fail(1, std::string("--kl-base: ") + f8_last_error());
      }
    }
    for (int64_t i = first_scored; i < chunk - 1; ++i) {
      const float* lg = nullptr;
      f8_get_logits_ith(L.ctx, int32_t(i), &lg);
      log_softmax(lg, V, &lp);
      nll.add(-lp[ct[i + 1]]);
      if (save.is_open()) {
        double mn = 0;
        for (double v : lp) mn = std::min(mn, v);
        mn = std::max(mn, -60.0);
        float fmin = float(mn), step = float(-mn / 65535.0);
        if (step <= 0) step = 1e-9f;
        for (int v = 0; v < V; ++v) {
          double qv = std::round((std::max(lp[v], mn) - mn) / step);
          qbuf[v] = uint16_t(std::clamp(qv, 0.0, 65535.0));
        }
        save.write(reinterpret_cast<const char*>(&fmin), 4);
        save.write(reinterpret_cast<const char*>(&step), 4);
        save.write(reinterpret_cast<const char*>(qbuf.data()), std::streamsize(V) * 2);
      }
      if (!have_base) continue;
      if (base.model) {
        const float* bl = nullptr;
        f8_get_logits_ith(base.model->ctx, int32_t(i), &bl);
        log_softmax(bl, V, &blp);
      } else {
        float fmin = 0, step = 0;
        base.file.read(reinterpret_cast<char*>(&fmin), 4);
        base.file.read(reinterpret_cast<char*>(&step), 4);
        base.file.read(reinterpret_cast<char*>(base.q.data()), std::streamsize(V) * 2);
        if (!base.file) {
          f8_batch_free(&b);
          return fail(1, kl_base + ": truncated log-prob records");
        }
        blp.resize(V);
        // Renormalize the dequantized distribution so sum p = 1 exactly.
        double mx = -INFINITY;
        for (int v = 0; v < V; ++v) mx = std::max(mx, (blp[v] = double(fmin) + double(base.q[v]) * double(step)));
        double s = 0;
        for (int v = 0; v < V; ++v) s += std::exp(blp[v] - mx);
        const double lse = mx + std::log(s);
        for (int v = 0; v < V; ++v) blp[v] -= lse;
      }
      double k = 0;
      int top_a = 0, top_b = 0;
      for (int v = 0; v < V; ++v) {
        const double pb = std::exp(blp[v]);
        k += pb * (blp[v] - lp[v]);
        if (lp[v] > lp[top_a]) top_a = v;
        if (blp[v] > blp[top_b]) top_b = v;
      }
      k = std::max(k, 0.0);
      kl.add(k);
      kls.push_back(k);
      same.add(top_a == top_b ? 1.0 : 0.0);
    }
    const double ppl = std::exp(nll.mean());
    std::fprintf(stderr, "[%lld/%lld] ppl %.4f  (%.1f tok/s)\n", (long long)c + 1, (long long)n_chunks, ppl,
                 double((c + 1) * chunk) * 1000.0 / (now_ms() - t0) * (base.model ? 2.0 : 1.0));
  }
  f8_batch_free(&b);
  const double ppl = std::exp(nll.mean());
  std::printf("PPL = %.4f +/- %.4f  (%lld tokens scored, mean NLL %.5f)\n", ppl, ppl * nll.se(), (long long)nll.n,
              nll.mean());
  if (have_base) {
    std::sort(kls.begin(), kls.end());
    const double p99 = kls.empty() ? 0 : kls[std::min(kls.size() - 1, size_t(double(kls.size()) * 0.99))];
    std::printf("KL(base || model) = %.6f +/- %.6f  (p99 %.6f)\n", kl.mean(), kl.se(), p99);
    std::printf("same top token = %.2f%% +/- %.2f%%\n", 100.0 * same.mean(), 100.0 * same.se());
  }
  return 0;
}

}  // namespace
F8_COMMAND("perplexity", "perplexity of a text, KL divergence vs a base", run);
}  // namespace f8cli
