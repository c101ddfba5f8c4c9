// cuda_util.h — the one checking helper every CUDA / cuBLASLt call in the
// CUDA backend goes through (a failure becomes a Status naming the call),
// and device memory as a Buffer. Host code only.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend/backend.h"

namespace f8backend::cuda {

// "cudaMalloc(6.0 GiB): out of memory" style one-liners.
Status cuda_status(cudaError_t e, const std::string& call);
inline bool ok(cudaError_t e) { return e == cudaSuccess; }

// Returns the Status of a failed call from the enclosing function.
#define F8_CUDA_TRY(call, what)                                                        \
  do {                                                                                 \
    const cudaError_t f8_e_ = (call);                                                  \
    if (f8_e_ != cudaSuccess) return ::f8backend::cuda::cuda_status(f8_e_, (what));    \
  } while (0)

std::string mib(size_t bytes);  // "123.4 MiB" / "6.00 GiB"

// Device memory (cudaMalloc, 256-byte aligned), freed with the object.
class DeviceBuffer final : public Buffer {
 public:
  static Status create(int device, size_t bytes, std::unique_ptr<DeviceBuffer>* out);
  ~DeviceBuffer() override;
  void* data() override { return p_; }
  size_t size() const override { return n_; }

 private:
  DeviceBuffer(int device, void* p, size_t n) : device_(device), p_(p), n_(n) {}
  int device_;
  void* p_;
  size_t n_;
};

// Pinned host memory (cudaMallocHost), freed with the object.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer();
  Status alloc(size_t bytes);
  void* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  void* p_ = nullptr;
  size_t n_ = 0;
};

inline size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

}  // namespace f8backend::cuda
