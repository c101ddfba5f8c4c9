// util_spec_bench.cpp — see util_spec_bench.h.
#include "util_spec_bench.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "util_gen.h"

namespace f8cli {

namespace {

void mean_sd(const std::vector<double>& v, double* mean, double* sd) {
  double m = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  *mean = m;
  *sd = v.size() > 1 ? std::sqrt(s / double(v.size() - 1)) : 0.0;
}

}  // namespace

int bench_speculative(f8_model* model, f8_context* ctx, Drafter& drafter, const std::string& prompt, int64_t n,
                      int64_t reps, SpecBenchResult* out) {
  // Prompt tokens: chat-formatted when the model has a template.
  std::string text = prompt;
  const bool chat = *f8_model_chat_template(model) != '\0';
  if (chat) {
    f8_chat_message m{"user", prompt.c_str()};
    f8_chat_params chp = f8_chat_default_params();
    size_t len = 0;
    f8_status rs = f8_chat_apply_template(model, &m, 1, &chp, nullptr, 0, &len);
    if (rs != F8_OK && rs != F8_ERR_BUFFER_TOO_SMALL) return fail(1, f8_last_error());
    std::vector<char> buf(len + 1);
    if (f8_chat_apply_template(model, &m, 1, &chp, buf.data(), buf.size(), &len) != F8_OK)
      return fail(1, f8_last_error());
    text.assign(buf.data(), len);
  }
  size_t n_ids = 0;
  f8_status st = f8_tokenize(model, text.data(), text.size(), !chat, chat, nullptr, 0, &n_ids);
  if (st != F8_OK && st != F8_ERR_BUFFER_TOO_SMALL) return fail(1, f8_last_error());
  std::vector<int32_t> toks(n_ids);
  if (f8_tokenize(model, text.data(), text.size(), !chat, chat, toks.data(), toks.size(), &n_ids) != F8_OK)
    return fail(1, f8_last_error());
  if (toks.empty()) return fail(2, "--spec-prompt: the prompt is empty after tokenization");
  f8_model_info info{};
  info.struct_size = sizeof info;
  if (f8_model_get_info(model, &info) != F8_OK) return fail(1, f8_last_error());
  const int32_t V = info.n_vocab;

  std::vector<double> plain, spec;
  std::vector<int32_t> ref;
  int64_t drafted = 0, accepted = 0, steps = 0, gen = 0;
  out->same = true;
  for (int64_t r = 0; r < reps; ++r)
    for (int pass = 0; pass < 2; ++pass) {  // alternating: plain, speculative
      f8_sampler_params sp = f8_sampler_default_params();
      sp.temperature = 0;
      sp.seed = 0;
      f8_sampler* sampler = nullptr;
      f8_stopper* stopper = nullptr;
      if (f8_sampler_new(&sp, V, &sampler) != F8_OK || f8_stopper_new(model, nullptr, 0, nullptr, 0, n, &stopper) != F8_OK) {
        f8_sampler_free(sampler);
        return fail(1, f8_last_error());
      }
      for (int32_t t : toks) f8_sampler_accept(sampler, t);
      f8_kv_clear(ctx);
      Sequence seq(ctx);
      GenStats g;
      st = seq.sync(toks);
      auto ignore = [](const char*, size_t) {};
      if (st == F8_OK)
        st = pass == 0 ? generate(model, V, seq, sampler, stopper, ignore, nullptr, &g)
                       : generate_speculative(model, V, seq, sampler, stopper, drafter, n, ignore, nullptr, &g);
      f8_sampler_free(sampler);
      f8_stopper_free(stopper);
      if (st != F8_OK) return fail(1, f8_last_error());
      const double tps = g.ms > 0 ? double(g.n_gen) * 1000.0 / g.ms : 0;
      if (pass == 0) {
        plain.push_back(tps);
        if (r == 0) ref = g.tokens;
      } else {
        spec.push_back(tps);
        drafted += g.n_drafted;
        accepted += g.n_accepted;
        steps += g.n_steps;
        gen += g.n_gen;
        out->same = out->same && g.tokens == ref;
      }
      out->n_gen = g.n_gen;
    }
  f8_kv_clear(ctx);
  mean_sd(plain, &out->plain_tok_s, &out->plain_sd);
  mean_sd(spec, &out->spec_tok_s, &out->spec_sd);
  // Each pair ran back to back, so its ratio cancels the machine's slower
  // drifts; the median drops a pair a burst of other load hit.
  std::vector<double> ratio;
  for (size_t i = 0; i < plain.size() && i < spec.size(); ++i)
    if (plain[i] > 0) ratio.push_back(spec[i] / plain[i]);
  std::sort(ratio.begin(), ratio.end());
  const size_t h = ratio.size() / 2;
  out->speedup = ratio.empty() ? 0.0 : ratio.size() % 2 ? ratio[h] : (ratio[h - 1] + ratio[h]) / 2;
  out->accept_rate = drafted ? double(accepted) / double(drafted) : 0.0;
  out->tok_per_forward = steps ? double(gen) / double(steps) : 0.0;
  return 0;
}

}  // namespace f8cli
