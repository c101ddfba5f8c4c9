// cpu_common.h — pieces both CPU backends (ref and simd) share: host buffers,
// scalar element decoding, weight scale lookup, the RoPE frequency table and
// the KV cache storage layout (cell bookkeeping: backend/kv_cells.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backend/backend.h"
#include "backend/kv_cells.h"
#include "ggf8/fp8.h"
#include "kernels/kv_scale.h"

namespace f8backend::cpu {

// ---- memory ---------------------------------------------------------------------
class HostBuffer final : public Buffer {
 public:
  HostBuffer(void* p, size_t n) : p_(p), n_(n) {}
  ~HostBuffer() override;
  void* data() override { return p_; }
  size_t size() const override { return n_; }
 private:
  void* p_;
  size_t n_;
};
// Zeroed; 64-byte aligned, and from 2 MiB up 2 MiB-aligned with MADV_HUGEPAGE
// (transparent huge pages where the OS allows: the KV cache, cpu_common.cpp).
Status host_alloc(size_t bytes, std::unique_ptr<Buffer>* out);

// ---- scalar element decoding -------------------------------------------------------
static inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// Round to nearest even (NaN stays NaN).
static inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
float f16_to_f32(uint16_t h);     // exact, subnormals/inf/NaN included
uint16_t f32_to_f16(float f);     // round to nearest even, overflow -> inf

// Element i of a row of `dt` (F32/F16/BF16/E4M3/E5M2), exact.
static inline float load_elem(const void* row, DType dt, int64_t i) {
  switch (dt) {
    case DType::F32: return static_cast<const float*>(row)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(row)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(row)[i]);
    case DType::E4M3: return ggf8::e4m3_to_f32(static_cast<const uint8_t*>(row)[i]);
    case DType::E5M2: return ggf8::e5m2_to_f32(static_cast<const uint8_t*>(row)[i]);
    case DType::I8: return static_cast<float>(static_cast<const int8_t*>(row)[i]);  // the INT8 KV cache
    default: return 0.0f;
  }
}
size_t elem_size(DType dt);

// Pointer to row n of w.
static inline const uint8_t* weight_row(const Weight& w, int64_t n) {
  return static_cast<const uint8_t*>(w.data) + n * w.stride() * static_cast<int64_t>(elem_size(w.dtype));
}
// The multiplier for element [n, k] of w (1 when there is no scale).
static inline float weight_scale(const Weight& w, int64_t n, int64_t k) {
  switch (w.scale_kind) {
    case ScaleKind::Tensor: return w.scale[0];
    case ScaleKind::Channel: return w.scale[n];
    case ScaleKind::Block: {
      const int64_t sc = w.scale_cols ? w.scale_cols : (w.cols + w.block_cols - 1) / w.block_cols;
      return w.scale[(n / w.block_rows) * sc + k / w.block_cols];
    }
    default: return 1.0f;
  }
}
// gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), float math.
static inline float gelu_tanh_ref(float x) {
  const float kBeta = 0.7978845608028654f;  // sqrt(2/pi)
  const float inner = kBeta * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + std::tanh(inner));
}

static inline float bias_at(const Bias& b, int64_t n) { return b.data ? load_elem(b.data, b.dtype, n) : 0.0f; }

// Returns v unchanged but opaque to the optimizer, so `fp_barrier(a * b) + c`
// is two roundings everywhere: GCC and Clang otherwise fuse a * b + c into
// one fma where FMA is available, and may do so at one call site and not at
// another (the same output computed by two kernels must round the same).
static inline float fp_barrier(float v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+x"(v));
#elif defined(__GNUC__) && defined(__aarch64__)
  __asm__("" : "+w"(v));
#else
  volatile float t = v;
  v = t;
#endif
  return v;
}

// Checks what a CPU backend can run: dtype, scale kind and its fields.
Status check_weight(const Weight& w, const char* what);

// ---- activation quantization (emulate-GPU) ------------------------------------------
// Dynamic per-token scale: max(amax / 448, tiny), computed exactly like this.
static inline float act_scale_dynamic(float amax) {
  const float s = amax / ggf8::kE4M3Max;
  return s > kActScaleTiny ? s : kActScaleTiny;
}

// ---- RoPE --------------------------------------------------------------------------
// inv_freq[i], i < n_rot/2, with the scaling of p applied (HF semantics,
// computed in float like transformers does; YaRN's ramp bounds in double as
// Python computes them). The rope ops multiply cos and sin by p.attn_factor.
std::vector<float> rope_inv_freq(const RopeParams& p);

// ---- KV cache ------------------------------------------------------------------------
// Layout (both CPU backends): K and V each [n_layers][n_cells][n_kv_heads][head_dim]
// elements of `dtype`; FP8 stores k / k_scale[layer], or with token_scales
// k / s, s a BF16 scale per (cell, KV head) in K/V scale arrays
// [n_layers][n_cells][n_kv_heads] beside the rows (kernels/kv_scale.h). A
// latent (MLA) cache (p.mla_kv_lora > 0): only K, whose row is the latent [c ; k_pe].
class CpuKVCache final : public KvCacheBase {
 public:
  using Cell = KvCells::Cell;
  static Status create(const KVCacheParams& p, std::unique_ptr<KVCache>* out);

  const KVCacheParams& params() const override { return p_; }
  size_t bytes() const override {
    return (p_.mla_kv_lora ? 1 : 2) * (layer_bytes_ + ts_layer_bytes_) * p_.n_layers;
  }

  // For the CPU ops.
  const std::vector<Cell>& cells() const { return cells_.cells(); }
  int32_t hi() const { return cells_.hi(); }          // cells >= hi() are all free
  size_t row_elems() const { return static_cast<size_t>(p_.n_kv_heads) * p_.head_dim; }
  size_t row_bytes() const { return row_bytes_; }  // one cell's K (or V) row, all KV heads
  uint8_t* k_row(int32_t layer, int32_t cell) { return row(k_.get(), layer, cell); }
  uint8_t* v_row(int32_t layer, int32_t cell) { return row(v_.get(), layer, cell); }
  float k_scale(int32_t l) const { return p_.k_scale.empty() ? 1.0f : p_.k_scale[l]; }
  float v_scale(int32_t l) const { return p_.v_scale.empty() ? 1.0f : p_.v_scale[l]; }
  // token_scales: the BF16 scales (bits) of a cell's rows, [n_kv_heads] each.
  bool token_scales() const { return p_.token_scales; }
  uint16_t* k_ts(int32_t layer, int32_t cell) { return scales(k_ts_.get(), layer, cell); }
  uint16_t* v_ts(int32_t layer, int32_t cell) { return scales(v_ts_.get(), layer, cell); }
  // The multiplier that decodes head kvh of a cell's K (V) row: its scale
  // with token_scales, else the layer's scale (1 for 16/32-bit caches).
  float k_mul(int32_t layer, int32_t cell, int32_t kvh) {
    return p_.token_scales ? f8k::kvs::scale_value(k_ts(layer, cell)[kvh]) : k_scale(layer);
  }
  float v_mul(int32_t layer, int32_t cell, int32_t kvh) {
    return p_.token_scales ? f8k::kvs::scale_value(v_ts(layer, cell)[kvh]) : v_scale(layer);
  }
  // K centering (KVCacheParams::k_center): the row [n_kv_heads * head_dim]
  // subtracted from the K of a token at position pos, rope(k_center[layer],
  // 64 * (pos / 64)); null when centering is off or pos < kKvCenterFrom.
  // Rows exist for the positions kv_store has seen (ensure_centers).
  bool centered() const { return !p_.k_center.empty(); }
  const float* k_center_row(int32_t layer, int32_t pos) const {
    if (p_.k_center.empty() || pos < kKvCenterFrom || pos >= kKvCenterMaxPos) return nullptr;
    return centers_[size_t(layer)].data() + size_t(pos / kKvCenterBlock) * row_elems();
  }
  // Computes the rows of every block up to max_pos's (kv_store, before its
  // tokens are written, on the calling thread; readers only read them).
  void ensure_centers(int32_t max_pos);

 private:
  uint16_t* scales(Buffer* b, int32_t layer, int32_t cell) {
    return static_cast<uint16_t*>(b->data()) + (size_t(layer) * p_.n_cells + cell) * p_.n_kv_heads;
  }
  uint8_t* row(Buffer* b, int32_t layer, int32_t cell) {
    return static_cast<uint8_t*>(b->data()) + layer * layer_bytes_ + cell * row_bytes_;
  }

  KVCacheParams p_;
  size_t row_bytes_ = 0, layer_bytes_ = 0;
  size_t ts_layer_bytes_ = 0;  // token_scales: n_cells * n_kv_heads * 2
  std::unique_ptr<Buffer> k_, v_, k_ts_, v_ts_;
  // K centering: per layer the rotated mean of each block seen so far,
  // [blocks][n_kv_heads * head_dim] (4 bytes per 64 positions per K value:
  // 3% of the cache), and the layer's RoPE inverse frequencies.
  std::vector<std::vector<float>> centers_, center_inv_;
  int32_t center_blocks_ = 0;
};

// Stores one F32 row (n values) into a cache row of dtype dt, dividing by
// scale for FP8 (satfinite, RNE; bit-exact with ggf8::e4m3_from_f32(x / s)).
void store_row_scalar(const float* x, int64_t n, DType dt, float scale, uint8_t* dst);

// token_scales: stores a token's K or V row (n_kv_heads x head_dim values)
// as dt (E4M3, or I8: the INT8 cache), each head with its own BF16 scale
// (kernels/kv_scale.h) written to scales[n_kv_heads]; `encode` codes one
// head's values (x / scale), either store_row_scalar or a SIMD encoder
// bit-exact with it.
void store_row_token_scaled(const float* x, int32_t n_kv_heads, int32_t head_dim, DType dt, uint8_t* dst,
                            uint16_t* scales, void (*encode)(const float*, int64_t, DType, float, uint8_t*));

// kv_store of a token_scales cache (both CPU backends): T tokens' K and V
// rows [T][n_kv_heads * head_dim] into cells[T], each head with its own
// scale; with K centering, a token's K row minus its block's rotated mean
// (CpuKVCache::k_center_row; one F32 subtraction per value) is what is
// scaled and coded.
void store_token_scaled(CpuKVCache& c, int32_t layer, const float* k, const float* v, const int32_t* cells, int32_t T,
                        void (*encode)(const float*, int64_t, DType, float, uint8_t*));

}  // namespace f8backend::cpu
