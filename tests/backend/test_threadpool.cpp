// The CPU thread pool (backend/threadpool.h) under hostile scheduling, and the
// default thread count rule (backend/cpu_count.h) on fake /proc and /sys trees.
#include <gtest/gtest.h>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backend/cpu_count.h"
#include "backend/threadpool.h"

using f8backend::CpuInfo;
using f8backend::ThreadPool;

namespace {

// A value that depends on the job and the chunk (what a chunk "computes").
double chunk_value(int job, int64_t c) { return std::sin(0.37 * job + 1.3 * static_cast<double>(c)); }

// Runs `jobs` pool jobs with random chunk counts; some chunk calls are
// delayed (sleep, yield or spin) at random. Checks: every chunk runs exactly
// once per job, the outputs match a serial computation, tids are in range
// and no two calls with the same tid overlap. Returns the number of calls
// made on workers (tid != 0).
int64_t hammer(ThreadPool& pool, int jobs, uint32_t seed, bool idle_gaps) {
  std::mt19937 rng(seed);
  std::vector<double> out(256), want(256);
  std::vector<std::atomic<int>> runs(256);
  std::vector<std::atomic<int>> in_use(pool.size());
  std::atomic<int64_t> on_workers{0};
  std::atomic<bool> bad_tid{false}, overlap{false};
  for (int j = 0; j < jobs; ++j) {
    const int64_t n = 1 + static_cast<int64_t>(rng() % 200);
    // Per-chunk delays, fixed before the job so the callbacks only read them.
    std::vector<int> delay(n);
    for (auto& d : delay) {
      const uint32_t r = rng() % 100;
      d = r < 3 ? 1 : r < 6 ? 2 : r < 10 ? 3 : 0;  // sleep / yield / spin / none
    }
    for (int64_t c = 0; c < n; ++c) runs[c].store(0);
    pool.for_chunks(n, [&](int tid, int64_t c) {
      if (tid < 0 || tid >= pool.size() || c < 0 || c >= n) {
        bad_tid = true;
        return;
      }
      if (in_use[tid].fetch_add(1) != 0) overlap = true;
      if (tid != 0) on_workers.fetch_add(1, std::memory_order_relaxed);
      switch (delay[c]) {
        case 1: std::this_thread::sleep_for(std::chrono::microseconds(50 + c % 200)); break;
        case 2: std::this_thread::yield(); break;
        case 3: {
          std::atomic<int> spin{0};
          while (spin.fetch_add(1, std::memory_order_relaxed) < 20000) {}
          break;
        }
        default: break;
      }
      out[c] = chunk_value(j, c);
      runs[c].fetch_add(1);
      in_use[tid].fetch_sub(1);
    });
    for (int64_t c = 0; c < n; ++c) {
      want[c] = chunk_value(j, c);
      EXPECT_EQ(runs[c].load(), 1) << "job " << j << " chunk " << c;
      EXPECT_EQ(out[c], want[c]) << "job " << j << " chunk " << c;
    }
    if (::testing::Test::HasFailure()) break;
    // Now and then leave the pool idle long enough for the workers to sleep.
    if (idle_gaps && rng() % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300 + rng() % 700));
  }
  EXPECT_FALSE(bad_tid.load());
  EXPECT_FALSE(overlap.load());
  return on_workers.load();
}

TEST(ThreadPool, RandomDelaysSameResultsAndFinish) {
  for (int threads : {2, 3, 8}) {
    ThreadPool pool(threads);
    const int64_t w = hammer(pool, 3000, 1234 + threads, /*idle_gaps=*/true);
    EXPECT_GT(w, 0) << "workers never took a chunk (" << threads << " threads)";
  }
}

TEST(ThreadPool, OneThreadAndTinyJobs) {
  ThreadPool one(1);
  hammer(one, 200, 7, false);
  ThreadPool pool(4);
  int calls = 0;
  pool.for_chunks(0, [&](int, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  pool.for_chunks(1, [&](int tid, int64_t c) { calls += 1 + tid + static_cast<int>(c); });
  EXPECT_EQ(calls, 1);  // one chunk: inline on the caller
  std::atomic<int> n{0};
  pool.for_chunks(50, [&](int tid, int64_t) { n += tid == 0 ? 1 : 1000; }, /*max_threads=*/1);
  EXPECT_EQ(n.load(), 50);  // max_threads = 1: all on the caller
}

TEST(ThreadPool, RunGivesEveryPartOnce) {
  ThreadPool pool(3);
  for (int rep = 0; rep < 500; ++rep) {
    std::vector<std::atomic<int>> seen(3);
    std::atomic<int> bad_n{0};
    pool.run([&](int part, int n) {
      if (n != 3) ++bad_n;
      seen[part].fetch_add(1);
    });
    for (auto& s : seen) ASSERT_EQ(s.load(), 1);
    ASSERT_EQ(bad_n.load(), 0);
    pool.run([&](int part, int n) {
      if (n != 2 || part > 1) ++bad_n;
    }, 2);
    ASSERT_EQ(bad_n.load(), 0);
  }
}

TEST(ThreadPool, SplitAndChunkCounts) {
  // split: contiguous, covering, aligned.
  for (int64_t items : {1, 7, 8, 100, 1537}) {
    for (int64_t n : {1, 2, 3, 16}) {
      int64_t prev = 0;
      for (int64_t p = 0; p < n; ++p) {
        int64_t b, e;
        ThreadPool::split(items, p, n, 8, &b, &e);
        EXPECT_EQ(b, prev);
        EXPECT_LE(b, e);
        if (e < items) {
          EXPECT_EQ(e % 8, 0);
        }
        prev = e;
      }
      EXPECT_EQ(prev, items);
    }
  }
  EXPECT_EQ(ThreadPool::chunks_for(0, 2), 0);
  EXPECT_EQ(ThreadPool::chunks_for(1, 2), 1);
  EXPECT_EQ(ThreadPool::chunks_for(1000, 2), 2 * ThreadPool::kChunksPerThread);
  EXPECT_EQ(ThreadPool::chunks_for(1000, 2, 400), 2);  // min chunk size, but >= one per thread
  EXPECT_EQ(ThreadPool::chunks_for(3, 8), 3);
}

// More threads than CPUs: the process pinned to one CPU (in a forked child,
// so the test binary keeps its own affinity). Must finish, with the same
// results, well inside the alarm.
TEST(ThreadPool, FewerCpusThanThreadsFinishes) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(120);  // a hang kills the child: the parent sees a signal, not exit 0
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) _exit(3);
    const auto t0 = std::chrono::steady_clock::now();
    {
      ThreadPool pool(4);  // workers inherit the one-CPU mask
      hammer(pool, 1500, 99, /*idle_gaps=*/true);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (::testing::Test::HasFailure()) _exit(1);
    if (f8backend::cpu_info_self().allowed != 1) _exit(4);
    _exit(s < 60 ? 0 : 2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: wrong results, 2: too slow, 3: setaffinity failed, 4: affinity not seen";
}

// The same from a pinned caller thread only (workers free): a caller that
// shares its CPU with nobody of its own still finishes.
TEST(ThreadPool, PinnedCallerThreadFinishes) {
  std::thread t([] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one);
    ThreadPool pool(3);
    hammer(pool, 500, 5, false);
  });
  t.join();
}

// ---- default thread count on fake trees ----

class FakeRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("f8_cpucount_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void put(const std::string& rel, const std::string& text) {
    const auto p = root_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  // cpuN with the given package and core id.
  void cpu(int n, int pkg, int core) {
    const std::string d = "sys/devices/system/cpu/cpu" + std::to_string(n) + "/topology/";
    put(d + "physical_package_id", std::to_string(pkg) + "\n");
    put(d + "core_id", std::to_string(core) + "\n");
  }
  std::string root() const { return root_.string(); }
  std::filesystem::path root_;
};

TEST_F(FakeRoot, SmtSiblingsCountOnce) {
  // 8 CPUs: 4 cores x 2 SMT threads (Linux numbering: siblings 0/4, 1/5, ...).
  for (int c = 0; c < 8; ++c) cpu(c, 0, c % 4);
  put("proc/self/cgroup", "0::/\n");
  CpuInfo i = f8backend::cpu_info({0, 1, 2, 3, 4, 5, 6, 7}, root());
  EXPECT_EQ(i.allowed, 8);
  EXPECT_EQ(i.physical_cores, 4);
  EXPECT_EQ(i.quota, 0);
  EXPECT_EQ(i.threads, 4);
  // Affinity to two siblings of one core: one thread.
  i = f8backend::cpu_info({1, 5}, root());
  EXPECT_EQ(i.allowed, 2);
  EXPECT_EQ(i.threads, 1);
  // Affinity to 0, 1, 5: two cores.
  EXPECT_EQ(f8backend::cpu_info({0, 1, 5}, root()).threads, 2);
}

TEST_F(FakeRoot, TwoPackagesSameCoreIds) {
  for (int c = 0; c < 4; ++c) cpu(c, c / 2, c % 2);  // core ids repeat per package
  EXPECT_EQ(f8backend::cpu_info({0, 1, 2, 3}, root()).threads, 4);
}

TEST_F(FakeRoot, NoTopologyMeansOneCorePerCpu) {
  EXPECT_EQ(f8backend::cpu_info({0, 1, 2}, root()).threads, 3);  // no files at all
  EXPECT_EQ(f8backend::cpu_info({}, root()).threads, 1);
}

TEST_F(FakeRoot, CgroupV2QuotaSmallestAlongThePath) {
  for (int c = 0; c < 8; ++c) cpu(c, 0, c);
  put("proc/self/cgroup", "0::/user.slice/app.scope\n");
  put("sys/fs/cgroup/user.slice/cpu.max", "max 100000\n");
  put("sys/fs/cgroup/user.slice/app.scope/cpu.max", "250000 100000\n");  // 2.5 CPUs
  CpuInfo i = f8backend::cpu_info({0, 1, 2, 3, 4, 5, 6, 7}, root());
  EXPECT_EQ(i.quota, 2);
  EXPECT_EQ(i.threads, 2);
  put("sys/fs/cgroup/user.slice/cpu.max", "100000 100000\n");  // parent: 1 CPU
  EXPECT_EQ(f8backend::cpu_info({0, 1, 2, 3}, root()).threads, 1);
  put("sys/fs/cgroup/user.slice/cpu.max", "50000 100000\n");  // half a CPU: still 1
  EXPECT_EQ(f8backend::cpu_info({0, 1, 2, 3}, root()).threads, 1);
  put("sys/fs/cgroup/user.slice/cpu.max", "max 100000\n");
  put("sys/fs/cgroup/user.slice/app.scope/cpu.max", "max 100000\n");
  EXPECT_EQ(f8backend::cpu_info({0, 1, 2, 3}, root()).threads, 4);
  // A quota above the cores: the cores win.
  put("sys/fs/cgroup/user.slice/app.scope/cpu.max", "1600000 100000\n");
  EXPECT_EQ(f8backend::cpu_info({0, 1, 2}, root()).threads, 3);
}

TEST_F(FakeRoot, CgroupV1CfsQuota) {
  for (int c = 0; c < 8; ++c) cpu(c, 0, c);
  put("proc/self/cgroup", "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n");
  put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n");
  put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  CpuInfo i = f8backend::cpu_info({0, 1, 2, 3, 4, 5, 6, 7}, root());
  EXPECT_EQ(i.quota, 3);
  EXPECT_EQ(i.threads, 3);
  put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");  // unlimited
  EXPECT_EQ(f8backend::cpu_info({0, 1, 2, 3, 4, 5, 6, 7}, root()).threads, 8);
  // Garbage is ignored, not fatal.
  put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "lots\n");
  EXPECT_EQ(f8backend::cpu_info({0, 1}, root()).threads, 2);
}

TEST(CpuCount, ThisProcess) {
  const CpuInfo i = f8backend::cpu_info_self();
  EXPECT_GE(i.allowed, 1);
  EXPECT_GE(i.physical_cores, 1);
  EXPECT_LE(i.physical_cores, i.allowed);
  EXPECT_GE(i.threads, 1);
  EXPECT_LE(i.threads, i.physical_cores);
  EXPECT_EQ(f8backend::default_thread_count(), i.threads);
}

}  // namespace
