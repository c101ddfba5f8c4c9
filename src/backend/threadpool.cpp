// threadpool.cpp — see threadpool.h.
#include "backend/threadpool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() {}
#endif

namespace f8backend {

// Spin iterations before sleeping (~50-100 us with pause): long enough to
// bridge the gaps between ops of one forward pass, short enough that a pool
// left idle between tokens goes to sleep quickly.
static constexpr int kSpin = 20000;

// Yield now and then while spinning: when the machine is oversubscribed the
// thread we wait for may need this core.
static inline void spin_step(int i) {
  if ((i & 63) == 63) std::this_thread::yield();
  else cpu_relax();
}

ThreadPool::ThreadPool(int n_threads) : n_(std::max(1, n_threads)) {
  threads_.reserve(n_ - 1);
  for (int t = 1; t < n_; ++t) threads_.emplace_back([this, t] { worker(t); });
}

ThreadPool::~ThreadPool() {
  stop_ = true;
  gen_.fetch_add(1, std::memory_order_release);
  gen_.notify_all();
  for (auto& th : threads_) th.join();
}

void ThreadPool::split(int64_t items, int tid, int n, int64_t align, int64_t* begin,
                       int64_t* end) {
  const int64_t units = (items + align - 1) / align;
  const int64_t per = units / n, extra = units % n;
  const int64_t u0 = tid * per + std::min<int64_t>(tid, extra);
  const int64_t u1 = u0 + per + (tid < extra ? 1 : 0);
  *begin = std::min(items, u0 * align);
  *end = std::min(items, u1 * align);
}

void ThreadPool::run_raw(Fn fn, void* ctx, int max_threads) {
  const int n = std::max(1, std::min(n_, max_threads));
  if (n == 1) {
    fn(ctx, 0, 1);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  active_ = n;
  pending_.store(n_ - 1, std::memory_order_relaxed);
  gen_.fetch_add(1, std::memory_order_release);  // publishes fn_/ctx_/active_
  gen_.notify_all();
  fn(ctx, 0, n);
  for (int i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) {
    if (i < kSpin) {
      spin_step(i);
    } else {
      const int32_t p = pending_.load(std::memory_order_acquire);
      if (p != 0) pending_.wait(p, std::memory_order_acquire);
    }
  }
}

void ThreadPool::worker(int tid) {
  uint32_t seen = 0;
  for (;;) {
    uint32_t g;
    for (int i = 0;; ++i) {
      g = gen_.load(std::memory_order_acquire);
      if (g != seen) break;
      if (i < kSpin) spin_step(i);
      else gen_.wait(seen, std::memory_order_acquire);
    }
    seen = g;
    if (stop_) return;
    if (tid < active_) fn_(ctx_, tid, active_);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace f8backend
