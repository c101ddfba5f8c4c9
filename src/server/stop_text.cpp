// stop_text.cpp — see stop_text.h.
#include "server/stop_text.h"

#include <algorithm>

namespace f8srv {

std::string StopText::feed(const std::string& text, bool* hit) {
  *hit = hit_;
  if (hit_) return {};
  pending_ += text;
  // Earliest complete stop string wins.
  size_t first = std::string::npos;
  for (const std::string& s : stops_) {
    size_t p = pending_.find(s);
    if (p < first) first = p;
  }
  if (first != std::string::npos) {
    std::string out = pending_.substr(0, first);
    pending_.clear();
    hit_ = true;
    *hit = true;
    return out;
  }
  // Hold back the longest tail that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& s : stops_) {
    size_t max_k = std::min(s.size() - 1, pending_.size());
    for (size_t k = max_k; k > hold; --k) {
      if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopText::flush() {
  std::string out;
  out.swap(pending_);
  return hit_ ? std::string() : out;
}

}  // namespace f8srv
