// kernels/attention.cuh — host-callable launchers for the KV cache write
// (kv_store.cu) and decode/prefill attention (attention.cu). DEVICE
// pointers; each returns the cudaError_t of its launch as an int; no sync.
#pragma once

#include "kernels/types.h"

namespace f8k {

// Writes K and V of T tokens into cells[t] of `layer`:
// stored = satfinite(rne(value / scale[layer])) for FP8 (bit-exact with
// ggf8::e4m3_from_f32(x / s)), RNE conversion for F16/BF16, copy for F32.
// k, v: [T, n_kv_heads * head_dim] F32.
int kv_store(const DevKv& kv, int32_t layer, const float* k, const float* v, const int32_t* cells,
             int32_t T, void* stream);

// Number of context splits attention() uses for T query tokens and n_heads
// heads on a GPU with n_sm multiprocessors (a pure function of its
// arguments, so a CUDA graph captured for T stays valid).
int32_t attention_splits(int32_t T, int32_t n_heads, int32_t n_sm);
// Floats of workspace attention() needs for that many splits.
size_t attention_workspace_floats(int32_t T, int32_t n_heads, int32_t head_dim, int32_t n_splits);

// out[T, n_heads*head_dim] = softmax(q . K^T * scale) . V over the cells each
// token sees (DevKv); FP32 math, FP8 K/V dequantized on load; GQA: head h
// reads kv head h / (n_heads / n_kv_heads); a token that sees no cell gets
// zeros. Each token's page list (DevKv) is split into n_splits ranges whose partial
// (max, sum, acc[head_dim]) go to `work` and are merged by log-sum-exp.
// seq, pos: device int32[T]. window > 0: sliding window (a token at pos p
// sees cells with p - window < cell pos <= p); 0 = none. softcap > 0: each
// score s = q.k * scale becomes softcap * tanh(s / softcap) (Gemma 2).
// sinks: device float[n_heads] per-head sink logits joining the softmax
// denominator (gpt-oss, attn::fold_sink); null = none.
int attention(const DevKv& kv, int32_t layer, const float* q, int32_t T, const int32_t* seq,
              const int32_t* pos, int32_t n_heads, float scale, int32_t n_splits, float* work,
              float* out, void* stream, int32_t window = 0, float softcap = 0.0f,
              const float* sinks = nullptr);

// The same attention, batch-invariant (kernels/attn_det.h has the order of
// every sum): one thread block per (token, head), the token's visible cells
// walked through its sequence's position-ordered list (kv.order_cells: a
// cache with position lists, else cudaErrorInvalidValue), position blocks of
// 64 computed by the warps and folded in block order. No workspace, no split
// of the context: slower than attention() when few (token, head) pairs must
// cover a long context (unmeasured).
int attention_det(const DevKv& kv, int32_t layer, const float* q, int32_t T, const int32_t* seq,
                  const int32_t* pos, int32_t n_heads, float scale, float* out, void* stream,
                  int32_t window = 0, float softcap = 0.0f);

}  // namespace f8k
