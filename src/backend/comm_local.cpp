// comm_local.cpp — the in-process communicator for CPU ranks (comm.h).
// all_reduce_sum: every rank publishes its buffer, then rank r sums segment
// r of all buffers in rank order and writes the result into every buffer's
// segment r (so the work is split across the ranks' threads), then all wait
// for each other. Two barriers per call; generation counting makes the
// barrier reusable without lost wake-ups.
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "backend/comm.h"

namespace f8backend {

namespace {

class Barrier {
 public:
  explicit Barrier(int32_t n) : n_(n) {}
  void wait() {
    std::unique_lock<std::mutex> lk(mu_);
    const uint64_t gen = gen_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++gen_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lk, [&] { return gen_ != gen; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const int32_t n_;
  int32_t arrived_ = 0;
  uint64_t gen_ = 0;
};

class LocalComm final : public Comm {
 public:
  explicit LocalComm(int32_t n) : n_(n), bar_(n), bufs_(n, nullptr), sizes_(n, 0) {}
  int32_t size() const override { return n_; }
  const char* name() const override { return "local"; }
  bool recordable() const override { return false; }

  Status all_reduce_sum(int32_t rank, float* buf, size_t n, Stream& s) override {
    if (n_ == 1) return Status::Ok();
    s.synchronize();
    bufs_[rank] = buf;
    sizes_[rank] = n;
    bar_.wait();
    for (int32_t r = 0; r < n_; ++r)
      if (sizes_[r] != n) {
        bar_.wait();
        return Status::Error(Code::InvalidArgument, "all_reduce_sum: ranks passed different sizes");
      }
    const size_t b = n * size_t(rank) / size_t(n_), e = n * size_t(rank + 1) / size_t(n_);
    for (size_t i = b; i < e; ++i) {
      float acc = bufs_[0][i];
      for (int32_t r = 1; r < n_; ++r) acc += bufs_[r][i];
      for (int32_t r = 0; r < n_; ++r) bufs_[r][i] = acc;
    }
    bar_.wait();
    return Status::Ok();
  }

  Status all_gather(int32_t rank, const float* send, size_t count, float* recv, Stream& s) override {
    s.synchronize();
    if (n_ == 1) {
      if (recv != send) std::memmove(recv, send, count * sizeof(float));
      return Status::Ok();
    }
    cbufs_[rank] = send;
    sizes_[rank] = count;
    bar_.wait();
    for (int32_t r = 0; r < n_; ++r) std::memcpy(recv + size_t(r) * count, cbufs_[r], count * sizeof(float));
    bar_.wait();
    return Status::Ok();
  }

 private:
  const int32_t n_;
  Barrier bar_;
  std::vector<float*> bufs_;
  std::vector<const float*> cbufs_ = std::vector<const float*>(size_t(n_), nullptr);
  std::vector<size_t> sizes_;
};

}  // namespace

std::unique_ptr<Comm> make_local_comm(int32_t n_ranks) { return std::make_unique<LocalComm>(n_ranks); }

}  // namespace f8backend
