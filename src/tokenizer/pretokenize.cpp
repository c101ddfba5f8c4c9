// pretokenize.cpp — see pretokenize.h.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenize.h"

#include <pcre2.h>
#include <unicode/uchar.h>

#include <nlohmann/json.hpp>

namespace f8tok {
namespace {

using json = nlohmann::json;

// tokenizers' ByteLevel pre-tokenizer regex (GPT-2).
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

Status err(Code c, std::string msg) { return Status::Error(c, std::move(msg)); }

// ---- pre-tokenizers ----------------------------------------------------------
enum class Behavior { Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous };

// Splits on the matches of a PCRE2 regex (or a literal string).
class SplitStep final : public PreTokenizer {
 public:
  ~SplitStep() override {
    if (code_) pcre2_code_free(code_);
  }
  static Status make(const std::string& pattern, bool literal, Behavior b, bool invert,
                     std::unique_ptr<SplitStep>* out) {
    auto s = std::unique_ptr<SplitStep>(new SplitStep());
    s->behavior_ = b;
    s->invert_ = invert;
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    uint32_t flags = PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK;
    if (literal) flags = PCRE2_UTF | PCRE2_NO_UTF_CHECK | PCRE2_LITERAL;  // UCP is not allowed with LITERAL
    s->code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), flags,
                             &errcode, &erroff, nullptr);
    if (!s->code_) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(errcode, buf, sizeof buf);
      return err(Code::BadString, "tokenizer pre-tokenizer regex does not compile at offset " +
                                      std::to_string(erroff) + ": " + reinterpret_cast<char*>(buf));
    }
    // JIT is an optimisation: if it is unavailable pcre2_match still works.
    s->jit_ = pcre2_jit_compile(s->code_, PCRE2_JIT_COMPLETE) == 0;
    *out = std::move(s);
    return Status::Ok();
  }

  void split(std::vector<std::string>* pieces, bool /*at_start*/) const override {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_, nullptr);
    if (!md) return;  // out of memory: leave the pieces unsplit
    std::vector<std::string> out;
    out.reserve(pieces->size() * 2);
    std::vector<std::pair<size_t, bool>> cuts;  // (end offset, is_match) spans
    for (const std::string& p : *pieces) {
      cuts.clear();
      const auto* subj = reinterpret_cast<PCRE2_SPTR>(p.data());
      size_t pos = 0, last = 0;
      while (pos <= p.size()) {
        int rc = jit_ ? pcre2_jit_match(code_, subj, p.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr)
                      : pcre2_match(code_, subj, p.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc < 0) break;
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t b = ov[0], e = ov[1];
        if (e == b) {  // empty match: step one character and retry
          if (b >= p.size()) break;
          pos = b + 1;
          while (pos < p.size() && (static_cast<unsigned char>(p[pos]) & 0xC0) == 0x80) ++pos;
          continue;
        }
        if (b > last) cuts.push_back({b, false});
        cuts.push_back({e, true});
        last = pos = e;
      }
      if (last < p.size()) cuts.push_back({p.size(), false});
      emit(p, cuts, &out);
    }
    pcre2_match_data_free(md);
    pieces->swap(out);
  }

 private:
  SplitStep() = default;

  void emit(const std::string& p, const std::vector<std::pair<size_t, bool>>& cuts,
            std::vector<std::string>* out) const {
    size_t start = 0;
    bool pending_next = false;  // MergedWithNext: a delimiter waiting for its successor
    std::string carry;
    bool prev_was_match = false;
    const size_t first_new = out->size();
    for (const auto& [end, m0] : cuts) {
      const bool m = invert_ ? !m0 : m0;
      std::string_view s(p.data() + start, end - start);
      start = end;
      if (!m) {
        if (pending_next) { carry.append(s); out->push_back(std::move(carry)); carry.clear(); pending_next = false; }
        else out->emplace_back(s);
        prev_was_match = false;
        continue;
      }
      switch (behavior_) {
        case Behavior::Isolated: out->emplace_back(s); break;
        case Behavior::Removed: break;
        case Behavior::MergedWithPrevious:
          if (out->size() > first_new) out->back().append(s);
          else out->emplace_back(s);
          break;
        case Behavior::MergedWithNext:
          carry.append(s);
          pending_next = true;
          break;
        case Behavior::Contiguous:
          if (prev_was_match && out->size() > first_new) out->back().append(s);
          else out->emplace_back(s);
          break;
      }
      prev_was_match = true;
    }
    if (pending_next) out->push_back(std::move(carry));
  }

  pcre2_code* code_ = nullptr;
  bool jit_ = false;
  Behavior behavior_ = Behavior::Isolated;
  bool invert_ = false;
};

// ByteLevel: optional prefix space, optional GPT-2 regex split. The byte ->
// printable-character mapping itself happens in the BPE model.
class ByteLevelStep final : public PreTokenizer {
 public:
  ByteLevelStep(bool prefix, std::unique_ptr<SplitStep> re) : prefix_(prefix), re_(std::move(re)) {}
  void split(std::vector<std::string>* pieces, bool at_start) const override {
    (void)at_start;  // ByteLevel's prefix space goes on every piece
    if (prefix_)
      for (auto& p : *pieces)
        if (p.empty() || p[0] != ' ') p.insert(p.begin(), ' ');
    if (re_) re_->split(pieces, at_start);
  }
  bool byte_level() const override { return true; }

 private:
  bool prefix_;
  std::unique_ptr<SplitStep> re_;
};

// Metaspace (SentencePiece-style): spaces become the replacement character
// ("▁"); the replacement is prepended to a piece that does not start with it
// (prepend_scheme "always": every piece; "first": only a piece that begins
// the input, i.e. not one that follows an added token; "never": none); with
// split, every replacement character starts a new piece.
class MetaspaceStep final : public PreTokenizer {
 public:
  enum class Prepend { Always, First, Never };
  MetaspaceStep(std::string rep, Prepend p, bool split) : rep_(std::move(rep)), prepend_(p), split_(split) {}
  void split(std::vector<std::string>* pieces, bool at_start) const override {
    std::vector<std::string> out;
    out.reserve(pieces->size());
    for (size_t k = 0; k < pieces->size(); ++k) {
      const std::string& p = (*pieces)[k];
      std::string s;
      s.reserve(p.size() + rep_.size());
      for (char c : p) {
        if (c == ' ') s += rep_;
        else s.push_back(c);
      }
      const bool want = prepend_ == Prepend::Always || (prepend_ == Prepend::First && at_start && k == 0);
      if (want && s.compare(0, rep_.size(), rep_) != 0) s.insert(0, rep_);
      if (!split_) { out.push_back(std::move(s)); continue; }
      size_t start = 0;
      for (size_t pos = s.find(rep_, 1); pos != std::string::npos; pos = s.find(rep_, pos + rep_.size())) {
        if (pos > start) out.push_back(s.substr(start, pos - start));
        start = pos;
      }
      if (start < s.size()) out.push_back(s.substr(start));
    }
    pieces->swap(out);
  }

 private:
  std::string rep_;
  Prepend prepend_;
  bool split_;
};

class SequenceStep final : public PreTokenizer {
 public:
  std::vector<std::unique_ptr<PreTokenizer>> steps;
  void split(std::vector<std::string>* pieces, bool at_start) const override {
    for (const auto& s : steps) s->split(pieces, at_start);
  }
  bool byte_level() const override {
    for (const auto& s : steps)
      if (s->byte_level()) return true;
    return false;
  }
};

bool get_bool(const json& j, const char* k, bool def) {
  return j.contains(k) && j[k].is_boolean() ? j[k].get<bool>() : def;
}

Status pre_from(const json& j, std::unique_ptr<PreTokenizer>* out) {
  if (j.is_null()) { out->reset(); return Status::Ok(); }
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: expected an object with a string \"type\"");
  const std::string type = j["type"].get<std::string>();
  if (type == "Sequence") {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
      return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: Sequence without a \"pretokenizers\" array");
    auto seq = std::make_unique<SequenceStep>();
    for (const auto& e : j["pretokenizers"]) {
      std::unique_ptr<PreTokenizer> step;
      Status st = pre_from(e, &step);
      if (!st.ok()) return st;
      if (step) seq->steps.push_back(std::move(step));
    }
    *out = std::move(seq);
    return Status::Ok();
  }
  if (type == "ByteLevel") {
    std::unique_ptr<SplitStep> re;
    if (get_bool(j, "use_regex", true)) {
      Status st = SplitStep::make(kGpt2Pattern, false, Behavior::Isolated, false, &re);
      if (!st.ok()) return st;
    }
    *out = std::make_unique<ByteLevelStep>(get_bool(j, "add_prefix_space", false), std::move(re));
    return Status::Ok();
  }
  if (type == "Digits") {
    // tokenizers splits on char::is_numeric() (categories Nd, Nl, No = \p{N}),
    // so "²", "½" and "Ⅻ" are split off as well as ASCII digits.
    std::unique_ptr<SplitStep> s;
    Status st = SplitStep::make(get_bool(j, "individual_digits", false) ? "\\p{N}" : "\\p{N}+", false,
                                Behavior::Isolated, false, &s);
    if (!st.ok()) return st;
    *out = std::move(s);
    return Status::Ok();
  }
  if (type == "Metaspace") {
    std::string rep = "\xE2\x96\x81";  // U+2581
    if (j.contains("replacement")) {
      if (!j["replacement"].is_string() || j["replacement"].get<std::string>().empty())
        return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: Metaspace replacement must be a non-empty string");
      rep = j["replacement"].get<std::string>();
    }
    // Older files say add_prefix_space (true = always) instead of prepend_scheme.
    MetaspaceStep::Prepend p = get_bool(j, "add_prefix_space", true) ? MetaspaceStep::Prepend::Always
                                                                      : MetaspaceStep::Prepend::Never;
    if (j.contains("prepend_scheme")) {
      const std::string ps = j["prepend_scheme"].is_string() ? j["prepend_scheme"].get<std::string>() : "";
      if (ps == "always") p = MetaspaceStep::Prepend::Always;
      else if (ps == "first") p = MetaspaceStep::Prepend::First;
      else if (ps == "never") p = MetaspaceStep::Prepend::Never;
      else return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: Metaspace prepend_scheme \"" + ps +
                                         "\" (expected always, first or never)");
    }
    *out = std::make_unique<MetaspaceStep>(rep, p, get_bool(j, "split", true));
    return Status::Ok();
  }
  if (type == "Whitespace" || type == "WhitespaceSplit") {
    // Whitespace keeps runs of word characters and runs of other non-space
    // characters (tokenizers' \w+|[^\w\s]+ in Oniguruma's Unicode sense:
    // Alphabetic, marks, decimal digits, connector punctuation, joiners);
    // WhitespaceSplit keeps runs of non-space. Space = White_Space.
    const std::string sp = R"([\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}])";
    const std::string w = R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}])";
    const std::string nsp = "[^" + sp.substr(1);
    const std::string pat = type == "Whitespace" ? w + "+|(?:(?!" + w + ")" + nsp + ")+" : nsp + "+";
    std::unique_ptr<SplitStep> s;
    Status st = SplitStep::make(pat, false, Behavior::Removed, /*invert=*/true, &s);
    if (!st.ok()) return st;
    *out = std::move(s);
    return Status::Ok();
  }
  if (type == "Split") {
    if (!j.contains("pattern") || !j["pattern"].is_object())
      return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: Split without a \"pattern\" object");
    const json& pat = j["pattern"];
    std::string text;
    bool literal;
    if (pat.contains("Regex") && pat["Regex"].is_string()) { text = pat["Regex"].get<std::string>(); literal = false; }
    else if (pat.contains("String") && pat["String"].is_string()) { text = pat["String"].get<std::string>(); literal = true; }
    else return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: Split pattern needs \"Regex\" or \"String\"");
    const std::string b = j.contains("behavior") && j["behavior"].is_string() ? j["behavior"].get<std::string>() : "Isolated";
    Behavior beh;
    if (b == "Isolated") beh = Behavior::Isolated;
    else if (b == "Removed") beh = Behavior::Removed;
    else if (b == "MergedWithPrevious") beh = Behavior::MergedWithPrevious;
    else if (b == "MergedWithNext") beh = Behavior::MergedWithNext;
    else if (b == "Contiguous") beh = Behavior::Contiguous;
    else return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: unknown Split behavior \"" + b + "\"");
    std::unique_ptr<SplitStep> s;
    Status st = SplitStep::make(text, literal, beh, get_bool(j, "invert", false), &s);
    if (!st.ok()) return st;
    *out = std::move(s);
    return Status::Ok();
  }
  return err(Code::BadType, "tokenizer.bpe.pre_tokenizer_json: unsupported pre-tokenizer type \"" + type +
                                "\" (supported: " + std::string(supported_pre_tokenizers()) + ")");
}

Status parse_json(std::string_view text, const char* what, json* out) {
  *out = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) return err(Code::BadString, std::string(what) + ": not valid JSON");
  return Status::Ok();
}

}  // namespace

const char* supported_pre_tokenizers() { return "Sequence, Split, ByteLevel, Digits, Metaspace, Whitespace, WhitespaceSplit"; }

std::string pre_tokenizer_json_for(std::string_view family) {
  auto split_then_bytelevel = [](const char* re) {
    json j = {{"type", "Sequence"},
              {"pretokenizers",
               json::array({{{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}},
                            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}})}};
    return j.dump();
  };
  if (family == "gpt2")
    return json({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}).dump();
  if (family == "smollm")
    return json({{"type", "Sequence"},
                 {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}},
                                                {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}})}})
        .dump();
  if (family == "llama3") return split_then_bytelevel(kLlama3Pattern);
  if (family == "qwen2") return split_then_bytelevel(kQwen2Pattern);
  return "";
}

Status make_pre_tokenizer(std::string_view text, std::unique_ptr<PreTokenizer>* out) {
  out->reset();
  if (text.empty()) return Status::Ok();
  json j;
  Status st = parse_json(text, "tokenizer.bpe.pre_tokenizer_json", &j);
  if (!st.ok()) return st;
  return pre_from(j, out);
}

}  // namespace f8tok
