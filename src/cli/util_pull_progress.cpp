// util_pull_progress.cpp — see util_pull_progress.h.
#include "util_pull_progress.h"

#include <algorithm>
#include <cstdio>

namespace f8cli {

std::string human_bytes(uint64_t b) {
  char s[32];
  if (b < 1000) std::snprintf(s, sizeof s, "%llu B", static_cast<unsigned long long>(b));
  else if (b < 1000ull * 1000) std::snprintf(s, sizeof s, "%.1f kB", double(b) / 1e3);
  else if (b < 1000ull * 1000 * 1000) std::snprintf(s, sizeof s, "%.1f MB", double(b) / 1e6);
  else std::snprintf(s, sizeof s, "%.2f GB", double(b) / 1e9);
  return s;
}

PullProgress::PullProgress(bool tty, bool quiet) : tty_(tty && !quiet), quiet_(quiet), t0_(std::chrono::steady_clock::now()) {
  if (tty_) thread_ = std::thread([this] { loop(); });
}

PullProgress::~PullProgress() { finish(); }

void PullProgress::finish() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return;
    stop_ = true;
    if (drawn_) std::fputs("\r\033[K", stderr);
    drawn_ = false;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PullProgress::line(const std::string& text) {
  if (quiet_) return;
  std::lock_guard<std::mutex> l(mu_);
  if (drawn_) std::fputs("\r\033[K", stderr);
  drawn_ = false;
  std::fprintf(stderr, "%s\n", text.c_str());
}

void PullProgress::loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    cv_.wait_for(l, std::chrono::milliseconds(200));
    if (!stop_ && !active_.empty()) draw_locked();
  }
}

void PullProgress::draw_locked() {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  const double rate = secs > 0.2 ? double(net_) / secs : 0;  // bytes/s over the network
  const uint64_t done = std::min(done_, total_);
  const double frac = total_ ? double(done) / double(total_) : 0;
  const int width = 20, fill = int(frac * width);
  std::string bar = std::string(size_t(fill), '=') + (fill < width ? ">" : "") +
                    std::string(size_t(std::max(0, width - fill - 1)), ' ');
  char eta[32] = "ETA -:--";
  if (rate > 0 && total_ > done) {
    const long s = long(double(total_ - done) / rate);
    std::snprintf(eta, sizeof eta, "ETA %ld:%02ld", s / 60, s % 60);
  }
  std::string files = active_.begin()->first;
  if (files.size() > 28) files = "..." + files.substr(files.size() - 25);
  if (active_.size() > 1) files += " (+" + std::to_string(active_.size() - 1) + ")";
  std::fprintf(stderr, "\r\033[K[%s] %3d%%  %s/%s  %s/s  %s  %s", bar.c_str(), int(frac * 100),
               human_bytes(done).c_str(), human_bytes(total_).c_str(), human_bytes(uint64_t(rate)).c_str(), eta,
               files.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

f8hub::SnapshotHooks PullProgress::hooks() {
  f8hub::SnapshotHooks h;
  h.on_plan = [this](const std::vector<std::pair<std::string, int64_t>>& files, uint64_t cached) {
    std::lock_guard<std::mutex> l(mu_);
    uint64_t all = 0;
    for (const auto& f : files) all += f.second > 0 ? uint64_t(f.second) : 0;
    total_ = all > cached ? all - cached : 0;
    t0_ = std::chrono::steady_clock::now();
  };
  h.on_start = [this](const std::string& file, int64_t size) {
    std::lock_guard<std::mutex> l(mu_);
    active_[file] = size;
  };
  h.on_bytes = [this](int64_t d) {
    std::lock_guard<std::mutex> l(mu_);
    if (d < 0) {
      done_ -= std::min(done_, uint64_t(-d));
    } else {
      done_ += uint64_t(d);
      net_ += uint64_t(d);
    }
  };
  h.on_kept = [this](uint64_t kept) {
    std::lock_guard<std::mutex> l(mu_);
    done_ += kept;
  };
  h.on_done = [this](const std::string& file, int64_t size, uint64_t fetched, double secs) {
    std::lock_guard<std::mutex> l(mu_);
    active_.erase(file);
    if (quiet_) return;
    if (drawn_) std::fputs("\r\033[K", stderr);  // the line goes above the bar
    drawn_ = false;
    const std::string sz = size >= 0 ? human_bytes(uint64_t(size)) : "?";
    if (fetched == 0 && secs == 0) {
      std::fprintf(stderr, "f8: cached %s (%s)\n", file.c_str(), sz.c_str());
    } else {
      std::fprintf(stderr, "f8: fetched %s (%s in %.1f s, %s/s)\n", file.c_str(), sz.c_str(), secs,
                   human_bytes(uint64_t(secs > 0 ? double(fetched) / secs : 0)).c_str());
    }
  };
  h.on_note = [this](const std::string& n) { line("f8: " + n); };
  return h;
}

}  // namespace f8cli
