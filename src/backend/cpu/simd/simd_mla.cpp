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
  // Per thread: absorbed: a weight row (R), a run's latent rows (64 x (R + P)),
  // the heads' running states (kHeadsPerItem x (R + 2)), scores (64), accb
  // (R); expanded: scores (64), accb (V) (and thread 0's latent row).
  const size_t ab = R + 64 * (R + P) + size_t(kHeadsPerItem) * (R + 2) + 64 + R;
  for (auto& t : tw_) grow(t, std::max(ab, 64 + size_t(d.v) + R + P));
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

namespace {

// A token's visible cells: the prefix of its sequence's position-ordered
// list with position <= pos (MLA has no window). End index of that prefix.
int64_t visible_end(const KvCells& kc, const std::vector<KvCells::Cell>& cl, int32_t seq, int32_t pos) {
  if (seq < 0 || seq >= kMaxSeq) return 0;
  const std::vector<int32_t>& order = kc.seq_cells(seq);
  return std::upper_bound(order.begin(), order.end(), pos,
                          [&](int32_t v, int32_t cell) { return v < cl[size_t(cell)].pos; }) -
         order.begin();
}

// The run starting at order[e]: cells of one position block (pos / 64), at
// most kAttnBlock of them, before e1.
int64_t run_end(const std::vector<int32_t>& order, const std::vector<KvCells::Cell>& cl, int64_t e, int64_t e1) {
  const int32_t blk = cl[size_t(order[size_t(e)])].pos / kAttnBlock;
  int64_t f = e;
  while (f < e1 && f - e < kAttnBlock && cl[size_t(order[size_t(f)])].pos / kAttnBlock == blk) ++f;
  return f;
}

// Fold a block partial (mb, lb, accb[n]) into the running (m, l, acc[n]);
// *first: nothing folded yet (then the partial is taken as it is).
inline void fold(float mb, float lb, const float* accb, int32_t n, bool* first, float* m, float* l, float* acc) {
  if (*first) {
    *m = mb;
    *l = lb;
    std::copy(accb, accb + n, acc);
    *first = false;
    return;
  }
  const float M = std::max(*m, mb);
  const float ca = std::exp(*m - M), cb = std::exp(mb - M);
  *l = *l * ca + lb * cb;
  for (int32_t i = 0; i < n; ++i) acc[i] = acc[i] * ca + accb[i] * cb;
  *m = M;
}

// A block partial from nothing: scores sc[nv] (overwritten by p_j), rows
// x_j = rows + j * stride (n values); mb, lb, accb[n] in position order.
inline void block_partial(float* sc, int32_t nv, const float* rows, int64_t stride, int32_t n, float* mb, float* lb,
                          float* accb) {
  float mx = -INFINITY;
  for (int32_t j = 0; j < nv; ++j) mx = std::max(mx, sc[j]);
  float sum = 0.0f;
  for (int32_t j = 0; j < nv; ++j) {
    sc[j] = std::exp(sc[j] - mx);
    sum += sc[j];
  }
  std::fill(accb, accb + n, 0.0f);
  for (int32_t j = 0; j < nv; ++j) axpy(sc[j], rows + j * stride, accb, n);
  *mb = mx;
  *lb = sum;
}

}  // namespace

void SimdMla::expanded(Stream& s, ThreadPool& pool, const Kernels& k, CpuKVCache& c, int32_t layer, const float* q,
                       const Weight& kv_b, const MlaDims& d, const AttnBatch& b, float* out) {
  const int32_t T = b.n_tokens, H = d.n_heads, N = d.nope, P = d.rope, V = d.v, R = d.kv_lora;
  const int32_t QD = N + P, NV = N + V;
  const int64_t KVW = int64_t(H) * NV;
  const KvCells& kc = c.bookkeeping();
  const auto& cl = c.cells();
  const int64_t items = int64_t(T) * H;
  std::fill(m_.begin(), m_.begin() + items, -INFINITY);  // -inf: nothing folded yet
  std::fill(l_.begin(), l_.begin() + items, 0.0f);
  // Per sequence of the batch: its tokens, then its position-ordered cells
  // up to the last position any of them sees, run by run (docs/backend.md
  // "Invariance"): a run's latent rows up-projected by the stream's gemm
  // (batch-invariant: a row's k, v do not depend on the other rows), then
  // every (token of the sequence, head) folds its partial over the run's
  // cells it sees (a prefix of the run: positions ascend).
  std::vector<int32_t>& toks = cells_;
  for (int32_t sq = 0; sq < kMaxSeq; ++sq) {
    toks.clear();
    int32_t maxpos = -1;
    for (int32_t t = 0; t < T; ++t)
      if (b.seq[t] == sq) toks.push_back(t), maxpos = std::max(maxpos, b.pos[t]);
    if (toks.empty()) continue;
    const std::vector<int32_t>& order = kc.seq_cells(sq);
    const int64_t e1 = visible_end(kc, cl, sq, maxpos);
    const int64_t sitems = int64_t(toks.size()) * H;
    for (int64_t e = 0; e < e1;) {
      const int64_t f = run_end(order, cl, e, e1);
      const int32_t n = int32_t(f - e);
      for (int32_t j = 0; j < n; ++j) {
        float* lat = tw_[0].data();  // R + P floats (thread 0's; the pool is idle here)
        load_latent(k, c, layer, order[size_t(e + j)], lat);
        std::copy(lat, lat + R, cbuf_.data() + int64_t(j) * R);
        std::copy(lat + R, lat + R + P, pbuf_.data() + int64_t(j) * P);
      }
      s.gemm(cbuf_.data(), n, kv_b, kv_.data());  // [n, H (N + V)]: every head's k_nope, v
      const int64_t nc = chunks(sitems, pool);
      pool.for_chunks(nc, [&](int tid, int64_t ch) {
        int64_t i0, i1;
        ThreadPool::split(sitems, ch, nc, 1, &i0, &i1);
        float* sc = tw_[size_t(tid)].data();  // kAttnBlock scores, then accb[V]
        float* accb = sc + kAttnBlock;
        for (int64_t si = i0; si < i1; ++si) {
          const int32_t t = toks[size_t(si / H)], h = int32_t(si % H);
          int32_t nv = 0;  // the run's cells t sees
          while (nv < n && cl[size_t(order[size_t(e + nv)])].pos <= b.pos[t]) ++nv;
          if (nv == 0) continue;
          const int64_t i = int64_t(t) * H + h;
          const float* qh = q + i * QD;
          for (int32_t j = 0; j < nv; ++j) {
            const float* kr = kv_.data() + j * KVW + int64_t(h) * NV;
            sc[j] = (dot(qh, kr, N) + dot(qh + N, pbuf_.data() + int64_t(j) * P, P)) * b.scale;
          }
          float mb, lb;
          block_partial(sc, nv, kv_.data() + int64_t(h) * NV + N, KVW, V, &mb, &lb, accb);
          bool first = m_[size_t(i)] == -INFINITY;
          fold(mb, lb, accb, V, &first, &m_[size_t(i)], &l_[size_t(i)], acc_.data() + i * V);
        }
      });
      e = f;
    }
  }
  for (int64_t i = 0; i < items; ++i) {
    const float l = l_[size_t(i)];
    const float inv = l > 0 ? 1.0f / l : 0.0f;
    for (int32_t o = 0; o < V; ++o) out[i * V + o] = l > 0 ? acc_[size_t(i * V + o)] * inv : 0.0f;
  }
}

void SimdMla::absorbed(ThreadPool& pool, const Kernels& k, CpuKVCache& c, int32_t layer, const float* q,
                       const Weight& kv_b, const MlaDims& d, const AttnBatch& b, int32_t t0, int32_t nt, float* out) {
  const int32_t H = d.n_heads, N = d.nope, P = d.rope, V = d.v, R = d.kv_lora;
  const int32_t QD = N + P, NV = N + V, W = R + P;
  float* qlat = qlat_.data();
  float* olat = olat_.data();
  // 1. q_lat[t, h] = W_UK[h]^T q_nope[t, h]: per head, each W_UK row once
  //    (per token: a fixed sequence of axpys over i ascending).
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
  // 2. Attention over the latent rows: items of (token, g heads). The
  //    token's visible cells in position order, run by run (position blocks
  //    of 64): the run's rows decoded once for the g heads, per head a block
  //    partial from nothing, folded in ascending order (docs/backend.md
  //    "Invariance").
  const int32_t g = std::min(H, kHeadsPerItem), HG = (H + g - 1) / g;
  const int64_t items = int64_t(nt) * HG;
  const int64_t ni = chunks(items, pool);
  const KvCells& kc = c.bookkeeping();
  const auto& cl = c.cells();
  pool.for_chunks(ni, [&](int tid, int64_t ch) {
    int64_t i0, i1;
    ThreadPool::split(items, ch, ni, 1, &i0, &i1);
    float* rows = tw_[size_t(tid)].data() + R;              // kAttnBlock x (R + P)
    float* st = rows + int64_t(kAttnBlock) * W;             // g x (m, l, acc[R])
    float* sc = st + int64_t(kHeadsPerItem) * (R + 2);      // kAttnBlock
    float* accb = sc + kAttnBlock;                          // R
    for (int64_t it = i0; it < i1; ++it) {
      const int32_t tt = int32_t(it / HG), ha = int32_t(it % HG) * g, hb = std::min(H, ha + g);
      const int32_t t = t0 + tt;
      const int64_t e1 = visible_end(kc, cl, b.seq[t], b.pos[t]);
      bool first[kHeadsPerItem];
      std::fill(first, first + kHeadsPerItem, true);
      const std::vector<int32_t>* order = e1 > 0 ? &kc.seq_cells(b.seq[t]) : nullptr;
      for (int64_t e = 0; e < e1;) {
        const int64_t f = run_end(*order, cl, e, e1);
        const int32_t nv = int32_t(f - e);
        for (int32_t j = 0; j < nv; ++j) load_latent(k, c, layer, (*order)[size_t(e + j)], rows + int64_t(j) * W);
        for (int32_t h = ha; h < hb; ++h) {
          const int64_t th = int64_t(tt) * H + h;
          const float* qpe = q + (int64_t(t) * H + h) * QD + N;
          for (int32_t j = 0; j < nv; ++j) {
            const float* lat = rows + int64_t(j) * W;
            sc[j] = (dot(qlat + th * R, lat, R) + dot(qpe, lat + R, P)) * b.scale;
          }
          float mb, lb;
          block_partial(sc, nv, rows, W, R, &mb, &lb, accb);
          float* s = st + int64_t(h - ha) * (R + 2);
          fold(mb, lb, accb, R, &first[h - ha], &s[0], &s[1], s + 2);
        }
        e = f;
      }
      for (int32_t h = ha; h < hb; ++h) {
        const float* s = st + int64_t(h - ha) * (R + 2);
        float* o = olat + (int64_t(tt) * H + h) * R;
        if (first[h - ha]) {  // sees no cell
          std::fill(o, o + R, 0.0f);
          continue;
        }
        const float inv = s[1] > 0 ? 1.0f / s[1] : 0.0f;
        for (int32_t j = 0; j < R; ++j) o[j] = s[1] > 0 ? s[2 + j] * inv : 0.0f;
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
