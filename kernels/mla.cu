// kernels/mla.cu — multi-head latent attention (DeepSeek-V3) on the GPU:
// the latent cache write and the absorbed form (launchers in kernels/mla.cuh,
// the pieces in kernels/mla_math.h; CPU oracle: ref_mla_attention in
// src/backend/cpu/mla_ref.cpp; replayed by tests/backend/
// test_cuda_mla_replay.cpp).
//
// mla_kv_store_kernel: grid T, block 256: token t's R + P values encoded into
//   its cell's latent row (c / k_scale, k_pe / v_scale for FP8).
// mla_qabsorb_kernel: grid (T H), block 128: thread j (strided by 128) of
//   (t, h): q_lat[j] = fmaf chain over i = 0..N-1 ascending of
//   q_nope[i] * W_UK[h][i, j] (weight element decoded x its scale). Reads
//   W_UK[h] once per (t, h) block (coalesced along j; L2 serves the T blocks
//   of one head).
// mla_attn_kernel: grid (T H), block kThreads (4 warps), one (token, head)
//   per block: [q_lat ; q_pe] in shared memory; the token's cells through
//   its sequence's position-ordered list (order_cells), in runs of one
//   position block (pos / 64, <= 64 cells); per run from nothing:
//     score of cell j (warp j % 4): lane l sums i = l, l + 32, ... < R + P
//       ascending (fmaf of qa[i] and the dequantized latent element), then
//       the xor butterfly 16, 8, 4, 2, 1; s2 = d * (scale log2 e);
//     thread 0: mb = max s2, p_j = 2^(s2_j - mb), lb = sum p_j in list order;
//     thread d (strided by 128) of R: accb[d] = fmaf chain over j ascending
//       of p_j * c_j[d];
//     the fold into (m, l, acc) (mla::fold_coeffs): first run as it is, then
//       l = l a + lb b, acc = acc a + accb b (every thread holds m, l alike);
//   o_lat[d] = acc[d] / l (zeros when the token sees no cell).
// mla_out_kernel: grid (T H), block 128: warp w takes outputs o = w, w + 4,
//   ... < V: lane l sums j = l, l + 32, ... < R (fmaf of o_lat[j] and
//   W_UV[h][o, j]), then the xor butterfly.
// No split of the context, no dependence on T or the layout: the orders
// are those above whatever the launch (docs/cuda.md "Multi-head latent
// attention"). Unmeasured on a GPU: no GPU was available when this was
// written; the speed is not tuned (one block per (token, head) reads every
// latent row of the token's context: H reads per row per token, from L2).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "ggf8/fp8.h"
#include "kernels/mla.cuh"

namespace f8k {
namespace {

constexpr unsigned kAll = 0xFFFFFFFFu;

__device__ __forceinline__ uint32_t encode(float x, float s, Elem t) {
  switch (t) {
    case Elem::E4M3: return ggf8::e4m3_from_f32(__fdiv_rn(x, s));
    case Elem::E5M2: return ggf8::e5m2_from_f32(__fdiv_rn(x, s));
    case Elem::F16: {
      const uint32_t u = __float_as_uint(x);
      if ((u & 0x7FFFFFFFu) > 0x7F800000u) return ((u >> 16) & 0x8000u) | 0x7E00u;
      return __half_as_ushort(__float2half_rn(x));
    }
    case Elem::BF16: {
      uint32_t u = __float_as_uint(x);
      if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (u >> 16) | 0x40u;
      u += 0x7FFFu + ((u >> 16) & 1u);
      return u >> 16;
    }
    default: return __float_as_uint(x);
  }
}

__global__ void mla_kv_store_kernel(DevKv kv, int32_t layer, const float* __restrict__ c,
                                    const float* __restrict__ kpe, const int32_t* __restrict__ cells, int32_t R) {
  const int32_t t = blockIdx.x, W = kv.head_dim, P = W - R;
  const int32_t cell = cells[t];
  if (cell < 0 || cell >= kv.n_cells) return;
  uint8_t* row = const_cast<uint8_t*>(mla::latent_row(kv, layer, cell));
  const float ks = kv.k_scale[layer], vs = kv.v_scale[layer];
  for (int32_t i = threadIdx.x; i < W; i += blockDim.x) {
    const float x = i < R ? c[int64_t(t) * R + i] : kpe[int64_t(t) * P + (i - R)];
    const uint32_t b = encode(x, i < R ? ks : vs, kv.type);
    switch (mla::elem_bytes(kv.type)) {
      case 1: row[i] = uint8_t(b); break;
      case 2: reinterpret_cast<uint16_t*>(row)[i] = uint16_t(b); break;
      default: reinterpret_cast<uint32_t*>(row)[i] = b; break;
    }
  }
}

__global__ void mla_qabsorb_kernel(const float* __restrict__ q, DevWeight kv_b, mla::Shape sh,
                                   float* __restrict__ qlat) {
  const int64_t th = blockIdx.x;  // t H + h
  const int32_t h = int32_t(th % sh.H), QD = sh.N + sh.P;
  const float* qn = q + th * QD;
  for (int32_t j = threadIdx.x; j < sh.R; j += blockDim.x) {
    float a = 0.0f;
    for (int32_t i = 0; i < sh.N; ++i) a = fmaf(qn[i], mla::weight_at(kv_b, mla::uk_row(h, sh.N, sh.V, i), j), a);
    qlat[th * sh.R + j] = a;
  }
}

__device__ __forceinline__ float butterfly(float d) {
  for (int off = 16; off > 0; off >>= 1) d = __fadd_rn(d, __shfl_xor_sync(kAll, d, off));
  return d;
}

__global__ void __launch_bounds__(mla::kThreads)
    mla_attn_kernel(DevKv kv, int32_t layer, const float* __restrict__ q, const float* __restrict__ qlat,
                    const int32_t* __restrict__ seq, const int32_t* __restrict__ pos, mla::Shape sh, float sc2,
                    float* __restrict__ olat) {
  extern __shared__ float smem[];
  const int32_t R = sh.R, P = sh.P, W = R + P, QD = sh.N + P;
  float* qa = smem;                  // [W]: q_lat ; q_pe
  float* acc = qa + W;               // [R]: the running acc (thread d owns d, d + 128, ...)
  float* pr = acc + R;               // [kBlock]: the run's scores, then p_j
  float* red = pr + mla::kBlock;     // [2]: mb, lb
  int32_t* rc = reinterpret_cast<int32_t*>(red + 2);  // [kBlock]: the run's cells
  const int64_t th = blockIdx.x;
  const int32_t t = int32_t(th / sh.H), tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  for (int32_t i = tid; i < W; i += blockDim.x) qa[i] = i < R ? qlat[th * R + i] : q[th * QD + sh.N + (i - R)];
  const int32_t s = seq[t], p = pos[t];
  const bool ok = s >= 0 && s < kKvMaxSeq;
  const int32_t* order = kv.order_cells + (ok ? int64_t(s) * kv.n_cells : 0);
  auto pos_at = [&](int32_t i) { return kv.cell_pos[order[i]]; };
  const int32_t e1 = ok ? mla::visible_end(kv.order_len[s], p, pos_at) : 0;
  const float ks = kv.k_scale[layer], vs = kv.v_scale[layer];
  float m = attn::neg_inf(), l = 0.0f;
  bool first = true;
  __syncthreads();
  for (int32_t e = 0; e < e1;) {
    const int32_t f = mla::run_end(e, e1, pos_at), nv = f - e;
    if (tid < nv) rc[tid] = order[e + tid];
    __syncthreads();
    for (int32_t j = warp; j < nv; j += mla::kWarps) {
      const uint8_t* row = mla::latent_row(kv, layer, rc[j]);
      float d = 0.0f;
      for (int32_t i = lane; i < W; i += 32) d = fmaf(qa[i], mla::latent_at(row, kv.type, i, R, ks, vs), d);
      d = butterfly(d);
      if (lane == 0) pr[j] = d * sc2;
    }
    __syncthreads();
    if (tid == 0) {
      float mb = pr[0];
      for (int32_t j = 1; j < nv; ++j) mb = fmaxf(mb, pr[j]);
      float lb = 0.0f;
      for (int32_t j = 0; j < nv; ++j) {
        pr[j] = attn::fexp2(pr[j] - mb);
        lb += pr[j];
      }
      red[0] = mb;
      red[1] = lb;
    }
    __syncthreads();
    const float mb = red[0], lb = red[1];
    float M = mb, ca = 0.0f, cb = 1.0f;
    if (!first) mla::fold_coeffs(m, mb, &M, &ca, &cb);
    for (int32_t d = tid; d < R; d += blockDim.x) {
      float ab = 0.0f;
      for (int32_t j = 0; j < nv; ++j)
        ab = fmaf(pr[j], mla::latent_at(mla::latent_row(kv, layer, rc[j]), kv.type, d, R, ks, vs), ab);
      acc[d] = first ? ab : __fadd_rn(__fmul_rn(acc[d], ca), __fmul_rn(ab, cb));
    }
    l = first ? lb : __fadd_rn(__fmul_rn(l, ca), __fmul_rn(lb, cb));
    m = M;
    first = false;
    e = f;
    __syncthreads();  // pr, red and rc are rewritten by the next run
  }
  for (int32_t d = tid; d < R; d += blockDim.x) olat[th * R + d] = first ? 0.0f : __fdiv_rn(acc[d], l);
}

__global__ void mla_out_kernel(const float* __restrict__ olat, DevWeight kv_b, mla::Shape sh,
                               float* __restrict__ out) {
  const int64_t th = blockIdx.x;
  const int32_t h = int32_t(th % sh.H), lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float* o = olat + th * sh.R;
  for (int32_t v = warp; v < sh.V; v += int32_t(blockDim.x >> 5)) {
    const int64_t n = mla::uv_row(h, sh.N, sh.V, v);
    float d = 0.0f;
    for (int32_t j = lane; j < sh.R; j += 32) d = fmaf(o[j], mla::weight_at(kv_b, n, j), d);
    d = butterfly(d);
    if (lane == 0) out[th * sh.V + v] = d;
  }
}

}  // namespace

int mla_kv_store(const DevKv& kv, int32_t layer, const float* c, const float* kpe, const int32_t* cells,
                 int32_t T, int32_t R, void* stream) {
  if (T <= 0) return int(cudaSuccess);
  if (kv.n_kv_heads != 1 || R <= 0 || R >= kv.head_dim || layer < 0 || layer >= kv.n_layers)
    return int(cudaErrorInvalidValue);
  mla_kv_store_kernel<<<T, 256, 0, static_cast<cudaStream_t>(stream)>>>(kv, layer, c, kpe, cells, R);
  return int(cudaGetLastError());
}

int mla_attention(const DevKv& kv, int32_t layer, const float* q, const DevWeight& kv_b, int32_t T,
                  const int32_t* seq, const int32_t* pos, const mla::Shape& sh, float scale, float* qlat,
                  float* olat, float* out, void* stream) {
  if (T <= 0) return int(cudaSuccess);
  if (!kv.order_cells || !kv.order_len || kv.n_kv_heads != 1 || kv.head_dim != sh.R + sh.P || sh.H <= 0 ||
      kv_b.rows != int64_t(sh.H) * (sh.N + sh.V) || kv_b.cols != sh.R || layer < 0 || layer >= kv.n_layers)
    return int(cudaErrorInvalidValue);
  const int64_t blocks = int64_t(T) * sh.H;
  if (blocks > 0x7FFFFFFF) return int(cudaErrorInvalidValue);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  mla_qabsorb_kernel<<<unsigned(blocks), 128, 0, s>>>(q, kv_b, sh, qlat);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return int(e);
  const size_t shm = size_t(sh.R + sh.P + sh.R + mla::kBlock + 2) * 4 + size_t(mla::kBlock) * 4;
  const float sc2 = scale * attn::kLog2e;
  mla_attn_kernel<<<unsigned(blocks), mla::kThreads, shm, s>>>(kv, layer, q, qlat, seq, pos, sh, sc2, olat);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return int(e);
  mla_out_kernel<<<unsigned(blocks), 128, 0, s>>>(olat, kv_b, sh, out);
  return int(cudaGetLastError());
}

}  // namespace f8k
