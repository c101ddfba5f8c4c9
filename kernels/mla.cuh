// kernels/mla.cuh — host-callable launchers of the multi-head latent
// attention kernels (kernels/mla.cu; the math in kernels/mla_math.h).
// DEVICE pointers; each returns the cudaError_t of its launches as an int;
// no sync.
#pragma once

#include "kernels/mla_math.h"
#include "kernels/types.h"

namespace f8k {

// Writes the latent rows of T tokens into cells[t] of `layer`: [c (R) ;
// kpe (P)], FP8 as satfinite(rne(c / k_scale[layer])) and
// satfinite(rne(kpe / v_scale[layer])) (bit-exact with the CPU's
// store_row_scalar), F16/BF16 by RNE, F32 copied. c [T, R], kpe [T, P] F32.
// kv: a latent cache (n_kv_heads 1, head_dim R + P).
int mla_kv_store(const DevKv& kv, int32_t layer, const float* c, const float* kpe, const int32_t* cells,
                 int32_t T, int32_t R, void* stream);

// The absorbed form for T query tokens (backend.h "multi-head latent
// attention"), in three launches:
//   q_lat[t, h] = W_UK[h]^T q_nope[t, h]              (qlat [T, H, R])
//   o_lat[t, h] = softmax over the token's cells of (q_lat . c + q_pe . k_pe)
//                 * scale, times c                     (olat [T, H, R])
//   out[t, h]   = W_UV[h] o_lat[t, h]                  (out [T, H, V])
// reading only the latent rows of the cache (kv.order_cells required: a
// cache made with position_lists; else cudaErrorInvalidValue). Every sum in
// an order fixed by the shapes and the token's positions (mla_math.h), so a
// token's output does not depend on T, the other tokens or the pool layout.
int mla_attention(const DevKv& kv, int32_t layer, const float* q, const DevWeight& kv_b, int32_t T,
                  const int32_t* seq, const int32_t* pos, const mla::Shape& sh, float scale, float* qlat,
                  float* olat, float* out, void* stream);

}  // namespace f8k
