// cmd_tokenize.cpp — `f8 tokenize -m M.f8 [-p TEXT | -f FILE]`: the model's
// token ids (and pieces) for a text, to debug prompts and to check f8's
// tokenizer from outside the test suite. Loads the vocabulary only.
//
// Output (stdout): ids separated by spaces on one line; with --pieces one
// line per token: id, the vocabulary string, and the text it decodes to
// (JSON-quoted); with --json one object {"n_tokens", "ids", ["pieces"]}.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "args.h"
#include "command.h"
#include "f8.h"
#include "util_io.h"

namespace {

// JSON string literal for arbitrary bytes: invalid UTF-8 becomes U+FFFD so
// the output always parses.
std::string json_quote(const std::string& s) {
  std::string o = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': o += "\\\""; continue;
      case '\\': o += "\\\\"; continue;
      case '\n': o += "\\n"; continue;
      case '\r': o += "\\r"; continue;
      case '\t': o += "\\t"; continue;
      default: break;
    }
    if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
      continue;
    }
    if (c < 0x80) { o += static_cast<char>(c); continue; }
    // Copy a complete, valid multi-byte sequence; anything else -> U+FFFD.
    int need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (c > 0xF4) need = 0;
    bool ok = need > 0 && i + need <= s.size();
    for (int k = 1; ok && k < need; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && need == 3) {
      const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 > 0x9F);
    }
    if (ok && need == 4) {
      const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 > 0x8F);
    }
    if (ok) { o.append(s, i, need); i += need - 1; }
    else o += "\xEF\xBF\xBD";
  }
  return o + "\"";
}

int cmd_tokenize(int argc, char** argv) {
  using namespace f8cli;
  std::string model_path, prompt, file;
  bool json = false, pieces = false, no_bos = false, no_special = false;
  ArgParser p("f8 tokenize", "-m M.f8 (-p TEXT | -f FILE) [options]",
              "Print the token ids of a text with the model's own tokenizer.");
  p.option("-m,--model", &model_path, "FILE", "the .f8 model", true);
  p.option("-p,--prompt", &prompt, "TEXT", "the text to tokenize");
  p.option("-f,--file", &file, "FILE", "read the text from FILE ('-' = stdin)");
  p.flag("--json", &json, "machine-readable output");
  p.flag("--pieces", &pieces, "also show each token's vocabulary string and decoded text");
  p.flag("--no-bos", &no_bos, "do not add BOS/EOS even where the model's config does");
  p.flag("--no-special", &no_special, "treat special-token text like <|im_start|> as plain text");
  p.epilog("Examples:\n  f8 tokenize -m smollm2.f8 -p 'Hello world' --pieces\n"
           "  f8 tokenize -m smollm2.f8 -f prompt.txt --json");
  int rc;
  if (!p.parse(argc, argv, &rc)) return rc;
  if (p.given("--prompt") == p.given("--file"))
    return fail(2, "f8 tokenize: give exactly one of -p TEXT or -f FILE");
  std::string text = prompt;
  if (p.given("--file") && !read_file(file, &text)) return fail(1, "cannot read " + file);

  f8_model_params mp = f8_model_default_params();
  mp.vocab_only = true;
  f8_model* model = nullptr;
  if (f8_model_load(model_path.c_str(), &mp, &model) != F8_OK) return fail(1, f8_last_error());

  size_t n = 0;
  std::vector<int32_t> ids;
  f8_status s = f8_tokenize(model, text.data(), text.size(), !no_bos, !no_special, nullptr, 0, &n);
  if (s == F8_ERR_BUFFER_TOO_SMALL) {
    ids.resize(n);
    s = f8_tokenize(model, text.data(), text.size(), !no_bos, !no_special, ids.data(), ids.size(), &n);
  }
  if (s != F8_OK) {
    const std::string msg = f8_last_error();
    f8_model_free(model);
    return fail(1, msg);
  }
  ids.resize(n);

  auto piece_of = [&](int32_t id) {
    std::string buf(64, '\0');
    size_t len = 0;
    if (f8_token_to_piece(model, id, true, buf.data(), buf.size(), &len) == F8_ERR_BUFFER_TOO_SMALL) {
      buf.resize(len + 1);
      f8_token_to_piece(model, id, true, buf.data(), buf.size(), &len);
    }
    buf.resize(len);
    return buf;
  };
  auto text_of = [&](int32_t id) {
    const char* t = f8_token_text(model, id);
    return std::string(t ? t : "");
  };

  std::string out;
  if (json) {
    out = "{\"n_tokens\": " + std::to_string(ids.size()) + ", \"ids\": [";
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
    out += "]";
    if (pieces) {
      out += ", \"pieces\": [";
      for (size_t i = 0; i < ids.size(); ++i)
        out += std::string(i ? ", " : "") + "{\"id\": " + std::to_string(ids[i]) + ", \"token\": " +
               json_quote(text_of(ids[i])) + ", \"text\": " + json_quote(piece_of(ids[i])) + "}";
      out += "]";
    }
    out += "}\n";
  } else if (pieces) {
    for (int32_t id : ids) {
      char head[16];
      std::snprintf(head, sizeof head, "%8d  ", id);
      out += head + json_quote(text_of(id)) + "  " + json_quote(piece_of(id)) + "\n";
    }
  } else {
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? " " : "") + std::to_string(ids[i]);
    out += "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fprintf(stderr, "%zu tokens, %zu bytes\n", ids.size(), text.size());
  f8_model_free(model);
  return 0;
}

}  // namespace

F8_COMMAND("tokenize", "token ids (and pieces) of a text with the model's tokenizer", cmd_tokenize);
