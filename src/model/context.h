// context.h — one inference context: a backend stream, a KV cache and the
// activation buffers, running batched decode (the primitive: every call is a
// set of entries {token, position, sequence id, want-logits}; prompt prefill
// is one call; several sequences share the cache).
//
// A Context is used by one thread at a time; the Model is shared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/comm.h"
#include "model/act_stats.h"
#include "model/model.h"
#include "model/seq_tokens.h"
#include "model/status.h"

namespace f8model {

struct ContextParams {
  int32_t n_ctx = 0;             // KV cells (tokens over all sequences); 0 = model default
  int32_t n_batch = 512;         // tokens per forward chunk (a bigger batch is split)
  int32_t n_threads = 1;         // >= 1
  ggf8::DType kv_type = ggf8::DType::E4M3;
  // E4M3 cache: one BF16 scale per (token, KV head) written with each
  // cell (KVCacheParams::token_scales) instead of k_scale / v_scale. Ignored
  // (per-layer scales) for a latent (MLA) cache and other dtypes.
  bool kv_token_scales = false;
  bool emulate_gpu = false;      // quantize activations to E4M3 (GPU data flow)
  // Prefill chunks (>= f8backend::kFmhaMinTokens tokens) run FP8 FMHA when
  // activations are FP8 and the cache is E4M3 (the GPU; emulate_gpu on the
  // CPU). The C API sets it from F8_FP8_ATTENTION (0 = FP32 attention).
  bool fp8_attention = true;
  // Batch-invariant numerics on backends where they are not the default
  // (CUDA; the CPU backends always are): a token's logits then depend only
  // on its own sequence. Also turns FP8 FMHA off (it runs only for chunks of
  // >= kFmhaMinTokens tokens, so it would make a token's result depend on
  // how its prompt was chunked). docs/runtime.md "Determinism".
  bool deterministic = false;
  std::string backend = "cpu";
  // Device backends: the fraction of the GPU's memory this process may fill
  // (weights, KV cache, scratch). The KV cache must fit in what is left of
  // it; with n_ctx = 0 the context is the model's training context capped
  // at what fits. Ignored on the CPU.
  float gpu_mem = 0.9f;
  // Tensor parallel: ranks (tp.h). On the CPU backends every rank is a
  // thread group of n_threads / tp threads in this process; with "cuda",
  // rank r runs on GPU tp_devices[r] (default r) and the ranks talk NCCL.
  int32_t tp = 1;
  std::vector<int> tp_devices;
  bool tp_force_comm = false;  // tests: the communicator (NCCL on cuda) even at tp = 1
  // Several nodes (processes, "cuda" only): this process runs node tp_node of
  // tp_nodes, i.e. global ranks [tp_node * tp / tp_nodes, ...) on its local
  // GPUs (tp_devices: one per local rank, default 0..); the NCCL id travels
  // through `rendezvous` (file:PATH or HOST:PORT, backend/rendezvous.h).
  int32_t tp_nodes = 1, tp_node = 0;
  std::string rendezvous;
  // FP8 KV scales when the file has none: per-layer values (e.g. from
  // calibrate_kv_scales); empty = 1.0 (caller warned). A latent (MLA) cache:
  // k_scale is the c_kv part's, v_scale the k_pe part's.
  std::vector<float> k_scale, v_scale;
  // K centering of a token-scaled E4M3 cache (KVCacheParams::k_center):
  // per-layer pre-RoPE K means [n_layer][n_head_kv * head_dim] (from
  // calibrate_k_center); empty = off. Ignored without kv_token_scales and
  // for soft-capped attention (Gemma 2).
  std::vector<float> k_center;
  // Multi-head latent attention's data flow (DeepSeek-V3; backend.h MlaForm):
  // 0 = by chunk size (expanded from f8backend::kMlaExpandedMinTokens tokens,
  // absorbed below), 1 = always expanded, 2 = always absorbed. The C API sets
  // it from F8_MLA ("expanded" | "absorbed").
  int32_t mla_form = 0;
};

// Default context size: the training context capped at 4096 (a sliding
// window does not cap it: attention applies the window).
int32_t default_n_ctx(const HParams& hp);

// One decode call's entries (host arrays of n entries; logits may be null =
// only the last entry wants logits).
struct BatchView {
  int32_t n = 0;
  const int32_t* token = nullptr;
  const int32_t* pos = nullptr;
  const int32_t* seq = nullptr;
  const int8_t* logits = nullptr;
};

using AbortFn = bool (*)(void* user_data);  // true = stop

class Context {
 public:
  static Status create(Model& model, const ContextParams& p, std::unique_ptr<Context>* out);
  ~Context();

  // Runs the batch. Positions of a sequence must be greater than its last
  // position in the cache and increase within the batch. On any error the
  // cache is as before the call. ContextFull when there are too few free cells.
  Status decode(const BatchView& b);

  // Logits [n_vocab] of batch entry i of the last decode (i < 0: counted from
  // the end of the batch); null with *st set if that entry asked for none.
  const float* logits(int32_t i, Status* st) const;
  int32_t n_outputs() const { return n_out_; }

  // KV cache bookkeeping (positions p0 <= pos < p1; p1 < 0 = to the end).
  Status seq_rm(int32_t seq, int32_t p0, int32_t p1);
  Status seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1);
  Status seq_keep(int32_t seq);
  void clear();
  int32_t seq_pos_max(int32_t seq) const;
  int32_t n_used() const;
  // k such that seq holds tokens[0..k) at positions 0..k-1: what a new
  // prompt for seq need not decode again (seq_tokens.h).
  size_t seq_common_prefix(int32_t seq, const int32_t* tokens, size_t n) const {
    return seq_tokens_.common_prefix(seq, tokens, n);
  }

  void set_abort(AbortFn fn, void* ud) { abort_fn_ = fn; abort_ud_ = ud; }

  // Calibration hook: when set, decode records per-layer amax of K (after
  // RoPE) and V into these [n_layer] vectors.
  void record_kv_amax(std::vector<float>* k_amax, std::vector<float>* v_amax) {
    k_amax_ = k_amax;
    v_amax_ = v_amax;
  }
  // Calibration hook (tp = 1): when set, decode adds each token's K row
  // BEFORE RoPE (after projection, bias and q/k norm) at positions >=
  // f8backend::kKvCenterFrom into sum [n_layer][kv_dim] and counts them in
  // *n (per layer the same count): the K means of calibrate_k_center.
  void record_k_sum(std::vector<double>* sum, int64_t* n) {
    k_sum_ = sum;
    k_sum_n_ = n;
  }
  // Calibration hook (tp = 1): when set, decode records the inputs of every
  // linear layer and the post-RoPE K/V per head into *s (sized by the caller
  // with s->reset). Like record_kv_amax, it makes every step run eagerly.
  void record_act_stats(ActStats* s) { act_ = s; }

  const ContextParams& params() const { return p_; }
  const HParams& hparams() const { return model_.hparams(); }
  size_t kv_bytes() const;
  const char* backend_name() const;

 private:
  // One tensor-parallel rank (tp = 1: the only one): its weights, stream, KV
  // cache (its KV heads) and activation buffers. Dims in `tp` are local.
  struct Rank {
    TpRank tp;
    BackendWeights* bw = nullptr;
    std::unique_ptr<f8backend::Stream> stream;
    std::unique_ptr<f8backend::KVCache> kv;
    // Activations (device), T = n_batch rows: x,h [T,E]; q,att [T,Q]; k,v [T,KV];
    // g,u [T,F]; lg [logits_chunk, V]; ints [T] each (Q, KV, F, V local).
    std::unique_ptr<f8backend::Buffer> x, h, q, k, v, att, g, u, lg;
    // MoE models: router logits lgr [T, n_expert], routed expert ids mids and
    // weights mw [T, n_expert_used], the experts' output mo [T, E].
    std::unique_ptr<f8backend::Buffer> lgr, mids, mw, mo;
    // MLA models: q_a's output [T, q_lora] (k holds c_kv [T, kv_lora], v k_pe [T, rope]).
    std::unique_ptr<f8backend::Buffer> mqa;
    std::unique_ptr<f8backend::Buffer> d_tok, d_pos, d_seq, d_cells, d_rows;
    std::unique_ptr<f8backend::Buffer> gat;  // several nodes: [tp, logits_chunk * max V] gathered logits
    std::vector<int32_t> tok;   // host: token ids as this rank's vocabulary slice sees them
    std::vector<float> lhost;   // host: [logits_chunk, V local] (tp > 1)
  };

  Context(Model& m) : model_(m) {}
  Status run_chunk(int32_t n, const int32_t* tok, const int32_t* pos, const int32_t* seq,
                   const int32_t* cells, const int32_t* out_rows, int32_t n_rows, float* logits_out);
  Status run_rank(Rank& R, int32_t n, const int32_t* tok, const int32_t* pos, const int32_t* seq,
                  const int32_t* cells, const int32_t* out_rows, int32_t n_rows, float* logits_out);
  Status make_rank(int32_t r, const std::string& backend, Rank* out);
  // forward_mla.cpp: layer li's multi-head latent attention for the chunk's
  // n tokens: h (the normed input [n, n_embd]) in, the o_proj output (this
  // rank's partial sum, before the all-reduce) out in h.
  Status mla_attention(Rank& R, int32_t li, int32_t n, const f8backend::AttnBatch& ab, bool quant_act, float* h);
  const float* pull(Rank& R, const float* dev, int64_t n_tok, int64_t dim);
  void amax_into(Rank& R, const float* dev, int64_t n_tok, int64_t dim, float* slot);
  Status stream_status(const Rank& R) const;
  Status all_reduce(Rank& R, float* buf, int64_t n);
  Status all_gather(Rank& R, const float* send, size_t count, float* recv);
  Status comm_status(const f8backend::Status& s) const;

  Model& model_;
  ContextParams p_;
  std::vector<std::unique_ptr<Rank>> ranks_;
  std::unique_ptr<f8backend::Comm> comm_;  // tp > 1
  f8backend::RopeParams rope_;
  f8backend::RopeParams rope_local_;
  f8backend::RopeParams rope_mla_q_, rope_mla_k_;  // MLA: q's last rope dims of each head; k_pe
  f8backend::MoeRoute moe_route_;     // MoE models: the router's gating (from HParams)  // sliding-window layers (Gemma 3 rope_local_base_freq); = rope_ otherwise
  int32_t logits_chunk_ = 1;  // rows of the device logits buffer
  bool auto_ctx_ = false;     // n_ctx was 0: a device backend sizes it
  int64_t max_vocab_ = 0;     // largest vocabulary slice of any rank

  std::vector<float> logits_;        // [n_out, V] host
  std::vector<int32_t> out_index_;   // batch entry -> row of logits_, -1 = none
  int32_t n_out_ = 0;
  SeqTokens seq_tokens_{f8backend::kMaxSeq};  // token id per sequence and position
  AbortFn abort_fn_ = nullptr;
  void* abort_ud_ = nullptr;
  std::vector<float>* k_amax_ = nullptr;
  std::vector<float>* v_amax_ = nullptr;
  std::vector<double>* k_sum_ = nullptr;
  int64_t* k_sum_n_ = nullptr;
  ActStats* act_ = nullptr;
  void act_into(Rank& R, const float* dev, int64_t n_tok, int64_t dim, AbsHist* h);
  std::vector<float> host_tmp_;
};

// Per-layer KV scales from running `tokens` (one sequence) through a scratch
// F32-cache context: scale = amax * headroom / max_finite(dtype).
// Per-layer means of K before RoPE [n_layer][n_head_kv * head_dim] over
// `tokens` (positions >= kKvCenterFrom) through an F32-KV context, tp = 1:
// ContextParams::k_center (docs/runtime.md, KV cache).
Status calibrate_k_center(Model& model, const std::vector<int32_t>& tokens, int32_t n_threads,
                          const std::string& backend, std::vector<float>* mean);

Status calibrate_kv_scales(Model& model, const std::vector<int32_t>& tokens, ggf8::DType kv_type,
                           int32_t n_threads, const std::string& backend, std::vector<float>* k_scale,
                           std::vector<float>* v_scale);

}  // namespace f8model
