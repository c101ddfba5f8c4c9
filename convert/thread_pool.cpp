// thread_pool.cpp — see thread_pool.h. Work items are handed out one index at
// a time under a mutex; callers make items coarse (tens of thousands of
// elements each), so the lock is not on the hot path.
#include "convert/thread_pool.h"

#include <algorithm>

namespace f8conv {

ThreadPool::ThreadPool(unsigned n) {
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 1; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::drain() {
  std::unique_lock<std::mutex> lk(mu_);
  while (next_ < n_) {
    size_t i = next_++;
    const auto* fn = fn_;
    lk.unlock();
    (*fn)(i);
    lk.lock();
    if (++finished_ == n_) done_cv_.notify_all();
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    wake_.wait(lk, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    ++active_;
    lk.unlock();
    drain();
    lk.lock();
    if (--active_ == 0) done_cv_.notify_all();
  }
}

void ThreadPool::run(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (workers_.empty() || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    fn_ = &fn;
    n_ = n;
    next_ = 0;
    finished_ = 0;
    ++generation_;
  }
  wake_.notify_all();
  drain();
  // Wait until every item finished and no worker still holds fn_.
  std::unique_lock<std::mutex> lk(mu_);
  done_cv_.wait(lk, [&] { return finished_ == n_ && active_ == 0; });
  fn_ = nullptr;
  n_ = 0;
}

}  // namespace f8conv
