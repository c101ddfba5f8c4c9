// runtime_f8.cpp — Runtime and text operations over include/f8.h.
#include "server/runtime_f8.h"

#include <cstring>
#include <nlohmann/json.hpp>

namespace f8srv {

namespace {

class F8Sampler : public TokenSampler {
 public:
  F8Sampler(f8_sampler* s, int32_t n_vocab) : s_(s), n_vocab_(n_vocab) {}
  ~F8Sampler() override { f8_sampler_free(s_); }
  void accept(int32_t token) override { f8_sampler_accept(s_, token); }
  bool sample(const float* logits, int32_t* token, std::string* err) override {
    if (f8_sampler_sample(s_, logits, n_vocab_, token) != F8_OK) {
      *err = f8_last_error();
      return false;
    }
    last_ = *token;
    return true;
  }
  bool logprobs(int32_t n, TokenLogprob* out) override {
    std::vector<f8_token_logprob> top(size_t(std::max(n, 0)));
    size_t got = 0;
    float chosen = 0;
    if (f8_sampler_last_logprobs(s_, &chosen, top.data(), top.size(), &got) != F8_OK) return false;
    out->token = last_;
    out->logprob = chosen;
    out->top.clear();
    for (size_t i = 0; i < got; ++i) out->top.push_back({top[i].token, top[i].logprob});
    return true;
  }
  bool grammar_done() const override { return f8_sampler_grammar_state(s_) == F8_GRAMMAR_DONE; }
  bool verify(const std::vector<const float*>& rows, const std::vector<int32_t>& draft,
              const std::vector<const float*>& q, std::vector<int32_t>* out, std::string* err) override {
    if (rows.size() != draft.size() + 1 || (!q.empty() && q.size() != draft.size())) {
      *err = "verify: rows, drafts and draft distributions do not match";
      return false;
    }
    out->resize(draft.size() + 1);
    size_t n = 0;
    if (f8_sampler_verify(s_, rows.data(), n_vocab_, draft.data(), q.empty() ? nullptr : q.data(), draft.size(),
                          out->data(), &n) != F8_OK) {
      *err = f8_last_error();
      return false;
    }
    out->resize(n);
    last_ = out->back();
    return true;
  }
  bool sample_probs(const float* logits, int32_t* token, std::vector<float>* probs, std::string* err) override {
    probs->resize(size_t(n_vocab_));
    if (f8_sampler_sample_probs(s_, logits, n_vocab_, token, probs->data()) != F8_OK) {
      *err = f8_last_error();
      return false;
    }
    last_ = *token;
    return true;
  }

 private:
  f8_sampler* s_;
  int32_t n_vocab_;
  int32_t last_ = -1;
};

class F8TextStream : public TextStream {
 public:
  explicit F8TextStream(f8_detok_stream* s) : s_(s) {}
  ~F8TextStream() override { f8_detok_stream_free(s_); }
  std::string push(int32_t token) override {
    const char* t = nullptr;
    size_t n = 0;
    if (!s_ || f8_detok_stream_push(s_, token, &t, &n) != F8_OK || !t) return {};
    return std::string(t, n);
  }
  std::string flush() override {
    const char* t = nullptr;
    size_t n = 0;
    if (!s_ || f8_detok_stream_flush(s_, &t, &n) != F8_OK || !t) return {};
    return std::string(t, n);
  }

 private:
  f8_detok_stream* s_;
};

ApiError internal(const std::string& what) {
  return ApiError{500, what + ": " + f8_last_error(), "server_error", "", ""};
}

}  // namespace

F8Runtime::F8Runtime(const f8_model* model, f8_context* ctx, int32_t batch_capacity)
    : model_(model), ctx_(ctx), n_vocab_(f8_vocab_size(model)) {
  f8_model_info info{};
  info.struct_size = sizeof info;
  if (f8_model_get_info(model, &info) == F8_OK && info.n_vocab > 0) n_vocab_ = info.n_vocab;
  if (f8_batch_init(batch_capacity, &batch_) != F8_OK) batch_ = f8_batch{};
}

F8Runtime::~F8Runtime() { f8_batch_free(&batch_); }

bool F8Runtime::decode(const std::vector<BatchEntry>& b, std::string* err) {
  if (static_cast<int32_t>(b.size()) > batch_.capacity) {
    *err = "batch of " + std::to_string(b.size()) + " entries exceeds capacity " +
           std::to_string(batch_.capacity);
    return false;
  }
  batch_.n_tokens = 0;
  for (const BatchEntry& e : b) f8_batch_add(&batch_, e.token, e.pos, e.seq, e.logits);
  f8_status st = f8_decode(ctx_, &batch_);
  if (st != F8_OK) {
    *err = std::string(f8_status_name(st)) + ": " + f8_last_error();
    return false;
  }
  return true;
}

const float* F8Runtime::logits(int32_t i) {
  const float* p = nullptr;
  return f8_get_logits_ith(ctx_, i, &p) == F8_OK ? p : nullptr;
}

void F8Runtime::seq_clear(int32_t seq) { f8_kv_seq_rm(ctx_, seq, 0, -1); }

bool F8Runtime::seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) {
  return f8_kv_seq_cp(ctx_, src, dst, p0, p1) == F8_OK;
}

int32_t F8Runtime::kv_free() const {
  return int32_t(f8_context_get_params(ctx_).n_ctx) - f8_kv_n_used(ctx_);
}

bool F8Runtime::seq_trim(int32_t seq, int32_t p0) { return f8_kv_seq_rm(ctx_, seq, p0, -1) == F8_OK; }

std::vector<int32_t> F8Runtime::draft_lookup(const std::vector<int32_t>& history, int32_t ngram_min,
                                             int32_t ngram_max, int32_t n) {
  std::vector<int32_t> d(size_t(std::max(n, 0)));
  size_t got = 0;
  if (f8_draft_lookup(history.data(), history.size(), ngram_min, ngram_max, d.data(), d.size(), &got) != F8_OK)
    got = 0;
  d.resize(got);
  return d;
}

bool F8Runtime::is_eog(int32_t token) const { return f8_token_is_eog(model_, token); }

std::unique_ptr<TokenSampler> F8Runtime::new_sampler(const GenParams& p, uint64_t seed, std::string* err) {
  f8_sampler_params sp = f8_sampler_default_params();
  sp.temperature = p.temperature;
  sp.top_k = p.top_k;
  sp.top_p = p.top_p;
  sp.min_p = p.min_p;
  sp.repeat_penalty = p.repeat_penalty;
  sp.frequency_penalty = p.frequency_penalty;
  sp.presence_penalty = p.presence_penalty;
  sp.seed = seed;
  std::vector<f8_logit_bias> bias;
  for (const auto& [tok, b] : p.logit_bias) bias.push_back({tok, b});
  sp.logit_bias = bias.data();
  sp.n_logit_bias = bias.size();
  f8_sampler* s = nullptr;
  if (f8_sampler_new(&sp, n_vocab_, &s) != F8_OK) {
    *err = f8_last_error();
    return nullptr;
  }
  if (p.grammar && f8_sampler_set_grammar(s, p.grammar.get()) != F8_OK) {
    *err = f8_last_error();
    f8_sampler_free(s);
    return nullptr;
  }
  return std::make_unique<F8Sampler>(s, n_vocab_);
}

std::unique_ptr<TextStream> F8Runtime::new_text_stream(bool special) {
  f8_detok_stream* s = nullptr;
  // A completion continues the prompt: keep SentencePiece's leading space.
  if (f8_detok_stream_new(model_, /*render_special=*/special, /*strip_leading_space=*/false, &s) != F8_OK)
    s = nullptr;
  return std::make_unique<F8TextStream>(s);
}

ModelText::ModelText(const f8_model* model) : model_(model), n_logits_(f8_vocab_size(model)) {
  f8_model_info info{};
  info.struct_size = sizeof info;
  if (f8_model_get_info(model, &info) == F8_OK && info.n_vocab > n_logits_) n_logits_ = info.n_vocab;
}

int32_t ModelText::n_vocab() const { return f8_vocab_size(model_); }
int32_t ModelText::n_logits() const { return n_logits_; }

std::string ModelText::token_bytes(int32_t id) const { return piece(id); }

std::string ModelText::marker(const std::string& text) const {
  std::vector<int32_t> ids;
  ApiError err;
  if (tokenize(text, /*add_special=*/false, /*parse_special=*/true, &ids, &err) && ids.size() == 1 &&
      f8_token_is_control(model_, ids[0]))
    return "<[" + std::to_string(ids[0]) + "]>";
  std::string s = "\"";
  for (char c : text) {
    if (c == '"') s += "\\\"";
    else if (c == '\\') s += "\\\\";
    else if (c == '\n') s += "\\n";
    else s += c;
  }
  return s + "\"";
}

bool ModelText::schema_gbnf(const std::string& schema, const std::string& root, std::string* gbnf,
                            std::string* err) const {
  size_t len = 0;
  f8_status st = f8_json_schema_to_grammar(schema.c_str(), root.c_str(), nullptr, 0, &len);
  if (st == F8_ERR_BUFFER_TOO_SMALL) {
    std::string buf(len + 1, '\0');
    st = f8_json_schema_to_grammar(schema.c_str(), root.c_str(), buf.data(), buf.size(), &len);
    buf.resize(len);
    *gbnf = std::move(buf);
  }
  if (st != F8_OK) {
    *err = f8_last_error();
    // "f8_json_schema_to_grammar: schema at ...": the caller names the field.
    const std::string prefix = "f8_json_schema_to_grammar: ";
    if (err->rfind(prefix, 0) == 0) *err = err->substr(prefix.size());
    return false;
  }
  return true;
}

bool ModelText::compile_grammar(const std::string& gbnf, std::shared_ptr<f8_grammar>* out, ApiError* err) const {
  f8_grammar* g = nullptr;
  if (f8_grammar_new(model_, gbnf.c_str(), "root", &g) != F8_OK) {
    *err = internal("grammar");
    return false;
  }
  out->reset(g, f8_grammar_free);
  return true;
}

bool ModelText::tokenize(const std::string& text, bool add_special, bool parse_special,
                         std::vector<int32_t>* out, ApiError* err) const {
  size_t n = 0;
  f8_status st = f8_tokenize(model_, text.data(), text.size(), add_special, parse_special, nullptr, 0, &n);
  if (st != F8_OK && st != F8_ERR_BUFFER_TOO_SMALL) {
    *err = internal("tokenize");
    return false;
  }
  out->assign(n, 0);
  if (n == 0) return true;
  st = f8_tokenize(model_, text.data(), text.size(), add_special, parse_special, out->data(), n, &n);
  if (st != F8_OK) {
    *err = internal("tokenize");
    return false;
  }
  out->resize(n);
  return true;
}

bool ModelText::detokenize(const std::vector<int32_t>& ids, std::string* out, ApiError* err) const {
  int32_t nv = n_vocab();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= nv) {
      *err = bad_request("token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                             " is out of range [0, " + std::to_string(nv) + ")",
                         "tokens");
      return false;
    }
  }
  size_t len = 0;
  f8_status st = f8_detokenize(model_, ids.data(), ids.size(), false, false, nullptr, 0, &len);
  if (st != F8_OK && st != F8_ERR_BUFFER_TOO_SMALL) {
    *err = internal("detokenize");
    return false;
  }
  std::string buf(len + 1, '\0');
  st = f8_detokenize(model_, ids.data(), ids.size(), false, false, buf.data(), buf.size(), &len);
  if (st != F8_OK) {
    *err = internal("detokenize");
    return false;
  }
  buf.resize(len);
  *out = std::move(buf);
  return true;
}

std::string ModelText::piece(int32_t id) const {
  char buf[256];
  size_t len = 0;
  if (f8_token_to_piece(model_, id, true, buf, sizeof buf, &len) != F8_OK) return {};
  return std::string(buf, len);
}

}  // namespace f8srv
