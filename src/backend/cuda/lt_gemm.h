// lt_gemm.h — cuBLASLt FP8 GEMM for large token counts (prefill):
// raw[t, n] = sum_k xq[t, k] * wq[n, k]  (E4M3 x E4M3, FP32 accumulation and
// output, no scales: the caller's epilogue applies sx[t] * sw[n] + bias).
// TN form (GPU.md): A = W stored [N, ldw] row-major = K x N column-major
// with op T; B = xq [T, ldx] row-major = K x T column-major with op N;
// D = N x T column-major = [T, N] row-major. One plan (descriptors +
// heuristic's algorithm) per shape, made on first use and cached, so a
// CUDA-graph replay makes no heuristic query; workspace allocated once.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <tuple>

#include "backend/cuda/cuda_util.h"

namespace f8backend::cuda {

class LtGemm {
 public:
  LtGemm() = default;
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;
  ~LtGemm();

  Status init(int device, size_t workspace_bytes);
  // Runs the GEMM when cuBLASLt has an algorithm for the shape and the
  // pointers/strides meet its alignment rules (*done = true); otherwise
  // *done = false and nothing is enqueued (the caller uses its own kernel).
  Status run(const uint8_t* xq, int64_t ldx, int32_t T, const void* w, int64_t ldw, int64_t N, int64_t K,
             float* d, cudaStream_t stream, bool* done);

 private:
  struct Plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool ok = false;  // false: no algorithm (cached so we do not ask again)
  };
  Status plan_for(int32_t T, int64_t N, int64_t K, int64_t ldw, int64_t ldx, Plan** out);

  cublasLtHandle_t h_ = nullptr;
  std::unique_ptr<DeviceBuffer> ws_;
  std::map<std::tuple<int32_t, int64_t, int64_t, int64_t, int64_t>, Plan> plans_;
};

}  // namespace f8backend::cuda
