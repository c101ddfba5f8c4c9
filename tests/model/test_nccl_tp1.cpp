// test_nccl_tp1.cpp — the NCCL tensor-parallel path on the one GPU a GPU
// machine has: a one-rank NCCL communicator (all-reduce leaves the buffer as
// it is), and the forward pass with that communicator in every layer (three
// all-reduces per layer, inside the recorded CUDA graphs) giving exactly the
// logits of the plain TP = 1 path. Skips, with the reason, without a CUDA
// device or without NCCL in the build.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <numeric>

#include "backend/comm.h"
#include "model/context.h"
#include "model/model.h"
#include "tiny_model.h"

namespace {

#define SKIP_WITHOUT_CUDA_NCCL()                                                   \
  do {                                                                             \
    if (!f8backend::have_nccl()) GTEST_SKIP() << "this build has no NCCL";         \
    std::unique_ptr<f8backend::Backend> b_;                                        \
    f8backend::Status s_ = f8backend::create_backend("cuda", {}, &b_);             \
    if (!s_.ok()) GTEST_SKIP() << "cuda: " << s_.message;                          \
  } while (0)

TEST(NcclTp1, OneRankAllReduceKeepsTheBuffer) {
  SKIP_WITHOUT_CUDA_NCCL();
  std::unique_ptr<f8backend::Backend> be;
  ASSERT_TRUE(f8backend::create_backend("cuda", {}, &be).ok());
  std::unique_ptr<f8backend::Comm> comm;
  f8backend::Status st = f8backend::make_nccl_comm({0}, &comm);
  ASSERT_TRUE(st.ok()) << st.message;
  std::unique_ptr<f8backend::Stream> s;
  ASSERT_TRUE(be->create_stream({1, 1, 64}, &s).ok());
  std::vector<float> h(1000);
  std::iota(h.begin(), h.end(), -300.0f);
  std::unique_ptr<f8backend::Buffer> d;
  ASSERT_TRUE(be->alloc(h.size() * 4, &d).ok());
  s->from_host(d->data(), h.data(), h.size() * 4);
  st = comm->all_reduce_sum(0, d->f32(), h.size(), *s);
  ASSERT_TRUE(st.ok()) << st.message;
  std::vector<float> back(h.size());
  s->to_host(back.data(), d->data(), back.size() * 4);
  ASSERT_TRUE(s->error().ok()) << s->error().message;
  EXPECT_EQ(back, h);
}

TEST(NcclTp1, ForwardWithTheCommunicatorEqualsPlain) {
  SKIP_WITHOUT_CUDA_NCCL();
  tiny::Spec spec;
  spec.wtype = ggf8::DType::E4M3;
  const std::string path = std::string(F8_BINARY_DIR) + "/tests_nccl_tp1.f8";
  ASSERT_TRUE(tiny::write(path, spec).ok());
  std::unique_ptr<ggf8::File> f;
  ASSERT_TRUE(ggf8::File::open(path, &f).ok());
  std::unique_ptr<f8model::Model> m;
  f8model::LoadOptions lo;
  lo.backend = "cuda";
  f8model::Status st = f8model::Model::load(*f, lo, &m);
  ASSERT_TRUE(st.ok()) << st.message;
  auto run = [&](bool comm) {
    f8model::ContextParams cp;
    cp.n_ctx = 128;
    cp.n_batch = 64;
    cp.backend = "cuda";
    cp.tp_force_comm = comm;
    std::unique_ptr<f8model::Context> c;
    f8model::Status cs = f8model::Context::create(*m, cp, &c);
    EXPECT_TRUE(cs.ok()) << cs.message;
    std::vector<float> out;
    if (!c) return out;
    std::vector<int32_t> tok = {3, 17, 9, 41, 5, 22, 60, 1}, pos(8), seq(8, 0);
    std::iota(pos.begin(), pos.end(), 0);
    cs = c->decode({8, tok.data(), pos.data(), seq.data(), nullptr});
    EXPECT_TRUE(cs.ok()) << cs.message;
    for (int i = 0; i < 6 && cs.ok(); ++i) {  // single-token steps: recorded once, then replayed
      int32_t t = (i * 11 + 7) % int32_t(spec.vocab), p = 8 + i, sq = 0;
      cs = c->decode({1, &t, &p, &sq, nullptr});
      EXPECT_TRUE(cs.ok()) << cs.message;
      const float* lg = c->logits(-1, &cs);
      if (lg) out.insert(out.end(), lg, lg + spec.vocab);
    }
    return out;
  };
  const std::vector<float> plain = run(false), nccl = run(true);
  ASSERT_FALSE(plain.empty());
  EXPECT_EQ(plain, nccl);
}

}  // namespace
