// Stopping: EOS ids, stop strings across token boundaries with held-back
// text, max tokens.
#include <gtest/gtest.h>

#include "sampling/stop.h"

using f8::sampling::StopReason;
using f8::sampling::Stopper;

namespace {
// Streams pieces; returns everything emitted and the final reason.
std::pair<std::string, StopReason> run(Stopper& s, const std::vector<std::string>& pieces, int32_t eos_at = -1) {
  std::string out;
  StopReason r = StopReason::None;
  for (size_t i = 0; i < pieces.size() && r == StopReason::None; ++i)
    r = s.push(int32_t(i) == eos_at ? 2 : 100, pieces[i], &out);
  if (r == StopReason::None) s.finish(&out);
  return {out, r};
}
}  // namespace

TEST(Stopper, StopStringAcrossTokens) {
  Stopper s({"</answer>"}, {2}, 0);
  std::string out;
  EXPECT_EQ(s.push(100, "The result is 4", &out), StopReason::None);
  EXPECT_EQ(out, "The result is 4");
  EXPECT_EQ(s.push(100, ".</ans", &out), StopReason::None);
  EXPECT_EQ(out, "The result is 4.");  // "</ans" held back
  EXPECT_EQ(s.held(), "</ans");
  EXPECT_EQ(s.push(100, "wer> trailing", &out), StopReason::StopString);
  EXPECT_EQ(out, "The result is 4.");
  EXPECT_EQ(s.push(100, "more", &out), StopReason::StopString);  // sticky
  EXPECT_EQ(out, "The result is 4.");
}

TEST(Stopper, HeldTextIsReleasedWhenItDiverges) {
  Stopper s({"STOP"}, {}, 0);
  auto [out, r] = run(s, {"a S", "T", "x", "ST", "OP!"});
  EXPECT_EQ(r, StopReason::StopString);
  EXPECT_EQ(out, "a STx");
}

TEST(Stopper, OverlappingPrefixes) {
  // "aab" inside "aaab": the held suffix must restart correctly.
  Stopper s({"aab"}, {}, 0);
  auto [out, r] = run(s, {"a", "a", "a", "b", "c"});
  EXPECT_EQ(r, StopReason::StopString);
  EXPECT_EQ(out, "a");
  Stopper t({"xyz", "yq"}, {}, 0);
  auto [out2, r2] = run(t, {"xy", "q"});
  EXPECT_EQ(r2, StopReason::StopString);
  EXPECT_EQ(out2, "x");
}

TEST(Stopper, EarliestOfSeveralStopStrings) {
  Stopper s({"World", "lo W"}, {}, 0);
  auto [out, r] = run(s, {"Hello World"});
  EXPECT_EQ(r, StopReason::StopString);
  EXPECT_EQ(out, "Hel");
}

TEST(Stopper, EosStopsAndReleasesHeldText) {
  Stopper s({"<|im_end|>"}, {2, 7}, 0);
  auto [out, r] = run(s, {"hi <|im", "<eos-text>"}, 1);
  EXPECT_EQ(r, StopReason::Eos);
  EXPECT_EQ(out, "hi <|im");  // the EOS token's own text is not emitted
}

TEST(Stopper, MaxTokens) {
  Stopper s({"zz"}, {}, 3);
  auto [out, r] = run(s, {"a", "b", "cz", "d"});
  EXPECT_EQ(r, StopReason::MaxTokens);
  EXPECT_EQ(out, "abcz");
  EXPECT_EQ(s.n_tokens(), 3);
}

TEST(Stopper, NoStopStringsPassesEverythingThrough) {
  Stopper s({"", ""}, {}, 0);
  auto [out, r] = run(s, {"x", "", "\xe2\x82", "\xac"});
  EXPECT_EQ(r, StopReason::None);
  EXPECT_EQ(out, "x\xe2\x82\xac");
}
