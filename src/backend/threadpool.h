// threadpool.h — a persistent fork-join pool for the CPU backends.
//
// Threads are created once (per Stream) and reused by every op: run() wakes
// the workers, the caller works as thread 0, and run() returns when all are
// done. Waiting spins first (a decode step issues hundreds of ops a few
// microseconds apart; a futex wake costs more than that) and then sleeps on
// std::atomic::wait, so an idle pool uses no CPU.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace f8backend {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);   // n_threads >= 1 (1 = no workers)
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_; }

  // Calls fn(tid, n) for tid in [0, n) with n = min(size(), max_threads),
  // tid 0 on the calling thread. Not reentrant.
  template <class F>
  void run(F&& fn, int max_threads = 1 << 30) {
    auto thunk = [](void* ctx, int tid, int n) { (*static_cast<F*>(ctx))(tid, n); };
    run_raw(thunk, &fn, max_threads);
  }

  // [begin, end) of item range split into n contiguous chunks, multiples of `align`.
  static void split(int64_t items, int tid, int n, int64_t align, int64_t* begin, int64_t* end);

 private:
  using Fn = void (*)(void*, int, int);
  void run_raw(Fn fn, void* ctx, int max_threads);
  void worker(int tid);

  int n_;
  std::vector<std::thread> threads_;
  // One cache line each: workers poll `gen_`, the caller polls `pending_`.
  alignas(64) std::atomic<uint32_t> gen_{0};
  alignas(64) std::atomic<int32_t> pending_{0};
  alignas(64) Fn fn_ = nullptr;
  void* ctx_ = nullptr;
  int active_ = 0;      // threads taking part in the current job
  bool stop_ = false;
};

}  // namespace f8backend
