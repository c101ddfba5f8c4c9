// bench_grammar_mask — what a JSON-schema constraint adds to one sampling
// step, through the C API: f8_sampler_sample on a model's vocabulary with
// and without f8_sampler_set_grammar, over random logits (temperature 1,
// top-p 1: every allowed token is a candidate), the grammar restarting
// whenever it completes.
//
//   bench_grammar_mask MODEL.f8 SCHEMA.json [STEPS [TEMPERATURE]]
//   bench_grammar_mask MODEL.f8 SCHEMA.json --replay TEXT_FILE [ROUNDS]
//
// Prints microseconds per step for both and the difference; the first use
// of the model's vocabulary trie (built once per model) is reported apart.
// --replay: the steps of a real output instead (a text the schema accepts,
// e.g. what `f8 generate --json-schema` wrote): its tokens are sampled one by
// one from logits that favour them, so the grammar walks the states a real
// generation visits; ROUNDS (default 3) replays, the first one cold.
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
  bool replay = argc > 4 && std::string(argv[3]) == "--replay";
  int steps = argc > 3 && !replay ? atoi(argv[3]) : 2000;
  float temp = argc > 4 && !replay ? float(atof(argv[4])) : 1.0f;
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

  if (replay) {
    std::ifstream tf(argv[4], std::ios::binary);
    std::stringstream ts;
    ts << tf.rdbuf();
    std::string text = ts.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    size_t n = 0;
    f8_tokenize(model, text.data(), text.size(), false, false, nullptr, 0, &n);
    std::vector<int32_t> ids(n);
    f8_tokenize(model, text.data(), text.size(), false, false, ids.data(), n, &n);
    int rounds = argc > 5 ? atoi(argv[5]) : 3;
    std::vector<float> l(size_t(V), 0.0f);
    for (int constrained = 0; constrained < 2; ++constrained) {
      f8_sampler_params sp = f8_sampler_default_params();
      sp.temperature = 0;
      f8_sampler* s = nullptr;
      f8_sampler_new(&sp, V, &s);
      for (int r = 0; r < rounds; ++r) {
        if (constrained) f8_sampler_set_grammar(s, g);  // a fresh matcher each round: the first round is cold
        double t = now_us();
        for (int32_t id : ids) {
          l[size_t(id)] = 50.0f;
          int32_t tok;
          if (f8_sampler_sample(s, l.data(), V, &tok) != F8_OK || tok != id) {
            fprintf(stderr, "error: token %d of the text is not allowed by the schema (%s)\n", id, f8_last_error());
            return 1;
          }
          l[size_t(id)] = 0.0f;
        }
        double us = (now_us() - t) / double(ids.size());
        printf("%s round %d: %.1f us per token over %zu tokens\n", constrained ? "schema" : "plain ", r + 1, us,
               ids.size());
      }
      f8_sampler_free(s);
    }
    f8_grammar_free(g);
    f8_model_free(model);
    return 0;
  }

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
