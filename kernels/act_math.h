// kernels/act_math.h — activation functions shared by the CUDA kernels
// (elementwise.cu) and host C++ (tests/backend/test_cuda_attn_math.cpp checks
// them on the CPU against the cpu/ref formula).
//
// gelu_tanh: transformers' gelu_pytorch_tanh,
//   0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), float math.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define F8K_ACT_HD __host__ __device__ __forceinline__
#else
#define F8K_ACT_HD inline
#endif

namespace f8k {
namespace act {

F8K_ACT_HD float gelu_tanh(float x) {
  const float kBeta = 0.7978845608028654f;  // sqrt(2/pi)
  const float inner = kBeta * (x + 0.044715f * x * x * x);
#if defined(__CUDA_ARCH__)
  return 0.5f * x * (1.0f + tanhf(inner));
#else
  return 0.5f * x * (1.0f + std::tanh(inner));
#endif
}

}  // namespace act
}  // namespace f8k
