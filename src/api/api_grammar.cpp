// api_grammar.cpp — the constrained-decoding section of f8.h (grammars)
// over f8::sampling's grammar engine and JSON Schema conversion.
#include <string>
#include <vector>

#include "api/api_error.h"
#include "api/grammar_handle.h"
#include "api/model_handle.h"
#include "model/hparams.h"
#include "sampling/json_schema.h"

using f8api::guarded;
using f8api::put_text;
using f8api::set_error;

namespace {

// Every token's text as grammars see it, built once per model.
std::shared_ptr<const f8::sampling::TokenTrie> token_trie(const f8_model* m) {
  std::call_once(m->token_trie_once, [m] {
    const f8tok::Tokenizer& tok = *m->tokenizer;
    int32_t n = tok.vocab_size();
    std::vector<std::string> pieces(static_cast<size_t>(n), std::string());
    std::vector<bool> control(size_t(n), false);
    f8tok::DecodeOptions o;
    o.render_special = false;
    for (int32_t i = 0; i < n; ++i) {
      f8tok::TokenType t = tok.type(i);
      if (t == f8tok::TokenType::Control) {
        control[size_t(i)] = true;
      } else if (t == f8tok::TokenType::Normal || t == f8tok::TokenType::Byte ||
                 t == f8tok::TokenType::UserDefined) {
        std::string piece;
        if (tok.piece(i, o, &piece).ok()) pieces[size_t(i)] = std::move(piece);
      }
    }
    // Logits may be wider than the tokenizer (padded embedding rows).
    int32_t n_logits = n;
    if (m->runtime) {
      n_logits = std::max<int32_t>(n, int32_t(m->runtime->hparams().n_vocab));
    } else {
      f8model::HParams hp;
      if (f8model::load_hparams(*m->file, &hp).ok()) n_logits = std::max<int32_t>(n, int32_t(hp.n_vocab));
    }
    m->token_trie = std::make_shared<f8::sampling::TokenTrie>(pieces, control, m->eog_ids, n_logits);
  });
  return m->token_trie;
}

f8_status compile(const char* fn, const f8_model* model, const std::string& text, const std::string& root,
                  f8_grammar** out) {
  auto g = std::make_shared<f8::sampling::Grammar>();
  std::string err = f8::sampling::parse_grammar(text, root, g.get());
  if (!err.empty()) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": " + err);
  *out = new f8_grammar{std::move(g), token_trie(model)};
  return F8_OK;
}

f8_status schema_to_gbnf(const char* fn, const char* schema_json, const std::string& root, std::string* gbnf) {
  f8::sampling::SchemaError err;
  if (!f8::sampling::json_schema_to_gbnf(schema_json, root, gbnf, &err))
    return set_error(err.unsupported ? F8_ERR_UNSUPPORTED : F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": " + err.message);
  return F8_OK;
}

}  // namespace

extern "C" {

f8_status f8_grammar_new(const f8_model* model, const char* grammar, const char* root, f8_grammar** out) {
  return guarded("f8_grammar_new", [&]() -> f8_status {
    if (!out) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_grammar_new: out is NULL");
    *out = nullptr;
    if (!model || !model->tokenizer || !grammar)
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_grammar_new: model or grammar is NULL");
    return compile("f8_grammar_new", model, grammar, root ? root : "root", out);
  });
}

f8_status f8_grammar_new_json_schema(const f8_model* model, const char* schema_json, f8_grammar** out) {
  return guarded("f8_grammar_new_json_schema", [&]() -> f8_status {
    const char* fn = "f8_grammar_new_json_schema";
    if (!out) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": out is NULL");
    *out = nullptr;
    if (!model || !model->tokenizer || !schema_json)
      return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": model or schema_json is NULL");
    std::string gbnf;
    if (f8_status s = schema_to_gbnf(fn, schema_json, "root", &gbnf); s != F8_OK) return s;
    return compile(fn, model, gbnf, "root", out);
  });
}

f8_status f8_json_schema_to_grammar(const char* schema_json, const char* root, char* buf, size_t capacity, size_t* len) {
  return guarded("f8_json_schema_to_grammar", [&]() -> f8_status {
    const char* fn = "f8_json_schema_to_grammar";
    if (!len) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": len is NULL");
    *len = 0;
    if (!schema_json) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": schema_json is NULL");
    if (!buf && capacity) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": buf is NULL but capacity > 0");
    std::string r = root ? root : "root";
    if (r.empty() || r.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
                         std::string::npos)
      return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": root must be a rule name ([A-Za-z0-9_-]+)");
    std::string gbnf;
    if (f8_status s = schema_to_gbnf(fn, schema_json, r, &gbnf); s != F8_OK) return s;
    return put_text(fn, gbnf, buf, capacity, len);
  });
}

void f8_grammar_free(f8_grammar* grammar) { delete grammar; }

}  // extern "C"
