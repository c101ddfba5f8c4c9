// cuda_backend.cpp — CudaBackend: device checks, memory, weight upload.
#include "backend/cuda/cuda_backend.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

#include "backend/cpu/cpu_common.h"
#include "backend/cuda/weight_image.h"
#include "kernels/fp8_codec.cuh"
#include "kernels/moe_math.h"

namespace f8backend::cuda {

namespace {

constexpr size_t kStagingBytes = size_t{16} << 20;  // per pinned staging buffer (x2)

bool is_fp8(DType d) { return d == DType::E4M3 || d == DType::E5M2; }

}  // namespace

f8k::Elem to_elem(DType d) {
  switch (d) {
    case DType::F16: return f8k::Elem::F16;
    case DType::BF16: return f8k::Elem::BF16;
    case DType::E4M3: return f8k::Elem::E4M3;
    case DType::E5M2: return f8k::Elem::E5M2;
    default: return f8k::Elem::F32;
  }
}

f8k::DevWeight dev_weight(const Weight& w) {
  f8k::DevWeight d;
  d.data = w.data;
  d.type = to_elem(w.dtype);
  d.rows = w.rows;
  d.cols = w.cols;
  d.stride = w.stride();
  d.scale_mode = w.scale_kind == ScaleKind::Tensor    ? f8k::Scale::Tensor
                 : w.scale_kind == ScaleKind::Channel ? f8k::Scale::Channel
                 : w.scale_kind == ScaleKind::Block   ? f8k::Scale::Block
                                                      : f8k::Scale::None;
  d.scale = w.scale;
  d.block_rows = static_cast<int32_t>(w.block_rows);
  d.block_cols = static_cast<int32_t>(w.block_cols);
  d.scale_cols = w.scale_cols;
  return d;
}

Status CudaBackend::create(std::string_view name, std::unique_ptr<Backend>* out) {
  int index = 0;
  if (name != "cuda") {
    const std::string_view digits = name.substr(5);  // after "cuda:"
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || index < 0)
      return Status::Error(Code::InvalidArgument, "expected cuda or cuda:N (N = a device index)");
  }
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaErrorInsufficientDriver)
    return Status::Error(Code::Unsupported, "no usable NVIDIA driver: it is missing or older than CUDA " +
                                                std::to_string(CUDART_VERSION / 1000) + "." +
                                                std::to_string(CUDART_VERSION % 1000 / 10) +
                                                " that this build needs (cudaGetDeviceCount: " +
                                                cudaGetErrorString(e) + ")");
  if (e == cudaErrorNoDevice || (e == cudaSuccess && count == 0))
    return Status::Error(Code::Unsupported, "no CUDA device found on this machine");
  if (e != cudaSuccess) return cuda_status(e, "cudaGetDeviceCount");
  if (index >= count)
    return Status::Error(Code::InvalidArgument, "this machine has " +
                                                    std::to_string(count) + " CUDA device" +
                                                    (count > 1 ? "s" : "") + " (cuda:0..cuda:" +
                                                    std::to_string(count - 1) + ")");
  cudaDeviceProp prop{};
  F8_CUDA_TRY(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties(" + std::to_string(index) + ")");
  std::unique_ptr<CudaBackend> b(new CudaBackend());
  b->name_ = index == 0 && name == "cuda" ? "cuda" : "cuda:" + std::to_string(index);
  b->dev_.index = index;
  b->dev_.name = prop.name;
  b->dev_.cc_major = prop.major;
  b->dev_.cc_minor = prop.minor;
  b->dev_.n_sm = prop.multiProcessorCount;
  b->dev_.total_mem = prop.totalGlobalMem;
  if (prop.major * 10 + prop.minor < 89)
    return Status::Error(Code::Unsupported,
                         "GPU " + std::to_string(index) + " (" + prop.name + ") is sm_" + std::to_string(prop.major) +
                             std::to_string(prop.minor) +
                             "; the CUDA backend needs sm_89 or newer (FP8 tensor cores: Ada, Hopper, "
                             "Blackwell). Use --backend cpu.");
  F8_CUDA_TRY(cudaSetDevice(index), "cudaSetDevice(" + std::to_string(index) + ")");
  F8_CUDA_TRY(cudaStreamCreateWithFlags(&b->upload_stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  for (int i = 0; i < 2; ++i) {
    if (Status s = b->staging_[i].alloc(kStagingBytes); !s.ok()) return s;
    F8_CUDA_TRY(cudaEventCreateWithFlags(&b->staged_[i], cudaEventDisableTiming), "cudaEventCreate");
  }
  // A zero-length launch: fails here, with a clear line, when this binary has
  // no kernel image (and no PTX) for the GPU.
  const int rc = f8k::e4m3_to_f32(nullptr, nullptr, 0, 1.0f, b->upload_stream_);
  if (rc != 0) {
    cudaGetLastError();
    return Status::Error(Code::Unsupported, "GPU " + std::to_string(index) + " (" + prop.name + ", sm_" +
                                                std::to_string(prop.major) + std::to_string(prop.minor) +
                                                "): this build has no kernels for it: " +
                                                cudaGetErrorString(cudaError_t(rc)) +
                                                " (rebuild with -DF8_CUDA_ARCHS including it)");
  }
  F8_CUDA_TRY(cudaStreamSynchronize(b->upload_stream_), "probe kernel");
  *out = std::move(b);
  return Status::Ok();
}

CudaBackend::~CudaBackend() {
  cudaSetDevice(dev_.index);
  weights_.clear();
  for (auto& e : staged_)
    if (e) cudaEventDestroy(e);
  if (upload_stream_) cudaStreamDestroy(upload_stream_);
}

Status CudaBackend::use() const {
  F8_CUDA_TRY(cudaSetDevice(dev_.index), "cudaSetDevice(" + std::to_string(dev_.index) + ")");
  return Status::Ok();
}

std::string CudaBackend::description() const {
  return name_ + " (" + dev_.name + ", sm_" + std::to_string(dev_.cc_major) + std::to_string(dev_.cc_minor) + ", " +
         std::to_string(dev_.n_sm) + " SMs, " + mib(dev_.total_mem) + ")";
}

Status CudaBackend::alloc(size_t bytes, std::unique_ptr<Buffer>* out) {
  std::unique_ptr<DeviceBuffer> b;
  if (Status s = DeviceBuffer::create(dev_.index, bytes, &b); !s.ok()) return s;
  *out = std::move(b);
  return Status::Ok();
}

void CudaBackend::memory(size_t* free_bytes, size_t* total_bytes) const {
  *free_bytes = *total_bytes = 0;
  if (!use().ok() || cudaMemGetInfo(free_bytes, total_bytes) != cudaSuccess) {
    cudaGetLastError();
    *free_bytes = *total_bytes = 0;
  }
}

size_t CudaBackend::upload_bytes(const Weight& w) const {
  const WeightLayout L = weight_layout(w);
  return round_up(L.bytes, 256) + round_up(L.scale_n * 4, 256);
}

// Double-buffered: while the DMA engine copies staging[i] to the device, the
// host fills staging[i^1] from the (pageable, memory-mapped) source. The
// image is n_rows rows of row_bytes; fill(pinned, r0, nr) writes rows
// [r0, r0 + nr) of it.
template <class Fill>
Status CudaBackend::staged_copy(void* dst, size_t n_rows, size_t row_bytes, Fill fill) {
  const size_t rows_per = kStagingBytes / row_bytes;
  size_t r0 = 0;
  int i = 0;
  while (r0 < n_rows) {
    const size_t nr = std::min(rows_per, n_rows - r0);
    const size_t n = nr * row_bytes;
    F8_CUDA_TRY(cudaEventSynchronize(staged_[i]), "upload: cudaEventSynchronize");
    fill(static_cast<uint8_t*>(staging_[i].data()), r0, nr);
    F8_CUDA_TRY(cudaMemcpyAsync(static_cast<uint8_t*>(dst) + r0 * row_bytes, staging_[i].data(), n,
                                cudaMemcpyHostToDevice, upload_stream_),
                "upload: cudaMemcpyAsync(" + mib(n) + ")");
    F8_CUDA_TRY(cudaEventRecord(staged_[i], upload_stream_), "upload: cudaEventRecord");
    r0 += nr;
    i ^= 1;
  }
  F8_CUDA_TRY(cudaStreamSynchronize(upload_stream_), "upload: cudaStreamSynchronize");
  return Status::Ok();
}

Status CudaBackend::upload(const Weight& h, Weight* out) {
  if (Status s = cpu::check_weight(h, "upload"); !s.ok()) return s;
  if (is_fp8(h.dtype) && h.scale_kind == ScaleKind::Block && (h.block_rows % 16 || h.block_cols % 64))
    return Status::Error(Code::Unsupported, "block scales of " + std::to_string(h.block_rows) + "x" +
                                                std::to_string(h.block_cols) +
                                                ": the CUDA backend needs block rows % 16 == 0 and block "
                                                "columns % 64 == 0 (128x128 is the usual shape)");
  if (h.n_mats > f8k::moe::kMaxExperts)
    return Status::Error(Code::Unsupported, "a stack of " + std::to_string(h.n_mats) +
                                                " experts: the CUDA backend's MoE kernels take at most " +
                                                std::to_string(f8k::moe::kMaxExperts));
  if (h.n_mats > 1 && !is_fp8(h.dtype) && h.scale_kind == ScaleKind::Block && h.block_cols % 8)
    return Status::Error(Code::Unsupported, "block scales of " + std::to_string(h.block_rows) + "x" +
                                                std::to_string(h.block_cols) +
                                                " on a 16-bit expert stack: the CUDA backend needs block "
                                                "columns % 8 == 0");
  const WeightLayout L = weight_layout(h);
  if (L.row_bytes > kStagingBytes)
    return Status::Error(Code::Unsupported, "upload: a row of " + mib(L.row_bytes) + " exceeds the staging buffer (" +
                                                mib(kStagingBytes) + ")");
  std::lock_guard<std::mutex> lock(upload_mu_);
  if (Status s = use(); !s.ok()) return s;
  std::unique_ptr<DeviceBuffer> wbuf, sbuf;
  if (Status s = DeviceBuffer::create(dev_.index, L.bytes, &wbuf); !s.ok()) return s;
  Status st = staged_copy(wbuf->data(), size_t(L.n_mats * L.mat_rows), L.row_bytes,
                          [&](uint8_t* dst, size_t r0, size_t nr) { fill_image_rows(h, L, dst, r0, nr); });
  if (!st.ok()) return st;
  if (L.scale_n) {
    const std::vector<float> sc = image_scales(h, L);
    if (Status s = DeviceBuffer::create(dev_.index, L.scale_n * 4, &sbuf); !s.ok()) return s;
    F8_CUDA_TRY(cudaMemcpy(sbuf->data(), sc.data(), L.scale_n * 4, cudaMemcpyHostToDevice), "upload: scales");
  }
  const Weight d = image_weight(h, L, wbuf->data(), sbuf ? static_cast<const float*>(sbuf->data()) : nullptr);
  weights_.push_back(std::move(wbuf));
  if (sbuf) weights_.push_back(std::move(sbuf));
  *out = d;
  return Status::Ok();
}

}  // namespace f8backend::cuda
