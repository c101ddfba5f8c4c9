// runtime_f8.h — the server's only bridge to the model: the C API
// (include/f8.h). F8Runtime is the scheduler's Runtime over one f8_context;
// ModelText holds the thread-safe text operations the HTTP threads use
// (tokenize, detokenize, chat template), which only read the model.
#pragma once

#include <string>
#include <vector>

#include "f8.h"
#include "server/api_error.h"
#include "server/request.h"
#include "server/runtime.h"

namespace f8srv {

class F8Runtime : public Runtime {
 public:
  // The model and context must outlive this object. batch_capacity: the
  // most entries one decode will get (the scheduler's step_tokens).
  F8Runtime(const f8_model* model, f8_context* ctx, int32_t batch_capacity);
  ~F8Runtime() override;

  bool decode(const std::vector<BatchEntry>& batch, std::string* err) override;
  const float* logits(int32_t i) override;
  void seq_clear(int32_t seq) override;
  bool is_eog(int32_t token) const override;
  std::unique_ptr<TokenSampler> new_sampler(const GenParams& p, uint64_t seed, std::string* err) override;
  std::unique_ptr<TextStream> new_text_stream() override;

 private:
  const f8_model* model_;
  f8_context* ctx_;
  f8_batch batch_{};
  int32_t n_vocab_;
};

class ModelText {
 public:
  explicit ModelText(const f8_model* model);
  // False with *err (400 for bad input, 500 otherwise).
  bool tokenize(const std::string& text, bool add_special, bool parse_special, std::vector<int32_t>* out,
                ApiError* err) const;
  bool detokenize(const std::vector<int32_t>& ids, std::string* out, ApiError* err) const;
  // The piece of one token (raw bytes; may be part of a character).
  std::string piece(int32_t id) const;
  // Renders the conversation with the model's chat template (ChatML when the
  // file has none) and tokenizes it.
  // kwargs_json: a JSON object of extra template variables, "" = none.
  bool chat_prompt(const std::vector<ChatMessage>& msgs, const std::string& kwargs_json, std::vector<int32_t>* out,
                   ApiError* err) const;
  int32_t n_vocab() const;

 private:
  const f8_model* model_;
};

}  // namespace f8srv
