// kernels/types.h — plain structs the CUDA kernels and the host backend
// (src/backend/cuda) share. No CUDA header here: host C++ code includes it.
// All pointers in these structs are DEVICE pointers unless a field says so.
#pragma once

#include <cstddef>
#include <cstdint>

namespace f8k {

// Element types as the kernels see them (values match no file format; the
// host backend maps ggf8::DType to these).
enum class Elem : int32_t { F32 = 0, F16 = 1, BF16 = 2, E4M3 = 3, E5M2 = 4 };

// How a weight's dequantization multiplier is laid out (FP32 multipliers).
enum class Scale : int32_t {
  None = 0,     // multiplier 1
  Tensor = 1,   // scale[0]
  Channel = 2,  // scale[n], one per output row
  Block = 3,    // scale[(n / block_rows) * scale_cols + k / block_cols]
};

// A weight matrix W[N, K] in device memory, row-major with a row stride.
// Invariants the host backend guarantees at upload:
//   - FP8 (E4M3/E5M2) weights: `stride` is a multiple of 64 elements (bytes)
//     and bytes [K, stride) of every row are zero, so the MMA kernel reads
//     whole 64-byte k-chunks with no bounds check; `data` is 256-byte aligned.
//   - F32/F16/BF16 weights: `stride` * elem size is a multiple of 16 bytes,
//     pad elements are zero.
//   - Block scales: block_rows % 16 == 0 and block_cols % 64 == 0 (the host
//     refuses other block shapes for the CUDA backend).
struct DevWeight {
  const void* data = nullptr;
  Elem type = Elem::F32;
  int64_t rows = 0;     // N (output features)
  int64_t cols = 0;     // K (input features)
  int64_t stride = 0;   // elements between consecutive rows (>= cols)
  Scale scale_mode = Scale::None;
  const float* scale = nullptr;  // see Scale; device memory
  int32_t block_rows = 0, block_cols = 0;
  int64_t scale_cols = 0;        // Block only: row stride of `scale`
};

// Activation quantization scratch: E4M3 copies of x rows plus one FP32
// dequantization multiplier per token (xq[t,k] * sx[t] ~ x[t,k]).
//   xq: [T, ldx] bytes, ldx a multiple of 64, bytes [K, ldx) zero.
struct DevActQ {
  uint8_t* xq = nullptr;
  float* sx = nullptr;   // [T]
  int64_t ldx = 0;
};

// The KV cache as the attention kernels see it. Layout (same as the CPU
// backends): K and V each [n_layers][n_cells][n_kv_heads][head_dim]
// elements of `type`; FP8 stores value / scale (satfinite, RNE).
// Cell metadata mirrors the host bookkeeping (uploaded before each step):
//   cell_pos[c]  position of the token in cell c (-1: free)
//   cell_seqs[c] bit s set: sequence s sees cell c (0: free)
//   hi[0]        cells >= hi[0] are all free (attention scans [0, hi))
// Query token (seq s, pos p) sees cell c iff bit s of cell_seqs[c] is set
// and cell_pos[c] <= p.
// Pages (backend/kv_cells.h): cells [64 p, 64 p + 64) form page p. The page
// table of sequence s is list_pages[list_off[s] .. list_off[s + 1]) (page
// ids ascending); page_pos_min/max[p] bound the positions of page p's used
// cells (min > max: empty). Attention walks a token's sequence's pages only.
constexpr int kKvPage = 64;
constexpr int kKvMaxSeq = 64;
struct DevKv {
  uint8_t* k = nullptr;
  uint8_t* v = nullptr;
  Elem type = Elem::E4M3;
  int32_t n_layers = 0, n_cells = 0, n_kv_heads = 0, head_dim = 0;
  const int32_t* cell_pos = nullptr;
  const unsigned long long* cell_seqs = nullptr;
  const int32_t* hi = nullptr;
  const float* k_scale = nullptr;  // [n_layers] multipliers (1.0 for non-FP8)
  const float* v_scale = nullptr;  // [n_layers]
  // Per-token scales (KVCacheParams::token_scales; null otherwise): the
  // BF16 scale s (bits) of each (layer, cell, kv head) row, K and V each
  // [n_layers][n_cells][n_kv_heads] uint16; the row decodes as code * s
  // (exact; kernels/kv_scale.h) and k_scale / v_scale are then 1.
  uint16_t* k_ts = nullptr;
  uint16_t* v_ts = nullptr;
  int32_t n_pages = 0;             // ceil(n_cells / kKvPage)
  const int32_t* list_off = nullptr;    // [kKvMaxSeq + 1]
  const int32_t* list_pages = nullptr;  // [list_off[kKvMaxSeq]] (capacity n_pages * kKvMaxSeq)
  const int32_t* page_pos_min = nullptr;  // [n_pages]
  const int32_t* page_pos_max = nullptr;  // [n_pages]
  // Position order (KVCacheParams::position_lists; null otherwise): the cells
  // sequence s sees, ascending by position, are order_cells[s * n_cells + i]
  // for i < order_len[s] (KvCells::seq_cells). The deterministic attention
  // walks them (kernels/attn_det.h).
  const int32_t* order_len = nullptr;    // [kKvMaxSeq]
  const int32_t* order_cells = nullptr;  // [kKvMaxSeq * n_cells]
};

// One layer of the KV cache as the attention kernels read it (attention.cu,
// fmha_fp8.cu): DevKv's pointers advanced to the layer. Device pointers.
struct KvLayer {
  const uint8_t* k = nullptr;   // [n_cells][n_kv_heads][head_dim] elements of the cache type
  const uint8_t* v = nullptr;
  const int32_t* cell_pos = nullptr;
  const unsigned long long* cell_seqs = nullptr;
  const int32_t* list_off = nullptr;
  const int32_t* list_pages = nullptr;
  const int32_t* page_pos_min = nullptr;
  const int32_t* page_pos_max = nullptr;
  const int32_t* order_len = nullptr;    // DevKv::order_len (may be null)
  const int32_t* order_cells = nullptr;  // DevKv::order_cells
  const float* k_scale = nullptr;  // &DevKv::k_scale[layer]
  const float* v_scale = nullptr;
  const uint16_t* k_ts = nullptr;  // [n_cells][n_kv_heads] of the layer, or null (DevKv::k_ts)
  const uint16_t* v_ts = nullptr;
  int32_t n_cells = 0, n_kv_heads = 0, head_dim = 0;
};
// elem_bytes: bytes per element of kv.type; layer bytes = n_cells * n_kv_heads * head_dim * elem_bytes.
inline KvLayer kv_layer(const DevKv& kv, int32_t layer, size_t elem_bytes) {
  const size_t layer_bytes = static_cast<size_t>(kv.n_cells) * kv.n_kv_heads * kv.head_dim * elem_bytes;
  KvLayer l;
  l.k = kv.k + layer * layer_bytes;
  l.v = kv.v + layer * layer_bytes;
  l.cell_pos = kv.cell_pos;
  l.cell_seqs = kv.cell_seqs;
  l.list_off = kv.list_off;
  l.list_pages = kv.list_pages;
  l.page_pos_min = kv.page_pos_min;
  l.page_pos_max = kv.page_pos_max;
  l.order_len = kv.order_len;
  l.order_cells = kv.order_cells;
  l.k_scale = kv.k_scale + layer;
  l.v_scale = kv.v_scale + layer;
  const size_t ts_layer = static_cast<size_t>(kv.n_cells) * kv.n_kv_heads;
  l.k_ts = kv.k_ts ? kv.k_ts + layer * ts_layer : nullptr;
  l.v_ts = kv.v_ts ? kv.v_ts + layer * ts_layer : nullptr;
  l.n_cells = kv.n_cells;
  l.n_kv_heads = kv.n_kv_heads;
  l.head_dim = kv.head_dim;
  return l;
}

// The query side of an attention call, as both attention kernels read it.
struct AttnQuery {
  const float* q = nullptr;      // [T, n_heads * head_dim]
  const int32_t* seq = nullptr;  // [T] sequence of each query token
  const int32_t* pos = nullptr;  // [T] its position
  int32_t n_heads = 0;
  int32_t group = 1;             // query heads per KV head (GQA): head h reads kv head h / group
  float scale = 0.0f;            // softmax scale
  int32_t window = 0;            // sliding window (0 = none), see attn::visible
  float softcap = 0.0f;          // logit soft-capping (0 = none), see attn::softcap_log2
  const float* sinks = nullptr;  // [n_heads] per-head sink logits (gpt-oss), see attn::fold_sink; null = none
};
inline AttnQuery attn_query(const float* q, const int32_t* seq, const int32_t* pos, int32_t n_heads,
                            int32_t n_kv_heads, float scale, int32_t window, float softcap,
                            const float* sinks = nullptr) {
  AttnQuery a;
  a.q = q;
  a.seq = seq;
  a.pos = pos;
  a.n_heads = n_heads;
  a.group = n_heads / n_kv_heads;
  a.scale = scale;
  a.window = window;
  a.softcap = softcap;
  a.sinks = sinks;
  return a;
}

// RoPE frequencies, computed on the host exactly as the CPU backends do
// (cpu::rope_inv_freq) and passed BY VALUE so a CUDA graph captures them.
constexpr int kMaxRopeHalf = 256;  // head_dim <= 512
struct RopeTable {
  int32_t head_dim = 0;   // dims per head
  int32_t half = 0;       // n_rot / 2: pairs (i, i + half), i < half
  float attn_factor = 1.0f;  // cos and sin x this (YaRN's mscale; 1 otherwise)
  float inv_freq[kMaxRopeHalf];
};

}  // namespace f8k
