// simd_moe.h — cpu/simd's grouped MoE experts (Stream::moe_ffn): tokens
// grouped by expert so each routed expert's weights are read once per call,
// every gemm through the kernel table's gemm_rows (the same per-row
// arithmetic as gemm()), two thread-pool dispatches per call (gate/up of all
// routed experts, then their down projections).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/simd/kernels.h"
#include "backend/threadpool.h"

namespace f8backend::cpu::simd {

class GroupedMoe {
 public:
  // scratch[tid]: kScratchPerDim * max(H, F) floats per pool thread.
  void ffn(ThreadPool& pool, const Kernels& k, const std::vector<std::unique_ptr<Buffer>>& scratch, const float* x,
           int32_t T, const MoeExperts& e, const int32_t* ids, const float* w, int32_t n_used, float* y, ActQuant act);

 private:
  // One piece of work: rows [r0, r1) of weight `mat` for the tokens of its expert.
  struct Item {
    int32_t mat;     // index into mats_
    int64_t r0, r1;
  };
  struct Mat {
    Weight w;        // one expert's 2-D matrix
    GemmArgs a;      // its gemm over that expert's gathered rows
  };
  void build_items(const std::vector<Mat>& mats, int32_t first, int32_t count, int threads);

  std::vector<int32_t> offsets_, order_, cursor_, slot_of_, routed_;
  std::vector<float> xg_, g_, u_, o_, sx_, sg_, xq_;  // gathered x, gate, up, out; act scales
  std::vector<Mat> mats_;
  std::vector<Item> items_;
};

}  // namespace f8backend::cpu::simd
