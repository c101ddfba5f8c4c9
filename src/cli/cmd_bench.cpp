// cmd_bench.cpp — `f8 bench`: prefill and decode speed over several prompt
// lengths, generation lengths and thread counts (llama-bench style: pp = one
// batched decode of N prompt tokens into an empty cache; tg = N single-token
// decodes from an empty cache; with -d D also after a D-token context:
// tgN@dD). Also load time, RSS and GB/s read per decoded token (weights, and
// for tgN@dD the KV cache of the mean context D + N/2 too). Table to stdout,
// or JSON with --json. --spec-prompt FILE adds greedy generation from a real
// prompt, plain vs speculative (--spec-lookup / --draft-model), with the
// acceptance rate (util_spec_bench.h).
#include <algorithm>
#include <fstream>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "args.h"
#include "command.h"
#include "f8.h"
#include "util_pull.h"
#include "util_run.h"
#include "util_spec_bench.h"

namespace f8cli {
namespace {

struct Result {
  int64_t threads;
  std::string test;  // "pp512" / "tg128"
  int64_t n;
  double tok_s, tok_s_sd, gb_s;
};

// Pseudo-random but fixed token ids (speed does not depend on the ids).
int32_t tok_at(int64_t i, int32_t vocab) { return int32_t((uint64_t(i) * 2654435761u + 17) % uint64_t(vocab)); }

int run(int argc, char** argv) {
  RunFlags rf;
  std::string prompts = "128,512", gens = "64", threads_s, parallel_s, depths_s;
  int64_t reps = 2;
  bool json = false;
  SpecFlags spf;
  std::string spec_prompt;
  ArgParser p("f8 bench", "-m MODEL [options]", "Prefill and decode speed (tok/s, GB/s), load time and RSS.");
  add_run_flags(p, &rf);
  p.option("-p,--n-prompt", &prompts, "LIST", "prompt lengths for prefill tests (comma-separated)");
  p.option("-n,--n-gen", &gens, "LIST", "generation lengths for decode tests (comma-separated)");
  p.option("--threads-list", &threads_s, "LIST", "thread counts to test (default: -t, else 1 and the default thread count)");
  p.option("-np,--parallel", &parallel_s, "LIST",
           "batched decode: for each N, N sequences generate --n-gen tokens together, one batched step per "
           "token (test tgNxP; tok/s counts all sequences, GB/s the weights read once per step)");
  p.option("-d,--depth", &depths_s, "LIST",
           "decode tests also after a context of D tokens (test tgN@dD, long-context decode; the D-token "
           "prefill is not timed; GB/s counts weights + the KV cache read)");
  p.option("-r,--repetitions", &reps, "N", "repetitions per test (mean and std dev reported)");
  p.flag("--json", &json, "print JSON instead of a table");
  p.option("--spec-prompt", &spec_prompt, "FILE",
           "speculative decoding test: greedy generation of --n-gen tokens from this text (a user message when the "
           "model has a chat template), plain and with --spec-lookup / --draft-model, alternating runs; reports "
           "both tok/s, the acceptance rate and whether the outputs are the same");
  add_spec_flags(p, &spf);
  p.epilog("example: f8 bench -m smollm2.f8 -p 64,256 -n 32 --threads-list 1,2 --json\n"
           "         f8 bench -m llama.f8 --backend cuda -p 512 -n 128 -np 8,64 -d 32768\n"
           "         f8 bench -m smollm2.f8 -p 16 -n 128 --spec-prompt rewrite.txt --spec-lookup 3");
  int rc;
  if (!p.parse(argc, argv, &rc)) return rc;
  if (int e = resolve_model_flag(&rf.model)) return e;  // -m ORG/NAME: the pulled .f8
  std::vector<int64_t> pp, tg, th;
  if (!parse_int_list(prompts, &pp)) return fail(2, "--n-prompt '" + prompts + "': expected a list like 128,512");
  if (!parse_int_list(gens, &tg)) return fail(2, "--n-gen '" + gens + "': expected a list like 64,128");
  if (reps < 1 || reps > 100) return fail(2, "--repetitions: expected 1..100");
  if (!threads_s.empty()) {
    if (!parse_int_list(threads_s, &th)) return fail(2, "--threads-list '" + threads_s + "': expected a list like 1,2");
  } else if (p.given("--threads")) {
    th = {rf.threads};
  } else if (rf.backend.rfind("cpu", 0) != 0) {
    th = {1};  // a GPU backend: CPU threads do not matter
  } else {
    int64_t all = f8_context_default_params().n_threads;
    th = {1};
    if (all > 1) th.push_back(all);
  }
  std::vector<int64_t> np;
  if (!parallel_s.empty() && !parse_int_list(parallel_s, &np))
    return fail(2, "--parallel '" + parallel_s + "': expected a list like 8,64");
  for (int64_t n : np)
    if (n > F8_MAX_SEQ) return fail(2, "--parallel " + std::to_string(n) + ": at most " + std::to_string(F8_MAX_SEQ));
  std::vector<int64_t> depths;
  if (!depths_s.empty() && !parse_int_list(depths_s, &depths))
    return fail(2, "--depth '" + depths_s + "': expected a list like 4096,32768");
  const int64_t max_tg = *std::max_element(tg.begin(), tg.end());
  int64_t need = *std::max_element(pp.begin(), pp.end()) + max_tg;
  for (int64_t n : np) need = std::max(need, n * max_tg);
  for (int64_t d : depths) need = std::max(need, d + max_tg);
  std::string spec_text;
  if (!spec_prompt.empty()) {
    if (!spf.enabled()) return fail(2, "--spec-prompt needs --spec-lookup N or --draft-model FILE");
    std::ifstream in(spec_prompt, std::ios::binary);
    if (!in) return fail(1, "cannot read " + spec_prompt);
    spec_text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    // Tokens <= bytes; + the chat template's framing, the drafts of the last step.
    need = std::max<int64_t>(need, int64_t(spec_text.size()) + 256 + max_tg + spf.draft_max + 1);
  } else if (spf.enabled()) {
    return fail(2, "--spec-lookup / --draft-model need --spec-prompt FILE (the text to generate from)");
  }
  if (!p.given("--ctx")) rf.ctx = std::max<int64_t>(need, 16);
  if (rf.ctx < need) return fail(2, "--ctx " + std::to_string(rf.ctx) + " is smaller than the longest test (" +
                                        std::to_string(need) + " tokens)");
  if (!p.given("--batch")) rf.batch = std::max<int64_t>(512, *std::max_element(pp.begin(), pp.end()));

  const double rss0 = rss_mib();
  std::vector<Result> results;
  struct SpecRow {
    int64_t threads, n;
    SpecBenchResult r;
  };
  std::vector<SpecRow> spec_rows;
  double load_ms = 0, rss_loaded = 0;
  size_t kv_bytes = 0;
  f8_model_info info{};
  std::string kv_name = rf.kv_type;
  for (size_t ti = 0; ti < th.size(); ++ti) {
    rf.threads = th[ti];
    Loaded L;
    // Each thread count gets a fresh model+context (the load is measured once).
    int e = load_model_and_context(rf, p, &L, /*quiet=*/ti > 0 || json);
    if (e) return e;
    if (ti == 0) {
      load_ms = L.load_ms;
      rss_loaded = rss_mib();
      info = L.info;
      kv_bytes = f8_context_kv_bytes(L.ctx);
    }
    f8_batch b;
    if (f8_batch_init(int32_t(need), &b) != F8_OK) return fail(1, f8_last_error());
    auto decode_prompt = [&](int64_t n) -> bool {
      b.n_tokens = 0;
      for (int64_t i = 0; i < n; ++i) f8_batch_add(&b, tok_at(i, info.n_vocab), int32_t(i), 0, i == n - 1);
      return f8_decode(L.ctx, &b) == F8_OK;
    };
    // Warm-up: page in the weights, start the threads.
    f8_kv_clear(L.ctx);
    if (!decode_prompt(std::min<int64_t>(8, need))) {
      f8_batch_free(&b);
      return fail(1, f8_last_error());
    }
    auto stats = [](const std::vector<double>& v, double* mean, double* sd) {
      double m = 0;
      for (double x : v) m += x;
      m /= double(v.size());
      double s = 0;
      for (double x : v) s += (x - m) * (x - m);
      *mean = m;
      *sd = v.size() > 1 ? std::sqrt(s / double(v.size() - 1)) : 0.0;
    };
    for (int64_t n : pp) {
      std::vector<double> v;
      for (int64_t r = 0; r < reps; ++r) {
        f8_kv_clear(L.ctx);
        double t0 = now_ms();
        if (!decode_prompt(n)) {
          f8_batch_free(&b);
          return fail(1, f8_last_error());
        }
        v.push_back(double(n) * 1000.0 / (now_ms() - t0));
      }
      double m, sd;
      stats(v, &m, &sd);
      results.push_back({th[ti], "pp" + std::to_string(n), n, m, sd, 0.0});
    }
    // Single-token decode: tgN from an empty cache (d = 0), tgN@dD after a
    // D-token context (its prefill not timed). GB/s: weights, plus for d > 0
    // the KV cache of the mean context D + N/2.
    const double kv_per_cell = rf.ctx > 0 ? double(kv_bytes) / double(rf.ctx) : 0.0;
    std::vector<int64_t> starts = {0};
    for (int64_t d : depths)
      if (d > 0) starts.push_back(d);
    for (int64_t d : starts)
      for (int64_t n : tg) {
        std::vector<double> v;
        for (int64_t r = 0; r < reps; ++r) {
          f8_kv_clear(L.ctx);
          if (d > 0 && !decode_prompt(d)) {
            f8_batch_free(&b);
            return fail(1, f8_last_error());
          }
          double t0 = now_ms();
          for (int64_t i = 0; i < n; ++i) {
            b.n_tokens = 0;
            f8_batch_add(&b, tok_at(d + i, info.n_vocab), int32_t(d + i), 0, true);
            if (f8_decode(L.ctx, &b) != F8_OK) {
              f8_batch_free(&b);
              return fail(1, f8_last_error());
            }
          }
          v.push_back(double(n) * 1000.0 / (now_ms() - t0));
        }
        double m, sd;
        stats(v, &m, &sd);
        const double bytes = double(info.weight_bytes) + (d > 0 ? (double(d) + double(n) / 2.0) * kv_per_cell : 0.0);
        results.push_back({th[ti], "tg" + std::to_string(n) + (d > 0 ? "@d" + std::to_string(d) : ""), n, m, sd,
                           m * bytes / 1e9});
      }
    // Batched decode: P sequences, one step decodes one token of each.
    for (int64_t P : np) {
      const int64_t n = max_tg;
      std::vector<double> v;
      for (int64_t r = 0; r < reps; ++r) {
        f8_kv_clear(L.ctx);
        double t0 = now_ms();
        for (int64_t i = 0; i < n; ++i) {
          b.n_tokens = 0;
          for (int64_t sq = 0; sq < P; ++sq)
            f8_batch_add(&b, tok_at(i * P + sq, info.n_vocab), int32_t(i), int32_t(sq), true);
          if (f8_decode(L.ctx, &b) != F8_OK) {
            f8_batch_free(&b);
            return fail(1, f8_last_error());
          }
        }
        v.push_back(double(n * P) * 1000.0 / (now_ms() - t0));
      }
      double m, sd;
      stats(v, &m, &sd);
      results.push_back({th[ti], "tg" + std::to_string(n) + "x" + std::to_string(P), n, m, sd,
                         m / double(P) * double(info.weight_bytes) / 1e9});
    }
    f8_batch_free(&b);
    if (!spec_text.empty()) {
      Drafter drafter;
      SamplingFlags greedy;
      greedy.temp = 0;
      if ((e = drafter.init(spf, rf, p, greedy, L.model, true))) return e;
      for (int64_t n : tg) {
        SpecRow row{th[ti], n, {}};
        if ((e = bench_speculative(L.model, L.ctx, drafter, spec_text, n, reps, &row.r))) return e;
        spec_rows.push_back(row);
      }
    }
  }
  const double peak = rss_peak_mib();
  // The CPU backend as it describes itself: the kernel tier that ran (not
  // probed for a GPU: that would open a second device context).
  char desc_buf[256] = "";
  if (rf.backend.rfind("cpu", 0) == 0 && f8_backend_probe(rf.backend.c_str(), desc_buf, sizeof desc_buf) != F8_OK)
    desc_buf[0] = 0;
  const std::string desc = desc_buf;
  if (json) {
    std::printf("{\n  \"model\": \"%s\",\n  \"arch\": \"%s\",\n  \"weight_type\": \"%s\",\n  \"n_params\": %llu,\n"
                "  \"file_bytes\": %llu,\n  \"weight_bytes_per_token\": %llu,\n  \"kv_type\": \"%s\",\n"
                "  \"kv_bytes\": %zu,\n  \"backend\": \"%s\",\n  \"backend_desc\": \"%s\",\n  \"load_ms\": %.2f,\n  \"rss_start_mib\": %.1f,\n"
                "  \"rss_after_load_mib\": %.1f,\n  \"rss_peak_mib\": %.1f,\n  \"results\": [\n",
                rf.model.c_str(), info.arch, info.weight_type, (unsigned long long)info.n_params,
                (unsigned long long)info.file_bytes, (unsigned long long)info.weight_bytes, kv_name.c_str(),
                kv_bytes, rf.backend.c_str(), desc.c_str(), load_ms, rss0, rss_loaded, peak);
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      std::printf("    {\"threads\": %lld, \"test\": \"%s\", \"n\": %lld, \"tok_s\": %.3f, \"tok_s_sd\": %.3f, "
                  "\"gb_s\": %.3f}%s\n",
                  (long long)r.threads, r.test.c_str(), (long long)r.n, r.tok_s, r.tok_s_sd, r.gb_s,
                  i + 1 < results.size() ? "," : "");
    }
    std::printf("  ]%s\n", spec_rows.empty() ? "" : ",");
    if (!spec_rows.empty()) {
      std::printf("  \"speculative\": {\"spec_lookup\": %lld, \"draft_model\": \"%s\", \"draft_max\": %lld, "
                  "\"runs\": [\n",
                  (long long)spf.lookup, spf.draft_model.c_str(), (long long)spf.draft_max);
      for (size_t i = 0; i < spec_rows.size(); ++i) {
        const SpecRow& s = spec_rows[i];
        std::printf("    {\"threads\": %lld, \"n\": %lld, \"n_gen\": %lld, \"plain_tok_s\": %.3f, "
                    "\"plain_tok_s_sd\": %.3f, \"spec_tok_s\": %.3f, \"spec_tok_s_sd\": %.3f, \"speedup\": %.3f, "
                    "\"acceptance\": %.4f, \"tok_per_forward\": %.3f, \"same_output\": %s}%s\n",
                    (long long)s.threads, (long long)s.n, (long long)s.r.n_gen, s.r.plain_tok_s, s.r.plain_sd,
                    s.r.spec_tok_s, s.r.spec_sd, s.r.speedup,
                    s.r.accept_rate, s.r.tok_per_forward, s.r.same ? "true" : "false",
                    i + 1 < spec_rows.size() ? "," : "");
      }
      std::printf("  ]}\n");
    }
    std::printf("}\n");
    return 0;
  }
  std::printf("model %s: %s, %s weights, %.1f M params, file %.1f MiB, %.1f MiB read per token\n",
              rf.model.c_str(), info.arch, info.weight_type, double(info.n_params) / 1e6,
              double(info.file_bytes) / 1048576.0, double(info.weight_bytes) / 1048576.0);
  std::printf("backend %s%s%s%s, kv %s (%.1f MiB), load %.1f ms, RSS %.1f MiB after load, peak %.1f MiB\n\n",
              rf.backend.c_str(), desc.empty() ? "" : " [", desc.c_str(), desc.empty() ? "" : "]", kv_name.c_str(),
              double(kv_bytes) / 1048576.0, load_ms, rss_loaded, peak);
  std::printf("| threads | test      |   tok/s | +/-    |   GB/s |\n|--------:|:----------|--------:|:-------|-------:|\n");
  for (const Result& r : results) {
    char gb[32] = "";
    if (r.gb_s > 0) std::snprintf(gb, sizeof gb, "%6.2f", r.gb_s);
    std::printf("| %7lld | %-9s | %7.1f | %-6.1f | %6s |\n", (long long)r.threads, r.test.c_str(), r.tok_s,
                r.tok_s_sd, gb);
  }
  if (!spec_rows.empty()) {
    std::printf("\nspeculative decoding (greedy, --spec-prompt %s; lookup %lld, draft model %s, draft max %lld):\n",
                spec_prompt.c_str(), (long long)spf.lookup, spf.draft_model.empty() ? "-" : spf.draft_model.c_str(),
                (long long)spf.draft_max);
    std::printf("| threads | gen tok | plain tok/s | spec tok/s | speed-up | accepted | tok/forward | same output |\n"
                "|--------:|--------:|------------:|-----------:|---------:|---------:|------------:|:------------|\n");
    for (const SpecRow& s : spec_rows)
      std::printf("| %7lld | %7lld | %11.1f | %10.1f | %7.2fx | %7.1f%% | %11.2f | %-11s |\n", (long long)s.threads,
                  (long long)s.r.n_gen, s.r.plain_tok_s, s.r.spec_tok_s,
                  s.r.speedup, 100.0 * s.r.accept_rate,
                  s.r.tok_per_forward, s.r.same ? "yes" : "NO");
  }
  return 0;
}

}  // namespace
F8_COMMAND("bench", "prefill/decode speed table (+ --json)", run);
}  // namespace f8cli
