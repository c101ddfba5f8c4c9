// kernels/embed.cu — token embedding lookup with dequantization:
//   out[t, k] = decode(table[ids[t], k]) * scale(ids[t], k),  k < table.cols
// for every Elem (F32, F16, BF16, E4M3, E5M2; decoding is exact) and every
// Scale mode: None (1), Tensor (scale[0]), Channel (scale[n]), Block
// (scale[(n / block_rows) * scale_cols + k / block_cols]; scale_cols == 0
// means ceil(cols / block_cols), as on the CPU).
//
// Shapes: table [rows, cols] with row stride table.stride elements; ids int32
// [T] (device); out F32 [T, cols].
// Grid/block: one block per token (gridDim.x = T), up to 256 threads striding
// over the row. Vector path (4 elements per thread: one 16/8/4-byte load for
// F32 / 16-bit / FP8, one float4 store) when cols % 4 == 0, stride % 4 == 0,
// table.data is aligned to 4 elements and out to 16 bytes.
// A negative id writes a row of zeros (tensor parallel: the token's row lives
// on another rank, whose row the all-reduce adds); an id >= rows writes a row
// of NaN instead of reading out of bounds.
// Bytes moved (floor): T*cols*(elem size) read + T*cols*4 written (+ scales).
// CPU reference: RefStream::embed in src/backend/cpu/ref/ref_backend.cpp
// (load_elem * weight_scale, one float multiply): bit-exact, except that the
// payload of a NaN in an F16 table may differ.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "ggf8/fp8.h"
#include "kernels/ops.cuh"

namespace f8k {
namespace {

constexpr int kThreads = 256;

template <Elem E> struct ElemTraits;
template <> struct ElemTraits<Elem::F32> { static constexpr int kSize = 4; };
template <> struct ElemTraits<Elem::F16> { static constexpr int kSize = 2; };
template <> struct ElemTraits<Elem::BF16> { static constexpr int kSize = 2; };
template <> struct ElemTraits<Elem::E4M3> { static constexpr int kSize = 1; };
template <> struct ElemTraits<Elem::E5M2> { static constexpr int kSize = 1; };

// Decodes one element from its raw bits (low kSize bytes of `b`).
template <Elem E>
__device__ __forceinline__ float decode(uint32_t b) {
  if constexpr (E == Elem::F32) return __uint_as_float(b);
  if constexpr (E == Elem::F16) return __half2float(__ushort_as_half(static_cast<unsigned short>(b)));
  if constexpr (E == Elem::BF16) return __uint_as_float(b << 16);
  if constexpr (E == Elem::E4M3) return ggf8::e4m3_to_f32(static_cast<uint8_t>(b));
  if constexpr (E == Elem::E5M2) return ggf8::e5m2_to_f32(static_cast<uint8_t>(b));
  return 0.0f;
}

template <Elem E>
__device__ __forceinline__ uint32_t load_bits(const uint8_t* row, int64_t k) {
  if constexpr (ElemTraits<E>::kSize == 4) return reinterpret_cast<const uint32_t*>(row)[k];
  if constexpr (ElemTraits<E>::kSize == 2) return reinterpret_cast<const uint16_t*>(row)[k];
  return row[k];
}

// Raw bits of elements 4j..4j+3 of a row aligned to 4 elements.
template <Elem E>
__device__ __forceinline__ void load_bits4(const uint8_t* row, int64_t j, uint32_t b[4]) {
  if constexpr (ElemTraits<E>::kSize == 4) {
    const uint4 v = reinterpret_cast<const uint4*>(row)[j];
    b[0] = v.x; b[1] = v.y; b[2] = v.z; b[3] = v.w;
  } else if constexpr (ElemTraits<E>::kSize == 2) {
    const uint2 v = reinterpret_cast<const uint2*>(row)[j];
    b[0] = v.x & 0xFFFFu; b[1] = v.x >> 16; b[2] = v.y & 0xFFFFu; b[3] = v.y >> 16;
  } else {
    const uint32_t v = reinterpret_cast<const uint32_t*>(row)[j];
    b[0] = v & 0xFFu; b[1] = (v >> 8) & 0xFFu; b[2] = (v >> 16) & 0xFFu; b[3] = v >> 24;
  }
}

// The multiplier for element k of the block's row. `s0` is scale[0] (Tensor),
// scale[n] (Channel) or 1 (None); `boff` the Block row offset.
__device__ __forceinline__ float scale_at(const DevWeight& w, float s0, int64_t boff, int64_t k) {
  return w.scale_mode == Scale::Block ? w.scale[boff + k / w.block_cols] : s0;
}

template <Elem E, bool kVec>
__global__ void embed_kernel(const DevWeight w, const int32_t* __restrict__ ids,
                             float* __restrict__ out) {
  const int64_t t = blockIdx.x;
  const int64_t cols = w.cols;
  float* dst = out + t * cols;
  const int64_t n = ids[t];
  if (n < 0 || n >= w.rows) {
    const float fill = n < 0 ? 0.0f : __uint_as_float(0x7FC00000u);
    for (int64_t k = threadIdx.x; k < cols; k += blockDim.x) dst[k] = fill;
    return;
  }
  const uint8_t* row =
      static_cast<const uint8_t*>(w.data) + n * w.stride * static_cast<int64_t>(ElemTraits<E>::kSize);
  float s0 = 1.0f;
  int64_t boff = 0;
  switch (w.scale_mode) {
    case Scale::Tensor: s0 = w.scale[0]; break;
    case Scale::Channel: s0 = w.scale[n]; break;
    case Scale::Block: boff = (n / w.block_rows) * w.scale_cols; break;
    default: break;
  }
  if (kVec) {
    float4* d4 = reinterpret_cast<float4*>(dst);
    for (int64_t j = threadIdx.x; j < (cols >> 2); j += blockDim.x) {
      uint32_t b[4];
      load_bits4<E>(row, j, b);
      const int64_t k = j << 2;
      float4 o;
      o.x = __fmul_rn(decode<E>(b[0]), scale_at(w, s0, boff, k));
      o.y = __fmul_rn(decode<E>(b[1]), scale_at(w, s0, boff, k + 1));
      o.z = __fmul_rn(decode<E>(b[2]), scale_at(w, s0, boff, k + 2));
      o.w = __fmul_rn(decode<E>(b[3]), scale_at(w, s0, boff, k + 3));
      d4[j] = o;
    }
  } else {
    for (int64_t k = threadIdx.x; k < cols; k += blockDim.x)
      dst[k] = __fmul_rn(decode<E>(load_bits<E>(row, k)), scale_at(w, s0, boff, k));
  }
}

bool aligned(const void* p, uintptr_t a) { return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0; }

template <Elem E>
void launch(const DevWeight& w, const int32_t* ids, int32_t T, float* out, cudaStream_t s) {
  constexpr int64_t es = ElemTraits<E>::kSize;
  const bool vec = w.cols % 4 == 0 && w.stride % 4 == 0 && aligned(w.data, 4 * es) && aligned(out, 16);
  const int64_t items = vec ? w.cols / 4 : w.cols;
  const int threads = items >= kThreads ? kThreads : static_cast<int>((items + 31) / 32 * 32);
  if (vec)
    embed_kernel<E, true><<<T, threads, 0, s>>>(w, ids, out);
  else
    embed_kernel<E, false><<<T, threads, 0, s>>>(w, ids, out);
}

}  // namespace

int embed(const DevWeight& table, const int32_t* ids, int32_t T, float* out, void* stream) {
  if (T <= 0 || table.cols <= 0) return static_cast<int>(cudaSuccess);
  if (!table.data || table.stride < table.cols) return static_cast<int>(cudaErrorInvalidValue);
  DevWeight w = table;
  if (w.scale_mode != Scale::None && !w.scale) return static_cast<int>(cudaErrorInvalidValue);
  if (w.scale_mode == Scale::Block) {
    if (w.block_rows <= 0 || w.block_cols <= 0) return static_cast<int>(cudaErrorInvalidValue);
    if (w.scale_cols == 0) w.scale_cols = (w.cols + w.block_cols - 1) / w.block_cols;
  }
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (w.type) {
    case Elem::F32: launch<Elem::F32>(w, ids, T, out, s); break;
    case Elem::F16: launch<Elem::F16>(w, ids, T, out, s); break;
    case Elem::BF16: launch<Elem::BF16>(w, ids, T, out, s); break;
    case Elem::E4M3: launch<Elem::E4M3>(w, ids, T, out, s); break;
    case Elem::E5M2: launch<Elem::E5M2>(w, ids, T, out, s); break;
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
  return static_cast<int>(cudaGetLastError());
}

}  // namespace f8k
