// api_model.cpp — f8_model_default_params / f8_model_load / f8_model_free.
// Load = map and validate the file (ggf8::File::open checks every offset and
// size), build the tokenizer and read the chat metadata (progress 0..0.5),
// then, unless vocab_only, bind the weights (api_context.cpp's
// load_runtime, progress 0.5..1).
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "api/api_context.h"
#include "api/api_error.h"
#include "api/model_handle.h"
#include "ggf8/keys.h"

using f8api::guarded;
using f8api::set_error;

namespace {

f8_status file_status(ggf8::Code c) {
  switch (c) {
    case ggf8::Code::Io: return F8_ERR_IO;
    case ggf8::Code::NotFound: return F8_ERR_IO;
    case ggf8::Code::InvalidArgument: return F8_ERR_INVALID_ARGUMENT;
    case ggf8::Code::BadVersion: return F8_ERR_UNSUPPORTED;
    default: return F8_ERR_FORMAT;
  }
}

bool report(const f8_model_params& p, float fraction) {
  return !p.progress || p.progress(fraction, p.progress_user_data);
}

}  // namespace

extern "C" {

f8_model_params f8_model_default_params(void) {
  f8_model_params p;
  std::memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  p.vocab_only = false;
  p.progress = nullptr;
  p.progress_user_data = nullptr;
  return p;
}

f8_status f8_model_load(const char* path, const f8_model_params* params, f8_model** out) {
  return guarded("f8_model_load", [&]() -> f8_status {
    if (out) *out = nullptr;
    if (!path || !out) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_model_load: path and out must not be NULL");
    f8_model_params p = f8_model_default_params();
    if (params) {
      // Older callers pass a smaller struct: take the prefix they know.
      if (params->struct_size < sizeof(size_t) || params->struct_size > sizeof(f8_model_params))
        return set_error(F8_ERR_INVALID_ARGUMENT, "f8_model_load: params->struct_size " +
                                                      std::to_string(params->struct_size) +
                                                      " is not a valid f8_model_params size (use f8_model_default_params)");
      std::memcpy(&p, params, params->struct_size);
      p.struct_size = sizeof p;
    }
    auto m = std::make_unique<f8_model>();
    m->vocab_only = p.vocab_only;
    if (!report(p, 0.0f)) return set_error(F8_ERR_ABORTED, "f8_model_load: cancelled by the progress callback");

    ggf8::Status st = ggf8::File::open(path, &m->file);
    if (!st.ok()) return set_error(file_status(st.code), "f8_model_load: " + st.message);

    st = f8tok::load_from_file(*m->file, &m->tokenizer);
    if (!st.ok())
      return set_error(F8_ERR_FORMAT, std::string("f8_model_load: ") + path + ": tokenizer: " + st.message);

    namespace K = ggf8::keys;
    auto str_key = [&](const char* key, std::string* dst) -> f8_status {
      const ggf8::Value* v = m->file->find(key);
      if (!v) return F8_OK;
      if (!v->get_str()) return set_error(F8_ERR_FORMAT, std::string("f8_model_load: ") + path + ": " + key + " is not a string");
      *dst = *v->get_str();
      return F8_OK;
    };
    f8_status s = str_key(K::kChatTemplate, &m->chat_template);
    if (s == F8_OK) s = str_key(K::kChatBosToken, &m->bos_token);
    if (s == F8_OK) s = str_key(K::kChatEosToken, &m->eos_token);
    if (s != F8_OK) return s;
    if (const ggf8::Value* v = m->file->find(K::kGenEosIds)) {
      std::vector<int64_t> ids;
      if (!v->to_i64_vector(&ids))
        return set_error(F8_ERR_FORMAT, std::string("f8_model_load: ") + path + ": " + K::kGenEosIds + " is not an integer array");
      for (int64_t id : ids) {
        if (!m->tokenizer->valid_id(static_cast<int32_t>(id)) || id != static_cast<int32_t>(id))
          return set_error(F8_ERR_FORMAT, std::string("f8_model_load: ") + path + ": " + K::kGenEosIds + " holds id " +
                                              std::to_string(id) + ", outside the vocabulary");
        m->eog_ids.push_back(static_cast<int32_t>(id));
      }
    }
    if (m->tokenizer->eos_id() >= 0) m->eog_ids.push_back(m->tokenizer->eos_id());
    std::sort(m->eog_ids.begin(), m->eog_ids.end());
    m->eog_ids.erase(std::unique(m->eog_ids.begin(), m->eog_ids.end()), m->eog_ids.end());

    if (!report(p, 0.5f)) return set_error(F8_ERR_ABORTED, "f8_model_load: cancelled by the progress callback");
    if (!p.vocab_only) {
      s = f8api::load_runtime(m.get(), &p);
      if (s != F8_OK) return s;
    }
    if (!report(p, 1.0f)) return set_error(F8_ERR_ABORTED, "f8_model_load: cancelled by the progress callback");
    *out = m.release();
    return F8_OK;
  });
}

void f8_model_free(f8_model* model) { delete model; }

}  // extern "C"
