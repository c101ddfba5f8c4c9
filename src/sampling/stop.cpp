// stop.cpp — stop-string matching across token boundaries.
#include "sampling/stop.h"

#include <algorithm>

namespace f8::sampling {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::Eos: return "eos";
    case StopReason::StopString: return "stop";
    case StopReason::MaxTokens: return "length";
    default: return "none";
  }
}

Stopper::Stopper(std::vector<std::string> stop_strings, std::vector<int32_t> eos_ids, int64_t max_tokens)
    : eos_(eos_ids.begin(), eos_ids.end()), max_tokens_(max_tokens) {
  for (auto& s : stop_strings)
    if (!s.empty()) stops_.push_back(std::move(s));
}

StopReason Stopper::push(int32_t token, const std::string& piece, std::string* emit) {
  if (reason_ != StopReason::None) return reason_;
  ++n_tokens_;
  if (eos_.count(token)) {
    reason_ = StopReason::Eos;
    *emit += pending_;  // no stop string can complete any more
    pending_.clear();
    return reason_;
  }
  pending_ += piece;
  // Earliest complete stop string in the pending text. A match cannot start
  // in text already emitted: that text was released only once no suffix of
  // it could begin a stop string.
  size_t first = std::string::npos;
  for (const auto& s : stops_) first = std::min(first, pending_.find(s));
  if (first != std::string::npos) {
    *emit += pending_.substr(0, first);
    pending_.clear();
    reason_ = StopReason::StopString;
    return reason_;
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const auto& s : stops_) {
    size_t maxk = std::min(s.size() - 1, pending_.size());
    for (size_t k = maxk; k > hold; --k) {
      if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  *emit += pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  if (max_tokens_ > 0 && n_tokens_ >= max_tokens_) {
    reason_ = StopReason::MaxTokens;
    *emit += pending_;
    pending_.clear();
  }
  return reason_;
}

void Stopper::finish(std::string* emit) {
  *emit += pending_;
  pending_.clear();
}

}  // namespace f8::sampling
