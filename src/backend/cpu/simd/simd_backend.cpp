// simd_backend.cpp — cpu/simd: the fast CPU backend. Ops split their work over
// a persistent thread pool and call the per-ISA kernel table (kernels.h).
// Every buffer an op needs is allocated in create_stream(), so a decode step
// allocates nothing.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backend/cpu/cpu_common.h"
#include "backend/cpu/fmha_emul.h"
#include "backend/cpu/simd/attention_plan.h"
#include "backend/cpu/simd/kernels.h"
#include "backend/cpu/simd/simd_backend.h"
#include "backend/cpu/simd/simd_mla.h"
#include "backend/cpu/simd/simd_moe.h"
#include "backend/moe_route.h"
#include "backend/threadpool.h"

namespace f8backend::cpu {
namespace {

using simd::Kernels;

// Below this many weight bytes a gemm runs on one thread: waking the pool
// costs more than it saves (a 32 KiB matrix takes ~1-2 us from cache).
constexpr int64_t kMinParallelBytes = 48 * 1024;
// Elementwise ops go parallel only above this many floats.
constexpr int64_t kMinParallelElems = 1 << 16;
// Smallest gemm chunk handed to one thread, in weight bytes.
constexpr int64_t kMinChunkBytes = 16 * 1024;

bool is_fp8(DType d) { return d == DType::E4M3 || d == DType::E5M2; }

class SimdStream final : public Stream {
 public:
  SimdStream(const StreamParams& p, const Kernels* k) : p_(p), k_(k), pool_(p.n_threads) {}

  Status init() {
    const int64_t dim = std::max<int64_t>(p_.max_dim, 1);
    scratch_.resize(pool_.size());
    for (auto& s : scratch_)
      if (Status st = host_alloc(sizeof(float) * simd::kScratchPerDim * dim, &s); !st.ok()) return st;
    // Emulate-GPU only, and max_dim is usually the vocabulary (the logits
    // row), so this can be ~100 MB: reserve it without touching it, so its
    // pages count toward RSS only once emulation writes them.
    {
      const size_t n = (sizeof(float) * static_cast<size_t>(p_.max_tokens) * dim + 63) / 64 * 64;
      void* q = std::aligned_alloc(64, n);
      if (!q) return Status::Error(Code::OutOfMemory, "alloc: cannot allocate " + std::to_string(n) + " bytes");
      xq_ = std::make_unique<HostBuffer>(q, n);
      void* l = std::aligned_alloc(64, n);  // lane-major x for the x86 prefill gemm, same terms
      if (!l) return Status::Error(Code::OutOfMemory, "alloc: cannot allocate " + std::to_string(n) + " bytes");
      xl_ = std::make_unique<HostBuffer>(l, n);
    }
    sx_.assign(p_.max_tokens, 1.0f);
    mla_.init(p_, pool_.size());
    return Status::Ok();
  }

  const StreamParams& params() const override { return p_; }
  void from_host(void* dst, const void* src, size_t n) override { std::memmove(dst, src, n); }
  void to_host(void* dst, const void* src, size_t n) override { std::memmove(dst, src, n); }
  void synchronize() override {}

  void embed(const Weight& table, const int32_t* ids, int32_t T, float* out) override {
    for (int32_t t = 0; t < T; ++t) {
      if (ids[t] < 0)
        std::fill(out + int64_t(t) * table.cols, out + int64_t(t + 1) * table.cols, 0.0f);
      else
        decode_weight_row(table, ids[t], out + t * table.cols);
    }
  }

  void rmsnorm(const float* x, const Weight& w, float eps, int32_t T, int32_t dim, float* out) override {
    run_items(T, static_cast<int64_t>(T) * dim, [&](int64_t t) {
      const float* xt = x + t * dim;
      k_->mul_rows(xt, k_->rms_scale(xt, dim, eps), w.data, w.dtype, dim, out + t * dim);
    });
  }

  void rope(float* x, int32_t T, int32_t n_heads, const int32_t* pos, const RopeParams& p) override {
    if (!same_rope(p)) {  // first call per params: the only allocation, outside steady state
      rope_p_ = rope_key(p);
      rope_inv_ = rope_inv_freq(p);
    }
    const int half = static_cast<int>(rope_inv_.size());
    for (int32_t t = 0; t < T; ++t) {
      float cs[simd::kMaxHeadDim / 2], sn[simd::kMaxHeadDim / 2];
      for (int i = 0; i < half; ++i) {
        const float a = static_cast<float>(pos[t]) * rope_inv_[i];
        cs[i] = std::cos(a) * p.attn_factor;  // YaRN mscale (1 otherwise: exact)
        sn[i] = std::sin(a) * p.attn_factor;
      }
      for (int32_t h = 0; h < n_heads; ++h) {
        float* v = x + (static_cast<int64_t>(t) * n_heads + h) * p.head_dim;
        for (int i = 0; i < half; ++i) {
          const float x0 = v[i], x1 = v[i + half];
          v[i] = x0 * cs[i] - x1 * sn[i];
          v[i + half] = x1 * cs[i] + x0 * sn[i];
        }
      }
    }
  }

  void gemm(const float* x, int32_t T, const Weight& w, float* y, const GemmOpts& o) override {
    const int64_t K = w.cols, N = w.rows;
    simd::GemmArgs a{x, T, &w, nullptr, o.bias, y};
    if (o.act != ActQuant::None && is_fp8(w.dtype)) {
      const float st = o.act == ActQuant::Static ? w.input_scale : 0.0f;
      float* xq = xq_->f32();
      run_items(T, static_cast<int64_t>(T) * K, [&](int64_t t) {
        sx_[t] = k_->quantize_row(x + t * K, K, st, xq + t * K);
      });
      a.x = xq;
      a.tok_scale = sx_.data();
    }
    a.xl = lanes_x(a.x, T, K);
    const int64_t bytes = N * K * static_cast<int64_t>(elem_size(w.dtype));
    const int max_threads = bytes < kMinParallelBytes ? 1 : pool_.size();
    const int64_t align = row_align(T);
    const int64_t nc = row_chunks(N, align, bytes, max_threads);
    pool_.for_chunks(
        nc,
        [&](int tid, int64_t c) {
          int64_t b, e;
          ThreadPool::split(N, c, nc, align, &b, &e);
          if (b < e) k_->gemm_rows(a, b, e, scratch_[tid]->f32());
        },
        max_threads);
  }

  // One dispatch for all jobs: the threads split the jobs' rows laid end to
  // end (job 0's rows, then job 1's, ...), so small matrices (k/v) no longer
  // cost a fork/join each. Emulate-GPU jobs quantize x per weight: one by one.
  void gemm_multi(const float* x, int32_t T, const GemmJob* jobs, int32_t n_jobs) override {
    constexpr int kMaxJobs = 4;
    bool plain = n_jobs <= kMaxJobs;
    for (int32_t i = 0; i < n_jobs && plain; ++i) plain = jobs[i].opts.act == ActQuant::None || !is_fp8(jobs[i].w->dtype);
    if (!plain) return Stream::gemm_multi(x, T, jobs, n_jobs);
    simd::GemmArgs a[kMaxJobs];
    int64_t start[kMaxJobs + 1] = {0};
    int64_t bytes = 0;
    const float* xl = lanes_x(x, T, jobs[0].w->cols);  // every job reads the same x [T, K]
    for (int32_t i = 0; i < n_jobs; ++i) {
      const Weight& w = *jobs[i].w;
      a[i] = simd::GemmArgs{x, T, &w, nullptr, jobs[i].opts.bias, jobs[i].y, xl};
      // Each job's rows start on a kScratchRows boundary of the joint range.
      const int64_t rows = (w.rows + simd::kScratchRows - 1) / simd::kScratchRows * simd::kScratchRows;
      start[i + 1] = start[i] + rows;
      bytes += w.rows * w.cols * static_cast<int64_t>(elem_size(w.dtype));
    }
    const int max_threads = bytes < kMinParallelBytes ? 1 : pool_.size();
    const int64_t align = row_align(T);
    const int64_t nc = row_chunks(start[n_jobs], align, bytes, max_threads);
    pool_.for_chunks(
        nc,
        [&](int tid, int64_t c) {
          int64_t b, e;
          ThreadPool::split(start[n_jobs], c, nc, align, &b, &e);
          for (int32_t i = 0; i < n_jobs; ++i) {
            const int64_t lo = std::max(b, start[i]) - start[i];
            const int64_t hi = std::min({e, start[i + 1], start[i] + a[i].w->rows}) - start[i];
            if (lo < hi) k_->gemm_rows(a[i], lo, hi, scratch_[tid]->f32());
          }
        },
        max_threads);
  }

  void swiglu(const float* g, const float* u, int64_t n, float* out) override {
    run_chunks(n, [&](int64_t b, int64_t e) { k_->swiglu(g + b, u + b, e - b, out + b); });
  }
  // GeGLU and the embedding scale: scalar loops (tanh has no vector kernel
  // here; both are O(n) beside the gemms around them).
  void geglu(const float* g, const float* u, int64_t n, float* out) override {
    run_chunks(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[i] = gelu_tanh_ref(g[i]) * u[i];
    });
  }
  void scale(float* x, int64_t n, float s) override {
    run_chunks(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) x[i] *= s;
    });
  }
  void add(float* x, const float* y, int64_t n) override {
    run_chunks(n, [&](int64_t b, int64_t e) { k_->add(x + b, y + b, e - b); });
  }
  void get_rows(const float* x, const int32_t* idx, int32_t M, int32_t dim, float* out) override {
    for (int32_t i = 0; i < M; ++i) std::memmove(out + i * dim, x + static_cast<int64_t>(idx[i]) * dim, dim * 4);
  }
  void sigmoid_scale_rows(float* x, const float* g, int32_t T, int32_t dim) override {
    run_items(T, int64_t(T) * dim, [&](int64_t t) {
      const float sg = 1.0f / (1.0f + std::exp(-g[t]));
      for (int32_t i = 0; i < dim; ++i) x[t * dim + i] *= sg;
    });
  }
  void moe_route(const float* logits, int32_t T, const MoeRoute& r, int32_t* ids, float* w) override {
    for (int32_t t = 0; t < T; ++t)
      moe_route_token(logits + int64_t(t) * r.n_expert, r, ids + int64_t(t) * r.k, w + int64_t(t) * r.k);
  }
  void moe_ffn(const float* x, int32_t T, const MoeExperts& e, const int32_t* ids, const float* w, int32_t k,
               float* y, ActQuant act) override {
    moe_.ffn(pool_, *k_, scratch_, x, T, e, ids, w, k, y, act);
  }

  void kv_store(KVCache& cache, int32_t layer, const float* k, const float* v, const int32_t* cells,
                int32_t T) override {
    auto& c = static_cast<CpuKVCache&>(cache);
    const int64_t n = c.row_elems();
    const DType dt = c.params().dtype;
    if (c.token_scales()) return store_token_scaled(c, layer, k, v, cells, T, k_->encode_row);
    for (int32_t t = 0; t < T; ++t) {
      k_->encode_row(k + t * n, n, dt, c.k_scale(layer), c.k_row(layer, cells[t]));
      k_->encode_row(v + t * n, n, dt, c.v_scale(layer), c.v_row(layer, cells[t]));
    }
  }

  void attention(KVCache& cache, int32_t layer, const float* q, const AttnBatch& b, float* out) override {
    if (b.fp8_fmha && !static_cast<const CpuKVCache&>(cache).token_scales()) {  // the GPU's FP8 FMHA, emulated
      const auto& c = static_cast<const CpuKVCache&>(cache);
      fmha_decode_layer(c, layer, &fmha_kv_);  // once, for every thread
      const int64_t items = int64_t(b.n_tokens) * b.n_heads;
      const int64_t nc = ThreadPool::chunks_for(items, pool_.size());
      pool_.for_chunks(nc, [&](int, int64_t ch) {
        int64_t i0, i1;
        ThreadPool::split(items, ch, nc, 1, &i0, &i1);
        if (i0 < i1) fmha_fp8_emulate(c, fmha_kv_, layer, q, b, out, i0, i1);
      });
      return;
    }
    // Query heads per work item: whole GQA groups of as many KV heads as
    // keep a run's decoded rows small (<= 512 values per cell: each cache row
    // is read in one contiguous span; kernels.h AttnItem); the planner
    // balances the threads by splitting long contexts into block ranges.
    const auto& c = static_cast<CpuKVCache&>(cache);
    const int32_t n_kv = c.params().n_kv_heads, D = c.params().head_dim;
    const int32_t group = (n_kv > 0 && b.n_heads % n_kv == 0) ? b.n_heads / n_kv : 1;
    int32_t nkv = 1;
    for (int32_t d = n_kv; d > 1; --d)
      if (n_kv % d == 0 && int64_t(d) * D <= kAttnSpan) {
        nkv = d;
        break;
      }
    const int32_t g = group * nkv;
    simd::AttnArgs a{q, out, &b, &cache, layer};
    a.heads_per_item = g;
    predecode_kv(static_cast<CpuKVCache&>(cache), layer, b, &a);
    simd::plan_attention(c, b, g, pool_.size(), &attn_plan_);
    const int64_t part_floats = attn_plan_.slots * g * simd::attn_slot_floats(D);
    if (int64_t(attn_parts_.size()) < part_floats) attn_parts_.resize(size_t(part_floats));
    a.items = attn_plan_.items.data();
    a.units = attn_plan_.units.data();
    a.folds = attn_plan_.folds.data();
    a.parts = attn_parts_.data();
    auto run = [&](int64_t items) {
      const int64_t nc = ThreadPool::chunks_for(items, pool_.size());
      pool_.for_chunks(nc, [&](int, int64_t ch) {
        int64_t i0, i1;
        ThreadPool::split(items, ch, nc, 1, &i0, &i1);
        if (i0 < i1) k_->attention(a, i0, i1);
      });
    };
    run(int64_t(attn_plan_.units.size()) - 1);
    if (!attn_plan_.folds.empty()) {  // the split tokens' slots, folded in position order
      a.fold_pass = true;
      run(int64_t(attn_plan_.folds.size()));
    }
  }

  void mla_kv_store(KVCache& cache, int32_t layer, const float* c, const float* kpe, const int32_t* cells,
                    int32_t T) override {
    mla_.kv_store(*k_, static_cast<CpuKVCache&>(cache), layer, c, kpe, cells, T);
  }
  void mla_attention(KVCache& cache, int32_t layer, const float* q, const Weight& kv_b, const MlaDims& d,
                     MlaForm form, const AttnBatch& b, float* out) override {
    mla_.attention(*this, pool_, *k_, static_cast<CpuKVCache&>(cache), layer, q, kv_b, d, form, b, out);
  }

  void argmax(const float* x, int32_t T, int32_t n, int32_t* out) override {
    for (int32_t t = 0; t < T; ++t) {
      const float* r = x + static_cast<int64_t>(t) * n;
      out[t] = static_cast<int32_t>(std::max_element(r, r + n) - r);  // first max
    }
  }

 private:
  // The frequency table depends on everything but the head stride (MLA
  // ropes q and k_pe with the same table and different strides).
  static RopeParams rope_key(RopeParams p) {
    if (p.n_rot == 0) p.n_rot = p.head_dim;
    p.head_dim = 0;
    return p;
  }
  bool same_rope(const RopeParams& p) const {
    const RopeParams k = rope_key(p);
    return !rope_inv_.empty() && std::memcmp(&k, &rope_p_, sizeof k) == 0;
  }
  // Decodes row n of w (any scale kind) into dst[cols].
  void decode_weight_row(const Weight& w, int64_t n, float* dst) {
    const uint8_t* row = weight_row(w, n);
    if (w.scale_kind != ScaleKind::Block) return k_->decode_row(row, w.dtype, w.cols, weight_scale(w, n, 0), dst);
    const size_t es = elem_size(w.dtype);
    for (int64_t k0 = 0; k0 < w.cols; k0 += w.block_cols) {
      const int64_t len = std::min<int64_t>(w.block_cols, w.cols - k0);
      k_->decode_row(row + k0 * es, w.dtype, len, weight_scale(w, n, k0), dst + k0);
    }
  }
  // Prefill-sized batches: the K and V rows of every sequence with >= 4
  // queries in the call, decoded once (row by row over all KV heads: the same
  // values the kernel's per-head decode gives, elementwise exact) instead of
  // once per query token. Entries [0, rows[s]) of its position list: up to
  // the last one its queries see. (Halved prefill attention's decode work.)
  void predecode_kv(CpuKVCache& c, int32_t layer, const AttnBatch& b, simd::AttnArgs* a) {
    constexpr int32_t kMinQueries = 4;
    if (b.n_tokens < kMinQueries) return;
    int32_t count[kMaxSeq] = {}, maxpos[kMaxSeq];
    for (int32_t t = 0; t < b.n_tokens; ++t) {
      const int32_t s = b.seq[t];
      if (s < 0 || s >= kMaxSeq) continue;
      maxpos[s] = count[s]++ ? std::max(maxpos[s], b.pos[t]) : b.pos[t];
    }
    const KvCells& kc = c.bookkeeping();
    int64_t total = 0;
    for (int32_t s = 0; s < kMaxSeq; ++s) {
      pre_rows_[s] = 0;
      pre_row0_[s] = total;
      if (count[s] < kMinQueries) continue;
      const std::vector<int32_t>& o = kc.seq_cells(s);
      const int32_t mp = maxpos[s];
      pre_rows_[s] = static_cast<int32_t>(
          std::upper_bound(o.begin(), o.end(), mp, [&](int32_t v, int32_t cell) { return v < c.cells()[cell].pos; }) -
          o.begin());
      total += pre_rows_[s];
    }
    if (total == 0) return;
    const int64_t re = static_cast<int64_t>(c.row_elems());
    if (kdec_.size() < size_t(total * re)) kdec_.resize(size_t(total * re)), vdec_.resize(size_t(total * re));
    const DType dt = c.params().dtype;
    const bool fp8 = dt == DType::E4M3 || dt == DType::E5M2;
    const float ks = fp8 ? c.k_scale(layer) : 1.0f, vs = fp8 ? c.v_scale(layer) : 1.0f;
    std::vector<std::pair<int32_t, int32_t>>& jobs = pre_jobs_;  // (seq, entry)
    jobs.clear();
    for (int32_t s = 0; s < kMaxSeq; ++s)
      for (int32_t e = 0; e < pre_rows_[s]; ++e) jobs.push_back({s, e});
    run_items(int64_t(jobs.size()), int64_t(jobs.size()) * re * 2, [&](int64_t i) {
      const auto [s, e] = jobs[size_t(i)];
      const int32_t cell = kc.seq_cells(s)[e];
      const int64_t at = (pre_row0_[s] + e) * re;
      if (c.token_scales()) {  // each head with its own scale
        const int32_t D = c.params().head_dim;
        for (int32_t h = 0; h < c.params().n_kv_heads; ++h) {
          k_->decode_row(c.k_row(layer, cell) + int64_t(h) * D, dt, D, c.k_mul(layer, cell, h),
                         kdec_.data() + at + int64_t(h) * D);
          k_->decode_row(c.v_row(layer, cell) + int64_t(h) * D, dt, D, c.v_mul(layer, cell, h),
                         vdec_.data() + at + int64_t(h) * D);
        }
        return;
      }
      k_->decode_row(c.k_row(layer, cell), dt, re, ks, kdec_.data() + at);
      k_->decode_row(c.v_row(layer, cell), dt, re, vs, vdec_.data() + at);
    });
    a->kdec = kdec_.data();
    a->vdec = vdec_.data();
    a->row0 = pre_row0_;
    a->rows = pre_rows_;
  }
  // The lane-major copy of x [T, K] (Kernels::lanes_x) when the kernels
  // want one for this gemm, else nullptr.
  const float* lanes_x(const float* x, int32_t T, int64_t K) {
    if (!k_->lanes_x || T <= simd::kLanesXMinT || K % 32 != 0) return nullptr;
    float* xl = xl_->f32();
    run_items(T, int64_t(T) * K, [&](int64_t t) { k_->lanes_x(x + t * K, K, xl + t * K); });
    return xl;
  }
  // Rows per gemm chunk are multiples of this: whole decoded panels for the
  // x86 prefill kernel, whole passes of its streaming kernel (1-4 rows) and
  // of the generic kernel's 8-row tiles. Speed only: a row is computed the
  // same wherever a chunk starts.
  static int64_t row_align(int32_t) { return simd::kPanelRows; }
  // Chunks for a gemm over `rows` rows (`bytes` of weights): more than
  // threads, so a descheduled or slow thread holds up at most one chunk, but
  // none under kMinChunkBytes of weights (each chunk costs a shared-counter
  // update and restarts the hardware prefetcher's stream).
  int64_t row_chunks(int64_t rows, int64_t align, int64_t bytes, int max_threads) const {
    const int64_t units = (rows + align - 1) / align;
    const int64_t min_units = std::max<int64_t>(1, kMinChunkBytes * units / std::max<int64_t>(1, bytes));
    return ThreadPool::chunks_for(units, std::min(max_threads, pool_.size()), min_units);
  }
  // fn(i) for i in [0, items); parallel when `work` (floats touched) is large.
  template <class F>
  void run_items(int64_t items, int64_t work, F&& fn) {
    if (items <= 1 || work < kMinParallelElems) {
      for (int64_t i = 0; i < items; ++i) fn(i);
      return;
    }
    const int64_t nc = ThreadPool::chunks_for(items, pool_.size());
    pool_.for_chunks(nc, [&](int, int64_t c) {
      int64_t b, e;
      ThreadPool::split(items, c, nc, 1, &b, &e);
      for (int64_t i = b; i < e; ++i) fn(i);
    });
  }
  template <class F>
  void run_chunks(int64_t n, F&& fn) {
    if (n < kMinParallelElems) return fn(0, n);
    const int64_t nc = ThreadPool::chunks_for((n + 15) / 16, pool_.size(), kMinParallelElems / 64);
    pool_.for_chunks(nc, [&](int, int64_t c) {
      int64_t b, e;
      ThreadPool::split(n, c, nc, 16, &b, &e);
      if (b < e) fn(b, e);
    });
  }

  StreamParams p_;
  const Kernels* k_;
  ThreadPool pool_;
  FmhaLayerValues fmha_kv_;  // fp8_fmha: the layer's K/V values (capacity reused)
  simd::GroupedMoe moe_;     // MoE experts: grouping and gathered rows (capacity reused)
  simd::SimdMla mla_;        // multi-head latent attention: its scratch
  std::vector<std::unique_ptr<Buffer>> scratch_;  // per thread: kScratchPerDim * max_dim floats
  std::unique_ptr<Buffer> xq_;                    // [max_tokens, max_dim] quantized activations
  std::unique_ptr<Buffer> xl_;                    // [max_tokens, max_dim] lane-major x (lanes_x)
  std::vector<float> kdec_, vdec_;                // predecode_kv: decoded K/V rows
  static constexpr int64_t kAttnSpan = 512;       // attention: values per cell an item decodes
  simd::AttnPlan attn_plan_;                      // attention: this call's work items
  std::vector<float> attn_parts_;                 // attention: split tokens' block partials
  int64_t pre_row0_[kMaxSeq] = {};
  int32_t pre_rows_[kMaxSeq] = {};
  std::vector<std::pair<int32_t, int32_t>> pre_jobs_;
  std::vector<float> sx_;                         // [max_tokens] activation scales
  RopeParams rope_p_;
  std::vector<float> rope_inv_;
};

class SimdBackend final : public Backend {
 public:
  explicit SimdBackend(const Kernels* k) : k_(k) {}
  const char* name() const override { return "cpu-simd"; }
  std::string description() const override { return std::string("cpu-simd (") + k_->isa + ")"; }
  bool host_memory() const override { return true; }
  Status alloc(size_t bytes, std::unique_ptr<Buffer>* out) override { return host_alloc(bytes, out); }
  Status upload(const Weight& host, Weight* out) override {
    if (Status s = check_weight(host, "upload"); !s.ok()) return s;
    *out = host;  // zero copy: ops read the mapped file directly
    return Status::Ok();
  }
  Status create_stream(const StreamParams& p, std::unique_ptr<Stream>* out) override {
    if (p.n_threads < 1 || p.n_threads > 1024)
      return Status::Error(Code::InvalidArgument, "stream: n_threads must be in [1, 1024], got " +
                                                      std::to_string(p.n_threads));
    if (p.max_tokens < 1) return Status::Error(Code::InvalidArgument, "stream: max_tokens must be >= 1");
    if (p.max_dim < 1) return Status::Error(Code::InvalidArgument, "stream: max_dim must be >= 1");
    // avx512-amx is not batch-invariant across its AMX threshold: a
    // deterministic stream runs the table it names (avx512).
    auto s = std::make_unique<SimdStream>(p, p.deterministic && k_->deterministic ? k_->deterministic : k_);
    if (Status st = s->init(); !st.ok()) return st;
    *out = std::move(s);
    return Status::Ok();
  }
  Status create_kv_cache(const KVCacheParams& p, std::unique_ptr<KVCache>* out) override {
    if (p.mla_kv_lora == 0 && p.head_dim > simd::kMaxHeadDim)  // (MLA's ops keep no head in stack arrays)
      return Status::Error(Code::Unsupported, "kv cache: head_dim " + std::to_string(p.head_dim) + " > " +
                                                  std::to_string(simd::kMaxHeadDim));
    return CpuKVCache::create(p, out);
  }

 private:
  const Kernels* k_;
};

}  // namespace

Status make_simd_backend(const std::string& isa, std::unique_ptr<Backend>* out) {
  const Kernels* k = simd::select_kernels(isa);
  if (!k) {
    std::string have;
    for (const auto& s : simd::supported_isas()) have += (have.empty() ? "" : ", ") + s;
    const char* cap = std::getenv("F8_CPU_ISA");
    if ((isa == "auto" || isa.empty()) && cap && *cap)
      return Status::Error(Code::InvalidArgument, std::string("F8_CPU_ISA: '") + cap +
                                                      "' is not a cpu-simd tier (avx512-amx, avx512, avx2, generic)");
    return Status::Error(Code::InvalidArgument,
                         "cpu-simd: ISA '" + isa + "' is not available on this CPU/build (have: auto, " + have + ")");
  }
  *out = std::make_unique<SimdBackend>(k);
  return Status::Ok();
}

Status make_simd_backend_with(const simd::Kernels* k, std::unique_ptr<Backend>* out) {
  if (!k) return Status::Error(Code::InvalidArgument, "cpu-simd: no kernel table");
  *out = std::make_unique<SimdBackend>(k);
  return Status::Ok();
}

}  // namespace f8backend::cpu
