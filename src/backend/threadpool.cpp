// threadpool.cpp — see threadpool.h.
#include "backend/threadpool.h"

#include <algorithm>
#include <chrono>
#include <climits>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
// MXCSR's control bits (DAZ, exception masks, rounding, FTZ), not the
// sticky exception flags (bits 0-5) every FP instruction may set.
constexpr uint32_t kCsrControl = 0xFFC0u;
static inline uint32_t fp_csr() { return _mm_getcsr() & kCsrControl; }
static inline void set_fp_csr(uint32_t v) {
  const uint32_t cur = _mm_getcsr();
  if ((cur & kCsrControl) != v) _mm_setcsr((cur & ~kCsrControl) | v);
}
#else
static inline void cpu_relax() {}
static inline uint32_t fp_csr() { return 0; }
static inline void set_fp_csr(uint32_t) {}
#endif

namespace f8backend {
namespace {

// Spin budgets. Idle workers: long enough to bridge the gaps between the ops
// of one forward pass (a few us) and the sampling between decode steps,
// short enough that a pool left idle (or starved by other processes) goes to
// sleep quickly. Caller waiting on running chunks: a chunk takes a few us on
// a quiet machine; longer means its thread was most likely descheduled, and
// then the caller sleeps (its core goes to whoever else wants it, which
// costs this process nothing) instead of burning its own slice.
constexpr int64_t kIdleSpinUs = 100;
constexpr int64_t kWaitSpinUs = 30;
// ctl_'s chunk half between jobs: no chunk is ever >= it.
constexpr uint32_t kClosed = 0xFFFFFFFFu;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Spins while pred() is true, for at most budget_us. Returns !pred().
// No sched_yield: yielding hands the rest of the slice to any other runnable
// process (a nice 10 compiler included) and the pool then waits for it.
template <class P>
bool spin_while(P&& pred, int64_t budget_us) {
  int64_t t0 = -1;
  for (int i = 0;; ++i) {
    if (!pred()) return true;
    cpu_relax();
    if ((i & 31) == 31) {
      const int64_t t = now_us();
      if (t0 < 0) t0 = t;
      else if (t - t0 >= budget_us) return !pred();
    }
  }
}

// futex wait/wake on a 32-bit atomic: wait returns when *a != expected, on a
// wake, or spuriously (callers re-check).
void futex_wait(std::atomic<uint32_t>* a, uint32_t expected) {
#if defined(__linux__)
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex word");
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(a), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
#else
  a->wait(expected, std::memory_order_seq_cst);
#endif
}
void futex_wake_all(std::atomic<uint32_t>* a) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(a), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
#else
  a->notify_all();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_(std::max(1, n_threads)), fin_(static_cast<size_t>(n_)) {
  ctl_.store(kClosed, std::memory_order_relaxed);
  threads_.reserve(n_ - 1);
  for (int t = 1; t < n_; ++t) threads_.emplace_back([this, t] { worker(t); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  gen_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(&gen_);
  for (auto& th : threads_) th.join();
}

int64_t ThreadPool::chunks_for(int64_t units, int threads, int64_t min_units) {
  if (units <= 0) return 0;
  const int64_t want = static_cast<int64_t>(std::max(1, threads)) * kChunksPerThread;
  int64_t c = std::min(want, units / std::max<int64_t>(1, min_units));
  c = std::max<int64_t>(c, std::min<int64_t>(threads, units));  // at least one per thread
  return std::max<int64_t>(1, std::min(c, units));
}

void ThreadPool::split(int64_t items, int64_t part, int64_t n, int64_t align, int64_t* begin,
                       int64_t* end) {
  const int64_t units = (items + align - 1) / align;
  const int64_t per = units / n, extra = units % n;
  const int64_t u0 = part * per + std::min<int64_t>(part, extra);
  const int64_t u1 = u0 + per + (part < extra ? 1 : 0);
  *begin = std::min(items, u0 * align);
  *end = std::min(items, u1 * align);
}

uint32_t ThreadPool::done_chunks(uint32_t gen, int active) const {
  uint32_t sum = 0;
  for (int t = 1; t < active; ++t) {
    const uint64_t f = fin_[t].v.load(std::memory_order_seq_cst);
    if (static_cast<uint32_t>(f >> 32) == gen) sum += static_cast<uint32_t>(f);
  }
  return sum;
}

void ThreadPool::run_raw(Fn fn, void* ctx, int64_t n_chunks, int max_threads) {
  if (n_chunks <= 0) return;
  const int n = std::max(1, std::min(n_, max_threads));
  if (n == 1 || n_chunks == 1) {
    for (int64_t c = 0; c < n_chunks; ++c) fn(ctx, 0, c);
    return;
  }
  const uint32_t total = static_cast<uint32_t>(std::min<int64_t>(n_chunks, INT32_MAX));
  // Close the previous job before rewriting the parameters: a late worker
  // holding (old gen, old next) and reading half-written parameters of this
  // job can then never take a chunk with them (its CAS expects a value ctl_
  // no longer has; one that succeeded before this exchange read the old
  // job's parameters, which the exchange orders before the writes below).
  ctl_.exchange((static_cast<uint64_t>(job_gen_) << 32) | kClosed, std::memory_order_acq_rel);
  const uint32_t g = ++job_gen_;
  fn_.store(fn, std::memory_order_relaxed);
  ctx_.store(ctx, std::memory_order_relaxed);
  n_chunks_.store(total, std::memory_order_relaxed);
  active_.store(n, std::memory_order_relaxed);
  fpcsr_.store(fp_csr(), std::memory_order_relaxed);
  ctl_.store(static_cast<uint64_t>(g) << 32, std::memory_order_seq_cst);  // publishes the job
  gen_.store(g, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(&gen_);

  // Take chunks like any worker.
  uint32_t mine = 0;
  uint64_t v = ctl_.load(std::memory_order_relaxed);
  for (;;) {
    const uint32_t c = static_cast<uint32_t>(v);
    if (c >= total) break;
    if (ctl_.compare_exchange_weak(v, v + 1, std::memory_order_seq_cst, std::memory_order_relaxed)) {
      fn(ctx, 0, c);
      ++mine;
      v = ctl_.load(std::memory_order_relaxed);
    }
  }
  // Wait for the chunks the workers took: spin briefly, then sleep until
  // a worker finishing a chunk sees caller_waiting_ and wakes us.
  const uint32_t need = total - mine;
  auto pending = [&] { return done_chunks(g, n) != need; };
  if (spin_while(pending, kWaitSpinUs)) return;
  for (;;) {
    const uint32_t w = wake_.load(std::memory_order_seq_cst);
    caller_waiting_.store(g, std::memory_order_seq_cst);
    if (!pending()) break;
    futex_wait(&wake_, w);
  }
  caller_waiting_.store(0, std::memory_order_relaxed);
}

void ThreadPool::drain(int tid) {
  uint64_t v = ctl_.load(std::memory_order_seq_cst);
  for (;;) {
    const uint32_t g = static_cast<uint32_t>(v >> 32);
    // Parameters of job g: valid if the CAS below takes a chunk of job g
    // (the caller rewrites them only after every chunk of g has finished).
    Fn fn = fn_.load(std::memory_order_relaxed);
    void* ctx = ctx_.load(std::memory_order_relaxed);
    const uint32_t total = n_chunks_.load(std::memory_order_relaxed);
    const int active = active_.load(std::memory_order_relaxed);
    const uint32_t csr = fpcsr_.load(std::memory_order_relaxed);
    if (tid >= active) return;
    uint32_t done = 0;
    for (;;) {
      const uint32_t c = static_cast<uint32_t>(v);
      if (c >= total) return;
      if (ctl_.compare_exchange_weak(v, v + 1, std::memory_order_seq_cst, std::memory_order_seq_cst)) {
        set_fp_csr(csr);  // the CAS took a chunk of job g: csr is that job's
        fn(ctx, tid, c);
        ++done;
        fin_[tid].v.store((static_cast<uint64_t>(g) << 32) | done, std::memory_order_seq_cst);
        if (caller_waiting_.load(std::memory_order_seq_cst) == g) {
          wake_.fetch_add(1, std::memory_order_seq_cst);
          futex_wake_all(&wake_);
        }
        v = ctl_.load(std::memory_order_seq_cst);
      }
      if (static_cast<uint32_t>(v >> 32) != g) break;  // a newer job: re-read its parameters
    }
  }
}

void ThreadPool::worker(int tid) {
  uint32_t seen = 0;
  for (;;) {
    if (!spin_while([&] { return gen_.load(std::memory_order_acquire) == seen; }, kIdleSpinUs)) {
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      while (gen_.load(std::memory_order_seq_cst) == seen) futex_wait(&gen_, seen);
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    }
    seen = gen_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    drain(tid);
  }
}

}  // namespace f8backend
