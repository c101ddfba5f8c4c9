// api_context.cpp — C shims for the context/decoding section of f8.h:
// argument checks, the exception barrier, status mapping onto f8_status.
// The work happens in src/model (f8model::Model / Context).
#include "api/api_context.h"

#include <algorithm>
#include <cstdio>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/api_error.h"
#include "api/model_handle.h"
#include "backend/cpu_count.h"
#include "model/context.h"
#include "model/k_center.h"
#include "model/model.h"

using f8api::guarded;
using f8api::set_error;

struct f8_context {
  f8_model* model = nullptr;
  std::unique_ptr<f8model::Context> ctx;
  f8_context_params params{};
  std::string backend;  // owns params.backend's string
  std::string tp_devices;  // owns params.tp_devices' string
  std::string rendezvous;  // owns params.rendezvous' string
};

namespace {

f8_status to_status(f8model::Code c) {
  switch (c) {
    case f8model::Code::Ok: return F8_OK;
    case f8model::Code::InvalidArgument: return F8_ERR_INVALID_ARGUMENT;
    case f8model::Code::Io: return F8_ERR_IO;
    case f8model::Code::Format: return F8_ERR_FORMAT;
    case f8model::Code::Unsupported: return F8_ERR_UNSUPPORTED;
    case f8model::Code::OutOfMemory: return F8_ERR_OUT_OF_MEMORY;
    case f8model::Code::ContextFull: return F8_ERR_CONTEXT_FULL;
    case f8model::Code::Aborted: return F8_ERR_ABORTED;
    case f8model::Code::Internal: return F8_ERR_INTERNAL;
  }
  return F8_ERR_INTERNAL;
}

f8_status fail(const char* fn, const f8model::Status& st) {
  return set_error(to_status(st.code), std::string(fn) + ": " + st.message);
}

bool kv_dtype(f8_kv_type t, ggf8::DType* out) {
  switch (t) {
    case F8_KV_FP8: *out = ggf8::DType::E4M3; return true;
    case F8_KV_BF16: *out = ggf8::DType::BF16; return true;
    case F8_KV_F32: *out = ggf8::DType::F32; return true;
    case F8_KV_F16: *out = ggf8::DType::F16; return true;
    case F8_KV_E5M2: *out = ggf8::DType::E5M2; return true;
    case F8_KV_FP8_LAYER: *out = ggf8::DType::E4M3; return true;
    case F8_KV_INT8: *out = ggf8::DType::I8; return true;
  }
  return false;
}

// Physical cores this process may run on, capped by the cgroup CPU quota
// (backend/cpu_count.h; the rule is in docs/backend.md).
int32_t default_threads() { return static_cast<int32_t>(f8backend::default_thread_count()); }

}  // namespace

namespace f8api {

// The backend the model's weights were loaded into ("cpu" by default).
std::string m_backend(const f8_model& m) { return m.runtime ? m.runtime->load_backend() : "cpu"; }

f8_status load_runtime(f8_model* model, const f8_model_params* params) {
  f8model::LoadOptions lo;
  if (params) {
    lo.progress = params->progress;
    lo.progress_user_data = params->progress_user_data;
    if (params->backend) lo.backend = params->backend;
  }
  f8model::Status st = f8model::Model::load(*model->file, lo, &model->runtime);
  if (!st.ok()) return fail("f8_model_load", st);
  return F8_OK;
}

}  // namespace f8api

extern "C" {

f8_status f8_model_tp_bytes(const f8_model* model, int32_t tp, uint64_t* bytes) {
  return guarded("f8_model_tp_bytes", [&]() -> f8_status {
    if (!model || !bytes) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_model_tp_bytes: NULL argument");
    if (!model->runtime)
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_model_tp_bytes: the model was loaded with vocab_only");
    if (tp < 1 || tp > 64) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_model_tp_bytes: tp expected 1..64");
    std::vector<uint64_t> b;
    f8model::Status st = f8model::tp_rank_bytes(model->runtime->host_weights(), model->runtime->hparams(), tp, &b);
    if (!st.ok()) return fail("f8_model_tp_bytes", st);
    for (int32_t r = 0; r < tp; ++r) bytes[r] = b[size_t(r)];
    return F8_OK;
  });
}

f8_status f8_model_get_info(const f8_model* model, f8_model_info* info) {
  return guarded("f8_model_get_info", [&]() -> f8_status {
    if (!model || !info) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_model_get_info: NULL argument");
    if (info->struct_size != sizeof(f8_model_info))
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_model_get_info: info->struct_size must be sizeof(f8_model_info)");
    f8model::HParams hp;
    f8model::Status st = model->runtime ? f8model::Status::Ok()
                                        : f8model::load_hparams(*model->file, &hp);
    if (!st.ok()) return fail("f8_model_get_info", st);
    if (model->runtime) hp = model->runtime->hparams();
    f8_model_info out{};
    out.struct_size = sizeof(out);
    std::snprintf(out.arch, sizeof out.arch, "%s", hp.arch_str.c_str());
    out.n_vocab = static_cast<int32_t>(hp.n_vocab);
    out.n_ctx_train = static_cast<int32_t>(hp.n_ctx_train);
    out.n_embd = static_cast<int32_t>(hp.n_embd);
    out.n_layer = static_cast<int32_t>(hp.n_layer);
    out.n_head = static_cast<int32_t>(hp.n_head);
    out.n_head_kv = static_cast<int32_t>(hp.n_head_kv);
    out.head_dim = static_cast<int32_t>(hp.head_dim);
    out.n_ff = static_cast<int32_t>(hp.n_ff);
    out.file_bytes = model->file->file_size();
    if (model->runtime) {
      const f8model::ModelWeights& w = model->runtime->host_weights();
      out.n_params = model->runtime->n_params();
      out.weight_bytes = w.bytes;
      std::snprintf(out.weight_type, sizeof out.weight_type, "%s", w.weight_type.c_str());
      out.has_kv_scales = w.has_kv_scales;
    }
    *info = out;
    return F8_OK;
  });
}

f8_context_params f8_context_default_params(void) {
  f8_context_params p{};
  p.struct_size = sizeof(p);
  p.n_ctx = 0;
  p.n_batch = 512;
  p.n_threads = default_threads();
  p.kv_type = F8_KV_FP8;
  p.emulate_gpu = false;
  p.backend = nullptr;
  p.kv_calibrate = true;
  p.gpu_mem = 0.9f;
  p.tp = 1;
  p.tp_devices = nullptr;
  p.tp_nodes = 1;
  p.tp_node = 0;
  p.rendezvous = nullptr;
  p.deterministic = false;
  return p;
}

f8_status f8_context_new(f8_model* model, const f8_context_params* params, f8_context** out) {
  if (out) *out = nullptr;
  return guarded("f8_context_new", [&]() -> f8_status {
    if (!model || !out) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_context_new: NULL model or out");
    if (!model->runtime)
      return set_error(F8_ERR_INVALID_ARGUMENT,
                       "f8_context_new: the model was loaded with vocab_only (no weights)");
    // The whole struct, or API 2's (everything before `deterministic`):
    // the missing field keeps its default.
    constexpr size_t kApi2Size = offsetof(f8_context_params, deterministic);
    if (params && params->struct_size != sizeof(f8_context_params) && params->struct_size != kApi2Size)
      return set_error(F8_ERR_INVALID_ARGUMENT,
                       "f8_context_new: params->struct_size must be sizeof(f8_context_params) "
                       "(start from f8_context_default_params())");
    f8_context_params p = f8_context_default_params();
    if (params) {
      std::memcpy(&p, params, params->struct_size);
      p.struct_size = sizeof p;
    }
    if (p.n_ctx > (1u << 24))
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_context_new: n_ctx " + std::to_string(p.n_ctx) +
                                                    " too large (max 16777216)");
    if (p.n_batch < 1 || p.n_batch > 65536)
      return set_error(F8_ERR_INVALID_ARGUMENT,
                       "f8_context_new: n_batch " + std::to_string(p.n_batch) + ": expected 1..65536");
    if (p.n_threads < 1)
      return set_error(F8_ERR_INVALID_ARGUMENT,
                       "f8_context_new: n_threads " + std::to_string(p.n_threads) + ": expected >= 1");
    f8model::ContextParams cp;
    cp.n_ctx = static_cast<int32_t>(p.n_ctx);
    cp.n_batch = static_cast<int32_t>(p.n_batch);
    cp.n_threads = p.n_threads;
    cp.emulate_gpu = p.emulate_gpu;
    cp.deterministic = p.deterministic;
    if (const char* e = std::getenv("F8_FP8_ATTENTION")) cp.fp8_attention = std::string(e) != "0";
    if (const char* e = std::getenv("F8_MLA"); e && *e) {  // DeepSeek's attention form (docs/runtime.md)
      const std::string v = e;
      if (v != "expanded" && v != "absorbed")
        return set_error(F8_ERR_INVALID_ARGUMENT, "F8_MLA=" + v + ": expected expanded or absorbed");
      cp.mla_form = v == "expanded" ? 1 : 2;
    }
    cp.backend = p.backend ? std::string(p.backend) : f8api::m_backend(*model);
    if (!(p.gpu_mem > 0.0f && p.gpu_mem <= 1.0f))
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_context_new: gpu_mem " + std::to_string(p.gpu_mem) +
                                                    ": expected a fraction in (0, 1]");
    cp.gpu_mem = p.gpu_mem;
    if (p.tp < 1 || p.tp > 64)
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_context_new: tp " + std::to_string(p.tp) + ": expected 1..64");
    cp.tp = p.tp;
    cp.tp_nodes = p.tp_nodes;
    cp.tp_node = p.tp_node;
    if (p.rendezvous) cp.rendezvous = p.rendezvous;
    if (p.tp_devices) {
      std::string item;
      for (const char* c = p.tp_devices;; ++c) {
        if (*c == ',' || *c == '\0') {
          char* end = nullptr;
          const long d = std::strtol(item.c_str(), &end, 10);
          if (item.empty() || *end != '\0' || d < 0 || d > 1023)
            return set_error(F8_ERR_INVALID_ARGUMENT, std::string("f8_context_new: tp_devices '") + p.tp_devices +
                                                          "': expected device indices like 0,1");
          cp.tp_devices.push_back(static_cast<int>(d));
          item.clear();
          if (*c == '\0') break;
        } else {
          item += *c;
        }
      }
    }
    if (!kv_dtype(p.kv_type, &cp.kv_type))
      return set_error(F8_ERR_INVALID_ARGUMENT,
                       "f8_context_new: kv_type " + std::to_string(int(p.kv_type)) + " is not an f8_kv_type");
    f8model::Model& m = *model->runtime;
    // F8_KV_FP8 / F8_KV_INT8: scales per token and KV head, made as cells
    // are stored (K centered on a mean measured below). Per-layer E4M3
    // scales instead for a latent (MLA) cache, and on CUDA, whose cache has
    // no K centering and no INT8 yet (docs/runtime.md "KV cache").
    const bool cpu_backend = cp.backend.rfind("cpu", 0) == 0;
    cp.kv_token_scales = (p.kv_type == F8_KV_FP8 || p.kv_type == F8_KV_INT8) && !m.hparams().is_mla() && cpu_backend;
    if (p.kv_type == F8_KV_INT8 && !cp.kv_token_scales)
      return set_error(F8_ERR_UNSUPPORTED, std::string("f8_context_new: kv_type F8_KV_INT8 (--kv-type int8) runs on "
                                                       "the CPU backends, for attention with K/V heads (not MLA); "
                                                       "this context: backend '") +
                                               cp.backend + "'" + (m.hparams().is_mla() ? ", an MLA model" : ""));
    const bool fp8 = cp.kv_type == ggf8::DType::E4M3 || cp.kv_type == ggf8::DType::E5M2;
    // F8_KV_FP8 on the CPU: K centering (docs/runtime.md "KV cache"), its
    // pre-RoPE K means measured once per model on the calibration text.
    if (cp.kv_token_scales && p.kv_calibrate && f8model::k_center_applies(m.hparams())) {
      // Stored in the file by f8 convert (read at load), or measured here
      // once per model: on cpu (= cpu-simd) whatever CPU backend the context
      // uses, since the mean is a statistic and one model gets one mean
      // whichever context is first.
      if (!m.k_center(&cp.k_center)) {
        f8model::Status cs = f8model::measure_k_center(m, model->tokenizer.get(), cp.n_threads, &cp.k_center);
        if (!cs.ok()) return fail("f8_context_new: k centering calibration", cs);
        m.set_k_center(cp.k_center);
      }
    }
    if (fp8 && !cp.kv_token_scales && !m.host_weights().has_kv_scales) {
      std::vector<float> ks, vs;
      if (p.kv_calibrate && !m.kv_calibrated(&ks, &vs)) {
        const std::vector<int32_t> toks = f8model::calibration_tokens(model->tokenizer.get(), m.hparams().n_vocab);
        f8model::Status cs = f8model::calibrate_kv_scales(m, toks, cp.kv_type, cp.n_threads, cp.backend, &ks, &vs);
        if (!cs.ok()) return fail("f8_context_new: kv calibration", cs);
        m.set_kv_calibration(ks, vs);
      }
      if (p.kv_calibrate) {
        cp.k_scale = ks;
        cp.v_scale = vs;
      }
    }
    auto c = std::make_unique<f8_context>();
    c->model = model;
    f8model::Status st = f8model::Context::create(m, cp, &c->ctx);
    if (!st.ok()) return fail("f8_context_new", st);
    c->params = p;
    c->params.n_ctx = static_cast<uint32_t>(c->ctx->params().n_ctx);
    c->params.n_batch = static_cast<uint32_t>(c->ctx->params().n_batch);
    c->backend = cp.backend;
    c->params.backend = c->backend.c_str();
    c->tp_devices = p.tp_devices ? p.tp_devices : "";
    c->params.tp_devices = p.tp_devices ? c->tp_devices.c_str() : nullptr;
    c->rendezvous = p.rendezvous ? p.rendezvous : "";
    c->params.rendezvous = p.rendezvous ? c->rendezvous.c_str() : nullptr;
    *out = c.release();
    return F8_OK;
  });
}

void f8_context_free(f8_context* ctx) { delete ctx; }

f8_context_params f8_context_get_params(const f8_context* ctx) {
  return ctx ? ctx->params : f8_context_default_params();
}

size_t f8_context_kv_bytes(const f8_context* ctx) { return ctx ? ctx->ctx->kv_bytes() : 0; }

f8_status f8_batch_init(int32_t capacity, f8_batch* b) {
  return guarded("f8_batch_init", [&]() -> f8_status {
    if (!b) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_batch_init: NULL batch");
    *b = f8_batch{};
    if (capacity < 1 || capacity > (1 << 24))
      return set_error(F8_ERR_INVALID_ARGUMENT,
                       "f8_batch_init: capacity " + std::to_string(capacity) + ": expected 1..16777216");
    const size_t n = static_cast<size_t>(capacity);
    b->token = static_cast<int32_t*>(std::calloc(n, sizeof(int32_t)));
    b->pos = static_cast<int32_t*>(std::calloc(n, sizeof(int32_t)));
    b->seq_id = static_cast<int32_t*>(std::calloc(n, sizeof(int32_t)));
    b->logits = static_cast<int8_t*>(std::calloc(n, sizeof(int8_t)));
    if (!b->token || !b->pos || !b->seq_id || !b->logits) {
      f8_batch_free(b);
      return set_error(F8_ERR_OUT_OF_MEMORY, "f8_batch_init: out of memory");
    }
    b->capacity = capacity;
    return F8_OK;
  });
}

void f8_batch_free(f8_batch* b) {
  if (!b) return;
  std::free(b->token);
  std::free(b->pos);
  std::free(b->seq_id);
  std::free(b->logits);
  *b = f8_batch{};
}

f8_status f8_batch_add(f8_batch* b, int32_t token, int32_t pos, int32_t seq_id, bool logits) {
  if (!b || !b->token) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_batch_add: batch not initialized");
  if (b->n_tokens < 0 || b->n_tokens >= b->capacity)
    return set_error(F8_ERR_BUFFER_TOO_SMALL,
                     "f8_batch_add: batch is full (capacity " + std::to_string(b->capacity) + ")");
  const int32_t i = b->n_tokens++;
  b->token[i] = token;
  b->pos[i] = pos;
  b->seq_id[i] = seq_id;
  b->logits[i] = logits ? 1 : 0;
  return F8_OK;
}

f8_status f8_decode(f8_context* ctx, const f8_batch* b) {
  return guarded("f8_decode", [&]() -> f8_status {
    if (!ctx || !b) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_decode: NULL context or batch");
    if (b->capacity > 0 && b->n_tokens > b->capacity)
      return set_error(F8_ERR_INVALID_ARGUMENT, "f8_decode: n_tokens exceeds the batch capacity");
    f8model::Status st = ctx->ctx->decode({b->n_tokens, b->token, b->pos, b->seq_id, b->logits});
    if (!st.ok()) return fail("f8_decode", st);
    return F8_OK;
  });
}

f8_status f8_get_logits_ith(f8_context* ctx, int32_t i, const float** logits) {
  return guarded("f8_get_logits_ith", [&]() -> f8_status {
    if (!ctx || !logits) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_get_logits_ith: NULL argument");
    f8model::Status st;
    *logits = ctx->ctx->logits(i, &st);
    if (!*logits) return fail("f8_get_logits_ith", st);
    return F8_OK;
  });
}

f8_status f8_kv_seq_rm(f8_context* ctx, int32_t seq_id, int32_t p0, int32_t p1) {
  return guarded("f8_kv_seq_rm", [&]() -> f8_status {
    if (!ctx) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_kv_seq_rm: NULL context");
    f8model::Status st = ctx->ctx->seq_rm(seq_id, p0, p1);
    return st.ok() ? F8_OK : fail("f8_kv_seq_rm", st);
  });
}

f8_status f8_kv_seq_cp(f8_context* ctx, int32_t src, int32_t dst, int32_t p0, int32_t p1) {
  return guarded("f8_kv_seq_cp", [&]() -> f8_status {
    if (!ctx) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_kv_seq_cp: NULL context");
    f8model::Status st = ctx->ctx->seq_cp(src, dst, p0, p1);
    return st.ok() ? F8_OK : fail("f8_kv_seq_cp", st);
  });
}

f8_status f8_kv_seq_keep(f8_context* ctx, int32_t seq_id) {
  return guarded("f8_kv_seq_keep", [&]() -> f8_status {
    if (!ctx) return set_error(F8_ERR_INVALID_ARGUMENT, "f8_kv_seq_keep: NULL context");
    f8model::Status st = ctx->ctx->seq_keep(seq_id);
    return st.ok() ? F8_OK : fail("f8_kv_seq_keep", st);
  });
}

void f8_kv_clear(f8_context* ctx) {
  if (ctx) ctx->ctx->clear();
}

int32_t f8_kv_seq_pos_max(const f8_context* ctx, int32_t seq_id) {
  return ctx ? ctx->ctx->seq_pos_max(seq_id) : -1;
}

int32_t f8_kv_n_used(const f8_context* ctx) { return ctx ? ctx->ctx->n_used() : 0; }

int32_t f8_kv_seq_common_prefix(const f8_context* ctx, int32_t seq_id, const int32_t* tokens, size_t n_tokens) {
  if (!ctx || !tokens) return 0;
  return static_cast<int32_t>(std::min<size_t>(ctx->ctx->seq_common_prefix(seq_id, tokens, n_tokens), INT32_MAX));
}

void f8_set_abort_callback(f8_context* ctx, f8_abort_cb fn, void* user_data) {
  if (ctx) ctx->ctx->set_abort(fn, user_data);
}

}  // extern "C"
