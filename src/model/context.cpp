// context.cpp — context creation (buffers sized once from n_batch), KV cache
// bookkeeping pass-throughs with argument checks, logits access, and the
// KV-scale calibration run.
#include "model/context.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>

#include "backend/rendezvous.h"

namespace f8model {

namespace {

bool kv_dtype_ok(ggf8::DType t) {
  return t == ggf8::DType::E4M3 || t == ggf8::DType::E5M2 || t == ggf8::DType::BF16 ||
         t == ggf8::DType::F16 || t == ggf8::DType::F32 || t == ggf8::DType::I8;
}

constexpr int32_t kMaxThreads = 512;
constexpr int32_t kMaxBatch = 1 << 16;
// Device logits buffer: at most this many floats per output-projection call.
constexpr int64_t kLogitsChunkFloats = 2 << 20;  // 8 MiB

}  // namespace

int32_t default_n_ctx(const HParams& hp) {
  const int64_t n = std::min<int64_t>(hp.n_ctx_train, 4096);
  return static_cast<int32_t>(n);
}

namespace {

std::string gib(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f GiB", bytes / double(1ull << 30));
  return b;
}

// Device backends: the KV cache must fit in the gpu_mem budget after the
// weights (already uploaded) and this context's scratch. With an automatic
// n_ctx the context becomes the training context capped at what fits.
Status fit_device_ctx(f8backend::Backend& be, const HParams& hp, int32_t n_kv_heads, bool auto_ctx,
                      ContextParams* p) {
  size_t fr = 0, tot = 0;
  be.memory(&fr, &tot);
  if (tot == 0) return Status::Ok();  // host memory: not budgeted
  const double T = std::min(p->n_batch, p->n_ctx);
  const double scratch = 4.0 * T * (2.0 * hp.n_embd + 2.0 * hp.q_dim() + 2.0 * hp.kv_dim() + 2.0 * hp.n_ff) +
                         4.0 * double(kLogitsChunkFloats) + T * double(hp.n_vocab > hp.n_ff ? hp.n_vocab : hp.n_ff) +
                         double(64ull << 20) +  // quantized activations, attention partials, cuBLASLt workspace
                         // MoE: per (token, expert) pair the activated row (F32 + E4M3), the expert's output
                         T * hp.n_expert_used * (5.0 * hp.n_ff_exp + 5.0 * hp.n_embd + 32.0);
  const double budget = double(fr) - (1.0 - double(p->gpu_mem)) * double(tot) - scratch;
  const double per_cell = hp.is_mla() ? double(hp.n_layer) * (hp.mla_kv_lora + hp.mla_rope) * ggf8::dtype_size(p->kv_type)
                                      : 2.0 * hp.n_layer * n_kv_heads *
                                            (hp.head_dim * ggf8::dtype_size(p->kv_type) +
                                             (p->kv_token_scales ? 2.0 : 0.0));  // + one BF16 scale per KV head
  const int64_t fit = budget > 0 ? int64_t(budget / per_cell) : 0;
  const std::string where = std::string(be.description()) + ": " + gib(double(fr)) + " free of " +
                            gib(double(tot)) + ", --gpu-mem " + std::to_string(p->gpu_mem).substr(0, 4);
  if (auto_ctx) {
    int64_t n = std::min<int64_t>(hp.n_ctx_train, fit);
    n = std::min<int64_t>(n, 1 << 24);
    if (n < 16)
      return Status::Error(Code::OutOfMemory, "no room for a KV cache (" + where + ")");
    p->n_ctx = static_cast<int32_t>(n);
    p->n_batch = std::min(p->n_batch, p->n_ctx);
    return Status::Ok();
  }
  if (p->n_ctx > fit)
    return Status::Error(Code::OutOfMemory, "a context of " + std::to_string(p->n_ctx) + " tokens needs " +
                                                gib(per_cell * p->n_ctx) + " of KV cache; " + std::to_string(fit) +
                                                " tokens fit (" + where + ")");
  return Status::Ok();
}

}  // namespace

Context::~Context() = default;

Status Context::create(Model& model, const ContextParams& pin, std::unique_ptr<Context>* out) {
  const HParams& hp = model.hparams();
  ContextParams p = pin;
  if (p.n_threads < 1 || p.n_threads > kMaxThreads)
    return Status::Error(Code::InvalidArgument, "n_threads = " + std::to_string(p.n_threads) +
                                                    ": expected 1.." + std::to_string(kMaxThreads));
  if (p.n_ctx < 0 || p.n_ctx > (1 << 24))
    return Status::Error(Code::InvalidArgument,
                         "n_ctx = " + std::to_string(p.n_ctx) + ": expected 0 (model default) .. 16777216");
  if (!(p.gpu_mem > 0.0f && p.gpu_mem <= 1.0f))
    return Status::Error(Code::InvalidArgument,
                         "gpu_mem = " + std::to_string(p.gpu_mem) + ": expected a fraction in (0, 1]");
  const bool auto_ctx = p.n_ctx == 0;  // a device backend may size it (fit_device_ctx)
  if (p.n_ctx == 0) p.n_ctx = default_n_ctx(hp);
  if (p.n_batch < 1 || p.n_batch > kMaxBatch)
    return Status::Error(Code::InvalidArgument, "n_batch = " + std::to_string(p.n_batch) + ": expected 1.." +
                                                    std::to_string(kMaxBatch));
  p.n_batch = std::min(p.n_batch, p.n_ctx);
  if (!kv_dtype_ok(p.kv_type))
    return Status::Error(Code::InvalidArgument, std::string("kv type ") + ggf8::dtype_name(p.kv_type) +
                                                    ": expected e4m3, e5m2, bf16, f16, f32 or i8");
  if (p.kv_type == ggf8::DType::I8 && (!p.kv_token_scales || hp.is_mla()))
    return Status::Error(Code::InvalidArgument, "kv type i8 (the INT8 cache) needs per-token scales "
                                                "(kv_token_scales) and K/V heads (not an MLA model)");
  const bool fp8 = p.kv_type == ggf8::DType::E4M3 || p.kv_type == ggf8::DType::E5M2;
  if (fp8 && !p.k_scale.empty() &&
      (p.k_scale.size() != hp.n_layer || p.v_scale.size() != hp.n_layer))
    return Status::Error(Code::InvalidArgument, "kv scales: expected " + std::to_string(hp.n_layer) +
                                                    " per-layer values for k and v");

  if (p.tp < 1 || p.tp > 64)
    return Status::Error(Code::InvalidArgument, "tp = " + std::to_string(p.tp) + ": expected 1..64");
  const bool cuda = p.backend == "cuda" || p.backend.rfind("cuda:", 0) == 0;
  if (p.tp > 1) {
    TpRank probe;
    if (Status pst = tp_plan(hp, p.tp, 0, &probe); !pst.ok()) return pst;
    if (cuda && p.backend != "cuda")
      return Status::Error(Code::InvalidArgument, "--tp " + std::to_string(p.tp) + " with backend '" + p.backend +
                                                      "': use --backend cuda (rank r runs on GPU r, or on "
                                                      "--tp-devices' r-th entry)");
  }
  if (p.tp_nodes < 1 || p.tp_node < 0 || p.tp_node >= p.tp_nodes)
    return Status::Error(Code::InvalidArgument, "--tp-node " + std::to_string(p.tp_node) + " of --tp-nodes " +
                                                    std::to_string(p.tp_nodes) + ": out of range");
  if (p.tp_nodes > 1) {
    if (!cuda)
      return Status::Error(Code::InvalidArgument, "--tp-nodes: several nodes need --backend cuda (NCCL)");
    if (p.tp % p.tp_nodes)
      return Status::Error(Code::InvalidArgument, "--tp " + std::to_string(p.tp) + " does not split over " +
                                                      std::to_string(p.tp_nodes) + " nodes");
    if (p.rendezvous.empty())
      return Status::Error(Code::InvalidArgument, "--tp-nodes: give --rendezvous file:PATH or HOST:PORT");
  }
  const int32_t n_local = p.tp / p.tp_nodes, first = p.tp_node * n_local;
  if (!p.tp_devices.empty() && static_cast<int32_t>(p.tp_devices.size()) != n_local)
    return Status::Error(Code::InvalidArgument, "--tp-devices lists " + std::to_string(p.tp_devices.size()) +
                                                    " devices for " + std::to_string(n_local) + " local ranks");
  if (p.tp > 1 && !cuda) p.n_threads = std::max(1, p.n_threads / p.tp);

  std::unique_ptr<Context> c(new Context(model));
  c->p_ = p;
  c->rope_.head_dim = static_cast<int32_t>(hp.head_dim);
  c->rope_.n_rot = static_cast<int32_t>(hp.head_dim);
  c->rope_.freq_base = hp.rope_base;
  c->rope_.scaling = hp.rope_type == RopeType::Linear   ? f8backend::RopeScaling::Linear
                     : hp.rope_type == RopeType::Llama3 ? f8backend::RopeScaling::Llama3
                     : hp.rope_type == RopeType::Yarn   ? f8backend::RopeScaling::Yarn
                                                        : f8backend::RopeScaling::None;
  c->rope_.factor = hp.rope_factor;
  c->rope_.low_freq_factor = hp.rope_low_freq;
  c->rope_.high_freq_factor = hp.rope_high_freq;
  c->rope_.orig_ctx = static_cast<int32_t>(hp.rope_orig_ctx);
  if (hp.rope_type == RopeType::Yarn) {
    c->rope_.beta_fast = hp.rope_beta_fast;
    c->rope_.beta_slow = hp.rope_beta_slow;
    c->rope_.truncate = hp.rope_truncate ? 1 : 0;
    c->rope_.attn_factor = hp.rope_attn_factor;
  }
  c->rope_local_ = c->rope_;
  if (hp.rope_base_local > 0) {  // Gemma 3: the local layers' RoPE is unscaled
    c->rope_local_.freq_base = hp.rope_base_local;
    c->rope_local_.scaling = f8backend::RopeScaling::None;
    c->rope_local_.factor = 1.0f;
    c->rope_local_.attn_factor = 1.0f;
  }

  if (hp.n_expert) {
    c->moe_route_.gating = hp.expert_topk_softmax    ? f8backend::MoeGating::TopKSoftmax
                           : hp.expert_sigmoid_group ? f8backend::MoeGating::SigmoidGroupTopK
                                                     : f8backend::MoeGating::SoftmaxTopK;
    c->moe_route_.n_expert = int32_t(hp.n_expert);
    c->moe_route_.k = int32_t(hp.n_expert_used);
    c->moe_route_.norm_topk = hp.expert_norm_topk;
    c->moe_route_.n_group = int32_t(hp.n_expert_groups);
    c->moe_route_.topk_group = int32_t(hp.n_expert_groups_used);
    c->moe_route_.scale = hp.expert_weights_scale;
  }
  if (hp.is_mla()) {
    // RoPE on the last mla_rope dims of each q head (the model points at
    // them: head stride head_dim) and on k_pe; the same frequencies.
    c->rope_mla_q_ = c->rope_;
    c->rope_mla_q_.n_rot = int32_t(hp.mla_rope);
    c->rope_mla_k_ = c->rope_mla_q_;
    c->rope_mla_k_.head_dim = int32_t(hp.mla_rope);
  }
  if (p.mla_form < 0 || p.mla_form > 2)
    return Status::Error(Code::InvalidArgument, "mla_form = " + std::to_string(p.mla_form) +
                                                    ": expected 0 (by chunk size), 1 (expanded) or 2 (absorbed)");
  c->auto_ctx_ = auto_ctx;
  std::vector<int> devices = p.tp_devices;
  if (devices.empty())
    for (int32_t r = 0; r < n_local; ++r) devices.push_back(r);
  for (int32_t r = first; r < first + n_local; ++r) {
    const std::string be = (cuda && p.tp > 1) ? "cuda:" + std::to_string(devices[size_t(r - first)]) : p.backend;
    auto R = std::make_unique<Rank>();
    Status st = c->make_rank(r, be, R.get());
    if (!st.ok()) return st;
    c->ranks_.push_back(std::move(R));
  }
  if (p.tp_nodes > 1) {
    f8backend::Rendezvous rv;
    rv.address = p.rendezvous;
    rv.n_nodes = p.tp_nodes;
    rv.node = p.tp_node;
    f8backend::Status cs = f8backend::make_nccl_comm_nodes(p.tp, first, devices, rv, &c->comm_);
    if (!cs.ok()) return Status::Error(from_backend(cs.code), "--tp-nodes " + std::to_string(p.tp_nodes) + ": " + cs.message);
  } else if (p.tp > 1 || p.tp_force_comm) {
    if (cuda) {
      f8backend::Status cs = f8backend::make_nccl_comm(devices, &c->comm_);
      if (!cs.ok()) return Status::Error(from_backend(cs.code), "--tp " + std::to_string(p.tp) + ": " + cs.message);
    } else {
      c->comm_ = f8backend::make_local_comm(p.tp);
    }
  }
  *out = std::move(c);
  return Status::Ok();
}

// Rank r: its weights on `backend`, its stream, KV cache and buffers. Rank 0
// also settles n_ctx / n_batch on a device backend (what fits in gpu_mem).
Status Context::make_rank(int32_t r, const std::string& backend, Rank* R) {
  const HParams& hp = model_.hparams();
  ContextParams& p = p_;
  Status st = tp_plan(hp, p.tp, r, &R->tp);
  if (!st.ok()) return st;
  max_vocab_ = (int64_t(hp.n_vocab) + p.tp - 1) / p.tp;
  st = model_.backend_rank(backend, R->tp, &R->bw);
  if (!st.ok()) return st;
  f8backend::Backend& be = *R->bw->backend;
  if (ranks_.empty()) {  // this process's first rank settles the sizes
    if (!(st = fit_device_ctx(be, hp, R->tp.n_head_kv, auto_ctx_, &p)).ok()) return st;
  }
  const TpRank& t = R->tp;

  f8backend::StreamParams sp;
  sp.n_threads = p.n_threads;
  sp.max_tokens = p.n_batch;
  // FFN width of this rank's dense layers and shared expert (g, u buffers).
  const int64_t ffw = std::max<int64_t>(hp.any_dense_ffn() ? t.n_ff : 0, t.n_ff_shexp);
  sp.max_dim = std::max<int64_t>({int64_t(hp.n_embd), t.q_dim, t.kv_dim, ffw, t.n_ff_exp, int64_t(hp.n_expert),
                                  t.n_vocab});
  sp.max_attn_dim = t.q_dim;
  if (hp.is_mla()) {  // q_a's rows, kv_b's rows (the expanded form's up-projection)
    sp.mla.n_heads = t.n_head;
    sp.mla.nope = int32_t(hp.mla_nope);
    sp.mla.rope = int32_t(hp.mla_rope);
    sp.mla.v = int32_t(hp.mla_v);
    sp.mla.kv_lora = int32_t(hp.mla_kv_lora);
    sp.max_dim = std::max<int64_t>({sp.max_dim, int64_t(hp.mla_q_lora), int64_t(t.n_head) * (hp.mla_nope + hp.mla_v)});
  }
  if (hp.n_expert) {  // the device MoE scratch (cuda_moe.h)
    sp.moe_k = int32_t(hp.n_expert_used);
    sp.moe_experts = int32_t(hp.n_expert);
    sp.moe_ff = t.n_ff_exp;
    sp.moe_hidden = int64_t(hp.n_embd);
  }
  sp.deterministic = p.deterministic;
  f8backend::Status bs = be.create_stream(sp, &R->stream);
  if (!bs.ok()) return Status::Error(from_backend(bs.code), std::string("stream: ") + bs.message);

  const bool fp8 = p.kv_type == ggf8::DType::E4M3 || p.kv_type == ggf8::DType::E5M2;
  f8backend::KVCacheParams kp;
  kp.n_layers = static_cast<int32_t>(hp.n_layer);
  kp.n_cells = p.n_ctx;
  kp.n_kv_heads = t.n_head_kv;
  kp.head_dim = static_cast<int32_t>(hp.head_dim);
  if (hp.is_mla()) {  // the latent cache: one [c_kv ; k_pe] row per token and layer
    kp.n_kv_heads = 1;
    kp.head_dim = int32_t(hp.mla_kv_lora + hp.mla_rope);
    kp.mla_kv_lora = int32_t(hp.mla_kv_lora);
  }
  kp.dtype = p.kv_type;
  kp.token_scales = p.kv_token_scales && (p.kv_type == ggf8::DType::E4M3 || p.kv_type == ggf8::DType::I8) &&
                    !hp.is_mla();
  if (kp.token_scales && !p.k_center.empty() && hp.attn_softcap == 0) {
    // This rank's KV heads' part of each layer's mean (rows [kv0, kv0 + kv_dim) of wk).
    const size_t full = size_t(hp.n_head_kv) * hp.head_dim;
    if (p.k_center.size() != size_t(hp.n_layer) * full)
      return Status::Error(Code::InvalidArgument, "k_center: want n_layer * n_head_kv * head_dim = " +
                                                      std::to_string(size_t(hp.n_layer) * full) + " values, got " +
                                                      std::to_string(p.k_center.size()));
    for (uint32_t l = 0; l < hp.n_layer; ++l) {
      const float* m = p.k_center.data() + size_t(l) * full + size_t(t.kv0);
      kp.k_center.insert(kp.k_center.end(), m, m + t.kv_dim);
      kp.k_center_rope.push_back(hp.layer_windowed(l) ? rope_local_ : rope_);
    }
  }
  // The position lists: the deterministic attention, and every MLA kernel
  // (a device backend's latent attention walks them; the CPU keeps them anyway).
  kp.position_lists = p.deterministic || hp.is_mla();
  if (fp8) {
    const ModelWeights& w = model_.host_weights();
    if (!p.k_scale.empty()) {
      kp.k_scale = p.k_scale;
      kp.v_scale = p.v_scale;
    } else if (w.has_kv_scales) {
      for (const LayerWeights& L : w.layers) {
        kp.k_scale.push_back(L.k_scale);
        kp.v_scale.push_back(L.v_scale);
      }
    }
    p.k_scale = kp.k_scale;
    p.v_scale = kp.v_scale;
  }
  bs = be.create_kv_cache(kp, &R->kv);
  if (!bs.ok()) return Status::Error(from_backend(bs.code), std::string("kv cache: ") + bs.message);

  const int64_t T = p.n_batch;
  logits_chunk_ = static_cast<int32_t>(std::clamp<int64_t>(kLogitsChunkFloats / hp.n_vocab, 1, T));
  auto alloc = [&](std::unique_ptr<f8backend::Buffer>* b, int64_t floats) -> Status {
    f8backend::Status s = be.alloc(static_cast<size_t>(floats) * 4, b);
    if (!s.ok()) return Status::Error(from_backend(s.code), std::string("activation buffer: ") + s.message);
    return Status::Ok();
  };
  if (!(st = alloc(&R->x, T * hp.n_embd)).ok()) return st;
  if (!(st = alloc(&R->h, T * hp.n_embd)).ok()) return st;
  if (!(st = alloc(&R->q, T * t.q_dim)).ok()) return st;
  if (!(st = alloc(&R->att, T * t.q_dim)).ok()) return st;
  if (!(st = alloc(&R->k, T * t.kv_dim)).ok()) return st;
  if (!(st = alloc(&R->v, T * t.kv_dim)).ok()) return st;
  if (!(st = alloc(&R->g, T * std::max<int64_t>(ffw, 1))).ok()) return st;
  if (!(st = alloc(&R->u, T * std::max<int64_t>(ffw, 1))).ok()) return st;
  if (hp.mla_q_lora && !(st = alloc(&R->mqa, T * hp.mla_q_lora)).ok()) return st;
  if (hp.n_expert) {
    if (!(st = alloc(&R->lgr, T * hp.n_expert)).ok()) return st;
    if (!(st = alloc(&R->mids, T * hp.n_expert_used)).ok()) return st;
    if (!(st = alloc(&R->mw, T * hp.n_expert_used)).ok()) return st;
    if (!(st = alloc(&R->mo, T * hp.n_embd)).ok()) return st;
  }
  // Rows of max_vocab_ so a several-node all-gather can send equal counts.
  if (!(st = alloc(&R->lg, int64_t(logits_chunk_) * max_vocab_)).ok()) return st;
  if (p.tp_nodes > 1 && !(st = alloc(&R->gat, int64_t(p.tp) * logits_chunk_ * max_vocab_)).ok()) return st;
  for (auto* b : {&R->d_tok, &R->d_pos, &R->d_seq, &R->d_cells, &R->d_rows})
    if (!(st = alloc(b, T)).ok()) return st;
  if (p.tp > 1) {
    R->tok.resize(size_t(T));
    R->lhost.resize(size_t(logits_chunk_) * size_t(t.n_vocab));
  }
  return Status::Ok();
}

size_t Context::kv_bytes() const {
  size_t b = 0;
  for (const auto& R : ranks_) b += R->kv->bytes();
  return b;
}
const char* Context::backend_name() const { return ranks_[0]->bw->backend->name(); }

const float* Context::logits(int32_t i, Status* st) const {
  const int32_t n = static_cast<int32_t>(out_index_.size());
  if (n == 0) {
    *st = Status::Error(Code::InvalidArgument, "no logits: no batch has been decoded yet");
    return nullptr;
  }
  int32_t j = i < 0 ? n + i : i;
  if (j < 0 || j >= n) {
    *st = Status::Error(Code::InvalidArgument, "logits index " + std::to_string(i) +
                                                   " out of range for a batch of " + std::to_string(n));
    return nullptr;
  }
  if (out_index_[j] < 0) {
    *st = Status::Error(Code::InvalidArgument,
                        "batch entry " + std::to_string(j) + " did not ask for logits");
    return nullptr;
  }
  *st = Status::Ok();
  return logits_.data() + int64_t(out_index_[j]) * model_.hparams().n_vocab;
}

static Status check_seq(int32_t seq, const char* what) {
  if (seq < 0 || seq >= f8backend::kMaxSeq)
    return Status::Error(Code::InvalidArgument, std::string(what) + " = " + std::to_string(seq) +
                                                    ": expected 0.." + std::to_string(f8backend::kMaxSeq - 1));
  return Status::Ok();
}

Status Context::seq_rm(int32_t seq, int32_t p0, int32_t p1) {
  if (seq >= 0) {
    Status st = check_seq(seq, "seq_id");
    if (!st.ok()) return st;
  }
  if (p0 < 0) p0 = 0;
  if (p1 >= 0 && p1 < p0) return Status::Error(Code::InvalidArgument, "seq_rm: p1 < p0");
  for (auto& R : ranks_) R->kv->seq_rm(seq, p0, p1);
  seq_tokens_.rm(seq, p0, p1);
  return Status::Ok();
}

Status Context::seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) {
  Status st = check_seq(src, "src seq_id");
  if (!st.ok()) return st;
  if (!(st = check_seq(dst, "dst seq_id")).ok()) return st;
  if (p0 < 0) p0 = 0;
  if (p1 >= 0 && p1 < p0) return Status::Error(Code::InvalidArgument, "seq_cp: p1 < p0");
  if (src != dst)
    for (auto& R : ranks_) R->kv->seq_cp(src, dst, p0, p1);
  seq_tokens_.cp(src, dst, p0, p1);
  return Status::Ok();
}

Status Context::seq_keep(int32_t seq) {
  Status st = check_seq(seq, "seq_id");
  if (!st.ok()) return st;
  for (auto& R : ranks_) R->kv->seq_keep(seq);
  seq_tokens_.keep(seq);
  return Status::Ok();
}

void Context::clear() {
  for (auto& R : ranks_) R->kv->clear();
  seq_tokens_.clear();
}

int32_t Context::seq_pos_max(int32_t seq) const {
  if (seq < 0 || seq >= f8backend::kMaxSeq) return -1;
  return ranks_[0]->kv->seq_pos_max(seq);
}

int32_t Context::n_used() const { return ranks_[0]->kv->n_used(); }

namespace {
// One calibration pass: `tokens` (the first default_n_ctx of them) through
// an F32-KV context of their size at positions 0.., tp = 1, one chunk, with
// the recorders `arm` sets on the context.
Status calibration_pass(Model& model, const std::vector<int32_t>& tokens, int32_t n_threads,
                        const std::string& backend, const std::function<void(Context&)>& arm) {
  ContextParams cp;
  cp.n_ctx = static_cast<int32_t>(std::min<size_t>(tokens.size(), default_n_ctx(model.hparams())));
  cp.n_batch = cp.n_ctx;
  cp.n_threads = n_threads;
  cp.kv_type = ggf8::DType::F32;
  cp.backend = backend;
  std::unique_ptr<Context> c;
  Status st = Context::create(model, cp, &c);
  if (!st.ok()) return st;
  arm(*c);
  const int32_t n = cp.n_ctx;
  std::vector<int32_t> pos(n), seq(n, 0);
  std::vector<int8_t> lg(n, 0);
  for (int32_t i = 0; i < n; ++i) pos[i] = i;
  lg[n - 1] = 1;
  return c->decode({n, tokens.data(), pos.data(), seq.data(), lg.data()});
}
}  // namespace

Status calibrate_kv_scales(Model& model, const std::vector<int32_t>& tokens, ggf8::DType kv_type,
                           int32_t n_threads, const std::string& backend, std::vector<float>* k_scale,
                           std::vector<float>* v_scale) {
  const HParams& hp = model.hparams();
  if (tokens.empty()) return Status::Error(Code::InvalidArgument, "kv calibration: no tokens");
  std::vector<float> ka(hp.n_layer, 0.0f), va(hp.n_layer, 0.0f);
  Status st = calibration_pass(model, tokens, n_threads, backend, [&](Context& c) { c.record_kv_amax(&ka, &va); });
  if (!st.ok()) return st;
  // Headroom: unseen prompts may exceed the calibration amax; E4M3 keeps its
  // relative precision at any scale, so spending one binade of range on
  // headroom costs only the smallest values (see docs/runtime.md).
  const float maxf = kv_type == ggf8::DType::E5M2 ? 57344.0f : 448.0f;
  const float headroom = 2.0f;
  k_scale->assign(hp.n_layer, 1.0f);
  v_scale->assign(hp.n_layer, 1.0f);
  for (uint32_t l = 0; l < hp.n_layer; ++l) {
    if (ka[l] > 0 && std::isfinite(ka[l])) (*k_scale)[l] = ka[l] * headroom / maxf;
    if (va[l] > 0 && std::isfinite(va[l])) (*v_scale)[l] = va[l] * headroom / maxf;
  }
  return Status::Ok();
}

Status calibrate_k_center(Model& model, const std::vector<int32_t>& tokens, int32_t n_threads,
                          const std::string& backend, std::vector<float>* mean) {
  const HParams& hp = model.hparams();
  if (tokens.size() <= size_t(f8backend::kKvCenterFrom))
    return Status::Error(Code::InvalidArgument, "k centering calibration: want more than " +
                                                    std::to_string(f8backend::kKvCenterFrom) + " tokens");
  const size_t kv = size_t(hp.n_head_kv) * hp.head_dim;
  std::vector<double> sum(size_t(hp.n_layer) * kv, 0.0);
  int64_t cnt = 0;
  Status st = calibration_pass(model, tokens, n_threads, backend, [&](Context& c) { c.record_k_sum(&sum, &cnt); });
  if (!st.ok()) return st;
  if (cnt <= 0) return Status::Error(Code::Internal, "k centering calibration: no token recorded");
  mean->resize(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) {
    const double m = sum[i] / double(cnt);
    (*mean)[i] = std::isfinite(m) ? float(m) : 0.0f;  // a non-finite mean centers nothing
  }
  return Status::Ok();
}

}  // namespace f8model
