// fake_cuda_shim.h — a test of the CUDA tests on a machine without a GPU:
// with F8_CUDA_TEST_FAKE=1, test_cuda_backend.cpp runs against this wrapper
// around cpu-simd, which has the CUDA backend's documented semantics
// (FP8 gemm always quantizes activations, only 128x128 blocks, graphs record
// ops and replay them, name "cuda") but host memory. It checks the tests'
// own logic and tolerances, not the GPU.
#pragma once

#include <functional>
#include <map>

#include "backend/backend.h"

namespace f8test {

class FakeCudaStream : public f8backend::Stream {
 public:
  explicit FakeCudaStream(std::unique_ptr<f8backend::Stream> s) : s_(std::move(s)) {}
  const f8backend::StreamParams& params() const override { return s_->params(); }
  void from_host(void* d, const void* src, size_t n) override { s_->from_host(d, src, n); }
  void to_host(void* d, const void* src, size_t n) override { s_->to_host(d, src, n); }
  void synchronize() override {}
  void embed(const f8backend::Weight& t, const int32_t* ids, int32_t T, float* out) override {
    op([=, this] { s_->embed(t, ids, T, out); });
  }
  void rmsnorm(const float* x, const f8backend::Weight& w, float eps, int32_t T, int32_t dim, float* out) override {
    op([=, this] { s_->rmsnorm(x, w, eps, T, dim, out); });
  }
  void rope(float* x, int32_t T, int32_t H, const int32_t* pos, const f8backend::RopeParams& p) override {
    op([=, this] { s_->rope(x, T, H, pos, p); });
  }
  static f8backend::GemmOpts fix(const f8backend::Weight& w, f8backend::GemmOpts o) {
    if ((w.dtype == f8backend::DType::E4M3 || w.dtype == f8backend::DType::E5M2) &&
        o.act == f8backend::ActQuant::None)
      o.act = f8backend::ActQuant::DynamicToken;
    return o;
  }
  void gemm(const float* x, int32_t T, const f8backend::Weight& w, float* y,
            const f8backend::GemmOpts& o) override {
    const f8backend::GemmOpts f = fix(w, o);
    op([=, this] { s_->gemm(x, T, w, y, f); });
  }
  void gemm_multi(const float* x, int32_t T, const GemmJob* jobs, int32_t n) override {
    std::vector<GemmJob> j(jobs, jobs + n);
    std::vector<f8backend::Weight> ws;
    for (auto& e : j) ws.push_back(*e.w), e.opts = fix(*e.w, e.opts);
    op([=, this]() mutable {
      for (size_t i = 0; i < j.size(); ++i) j[i].w = &ws[i];
      s_->gemm_multi(x, T, j.data(), int32_t(j.size()));
    });
  }
  void swiglu(const float* g, const float* u, int64_t n, float* out) override {
    op([=, this] { s_->swiglu(g, u, n, out); });
  }
  void geglu(const float* g, const float* u, int64_t n, float* out) override {
    op([=, this] { s_->geglu(g, u, n, out); });
  }
  void scale(float* x, int64_t n, float sc) override { op([=, this] { s_->scale(x, n, sc); }); }
  void add(float* x, const float* y, int64_t n) override { op([=, this] { s_->add(x, y, n); }); }
  void get_rows(const float* x, const int32_t* idx, int32_t M, int32_t dim, float* out) override {
    op([=, this] { s_->get_rows(x, idx, M, dim, out); });
  }
  void sigmoid_scale_rows(float* x, const float* g, int32_t T, int32_t dim) override {
    op([=, this] { s_->sigmoid_scale_rows(x, g, T, dim); });
  }
  void moe_route(const float* logits, int32_t T, const f8backend::MoeRoute& r, int32_t* ids, float* w) override {
    op([=, this] { s_->moe_route(logits, T, r, ids, w); });
  }
  // FP8 experts always quantize their activations on the GPU.
  void moe_ffn(const float* x, int32_t T, const f8backend::MoeExperts& e, const int32_t* ids, const float* w,
               int32_t k, float* y, f8backend::ActQuant act) override {
    const bool fp8 = e.gate.dtype == f8backend::DType::E4M3 || e.gate.dtype == f8backend::DType::E5M2;
    const f8backend::ActQuant a = fp8 ? f8backend::ActQuant::DynamicToken : act;
    op([=, this] { s_->moe_ffn(x, T, e, ids, w, k, y, a); });
  }
  void kv_store(f8backend::KVCache& c, int32_t l, const float* k, const float* v, const int32_t* cells,
                int32_t T) override {
    f8backend::KVCache* cp = &c;
    op([=, this] { s_->kv_store(*cp, l, k, v, cells, T); });
  }
  void attention(f8backend::KVCache& c, int32_t l, const float* q, const f8backend::AttnBatch& b,
                 float* out) override {
    f8backend::KVCache* cp = &c;
    op([=, this] { s_->attention(*cp, l, q, b, out); });
  }
  void argmax(const float* x, int32_t T, int32_t n, int32_t* out) override {
    op([=, this] { s_->argmax(x, T, n, out); });
  }
  bool graph_replay(uint64_t key) override {
    auto it = graphs_.find(key);
    if (it == graphs_.end()) return false;
    for (auto& f : it->second) f();
    return true;
  }
  bool graph_begin(uint64_t key) override {
    recording_ = true;
    key_ = key;
    graphs_[key].clear();
    return true;
  }
  f8backend::Status graph_end() override {
    recording_ = false;
    for (auto& f : graphs_[key_]) f();
    return f8backend::Status::Ok();
  }

 private:
  void op(std::function<void()> f) {
    if (recording_) graphs_[key_].push_back(std::move(f));
    else f();
  }
  std::unique_ptr<f8backend::Stream> s_;
  std::map<uint64_t, std::vector<std::function<void()>>> graphs_;
  bool recording_ = false;
  uint64_t key_ = 0;
};

class FakeCudaBackend : public f8backend::Backend {
 public:
  explicit FakeCudaBackend(std::unique_ptr<f8backend::Backend> b) : b_(std::move(b)) {}
  const char* name() const override { return "cuda"; }
  std::string description() const override { return "fake cuda over " + b_->description(); }
  bool host_memory() const override { return false; }
  f8backend::Status alloc(size_t n, std::unique_ptr<f8backend::Buffer>* out) override {
    if (n > (size_t{1} << 40)) return f8backend::Status::Error(f8backend::Code::OutOfMemory, "fake: too big");
    return b_->alloc(n, out);
  }
  f8backend::Status upload(const f8backend::Weight& w, f8backend::Weight* out) override {
    if (w.scale_kind == f8backend::ScaleKind::Block && (w.block_rows != 128 || w.block_cols != 128))
      return f8backend::Status::Error(f8backend::Code::Unsupported, "fake: only 128x128 blocks");
    return b_->upload(w, out);
  }
  f8backend::Status create_stream(const f8backend::StreamParams& p, std::unique_ptr<f8backend::Stream>* out) override {
    std::unique_ptr<f8backend::Stream> s;
    f8backend::Status st = b_->create_stream(p, &s);
    if (st.ok()) *out = std::make_unique<FakeCudaStream>(std::move(s));
    return st;
  }
  f8backend::Status create_kv_cache(const f8backend::KVCacheParams& p,
                                    std::unique_ptr<f8backend::KVCache>* out) override {
    return b_->create_kv_cache(p, out);
  }
  void memory(size_t* f, size_t* t) const override { *f = size_t{100} << 30, *t = size_t{141} << 30; }
  size_t upload_bytes(const f8backend::Weight& w) const override {
    return size_t(w.rows * w.cols) * ggf8::dtype_size(w.dtype) + 4096;
  }
  bool quantizes_activations() const override { return true; }

 private:
  std::unique_ptr<f8backend::Backend> b_;
};

}  // namespace f8test
