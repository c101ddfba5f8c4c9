// ref_backend.cpp — cpu/ref: the scalar oracle. Obvious loops, one thread,
// double accumulation where a sum is long; every other backend is tested
// against this one. Speed does not matter here; clarity does.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_common.h"
#include "backend/cpu/fmha_emul.h"
#include "backend/cpu/mla_cpu.h"
#include "backend/cpu/ref/ref_backend.h"
#include "backend/cpu/ref/ref_moe.h"

namespace f8backend::cpu {
namespace {

bool is_fp8(DType d) { return d == DType::E4M3 || d == DType::E5M2; }

class RefStream final : public Stream {
 public:
  explicit RefStream(const StreamParams& p) : p_(p) {}
  const StreamParams& params() const override { return p_; }
  void from_host(void* dst, const void* src, size_t n) override { std::memmove(dst, src, n); }
  void to_host(void* dst, const void* src, size_t n) override { std::memmove(dst, src, n); }
  void synchronize() override {}

  void embed(const Weight& table, const int32_t* ids, int32_t T, float* out) override {
    for (int32_t t = 0; t < T; ++t) {
      if (ids[t] < 0) {  // tensor parallel: the row lives on another rank
        for (int64_t k = 0; k < table.cols; ++k) out[t * table.cols + k] = 0.0f;
        continue;
      }
      const uint8_t* row = weight_row(table, ids[t]);
      for (int64_t k = 0; k < table.cols; ++k)
        out[t * table.cols + k] = load_elem(row, table.dtype, k) * weight_scale(table, ids[t], k);
    }
  }

  void rmsnorm(const float* x, const Weight& w, float eps, int32_t T, int32_t dim, float* out) override {
    for (int32_t t = 0; t < T; ++t) {
      double ss = 0;
      for (int32_t i = 0; i < dim; ++i) ss += static_cast<double>(x[t * dim + i]) * x[t * dim + i];
      const float r = static_cast<float>(1.0 / std::sqrt(ss / dim + eps));
      for (int32_t i = 0; i < dim; ++i) out[t * dim + i] = x[t * dim + i] * r * load_elem(w.data, w.dtype, i);
    }
  }

  void rope(float* x, int32_t T, int32_t n_heads, const int32_t* pos, const RopeParams& p) override {
    const std::vector<float> inv = rope_inv_freq(p);
    const int half = static_cast<int>(inv.size());
    for (int32_t t = 0; t < T; ++t)
      for (int32_t h = 0; h < n_heads; ++h) {
        float* v = x + (static_cast<int64_t>(t) * n_heads + h) * p.head_dim;
        for (int i = 0; i < half; ++i) {
          const float a = static_cast<float>(pos[t]) * inv[i];
          const float c = std::cos(a) * p.attn_factor, s = std::sin(a) * p.attn_factor;  // YaRN mscale (else 1)
          const float x0 = v[i], x1 = v[i + half];
          v[i] = x0 * c - x1 * s;
          v[i + half] = x1 * c + x0 * s;
        }
      }
  }

  void gemm(const float* x, int32_t T, const Weight& w, float* y, const GemmOpts& o) override {
    const int64_t K = w.cols, N = w.rows;
    const bool quant = o.act != ActQuant::None && is_fp8(w.dtype);
    std::vector<float> xq(K);
    for (int32_t t = 0; t < T; ++t) {
      const float* xt = x + t * K;
      float sx = 1.0f;
      if (quant) {
        if (o.act == ActQuant::Static) {
          sx = w.input_scale;
        } else {
          float amax = 0;
          for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(xt[k]));
          sx = act_scale_dynamic(amax);
        }
        for (int64_t k = 0; k < K; ++k) xq[k] = ggf8::e4m3_to_f32(ggf8::e4m3_from_f32(xt[k] / sx));
        xt = xq.data();
      }
      for (int64_t n = 0; n < N; ++n) {
        const uint8_t* row = weight_row(w, n);
        double acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += static_cast<double>(xt[k]) * load_elem(row, w.dtype, k) * weight_scale(w, n, k);
        y[t * N + n] = static_cast<float>(acc * sx) + bias_at(o.bias, n);
      }
    }
  }

  void swiglu(const float* g, const float* u, int64_t n, float* out) override {
    for (int64_t i = 0; i < n; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  }
  void geglu(const float* g, const float* u, int64_t n, float* out) override {
    for (int64_t i = 0; i < n; ++i) out[i] = gelu_tanh_ref(g[i]) * u[i];
  }
  void scale(float* x, int64_t n, float s) override {
    for (int64_t i = 0; i < n; ++i) x[i] *= s;
  }
  void add(float* x, const float* y, int64_t n) override {
    for (int64_t i = 0; i < n; ++i) x[i] += y[i];
  }
  void get_rows(const float* x, const int32_t* idx, int32_t M, int32_t dim, float* out) override {
    for (int32_t i = 0; i < M; ++i) std::memmove(out + i * dim, x + static_cast<int64_t>(idx[i]) * dim, dim * 4);
  }
  void sigmoid_scale_rows(float* x, const float* g, int32_t T, int32_t dim) override {
    ref_sigmoid_scale_rows(x, g, T, dim);
  }
  void moe_route(const float* logits, int32_t T, const MoeRoute& r, int32_t* ids, float* w) override {
    ref_moe_route(logits, T, r, ids, w);
  }
  void moe_ffn(const float* x, int32_t T, const MoeExperts& e, const int32_t* ids, const float* w, int32_t k,
               float* y, ActQuant act) override {
    ref_moe_ffn(*this, x, T, e, ids, w, k, y, act);
  }

  void kv_store(KVCache& cache, int32_t layer, const float* k, const float* v, const int32_t* cells,
                int32_t T) override {
    auto& c = static_cast<CpuKVCache&>(cache);
    const int64_t n = c.row_elems();
    const auto& kp = c.params();
    if (kp.token_scales) return store_token_scaled(c, layer, k, v, cells, T, store_row_scalar);
    for (int32_t t = 0; t < T; ++t) {
      store_row_scalar(k + t * n, n, c.params().dtype, c.k_scale(layer), c.k_row(layer, cells[t]));
      store_row_scalar(v + t * n, n, c.params().dtype, c.v_scale(layer), c.v_row(layer, cells[t]));
    }
  }

  void attention(KVCache& cache, int32_t layer, const float* q, const AttnBatch& b, float* out) override {
    auto& c = static_cast<CpuKVCache&>(cache);
    if (b.fp8_fmha && !c.token_scales()) {
      fmha_decode_layer(c, layer, &fmha_kv_);
      return fmha_fp8_emulate(c, fmha_kv_, layer, q, b, out, 0, int64_t(b.n_tokens) * b.n_heads);
    }
    const auto& kp = c.params();
    const int32_t D = kp.head_dim, group = b.n_heads / kp.n_kv_heads;
    const DType dt = kp.dtype;
    const bool fp8 = is_fp8(dt) || kp.token_scales;  // rows decode as code * multiplier
    std::vector<std::pair<int32_t, int32_t>> vis;  // (position, cell) the token sees
    std::vector<double> sc;
    for (int32_t t = 0; t < b.n_tokens; ++t) {
      // Every cell, checked directly (no page table), then in position
      // order: the sums below follow positions, never the pool's layout
      // (batch invariance, docs/backend.md).
      vis.clear();
      for (int32_t cell = 0; cell < c.hi(); ++cell) {
        const auto& ce = c.cells()[cell];
        if (b.seq[t] < 0 || b.seq[t] >= kMaxSeq || !((ce.seqs >> b.seq[t]) & 1) || ce.pos > b.pos[t] ||
            (b.window > 0 && int64_t(ce.pos) <= int64_t(b.pos[t]) - b.window))
          continue;
        vis.push_back({ce.pos, cell});
      }
      std::sort(vis.begin(), vis.end());
      for (int32_t h = 0; h < b.n_heads; ++h) {
        const float* qh = q + (static_cast<int64_t>(t) * b.n_heads + h) * D;
        float* oh = out + (static_cast<int64_t>(t) * b.n_heads + h) * D;
        const int32_t kvh = h / group;
        sc.assign(vis.size(), 0.0);
        double mx = -INFINITY;
        for (size_t j = 0; j < vis.size(); ++j) {
          const uint8_t* kr = c.k_row(layer, vis[j].second) + kvh * D * elem_size(dt);
          const float ks = fp8 ? c.k_mul(layer, vis[j].second, kvh) : 1.0f;
          double d = 0;
          for (int32_t i = 0; i < D; ++i) d += static_cast<double>(qh[i]) * (load_elem(kr, dt, i) * ks);
          if (const float* m = c.k_center_row(layer, vis[j].first))  // K centering: the mean it stored without
            for (int32_t i = 0; i < D; ++i) d += static_cast<double>(qh[i]) * m[kvh * D + i];
          float s = static_cast<float>(d) * b.scale;
          if (b.softcap > 0) s = b.softcap * std::tanh(s / b.softcap);
          sc[j] = s;
          mx = std::max(mx, sc[j]);
        }
        // gpt-oss: the head's sink joins the denominator (and the max), adds no value.
        if (b.sinks) mx = std::max(mx, static_cast<double>(b.sinks[h]));
        std::vector<double> acc(D, 0.0);
        double sum = b.sinks ? std::exp(static_cast<double>(b.sinks[h]) - mx) : 0.0;
        for (size_t j = 0; j < vis.size(); ++j) {
          const double pr = std::exp(sc[j] - mx);
          sum += pr;
          const uint8_t* vr = c.v_row(layer, vis[j].second) + kvh * D * elem_size(dt);
          const float vs = fp8 ? c.v_mul(layer, vis[j].second, kvh) : 1.0f;
          for (int32_t i = 0; i < D; ++i) acc[i] += pr * (load_elem(vr, dt, i) * vs);
        }
        for (int32_t i = 0; i < D; ++i) oh[i] = sum > 0 ? static_cast<float>(acc[i] / sum) : 0.0f;
      }
    }
  }

  void mla_kv_store(KVCache& cache, int32_t layer, const float* c, const float* kpe, const int32_t* cells,
                    int32_t T) override {
    ref_mla_kv_store(static_cast<CpuKVCache&>(cache), layer, c, kpe, cells, T);
  }
  void mla_attention(KVCache& cache, int32_t layer, const float* q, const Weight& kv_b, const MlaDims& d,
                     MlaForm form, const AttnBatch& b, float* out) override {
    ref_mla_attention(static_cast<CpuKVCache&>(cache), layer, q, kv_b, d, form, b, out);
  }

  void argmax(const float* x, int32_t T, int32_t n, int32_t* out) override {
    for (int32_t t = 0; t < T; ++t) {
      int32_t best = 0;
      for (int32_t i = 1; i < n; ++i)
        if (x[t * static_cast<int64_t>(n) + i] > x[t * static_cast<int64_t>(n) + best]) best = i;
      out[t] = best;
    }
  }

 private:
  StreamParams p_;
  FmhaLayerValues fmha_kv_;  // fp8_fmha: the layer's K/V values (capacity reused)
};

class RefBackend final : public Backend {
 public:
  const char* name() const override { return "cpu-ref"; }
  std::string description() const override { return "cpu-ref (scalar oracle, 1 thread)"; }
  bool host_memory() const override { return true; }
  Status alloc(size_t bytes, std::unique_ptr<Buffer>* out) override { return host_alloc(bytes, out); }
  Status upload(const Weight& host, Weight* out) override {
    if (Status s = check_weight(host, "upload"); !s.ok()) return s;
    *out = host;
    return Status::Ok();
  }
  Status create_stream(const StreamParams& p, std::unique_ptr<Stream>* out) override {
    if (p.n_threads < 1) return Status::Error(Code::InvalidArgument, "stream: n_threads must be >= 1");
    if (p.max_tokens < 1) return Status::Error(Code::InvalidArgument, "stream: max_tokens must be >= 1");
    *out = std::make_unique<RefStream>(p);
    return Status::Ok();
  }
  Status create_kv_cache(const KVCacheParams& p, std::unique_ptr<KVCache>* out) override {
    return CpuKVCache::create(p, out);
  }
};

}  // namespace

std::unique_ptr<Backend> make_ref_backend() { return std::make_unique<RefBackend>(); }

}  // namespace f8backend::cpu
