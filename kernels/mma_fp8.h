// kernels/mma_fp8.h — index math of the FP8 tensor-core GEMM (gemm_fp8.cu),
// shared by the kernel and by a CPU test that replays the kernel lane by lane
// (tests/backend/test_cuda_mma_layout.cpp). Plain C++ unless compiled by nvcc,
// where every function is also __device__. No CUDA header here.
//
// The instruction: mma.sync.aligned.m16n8k32.row.col.f32.<A>.e4m3.f32
//   D[16x8] = A[16x32] * B[32x8] + C[16x8], FP32 accumulate, one warp.
// It is legal on sm_89 and sm_90 (PTX ISA >= 8.4, CUDA >= 12.4) for
// A, B in {e4m3, e5m2} in every combination (PTX ISA "Warp-level matrix
// multiply-accumulate instructions: mma", type table for .m16n8k32 with
// .e4m3/.e5m2; CUTLASS ships all four: SM89_16x8x32_F32{E4M3E4M3,E4M3E5M2,
// E5M2E4M3,E5M2E5M2}F32_TN in include/cute/arch/mma_sm89.hpp). So E5M2
// weights run as A = .e5m2 against E4M3 activations (B = .e4m3): no
// in-register conversion, the same kernel with a different type suffix
// (ptxas of CUDA 13.0 assembles both variants for sm_89 and sm_90a).
//
// Fragment layouts (PTX ISA 9.7.14.5 "Matrix Fragments for mma.m16n8k32",
// .e4m3/.e5m2 rows; cross-checked against CUTLASS's
// MMA_Traits<SM89_16x8x32_F32E4M3E4M3F32_TN> ALayout/BLayout/CLayout in
// include/cute/atom/mma_traits_sm89.hpp). groupID g = lane >> 2,
// threadID_in_group t = lane & 3; element i of a fragment lives in register
// i / 4, byte i % 4 (low byte first):
//   A (4 x b32, a0..a15): row = g + 8 * ((i >> 2) & 1)        (a0-3, a8-11: g; a4-7, a12-15: g+8)
//                         col = 4t + (i & 3) + 16 * (i >> 3)   (a0-7: 4t..; a8-15: 16+4t..)
//   B (2 x b32, b0..b7):  row (k) = 4t + (i & 3) + 16 * (i >> 2), col (n) = g
//   C/D (4 x f32):        row = g + 8 * (i >> 1), col = 2t + (i & 1)
//
// The kernel's k-permutation. A 64-byte k-chunk of a weight row is covered by
// two MMAs (h = 0, 1). Lane (g, t) loads ONE 16-byte vector of weight row
// r0+g (wa), one of row r0+g+8 (wb), both at chunk bytes [16t, 16t+16), and
// one of activation token g at the same bytes (xb). Words are then used as
//   MMA h:  A = {wa[2h], wb[2h], wa[2h+1], wb[2h+1]},  B = {xb[2h], xb[2h+1]}.
// MMA h's k-slot s therefore holds actual chunk byte
//   slot_k(h, s) = 16 * ((s & 15) >> 2) + 8h + 4 * (s >> 4) + (s & 3)
// for BOTH A and B (same lane t, same word, same byte), so each MMA computes
// a dot product over a permuted set of 32 k's and the two MMAs together
// cover all 64: sum_s A[m][s] B[s][n] = sum_k W[m][k] X[n][k] exactly as
// unpermuted. The CPU test proves this by emulation.
#pragma once

#include <cstdint>

// F8K_HD: also defined (identically) by kernels/attn_math.h.
#ifndef F8K_HD
#if defined(__CUDACC__)
#define F8K_HD __host__ __device__ __forceinline__
#else
#define F8K_HD inline
#endif
#endif

#if !defined(__CUDA_ARCH__)
#include "ggf8/fp8.h"
#endif

namespace f8k {
namespace mma {

constexpr int kM = 16;           // MMA rows (weight rows)
constexpr int kN = 8;            // MMA cols (tokens): one token tile
constexpr int kK = 32;           // MMA depth (bytes of k)
constexpr int kChunk = 64;       // k bytes per chunk: two MMAs, one 16-byte load per lane and row
constexpr int kMaxTiles = 8;     // token tiles per pass over the weights: 64 tokens
constexpr int kPassTokens = kN * kMaxTiles;

// ---- gemm_fp8 kernel configuration (its tuning knobs) ----------------------------------
// Per token-tile count (TILES = 1, 2, 4, 8 -> up to 8, 16, 32, 64 tokens):
//   kWarps  warps per block, splitting K (more: more loads in flight per row
//           block, but fewer chunks per warp for small K; the reduction's
//           shared memory is kWarps * TILES * 640 bytes);
//   kMT     16-row tiles per warp (activation fragments are reused across
//           them: 2 halves the L2 traffic of xq at large T, but halves the
//           number of blocks — watch the wave count for N = 4096);
//   kUnroll chunks whose loads a lane issues before its first MMA (memory
//           level parallelism: 2 * kMT * kUnroll weight loads of 16 bytes in
//           flight per lane).
//   kMinBlocks resident blocks per SM asked of the register allocator
//           (__launch_bounds__: 65536 / (32 kWarps kMinBlocks) registers
//           per thread at most; more blocks = more loads in flight and
//           fewer partial waves, too few registers = spills).
// Tune on the GPU with bench_cuda_gemm: the aim is >= 85% of the measured
// device-to-device copy bandwidth for T = 1..16 at 4096x4096 and up; check
// `-Xptxas -v` that no variant spills.
template <int TILES>
struct Cfg;
template <>
struct Cfg<1> {
  static constexpr int kWarps = 8, kMT = 1, kUnroll = 4, kMinBlocks = 2;
};
template <>
struct Cfg<2> {
  static constexpr int kWarps = 8, kMT = 1, kUnroll = 4, kMinBlocks = 2;
};
template <>
struct Cfg<4> {
  static constexpr int kWarps = 8, kMT = 2, kUnroll = 1, kMinBlocks = 2;
};
template <>
struct Cfg<8> {
  static constexpr int kWarps = 8, kMT = 2, kUnroll = 1, kMinBlocks = 1;
};

// Token tiles for the last pass of `tokens` (1..64) tokens.
F8K_HD int tiles_for(int tokens) { return tokens <= 8 ? 1 : tokens <= 16 ? 2 : tokens <= 32 ? 4 : 8; }

// ---- PTX fragment layout (see the header comment) -------------------------------
F8K_HD int group_id(int lane) { return lane >> 2; }
F8K_HD int tid_in_group(int lane) { return lane & 3; }
F8K_HD int a_row(int lane, int i) { return (lane >> 2) + 8 * ((i >> 2) & 1); }
F8K_HD int a_col(int lane, int i) { return 4 * (lane & 3) + (i & 3) + 16 * (i >> 3); }
F8K_HD int b_row(int lane, int i) { return 4 * (lane & 3) + (i & 3) + 16 * (i >> 2); }
F8K_HD int b_col(int lane, int /*i*/) { return lane >> 2; }
F8K_HD int c_row(int lane, int i) { return (lane >> 2) + 8 * (i >> 1); }
F8K_HD int c_col(int lane, int i) { return 2 * (lane & 3) + (i & 1); }

// ---- the kernel's loads ------------------------------------------------------------
// Weight row (within a 16-row tile) of load `half` (0: wa, 1: wb) of a lane.
F8K_HD int load_row(int lane, int half) { return (lane >> 2) + 8 * half; }
// Byte offset within a 64-byte chunk of every 16-byte load of a lane.
F8K_HD int load_byte(int lane) { return 16 * (lane & 3); }
// Token (within an 8-token tile) whose activation bytes a lane loads.
F8K_HD int load_token(int lane) { return lane >> 2; }

// Register assembly of MMA h (0, 1) of a chunk from the lane's 16-byte loads.
F8K_HD void assemble_a(const uint32_t* wa, const uint32_t* wb, int h, uint32_t* a) {
  a[0] = wa[2 * h];
  a[1] = wb[2 * h];
  a[2] = wa[2 * h + 1];
  a[3] = wb[2 * h + 1];
}
F8K_HD void assemble_b(const uint32_t* xb, int h, uint32_t* b) {
  b[0] = xb[2 * h];
  b[1] = xb[2 * h + 1];
}
// The chunk byte that k-slot s (0..31) of MMA h holds (for A and B alike).
F8K_HD int slot_k(int h, int s) { return 16 * ((s & 15) >> 2) + 8 * h + 4 * (s >> 4) + (s & 3); }

// ---- work split ----------------------------------------------------------------------
// Chunk handled by warp w (of W) at loop iteration `it`, unroll slot u (of U):
// at each (it, u) the W warps of a block read W consecutive chunks, so a block
// streams W*U*64 contiguous bytes of each of its rows per iteration.
F8K_HD int64_t chunk_of(int w, int64_t it, int u, int W, int U) {
  return (it * U + u) * static_cast<int64_t>(W) + w;
}
// Block scale of the 16-row tile starting at row0 (row0 % 16 == 0) for chunk
// c. Valid because block_rows % 16 == 0 and block_cols % 64 == 0: all 16x64
// elements of (tile, chunk) share one scale.
F8K_HD int64_t block_scale_index(int64_t row0, int64_t c, int32_t block_rows, int32_t block_cols,
                                 int64_t scale_cols) {
  return (row0 / block_rows) * scale_cols + (c * kChunk) / block_cols;
}

// Rows >= N (the last block's overhang) are read as row N - 1 (valid bytes,
// results never stored); a tile starting at or past N takes the block scale
// of the last real tile.
F8K_HD int64_t clamp_row(int64_t r, int64_t N) { return r < N ? r : N - 1; }
F8K_HD int64_t scale_tile_row(int64_t row0, int64_t N) { return row0 < N ? row0 : ((N - 1) / kM) * kM; }

// ---- cross-warp reduction in shared memory --------------------------------------------
// One (warp, token tile) holds a 16x8 FP32 tile stored token-major with a
// padded token stride (20: the 32 lanes' stores of one accumulator register
// hit 32 different banks).
constexpr int kRedTokStride = 20;
constexpr int kRedTile = kN * kRedTokStride;  // floats per (warp, tile)
F8K_HD int red_index(int lane, int i) { return c_col(lane, i) * kRedTokStride + c_row(lane, i); }
// Reader side: element e (0..127) of a tile = token e / 16, row e % 16, so 16
// consecutive threads write 16 consecutive outputs of one token.
F8K_HD int red_elem_row(int e) { return e & 15; }
F8K_HD int red_elem_tok(int e) { return e >> 4; }

// ---- epilogue --------------------------------------------------------------------------
// y = (acc * sx) * sw + bias, each operation rounded separately (no FMA
// contraction) so gemm_fp8 and gemm_epilogue round identically.
F8K_HD float epilogue_value(float acc, float sx, float sw, const float* bias, int64_t n) {
#if defined(__CUDA_ARCH__)
  float v = __fmul_rn(__fmul_rn(acc, sx), sw);
  return bias ? __fadd_rn(v, bias[n]) : v;
#else
  volatile float v = acc * sx;
  v = v * sw;
  return bias ? v + bias[n] : static_cast<float>(v);
#endif
}

// ---- CPU emulation of one warp-wide MMA ----------------------------------------------------
#if !defined(__CUDA_ARCH__)
inline float fp8_value(uint8_t b, bool e5m2) { return e5m2 ? ggf8::e5m2_to_f32(b) : ggf8::e4m3_to_f32(b); }

// d[lane][0..3] = A*B + C for fragments a[lane][0..3], b[lane][0..1],
// c[lane][0..3] of all 32 lanes, laid out per the PTX ISA. Each D element is
// C + the 32 products summed in double, rounded once to FP32 (the hardware's
// internal precision differs slightly; tests allow FP32-accumulation error).
inline void emulate_mma_m16n8k32(const uint32_t (*a)[4], const uint32_t (*b)[2], const float (*c)[4],
                                 float (*d)[4], bool a_e5m2, bool b_e5m2 = false) {
  double A[kM][kK] = {}, B[kK][kN] = {}, C[kM][kN] = {};
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 16; ++i)
      A[a_row(lane, i)][a_col(lane, i)] =
          fp8_value(static_cast<uint8_t>(a[lane][i >> 2] >> (8 * (i & 3))), a_e5m2);
    for (int i = 0; i < 8; ++i)
      B[b_row(lane, i)][b_col(lane, i)] =
          fp8_value(static_cast<uint8_t>(b[lane][i >> 2] >> (8 * (i & 3))), b_e5m2);
    for (int i = 0; i < 4; ++i) C[c_row(lane, i)][c_col(lane, i)] = c[lane][i];
  }
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const int m = c_row(lane, i), n = c_col(lane, i);
      double s = C[m][n];
      for (int k = 0; k < kK; ++k) s += A[m][k] * B[k][n];
      d[lane][i] = static_cast<float>(s);
    }
}
#endif

}  // namespace mma
}  // namespace f8k
