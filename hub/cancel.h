// cancel.h — how a pull is stopped from outside: Ctrl-C (the flag the CLI's
// SIGINT handler sets) or an internal abort (another download of the same
// pull failed, so the rest stop early). Checked by libcurl's progress
// callback, by backoff sleeps and by lock waits.
#pragma once

#include <atomic>
#include <csignal>

namespace f8hub {

struct Cancel {
  const volatile std::sig_atomic_t* sigint = nullptr;
  std::atomic<bool>* abort = nullptr;
  bool interrupted() const { return sigint && *sigint; }
  bool cancelled() const { return interrupted() || (abort && abort->load()); }
};

}  // namespace f8hub
