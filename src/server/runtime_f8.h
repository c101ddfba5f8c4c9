// runtime_f8.h — the server's only bridge to the model: the C API
// (include/f8.h). F8Runtime is the scheduler's Runtime over one f8_context;
// ModelText holds the thread-safe text operations the HTTP threads use
// (tokenize, detokenize, chat template), which only read the model.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "f8.h"
#include "server/api_error.h"
#include "server/request.h"
#include "server/runtime.h"
#include "server/tool_calls.h"

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
  bool seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) override;
  int32_t kv_free() const override;
  bool seq_trim(int32_t seq, int32_t p0) override;
  std::vector<int32_t> draft_lookup(const std::vector<int32_t>& history, int32_t ngram_min, int32_t ngram_max,
                                    int32_t n) override;
  std::unique_ptr<TokenSampler> new_sampler(const GenParams& p, uint64_t seed, std::string* err) override;
  std::unique_ptr<TextStream> new_text_stream(bool special) override;
  int32_t n_logits() const { return n_vocab_; }  // logits width (>= the vocabulary)

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
  // file has none) and tokenizes it. kwargs_json: a JSON object of extra
  // template variables, "" = none. tools / tools_json: the functions to
  // offer (empty = none). Tool calls in assistant messages and tool results
  // go through the template too; what the template cannot show (tools, calls,
  // results) is written in the Hermes form instead (chat_prompt.cpp).
  bool chat_prompt(const std::vector<ChatMessage>& msgs, const std::string& kwargs_json,
                   const std::vector<ToolSpec>& tools, const std::string& tools_json, std::vector<int32_t>* out,
                   ApiError* err) const;
  // The tool-call syntax used for this model: its template's, or Hermes
  // when the template shows no tools or an unknown syntax.
  ToolFormat tool_format() const;
  // A syntax marker as GBNF: <[ID]> when the text is one control token, else a literal.
  std::string marker(const std::string& text) const;
  // JSON Schema -> GBNF rules under `root`; false with *err (the schema's problem).
  bool schema_gbnf(const std::string& schema, const std::string& root, std::string* gbnf, std::string* err) const;
  // Compiles GBNF for the model (500 on failure: generated grammars are valid).
  bool compile_grammar(const std::string& gbnf, std::shared_ptr<f8_grammar>* out, ApiError* err) const;
  // The bytes of a token as the text shows them (control tokens as their text).
  std::string token_bytes(int32_t id) const;
  int32_t n_vocab() const;
  int32_t n_logits() const;

 private:
  struct ToolSupport {
    bool tools = false, calls = false, results = false;  // the template shows them
    ToolFormat format = ToolFormat::Hermes;
  };
  const ToolSupport& tool_support() const;  // probed once per model
  bool render(const std::string& conv_json, std::string* text, ApiError* err) const;

  const f8_model* model_;
  int32_t n_logits_ = 0;
  mutable std::once_flag probe_once_;
  mutable ToolSupport support_;
};

}  // namespace f8srv
