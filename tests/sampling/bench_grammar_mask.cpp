// bench_grammar_mask — what a JSON-schema constraint adds to one sampling
// step, through the C API: f8_sampler_sample on a model's vocabulary with
// and without f8_sampler_set_grammar, over random logits (temperature 1,
// top-p 1: every allowed token is a candidate), the grammar restarting
// whenever it completes.
//
//   bench_grammar_mask MODEL.f8 SCHEMA.json [STEPS [TEMPERATURE]]
//
// Prints microseconds per step for both and the difference; the first use
// of the model's vocabulary trie (built once per model) is reported apart.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "f8.h"

namespace {

double now_us() {
  using namespace std::chrono;
  return duration<double, std::micro>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_grammar_mask MODEL.f8 SCHEMA.json [STEPS]\n");
    return 2;
  }
  int steps = argc > 3 ? atoi(argv[3]) : 2000;
  float temp = argc > 4 ? float(atof(argv[4])) : 1.0f;
  f8_model_params mp = f8_model_default_params();
  mp.vocab_only = true;
  f8_model* model = nullptr;
  if (f8_model_load(argv[1], &mp, &model) != F8_OK) {
    fprintf(stderr, "error: %s\n", f8_last_error());
    return 1;
  }
  std::ifstream f(argv[2]);
  std::stringstream ss;
  ss << f.rdbuf();
  f8_model_info info{};
  info.struct_size = sizeof info;
  f8_model_get_info(model, &info);
  const int32_t V = info.n_vocab;

  double t0 = now_us();
  f8_grammar* g = nullptr;
  if (f8_grammar_new_json_schema(model, ss.str().c_str(), &g) != F8_OK) {
    fprintf(stderr, "error: %s\n", f8_last_error());
    return 1;
  }
  double compile_us = now_us() - t0;

  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<std::vector<float>> logits(16, std::vector<float>(size_t(V)));
  for (auto& l : logits)
    for (float& x : l) x = nd(rng);

  auto run = [&](bool constrained, double* us, int* restarts) {
    f8_sampler_params sp = f8_sampler_default_params();
    sp.temperature = temp;
    sp.top_k = 0;
    sp.top_p = 1.0f;
    sp.min_p = 0.0f;
    sp.seed = 42;
    f8_sampler* s = nullptr;
    f8_sampler_new(&sp, V, &s);
    if (constrained) f8_sampler_set_grammar(s, g);
    *restarts = 0;
    double t = now_us();
    for (int i = 0; i < steps; ++i) {
      int32_t tok;
      if (f8_sampler_sample(s, logits[size_t(i) % logits.size()].data(), V, &tok) != F8_OK) {
        fprintf(stderr, "error: %s\n", f8_last_error());
        exit(1);
      }
      if (constrained && (f8_token_is_eog(model, tok) || f8_sampler_grammar_state(s) == F8_GRAMMAR_DONE)) {
        f8_sampler_reset(s);
        ++*restarts;
      }
    }
    *us = (now_us() - t) / steps;
    f8_sampler_free(s);
  };
  double plain = 0, constrained = 0;
  int r0 = 0, r1 = 0;
  run(false, &plain, &r0);
  run(true, &constrained, &r1);
  printf("vocabulary %d tokens; grammar + trie build %.1f ms\n", V, compile_us / 1000);
  printf("temperature %g: ", double(temp));
  printf("sample step: plain %.1f us, with schema %.1f us (+%.1f us per token; %d outputs completed in %d steps)\n",
         plain, constrained, constrained - plain, r1, steps);
  f8_grammar_free(g);
  f8_model_free(model);
  return 0;
}
