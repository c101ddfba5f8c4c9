// cpu_count.cpp — see cpu_count.h.
#include "backend/cpu_count.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#if defined(__linux__)
#include <sched.h>
#endif

namespace f8backend {
namespace {

constexpr int kMaxDefaultThreads = 64;

bool read_first_line(const std::string& path, std::string* out) {
  std::ifstream f(path);
  if (!f) return false;
  std::getline(f, *out);
  return true;
}

bool read_long(const std::string& path, long long* out) {
  std::string s;
  if (!read_first_line(path, &s)) return false;
  std::istringstream is(s);
  return static_cast<bool>(is >> *out);
}

// Whole CPUs allowed by quota/period; 0 = unlimited or unreadable.
int quota_cpus(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>(std::max<long long>(1, quota / period));
}

// cgroup v2: "QUOTA PERIOD" or "max PERIOD" in cpu.max. 0 = none.
int v2_quota(const std::string& file) {
  std::string s;
  if (!read_first_line(file, &s)) return 0;
  std::istringstream is(s);
  std::string q;
  long long period = 0;
  if (!(is >> q >> period) || q == "max") return 0;
  try {
    return quota_cpus(std::stoll(q), period);
  } catch (...) {
    return 0;
  }
}

// Smaller of two limits where 0 means none.
int min_limit(int a, int b) { return a == 0 ? b : b == 0 ? a : std::min(a, b); }

// The directory `path` ("/a/b") and each ancestor up to "/" under `mount`.
std::vector<std::string> dirs_up(const std::string& mount, std::string path) {
  std::vector<std::string> out;
  while (!path.empty() && path.back() == '/') path.pop_back();
  for (;;) {
    out.push_back(mount + path);
    if (path.empty()) break;
    const size_t slash = path.rfind('/');
    path = slash == std::string::npos ? std::string() : path.substr(0, slash);
  }
  return out;
}

int cgroup_quota(const std::string& root) {
  std::ifstream f(root + "/proc/self/cgroup");
  std::string line, v2_path;
  bool have_v2 = false;
  std::vector<std::pair<std::string, std::string>> v1;  // (controllers, path)
  while (std::getline(f, line)) {
    // "ID:CONTROLLERS:PATH"; v2 is "0::PATH".
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string ctrl = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (ctrl.empty()) {
      have_v2 = true;
      v2_path = path;
    } else {
      v1.emplace_back(ctrl, path);
    }
  }
  int q = 0;
  if (have_v2) {
    for (const char* mount : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"})
      for (const std::string& d : dirs_up(root + mount, v2_path)) q = min_limit(q, v2_quota(d + "/cpu.max"));
  }
  for (const auto& [ctrl, path] : v1) {
    std::set<std::string> names;
    std::istringstream cs(ctrl);
    for (std::string n; std::getline(cs, n, ',');) names.insert(n);
    if (!names.count("cpu")) continue;
    for (const char* mount : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu"}) {
      for (const std::string& d : dirs_up(root + mount, path)) {
        long long quota = 0, period = 0;
        if (read_long(d + "/cpu.cfs_quota_us", &quota) && read_long(d + "/cpu.cfs_period_us", &period))
          q = min_limit(q, quota_cpus(quota, period));
      }
    }
  }
  return q;
}

}  // namespace

CpuInfo cpu_info(const std::vector<int>& allowed_cpus, const std::string& root) {
  CpuInfo info;
  std::set<int> cpus(allowed_cpus.begin(), allowed_cpus.end());
  info.allowed = static_cast<int>(cpus.size());
  std::set<std::pair<long long, long long>> cores;
  int lone = 0;  // CPUs without topology: one core each
  for (int c : cpus) {
    const std::string dir = root + "/sys/devices/system/cpu/cpu" + std::to_string(c) + "/topology/";
    long long pkg = 0, core = 0;
    if (read_long(dir + "core_id", &core)) {
      if (!read_long(dir + "physical_package_id", &pkg)) pkg = 0;
      cores.emplace(pkg, core);
    } else {
      ++lone;
    }
  }
  info.physical_cores = static_cast<int>(cores.size()) + lone;
  info.quota = cgroup_quota(root);
  int t = std::max(1, info.physical_cores);
  if (info.quota > 0) t = std::min(t, info.quota);
  info.threads = std::max(1, std::min(t, kMaxDefaultThreads));
  return info;
}

CpuInfo cpu_info_self() {
  std::vector<int> cpus;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
#endif
  if (cpus.empty()) {
    const unsigned n = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned c = 0; c < n; ++c) cpus.push_back(static_cast<int>(c));
  }
  return cpu_info(cpus, "");
}

int default_thread_count() { return cpu_info_self().threads; }

}  // namespace f8backend
