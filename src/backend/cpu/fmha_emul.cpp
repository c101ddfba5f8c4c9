// fmha_emul.cpp — CPU emulation of the FP8 FMHA kernel (see fmha_emul.h and
// kernels/fmha_math.h for the data flow).
#include "backend/cpu/fmha_emul.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/fmha_math.h"

namespace f8backend::cpu {

namespace fm = f8k::fmha;

void fmha_decode_layer(const CpuKVCache& c, int32_t layer, FmhaLayerValues* out) {
  const auto& kp = c.params();
  if (kp.dtype != DType::E4M3) {
    out->k.clear();
    out->v.clear();
    return;
  }
  float val[256];  // exact values of the 256 codes
  for (int i = 0; i < 256; ++i) val[i] = ggf8::e4m3_to_f32(static_cast<uint8_t>(i));
  auto& cm = const_cast<CpuKVCache&>(c);
  const size_t row = c.row_elems(), n = size_t(c.hi()) * row;
  out->k.resize(n);
  out->v.resize(n);
  for (int32_t ci = 0; ci < c.hi(); ++ci) {
    const uint8_t* kr = cm.k_row(layer, ci);
    const uint8_t* vr = cm.v_row(layer, ci);
    float* kd = out->k.data() + size_t(ci) * row;
    float* vd = out->v.data() + size_t(ci) * row;
    for (size_t e = 0; e < row; ++e) {
      kd[e] = val[kr[e]];
      vd[e] = val[vr[e]];
    }
  }
}

void fmha_fp8_emulate(const CpuKVCache& c, const FmhaLayerValues& kv, int32_t layer, const float* q,
                      const AttnBatch& b, float* out, int64_t i0, int64_t i1) {
  const auto& kp = c.params();
  const int32_t D = kp.head_dim, H = b.n_heads, KVH = kp.n_kv_heads;
  const int32_t group = KVH > 0 ? H / KVH : 0;
  const int32_t hi = c.hi();
  const size_t row = size_t(KVH) * D;
  const bool ok = kp.dtype == DType::E4M3 && fm::head_dim_ok(D) && group > 0 && kv.k.size() == size_t(hi) * row &&
                  kv.v.size() == kv.k.size();
  if (!ok) {
    std::fill(out + i0 * D, out + i1 * D, 0.0f);
    return;
  }
  float val[256];  // exact values of the 256 codes (Q's codes below)
  for (int i = 0; i < 256; ++i) val[i] = ggf8::e4m3_to_f32(static_cast<uint8_t>(i));
  const float* kf = kv.k.data();
  const float* vf = kv.v.data();
  const float kmul = fm::k_mul(b.scale, c.k_scale(layer));
  const float vs = c.v_scale(layer);
  const KvCells& kc = c.bookkeeping();
  std::vector<float> qhi(D), qlo(D), acc(D), step(D);
  float s2[fm::kPage];
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t t = i / H, h = i % H;
    float* o = out + i * D;
    const int32_t sq = b.seq[t], qp = b.pos[t];
    if (sq < 0 || sq >= kMaxSeq) {
      std::fill(o, o + D, 0.0f);
      continue;
    }
    // Q: two E4M3 terms with their own scales per (token, head), codes as values.
    const float* qr = q + i * D;
    float amax = 0.0f, ramax = 0.0f;
    for (int32_t d = 0; d < D; ++d) amax = std::max(amax, std::fabs(qr[d]));
    const float qs = fm::q_scale(amax);
    for (int32_t d = 0; d < D; ++d) {
      const uint8_t hi = fm::q_code(qr[d], qs);
      qhi[d] = val[hi];
      qlo[d] = fm::q_residual(qr[d], hi, qs);  // the residual for now
      ramax = std::max(ramax, std::fabs(qlo[d]));
    }
    const float rs = fm::q_scale(ramax);
    for (int32_t d = 0; d < D; ++d) qlo[d] = val[fm::q_code(qlo[d], rs)];
    const float rmul_hi = fm::row_mul(qs, kmul), rmul_lo = fm::row_mul(rs, kmul);
    const size_t kvo = size_t(h / group) * D;
    const int64_t lo = b.window > 0 ? int64_t(qp) - b.window : INT64_MIN;

    float m = f8k::attn::neg_inf(), l = 0.0f;
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int32_t pg : kc.seq_pages(sq)) {
      const KvCells::Page& ps = kc.pages()[pg];
      if (ps.pos_min > qp || ps.pos_max <= lo) continue;  // nothing visible: a no-op step
      const int32_t c0 = kc.page_begin(pg), c1 = std::min(kc.page_end(pg), hi);
      float mb = f8k::attn::neg_inf();
      for (int32_t ci = c0; ci < c1; ++ci) {
        const int32_t j = ci - c0;
        if (!f8k::attn::visible(c.cells()[ci].seqs, c.cells()[ci].pos, sq, qp, b.window)) {
          s2[j] = f8k::attn::neg_inf();
          continue;
        }
        const float* kr = kf + size_t(ci) * row + kvo;
        s2[j] = fm::score(fm::dot_lanes(qhi.data(), kr, D), fm::dot_lanes(qlo.data(), kr, D), rmul_hi, rmul_lo,
                          b.softcap);
        mb = std::max(mb, s2[j]);
      }
      const float mn = std::max(m, mb);
      const float corr = f8k::attn::rescale(m, mn);
      l *= corr;
      for (int32_t d = 0; d < D; ++d) acc[d] *= corr;
      float lsum = 0.0f;
      std::fill(step.begin(), step.end(), 0.0f);
      for (int32_t ci = c0; ci < c1; ++ci) {
        const uint8_t p8 = fm::p_code(s2[ci - c0], mn);
        if (!p8) continue;
        const float pv = fm::p_value(p8);
        lsum += pv;
        const float* vr = vf + size_t(ci) * row + kvo;
        for (int32_t d = 0; d < D; ++d) step[d] += pv * vr[d];
      }
      l += lsum;
      for (int32_t d = 0; d < D; ++d) acc[d] += step[d];
      m = mn;
    }
    if (b.sinks) {  // gpt-oss: the head's sink joins l (in P's x256 units), as the kernel does
      const float corr = f8k::attn::fold_sink(m, f8k::attn::sink_log2(b.sinks[h]), &l, fm::kPScale);
      for (int32_t d = 0; d < D; ++d) acc[d] *= corr;
    }
    for (int32_t d = 0; d < D; ++d) o[d] = f8k::attn::finalize(acc[d], l, vs);
  }
}

}  // namespace f8backend::cpu
