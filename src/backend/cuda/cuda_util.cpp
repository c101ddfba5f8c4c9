// cuda_util.cpp — see cuda_util.h.
#include "backend/cuda/cuda_util.h"

#include <cstdio>

namespace f8backend::cuda {

Status cuda_status(cudaError_t e, const std::string& call) {
  const Code c = (e == cudaErrorMemoryAllocation) ? Code::OutOfMemory
                 : (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
                    e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDevice)
                     ? Code::Unsupported
                     : Code::InvalidArgument;
  return Status::Error(c, call + ": " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")");
}

std::string mib(size_t bytes) {
  char buf[48];
  if (bytes >= (size_t{1} << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / double(size_t{1} << 30));
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / double(size_t{1} << 20));
  return buf;
}

Status DeviceBuffer::create(int device, size_t bytes, std::unique_ptr<DeviceBuffer>* out) {
  F8_CUDA_TRY(cudaSetDevice(device), "cudaSetDevice(" + std::to_string(device) + ")");
  void* p = nullptr;
  if (bytes) {
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear the error so later calls do not see it
      size_t fr = 0, tot = 0;
      cudaMemGetInfo(&fr, &tot);
      return Status::Error(Code::OutOfMemory, "cudaMalloc(" + mib(bytes) + ") on GPU " + std::to_string(device) +
                                                  ": " + cudaGetErrorString(e) + " (" + mib(fr) + " free of " +
                                                  mib(tot) + ")");
    }
    F8_CUDA_TRY(cudaMemset(p, 0, bytes), "cudaMemset");
  }
  out->reset(new DeviceBuffer(device, p, bytes));
  return Status::Ok();
}

DeviceBuffer::~DeviceBuffer() {
  if (p_) {
    cudaSetDevice(device_);
    cudaFree(p_);
  }
}

PinnedBuffer::~PinnedBuffer() {
  if (p_) cudaFreeHost(p_);
}

Status PinnedBuffer::alloc(size_t bytes) {
  if (p_) cudaFreeHost(p_);
  p_ = nullptr;
  n_ = 0;
  F8_CUDA_TRY(cudaMallocHost(&p_, bytes), "cudaMallocHost(" + mib(bytes) + ")");
  n_ = bytes;
  return Status::Ok();
}

}  // namespace f8backend::cuda
