// k_center.cpp — see k_center.h.
#include "model/k_center.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "ggf8/keys.h"
#include "model/context.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace f8model {

const char* const kCalibrationText =
    "The quick brown fox jumps over the lazy dog. In the beginning God created the heaven and the earth. "
    "User: What is the capital of France?\nAssistant: The capital of France is Paris, a city on the Seine "
    "with about 2.1 million inhabitants.\n\n"
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n"
    "Table 3: results (mean +/- std) over 5 runs: 71.4 +/- 0.8, 68.2 +/- 1.1, 93.0%.\n"
    "Once upon a time, in a small village near the mountains, there lived an old clockmaker who "
    "repaired every watch in the valley. {\"id\": 42, \"tags\": [\"a\", \"b\"], \"ok\": true}\n"
    "Photosynthesis converts light energy into chemical energy; the overall equation is "
    "6 CO2 + 6 H2O -> C6H12O6 + 6 O2. Il pleut des cordes, dit-elle en riant. 1, 2, 3, 4, 5, 6, 7, 8.";

std::vector<int32_t> calibration_tokens(const f8tok::Tokenizer* tok, uint32_t n_vocab) {
  std::vector<int32_t> toks;
  f8tok::EncodeOptions eo;
  eo.parse_special = false;
  const bool ok = tok && tok->encode(kCalibrationText, eo, &toks).ok();
  toks.erase(std::remove_if(toks.begin(), toks.end(),
                            [n_vocab](int32_t t) { return t < 0 || uint32_t(t) >= n_vocab; }),
             toks.end());
  if (!ok || toks.size() < 8) {
    toks.clear();
    for (uint32_t i = 0; i < 256 && n_vocab > 0; ++i) toks.push_back(int32_t((i * 2654435761u) % n_vocab));
  }
  return toks;
}

bool k_center_applies(const HParams& hp) { return !hp.is_mla() && hp.attn_softcap == 0; }

Status measure_k_center(Model& model, const f8tok::Tokenizer* tok, int32_t n_threads, std::vector<float>* mean,
                        uint64_t* tokens) {
  // The text's first 128 tokens: SmolLM2 at 4k tokens, KL to an F32 cache
  // fp8 0.00451 / int8 0.000370 against 0.00439 / 0.000377 with all 266,
  // 0.00475 / 0.000402 with 68; start-up +0.25 s instead of +0.55.
  std::vector<int32_t> toks = calibration_tokens(tok, model.hparams().n_vocab);
  if (toks.size() > kCenterCalibrationTokens) toks.resize(kCenterCalibrationTokens);
  if (tokens) *tokens = toks.size();
  return calibrate_k_center(model, toks, n_threads, "cpu", mean);
}

Status read_k_center(const ggf8::File& file, const HParams& hp, std::vector<float>* mean, bool* found) {
  *found = false;
  const ggf8::Value* v = file.find(ggf8::keys::kQuantKvKMean);
  if (!v) return Status::Ok();
  const uint64_t want = uint64_t(hp.n_layer) * hp.n_head_kv * hp.head_dim;
  const std::string what = file.path() + ": metadata '" + ggf8::keys::kQuantKvKMean + "': ";
  std::vector<float> m;
  if (!v->is_array() || v->elem_type() != ggf8::VType::F32 || !v->to_f32_vector(&m))
    return Status::Error(Code::Format, what + "expected an array of f32");
  if (m.size() != want)
    return Status::Error(Code::Format, what + "expected " + std::to_string(want) + " values (" +
                                           std::to_string(hp.n_layer) + " layers x " + std::to_string(hp.n_head_kv) +
                                           " KV heads x " + std::to_string(hp.head_dim) + "), has " +
                                           std::to_string(m.size()));
  for (size_t i = 0; i < m.size(); ++i)
    if (!std::isfinite(m[i]))
      return Status::Error(Code::Format, what + "value " + std::to_string(i) + " is not finite");
  *mean = std::move(m);
  *found = true;
  return Status::Ok();
}

}  // namespace f8model
