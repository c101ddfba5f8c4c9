// cuda_moe.h — the mixture-of-experts part of the CUDA stream
// (Stream::moe_route, moe_ffn, sigmoid_scale_rows): the MoE scratch and the
// kernel sequence of one MoE layer (kernels/moe.cuh; data flow in
// kernels/moe_math.h and docs/cuda.md "Mixture of experts"). Host code.
//
// Scratch (device, allocated once: its pointers are baked into recorded
// CUDA graphs, so it is never reallocated): sized at stream creation from
// StreamParams::moe_* and max_tokens, or, when those are 0, at the first
// moe_ffn call outside a graph recording from that call's shapes with
// T = max_tokens. A later call beyond the sizes fails (sticky stream error).
#pragma once

#include <cuda_runtime.h>

#include <memory>

#include "backend/backend.h"
#include "backend/cuda/cuda_util.h"
#include "kernels/moe.cuh"

namespace f8backend::cuda {

// The device view of an uploaded stack (matrix 0 + strides).
f8k::DevStack dev_stack(const Weight& w);

class CudaMoe {
 public:
  CudaMoe(int device, const StreamParams& p) : device_(device), p_(p) {}
  // Allocates the scratch when p's moe_* fields are set.
  Status init();

  Status route(const float* logits, int32_t T, const MoeRoute& r, int32_t* ids, float* w, cudaStream_t s);
  // `capturing`: inside a CUDA graph recording (no allocation possible).
  Status ffn(const float* x, int32_t T, const MoeExperts& e, const int32_t* ids, const float* w, int32_t k, float* y,
             cudaStream_t s, bool capturing);
  Status sigmoid_scale_rows(float* x, const float* g, int32_t T, int32_t dim, cudaStream_t s);

 private:
  Status alloc(int32_t k, int32_t E, int64_t F, int64_t H);

  int device_;
  StreamParams p_;
  bool ready_ = false;
  int64_t cap_p_ = 0;              // pairs: max_tokens * k
  int32_t cap_e_ = 0;
  int64_t cap_f_ = 0, cap_h_ = 0;
  int64_t ldx_h_ = 0, ldx_f_ = 0;  // E4M3 row strides of x and A (multiples of 64)
  std::unique_ptr<DeviceBuffer> ints_;   // offsets | order | slot_of | tile_e | tile_s0 | n_tiles
  std::unique_ptr<DeviceBuffer> xq_;     // [max_tokens, ldx_h] E4M3 + [max_tokens] F32 scales
  std::unique_ptr<DeviceBuffer> act_;    // A [P, F] F32
  std::unique_ptr<DeviceBuffer> aq_;     // [P, ldx_f] E4M3 + [P] F32 scales
  std::unique_ptr<DeviceBuffer> out_;    // O [P, H] F32
  f8k::MoeGroup g_;
};

}  // namespace f8backend::cuda
