// bench_tokenizer — tokenizer throughput on one text (not a test; run by
// scripts/bench_tokenizer.sh beside the Python `tokenizers`/`sentencepiece`
// packages). Single thread.
//
//   bench_tokenizer DIR TEXT [REPS] [IDS_OUT] [whole|lines]
// DIR: a Hugging Face tokenizer directory (imported as `f8 convert` does).
// Prints one JSON line: load ms, tokens, encode MB/s and decode MB/s (best of
// REPS, default 3). IDS_OUT receives the ids as little-endian int32 so the
// script can compare them with the reference's, id for id. Mode "whole"
// (default) encodes the text in one call; "lines" calls encode once per line
// (each line with its '\n'), the size of typical prompts.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>
#include <algorithm>

#include "convert/tokenizer_import.h"
#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_tokenizer DIR TEXT [REPS] [IDS_OUT]\n");
    return 2;
  }
  const int reps = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
  std::ifstream f(argv[2], std::ios::binary);
  if (!f) { std::fprintf(stderr, "cannot read %s\n", argv[2]); return 1; }
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  const bool lines = argc > 5 && std::string(argv[5]) == "lines";
  std::vector<std::string_view> parts;
  for (size_t i = 0; i < text.size();) {
    size_t e = lines ? text.find('\n', i) : std::string::npos;
    e = e == std::string::npos ? text.size() : e + 1;
    parts.emplace_back(text.data() + i, e - i);
    i = e;
  }

  using clk = std::chrono::steady_clock;
  auto t0 = clk::now();
  std::vector<ggf8::KV> kvs;
  auto st = f8conv::import_tokenizer(argv[1], &kvs);
  std::unique_ptr<f8tok::Tokenizer> tok;
  if (st.ok()) st = f8tok::load_from_kvs(kvs, &tok);
  if (!st.ok()) { std::fprintf(stderr, "%s: %s\n", argv[1], st.message.c_str()); return 1; }
  const double load_ms = std::chrono::duration<double, std::milli>(clk::now() - t0).count();
  const bool sp = std::string(tok->kind()) == "sentencepiece";

  f8tok::EncodeOptions eo;
  eo.add_special = false;
  eo.parse_special = !sp;  // the references' defaults (see gen_tokenizer_goldens.py)
  std::vector<int32_t> ids;
  double best_enc = 1e30, best_dec = 1e30;
  std::string back;
  for (int r = 0; r < reps; ++r) {
    ids.clear();
    auto a = clk::now();
    for (std::string_view part : parts) {
      st = tok->encode(part, eo, &ids);
      if (!st.ok()) break;
    }
    auto b = clk::now();
    if (!st.ok()) { std::fprintf(stderr, "encode: %s\n", st.message.c_str()); return 1; }
    best_enc = std::min(best_enc, std::chrono::duration<double>(b - a).count());
    back.clear();
    f8tok::DecodeOptions d;
    d.strip_leading_space = true;
    a = clk::now();
    st = tok->decode(ids.data(), ids.size(), d, &back);
    b = clk::now();
    if (!st.ok()) { std::fprintf(stderr, "decode: %s\n", st.message.c_str()); return 1; }
    best_dec = std::min(best_dec, std::chrono::duration<double>(b - a).count());
  }
  if (argc > 4) {
    std::ofstream o(argv[4], std::ios::binary);
    o.write(reinterpret_cast<const char*>(ids.data()), static_cast<std::streamsize>(ids.size() * sizeof(int32_t)));
  }
  const double mb = double(text.size()) / 1e6;
  std::printf("{\"impl\": \"f8\", \"mode\": \"%s\", \"kind\": \"%s\", \"bytes\": %zu, \"tokens\": %zu, \"load_ms\": %.1f, "
              "\"encode_s\": %.4f, \"encode_MBps\": %.2f, \"decode_MBps\": %.2f, \"roundtrip\": %s}\n",
              lines ? "lines" : "whole", tok->kind(), text.size(), ids.size(), load_ms, best_enc, mb / best_enc, mb / best_dec,
              back == text ? "true" : "false");
  return 0;
}
