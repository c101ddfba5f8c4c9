// kernels/fmha_tile.h — index math of the FP8 FMHA kernel (fmha_fp8.cu):
// its shared-memory layout and where each lane's MMA fragments come from.
// Shared with tests/backend/test_cuda_fmha_layout.cpp, which replays the
// kernel's warps on the CPU through these functions and an emulated
// mma.sync (kernels/mma_fp8.h). Plain C++ unless compiled by nvcc.
//
// A block handles 64 query rows (tokens t0..t0+63 of one head h), 4 warps of
// 16 rows. Per page of 64 cells it stages in shared memory:
//   K  [64 keys][D]     the page's K rows of head h's KV head (FP8 codes)
//   Vt [D][64 keys]     the page's V rows, transposed while staged (the
//                       B operand of P.V wants consecutive keys per dim)
//   P  [warp][16][64]   each warp's E4M3 probabilities, written in the
//                       C-fragment layout of S and read back as A fragments
//   pos, seqs           the page's cell metadata
// and Q [2 terms][64 rows][D] once (E4M3 codes of Q and of its residual,
// per-row scales in registers; fmha_math.h says why two terms).
// Row strides are 64 mod 128 bytes: the 16-byte fragment loads of a
// quarter-warp (lanes of g and g + 1, t = 0..3) then cover all 32 banks once.
//
// Both products use gemm_fp8's k-permutation (mma_fp8.h): a lane loads 16
// contiguous bytes at [16 t, 16 t + 16) of a 64-byte k-chunk of its A rows
// (g, g + 8) and of its B column (g), and the two MMAs of the chunk take
// words {0,1} and {2,3}. A and B see the same permutation, so
//   S[row][key] = sum over dims   Q[row][d] K[key][d]   (k = dims, chunks of 64)
//   O[row][dim] = sum over keys   P[row][c] Vt[dim][c]  (k = the page's 64 keys)
// come out exactly as unpermuted.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/fmha_math.h"
#include "kernels/mma_fp8.h"

namespace f8k {
namespace fmha {

constexpr int kRowsPerWarp = 16;
constexpr int kThreads = kWarps * 32;

// Byte offsets of the shared-memory regions for head dim D.
template <int D>
struct Smem {
  static constexpr int kLdq = D % 128 == 64 ? D : D + 64;  // Q and K row stride (bytes)
  static constexpr int kLdv = kPage;                        // Vt and P row stride (bytes)
  static constexpr int kQ = 0;                      // Q's first E4M3 term
  static constexpr int kQlo = kQ + kRows * kLdq;    // its residual term
  static constexpr int kK = kQlo + kRows * kLdq;
  static constexpr int kVt = kK + kPage * kLdq;
  static constexpr int kP = kVt + D * kLdv;
  static constexpr int kPos = kP + kWarps * kRowsPerWarp * kLdv;
  static constexpr int kSeqs = kPos + kPage * 4;  // 8-byte aligned: every term above is a multiple of 16
  static constexpr int kBytes = kSeqs + kPage * 8;
};

// 16 bytes at p (16-byte aligned) into 4 words, low byte first.
F8K_HD void ld16(const uint8_t* p, uint32_t* r) {
#if defined(__CUDA_ARCH__)
  const uint4 v = *reinterpret_cast<const uint4*>(p);
  r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
#else
  std::memcpy(r, p, 16);
#endif
}

// ---- staging (all threads of the block) --------------------------------------
// Vector v (16 bytes) of a page's K or V rows: key v / (D / 16), dims
// [16 (v % (D / 16)), +16). There are kPage * D / 16 of them.
F8K_HD int stage_key(int v, int D) { return v / (D / 16); }
F8K_HD int stage_dim0(int v, int D) { return (v % (D / 16)) * 16; }
// Byte of Vt that element (key, dim) of the page's V goes to.
template <int D>
F8K_HD int vt_index(int key, int dim) { return dim * Smem<D>::kLdv + key; }

// V is staged 4 keys x 16 dims per thread: item v covers keys
// [4 (v / (D / 16)), +4) and dims [16 (v % (D / 16)), +16); there are
// kPage / 4 * D / 16 items. The 4 rows' words are transposed in registers
// (transpose4x4) and stored as one 4-byte word per dim.
F8K_HD int vstage_key0(int v, int D) { return 4 * (v / (D / 16)); }
F8K_HD int vstage_dim0(int v, int D) { return (v % (D / 16)) * 16; }

// __byte_perm(x, y, s): byte n of the result is byte (nibble n of s) of the
// 8 bytes x0..x3 y0..y3.
F8K_HD uint32_t byte_perm(uint32_t x, uint32_t y, uint32_t s) {
#if defined(__CUDA_ARCH__)
  return __byte_perm(x, y, s);
#else
  const uint64_t xy = (uint64_t{y} << 32) | x;
  uint32_t r = 0;
  for (int n = 0; n < 4; ++n) r |= static_cast<uint32_t>((xy >> (8 * ((s >> (4 * n)) & 7))) & 0xFF) << (8 * n);
  return r;
#endif
}
// in[k] = word of key k (bytes: dims 0..3); out[d] = bytes (key 0..3) of dim d.
F8K_HD void transpose4x4(const uint32_t* in, uint32_t* out) {
  const uint32_t lo01 = byte_perm(in[0], in[1], 0x5140), hi01 = byte_perm(in[0], in[1], 0x7362);
  const uint32_t lo23 = byte_perm(in[2], in[3], 0x5140), hi23 = byte_perm(in[2], in[3], 0x7362);
  out[0] = byte_perm(lo01, lo23, 0x5410);
  out[1] = byte_perm(lo01, lo23, 0x7632);
  out[2] = byte_perm(hi01, hi23, 0x5410);
  out[3] = byte_perm(hi01, hi23, 0x7632);
}

// ---- fragments (one warp) ------------------------------------------------------
// Byte of Q term `term` (0: first, 1: residual) for (row, dim), row in [0, 64).
template <int D>
F8K_HD int q_index(int term, int row, int dim) {
  return (term ? Smem<D>::kQlo : Smem<D>::kQ) + row * Smem<D>::kLdq + dim;
}
// A fragments of Q term `term` for k-chunk kc (dims [64 kc, 64 kc + 64)): the
// lane's two 16-byte loads (rows g and g + 8 of the warp's 16).
template <int D>
F8K_HD int q_frag_offset(int warp, int lane, int half, int kc, int term = 0) {
  return q_index<D>(term, warp * kRowsPerWarp + mma::load_row(lane, half), kc * mma::kChunk + mma::load_byte(lane));
}
// B fragment of K for key tile j (keys [8 j, 8 j + 8)) and k-chunk kc.
template <int D>
F8K_HD int k_frag_offset(int lane, int j, int kc) {
  return Smem<D>::kK + (8 * j + mma::load_token(lane)) * Smem<D>::kLdq + kc * mma::kChunk + mma::load_byte(lane);
}
// The warp's P tile: byte of (row, key), row in [0, 16).
template <int D>
F8K_HD int p_index(int warp, int row, int key) {
  return Smem<D>::kP + (warp * kRowsPerWarp + row) * Smem<D>::kLdv + key;
}
// A fragment of P (the page's 64 keys are one k-chunk).
template <int D>
F8K_HD int p_frag_offset(int warp, int lane, int half) {
  return p_index<D>(warp, mma::load_row(lane, half), mma::load_byte(lane));
}
// B fragment of Vt for dim tile j (dims [8 j, 8 j + 8)).
template <int D>
F8K_HD int vt_frag_offset(int lane, int j) {
  return Smem<D>::kVt + (8 * j + mma::load_token(lane)) * Smem<D>::kLdv + mma::load_byte(lane);
}

// ---- accumulators ----------------------------------------------------------------
// S tile j element i of a lane: row c_row (0..15 within the warp), key 8 j + c_col.
// O tile j element i: row c_row, dim 8 j + c_col. Rows: i < 2 -> g (slot 0), else g + 8 (slot 1).
F8K_HD int acc_row_slot(int i) { return i >> 1; }

}  // namespace fmha
}  // namespace f8k
