// simd_mla.cpp — see simd_mla.h.
#include "backend/cpu/simd/simd_mla.h"

#include <algorithm>
#include <cmath>

#include "backend/cpu/mla_cpu.h"

namespace f8backend::cpu::simd {

namespace {

constexpr int kLanes = 8;

// sum a[i] b[i]: kLanes interleaved partial sums, then the tail (fixed order).
inline float dot(const float* a, const float* b, int32_t n) {
  float s[kLanes] = {};
  int32_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) s[l] += a[i + l] * b[i + l];
  float r = 0.0f;
  for (int l = 0; l < kLanes; ++l) r += s[l];
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}
inline void axpy(float a, const float* x, float* y, int32_t n) {
  for (int32_t i = 0; i < n; ++i) y[i] += a * x[i];
}
inline void scale_by(float a, float* y, int32_t n) {
  for (int32_t i = 0; i < n; ++i) y[i] *= a;
}

// Row n of w decoded exactly (block scales per column block).
void decode_wrow(const Kernels& k, const Weight& w, int64_t n, float* dst) {
  const uint8_t* row = weight_row(w, n);
  if (w.scale_kind != ScaleKind::Block) return k.decode_row(row, w.dtype, w.cols, weight_scale(w, n, 0), dst);
  const size_t es = elem_size(w.dtype);
  for (int64_t k0 = 0; k0 < w.cols; k0 += w.block_cols) {
    const int64_t len = std::min<int64_t>(w.block_cols, w.cols - k0);
    k.decode_row(row + k0 * int64_t(es), w.dtype, len, weight_scale(w, n, k0), dst + k0);
  }
}

bool is_fp8(DType d) { return d == DType::E4M3 || d == DType::E5M2; }

// A cell's latent row dequantized: dst[R + P].
void load_latent(const Kernels& k, CpuKVCache& c, int32_t layer, int32_t cell, float* dst) {
  const auto& p = c.params();
  const int32_t R = p.mla_kv_lora, P = p.head_dim - R;
  const bool fp8 = is_fp8(p.dtype);
  const uint8_t* row = c.k_row(layer, cell);
  k.decode_row(row, p.dtype, R, fp8 ? c.k_scale(layer) : 1.0f, dst);
  k.decode_row(row + int64_t(R) * int64_t(elem_size(p.dtype)), p.dtype, P, fp8 ? c.v_scale(layer) : 1.0f, dst + R);
}

// One online-softmax step: score s, values x[n] into (m, l, acc[n]).
inline void online(float s, const float* x, int32_t n, float* m, float* l, float* acc) {
  if (s > *m) {
    const float corr = std::exp(*m - s);  // 0 when m = -inf
    *l *= corr;
    scale_by(corr, acc, n);
    *m = s;
  }
  const float p = std::exp(s - *m);
  *l += p;
  axpy(p, x, acc, n);
}

int64_t chunks(int64_t items, const ThreadPool& pool) { return ThreadPool::chunks_for(items, pool.size()); }

}  // namespace

void SimdMla::reserve(const MlaDims& d, int32_t T, int n_threads) {
  const size_t H = size_t(std::max(d.n_heads, 1)), R = size_t(d.kv_lora), P = size_t(d.rope);
  const size_t NV = size_t(d.nope) + size_t(d.v), TC = size_t(std::min(T, kTokChunk));
  auto grow = [](std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
  };
  grow(cbuf_, size_t(kCellChunk) * R);
  grow(pbuf_, size_t(kCellChunk) * P);
  grow(kv_, size_t(kCellChunk) * H * NV);
  grow(m_, size_t(T) * H);
  grow(l_, size_t(T) * H);
  grow(acc_, size_t(T) * H * size_t(d.v));
  grow(qlat_, TC * H * R);
  grow(olat_, TC * H * R);
  if (tw_.size() < size_t(n_threads)) tw_.resize(size_t(n_threads));
  for (auto& t : tw_) grow(t, R + (R + P) + size_t(kHeadsPerItem) * (R + 2));
}

void SimdMla::init(const StreamParams& p, int n_threads) {
  if (p.mla.n_heads > 0 && p.mla.kv_lora > 0) reserve(p.mla, p.max_tokens, n_threads);
}

void SimdMla::kv_store(const Kernels& k, CpuKVCache& c, int32_t layer, const float* cc, const float* kpe,
                       const int32_t* cells, int32_t T) {
  const auto& p = c.params();
  const int32_t R = p.mla_kv_lora, P = p.head_dim - R;
  const int64_t es = int64_t(elem_size(p.dtype));
  for (int32_t t = 0; t < T; ++t) {
    uint8_t* row = c.k_row(layer, cells[t]);
    k.encode_row(cc + int64_t(t) * R, R, p.dtype, c.k_scale(layer), row);
    k.encode_row(kpe + int64_t(t) * P, P, p.dtype, c.v_scale(layer), row + int64_t(R) * es);
  }
}

void SimdMla::attention(Stream& s, ThreadPool& pool, const Kernels& k, CpuKVCache& c, int32_t layer,
                        const float* q, const Weight& kv_b, const MlaDims& d, MlaForm form, const AttnBatch& b,
                        float* out) {
  reserve(d, b.n_tokens, pool.size());
  if (form == MlaForm::Expanded) return expanded(s, pool, k, c, layer, q, kv_b, d, b, out);
  for (int32_t t0 = 0; t0 < b.n_tokens; t0 += kTokChunk)
    absorbed(pool, k, c, layer, q, kv_b, d, b, t0, std::min(kTokChunk, b.n_tokens - t0), out);
}

void SimdMla::expanded(Stream& s, ThreadPool& pool, const Kernels& k, CpuKVCache& c, int32_t layer, const float* q,
                       const Weight& kv_b, const MlaDims& d, const AttnBatch& b, float* out) {
  const int32_t T = b.n_tokens, H = d.n_heads, N = d.nope, P = d.rope, V = d.v, R = d.kv_lora;
  const int32_t QD = N + P, NV = N + V;
  const int64_t KVW = int64_t(H) * NV;
  // The cells some query of the call sees: seen by a sequence of the batch
  // at or before that sequence's last position here.
  int32_t maxpos[kMaxSeq];
  std::fill(maxpos, maxpos + kMaxSeq, -1);
  for (int32_t t = 0; t < T; ++t)
    if (b.seq[t] >= 0 && b.seq[t] < kMaxSeq) maxpos[b.seq[t]] = std::max(maxpos[b.seq[t]], b.pos[t]);
  const auto& cl = c.cells();
  cells_.clear();
  for (int32_t cell = 0; cell < c.hi(); ++cell) {
    const auto& ce = cl[size_t(cell)];
    for (uint64_t m = ce.seqs; m; m &= m - 1)
      if (ce.pos <= maxpos[__builtin_ctzll(m)]) {
        cells_.push_back(cell);
        break;
      }
  }
  const int64_t items = int64_t(T) * H;
  std::fill(m_.begin(), m_.begin() + items, -INFINITY);
  std::fill(l_.begin(), l_.begin() + items, 0.0f);
  std::fill(acc_.begin(), acc_.begin() + items * V, 0.0f);
  for (size_t c0 = 0; c0 < cells_.size(); c0 += kCellChunk) {
    const int32_t n = int32_t(std::min<size_t>(kCellChunk, cells_.size() - c0));
    for (int32_t j = 0; j < n; ++j) {
      float* lat = tw_[0].data();  // R + P floats (thread 0's; the pool is idle here)
      load_latent(k, c, layer, cells_[c0 + size_t(j)], lat);
      std::copy(lat, lat + R, cbuf_.data() + int64_t(j) * R);
      std::copy(lat + R, lat + R + P, pbuf_.data() + int64_t(j) * P);
    }
    s.gemm(cbuf_.data(), n, kv_b, kv_.data());  // [n, H (N + V)]: every head's k_nope, v
    const int64_t nc = chunks(items, pool);
    pool.for_chunks(nc, [&](int, int64_t ch) {
      int64_t i0, i1;
      ThreadPool::split(items, ch, nc, 1, &i0, &i1);
      for (int64_t i = i0; i < i1; ++i) {
        const int32_t t = int32_t(i / H), h = int32_t(i % H);
        const float* qh = q + i * QD;
        float* a = acc_.data() + i * V;
        for (int32_t j = 0; j < n; ++j) {
          if (!mla_visible(cl[size_t(cells_[c0 + size_t(j)])], b.seq[t], b.pos[t])) continue;
          const float* kr = kv_.data() + j * KVW + int64_t(h) * NV;
          const float sc = (dot(qh, kr, N) + dot(qh + N, pbuf_.data() + int64_t(j) * P, P)) * b.scale;
          online(sc, kr + N, V, &m_[size_t(i)], &l_[size_t(i)], a);
        }
      }
    });
  }
  for (int64_t i = 0; i < items; ++i) {
    const float l = l_[size_t(i)];
    for (int32_t o = 0; o < V; ++o) out[i * V + o] = l > 0 ? acc_[size_t(i * V + o)] / l : 0.0f;
  }
}

void SimdMla::absorbed(ThreadPool& pool, const Kernels& k, CpuKVCache& c, int32_t layer, const float* q,
                       const Weight& kv_b, const MlaDims& d, const AttnBatch& b, int32_t t0, int32_t nt, float* out) {
  const int32_t H = d.n_heads, N = d.nope, P = d.rope, V = d.v, R = d.kv_lora;
  const int32_t QD = N + P, NV = N + V;
  float* qlat = qlat_.data();
  float* olat = olat_.data();
  // 1. q_lat[t, h] = W_UK[h]^T q_nope[t, h]: per head, each W_UK row once.
  std::fill(qlat, qlat + int64_t(nt) * H * R, 0.0f);
  const int64_t nh = chunks(H, pool);
  pool.for_chunks(nh, [&](int tid, int64_t ch) {
    int64_t h0, h1;
    ThreadPool::split(H, ch, nh, 1, &h0, &h1);
    float* wrow = tw_[size_t(tid)].data();
    for (int64_t h = h0; h < h1; ++h)
      for (int32_t i = 0; i < N; ++i) {
        decode_wrow(k, kv_b, h * NV + i, wrow);
        for (int32_t tt = 0; tt < nt; ++tt)
          axpy(q[(int64_t(t0 + tt) * H + h) * QD + i], wrow, qlat + (int64_t(tt) * H + h) * R, R);
      }
  });
  // 2. Attention over the latent rows: items of (token, g heads).
  const int32_t g = std::min(H, kHeadsPerItem), HG = (H + g - 1) / g;
  const int64_t items = int64_t(nt) * HG;
  const int64_t ni = chunks(items, pool);
  const auto& cl = c.cells();
  pool.for_chunks(ni, [&](int tid, int64_t ch) {
    int64_t i0, i1;
    ThreadPool::split(items, ch, ni, 1, &i0, &i1);
    float* lat = tw_[size_t(tid)].data() + R;      // R + P
    float* st = lat + R + P;                       // g x (m, l, acc[R])
    for (int64_t it = i0; it < i1; ++it) {
      const int32_t tt = int32_t(it / HG), ha = int32_t(it % HG) * g, hb = std::min(H, ha + g);
      const int32_t t = t0 + tt;
      for (int32_t h = ha; h < hb; ++h) {
        float* s = st + int64_t(h - ha) * (R + 2);
        s[0] = -INFINITY;
        s[1] = 0.0f;
        std::fill(s + 2, s + 2 + R, 0.0f);
      }
      for (int32_t cell = 0; cell < c.hi(); ++cell) {
        if (!mla_visible(cl[size_t(cell)], b.seq[t], b.pos[t])) continue;
        load_latent(k, c, layer, cell, lat);
        for (int32_t h = ha; h < hb; ++h) {
          const int64_t th = int64_t(tt) * H + h;
          const float sc =
              (dot(qlat + th * R, lat, R) + dot(q + (int64_t(t) * H + h) * QD + N, lat + R, P)) * b.scale;
          float* s = st + int64_t(h - ha) * (R + 2);
          online(sc, lat, R, &s[0], &s[1], s + 2);
        }
      }
      for (int32_t h = ha; h < hb; ++h) {
        const float* s = st + int64_t(h - ha) * (R + 2);
        float* o = olat + (int64_t(tt) * H + h) * R;
        for (int32_t j = 0; j < R; ++j) o[j] = s[1] > 0 ? s[2 + j] / s[1] : 0.0f;
      }
    }
  });
  // 3. out[t, h] = W_UV[h] o_lat[t, h]: per head, each W_UV row once.
  pool.for_chunks(nh, [&](int tid, int64_t ch) {
    int64_t h0, h1;
    ThreadPool::split(H, ch, nh, 1, &h0, &h1);
    float* wrow = tw_[size_t(tid)].data();
    for (int64_t h = h0; h < h1; ++h)
      for (int32_t o = 0; o < V; ++o) {
        decode_wrow(k, kv_b, h * NV + N + o, wrow);
        for (int32_t tt = 0; tt < nt; ++tt)
          out[(int64_t(t0 + tt) * H + h) * V + o] = dot(olat + (int64_t(tt) * H + h) * R, wrow, R);
      }
  });
}

}  // namespace f8backend::cpu::simd
