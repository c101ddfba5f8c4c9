// stop.h — when generation stops, and which text is safe to show while
// streaming (f8_sampling).
//
// Stop conditions, checked per token in this order:
//   EOS        the token is one of the model's end-of-sequence ids
//              (chat.eos_ids); its text is not emitted
//   stop text  a stop string appears in the generated text, even when it
//              spans several tokens; the text before it is emitted, the
//              stop string and anything after it are not
//   max tokens the token count reached the limit (the token's text is kept)
// Text that could still become the start of a stop string is held back and
// released as soon as it cannot (or at the end, by finish()).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

namespace f8::sampling {

enum class StopReason { None, Eos, StopString, MaxTokens };
const char* stop_reason_name(StopReason r);

class Stopper {
 public:
  // max_tokens <= 0: no limit. Empty stop strings are ignored.
  Stopper(std::vector<std::string> stop_strings, std::vector<int32_t> eos_ids, int64_t max_tokens);

  // Feeds one generated token and its decoded text. Appends the text that is
  // now safe to show to *emit. Returns the stop reason (None = continue).
  // After a stop, further calls do nothing and return the same reason.
  StopReason push(int32_t token, const std::string& piece, std::string* emit);
  // Releases the held-back text (call when generation ends for another reason).
  void finish(std::string* emit);

  StopReason reason() const { return reason_; }
  int64_t n_tokens() const { return n_tokens_; }
  const std::string& held() const { return pending_; }

 private:
  std::vector<std::string> stops_;
  std::unordered_set<int32_t> eos_;
  int64_t max_tokens_, n_tokens_ = 0;
  std::string pending_;
  StopReason reason_ = StopReason::None;
};

}  // namespace f8::sampling
