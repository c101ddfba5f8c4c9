// util_pull_progress.h — what `f8 pull` shows while it downloads, on stderr:
// one line per file as it completes
//   f8: fetched model.safetensors (269.1 MB in 22.8 s, 11.8 MB/s)
// and, on a terminal, below them one bar redrawn 5 times a second
//   [==========>         ]  52%  140.2 MB/270.1 MB  11.8 MB/s  ETA 0:11  model.safetensors (+1)
// Retries and lock waits are printed as lines in both modes. Thread-safe:
// the download threads report into it (hub/snapshot.h's hooks).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "hub/snapshot.h"

namespace f8cli {

class PullProgress {
 public:
  PullProgress(bool tty, bool quiet);
  ~PullProgress();  // stops the redraw thread and clears the bar

  // Hooks for fetch_snapshot, bound to this object.
  f8hub::SnapshotHooks hooks();
  // A line of its own (clears the bar first).
  void line(const std::string& text);
  void finish();  // stop redrawing, clear the bar

 private:
  void draw_locked();
  void loop();

  const bool tty_, quiet_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, drawn_ = false;
  uint64_t total_ = 0;     // bytes of the files still to fetch at plan time
  uint64_t done_ = 0;      // of those, in the cache now (kept + received)
  uint64_t net_ = 0;       // received over the network (rate, ETA)
  std::map<std::string, int64_t> active_;  // transfers in progress
  std::chrono::steady_clock::time_point t0_;
  std::thread thread_;
};

std::string human_bytes(uint64_t b);  // "655 B", "9.8 MB", "1.2 GB"

}  // namespace f8cli
