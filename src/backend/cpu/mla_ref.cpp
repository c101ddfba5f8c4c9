// mla_ref.cpp — cpu/ref's multi-head latent attention: the oracle. Each
// form is computed as backend.h defines it, with double accumulation for
// every sum (each materialized FP32 value — k, v, q_lat, o_lat — rounded to
// float once, as a float pipeline would hold it) and the softmax in double
// as RefStream::attention does, every sum over cells in position order (the
// token's sequence's seq_cells: docs/backend.md "Invariance"; one global
// max, no blocks, as cpu-ref's attention). Slow by design: the up-projections of the
// expanded form are recomputed per query token and head.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/mla_cpu.h"

namespace f8backend::cpu {

namespace {

bool is_fp8(DType d) { return d == DType::E4M3 || d == DType::E5M2; }

// Element [n, k] of w, decoded and scaled.
double wval(const Weight& w, int64_t n, int64_t k) {
  return double(load_elem(weight_row(w, n), w.dtype, k)) * double(weight_scale(w, n, k));
}

// y[i] = float(sum_j W[row0 + i, j] x[j]) for i < n (j < R).
void matvec(const Weight& w, int64_t row0, int32_t n, const float* x, int32_t R, float* y) {
  for (int32_t i = 0; i < n; ++i) {
    double a = 0;
    for (int32_t j = 0; j < R; ++j) a += wval(w, row0 + i, j) * double(x[j]);
    y[i] = float(a);
  }
}

}  // namespace

void mla_load_row(const CpuKVCache& c, int32_t layer, int32_t cell, float* dst) {
  const auto& p = c.params();
  const int32_t R = p.mla_kv_lora, W = p.head_dim;
  const bool fp8 = is_fp8(p.dtype);
  const float ks = fp8 ? c.k_scale(layer) : 1.0f, vs = fp8 ? c.v_scale(layer) : 1.0f;
  const uint8_t* row = const_cast<CpuKVCache&>(c).k_row(layer, cell);
  for (int32_t i = 0; i < W; ++i) dst[i] = load_elem(row, p.dtype, i) * (i < R ? ks : vs);
}

void ref_mla_kv_store(CpuKVCache& cache, int32_t layer, const float* c, const float* kpe, const int32_t* cells,
                      int32_t T) {
  const auto& p = cache.params();
  const int32_t R = p.mla_kv_lora, P = p.head_dim - R;
  const size_t es = elem_size(p.dtype);
  for (int32_t t = 0; t < T; ++t) {
    uint8_t* row = cache.k_row(layer, cells[t]);
    store_row_scalar(c + int64_t(t) * R, R, p.dtype, cache.k_scale(layer), row);
    store_row_scalar(kpe + int64_t(t) * P, P, p.dtype, cache.v_scale(layer), row + size_t(R) * es);
  }
}

void ref_mla_attention(CpuKVCache& cache, int32_t layer, const float* q, const Weight& kv_b, const MlaDims& d,
                       MlaForm form, const AttnBatch& b, float* out) {
  const int32_t H = d.n_heads, N = d.nope, P = d.rope, V = d.v, R = d.kv_lora, QD = N + P;
  const KvCells& kc = cache.bookkeeping();
  const auto& cl = cache.cells();
  std::vector<float> row(static_cast<size_t>(R + P)), k(static_cast<size_t>(N)), v(static_cast<size_t>(V));
  std::vector<float> q_lat(static_cast<size_t>(R)), o_lat(static_cast<size_t>(R));
  std::vector<float> sc;
  std::vector<double> acc;
  for (int32_t t = 0; t < b.n_tokens; ++t)
    for (int32_t h = 0; h < H; ++h) {
      const float* qh = q + (int64_t(t) * H + h) * QD;
      float* oh = out + (int64_t(t) * H + h) * V;
      const int64_t uk = int64_t(h) * (N + V), uv = uk + N;  // rows of W_UK[h], W_UV[h] in kv_b
      if (form == MlaForm::Absorbed)  // q_lat[j] = sum_i q_nope[i] W_UK[h][i, j]
        for (int32_t j = 0; j < R; ++j) {
          double a = 0;
          for (int32_t i = 0; i < N; ++i) a += double(qh[i]) * wval(kv_b, uk + i, j);
          q_lat[size_t(j)] = float(a);
        }
      // Scores of the visible cells (a prefix of the position order).
      std::vector<int32_t> vis;
      if (b.seq[t] >= 0 && b.seq[t] < kMaxSeq)
        for (int32_t cell : kc.seq_cells(b.seq[t]))
          if (mla_visible(cl[size_t(cell)], b.seq[t], b.pos[t])) vis.push_back(cell);
      sc.assign(vis.size(), -INFINITY);
      float mx = -INFINITY;
      for (size_t e = 0; e < vis.size(); ++e) {
        const int32_t cell = vis[e];
        mla_load_row(cache, layer, cell, row.data());
        double s = 0;
        if (form == MlaForm::Expanded) {
          matvec(kv_b, uk, N, row.data(), R, k.data());
          for (int32_t i = 0; i < N; ++i) s += double(qh[i]) * double(k[size_t(i)]);
        } else {
          for (int32_t j = 0; j < R; ++j) s += double(q_lat[size_t(j)]) * double(row[size_t(j)]);
        }
        for (int32_t i = 0; i < P; ++i) s += double(qh[N + i]) * double(row[size_t(R + i)]);
        sc[e] = float(s) * b.scale;
        mx = std::max(mx, sc[e]);
      }
      // Softmax-weighted sum: of the expanded v (V), or of the latent c (R).
      const int32_t AW = form == MlaForm::Expanded ? V : R;
      acc.assign(size_t(AW), 0.0);
      double sum = 0;
      if (mx != -INFINITY)
        for (size_t e = 0; e < vis.size(); ++e) {
          const int32_t cell = vis[e];
          const double pr = std::exp(double(sc[e]) - mx);
          sum += pr;
          mla_load_row(cache, layer, cell, row.data());
          if (form == MlaForm::Expanded) {
            matvec(kv_b, uv, V, row.data(), R, v.data());
            for (int32_t i = 0; i < V; ++i) acc[size_t(i)] += pr * double(v[size_t(i)]);
          } else {
            for (int32_t j = 0; j < R; ++j) acc[size_t(j)] += pr * double(row[size_t(j)]);
          }
        }
      if (form == MlaForm::Expanded) {
        for (int32_t i = 0; i < V; ++i) oh[i] = sum > 0 ? float(acc[size_t(i)] / sum) : 0.0f;
      } else {
        for (int32_t j = 0; j < R; ++j) o_lat[size_t(j)] = sum > 0 ? float(acc[size_t(j)] / sum) : 0.0f;
        matvec(kv_b, uv, V, o_lat.data(), R, oh);  // out = W_UV[h] o_lat
      }
    }
}

}  // namespace f8backend::cpu
