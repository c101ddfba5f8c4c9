// thread_pool.h — a tiny fixed pool for data-parallel loops. The calling
// thread takes part, so ThreadPool(1) runs everything inline.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace f8conv {

class ThreadPool {
 public:
  // n_threads total, caller included; 0 = std::thread::hardware_concurrency().
  explicit ThreadPool(unsigned n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }

  // Calls fn(i) for every i in [0, n), spread over the pool; returns when all
  // calls have returned. fn must not throw. Not reentrant.
  void run(size_t n, const std::function<void(size_t)>& fn);

 private:
  void worker_loop();
  void drain();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_cv_;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t n_ = 0, next_ = 0, finished_ = 0;
  unsigned active_ = 0;       // workers inside drain() for this generation
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace f8conv
