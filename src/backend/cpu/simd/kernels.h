// kernels.h — the per-ISA kernel table behind cpu/simd. Each ISA file
// (kernels_generic.cpp, kernels_avx2.cpp, kernels_avx512.cpp) is compiled
// with its own target flags and fills one table; isa.cpp picks the best the
// CPU supports at run time. Kernels are single-threaded over the range they
// are given; simd_backend.cpp splits work across the thread pool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace f8backend::cpu::simd {

// One gemm call as the kernels see it: y[t, n] = (x[t,:] . W[n,:]) * tok_scale[t] + bias[n]
// where W[n,k] includes its scale.
struct GemmArgs {
  const float* x;          // [T, K] row-major (already E4M3-rounded in emulate mode)
  int32_t T;
  const Weight* w;         // [N, K]
  const float* tok_scale;  // [T] or nullptr (= 1): emulate-GPU activation scales
  Bias bias;
  float* y;                // [T, N]
  // x regrouped by k mod 8 (Kernels::lanes_x), [T][8][K / 8], or nullptr:
  // the x86 prefill kernel reads one k class at a time, contiguously.
  const float* xl = nullptr;
};

// Attention work (attention_portable.inc has the arithmetic). A work item
// covers query token t, query heads [h0, h0 + g) (g = heads_per_item: whole
// GQA groups of one or more KV heads, or a divisor of one group; each K/V
// row is decoded once for all the heads that read it), the entries [e0, e1)
// of its sequence's position list it sees (KvCells::seq_cells), and the
// position blocks [k0, k1) it computes (block k = positions [64k, 64k + 64)).
//   part < 0: the item covers every visible block of its token: it folds
//     them in order and writes the output rows.
//   part >= 0: block k's partial goes to slot part + (k - k0) of
//     AttnArgs::parts and an AttnFold folds the token's slots afterwards
//     (one long sequence split across the threads: decode at long context).
// Either way the same block partials are folded in the same order, so the
// output does not depend on how the planner split the work.
// Items run in units (AttnArgs::units): a unit of several items is a tile of
// tokens of one sequence, same heads, part < 0 each, that the kernel walks
// block by block, each block's K/V rows computed on by every token of the
// tile while they are in L2 (one token at a time streamed the whole
// context's rows from L3 per token: prefill attention was bound by it).
// Each token's blocks are still computed and folded exactly as alone.
struct AttnItem {
  int32_t t = 0, h0 = 0;
  int32_t e0 = 0, e1 = 0;  // e0 == e1: sees no cell (writes zeros; part < 0)
  int32_t k0 = 0, k1 = 0;
  int64_t part = -1;
};
// Folds slots [part, part + n) (ascending = position order) of token t,
// heads [h0 + g0, h0 + g0 + ng) of the item's g, and writes their output
// rows. A token's heads may be cut into several folds (the fold pass then
// runs on several threads, a decode token's ~7% of attention at 8k on 2
// threads was one thread's): each head's fold is the same whichever fold
// holds it.
struct AttnFold {
  int32_t t = 0, h0 = 0, n = 0;
  int64_t part = 0;
  int32_t g0 = 0, ng = 0;
};
// Floats per partial slot per head: m, l, acc[D] (l < 0: the block had no
// visible cell).
inline int64_t attn_slot_floats(int32_t head_dim) { return int64_t(head_dim) + 2; }

struct AttnArgs {
  const float* q;          // [T, n_heads, D]
  float* out;              // [T, n_heads, D]
  const AttnBatch* b;
  const void* cache;       // CpuKVCache*
  int32_t layer;
  int32_t heads_per_item = 1;
  const AttnItem* items = nullptr;  // the kernel's [i0, i1) index these (or their units)...
  // Unit u = items [units[u], units[u + 1]) (a tile: see AttnItem); null:
  // each item is its own unit.
  const int32_t* units = nullptr;
  const AttnFold* folds = nullptr;  // ...or these, when fold_pass
  bool fold_pass = false;
  float* parts = nullptr;           // [slots][heads_per_item][D + 2]
  // K and V rows decoded once for the call (prefill-sized batches), or null:
  // the rows of entry e of sequence s's position list (KvCells::seq_cells)
  // are at kdec / vdec + (row0[s] + e) * n_kv_heads * D, for e < rows[s]
  // (rows[s] = 0: decode on the fly). The same values decode_row gives.
  const float* kdec = nullptr;
  const float* vdec = nullptr;
  const int64_t* row0 = nullptr;  // [kMaxSeq]
  const int32_t* rows = nullptr;  // [kMaxSeq]
};

struct Kernels {
  const char* isa;  // "generic", "avx2", "avx512", "avx512-amx"
  // Rows [n0, n1) of a gemm, all T tokens. scratch: kScratchPerDim * K floats.
  void (*gemm_rows)(const GemmArgs& a, int64_t n0, int64_t n1, float* scratch);
  // Emulate-GPU activation quantization of one token row x[K]: sx = given
  // static scale, or (static_scale == 0) max(amax/448, tiny); xq[k] =
  // e4m3_to_f32(e4m3_from_f32(x[k] / sx)) bit-exactly. Returns sx.
  float (*quantize_row)(const float* x, int64_t K, float static_scale, float* xq);
  // Exact decode of n elements of dtype dt (F32/F16/BF16/E4M3/E5M2), times `scale`.
  void (*decode_row)(const void* src, DType dt, int64_t n, float scale, float* dst);
  // Encode n floats to dt; FP8 as satfinite(rne(x / scale)) (bit-exact with ggf8/fp8.h).
  void (*encode_row)(const float* x, int64_t n, DType dt, float scale, uint8_t* dst);
  float (*rms_scale)(const float* x, int64_t n, float eps);   // 1/sqrt(mean(x^2)+eps)
  void (*mul_rows)(const float* x, float r, const void* w, DType wdt, int64_t n, float* out);
  void (*swiglu)(const float* g, const float* u, int64_t n, float* out);
  void (*add)(float* x, const float* y, int64_t n);
  // Attention for work units [i0, i1) of a.items (AttnArgs::units), or
  // folds [i0, i1) of a.folds when a.fold_pass (see AttnItem); head_dim <=
  // kMaxHeadDim.
  void (*attention)(const AttnArgs& a, int64_t i0, int64_t i1);
  // GemmArgs::xl for one token row, in the table's own layout, wanted when
  // T > kLanesXMinT and K % 32 == 0; nullptr: not used. avx2: out[l * K/8
  // + c] = x[8c + l]; avx512: out[l * K/16 + c] = x[16c + l].
  void (*lanes_x)(const float* x, int64_t K, float* out);
  // The table a deterministic stream (StreamParams::deterministic) runs
  // instead, or nullptr: this one is batch-invariant (avx512-amx is not
  // across its AMX threshold; it names avx512).
  const Kernels* deterministic = nullptr;
};
constexpr int kLanesXMinT = 16;  // the x86 gemm's streaming kernel takes T <= 16, the panel kernel more

constexpr int kScratchRows = 8;   // rows of decoded weights per generic gemm tile; the
                                  // unit the threads split a gemm's rows in
constexpr int kPanelRows = 16;    // x86 prefill gemm: rows per decoded (row-major) panel
constexpr int kScratchPerDim = 2 * kPanelRows + 8;  // per-thread gemm scratch, floats per K (avx512: two panels)
constexpr int kMaxHeadDim = 512;  // attention keeps a head in stack arrays
constexpr int32_t kAttnBlock = 64;  // attention: positions per block (the fold's unit; = KvCells::kPage)
constexpr int kMaxAttnHeads = 8;  // query heads per attention block-kernel call (stack arrays)

const Kernels* kernels_generic();
#if defined(F8_HAVE_AVX2_KERNELS)
const Kernels* kernels_avx2();
#endif
#if defined(F8_HAVE_AVX512_KERNELS)
const Kernels* kernels_avx512();
#endif
#if defined(F8_HAVE_AMX_KERNELS)
const Kernels* kernels_avx512_amx();
#endif

// Best supported table for "auto" (at most the tier F8_CPU_ISA names, when
// set: avx512-amx, avx512, avx2 or generic), or the named one; nullptr if
// the CPU or this build lacks it (or F8_CPU_ISA names no tier).
const Kernels* select_kernels(const std::string& isa);
// Tiers this CPU and build run, best first (the order of kTiers).
std::vector<std::string> supported_isas();
// Whether Linux granted this process the AMX tile state
// (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)); asked once, and
// only when CPUID reports AMX.
bool amx_permitted();

}  // namespace f8backend::cpu::simd
