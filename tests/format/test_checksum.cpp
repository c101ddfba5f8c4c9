// test_checksum.cpp — the GGF8 checksum is XXH64 with seed 0 (SPEC.md
// §Checksum). Checked against published vectors, against the `xxhsum` tool
// (Debian package xxhash, the reference implementation) when installed, and
// streaming == one-shot for every split.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "ggf8/checksum.h"
#include "sample_files.h"

using ggf8::xxh64;
using ggf8::Xxh64;

TEST(Checksum, KnownVectors) {
  EXPECT_EQ(xxh64("", 0), 0xEF46DB3751D8E999ull);
  EXPECT_EQ(xxh64("abc", 3), 0x44BC2CF5AD770999ull);
}

TEST(Checksum, StreamingEqualsOneShot) {
  auto data = samples::pattern(1000, 5);
  for (size_t n : {0, 1, 3, 4, 7, 8, 31, 32, 33, 63, 64, 65, 100, 999, 1000}) {
    uint64_t want = xxh64(data.data(), n);
    for (size_t split = 0; split <= n; split += (n / 7 + 1)) {
      Xxh64 h;
      h.update(data.data(), split);
      h.update(data.data() + split, n - split);
      EXPECT_EQ(h.digest(), want) << n << " split " << split;
    }
    Xxh64 bytewise;
    for (size_t i = 0; i < n; ++i) bytewise.update(data.data() + i, 1);
    EXPECT_EQ(bytewise.digest(), want) << n;
  }
}

TEST(Checksum, MatchesXxhsum) {
  if (std::system("command -v xxhsum >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "xxhsum not installed (Debian package xxhash)";
  samples::TempDir dir;
  for (size_t n : {0, 1, 5, 31, 32, 33, 257, 4096, 100003}) {
    auto data = samples::pattern(n, uint32_t(n));
    std::string p = dir.file("d");
    p += std::to_string(n);
    FILE* f = std::fopen(p.c_str(), "wb");
    ASSERT_TRUE(f);
    if (n) std::fwrite(data.data(), 1, n, f);
    std::fclose(f);
    std::string cmd = "xxhsum -H1 ";
    cmd += p;
    cmd += " 2>/dev/null";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    ASSERT_TRUE(pipe);
    char buf[256] = {};
    ASSERT_TRUE(std::fgets(buf, sizeof buf, pipe));
    ::pclose(pipe);
    // Output: "<16 hex digits>  <path>"
    uint64_t ref = std::stoull(std::string(buf, 16), nullptr, 16);
    EXPECT_EQ(xxh64(data.data(), n), ref) << n << ": " << buf;
  }
}

// SPEC.md's key registry and ggf8/keys.h must list the same keys.
TEST(Spec, KeyRegistryMatchesKeysH) {
  std::string keys_h = [] {
    auto b = samples::read_all(F8_SOURCE_DIR "/ggf8/keys.h");
    return std::string(b.begin(), b.end());
  }();
  auto sb = samples::read_all(F8_SOURCE_DIR "/ggf8/SPEC.md");
  std::string spec(sb.begin(), sb.end());
  ASSERT_FALSE(keys_h.empty());
  ASSERT_FALSE(spec.empty());
  size_t n = 0, pos = 0;
  const std::string marker = "inline constexpr const char* ";
  while ((pos = keys_h.find(marker, pos)) != std::string::npos) {
    size_t q1 = keys_h.find('"', pos), q2 = keys_h.find('"', q1 + 1);
    ASSERT_NE(q2, std::string::npos);
    std::string key = keys_h.substr(q1 + 1, q2 - q1 - 1);
    EXPECT_NE(spec.find("| " + key + " |"), std::string::npos) << key << " is in keys.h but not SPEC.md";
    ++n;
    pos = q2;
  }
  EXPECT_GT(n, 40u);
  // And the other direction: every registry row names a key in keys.h.
  size_t reg = spec.find("## 12. Metadata key registry");
  ASSERT_NE(reg, std::string::npos);
  for (size_t p = spec.find("\n| ", reg); p != std::string::npos; p = spec.find("\n| ", p + 1)) {
    size_t e = spec.find(" |", p + 3);
    std::string key = spec.substr(p + 3, e - p - 3);
    if (key == "key" || key.find('.') == std::string::npos) continue;  // header row
    EXPECT_NE(keys_h.find("\"" + key + "\""), std::string::npos) << key << " is in SPEC.md but not keys.h";
  }
}
