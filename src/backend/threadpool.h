// threadpool.h — a persistent fork-join pool for the CPU backends, built to
// keep its speed when it does not have the machine to itself.
//
// Threads are created once (per Stream) and reused by every op. A job is a
// number of chunks; the caller (as thread 0) and the workers take chunks in
// order from one shared atomic counter until none is left, so a thread that
// the OS has descheduled holds up at most the one chunk it is on, and a job
// whose workers have not woken yet is simply done by the caller. Split work
// into more chunks than threads (chunks_for()) so the others can take up the
// share of a slow thread.
//
// Waiting never yields the CPU to other processes while spinning (a
// sched_yield hands the rest of the slice to whatever else is runnable, e.g.
// a lower-priority compiler) and never spins long:
//  - an idle worker spins ~kIdleSpinUs for the next job (a decode step
//    issues hundreds of ops a few microseconds apart; a futex wake costs more
//    than that), then sleeps on a futex;
//  - the caller, once every chunk is taken, spins ~kWaitSpinUs for the
//    chunks still running elsewhere, then sleeps until the last one ends.
// Both sleeps are lost-wake-up free (a flag/counter set before re-checking,
// read by the waker after publishing). See docs/backend.md "Thread pool".
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

  // Calls fn(tid, chunk) exactly once for every chunk in [0, n_chunks), on
  // the calling thread and up to max_threads - 1 workers; tid in [0, size())
  // names the thread running the call (for per-thread scratch: no two calls
  // with the same tid run at once). Chunks are handed out in increasing
  // order. Returns when all calls have returned. Not reentrant. Workers run
  // the chunks with the caller's floating-point control state (x86 MXCSR:
  // DAZ/FTZ, rounding), so a result never depends on which thread computed
  // it (batch and thread-count invariance, docs/backend.md).
  template <class F>
  void for_chunks(int64_t n_chunks, F&& fn, int max_threads = 1 << 30) {
    auto thunk = [](void* ctx, int tid, int64_t c) { (*static_cast<F*>(ctx))(tid, c); };
    run_raw(thunk, &fn, n_chunks, max_threads);
  }

  // The older fork-join form: fn(part, n) for part in [0, n) with
  // n = min(size(), max_threads). Parts are taken dynamically like chunks, so
  // `part` is not the id of the thread that runs it, but no two calls with
  // the same part run at once (per-part scratch indexed by it is safe).
  template <class F>
  void run(F&& fn, int max_threads = 1 << 30) {
    const int n = max_threads < n_ ? (max_threads < 1 ? 1 : max_threads) : n_;
    for_chunks(n, [&](int, int64_t part) { fn(static_cast<int>(part), n); }, n);
  }

  // How many chunks to split `units` units of work into for `threads`
  // threads: about kChunksPerThread per thread, never more than units, never
  // fewer than threads (when units allow), and no chunk smaller than
  // min_units (so per-chunk overhead stays small).
  static int64_t chunks_for(int64_t units, int threads, int64_t min_units = 1);

  // [begin, end) of part `part` of n parts of an item range, in contiguous
  // pieces that are multiples of `align` (the last one may be short).
  static void split(int64_t items, int64_t part, int64_t n, int64_t align, int64_t* begin, int64_t* end);

  static constexpr int kChunksPerThread = 4;

 private:
  using Fn = void (*)(void*, int, int64_t);
  void run_raw(Fn fn, void* ctx, int64_t n_chunks, int max_threads);
  void worker(int tid);
  // Takes and runs chunks of the published job(s) until none is left.
  void drain(int tid);
  // Chunks of job `gen` finished by workers 1..active-1.
  uint32_t done_chunks(uint32_t gen, int active) const;

  struct alignas(64) Slot {
    std::atomic<uint64_t> v{0};
  };

  int n_;
  std::vector<std::thread> threads_;
  uint32_t job_gen_ = 0;  // caller only
  // ctl_ = (job generation << 32) | next chunk. Chunks are taken by CAS so a
  // late worker can never take a chunk of a newer job than the one whose
  // parameters it read.
  alignas(64) std::atomic<uint64_t> ctl_{0};
  // Futex word the idle workers sleep on: the generation of the last job.
  alignas(64) std::atomic<uint32_t> gen_{0};
  std::atomic<int32_t> sleepers_{0};  // workers asleep (or about to be) on gen_
  // The caller sleeps on wake_ with caller_waiting_ = its job's generation;
  // a worker that finishes a chunk of that job bumps wake_ and wakes it.
  alignas(64) std::atomic<uint32_t> wake_{0};
  std::atomic<uint32_t> caller_waiting_{0};
  // The current job (written by the caller before ctl_ publishes it).
  alignas(64) std::atomic<Fn> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<uint32_t> n_chunks_{0};
  std::atomic<int> active_{0};  // threads with tid < active_ take part
  std::atomic<uint32_t> fpcsr_{0};  // the caller's MXCSR (x86), set per job
  std::atomic<bool> stop_{false};
  // Per worker, its own cache line: (generation << 32) | chunks of that job
  // it has finished. A plain store per chunk, summed by the waiting caller.
  std::vector<Slot> fin_;
};

}  // namespace f8backend
