// decoders.cpp — see decoders.h.
#include "tokenizer/decoders.h"

#include <array>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "tokenizer/normalize.h"
#include "tokenizer/utf8.h"

namespace f8tok {
namespace {

using json = nlohmann::json;
using Tokens = std::vector<std::string>;
constexpr const char* kWhere = "tokenizer.bpe.decoder_json";

Status err(std::string msg) { return Status::Error(Code::BadType, std::string(kWhere) + ": " + std::move(msg)); }

// One step of the chain: tokens in, tokens out.
class Step {
 public:
  virtual ~Step() = default;
  virtual void run(Tokens* t, bool whole) const = 0;
  virtual bool strips_leading_space() const { return false; }
};

class ByteLevelStep final : public Step {
 public:
  ByteLevelStep() {
    // GPT-2's byte alphabet: printable Latin-1 bytes map to themselves, the
    // other 68 to U+0100.. in byte order.
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char_byte_[printable ? b : next++] = static_cast<uint8_t>(b);
    }
  }
  void run(Tokens* t, bool) const override {
    std::string bytes;
    for (const std::string& tok : *t) {
      const size_t start = bytes.size();
      for (size_t i = 0; i < tok.size();) {
        auto it = char_byte_.find(utf8::next_codepoint(tok, &i));
        if (it == char_byte_.end()) {  // not byte-level text: the token as it is
          bytes.resize(start);
          bytes += tok;
          break;
        }
        bytes.push_back(static_cast<char>(it->second));
      }
    }
    std::string s;
    utf8::append_lossy(bytes, &s, false);
    t->assign(1, std::move(s));
  }

 private:
  std::unordered_map<uint32_t, uint8_t> char_byte_;
};

class ReplaceStep final : public Step {
 public:
  explicit ReplaceStep(std::unique_ptr<Normalizer> r) : r_(std::move(r)) {}
  void run(Tokens* t, bool) const override {
    std::string o;
    for (std::string& tok : *t)
      if (r_->apply(tok, &o).ok()) tok.swap(o);
  }

 private:
  std::unique_ptr<Normalizer> r_;  // the normalizer Replace, applied per token
};

class ByteFallbackStep final : public Step {
 public:
  void run(Tokens* t, bool) const override {
    Tokens out;
    out.reserve(t->size());
    std::string run;
    size_t run_tokens = 0;
    auto flush = [&] {
      if (!run_tokens) return;
      if (utf8::valid(run)) out.push_back(run);
      else
        for (size_t k = 0; k < run_tokens; ++k) out.emplace_back(utf8::kReplacement);
      run.clear();
      run_tokens = 0;
    };
    for (std::string& tok : *t) {
      uint8_t b;
      if (parse_byte_token(tok, &b)) {
        run.push_back(static_cast<char>(b));
        ++run_tokens;
        continue;
      }
      flush();
      out.push_back(std::move(tok));
    }
    flush();
    t->swap(out);
  }
};

class FuseStep final : public Step {
 public:
  void run(Tokens* t, bool) const override {
    std::string all;
    for (const std::string& tok : *t) all += tok;
    t->assign(1, std::move(all));
  }
};

class StripStep final : public Step {
 public:
  StripStep(uint32_t c, size_t start, size_t stop) : c_(c), start_(start), stop_(stop) {}
  void run(Tokens* t, bool whole) const override {
    for (size_t k = 0; k < t->size(); ++k) {
      std::string& tok = (*t)[k];
      size_t b = 0;
      for (size_t n = 0; n < ((k == 0 && !whole) ? 0 : start_) && b < tok.size(); ++n) {
        size_t i = b;
        if (utf8::next_codepoint(tok, &i) != c_) break;
        b = i;
      }
      // Trailing: walk code points from the end.
      size_t e = tok.size();
      for (size_t n = 0; n < stop_ && e > b; ++n) {
        size_t p = e - 1;
        while (p > b && (static_cast<unsigned char>(tok[p]) & 0xC0) == 0x80) --p;
        size_t i = p;
        if (utf8::next_codepoint(tok, &i) != c_) break;
        e = p;
      }
      tok = tok.substr(b, e - b);
    }
  }
  bool strips_leading_space() const override { return c_ == ' ' && start_ > 0; }

 private:
  uint32_t c_;
  size_t start_, stop_;
};

class MetaspaceStep final : public Step {
 public:
  MetaspaceStep(std::string rep, bool prepend) : rep_(std::move(rep)), prepend_(prepend) {}
  void run(Tokens* t, bool whole) const override {
    for (size_t k = 0; k < t->size(); ++k) {
      std::string& tok = (*t)[k];
      const bool drop = k == 0 && prepend_ && whole;  // tokenizers drops every one in token 0
      std::string o;
      size_t pos = 0;
      for (size_t hit; (hit = tok.find(rep_, pos)) != std::string::npos; pos = hit + rep_.size()) {
        o.append(tok, pos, hit - pos);
        if (!drop) o.push_back(' ');
      }
      o.append(tok, pos, std::string::npos);
      tok.swap(o);
    }
  }
  bool strips_leading_space() const override { return prepend_; }

 private:
  std::string rep_;
  bool prepend_;
};

// No decoder at all: tokenizers joins the tokens with spaces. A
// continuation (whole = false) starts with the separating space, so a
// streamed decode (one token at a time) equals the full one.
class JoinSpacesStep final : public Step {
 public:
  void run(Tokens* t, bool whole) const override {
    std::string all;
    for (size_t k = 0; k < t->size(); ++k) all += (k || !whole ? " " : "") + (*t)[k];
    t->assign(1, std::move(all));
  }
  bool strips_leading_space() const override { return true; }
};

class Chain final : public DecodeChain {
 public:
  std::vector<std::unique_ptr<Step>> steps;
  void decode(Tokens tokens, bool whole, std::string* out) const override {
    for (const auto& s : steps) s->run(&tokens, whole);
    for (const std::string& t : tokens) out->append(t);
  }
  bool strips_leading_space() const override {
    for (const auto& s : steps)
      if (s->strips_leading_space()) return true;
    return false;
  }
};

bool get_bool(const json& j, const char* k, bool def) {
  return j.contains(k) && j[k].is_boolean() ? j[k].get<bool>() : def;
}

size_t get_size(const json& j, const char* k) {
  return j.contains(k) && j[k].is_number_unsigned() ? static_cast<size_t>(std::min<uint64_t>(j[k].get<uint64_t>(), 1u << 20)) : 0;
}

Status add_steps(const json& j, int depth, Chain* c) {
  if (j.is_null()) return Status::Ok();
  if (depth > 16) return err("Sequence nested deeper than 16");
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return err("expected an object with a string \"type\"");
  const std::string type = j["type"].get<std::string>();
  if (type == "Sequence") {
    if (!j.contains("decoders") || !j["decoders"].is_array()) return err("Sequence without a \"decoders\" array");
    for (const json& e : j["decoders"]) {
      Status st = add_steps(e, depth + 1, c);
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }
  if (type == "ByteLevel") { c->steps.push_back(std::make_unique<ByteLevelStep>()); return Status::Ok(); }
  if (type == "ByteFallback") { c->steps.push_back(std::make_unique<ByteFallbackStep>()); return Status::Ok(); }
  if (type == "Fuse") { c->steps.push_back(std::make_unique<FuseStep>()); return Status::Ok(); }
  if (type == "Replace") {
    std::unique_ptr<Normalizer> r;
    json as_norm = j;  // same fields as the normalizer of that name
    Status st = make_normalizer(as_norm.dump(), &r);
    if (!st.ok()) return err("Replace: " + st.message);
    c->steps.push_back(std::make_unique<ReplaceStep>(std::move(r)));
    return Status::Ok();
  }
  if (type == "Strip") {
    if (!j.contains("content") || !j["content"].is_string()) return err("Strip needs a one-character string \"content\"");
    const std::string s = j["content"].get<std::string>();
    size_t i = 0;
    const uint32_t cp = s.empty() ? 0 : utf8::next_codepoint(s, &i);
    if (s.empty() || i != s.size()) return err("Strip content \"" + s + "\" is not one character");
    c->steps.push_back(std::make_unique<StripStep>(cp, get_size(j, "start"), get_size(j, "stop")));
    return Status::Ok();
  }
  if (type == "Metaspace") {
    std::string rep = "\xE2\x96\x81";
    if (j.contains("replacement") && j["replacement"].is_string() && !j["replacement"].get<std::string>().empty())
      rep = j["replacement"].get<std::string>();
    bool prepend = get_bool(j, "add_prefix_space", true);
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      const std::string ps = j["prepend_scheme"].get<std::string>();
      if (ps != "always" && ps != "first" && ps != "never")
        return err("Metaspace prepend_scheme \"" + ps + "\" (expected always, first or never)");
      prepend = ps != "never";
    }
    c->steps.push_back(std::make_unique<MetaspaceStep>(rep, prepend));
    return Status::Ok();
  }
  return err("unsupported decoder type \"" + type + "\" (supported: " + supported_decoders() + ")");
}

}  // namespace

const char* supported_decoders() { return "ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace, Sequence"; }

Status make_decode_chain(std::string_view text, std::unique_ptr<DecodeChain>* out) {
  out->reset();
  if (text.empty()) return Status::Ok();
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return err("not valid JSON");
  auto c = std::make_unique<Chain>();
  if (j.is_null()) {
    c->steps.push_back(std::make_unique<JoinSpacesStep>());
  } else {
    Status st = add_steps(j, 0, c.get());
    if (!st.ok()) return st;
  }
  *out = std::move(c);
  return Status::Ok();
}

}  // namespace f8tok
