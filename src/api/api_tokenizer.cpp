// api_tokenizer.cpp — the tokenizer section of f8.h over f8tok::Tokenizer:
// argument checks, the exception barrier and the buffer-size protocol
// (F8_ERR_BUFFER_TOO_SMALL with the needed size).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "api/api_error.h"
#include "api/model_handle.h"

using f8api::guarded;
using f8api::put_text;
using f8api::set_error;

struct f8_detok_stream {
  const f8_model* model;
  f8tok::Decoder decoder;
  std::string out;  // the last chunk handed out (NUL-terminated by std::string)
};

namespace {

f8_status check_model(const f8_model* m, const char* fn) {
  if (!m) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": model is NULL");
  if (!m->tokenizer) return set_error(F8_ERR_INVALID_ARGUMENT, std::string(fn) + ": model has no tokenizer");
  return F8_OK;
}

f8_status tok_error(const char* fn, const ggf8::Status& st) {
  return set_error(st.code == ggf8::Code::InvalidArgument ? F8_ERR_INVALID_ARGUMENT : F8_ERR_INTERNAL,
                   std::string(fn) + ": " + st.message);
}


}  // namespace

extern "C" {

f8_status f8_tokenize(const f8_model* model, const char* text, size_t text_len, bool add_special,
                      bool parse_special, int32_t* ids, size_t capacity, size_t* n_ids) {
  return guarded("f8_tokenize", [&]() -> f8_status {
    if (f8_status s = check_model(model, "f8_tokenize"); s != F8_OK) return s;
    if (!n_ids) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_tokenize: n_ids is NULL");
    *n_ids = 0;
    if (!text && text_len) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_tokenize: text is NULL");
    if (!ids && capacity) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_tokenize: ids is NULL but capacity > 0");
    std::vector<int32_t> out;
    f8tok::EncodeOptions o;
    o.add_special = add_special;
    o.parse_special = parse_special;
    ggf8::Status st = model->tokenizer->encode(std::string_view(text ? text : "", text_len), o, &out);
    if (!st.ok()) return tok_error("f8_tokenize", st);
    *n_ids = out.size();
    if (out.size() > capacity)
      return set_error(F8_ERR_BUFFER_TOO_SMALL, "f8_tokenize: the text needs " + std::to_string(out.size()) +
                                                    " ids, buffer holds " + std::to_string(capacity));
    std::copy(out.begin(), out.end(), ids);
    return F8_OK;
  });
}

f8_status f8_detokenize(const f8_model* model, const int32_t* ids, size_t n_ids, bool render_special,
                        bool strip_leading_space, char* buf, size_t capacity, size_t* len) {
  return guarded("f8_detokenize", [&]() -> f8_status {
    if (f8_status s = check_model(model, "f8_detokenize"); s != F8_OK) return s;
    if (!len) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_detokenize: len is NULL");
    *len = 0;
    if (!ids && n_ids) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_detokenize: ids is NULL");
    f8tok::DecodeOptions o;
    o.render_special = render_special;
    o.strip_leading_space = strip_leading_space;
    std::string text;
    ggf8::Status st = model->tokenizer->decode(ids, n_ids, o, &text);
    if (!st.ok()) return tok_error("f8_detokenize", st);
    return put_text("f8_detokenize", text, buf, capacity, len);
  });
}

f8_status f8_token_to_piece(const f8_model* model, int32_t id, bool render_special, char* buf, size_t capacity,
                            size_t* len) {
  return guarded("f8_token_to_piece", [&]() -> f8_status {
    if (f8_status s = check_model(model, "f8_token_to_piece"); s != F8_OK) return s;
    if (!len) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_token_to_piece: len is NULL");
    *len = 0;
    f8tok::DecodeOptions o;
    o.render_special = render_special;
    std::string piece;
    ggf8::Status st = model->tokenizer->piece(id, o, &piece);
    if (!st.ok()) return tok_error("f8_token_to_piece", st);
    return put_text("f8_token_to_piece", piece, buf, capacity, len);
  });
}

const char* f8_token_text(const f8_model* model, int32_t id) {
  if (!model || !model->tokenizer || !model->tokenizer->valid_id(id)) return nullptr;
  return model->tokenizer->token_text(id).c_str();
}

int32_t f8_vocab_size(const f8_model* model) {
  return model && model->tokenizer ? model->tokenizer->vocab_size() : 0;
}

int32_t f8_token_bos(const f8_model* model) { return model && model->tokenizer ? model->tokenizer->bos_id() : -1; }

int32_t f8_token_eos(const f8_model* model) { return model && model->tokenizer ? model->tokenizer->eos_id() : -1; }

bool f8_token_is_eog(const f8_model* model, int32_t id) {
  if (!model) return false;
  return std::binary_search(model->eog_ids.begin(), model->eog_ids.end(), id);
}

bool f8_token_is_control(const f8_model* model, int32_t id) {
  return model && model->tokenizer && model->tokenizer->valid_id(id) &&
         model->tokenizer->type(id) == f8tok::TokenType::Control;
}

f8_status f8_detok_stream_new(const f8_model* model, bool render_special, bool strip_leading_space,
                              f8_detok_stream** out) {
  return guarded("f8_detok_stream_new", [&]() -> f8_status {
    if (out) *out = nullptr;
    if (f8_status s = check_model(model, "f8_detok_stream_new"); s != F8_OK) return s;
    if (!out) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_detok_stream_new: out is NULL");
    f8tok::DecodeOptions o;
    o.render_special = render_special;
    o.strip_leading_space = strip_leading_space;
    *out = new f8_detok_stream{model, f8tok::Decoder(*model->tokenizer, o), {}};
    return F8_OK;
  });
}

f8_status f8_detok_stream_push(f8_detok_stream* stream, int32_t id, const char** text, size_t* len) {
  return guarded("f8_detok_stream_push", [&]() -> f8_status {
    if (!stream || !text || !len) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_detok_stream_push: NULL argument");
    stream->out.clear();
    *text = stream->out.c_str();
    *len = 0;
    ggf8::Status st = stream->decoder.push(id, &stream->out);
    if (!st.ok()) return tok_error("f8_detok_stream_push", st);
    *text = stream->out.c_str();
    *len = stream->out.size();
    return F8_OK;
  });
}

f8_status f8_detok_stream_flush(f8_detok_stream* stream, const char** text, size_t* len) {
  return guarded("f8_detok_stream_flush", [&]() -> f8_status {
    if (!stream || !text || !len) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_detok_stream_flush: NULL argument");
    stream->out.clear();
    stream->decoder.finish(&stream->out);
    *text = stream->out.c_str();
    *len = stream->out.size();
    return F8_OK;
  });
}

void f8_detok_stream_free(f8_detok_stream* stream) { delete stream; }

}  // extern "C"
