// cuda_backend.h — the CUDA backend (one NVIDIA GPU, sm_89+): device
// selection and checks, weight upload through pinned staging, device
// memory, and the factories for its Stream (cuda_stream.cpp) and KVCache
// (cuda_kv.cpp). Host code only; the kernels are in kernels/.
//
// Weights on the device (what upload() returns; kernels/types.h DevWeight):
//   - FP8 (E4M3/E5M2) matrices: row-major [rows, stride], stride = K rounded
//     up to 64 bytes, pad bytes zero (the tensor-core GEMM reads whole 64-byte
//     k-chunks; cuBLASLt gets lda = stride). Block scales need
//     block_rows % 16 == 0 and block_cols % 64 == 0 (128x128 is the norm).
//   - F32/F16/BF16 matrices: rows padded to 16 bytes, pad zero.
//   - vectors (rows == 1: norm weights, biases): converted to F32.
//   - scales: FP32 multipliers, compacted per matrix (a block-scaled
//     tensor-parallel slice keeps only its own scale columns).
//   - stacks (n_mats > 1: MoE experts, and per-expert biases as stacks of
//     1-row vectors): every matrix in the layout above, matrix e at
//     e * mat_stride elements (each 256-byte aligned), its scales at
//     e * mat_scale_stride; at most 1024 matrices. weight_image.h has the
//     exact image (pure C++, so the CPU tests replay the kernels on it).
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/cuda_util.h"
#include "kernels/types.h"

namespace f8backend::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;        // "NVIDIA H200"
  int cc_major = 0, cc_minor = 0;
  int n_sm = 0;
  size_t total_mem = 0;
};

class CudaBackend final : public Backend {
 public:
  // "cuda" = device 0, "cuda:N". Fails with a one-line reason: no driver, no
  // device, index out of range, GPU older than sm_89.
  static Status create(std::string_view name, std::unique_ptr<Backend>* out);
  ~CudaBackend() override;

  const char* name() const override { return name_.c_str(); }
  std::string description() const override;
  bool host_memory() const override { return false; }
  Status alloc(size_t bytes, std::unique_ptr<Buffer>* out) override;
  Status upload(const Weight& host, Weight* out) override;
  Status create_stream(const StreamParams& p, std::unique_ptr<Stream>* out) override;
  Status create_kv_cache(const KVCacheParams& p, std::unique_ptr<KVCache>* out) override;
  void memory(size_t* free_bytes, size_t* total_bytes) const override;
  size_t upload_bytes(const Weight& w) const override;
  bool quantizes_activations() const override { return true; }

  const DeviceInfo& device() const { return dev_; }
  // Makes this backend's GPU current on the calling thread.
  Status use() const;

 private:
  CudaBackend() = default;
  // Copies a device image of n_rows rows (row_bytes each) to dst through the
  // pinned staging buffers; fill(pinned, r0, nr) writes rows [r0, r0 + nr).
  template <class Fill>
  Status staged_copy(void* dst, size_t n_rows, size_t row_bytes, Fill fill);

  std::string name_;
  DeviceInfo dev_;
  std::mutex upload_mu_;                     // one upload at a time (shared staging)
  cudaStream_t upload_stream_ = nullptr;
  PinnedBuffer staging_[2];
  cudaEvent_t staged_[2] = {nullptr, nullptr};
  std::vector<std::unique_ptr<DeviceBuffer>> weights_;  // device copies, freed with the backend
};

// The device view of a weight upload() returned.
f8k::DevWeight dev_weight(const Weight& w);
f8k::Elem to_elem(DType d);

}  // namespace f8backend::cuda
