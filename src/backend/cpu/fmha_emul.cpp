// fmha_emul.cpp — CPU emulation of the FP8 FMHA kernel (see fmha_emul.h and
// kernels/fmha_math.h for the data flow).
#include "backend/cpu/fmha_emul.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/fmha_math.h"

namespace f8backend::cpu {

namespace fm = f8k::fmha;

void fmha_fp8_emulate(const CpuKVCache& c, int32_t layer, const float* q, const AttnBatch& b, float* out,
                      int64_t i0, int64_t i1) {
  const auto& kp = c.params();
  const int32_t D = kp.head_dim, H = b.n_heads;
  const int32_t group = kp.n_kv_heads > 0 ? H / kp.n_kv_heads : 1;
  const bool ok = kp.dtype == DType::E4M3 && fm::head_dim_ok(D) && group > 0;
  // Exact values of the 256 codes (a table: the inner loops decode per element).
  float val[256];
  for (int i = 0; i < 256; ++i) val[i] = ggf8::e4m3_to_f32(static_cast<uint8_t>(i));
  const float kmul = fm::k_mul(b.scale, c.k_scale(layer));
  const float vs = c.v_scale(layer);
  auto& cm = const_cast<CpuKVCache&>(c);
  const KvCells& kc = c.bookkeeping();
  std::vector<float> q8(D);
  std::vector<double> acc(D), step(D);
  float s2[fm::kPage];
  int32_t cell_of[fm::kPage];
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t t = i / H, h = i % H;
    float* o = out + i * D;
    const int32_t sq = b.seq[t], qp = b.pos[t];
    if (!ok || sq < 0 || sq >= kMaxSeq) {
      for (int32_t d = 0; d < D; ++d) o[d] = 0.0f;
      continue;
    }
    // Q: own scale per (token, head), codes as values.
    const float* qr = q + i * D;
    float amax = 0.0f;
    for (int32_t d = 0; d < D; ++d) amax = std::max(amax, std::fabs(qr[d]));
    const float qs = fm::q_scale(amax);
    for (int32_t d = 0; d < D; ++d) q8[d] = val[fm::q_code(qr[d], qs)];
    const float rmul = fm::row_mul(qs, kmul);
    const int64_t kvh = h / group;
    const int64_t lo = b.window > 0 ? int64_t(qp) - b.window : INT64_MIN;

    float m = f8k::attn::neg_inf();
    double l = 0.0;
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int32_t pg : kc.seq_pages(sq)) {
      const KvCells::Page& ps = kc.pages()[pg];
      if (ps.pos_min > qp || ps.pos_max <= lo) continue;  // nothing visible: a no-op step
      const int32_t c0 = kc.page_begin(pg), c1 = kc.page_end(pg);
      float mb = f8k::attn::neg_inf();
      for (int32_t ci = c0; ci < c1; ++ci) {
        const int32_t j = ci - c0;
        cell_of[j] = ci;
        if (!f8k::attn::visible(c.cells()[ci].seqs, c.cells()[ci].pos, sq, qp, b.window)) {
          s2[j] = f8k::attn::neg_inf();
          continue;
        }
        const uint8_t* kr = cm.k_row(layer, ci) + kvh * D;
        double dot = 0.0;
        for (int32_t d = 0; d < D; ++d) dot += double(q8[d]) * val[kr[d]];
        s2[j] = fm::score(static_cast<float>(dot), rmul, b.softcap);
        mb = std::max(mb, s2[j]);
      }
      const float mn = std::max(m, mb);
      const float corr = f8k::attn::rescale(m, mn);
      // The kernel keeps l and acc in FP32 registers: round the same way.
      l = static_cast<float>(l * corr);
      for (int32_t d = 0; d < D; ++d) acc[d] = static_cast<float>(acc[d] * corr);
      double lsum = 0.0;
      std::fill(step.begin(), step.end(), 0.0);
      for (int32_t j = 0; j < c1 - c0; ++j) {
        const uint8_t p8 = fm::p_code(s2[j], mn);
        if (!p8) continue;
        const double pv = fm::p_value(p8);
        lsum += pv;
        const uint8_t* vr = cm.v_row(layer, cell_of[j]) + kvh * D;
        for (int32_t d = 0; d < D; ++d) step[d] += pv * val[vr[d]];
      }
      l = static_cast<float>(l + lsum);
      for (int32_t d = 0; d < D; ++d) acc[d] = static_cast<float>(acc[d] + step[d]);
      m = mn;
    }
    for (int32_t d = 0; d < D; ++d) o[d] = f8k::attn::finalize(float(acc[d]), float(l), vs);
  }
}

}  // namespace f8backend::cpu
