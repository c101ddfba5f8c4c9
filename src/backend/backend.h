// backend.h — the ops table every compute backend implements (cpu/ref,
// cpu/simd, later cuda). The model code (src/model) runs the forward pass
// only through these calls; it never touches backend memory directly and never
// indexes the KV cache.
//
// Three objects:
//   Backend  — one per model and device: memory, weight "upload" (CPU: a
//              zero-copy view into the mmap), KV cache creation. Shared by
//              every context of a model; its methods are thread-safe.
//   Stream   — one per context: the ops table. Owns the scratch buffers
//              (sized once at creation from StreamParams, so a decode step
//              allocates nothing and has fixed shapes -> CUDA-graph capture)
//              and, on the CPU, the persistent thread pool (n_threads).
//              Ops on a stream run in order; on the CPU they are synchronous,
//              on a GPU they are enqueued and only to_host()/synchronize()
//              wait. A Stream is used by one thread at a time.
//   KVCache  — owned by the backend that made it; layout private to it.
//
// Units and layouts used everywhere below:
//   - Activations are F32, row-major, token-major: x[T, dim] means
//     x[t*dim + i]. They live in backend memory (Buffer::data()).
//   - Weights are stored [N, K] = [out, in] row-major (HF / GGF8 layout, the
//     "TN" form cuBLASLt FP8 wants); y[t, n] = sum_k x[t, k] * W[n, k].
//   - A scale is an FP32 dequantization multiplier: value = decode(q) * s.
//   - "device int32[T]" arrays (token ids, positions, cells, seq ids) are in
//     backend memory too; fill them with Stream::from_host().
//
// Nothing here throws or aborts on bad input: fallible calls return Status.
// Ops themselves cannot fail; the model validates shapes at load time and
// calls ops only within the StreamParams limits (violations are asserts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ggf8/ggf8.h"

namespace f8backend {

// ---- status ------------------------------------------------------------------
enum class Code : int {
  Ok = 0,
  InvalidArgument,  // bad params (zero threads, unknown backend/ISA name, bad shape)
  OutOfMemory,      // an allocation failed
  Unsupported,      // dtype / scale kind / feature this backend does not have
  CacheFull,        // KVCache::alloc_cells found no free cells
};
struct Status {
  Code code = Code::Ok;
  std::string message;  // one line, names the op/field and what was expected
  bool ok() const { return code == Code::Ok; }
  static Status Ok() { return {}; }
  static Status Error(Code c, std::string m) { return {c, std::move(m)}; }
};

using ggf8::DType;
using ggf8::ScaleKind;

// ---- weights -------------------------------------------------------------------
// A 2-D weight matrix (or a 1-D vector as rows = 1) as the backend sees it.
// On the CPU `data` points into the mmapped .f8 (zero copy). Slices for tensor
// parallel: a column-parallel slice is a row range (advance `data` and
// `scale`), a row-parallel slice is a column range (advance `data`, keep
// `row_stride` of the full matrix, `scale_col0` = first block column).
struct Weight {
  const void* data = nullptr;   // element [n, k] at data + (n*row_stride + k)*dtype_size
  DType dtype = DType::F32;     // F32 / F16 / BF16 / E4M3 / E5M2
  int64_t rows = 0;             // N: output features (vocab for embeddings)
  int64_t cols = 0;             // K: input features (hidden size for embeddings)
  int64_t row_stride = 0;       // elements between consecutive rows; 0 means = cols

  // Scales (FP8 weights; may also be set on F16/BF16/F32 weights, applied the same way).
  ScaleKind scale_kind = ScaleKind::None;
  const float* scale = nullptr;  // Tensor: [1]; Channel: [rows];
                                 // Block: [ceil(rows/block_rows), scale_cols] row-major
  uint32_t block_rows = 0;       // Block only, e.g. 128 (rows of W per scale)
  uint32_t block_cols = 0;       // Block only, e.g. 128 (cols of W per scale)
  int64_t scale_cols = 0;        // Block only: row stride of `scale`; 0 means ceil(cols/block_cols)

  // Static activation scale from the file (`input_scale`, a multiplier:
  // xq = satfinite(rne(x / input_scale))); 0 = none. Used by GemmOpts::Static.
  float input_scale = 0.0f;

  // A stack of n_mats matrices [n_mats, rows, cols] (MoE experts, GGF8 2.0
  // stacked tensors): matrix e starts mat_stride elements after matrix e-1
  // and its scales mat_scale_stride floats after (0 for a Tensor scale, which
  // all matrices share). gemm() takes single matrices (n_mats == 1); moe_ffn
  // takes stacks and views matrix e through mat(e).
  int32_t n_mats = 1;
  int64_t mat_stride = 0;        // elements; 0 with n_mats == 1
  int64_t mat_scale_stride = 0;  // floats

  int64_t stride() const { return row_stride ? row_stride : cols; }
  // Matrix e of a stack as a plain 2-D weight.
  Weight mat(int64_t e) const {
    Weight m = *this;
    m.n_mats = 1;
    m.mat_stride = m.mat_scale_stride = 0;
    m.data = static_cast<const uint8_t*>(data) + e * mat_stride * static_cast<int64_t>(ggf8::dtype_size(dtype));
    if (scale) m.scale = scale + e * mat_scale_stride;
    return m;
  }
};

// Optional bias for gemm (Qwen2 q/k/v): [N] values, F32 or BF16 or F16.
struct Bias {
  const void* data = nullptr;   // nullptr = no bias
  DType dtype = DType::F32;
};

// ---- op parameters ------------------------------------------------------------
// How gemm treats the activations.
enum class ActQuant : uint32_t {
  None = 0,        // weight-only: x stays F32 (CPU default, most accurate)
  DynamicToken,    // emulate GPU: per token sx[t] = max(amax(x[t,:])/448, tiny),
                   // xq = e4m3_satfinite_rne(x / sx[t]); y = (xq . wq) * sx * sw
  Static,          // emulate GPU: sx = Weight::input_scale for every token
                   // (requires input_scale > 0; the model picks per weight)
};
// Activation quantization applies only to FP8 (E4M3/E5M2) weights; F32/F16/BF16
// weights always run weight-only (that is what the GPU path does too).
// The smallest dynamic scale (`tiny`): keeps an all-zero row from dividing by 0.
constexpr float kActScaleTiny = 1.0f / (448.0f * 512.0f);

struct GemmOpts {
  ActQuant act = ActQuant::None;
  Bias bias;                    // added after scaling: y = ... + bias[n]
};

enum class RopeScaling : uint32_t { None = 0, Linear, Llama3, Yarn };

// Rotary embedding, HF "rotate_half" layout (pairs (i, i + n_rot/2) within
// the first n_rot dims of each head; the converter keeps HF's q/k row order).
struct RopeParams {
  int32_t head_dim = 0;         // dims per head
  int32_t n_rot = 0;            // rotated dims per head (even, <= head_dim); 0 = head_dim
  float freq_base = 10000.0f;   // theta: inv_freq[i] = base^(-2i/n_rot)
  RopeScaling scaling = RopeScaling::None;
  float factor = 1.0f;          // Linear: positions / factor; Llama3: "factor"
  float low_freq_factor = 1.0f;   // Llama3 only
  float high_freq_factor = 4.0f;  // Llama3 only
  int32_t orig_ctx = 8192;        // Llama3 / Yarn "original_max_position_embeddings"
  // YaRN (transformers _compute_yarn_parameters): inv_freq blends base^(-2i/n_rot)
  // (extrapolation) and that / factor (interpolation) by a linear ramp over the
  // dims between find_correction_dim(beta_fast) and (beta_slow), floor/ceil'd
  // when truncate.
  float beta_fast = 32.0f;        // Yarn only
  float beta_slow = 1.0f;         // Yarn only
  int32_t truncate = 1;           // Yarn only: 1 = floor/ceil the ramp bounds (int32: no padding for memcmp)
  // cos and sin are multiplied by this (transformers' attention_scaling:
  // YaRN's mscale; 1 for every other type), so q.k scales by its square.
  float attn_factor = 1.0f;
};

// ---- memory --------------------------------------------------------------------
// Backend memory (device memory on a GPU; 64-byte aligned host memory on the CPU).
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual void* data() = 0;
  virtual size_t size() const = 0;   // bytes
  float* f32() { return static_cast<float*>(data()); }
  int32_t* i32() { return static_cast<int32_t*>(data()); }
};

// ---- KV cache --------------------------------------------------------------------
// Cells hold one token's K and V for every layer. Each cell remembers its
// position and the set of sequences that see it (a cell may be shared after
// seq_cp). Visibility for attention: query token (seq s, pos p) sees cell c
// iff c is used, s is in c's set and c.pos <= p (causal by position; so a
// prefill batch stores its K/V first and then attends), and, with a sliding
// window W (AttnBatch::window > 0), c.pos > p - W.
constexpr int kMaxSeq = 64;   // sequence ids are 0..63
constexpr int32_t kKvCenterFrom = 4;   // KVCacheParams::k_center: first centered position
constexpr int32_t kKvCenterBlock = 64;  // positions sharing one rotated mean (the attention block)
// Positions >= this are stored uncentered: the rotated means are kept per
// block up to the highest position seen, so an arbitrary position (up to
// 2^30 through the API) must not size that table (at 2^20: 16,384 blocks,
// 12 MB per layer for SmolLM2's 3 x 64 K values).
constexpr int32_t kKvCenterMaxPos = 1 << 20;

struct KVCacheParams {
  int32_t n_layers = 0;
  int32_t n_cells = 0;          // context size in tokens (--ctx), all sequences together
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;
  DType dtype = DType::E4M3;    // E4M3 (default), E5M2, BF16, F16, F32
  // Device backends: mirror KvCells::seq_cells (the position-ordered cell
  // lists) to the device for the deterministic attention kernel.
  bool position_lists = false;
  // Per-layer dequantization multipliers for what is stored (after RoPE):
  // stored = satfinite(rne(k / k_scale[l])). [n_layers] each; empty = all 1.0.
  // Used for E4M3/E5M2 only; ignored for BF16/F16/F32.
  std::vector<float> k_scale, v_scale;
  // E4M3 only (not MLA): per-token, per-KV-head scales instead of k_scale /
  // v_scale. kv_store gives each (cell, KV head) row of K and of V its own
  // scale s (a BF16 value stored with the cell, the rule in
  // kernels/kv_scale.h) and every reader decodes code * s (exact). The default
  // for --kv-type fp8 (docs/runtime.md "KV cache").
  bool token_scales = false;
  // K centering (token_scales only; CPU backends): k_center [n_layers]
  // [n_kv_heads * head_dim] is a per-layer mean of K BEFORE RoPE (measured by
  // the model on a calibration text). For a token at position p >=
  // kKvCenterFrom, kv_store subtracts c = rope(k_center[l], 64 * (p / 64))
  // — the mean rotated to the first position of the token's 64-position
  // block with k_center_rope[l]; RoPE pairs turning more than 1 radian per
  // block are left at 0 (cpu/kv_cache.cpp) — from its K row before choosing the row's
  // scale, and attention adds q . c * scale back to the scores of the
  // block's cells (every cell of a block shares c, so the run's partial max
  // takes it: no per-score work). Why: a few RoPE pairs of K carry a large
  // constant offset where q is large too (docs/runtime.md, KV cache); E4M3's
  // error is relative to the value, so the offset's rounding dominated the
  // cache's error. Positions < kKvCenterFrom (BOS, attention sinks: far from
  // the mean) are stored as they are. Empty = off. Not for soft-capped
  // attention (the shift must pass through tanh; the model leaves it off).
  std::vector<float> k_center;
  std::vector<RopeParams> k_center_rope;  // [n_layers] the RoPE each layer's K got
  // Multi-head latent attention (DeepSeek-V3): > 0 makes a LATENT cache.
  // Each cell then holds one row per layer of head_dim values (n_kv_heads
  // must be 1): c_kv (the first mla_kv_lora values, after kv_a_layernorm)
  // then k_pe (the rest: qk_rope_head_dim values, after RoPE), and no V.
  // k_scale[l] is c_kv's scale, v_scale[l] k_pe's. Only mla_kv_store /
  // mla_attention use such a cache (kv_store / attention must not).
  int32_t mla_kv_lora = 0;
};

class KVCache {
 public:
  virtual ~KVCache() = default;
  virtual const KVCacheParams& params() const = 0;
  virtual size_t bytes() const = 0;             // K+V storage in backend memory

  // Host-side bookkeeping (the backend mirrors it to the device as needed).
  // Finds n free cells for tokens (seq[i], pos[i]) — host arrays [n] — marks
  // them used and writes their indices to cells_out[n] (host). CacheFull if
  // fewer than n cells are free (nothing is changed then).
  virtual Status alloc_cells(int32_t n, const int32_t* seq, const int32_t* pos,
                             int32_t* cells_out) = 0;
  // Removes seq from cells with p0 <= pos < p1 (p1 < 0: to the end; seq < 0:
  // every sequence). A cell with no sequence left is free.
  virtual void seq_rm(int32_t seq, int32_t p0, int32_t p1) = 0;
  // Makes cells of src with p0 <= pos < p1 also visible to dst (shares the data).
  virtual void seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) = 0;
  virtual void seq_keep(int32_t seq) = 0;       // removes every other sequence
  virtual void clear() = 0;
  virtual int32_t seq_pos_max(int32_t seq) const = 0;  // -1 if the seq has no cell
  virtual int32_t n_used() const = 0;
};

// Per-call description of the query tokens for attention.
struct AttnBatch {
  int32_t n_tokens = 0;          // T
  const int32_t* seq = nullptr;  // device int32[T]: sequence id of each query token
  const int32_t* pos = nullptr;  // device int32[T]: position of each query token
  int32_t n_heads = 0;           // query heads; GQA: head h uses kv head h / (n_heads / n_kv_heads)
  float scale = 0.0f;            // softmax scale, usually 1/sqrt(head_dim)
  // Sliding-window attention (Mistral, Phi-3): > 0 restricts a query at
  // position p to cells with p - window < cell.pos <= p (the window counts the
  // query's own position: transformers' `kv_idx > q_idx - sliding_window`);
  // 0 = none (full causal attention).
  int32_t window = 0;
  // Attention logit soft-capping (Gemma 2): > 0 replaces each score
  // s = q.k * scale by softcap * tanh(s / softcap) before the softmax; 0 = none.
  float softcap = 0.0f;
  // FP8 fused attention (FMHA): Q quantized to E4M3 per (token, head), Q.K
  // and P.V as FP8 x FP8 products, P quantized to E4M3 with the fixed scale
  // 256 (kernels/fmha_math.h has the exact data flow). Only with an E4M3
  // cache with per-layer scales (not token_scales: the backends then run the
  // FP32 path) and a head_dim f8k::fmha::head_dim_ok accepts; the model sets it
  // through use_fp8_fmha(). The CPU backends emulate it (cpu/fmha_emul.h).
  bool fp8_fmha = false;
  // Attention sinks (gpt-oss `self_attn.sinks`): device float[n_heads], one
  // learned logit per query head that joins each softmax's denominator and
  // contributes no value: p_c = exp(s_c) / (sum_c' exp(s_c') + exp(sink[h]))
  // (transformers' eager path concatenates it as an extra column, softmaxes
  // and drops it). null = none. Not scaled, not soft-capped.
  const float* sinks = nullptr;
};

// Chunks of at least this many query tokens run FP8 FMHA when activations
// are FP8 (the GPU; --emulate-gpu): prefill. Smaller chunks (decode, up to
// the 64-token CUDA graphs) keep FP32 attention over the dequantized cache.
constexpr int32_t kFmhaMinTokens = 65;
// Whether a chunk of T tokens runs FP8 FMHA (the rule the GPU and its CPU
// emulation share). `enabled`: not switched off (F8_FP8_ATTENTION=0).
inline bool use_fp8_fmha(bool enabled, bool fp8_activations, DType kv_dtype, int32_t head_dim, int32_t T) {
  return enabled && fp8_activations && kv_dtype == DType::E4M3 && T >= kFmhaMinTokens &&
         (head_dim == 64 || head_dim == 128 || head_dim == 256);
}

// ---- mixture of experts (MoE) ------------------------------------------------------
// How a layer's router turns its logits [T, E] (a gemm by the router weight,
// F32 math) into k experts and their weights per token.
enum class MoeGating : uint32_t {
  // p = softmax(logits[t, :]) over all E experts; the k largest p; w = those
  // p, divided by their sum when norm_topk (Mixtral always; Qwen2/Qwen3-MoE
  // by norm_topk_prob). transformers: softmax -> topk -> (/ sum).
  SoftmaxTopK,
  // The k largest logits; w = softmax over those k (gpt-oss).
  TopKSoftmax,
  // DeepSeek-V3 "noaux_tc" (transformers DeepseekV3TopkRouter): s = sigmoid(
  // logits[t, :]); the choice uses c = s + score_bias: the E experts form
  // n_group equal groups, a group's score is the sum of its two largest c,
  // the topk_group best groups stay candidates (the others -inf), the k
  // largest c among them are chosen; w = their UNBIASED s, divided by
  // (sum + 1e-20) when norm_topk, then times `scale` (routed_scaling_factor).
  SigmoidGroupTopK,
};
constexpr int32_t kMaxExpertsUsed = 32;  // k bound (stack arrays)
struct MoeRoute {
  MoeGating gating = MoeGating::SoftmaxTopK;
  int32_t n_expert = 0;    // E
  int32_t k = 0;           // experts per token, 1..min(E, kMaxExpertsUsed)
  bool norm_topk = false;  // SoftmaxTopK / SigmoidGroupTopK: renormalize the k weights to sum 1
  // SigmoidGroupTopK only (ignored otherwise):
  const float* score_bias = nullptr;  // device float[E]: e_score_correction_bias (this layer's); null = 0
  int32_t n_group = 1;                // groups (E % n_group == 0, E / n_group >= 2 unless n_group == 1)
  int32_t topk_group = 1;             // groups kept, 1..n_group (k <= topk_group * E / n_group)
  float scale = 1.0f;                 // routed_scaling_factor: the k weights times this (> 0)
};
// Ties between equal scores are broken by the lower expert id (what
// torch.topk gives on the CPU); the k experts are listed by descending score.

// The expert FFNs of one layer, each a gated MLP
//   o_e(x) = down_e(act(gate_e(x) + gate_b_e, up_e(x) + up_b_e)) + down_b_e
// Weights are stacks over the E experts (Weight::n_mats = E).
enum class MoeAct : uint32_t {
  SwiGLU,       // silu(g) * u
  SwiGLUOss,    // gpt-oss: g' = min(g, limit), u' = clamp(u, -limit, limit),
                // (u' + 1) * g' * sigmoid(alpha * g')
};
struct MoeExperts {
  Weight gate, up;        // [E][F, H]
  Weight down;            // [E][H, F]
  Bias gate_b, up_b;      // [E, F] or none (expert e's at e * fb_stride)
  Bias down_b;            // [E, H] or none
  int64_t fb_stride = 0;  // elements between experts' gate/up biases; 0 = gate.rows
                          // (a tensor-parallel slice keeps the full F)
  MoeAct act = MoeAct::SwiGLU;
  float alpha = 1.702f, limit = 7.0f;  // SwiGLUOss
};

// ---- multi-head latent attention (MLA, DeepSeek-V3) ---------------------------------
// The cache is a latent cache (KVCacheParams::mla_kv_lora = R): a cell's row
// holds c (R values) and k_pe (P values), read back dequantized (x k_scale /
// x v_scale for FP8). kv_b [H*(N+V), R] (this rank's heads) holds, for head
// h, W_UK[h] = rows [h*(N+V), h*(N+V) + N) and W_UV[h] = the next V rows.
// For query token t (q[t, h] = [q_nope (N) ; q_pe (P, after RoPE)]) and a
// visible cell (KVCache rules; AttnBatch: window, softcap, sinks unused):
//   k[h] = [W_UK[h] c ; k_pe]  (N + P),   v[h] = W_UV[h] c  (V),
//   out[t, h] = sum_c softmax_c(q[t, h] . k_c[h] * scale) v_c[h].
// Both forms compute that; they differ in what is materialized:
//   Expanded (prefill): k, v of every visible cell, then attention.
//   Absorbed (decode): q_lat[h] = [W_UK[h]^T q_nope ; q_pe] (R + P), scores
//     q_lat[h] . [c ; k_pe], o_lat[h] = sum_c p_c c (R), out = W_UV[h] o_lat:
//     a step reads only the latent rows (R + P values per cell).
// All arithmetic FP32 with the weight's values decoded exactly (x scale);
// activations are never quantized here (weight-only on every backend).
struct MlaDims {
  int32_t n_heads = 0;  // H (this rank's query heads)
  int32_t nope = 0;     // N = qk_nope_head_dim
  int32_t rope = 0;     // P = qk_rope_head_dim
  int32_t v = 0;        // V = v_head_dim
  int32_t kv_lora = 0;  // R = kv_lora_rank
};
enum class MlaForm : uint32_t { Expanded, Absorbed };
// Query tokens per chunk from which the model runs the expanded form (with
// F8_MLA unset): prefill. Decode-sized chunks (the CUDA graphs' <= 64) run
// the absorbed form.
constexpr int32_t kMlaExpandedMinTokens = 65;

// ---- the ops table -------------------------------------------------------------------
struct StreamParams {
  int32_t n_threads = 1;        // CPU worker threads incl. the caller (>= 1)
  // Batch-invariant numerics (docs/backend.md "Invariance"): every output
  // row depends only on its own inputs, not on T, the thread split or the
  // KV pool's layout. The CPU backends always are; a device backend that is
  // not by default switches to kernels that are (CUDA: no cuBLASLt, no
  // T-dependent attention splits).
  bool deterministic = false;
  int32_t max_tokens = 1;       // largest T any op on this stream sees (batch size)
  int64_t max_dim = 0;          // largest K or N of any gemm (vocab included)
  int64_t max_attn_dim = 0;     // largest n_heads * head_dim attention sees; 0 = max_dim
                                // (a device backend sizes its attention workspace from it)
  // Mixture of experts (all 0 when no moe_ffn runs on this stream): the
  // largest k (experts per token), expert count, expert FFN width (rows of a
  // gate matrix) and hidden size (its columns) any moe_ffn call sees. A
  // device backend sizes its MoE scratch from them at creation (a CUDA graph
  // cannot allocate); the CPU backends ignore them.
  int32_t moe_k = 0;
  int32_t moe_experts = 0;
  int64_t moe_ff = 0;
  int64_t moe_hidden = 0;
  // Multi-head latent attention (0 when no mla_attention runs): the MlaDims
  // of the largest call; a backend sizes its MLA scratch (absorbed form:
  // q_lat [T, H, R + P] and o_lat [T, H, R]; expanded: a chunk of cells'
  // k, v) from it at creation.
  MlaDims mla;
};

class Stream {
 public:
  virtual ~Stream() = default;
  virtual const StreamParams& params() const = 0;

  // Host <-> backend copies (synchronous: they wait for earlier ops).
  virtual void from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void synchronize() = 0;

  // out[T, dim] = table[ids[t], :] * scale (dequantized to F32). table: [vocab, dim]
  // any Weight dtype/scale kind; ids: device int32[T], each in [0, vocab) or
  // negative: a row of zeros (tensor parallel: the row is on another rank).
  virtual void embed(const Weight& table, const int32_t* ids, int32_t T, float* out) = 0;

  // out[t,:] = x[t,:] / sqrt(mean(x[t,:]^2) + eps) * w. x, out: [T, dim] (may alias);
  // w: rows = 1, cols = dim, F32/F16/BF16.
  virtual void rmsnorm(const float* x, const Weight& w, float eps, int32_t T, int32_t dim,
                       float* out) = 0;

  // In place on x[T, n_heads, head_dim]; pos: device int32[T].
  virtual void rope(float* x, int32_t T, int32_t n_heads, const int32_t* pos,
                    const RopeParams& p) = 0;

  // y[T, N] = x[T, K] . W^T (+ bias), FP32 accumulation. x and y must not alias.
  virtual void gemm(const float* x, int32_t T, const Weight& w, float* y,
                    const GemmOpts& opts = {}) = 0;

  // Several gemms on the same x (q/k/v, gate/up): y_i[T, N_i] = x . W_i^T, as
  // gemm() does each. One call so a backend can run them as one launch or one
  // thread-pool dispatch (decode on the CPU pays a fork/join per dispatch).
  // The default runs them one by one. No y_i may alias x or another y_j.
  struct GemmJob {
    const Weight* w;
    float* y;
    GemmOpts opts;
  };
  virtual void gemm_multi(const float* x, int32_t T, const GemmJob* jobs, int32_t n_jobs) {
    for (int32_t i = 0; i < n_jobs; ++i) gemm(x, T, *jobs[i].w, jobs[i].y, jobs[i].opts);
  }

  // out[i] = silu(gate[i]) * up[i] over n floats (out may alias gate or up).
  virtual void swiglu(const float* gate, const float* up, int64_t n, float* out) = 0;

  // out[i] = gelu_tanh(gate[i]) * up[i] over n floats (GeGLU, Gemma's
  // gelu_pytorch_tanh): gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  // out may alias gate or up.
  virtual void geglu(const float* gate, const float* up, int64_t n, float* out) = 0;

  // x[i] *= s over n floats (Gemma's embedding scale).
  virtual void scale(float* x, int64_t n, float s) = 0;

  // x[i] += y[i] over n floats (residual).
  virtual void add(float* x, const float* y, int64_t n) = 0;

  // x[t, :] *= sigmoid(g[t]) for t < T (Qwen2-MoE's shared-expert gate);
  // x: [T, dim], g: [T] (a gemm by a [1, dim] weight).
  virtual void sigmoid_scale_rows(float* x, const float* g, int32_t T, int32_t dim) = 0;

  // MoE routing: ids[T, k] (device int32) and weights w[T, k] from the
  // router logits[T, E] (MoeRoute). Depends on each token's own row only.
  virtual void moe_route(const float* logits, int32_t T, const MoeRoute& r, int32_t* ids, float* w) = 0;

  // MoE experts: y[t, :] = sum over j < k of w[t, j] * o_{ids[t, j]}(x[t, :])
  // (MoeExperts), the terms added to 0.0f in ascending expert id, as
  // transformers' eager loop over experts adds them; each o_e through the
  // same FP32-accumulation gemm rule as gemm(). x: [T, H], y: [T, H] (must
  // not alias x). `act`: activation quantization of the expert gemms
  // (ActQuant::Static is treated as DynamicToken: experts carry no static
  // input scale). A token's result depends only on its own row and routing.
  virtual void moe_ffn(const float* x, int32_t T, const MoeExperts& e, const int32_t* ids, const float* w,
                       int32_t k, float* y, ActQuant act) = 0;

  // out[i, :] = x[idx[i], :]  (i < M), x: [*, dim]; idx device int32[M]. Picks the
  // rows that want logits before the output projection.
  virtual void get_rows(const float* x, const int32_t* idx, int32_t M, int32_t dim,
                        float* out) = 0;

  // Quantizes and writes K/V of T tokens into `cells` (device int32[T]) of `layer`.
  // k, v: [T, n_kv_heads * head_dim] after RoPE.
  virtual void kv_store(KVCache& cache, int32_t layer, const float* k, const float* v,
                        const int32_t* cells, int32_t T) = 0;

  // out[T, n_heads*head_dim] = softmax(q . K^T * scale) . V over the cells each
  // query token sees (see KVCache). q: [T, n_heads*head_dim]. FP32 math; an FP8
  // cache is dequantized on load (k = fp8 * k_scale). A token that sees no
  // cell gets zeros.
  virtual void attention(KVCache& cache, int32_t layer, const float* q, const AttnBatch& b,
                         float* out) = 0;

  // MLA (see MlaDims): quantizes and writes c [T, R] and k_pe [T, P] of T
  // tokens into `cells` (device int32[T]) of `layer` of a latent cache:
  // stored = satfinite(rne(c / k_scale[l])), satfinite(rne(k_pe / v_scale[l])).
  virtual void mla_kv_store(KVCache& cache, int32_t layer, const float* c, const float* kpe, const int32_t* cells,
                            int32_t T) = 0;
  // MLA attention over a latent cache: q [T, H, N + P] (q_pe after RoPE),
  // out [T, H, V] (must not alias q); `form` picks the data flow (both give
  // the same numbers up to FP32 rounding). b.scale is the softmax scale.
  // A token that sees no cell gets zeros.
  virtual void mla_attention(KVCache& cache, int32_t layer, const float* q, const Weight& kv_b, const MlaDims& d,
                             MlaForm form, const AttnBatch& b, float* out) = 0;

  // out[t] = index of the largest x[t, :] (first one on ties); x: [T, n]; out device int32[T].
  virtual void argmax(const float* x, int32_t T, int32_t n, int32_t* out) = 0;

  // ---- device backends (the CPU backends keep these defaults) ----------------
  // Makes the device see the cache's cell bookkeeping (alloc_cells, seq_rm,
  // ... since the last call). Call once per forward chunk, before the first
  // kv_store/attention and outside a graph recording.
  virtual void kv_sync(KVCache& cache) { (void)cache; }

  // Step recording (CUDA graphs). A run of ops whose arguments depend only on
  // `key` (the model passes the chunk's token count) is recorded once and
  // replayed afterwards:
  //   if (!s.graph_replay(key)) { bool rec = s.graph_begin(key); ...ops...;
  //                               if (rec) status = s.graph_end(); }
  // graph_replay runs the recorded ops and returns true, or returns false
  // when nothing is recorded for key. graph_begin returns true when it starts
  // recording (ops are then recorded, not run, until graph_end, which runs
  // them once). Between begin and end: no from_host/to_host/synchronize, and
  // every device-side input (token ids, positions, cells, the cache
  // bookkeeping via kv_sync) must already be in place before graph_replay.
  virtual bool graph_replay(uint64_t key) { (void)key; return false; }
  virtual bool graph_begin(uint64_t key) { (void)key; return false; }
  virtual Status graph_end() { return Status::Ok(); }

  // The backend's native stream (a cudaStream_t on CUDA, for NCCL); null on the CPU.
  virtual void* native_handle() { return nullptr; }

  // The first device error this stream met (a failed launch or copy),
  // sticky: once set every later op is skipped and the stream must be
  // recreated. The CPU backends never fail here.
  virtual Status error() const { return Status::Ok(); }
};

struct BackendParams {
  // ISA for cpu-simd: "auto" (best the CPU has), "avx512", "avx2", "generic".
  // Asking for an ISA the CPU lacks is InvalidArgument.
  std::string isa = "auto";
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;      // "cpu-ref", "cpu-simd", ...
  virtual std::string description() const = 0;  // e.g. "cpu-simd (avx2+fma+f16c)"
  virtual bool host_memory() const = 0;      // Buffer::data() is host-addressable

  virtual Status alloc(size_t bytes, std::unique_ptr<Buffer>* out) = 0;

  // Makes a weight usable by ops. `host` points into the mapped file; on the
  // CPU the result is `host` itself (zero copy); a GPU copies to device memory
  // owned by the backend until it is destroyed. Unsupported dtypes/scales fail.
  virtual Status upload(const Weight& host, Weight* out) = 0;

  virtual Status create_stream(const StreamParams& p, std::unique_ptr<Stream>* out) = 0;
  virtual Status create_kv_cache(const KVCacheParams& p, std::unique_ptr<KVCache>* out) = 0;

  // Device memory in bytes: what is free now and the device's total (the
  // CPU backends report 0, 0: host memory is not budgeted here).
  virtual void memory(size_t* free_bytes, size_t* total_bytes) const {
    *free_bytes = 0;
    *total_bytes = 0;
  }
  // Device bytes upload() will take for `w` (padding and scales included).
  // CPU: 0 (zero copy).
  virtual size_t upload_bytes(const Weight& w) const { (void)w; return 0; }
  // Whether gemm quantizes activations of FP8 weights to E4M3 whatever
  // GemmOpts::act says (ActQuant::None is then DynamicToken). True on the GPU.
  virtual bool quantizes_activations() const { return false; }
};

// ---- registry (registry.cpp) ---------------------------------------------------------
// Names: "cpu" (= cpu-simd), "cpu-simd", "cpu-simd:ISA" (one kernel table:
// avx512, avx2, generic; BackendParams::isa ignored), "cpu-ref"; "cuda" (= "cuda:0") and
// "cuda:N" when the build has the CUDA backend (creating one fails with a
// one-line reason when no driver, no device or a GPU older than sm_89).
Status create_backend(std::string_view name, const BackendParams& p,
                      std::unique_ptr<Backend>* out);
// Backends this build has (whether or not this machine can run them).
std::vector<std::string> backend_names();
// ISAs the cpu-simd backend can run on this machine, best first ("avx2", "generic").
std::vector<std::string> cpu_isas();

}  // namespace f8backend
