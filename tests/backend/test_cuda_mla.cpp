// test_cuda_mla.cpp — the CUDA multi-head latent attention ops (kernels/
// mla.cu through CudaStream::mla_kv_store / mla_attention) against cpu-ref
// on a GPU: a latent cache filled alike on both (E4M3 with per-layer
// scales, and F32), kv_b E4M3 with 128 x 128 block scales (uploaded), several
// sequences, a fork and a token that sees nothing; the outputs within FP32
// rounding of cpu-ref's absorbed form, and a query's output bit-identical
// alone (T = 1) and in a batch of 7 (the kernels' order does not follow T).
// Without a usable device every test GTEST_SKIPs with the reason (with
// F8_CUDA_TEST_FAKE=1 it runs against fake_cuda_shim.h's cpu-simd: the
// test's own logic); the kernels' data flow is checked on the CPU by
// test_cuda_mla_replay.
#include <cstring>

#include <cstdlib>

#include "backend_test_util.h"
#include "fake_cuda_shim.h"

using namespace f8test;

namespace {

constexpr int32_t kH = 8, kN = 16, kP = 16, kV = 16, kR = 128, kCells = 256;

MlaDims dims() {
  MlaDims d;
  d.n_heads = kH;
  d.nope = kN;
  d.rope = kP;
  d.v = kV;
  d.kv_lora = kR;
  return d;
}

KVCacheParams latent_params(DType dt) {
  KVCacheParams p;
  p.n_layers = 2;
  p.n_cells = kCells;
  p.n_kv_heads = 1;
  p.head_dim = kR + kP;
  p.mla_kv_lora = kR;
  p.dtype = dt;
  p.position_lists = true;
  if (dt == DType::E4M3) p.k_scale = {0.011f, 0.013f}, p.v_scale = {0.03f, 0.021f};
  return p;
}

class CudaMla : public testing::Test {
 protected:
  void SetUp() override {
    const char* fk = std::getenv("F8_CUDA_TEST_FAKE");
    if (fk && std::string(fk) == "1") {
      std::unique_ptr<Backend> b;
      ASSERT_TRUE(create_backend("cpu-simd", {}, &b).ok());
      cu_ = std::make_unique<FakeCudaBackend>(std::move(b));
    } else {
      const Status s = create_backend("cuda", {}, &cu_);
      if (!s.ok()) GTEST_SKIP() << "create_backend(\"cuda\"): " << s.message;
    }
    ref_ = make("cpu-ref");
    StreamParams p;
    p.max_tokens = 128;
    p.max_dim = 4096;
    p.mla = dims();
    ASSERT_TRUE(cu_->create_stream(p, &cs_).ok());
    rs_ = stream(*ref_, 1, 128, 4096);
  }
  void TearDown() override {
    if (cs_) {
      cs_->synchronize();
      const Status e = cs_->error();
      EXPECT_TRUE(e.ok()) << "stream error: " << e.message;
    }
  }
  template <typename T>
  T* put(const std::vector<T>& v) {
    std::unique_ptr<Buffer> b;
    EXPECT_TRUE(cu_->alloc(std::max<size_t>(v.size() * sizeof(T), 16), &b).ok());
    T* d = static_cast<T*>(b->data());
    if (!v.empty()) cs_->from_host(d, v.data(), v.size() * sizeof(T));
    bufs_.push_back(std::move(b));
    return d;
  }
  // Sequences 0..2 (7, 4 and 70 tokens), seq 3 a fork of seq 2's first 5:
  // the same calls on both backends (the same cells: one allocator).
  void fill(Backend& be, Stream& s, bool dev, DType dt, std::unique_ptr<KVCache>* c) {
    ASSERT_TRUE(be.create_kv_cache(latent_params(dt), c).ok());
    const int lens[3] = {7, 4, 70};
    std::vector<int32_t> seq, pos;
    for (int p = 0; p < 70; ++p)
      for (int q = 0; q < 3; ++q)
        if (p < lens[q]) seq.push_back(q), pos.push_back(p);
    const int n = int(seq.size());
    std::vector<int32_t> cells(static_cast<size_t>(n));
    ASSERT_TRUE((*c)->alloc_cells(n, seq.data(), pos.data(), cells.data()).ok());
    (*c)->seq_cp(2, 3, 0, 5);
    s.kv_sync(**c);
    for (int l = 0; l < 2; ++l) {
      const auto cc = randn(size_t(n) * kR, 300 + l), kpe = randn(size_t(n) * kP, 400 + l, 2.0f);
      if (dev) s.mla_kv_store(**c, l, put(cc), put(kpe), put(cells), n);
      else s.mla_kv_store(**c, l, cc.data(), kpe.data(), cells.data(), n);
    }
  }
  std::vector<float> run(Stream& s, KVCache& c, bool dev, int layer, const std::vector<float>& q, const Weight& w,
                         const std::vector<int32_t>& seq, const std::vector<int32_t>& pos) {
    AttnBatch b;
    b.n_tokens = int32_t(seq.size());
    b.n_heads = kH;
    b.scale = 0.2f;
    std::vector<float> out(seq.size() * kH * kV, -7.0f);
    if (!dev) {
      b.seq = seq.data();
      b.pos = pos.data();
      s.mla_attention(c, layer, q.data(), w, dims(), MlaForm::Absorbed, b, out.data());
      return out;
    }
    b.seq = put(seq);
    b.pos = put(pos);
    float* o = put(out);
    s.mla_attention(c, layer, put(q), w, dims(), MlaForm::Absorbed, b, o);
    s.to_host(out.data(), o, out.size() * 4);
    return out;
  }
  std::unique_ptr<Backend> cu_, ref_;
  std::unique_ptr<Stream> cs_, rs_;
  std::vector<std::unique_ptr<Buffer>> bufs_;
};

}  // namespace

TEST_F(CudaMla, MatchesCpuRefAndBatchInvariant) {
  TestWeight w = make_weight(int64_t(kH) * (kN + kV), kR, DType::E4M3, ScaleKind::Block, 21, 128, 128);
  for (float& x : w.scale) x *= 0.01f;
  Weight dw;
  ASSERT_TRUE(cu_->upload(w.w(), &dw).ok());
  const std::vector<int32_t> seq = {0, 1, 2, 3, 4, 2, 2}, pos = {7, 4, 70, 5, 0, 63, 64};
  const auto q = randn(seq.size() * kH * (kN + kP), 33);
  for (DType dt : {DType::E4M3, DType::F32}) {
    std::unique_ptr<KVCache> cc, rc;
    fill(*cu_, *cs_, true, dt, &cc);
    fill(*ref_, *rs_, false, dt, &rc);
    for (int layer = 0; layer < 2; ++layer) {
      const auto got = run(*cs_, *cc, true, layer, q, dw, seq, pos);
      const auto want = run(*rs_, *rc, false, layer, q, w.w(), seq, pos);
      expect_close(got, want, 2e-6f, 2e-5f, std::string("cuda vs cpu-ref, cache ") + ggf8::dtype_name(dt));
      for (int i = 0; i < kH * kV; ++i) EXPECT_EQ(got[size_t(4 * kH * kV + i)], 0.0f);  // seq 4: no cell
      // Token 2 (seq 2 at 70) alone == in the batch of 7, bit for bit.
      const std::vector<float> q2(q.begin() + 2 * kH * (kN + kP), q.begin() + 3 * kH * (kN + kP));
      const auto alone = run(*cs_, *cc, true, layer, q2, dw, {2}, {70});
      EXPECT_EQ(std::memcmp(alone.data(), got.data() + 2 * kH * kV, alone.size() * 4), 0) << "layer " << layer;
    }
  }
}
