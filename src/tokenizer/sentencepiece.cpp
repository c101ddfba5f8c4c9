// sentencepiece.cpp — see sentencepiece.h.
#include "tokenizer/sentencepiece.h"

#include <sentencepiece_processor.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace f8tok {
namespace {

constexpr const char* kSpace = "\xE2\x96\x81";           // U+2581 "▁"
constexpr const char* kUnkSurface = " \xE2\x81\x87 ";   // " ⁇ ", SentencePiece's default

class SpTokenizer final : public Tokenizer {
 public:
  static Status create(std::string_view bytes, const SpOverrides& ov, std::unique_ptr<Tokenizer>* out) {
    std::unique_ptr<SpTokenizer> t(new SpTokenizer());
    auto st = t->sp_.LoadFromSerializedProto(bytes);
    if (!st.ok())
      return Status::Error(Code::BadString, "tokenizer.sentencepiece.model (" + std::to_string(bytes.size()) +
                                                " bytes): libsentencepiece rejected it: " + st.ToString());
    const int n = t->sp_.GetPieceSize();
    if (n <= 0) return Status::Error(Code::BadCount, "tokenizer.sentencepiece.model: empty vocabulary");
    t->types_.resize(static_cast<size_t>(n));
    t->pieces_.resize(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      TokenType ty = TokenType::Normal;
      if (t->sp_.IsControl(i)) ty = TokenType::Control;
      else if (t->sp_.IsUnknown(i)) ty = TokenType::Unknown;
      else if (t->sp_.IsByte(i)) ty = TokenType::Byte;
      else if (t->sp_.IsUnused(i)) ty = TokenType::Unused;
      t->types_[static_cast<size_t>(i)] = ty;
      t->pieces_[static_cast<size_t>(i)] = t->sp_.IdToPiece(i);
      t->index_.emplace(t->pieces_[static_cast<size_t>(i)], i);
    }
    auto pick = [&](int32_t given, int own, const char* key, int32_t* dst) -> Status {
      const int32_t v = given == -2 ? own : given;
      if (v < -1 || v >= n)
        return Status::Error(Code::BadCount, std::string(key) + " = " + std::to_string(v) + " is outside the vocabulary (" +
                                                 std::to_string(n) + " pieces)");
      *dst = v;
      return Status::Ok();
    };
    Status s2 = pick(ov.bos, t->sp_.bos_id(), "tokenizer.bos_id", &t->bos_);
    if (s2.ok()) s2 = pick(ov.eos, t->sp_.eos_id(), "tokenizer.eos_id", &t->eos_);
    if (s2.ok()) s2 = pick(ov.pad, t->sp_.pad_id(), "tokenizer.pad_id", &t->pad_);
    if (s2.ok()) s2 = pick(ov.unk, t->sp_.unk_id(), "tokenizer.unk_id", &t->unk_);
    if (!s2.ok()) return s2;
    t->add_bos_ = (ov.add_bos < 0 ? true : ov.add_bos == 1) && t->bos_ >= 0;
    t->add_eos_ = (ov.add_eos < 0 ? false : ov.add_eos == 1) && t->eos_ >= 0;
    // Whether SentencePiece adds a dummy "▁" prefix (normalizer_spec.
    // add_dummy_prefix): the public API does not expose it, so observe it.
    std::vector<std::string> probe;
    if (t->sp_.Encode("a", &probe).ok() && !probe.empty())
      t->dummy_prefix_ = probe[0].rfind(kSpace, 0) == 0;
    t->finish_setup();
    *out = std::move(t);
    return Status::Ok();
  }

  const char* kind() const override { return "sentencepiece"; }
  const std::string& token_text(int32_t id) const override { return pieces_[static_cast<size_t>(id)]; }
  int32_t find_token(std::string_view text) const override {
    auto it = index_.find(std::string(text));
    return it == index_.end() ? -1 : it->second;
  }

 protected:
  Status encode_text(std::string_view text, bool /*at_start*/, bool /*parse_special*/,
                     std::vector<int32_t>* out) const override {
    std::vector<int> ids;
    auto st = sp_.Encode(text, &ids);
    if (!st.ok()) return Status::Error(Code::InvalidArgument, "sentencepiece encode: " + st.ToString());
    out->insert(out->end(), ids.begin(), ids.end());
    return Status::Ok();
  }

  void raw_piece(int32_t id, std::string* out) const override {
    const std::string& p = pieces_[static_cast<size_t>(id)];
    switch (types_[static_cast<size_t>(id)]) {
      case TokenType::Control: out->append(p); return;
      case TokenType::Unknown: out->append(kUnkSurface); return;
      case TokenType::Byte: {
        uint8_t b;
        if (parse_byte_token(p, &b)) { out->push_back(static_cast<char>(b)); return; }
        break;
      }
      default: break;
    }
    size_t i = 0;
    while (i < p.size()) {
      if (p.compare(i, 3, kSpace) == 0) { out->push_back(' '); i += 3; }
      else out->push_back(p[i++]);
    }
  }

  bool strips_dummy_prefix() const override { return dummy_prefix_; }

 private:
  SpTokenizer() = default;
  sentencepiece::SentencePieceProcessor sp_;
  std::vector<std::string> pieces_;
  std::unordered_map<std::string, int32_t> index_;
  bool dummy_prefix_ = false;
};

}  // namespace

Status make_sentencepiece(std::string_view model_bytes, const SpOverrides& ov, std::unique_ptr<Tokenizer>* out) {
  return SpTokenizer::create(model_bytes, ov, out);
}

}  // namespace f8tok
