// cuda_moe.cpp — see cuda_moe.h. One moe_ffn call enqueues, with P = T k:
//   moe_group       ids -> offsets, order, slot_of, tile list (one block)
//   quantize_act    x [T, H] -> E4M3 per token            (FP8 gate/up)
//   moe_gemm_fp8    gate+up of every routed expert -> A [P, F] (activation fused)
//   quantize_act    A -> E4M3 per slot                    (FP8 down)
//   moe_gemm_fp8    down -> O [P, H] (+ down bias)
//   moe_combine     y [T, H] = sum of w O in ascending expert id
// (16-bit stacks take moe_gemm_wonly on FP32 rows instead of the quantize +
// FP8 pair). Nothing here reads device memory on the host or allocates after
// the first call, so the sequence records into a CUDA graph.
#include "backend/cuda/cuda_moe.h"

#include <algorithm>
#include <string>

#include "backend/cuda/cuda_backend.h"
#include "backend/moe_route.h"
#include "kernels/gemm.cuh"
#include "kernels/moe_math.h"

namespace f8backend::cuda {

namespace {

bool is_fp8(DType d) { return d == DType::E4M3 || d == DType::E5M2; }

Status launch_status(int rc, const char* what) {
  if (rc == 0) return Status::Ok();
  cudaGetLastError();
  return cuda_status(cudaError_t(rc), what);
}

std::string shape(const Weight& w) {
  return std::to_string(w.n_mats) + "x" + std::to_string(w.rows) + "x" + std::to_string(w.cols);
}

}  // namespace

f8k::DevStack dev_stack(const Weight& w) {
  f8k::DevStack d;
  d.w = dev_weight(w);
  d.n_mats = w.n_mats;
  d.mat_stride = w.mat_stride;
  d.mat_scale_stride = w.mat_scale_stride;
  return d;
}

Status CudaMoe::init() {
  if (p_.moe_k > 0 && p_.moe_experts > 0 && p_.moe_ff > 0 && p_.moe_hidden > 0)
    return alloc(p_.moe_k, p_.moe_experts, p_.moe_ff, p_.moe_hidden);
  return Status::Ok();
}

Status CudaMoe::alloc(int32_t k, int32_t E, int64_t F, int64_t H) {
  const int64_t T = std::max<int32_t>(p_.max_tokens, 1);
  cap_p_ = T * k;
  cap_e_ = E;
  cap_f_ = F;
  cap_h_ = H;
  ldx_h_ = static_cast<int64_t>(round_up(size_t(H), 64));
  ldx_f_ = static_cast<int64_t>(round_up(size_t(F), 64));
  // The largest tile list is the one with 8-slot tiles.
  const int64_t tiles = f8k::moe::max_tiles(int32_t(cap_p_), E, 8);
  const int64_t n_ints = (E + 1) + 2 * cap_p_ + 2 * tiles + 1;
  auto mk = [&](size_t bytes, std::unique_ptr<DeviceBuffer>* b) {
    return DeviceBuffer::create(device_, std::max<size_t>(bytes, 256), b);
  };
  Status s;
  if (!(s = mk(size_t(n_ints) * 4, &ints_)).ok()) return s;
  if (!(s = mk(size_t(T * ldx_h_) + size_t(T) * 4 + 256, &xq_)).ok()) return s;
  if (!(s = mk(size_t(cap_p_ * F) * 4, &act_)).ok()) return s;
  if (!(s = mk(size_t(cap_p_ * ldx_f_) + size_t(cap_p_) * 4 + 256, &aq_)).ok()) return s;
  if (!(s = mk(size_t(cap_p_ * H) * 4, &out_)).ok()) return s;
  int32_t* p = ints_->i32();
  g_.offsets = p;
  g_.order = g_.offsets + E + 1;
  g_.slot_of = g_.order + cap_p_;
  g_.tile_e = g_.slot_of + cap_p_;
  g_.tile_s0 = g_.tile_e + tiles;
  g_.n_tiles = g_.tile_s0 + tiles;
  ready_ = true;
  return Status::Ok();
}

Status CudaMoe::route(const float* logits, int32_t T, const MoeRoute& r, int32_t* ids, float* w, cudaStream_t s) {
  if (Status st = check_moe_route(r); !st.ok()) return st;
  if (r.n_expert > f8k::moe::kMaxExperts)
    return Status::Error(Code::Unsupported, "moe_route: " + std::to_string(r.n_expert) +
                                                " experts; the CUDA kernels take at most " +
                                                std::to_string(f8k::moe::kMaxExperts));
  const int32_t gating = r.gating == MoeGating::TopKSoftmax ? f8k::moe::kTopKSoftmax : f8k::moe::kSoftmaxTopK;
  return launch_status(f8k::moe_route(logits, T, r.n_expert, r.k, gating, r.norm_topk, ids, w, s), "moe_route");
}

Status CudaMoe::sigmoid_scale_rows(float* x, const float* g, int32_t T, int32_t dim, cudaStream_t s) {
  return launch_status(f8k::sigmoid_scale_rows(x, g, T, dim, s), "sigmoid_scale_rows");
}

Status CudaMoe::ffn(const float* x, int32_t T, const MoeExperts& e, const int32_t* ids, const float* w, int32_t k,
                    float* y, cudaStream_t s, bool capturing) {
  const Weight &gate = e.gate, &up = e.up, &down = e.down;
  const int32_t E = gate.n_mats;
  const int64_t F = gate.rows, H = gate.cols;
  if (T == 0) return Status::Ok();
  if (T < 0 || T > p_.max_tokens)
    return Status::Error(Code::InvalidArgument, "moe_ffn: " + std::to_string(T) + " tokens; the stream takes at most " +
                                                    std::to_string(p_.max_tokens));
  if (up.n_mats != E || up.rows != F || up.cols != H || down.n_mats != E || down.rows != H || down.cols != F ||
      !gate.data || !up.data || !down.data)
    return Status::Error(Code::InvalidArgument, "moe_ffn: expert stacks gate " + shape(gate) + ", up " + shape(up) +
                                                    ", down " + shape(down) + " do not fit together");
  if (k < 1 || k > E || k > f8k::moe::kMaxK || E > f8k::moe::kMaxExperts)
    return Status::Error(Code::InvalidArgument, "moe_ffn: k = " + std::to_string(k) + " of " + std::to_string(E) +
                                                    " experts (CUDA: k <= 32, experts <= 1024)");
  if (gate.dtype != up.dtype || gate.scale_kind != up.scale_kind)
    return Status::Error(Code::Unsupported, "moe_ffn: gate (" + std::string(ggf8::dtype_name(gate.dtype)) +
                                                ") and up (" + ggf8::dtype_name(up.dtype) +
                                                ") stacks differ in dtype or scale kind; the CUDA kernel runs them "
                                                "together");
  for (const Bias* b : {&e.gate_b, &e.up_b, &e.down_b})
    if (b->data && b->dtype != DType::F32)
      return Status::Error(Code::InvalidArgument, "moe_ffn: per-expert biases must be uploaded to the device "
                                                  "(F32 there; see Backend::upload of a [E][1, N] stack)");
  if (!ready_) {
    if (capturing)
      return Status::Error(Code::InvalidArgument, "moe_ffn: no MoE scratch (StreamParams::moe_* unset) and a CUDA "
                                                  "graph is being recorded, which cannot allocate");
    if (Status st = alloc(k, E, F, H); !st.ok()) return st;
  }
  const int64_t P = int64_t(T) * k;
  if (P > cap_p_ || E > cap_e_ || F > cap_f_ || H > cap_h_)
    return Status::Error(Code::InvalidArgument,
                         "moe_ffn: T " + std::to_string(T) + " x k " + std::to_string(k) + ", " + std::to_string(E) +
                             " experts " + std::to_string(F) + "x" + std::to_string(H) +
                             " exceed the stream's MoE scratch (" + std::to_string(cap_p_) + " pairs, " +
                             std::to_string(cap_e_) + " experts " + std::to_string(cap_f_) + "x" +
                             std::to_string(cap_h_) + ")");

  const bool fp8_gu = is_fp8(gate.dtype), fp8_dn = is_fp8(down.dtype);
  // Slots per tile: FP8 kernels by the average slots per routed expert;
  // a weight-only kernel in the layer takes 8 (the tile list is shared).
  const int tiles = fp8_gu && fp8_dn ? f8k::moe::tiles_for_pairs(int32_t(P), E) : 1;
  if (Status st = launch_status(f8k::moe_group(ids, int32_t(P), E, 8 * tiles, g_, s), "moe_group"); !st.ok()) return st;

  float* A = act_->f32();
  float* O = out_->f32();
  const int32_t act = e.act == MoeAct::SwiGLUOss ? f8k::moe::kSwiGLUOss : f8k::moe::kSwiGLU;
  f8k::MoeGemm gu;
  gu.gathered = true;
  gu.k = k;
  gu.w0 = dev_stack(gate);
  gu.w1 = dev_stack(up);
  gu.b0 = static_cast<const float*>(e.gate_b.data);
  gu.b1 = static_cast<const float*>(e.up_b.data);
  gu.bias_stride = e.fb_stride ? e.fb_stride : F;
  gu.act = act;
  gu.alpha = e.alpha;
  gu.limit = e.limit;
  gu.y = A;
  gu.ldy = F;
  if (fp8_gu) {
    uint8_t* xq = static_cast<uint8_t*>(xq_->data());
    float* sx = reinterpret_cast<float*>(xq + round_up(size_t(p_.max_tokens) * size_t(ldx_h_), 256));
    if (Status st = launch_status(f8k::quantize_act(x, T, H, 0.0f, f8k::DevActQ{xq, sx, ldx_h_}, s), "moe quantize x");
        !st.ok())
      return st;
    gu.xq = xq;
    gu.sx = sx;
    gu.ldx = ldx_h_;
    if (Status st = launch_status(f8k::moe_gemm_fp8(g_, int32_t(P), E, tiles, gu, s), "moe_gemm_fp8 gate+up");
        !st.ok())
      return st;
  } else {
    gu.xf = x;
    gu.ldx = H;
    if (Status st = launch_status(f8k::moe_gemm_wonly(g_, int32_t(P), E, gu, s), "moe_gemm_wonly gate+up"); !st.ok())
      return st;
  }

  f8k::MoeGemm dn;
  dn.gathered = false;
  dn.k = k;
  dn.w0 = dev_stack(down);
  dn.b0 = static_cast<const float*>(e.down_b.data);
  dn.bias_stride = H;
  dn.y = O;
  dn.ldy = H;
  if (fp8_dn) {
    uint8_t* aq = static_cast<uint8_t*>(aq_->data());
    float* asx = reinterpret_cast<float*>(aq + round_up(size_t(cap_p_) * size_t(ldx_f_), 256));
    if (Status st = launch_status(f8k::quantize_act(A, int32_t(P), F, 0.0f, f8k::DevActQ{aq, asx, ldx_f_}, s),
                                  "moe quantize A");
        !st.ok())
      return st;
    dn.xq = aq;
    dn.sx = asx;
    dn.ldx = ldx_f_;
    if (Status st = launch_status(f8k::moe_gemm_fp8(g_, int32_t(P), E, tiles, dn, s), "moe_gemm_fp8 down"); !st.ok())
      return st;
  } else {
    dn.xf = A;
    dn.ldx = F;
    if (Status st = launch_status(f8k::moe_gemm_wonly(g_, int32_t(P), E, dn, s), "moe_gemm_wonly down"); !st.ok())
      return st;
  }
  return launch_status(f8k::moe_combine(O, g_.slot_of, w, T, k, H, y, s), "moe_combine");
}

}  // namespace f8backend::cuda
