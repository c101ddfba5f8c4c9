// util_run.h — what generate / chat / bench / perplexity share: the model
// and context flags (same spelling everywhere, CLI.md), loading with a
// timer, and process facts (RSS) for the summary lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "args.h"
#include "f8.h"

namespace f8cli {

struct RunFlags {
  std::string model;
  int64_t ctx = 0;          // 0 = model default (capped at 4096)
  int64_t batch = 512;
  int64_t threads = 0;      // 0 = default (backend/cpu_count.h)
  std::string kv_type = "fp8";
  std::string backend = "cpu";
  double gpu_mem = 0.9;     // GPU backends: fraction of device memory to use
  int64_t tp = 1;           // tensor-parallel ranks
  std::string tp_devices;   // "2,3": GPU of each local rank (default 0..)
  int64_t tp_nodes = 1, tp_node = 0;
  std::string rendezvous;   // file:PATH or HOST:PORT
  bool emulate_gpu = false;
  bool deterministic = false;
  bool no_kv_calibrate = false;
};

// Registers -m, -c, -b, -t, --kv-type, --backend/--device, --tp*, --gpu-mem, --emulate-gpu,
// --deterministic, --no-kv-calibrate.
void add_run_flags(ArgParser& p, RunFlags* f);

// Turns flags into context params; returns false with *err on a bad value.
bool context_params_from(const RunFlags& f, ArgParser& p, f8_context_params* out, std::string* err);

struct Loaded {
  f8_model* model = nullptr;
  f8_context* ctx = nullptr;
  double load_ms = 0;        // f8_model_load wall time
  f8_model_info info{};
  ~Loaded();
};

// Loads the model and makes a context; prints "f8: error: ..." and returns
// the exit code (1 runtime, 2 usage) on failure, 0 on success.
int load_model_and_context(const RunFlags& f, ArgParser& p, Loaded* out, bool quiet = false);

double now_ms();
// Resident set size and its peak (VmRSS / VmHWM from /proc/self/status), MiB; -1 if unknown.
double rss_mib();
double rss_peak_mib();

// Parses "1,2,4" into positive integers; false on any bad element.
bool parse_int_list(const std::string& s, std::vector<int64_t>* out);

}  // namespace f8cli
