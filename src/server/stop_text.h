// stop_text.h — stop strings over streamed text.
//
// Text that might be the beginning of a stop string is held back until it
// either completes the stop string (then it and everything after it are
// dropped) or cannot any more (then it is released), so a streaming client
// never sees part of a stop string. Matching is on bytes of complete UTF-8
// text (the runtime's text stream never splits a character).
#pragma once

#include <string>
#include <vector>

namespace f8srv {

class StopText {
 public:
  explicit StopText(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Appends `text`; returns what is now safe to show. Sets *hit when a stop
  // string completed (nothing after it is ever returned).
  std::string feed(const std::string& text, bool* hit);
  // The held-back text, for when generation ends for another reason.
  std::string flush();

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool hit_ = false;
};

}  // namespace f8srv
