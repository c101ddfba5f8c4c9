// cpu_count.h — how many CPU threads f8 uses by default (docs/backend.md,
// "Default thread count"):
//
//   threads = min(physical cores among the CPUs this process may run on,
//                 the cgroup CPU quota rounded down, at least 1), at most 64
//
// - allowed CPUs: sched_getaffinity (taskset, cpusets, container --cpuset-cpus);
// - physical cores: distinct (package, core) pairs of those CPUs from
//   /sys/devices/system/cpu/cpuN/topology/{physical_package_id,core_id}
//   (SMT siblings share a core and its FMA units and load ports, and a
//   memory-bound decode gains nothing from them); a CPU without topology
//   files counts as its own core;
// - quota: cgroup v2 cpu.max ("QUOTA PERIOD") of this process's cgroup and
//   each ancestor (the smallest wins), else cgroup v1 cpu.cfs_quota_us /
//   cpu.cfs_period_us; floor(QUOTA / PERIOD), at least 1 ("max" or -1: none).
// Every path is read under `root` so tests can hand in a fake /proc and /sys.
#pragma once

#include <string>
#include <vector>

namespace f8backend {

struct CpuInfo {
  int allowed = 0;         // CPUs in the affinity mask
  int physical_cores = 0;  // distinct cores among them
  int quota = 0;           // whole CPUs of cgroup quota, 0 = no limit found
  int threads = 1;         // the default thread count (the rule above)
};

// The rule above for the given allowed CPU ids, reading topology and cgroup
// files under root ("" = the real filesystem).
CpuInfo cpu_info(const std::vector<int>& allowed_cpus, const std::string& root);

// cpu_info() for this process: its sched_getaffinity mask (all online CPUs
// when that is unavailable) and the real /proc and /sys.
CpuInfo cpu_info_self();

// cpu_info_self().threads (re-read on every call: a few small files).
int default_thread_count();

}  // namespace f8backend
