// k_mean.cpp — see k_mean.h.
#include "convert/k_mean.h"

#include <chrono>
#include <memory>

#include "ggf8/keys.h"
#include "model/k_center.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace f8conv {

void k_mean_metadata(const ggf8::File& written, unsigned threads, std::vector<ggf8::KV>* more, KMeanResult* r) {
  *r = KMeanResult{};
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<f8model::Model> model;
  if (f8model::Status ms = f8model::Model::load(written, {}, &model); !ms.ok()) {
    r->failed = "the runtime cannot load it here: " + ms.message;
    return;
  }
  if (!f8model::k_center_applies(model->hparams())) {
    r->applies = false;
    return;
  }
  // The runtime's own tokens and pass: a file's stored means are the bits a
  // process would measure (tests/model/test_k_mean.cpp).
  std::unique_ptr<f8tok::Tokenizer> tok;
  if (!f8tok::load_from_file(written, &tok).ok()) tok.reset();  // the runtime's fallback ids, as at start-up
  std::vector<float> mean;
  uint64_t n = 0;
  if (f8model::Status ms = f8model::measure_k_center(*model, tok.get(), int32_t(threads), &mean, &n); !ms.ok()) {
    r->failed = ms.message;
    return;
  }
  more->push_back({ggf8::keys::kQuantKvKMean, ggf8::Value::array_f32(mean)});
  more->push_back({ggf8::keys::kQuantKvKMeanTokens, ggf8::Value::u64(n)});
  r->stored = true;
  r->tokens = n;
  r->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace f8conv
